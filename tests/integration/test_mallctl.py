"""mallctl itself: every command's --help and exit codes, bad input, the
status report (human and --json), and key rotation on a running stack
(tokens issued before a rotation keep working, new ones carry the new
kid), and upgrade-workers under load (a new binary takes over, a broken
one is refused while the old master serves on). The stack-changing tests
use the operations stack (ops_stack)."""

import base64
import hashlib
import json
import os
import shutil
import stat
import subprocess

import pytest
import requests

from conftest import MALLCTL, client_ip
from mall_client import edge_headers, read_secret, sign_headers
from ops_load import Load

COMMANDS = ("start", "stop", "run", "seed", "reload", "status", "check-rules",
            "purge", "block", "unblock", "check-stock", "reconcile",
            "reopen-logs", "rotate-keys", "upgrade-workers", "metrics")


def mallctl(*args, env=None):
    return subprocess.run([MALLCTL, *args], capture_output=True, text=True,
                          timeout=120, env=env)


def test_every_command_has_help_with_exit_codes():
    top = mallctl("--help")
    assert top.returncode == 0, top.stderr
    for c in COMMANDS:
        assert c in top.stdout, c
        r = mallctl(c, "--help")
        assert r.returncode == 0, (c, r.stderr)
        assert r.stdout.startswith("usage: mallctl " + c), (c, r.stdout[:80])
        assert "exit codes:" in r.stdout, c


@pytest.mark.parametrize("args, message", [
    ((), "COMMAND"),
    (("frobnicate",), "invalid choice"),
    (("status", "--bogus"), "unrecognized arguments"),
    (("block",), "required"),
    (("block", "planet", "x"), "invalid choice"),
    (("block", "ip", "1.2.3.4", "--ttl", "soon"), "whole seconds"),
    (("block", "ip", "1.2.3.4;rm"), "invalid value"),
    (("unblock", "ip", "1.2.3.4", "--ttl", "5"), "unrecognized arguments"),
    (("purge",), "name at least one tag"),
    (("reconcile", "12/07/2026"), "not a date"),
    (("upgrade-workers", "--timeout", "-1"), "whole seconds"),
    (("check-rules", "/nonexistent/x.rules"), "no such file"),
])
def test_bad_input_is_a_usage_error(args, message):
    r = mallctl(*args)
    assert r.returncode == 2, (args, r.returncode, r.stderr)
    assert message in r.stderr, (args, r.stderr)


def test_commands_on_a_stopped_stack_say_so(tmp_path):
    env = dict(os.environ, MALL_RUN_DIR=str(tmp_path))
    for args in (("reload",), ("reopen-logs",), ("rotate-keys",),
                 ("upgrade-workers",), ("check-stock",)):
        r = mallctl(*args, env=env)
        assert r.returncode == 3, (args, r.returncode, r.stderr)
        assert "not running" in r.stderr or "start the stack" in r.stderr, r.stderr
    r = mallctl("status", env=env)
    assert r.returncode == 3 and "nginx       stopped" in r.stdout, r.stdout


def test_status_json_and_human(ops_stack):
    r = ops_stack.mallctl("status", "--json", check=False)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    procs = doc["processes"]
    assert procs["nginx"]["pid"] == ops_stack.pid("nginx")
    assert procs["workers"]["pid"] == ops_stack.pid("workers")
    assert sorted(procs["nginx"]["children"]) == ops_stack.nginx_workers()
    assert all(p["running"] and p["uptime_s"] >= 0 for p in procs.values())
    edge = doc["edge"]
    with open(os.path.join(ops_stack.run_dir, "nginx.conf"), "rb") as f:
        assert edge["config"]["sha256"] == hashlib.sha256(f.read()).hexdigest()
    assert edge["waf_rules"] > 10
    assert edge["geoip"]["build_date"][:2] == "20"
    zones = {z["zone"]: z for z in edge["shm_zones"]}
    assert {"limits", "catalog", "tokens"} <= set(zones), zones
    assert zones["catalog"]["size_bytes"] == 64 << 20
    assert doc["redis"] == {"reachable": True, "role": "master", "replicas": 0}
    # the edge's own report (admin GET /status/edge) is the same JSON
    me = edge["self"]
    assert me["answering"] and me["master_pid"] == ops_stack.pid("nginx")
    assert me["pid"] in procs["nginx"]["children"]
    assert me["waf_rules"] == edge["waf_rules"]
    assert me["conf_file"] == os.path.join(ops_stack.run_dir, "nginx.conf")
    assert me["geoip"]["database_type"] == edge["geoip"]["database_type"]
    assert me["redis_follower_connected"] is True
    direct = requests.get(ops_stack.admin + "/status/edge", timeout=5).json()["edge"]
    assert {k: v for k, v in direct.items() if k not in ("pid", "shm_zones")} == \
        {k: v for k, v in me.items() if k not in ("pid", "shm_zones", "answering")}
    assert {z["zone"] for z in direct["shm_zones"]} == set(zones)
    # the worker admin: its own answer when it serves one, else said so
    wa = doc["workers"]["admin"]
    assert wa["answering"] or wa["reason"]
    h = ops_stack.mallctl("status", check=False)
    assert h.returncode == 0
    assert "nginx       running  pid %d" % ops_stack.pid("nginx") in h.stdout
    assert "waf        %d rules" % edge["waf_rules"] in h.stdout
    assert "redis      reachable, role master" in h.stdout
    assert "worker admin:" in h.stdout
    assert "edge admin: worker pid" in h.stdout


