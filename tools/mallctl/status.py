"""`mallctl status`: what runs and in which state, from the pid files, the
rendered configs, the edge admin /metrics, Redis, and the worker admin
/status (when the workers serve one). Every source that does not answer
is reported as such, never guessed."""

import hashlib
import json
import os
import re
import time
import urllib.error
import urllib.request

from . import mmdb, procs, reload as reload_mod
from .stack import COMPONENTS

METRIC = re.compile(r'^(mall_shm_(?:size|used)_bytes|mall_shm_entries)\{zone="([^"]+)"\} (\d+)', re.M)


def http_get(url, timeout=2):
    """(status, body) or (None, reason)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")
    except (OSError, ValueError) as e:
        return None, str(getattr(e, "reason", e))


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)) if t else None


def config_info(path):
    try:
        with open(path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        # installed by rename right before the reload signal: its mtime is
        # when this configuration was loaded
        return {"path": path, "sha256": digest, "loaded_at": iso(os.stat(path).st_mtime)}
    except OSError:
        return {"path": path, "sha256": None, "loaded_at": None}


def process_info(stack, name, now):
    pid = stack.pid(name)
    if not pid:
        return {"running": False, "pid": None}
    start = procs.started_at(pid)
    return {"running": True, "pid": pid, "started_at": iso(start),
            "uptime_s": int(now - start) if start else None,
            "children": procs.children(pid)}


def geoip_info(path):
    out = {"path": path}
    try:
        meta = mmdb.metadata(path)
        out.update(database_type=meta.get("database_type"),
                   build_date=iso(meta.get("build_epoch")))
    except (OSError, ValueError) as e:
        out["error"] = str(e)
    return out


def shm_zones(metrics_text):
    zones = {}
    for name, zone, value in METRIC.findall(metrics_text):
        key = {"mall_shm_size_bytes": "size_bytes", "mall_shm_used_bytes": "used_bytes",
               "mall_shm_entries": "entries"}[name]
        zones.setdefault(zone, {"zone": zone})[key] = int(value)
    for z in zones.values():
        if z.get("size_bytes") and "used_bytes" in z:
            z["used_pct"] = round(100.0 * z["used_bytes"] / z["size_bytes"], 1)
    return sorted(zones.values(), key=lambda z: z["zone"])


def redis_info(stack):
    info = stack.redis_cli("info", "replication")
    if info is None:
        return {"reachable": False}
    fields = dict(l.split(":", 1) for l in info.splitlines() if ":" in l)
    out = {"reachable": True, "role": fields.get("role", "").strip()}
    if out["role"] == "master":
        out["replicas"] = int(fields.get("connected_slaves", "0"))
    else:
        out["master_link_status"] = fields.get("master_link_status", "").strip()
    return out


def worker_admin(env):
    port = env.port("MALL_WORKER_ADMIN_PORT")
    if port is None:
        return {"answering": False, "reason": "MALL_WORKER_ADMIN_PORT not set"}
    code, body = http_get("http://127.0.0.1:%d/status" % port)
    if code != 200:
        return {"answering": False, "reason": "HTTP %s" % code if code else body}
    try:
        doc = json.loads(body)
    except ValueError:
        return {"answering": False, "reason": "not JSON"}
    doc["answering"] = True
    return doc


def edge_self(env):
    """The edge's own report, GET /status/edge on the admin port (the
    module's mall_edge_status)."""
    code, body = http_get("http://127.0.0.1:%s/status/edge" % env.MALL_ADMIN_PORT)
    if code != 200:
        return {"answering": False, "reason": "HTTP %s" % code if code else body}
    try:
        doc = json.loads(body)["edge"]
    except (ValueError, KeyError):
        return {"answering": False, "reason": "not the edge status JSON"}
    doc["answering"] = True
    return doc


