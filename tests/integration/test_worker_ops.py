"""Worker operations (README "Workers"): the admin listener's /metrics
(promtool-valid, moving with traffic, next to the edge's) and /status,
JSON-lines logs carrying the edge's request id, SIGUSR1 log reopen,
--check-config, SIGHUP reload and the SIGUSR2 binary upgrade under
bounded order and catalog load through the edge: no unexpected answer,
no connection error, no acknowledged order lost; a new binary that
cannot start leaves the old master serving. The Grafana dashboard only
queries metrics that exist.
"""

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time

import pytest
import requests

from conftest import BUILD, ROOT, TEST_PORTS, client_ip
from test_orders import Buyer, make_sku, reload_workers

ADMIN = "http://127.0.0.1:%d" % TEST_PORTS["MALL_WORKER_ADMIN_PORT"]
EDGE_ADMIN = "http://127.0.0.1:%d" % TEST_PORTS["MALL_ADMIN_PORT"]
DASHBOARD = os.path.join(ROOT, "conf", "grafana", "mall-edge.json")


def worker_log(stack, name="workers.log"):
    return os.path.join(stack.run_dir, "logs", name)


def log_lines(path):
    with open(path, errors="replace") as f:
        return [json.loads(x) for x in f if x.strip()]


def until(fn, timeout=15, step=0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(step)
    return fn()


def status():
    r = requests.get(ADMIN + "/status", timeout=5)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    return r.json()


def scrape(url):
    r = requests.get(url + "/metrics", timeout=5)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return r.text


def samples(text):
    """{series: value} of an exposition."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            series, value = line.rsplit(" ", 1)
            out[series] = float(value)
    return out


def families(text):
    return set(re.findall(r"^# TYPE (\S+) ", text, re.M))


def promtool(text):
    r = subprocess.run(["promtool", "check", "metrics"], input=text,
                       capture_output=True, text=True, timeout=30)
    return r.returncode, r.stdout + r.stderr


class OwnSession:
    """What Buyer needs of the stack, with a requests.Session per thread."""

    def __init__(self, stack):
        self.stack = stack
        self.http = requests.Session()

    def key(self, name):
        return self.stack.key(name)

    def request(self, method, path, **kw):
        kw.setdefault("timeout", 15)
        return self.http.request(method, self.stack.edge + path, **kw)


class Load:
    """Bounded order + catalog load through the edge on a few threads:
    each buyer places at most max_orders orders (under the abnormal-order
    rules' 50 an hour) and reads product pages the edge cache has not
    seen. Records every unexpected answer and connection error."""

    def __init__(self, stack, sku, pid, buyers=6, max_orders=30):
        self.sku, self.pid = sku, pid
        self.buyers = [Buyer(OwnSession(stack)) for _ in range(buyers)]
        self.max_orders = max_orders
        self.acked = []              # (buyer, order id)
        self.rids = []               # request ids of the orders placed
        self.bad = []                # (what, status, body)
        self.errors = []             # exceptions
        self.requests = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(b,))
                        for b in self.buyers]

    def run(self, b):
        n = 0
        while not self.stop.is_set():
            try:
                if n < self.max_orders:
                    n += 1
                    r = b.order([{"sku_id": self.sku, "quantity": 1}])
                    ok = r.status_code == 201
                    if ok:
                        with self.lock:
                            self.acked.append((b, r.json()["order_id"]))
                            self.rids.append(r.headers["X-Request-Id"])
                else:
                    r = b.get("/api/v1/products/%d?v=%d" % (self.pid,
                                                             time.time_ns()))
                    ok = r.status_code == 200
                with self.lock:
                    self.requests += 1
                    if not ok:
                        self.bad.append((r.request.method, r.status_code,
                                         r.text[:300]))
            except Exception as e:       # connection errors, bad bodies
                with self.lock:
                    self.errors.append(repr(e))
            time.sleep(0.04)

    def __enter__(self):
        [t.start() for t in self.threads]
        return self

    def __exit__(self, *exc):
        self.stop.set()
        [t.join() for t in self.threads]

    def check(self):
        assert not self.errors, self.errors[:5]
        assert not self.bad, self.bad[:5]
        assert self.acked, "no order was acknowledged"
        # every acknowledged order is there, read back by its buyer
        for b, oid in self.acked:
            r = b.get("/api/v1/orders/%s" % oid)
            assert r.status_code == 200, (oid, r.text)


@pytest.fixture
def load_sku(stack):
    sku, pid = make_sku(stack, 5000)
    return sku, pid


def wait_new_master(stack, old, timeout=30):
    def done():
        try:
            pid = stack.pid("workers")
        except (OSError, ValueError):
            return None
        if pid == old:
            return None
        try:
            os.kill(old, 0)
            return None                  # the old master still drains
        except ProcessLookupError:
            return pid
    return until(done, timeout)


def install(src, dst):
    """Copies src next to dst, then renames it over dst (what a package
    manager does: the running binary's file is never written to)."""
    tmp = dst + ".new-%d" % os.getpid()
    shutil.copy2(src, tmp)
    os.replace(tmp, dst)


# --- admin listener -----------------------------------------------------------

def test_status_describes_master_config_children_and_redis(stack):
    s = status()
    assert s["pid"] == stack.pid("workers")
    assert os.path.basename(s["binary"]) == "mall-worker"
    assert os.access(s["binary"], os.X_OK)
    assert abs(s["started_at"] - time.time()) < 3600
    conf = os.path.join(stack.run_dir, "mall-worker.conf")
    assert s["config"]["path"] == conf
    with open(conf, "rb") as f:
        assert s["config"]["sha256"] == hashlib.sha256(f.read()).hexdigest()
    assert s["config"]["loaded_at"] >= s["started_at"]
    assert sorted(c["pid"] for c in s["children"]) == stack.worker_children()
    for c in s["children"]:
        assert c["in_flight"] >= 0 and c["requests_total"] >= 0
    assert s["redis"]["reachable"] is True
    assert s["redis"]["role"] == "master"
    assert s["redis"]["rtt_ms"] >= 0
    lag = until(lambda: status()["delay_queue_lag_s"] is not None, 5)
    assert lag


def test_admin_listener_is_get_only_and_needs_no_signature(stack):
    assert requests.post(ADMIN + "/metrics", timeout=5).status_code == 405
    assert requests.get(ADMIN + "/nope", timeout=5).status_code == 404
    # and it serves no edge route
    assert requests.get(ADMIN + "/api/v1/categories",
                        timeout=5).status_code == 404


def test_worker_and_edge_metrics_pass_promtool_and_move(stack, load_sku):
    sku, pid = load_sku
    worker0, edge0 = scrape(ADMIN), scrape(EDGE_ADMIN)
    for text in (worker0, edge0):
        rc, out = promtool(text)
        assert rc == 0, out
    assert {"mall_worker_requests_total",
            "mall_worker_request_duration_seconds",
            "mall_worker_orders_created_total",
            "mall_worker_orders_refused_total", "mall_worker_payments_total",
            "mall_worker_pay_notify_verifications_total",
            "mall_worker_redis_errors_total", "mall_worker_redis_rtt_seconds",
            "mall_worker_in_flight_requests", "mall_worker_shed_total",
            "mall_worker_delay_queue_lag_seconds"} <= families(worker0)

    before = samples(worker0)
    b = Buyer(stack)
    for _ in range(3):
        assert b.order([{"sku_id": sku, "quantity": 1}]).status_code == 201
    r = b.order([{"sku_id": sku, "quantity": 99999}])
    assert r.status_code in (409, 422), r.text
    reason = r.json()["error"]["code"]
    after = samples(scrape(ADMIN))

    def moved(series):
        return after.get(series, 0) - before.get(series, 0)

    created = ('mall_worker_requests_total{method="POST",'
               'route="/api/v1/orders",status="201"}')
    assert moved(created) == 3
    assert moved("mall_worker_orders_created_total") == 3
    assert moved('mall_worker_orders_refused_total{reason="%s"}'
                 % (reason if reason in ("OUT_OF_STOCK", "VALIDATION_FAILED")
                    else "other")) == 1
    assert moved('mall_worker_request_duration_seconds_count{method="POST",'
                 'route="/api/v1/orders"}') == 4
    assert moved("mall_worker_redis_rtt_seconds_count") >= 4
    assert after["mall_worker_processes"] == len(stack.worker_children())
    # the edge counted them as well
    edge1 = samples(scrape(EDGE_ADMIN))
    edge_before = samples(edge0)
    assert sum(v for k, v in edge1.items()
               if k.startswith("mall_requests_total")) > \
        sum(v for k, v in edge_before.items()
            if k.startswith("mall_requests_total"))


def test_payment_and_redis_failures_are_counted(stack):
    before = samples(scrape(ADMIN))
    # a notification without WeChat's signature headers: refused, counted
    r = stack.request("POST", "/api/v1/payments/wechat/notify",
                      data=b'{"id":"x"}',
                      headers={"Content-Type": "application/json",
                               "X-Forwarded-For": client_ip()})
    assert r.status_code == 401, r.text
    # Redis stalled past redis_timeout_ms: the waiting batch times out
    b = Buyer(stack)
    os.kill(stack.pid("redis"), signal.SIGSTOP)
    try:
        r = b.get("/api/v1/cart/items")
    finally:
        os.kill(stack.pid("redis"), signal.SIGCONT)
    assert r.status_code == 503, r.text
    assert until(lambda: b.get("/api/v1/cart/items").status_code == 200)
    after = samples(scrape(ADMIN))

    def moved(series):
        return after.get(series, 0) - before.get(series, 0)

    assert moved('mall_worker_pay_notify_verifications_total'
                 '{result="missing"}') == 1
    assert moved('mall_worker_redis_errors_total{kind="timeout"}') >= 1
    assert moved('mall_worker_requests_total{method="GET",'
                 'route="/api/v1/cart/items",status="503"}') == 1


def test_grafana_dashboard_queries_only_real_metrics(stack):
    with open(DASHBOARD) as f:
        dash = json.load(f)
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    assert len(exprs) >= 15
    known = families(scrape(ADMIN)) | families(scrape(EDGE_ADMIN))
    used = set()
    for e in exprs:
        used |= set(re.findall(r"\b(mall_[a-z0-9_]+)", e))
    strip = re.compile(r"_(bucket|sum|count)$")
    missing = {m for m in used if m not in known and strip.sub("", m)
               not in known}
    assert not missing, missing
    assert any(m.startswith("mall_worker_") for m in used)
    assert any(not m.startswith("mall_worker_") for m in used)


# --- logs -------------------------------------------------------------------

def test_log_lines_are_json_with_the_edge_request_id(stack):
    b = Buyer(stack)
    r = b.get("/api/v1/cart/items")
    assert r.status_code == 200
    rid = r.headers["X-Request-Id"]
    access = until(lambda: [x for x in log_lines(worker_log(stack))
                            if x.get("request_id") == rid
                            and x.get("comp") == "access"])
    assert access, rid
    a = access[0]
    for k in ("ts", "level", "pid", "request_id", "msg"):
        assert k in a, a
    assert a["route"] == "/api/v1/cart/items"
    assert a["status"] == 200
    assert isinstance(a["latency_ms"], float)
    assert a["user_id"] == b.sub
    assert a["pid"] in stack.worker_children()
    # every line parses; no bearer token or signing key in any of them
    with open(worker_log(stack), errors="replace") as f:
        text = f.read()
    for line in text.splitlines():
        json.loads(line)
    assert b.token not in text
    assert b.token.split(".")[2] not in text


def test_sigusr1_reopens_logs_in_master_and_children(stack, load_sku):
    sku, pid = load_sku
    log = worker_log(stack)
    rotated = log + ".1"
    with Load(stack, sku, pid, buyers=3, max_orders=10) as load:
        time.sleep(0.7)
        os.replace(log, rotated)
        master = stack.pid("workers")
        signalled = set(stack.worker_children())
        os.kill(master, signal.SIGUSR1)
        time.sleep(1.5)
    load.check()

    # the master and every child it signalled that is still there (a child
    # draining after an earlier test's reload may have exited meanwhile)
    def missing():
        if not os.path.exists(log):
            return {master}
        done = {x["pid"] for x in log_lines(log)
                if x["msg"] == "log file reopened"}
        want = {master} | (signalled & set(stack.worker_children()))
        return want - done
    reopened = until(lambda: not missing())
    assert reopened, (missing(), open(log).read()[-2000:]
                      if os.path.exists(log) else "")
    # every order placed meanwhile is logged in one of the two files
    time.sleep(0.5)
    seen = {x.get("request_id") for p in (log, rotated)
            for x in log_lines(p)}
    assert set(load.rids) <= seen
    assert any(x.get("comp") == "access" for x in log_lines(log))


# --- config check, reload, upgrade -------------------------------------------

def worker_bin(stack):
    return status()["binary"]


def test_check_config(stack, tmp_path):
    conf = os.path.join(stack.run_dir, "mall-worker.conf")
    r = subprocess.run([worker_bin(stack), "--check-config", conf],
                       capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout == "" and r.stderr == ""
    bad = tmp_path / "bad.conf"
    lines = open(conf).read().splitlines()
    lines.insert(3, "max_inflight lots")
    bad.write_text("\n".join(lines) + "\n")
    r = subprocess.run([worker_bin(stack), "--check-config", str(bad)],
                       capture_output=True, text=True)
    assert r.returncode == 1
    assert r.stderr.startswith("%s:4: max_inflight must be" % bad), r.stderr
    missing = tmp_path / "missing.conf"
    missing.write_text("workers 1\n")
    r = subprocess.run([worker_bin(stack), "--check-config", str(missing)],
                       capture_output=True, text=True)
    assert r.returncode == 1
    assert re.match(r"%s:\d+: .*required" % re.escape(str(missing)),
                    r.stderr), r.stderr


def test_sighup_reload_under_load_drops_nothing(stack, load_sku):
    sku, pid = load_sku
    old = stack.worker_children()
    loaded = status()["config"]["loaded_at"]
    with Load(stack, sku, pid) as load:
        time.sleep(0.7)
        os.kill(stack.pid("workers"), signal.SIGHUP)
        assert until(lambda: not set(stack.worker_children()) & set(old))
        time.sleep(0.7)
    load.check()
    assert load.requests > 20
    assert status()["config"]["loaded_at"] >= loaded


def test_upgrade_under_load_drops_nothing(stack, load_sku):
    sku, pid = load_sku
    before = status()
    old_master, old_children = before["pid"], stack.worker_children()
    binary = before["binary"]
    with Load(stack, sku, pid) as load:
        time.sleep(0.7)
        install(binary, binary)           # "the new release"
        os.kill(old_master, signal.SIGUSR2)
        new = wait_new_master(stack, old_master)
        assert new, stack.logs()
        time.sleep(0.7)
    load.check()
    assert load.requests > 20
    after = status()
    assert after["pid"] == new != old_master
    assert after["binary"] == binary
    kids = stack.worker_children()
    assert kids and not set(kids) & set(old_children)
    assert sorted(c["pid"] for c in after["children"]) == kids
    msgs = [x["msg"] for x in log_lines(worker_log(stack))
            if x.get("pid") == old_master]
    assert "stopped: the upgraded master serves" in msgs


def test_upgrade_to_a_broken_binary_keeps_the_old_one(stack, load_sku,
                                                       tmp_path):
    sku, pid = load_sku
    master = stack.pid("workers")
    children = stack.worker_children()
    binary = worker_bin(stack)
    good = str(tmp_path / "mall-worker.good")
    shutil.copy2(binary, good)
    broken = tmp_path / "broken"
    broken.write_text("#!/bin/sh\necho 'cannot start' >&2\nexit 1\n")
    broken.chmod(0o755)
    try:
        with Load(stack, sku, pid, buyers=3, max_orders=10) as load:
            time.sleep(0.5)
            install(str(broken), binary)
            os.kill(master, signal.SIGUSR2)
            failed = until(lambda: [x for x in log_lines(worker_log(stack))
                                    if x.get("pid") == master and
                                    x["msg"].startswith("upgrade failed")])
            time.sleep(0.5)
        assert failed
    finally:
        install(good, binary)
    load.check()
    assert stack.pid("workers") == master
    assert stack.worker_children() == children
    assert status()["pid"] == master


def test_upgrade_to_a_binary_that_never_serves_is_killed(stack, tmp_path):
    reload_workers(stack, MALL_WORKER_UPGRADE_TIMEOUT="2")
    try:
        never_serves(stack, tmp_path)
    finally:
        reload_workers(stack, MALL_WORKER_UPGRADE_TIMEOUT="30")


def never_serves(stack, tmp_path):
    binary = worker_bin(stack)
    good = str(tmp_path / "mall-worker.good")
    shutil.copy2(binary, good)
    hang = tmp_path / "hang"
    hang.write_text("#!/bin/sh\nexec sleep 300\n")
    hang.chmod(0o755)
    master = stack.pid("workers")
    children = stack.worker_children()
    try:
        install(str(hang), binary)
        os.kill(master, signal.SIGUSR2)
        started = until(lambda: [x for x in log_lines(worker_log(stack))
                                 if x.get("pid") == master and
                                 x["msg"].startswith("upgrade: started")])
        assert started
        failed = until(lambda: [x for x in log_lines(worker_log(stack))
                                if x.get("pid") == master and "not serving "
                                "within upgrade_timeout" in x["msg"]], 10)
        assert failed
    finally:
        install(good, binary)
    # the hanging one is gone, the old master serves on
    new = int(re.search(r"new master (\d+)", started[-1]["msg"]).group(1))
    assert until(lambda: not os.path.exists("/proc/%d" % new), 5)
    assert stack.pid("workers") == master
    assert stack.worker_children() == children
    assert status()["pid"] == master
    r = Buyer(stack).get("/api/v1/cart/items")
    assert r.status_code == 200