def jwt_header(token):
    seg = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4)))


def jwt_claims(token):
    seg = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4)))


def login(stack):
    r = requests.post(stack.edge + "/api/v1/auth/wx-login",
                      json={"code": "rot%s~1" % os.urandom(6).hex()},
                      headers={"X-Forwarded-For": client_ip()}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def me(stack, s):
    return requests.get(stack.edge + "/api/v1/users/me", timeout=10,
                        headers={"Authorization": "Bearer " + s["access_token"],
                                 "X-Forwarded-For": client_ip()})


def add_to_cart(stack, s):
    body = json.dumps({"sku_id": 100102, "quantity": 1}).encode()
    h = {"Authorization": "Bearer " + s["access_token"],
         "Content-Type": "application/json", "X-Forwarded-For": client_ip()}
    h.update(sign_headers(s["sign_key"], "POST", "/api/v1/cart/items", body))
    return requests.post(stack.edge + "/api/v1/cart/items", data=body,
                         headers=h, timeout=10)


def test_rotate_keys_refused_changes_nothing(ops_stack):
    st = ops_stack
    ring = os.path.join(st.keys_dir, "keyring")
    before_ring = open(ring).read() if os.path.exists(ring) else None
    before_files = sorted(os.listdir(st.keys_dir))
    bad = st.add_conf("zz-rotate-broken.conf", "mall_no_such_directive on;\n")
    try:
        r = st.mallctl("rotate-keys", check=False)
    finally:
        os.unlink(bad)
    assert r.returncode == 1 and "zz-rotate-broken.conf:1" in r.stderr, r.stderr
    assert sorted(os.listdir(st.keys_dir)) == before_files
    assert (open(ring).read() if os.path.exists(ring) else None) == before_ring


def test_rotate_keys_keeps_old_tokens_and_signs_with_new_ids(ops_stack):
    st = ops_stack
    before = login(st)
    old_kid, old_skid = jwt_header(before["access_token"])["kid"], \
        jwt_claims(before["access_token"])["skid"]
    ticket = st.key("tls_ticket.key")
    if not os.path.exists(ticket):          # the stack's TLS may not have them
        fd = os.open(ticket, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, os.urandom(80))
        os.close(fd)
    old_ticket = open(ticket, "rb").read()
    secrets_before = {n: open(st.key(n), "rb").read() for n in os.listdir(st.keys_dir)
                      if (n.endswith(".key") or n.endswith(".pem")) and "tls_ticket" not in n}

    r = st.mallctl("rotate-keys", check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    ring = open(st.key("keyring")).read().split("\n")
    jwt = next(l for l in ring if l.startswith("jwt ")).split()
    new_kid = jwt[1]
    assert new_kid != old_kid and jwt[2].startswith(old_kid + "@")
    # nothing secret printed
    for n in os.listdir(st.keys_dir):
        if n.endswith(".key") or (n.endswith(".pem") and "pub" not in n):
            data = open(st.key(n), "rb").read().strip()
            assert data.decode(errors="replace") not in r.stdout + r.stderr, n
            assert stat.S_IMODE(os.stat(st.key(n)).st_mode) == 0o600, n
    assert all(open(st.key(n), "rb").read() == v for n, v in secrets_before.items())
    # TLS session tickets: the current key is now the previous one
    assert open(st.key("tls_ticket.prev.key"), "rb").read() == old_ticket
    fresh = open(ticket, "rb").read()
    assert len(fresh) == 80 and fresh != old_ticket

    # a token (and its sign key) from before the rotation still works
    assert me(st, before).status_code == 200
    assert add_to_cart(st, before).status_code in (200, 201)
    # a new one carries the new ids, and works too
    after = login(st)
    assert jwt_header(after["access_token"])["kid"] == new_kid
    assert jwt_claims(after["access_token"])["skid"] != old_skid
    assert me(st, after).status_code == 200
    assert add_to_cart(st, after).status_code in (200, 201)
    # the workers take edge signatures of the old and the new edge key
    edge = next(l for l in ring if l.startswith("edge ")).split()
    for kid in (edge[1], edge[2].split("@")[0]):
        h = edge_headers(read_secret(st.key("edge-%s.key" % kid)), "GET",
                         "/api/v1/products?page=2", kid=kid)
        w = requests.get(st.worker + "/api/v1/products?page=2", headers=h, timeout=5)
        assert w.status_code == 200, (kid, w.text)


def test_metrics_prints_valid_prometheus_text(ops_stack, tmp_path):
    r = ops_stack.mallctl("metrics", "--edge", check=False)
    assert r.returncode == 0, r.stderr
    assert "\n# TYPE mall_requests_total counter" in "\n" + r.stdout
    promtool = "/usr/bin/promtool"
    if os.path.exists(promtool):
        p = subprocess.run([promtool, "check", "metrics"], input=r.stdout,
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, p.stdout + p.stderr
    # the workers' own: printed when their admin port answers, said when not
    r = ops_stack.mallctl("metrics", "--workers", check=False)
    if r.returncode == 0:
        assert "# TYPE " in r.stdout
    else:
        assert r.returncode == 3 and "worker admin /metrics not answering" in r.stderr


def worker_admin_status(st):
    r = requests.get("http://127.0.0.1:%s/status" % st.env["MALL_WORKER_ADMIN_PORT"],
                     timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def install(src, dst):
    """A new release, as a package manager installs it: copied next to the
    running binary, then renamed over it (the running file is never written)."""
    tmp = dst + ".new-%d" % os.getpid()
    shutil.copy2(src, tmp)
    os.replace(tmp, dst)


def gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    with open("/proc/%d/stat" % pid) as f:       # a zombie is gone too
        return f.read().rsplit(")", 1)[1].split()[0] == "Z"


def test_upgrade_workers_replaces_the_master_under_load(ops_stack, tmp_path):
    st = ops_stack
    old = st.pid("workers")
    binary = worker_admin_status(st)["binary"]
    good = str(tmp_path / "mall-worker.good")
    shutil.copy2(binary, good)
    with Load(st, readers=2, writers=1) as load:
        assert load.wait_for(30), load.summary()
        # the new release: a fresh copy of the binary, renamed into place
        install(good, binary)
        r = st.mallctl("upgrade-workers", "--timeout", "60", check=False)
        assert r.returncode == 0, r.stderr
        new = st.pid("workers")
        assert new != old and "upgraded workers: pid %d -> %d" % (old, new) in r.stderr
        assert gone(old)
        assert load.wait_for(30), load.summary()
        s = worker_admin_status(st)
        assert s["pid"] == new and s["binary"] == binary
        assert sorted(c["pid"] for c in s["children"]) == st.worker_children()

        # a broken release: refused with the reason, the master serves on
        broken = tmp_path / "broken"
        broken.write_text("#!/bin/sh\necho 'cannot start' >&2\nexit 1\n")
        broken.chmod(0o755)
        kids = st.worker_children()
        try:
            install(str(broken), binary)
            r = st.mallctl("upgrade-workers", "--timeout", "60", check=False)
        finally:
            install(good, binary)
        assert r.returncode == 1, r.stderr
        assert "the new binary did not take over, the old master (pid %d) keeps " \
               "serving: upgrade failed" % new in r.stderr, r.stderr
        assert st.pid("workers") == new and st.worker_children() == kids
        assert worker_admin_status(st)["pid"] == new
        assert load.wait_for(30), load.summary()
    print("upgrade load:", load.summary())
    assert load.unexpected == [] and load.errors == [], load.summary()
    assert requests.get(st.edge + "/api/v1/products", timeout=10,
                        headers={"X-Forwarded-For": client_ip()}).status_code == 200