def collect(env, stack):
    now = time.time()
    admin = "http://127.0.0.1:%s" % env.MALL_ADMIN_PORT
    code, metrics = http_get(admin + "/metrics")
    edge_health, _ = http_get("http://127.0.0.1:%s/healthz" % env.MALL_EDGE_PORT)
    worker_health, _ = http_get("http://127.0.0.1:%s/healthz" % env.MALL_WORKER_PORT)
    m = re.search(r"^mall_redis_connected(?:\{[^}]*\})? (\d+)", metrics or "", re.M) \
        if code == 200 else None
    wa = worker_admin(env)
    children = wa.get("children") or []
    return {
        "time": iso(now),
        "runtime_dir": env.run,
        "processes": {c: process_info(stack, c, now) for c in COMPONENTS},
        "edge": {
            "healthz": edge_health,
            "config": config_info(env.path("nginx.conf")),
            "waf_rules": reload_mod.count_rules(reload_mod.rule_files(env)),
            "geoip": geoip_info(env.MALL_GEOIP_DB),
            "admin_metrics": code == 200,
            "shm_zones": shm_zones(metrics) if code == 200 else [],
            "redis_follower_connected": bool(int(m.group(1))) if m else None,
            "self": edge_self(env),
        },
        "workers": {
            "healthz": worker_health,
            "config": config_info(env.path("mall-worker.conf")),
            "admin": wa,
            "in_flight": sum(c.get("in_flight", 0) for c in children) if wa["answering"] else None,
        },
        "redis": redis_info(stack),
    }


def all_running(doc):
    return all(p["running"] for p in doc["processes"].values())


def human(doc):
    out = []
    for name, p in doc["processes"].items():
        if p["running"]:
            up = p.get("uptime_s")
            out.append("%-11s running  pid %s%s%s" % (
                name, p["pid"], "  up %ds" % up if up is not None else "",
                "  children %s" % " ".join(map(str, p["children"])) if p["children"] else ""))
        else:
            out.append("%-11s stopped" % name)
    e, w, r = doc["edge"], doc["workers"], doc["redis"]
    out.append("edge       /healthz -> %s" % (e["healthz"] or "down"))
    out.append("workers    /healthz -> %s" % (w["healthz"] or "down"))
    for label, c in (("edge", e["config"]), ("workers", w["config"])):
        out.append("config     %-8s sha256 %s  loaded %s" % (
            label, (c["sha256"] or "-")[:16], c["loaded_at"] or "-"))
    me = e["self"]
    if me["answering"]:
        out.append("edge admin: worker pid %d (master %d), config loaded %s, %d rules "
                   "compiled, redis follower %s" % (
                       me["pid"], me["master_pid"], iso(me["loaded_at"]), me["waf_rules"],
                       "connected" if me["redis_follower_connected"] else "NOT connected"))
    else:
        out.append("edge admin: /status/edge not answering (%s)" % me["reason"])
    out.append("waf        %d rules" % e["waf_rules"])
    g = e["geoip"]
    out.append("geoip      %s" % ("%s, built %s" % (g["database_type"], g["build_date"])
                                  if "error" not in g else "unreadable: " + g["error"]))
    if e["admin_metrics"]:
        for z in e["shm_zones"]:
            out.append("shm        %-15s %s%% of %d KiB used%s" % (
                z["zone"], z.get("used_pct", "?"), z.get("size_bytes", 0) // 1024,
                ", %d entries" % z["entries"] if "entries" in z else ""))
    else:
        out.append("shm        edge admin /metrics not answering")
    if r["reachable"]:
        out.append("redis      reachable, role %s%s" % (
            r["role"], ", %d replicas" % r["replicas"] if "replicas" in r
            else ", link %s" % r.get("master_link_status")))
    else:
        out.append("redis      not reachable")
    wa = w["admin"]
    if wa["answering"]:
        out.append("worker admin: %d in flight over %d children" % (
            w["in_flight"], len(wa.get("children") or [])))
    else:
        out.append("worker admin: not answering (%s)" % wa["reason"])
    return "\n".join(out)
