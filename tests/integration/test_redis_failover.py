"""Redis failover under order load (issue 25, items 8 and 9): the HA layout
of conf/ha/README.md (ha_stack.py) with WAIT 1. Orders go through both edge
nodes while the primary is killed with SIGKILL; the Sentinels promote the
replica, the workers and both edges' Redis clients follow it. Then:

- every order acknowledged (2xx) before, during or after the failover is
  on the new primary, and no Idempotency-Key made two orders (a client
  retries a 5xx with the same key, on either node);
- orders succeed again within a bound, and the time it took is printed
  (measured, not asserted beyond a generous liveness bound);
- a block published after the failover (on the new primary, as mallctl
  does) reaches both edge nodes through their followers.
"""

import os
import secrets
import signal
import subprocess
import threading
import time

import pytest
import requests

from conftest import MALLCTL, assert_json_error, client_ip
from edge_harness import bad_log_lines
from san_reports import report_lines
from ha_stack import HAStack, redis_cli, wait_for
from sf_helpers import Admin, Shopper, new_product

ADDR = {"name": "王五", "phone": "13712345678", "province": "广东省",
        "city": "深圳市", "district": "南山区", "detail": "科技园1号",
        "is_default": True}
BUYERS = 6
PACE = 0.13            # s between one buyer's requests (user writes: 10/s)
RESUME_BOUND = 20      # s: orders must come back within this (liveness)


@pytest.fixture
def ha():
    s = HAStack(down_after_ms=1000, failover_timeout_ms=3000,
                wait_timeout_ms=300)
    try:
        s.start()
    except Exception:
        print(s.logs())
        s.stop()
        s.cleanup()
        raise
    try:
        yield s
    finally:
        s.stop()
    # no crash, alert or sanitizer report on either edge node
    bad = []
    for n in (1, 2):
        log = s.edge_log(n)
        bad += bad_log_lines(log)
        bad += [l for l in log.splitlines() if "exited on signal" in l]
    # nor a worker process killed by a signal, nor a sanitizer report
    with open(s.run_dir + "/logs/workers.log", errors="replace") as f:
        log = f.read()
    bad += [l for l in log.splitlines() if "killed by signal" in l]
    bad += report_lines(log)
    s.cleanup()
    assert not bad, bad[:10]


class Buyer:
    """One user with a shopper per edge node (same sub, own tokens)."""

    def __init__(self, ha):
        self.sub = "u" + secrets.token_hex(6)
        self.ip = client_ip()
        self.views = []
        for edge in ha.edges:
            v = Shopper(edge, sub=self.sub)
            v.ip = self.ip
            self.views.append(v)
        r = self.views[0].post("/api/v1/addresses", ADDR)
        assert r.status_code == 201, r.text
        self.address_id = r.json()["address_id"]

    def order(self, node, sku, key):
        body = {"items": [{"sku_id": sku, "quantity": 1}],
                "address_id": self.address_id, "coupon": None, "remark": ""}
        return self.views[node].call("POST", "/api/v1/orders", body,
                                     {"Idempotency-Key": key})


class OrderLoad:
    """BUYERS threads, each placing orders one after another; a 5xx or a
    connection error is retried with the same key (on the other node), as
    a client would, for up to 15 s."""

    def __init__(self, buyers, sku):
        self.buyers, self.sku = buyers, sku
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.acked = {}          # key -> (order_id, sub, status)
        self.gave_up = []        # keys never acknowledged
        self.unexpected = []     # (status, body)
        self.tries = []          # (sent, status or None)
        self.threads = [threading.Thread(target=self.run, args=(b, i))
                        for i, b in enumerate(buyers)]

    def run(self, buyer, i):
        n = 0
        while not self.stop.is_set():
            key = secrets.token_hex(10)
            first = time.time()
            while True:
                n += 1
                sent = time.time()
                try:
                    r = buyer.order((i + n) % 2, self.sku, key)
                    status = r.status_code
                except requests.RequestException:
                    r, status = None, None
                with self.lock:
                    self.tries.append((sent, status))
                    if status in (200, 201):
                        self.acked[key] = (r.json()["order_id"], buyer.sub,
                                           status)
                    elif status not in (None, 502, 503, 504):
                        self.unexpected.append((status, r.text[:300]))
                time.sleep(max(0.0, PACE - (time.time() - sent)))
                if status in (200, 201) or (status not in (None, 502, 503,
                                                           504)):
                    break
                if time.time() - first > 15:
                    with self.lock:
                        self.gave_up.append(key)
                    break

    def start(self):
        for t in self.threads:
            t.start()

    def join(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=30)

    def acked_count(self):
        with self.lock:
            return len(self.acked)

    def first_success_after(self, t):
        with self.lock:
            ok = [s for s, st in self.tries if s >= t and st in (200, 201)]
        return min(ok) if ok else None


def order_fields(port, oid):
    out = redis_cli(port, "HMGET", "mall:order:" + oid, "id", "idem_key",
                    "user_id").split("\n")
    return out


def unreplicated_then_retried(ha, buyer, sku):
    """With the replica stopped, WAIT times out: the order is stored on the
    primary but answered 503; the same key, retried on the other node once
    the replica is back, answers that order (200) and makes no other."""
    key = secrets.token_hex(10)
    replica = ha.procs["redis-replica"]
    os.kill(replica.pid, signal.SIGSTOP)
    try:
        r = buyer.order(0, sku, key)
    finally:
        os.kill(replica.pid, signal.SIGCONT)
    err = assert_json_error(r, 503, "UNAVAILABLE")
    assert "Idempotency-Key" in err["message"], err
    assert r.headers.get("Retry-After") == "1"
    record = redis_cli(ha.primary_port, "GET", "mall:idem:order:%s:%s"
                       % (buyer.sub, key))
    assert record, "the order was not kept for the retry"
    r2 = buyer.order(1, sku, key)
    assert r2.status_code == 200, r2.text
    oid = r2.json()["order_id"]
    assert oid in record
    assert redis_cli(ha.primary_port, "ZCARD",
                     "mall:user:%s:orders" % buyer.sub) == "1"
    return key, oid


def assert_orders_kept(port, buyers, acked):
    """Every acknowledged order is on the primary at port, and no
    Idempotency-Key made two orders (each buyer's index holds exactly the
    orders of its acknowledged keys: no key gave up)."""
    missing = []
    for key, (oid, sub, _) in acked.items():
        f = order_fields(port, oid)
        if f[0] != oid or f[2] != sub:
            missing.append((key, oid, f))
    assert not missing, "acknowledged orders lost: %r" % missing[:5]
    for b in buyers:
        ids = redis_cli(port, "ZRANGE", "mall:user:%s:orders" % b.sub, 0,
                        -1).split()
        keys = [order_fields(port, oid)[1] for oid in ids]
        assert len(keys) == len(set(keys)), "a key made two orders"
        mine = {"mall:idem:order:%s:%s" % (sub, k)
                for k, (_, sub, _) in acked.items() if sub == b.sub}
        assert mine <= set(keys)
        assert len(ids) == len(mine), (b.sub, len(ids), len(mine))


def test_failover_under_order_load(ha):
    admin = Admin(ha.edges[0])
    p = new_product(admin, skus=[{"price_fen": 990, "stock": 100000,
                                  "attrs": {"color": "蓝"}}])
    sku = p["skus"][0]["sku_id"]
    buyers = [Buyer(ha) for _ in range(BUYERS)]
    old, new = ha.primary_port, ha.replica_port
    assert ha.primary() == old
    first_key, first_oid = unreplicated_then_retried(ha, buyers[0], sku)

    load = OrderLoad(buyers, sku)
    load.acked[first_key] = (first_oid, buyers[0].sub, 200)
    load.start()
    try:
        wait_for("orders before the failover",
                 lambda: load.acked_count() >= 40, timeout=20)
        before = load.acked_count()
        killed = time.time()
        ha.kill("redis")                         # SIGKILL, mid-load
        wait_for("the sentinels to promote the replica",
                 lambda: ha.primary() == new, timeout=RESUME_BOUND, step=0.1)
        promoted = time.time()
        # WAIT 1 needs a replica: with the only replica promoted, nothing
        # is acknowledged until one is back (503, retried). The old
        # primary restarts as its supervisor would, as a replica of the
        # primary the Sentinels name.
        ha.restart_redis()
        restarted = time.time()
        wait_for("orders to succeed again", lambda: load.first_success_after(
            restarted) is not None, timeout=RESUME_BOUND, step=0.1)
        resumed = load.first_success_after(restarted)
        wait_for("the old primary to be a replica", lambda: "role:slave" in
                 redis_cli(old, "INFO", "replication"), timeout=10)
        # a few seconds of load on the new primary
        target = load.acked_count() + 40
        wait_for("orders after the failover",
                 lambda: load.acked_count() >= target, timeout=20)
    finally:
        load.join()

    failed = [st for s, st in load.tries if s >= killed and st not in
              (200, 201)]
    print("\nfailover: %d orders acknowledged before the kill, %d in all; "
          "the sentinels promoted the replica %.2f s after SIGKILL; the old "
          "primary restarted at +%.2f s; first order acknowledged %.2f s "
          "after that (+%.2f s after the kill); %d attempts refused (503) "
          "or failed meanwhile, retried with the same key"
          % (before, len(load.acked), promoted - killed, restarted - killed,
             resumed - restarted, resumed - killed, len(failed)))

    assert not load.unexpected, load.unexpected[:5]
    assert not load.gave_up, "keys never acknowledged: %d" % len(load.gave_up)

    assert_orders_kept(new, buyers, load.acked)

    # a block published now, on the new primary, reaches both edges
    ip = "203.0.113.77"
    for edge in ha.edges:
        r = edge.request("GET", "/api/v1/categories",
                         headers={"X-Forwarded-For": ip})
        assert r.status_code == 200, r.text
    assert ha.primary() == new
    # mallctl finds the new primary through the Sentinels (the configured
    # port is the old, dead one)
    env = dict(ha.env, MALL_REDIS_PORT=str(old), MALL_REDIS_SENTINELS=",".join(
        "127.0.0.1:%d" % p for p in ha.sentinel_ports))
    r = subprocess.run([MALLCTL, "block", "ip", ip], env=env,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr

    def blocked(edge):
        r = edge.request("GET", "/api/v1/categories",
                         headers={"X-Forwarded-For": ip})
        return r.status_code == 403

    for n, edge in enumerate(ha.edges, 1):
        wait_for("the block on edge %d" % n, lambda: blocked(edge),
                 timeout=10, step=0.1)
    # the workers' metrics saw the short WAIT and the failover
    m = requests.get("http://127.0.0.1:%s/metrics"
                     % ha.env["MALL_WORKER_ADMIN_PORT"], timeout=5).text
    counts = dict(l.split() for l in m.splitlines()
                  if l.startswith(("mall_worker_redis_primary_changes_total",
                                   "mall_worker_redis_wait_short_total")))
    assert int(counts["mall_worker_redis_primary_changes_total"]) >= 1, m
    assert int(counts["mall_worker_redis_wait_short_total"]) >= 1, m
    for n in (1, 2):
        assert ('mall_redis: sentinel: primary "mall" is 127.0.0.1:%d (was '
                '127.0.0.1:%d)' % (new, old)) in ha.edge_log(n), \
            "edge %d did not follow the failover" % n

    # a planned switch-over back (SENTINEL FAILOVER) under load: the
    # primary in use stays up and turns replica; everyone moves back
    load2 = OrderLoad(buyers, sku)
    load2.start()
    try:
        wait_for("orders before the switch-over",
                 lambda: load2.acked_count() >= 20, timeout=20)
        asked = time.time()
        assert redis_cli(ha.sentinel_ports[1], "SENTINEL", "FAILOVER",
                         "mall") == "OK"
        wait_for("the switch-over", lambda: ha.primary() == old,
                 timeout=RESUME_BOUND, step=0.1)
        switched = time.time()
        wait_for("orders on the old primary again", lambda: (
            load2.first_success_after(switched) is not None),
            timeout=RESUME_BOUND, step=0.1)
        back = load2.first_success_after(switched)
        target = load2.acked_count() + 20
        wait_for("orders after the switch-over",
                 lambda: load2.acked_count() >= target, timeout=20)
    finally:
        load2.join()
    print("switch-over: the sentinels switched %.2f s after SENTINEL "
          "FAILOVER; first order acknowledged %.2f s after the switch"
          % (switched - asked, back - switched))
    assert not load2.unexpected, load2.unexpected[:5]
    assert not load2.gave_up, len(load2.gave_up)
    wait_for("the demoted primary to be a replica", lambda: "role:slave" in
             redis_cli(new, "INFO", "replication"), timeout=10)
    acked = dict(load.acked)
    acked.update(load2.acked)
    assert_orders_kept(old, buyers, acked)


@pytest.mark.parametrize("params, error", [
    ("sentinel=127.0.0.1:26391,127.0.0.1:26392 master=shop", None),
    ("sentinel=127.0.0.1", "invalid parameter"),
    ("sentinel=127.0.0.1:0", "invalid parameter"),
    ("sentinel=127.0.0.1:1,,127.0.0.1:2", "invalid parameter"),
    ("sentinel=127.0.0.1:1 sentinel=127.0.0.1:2", "invalid parameter"),
    ("master=", "invalid parameter"),
])
def test_mall_redis_sentinel_directive(tmp_path, params, error):
    """nginx -t accepts the Sentinel parameters of mall_redis and refuses
    malformed ones with the directive's message."""
    from edge_harness import MODULE, NGINX as EDGE_NGINX
    d = str(tmp_path)
    with open(d + "/nginx.conf", "w") as f:
        f.write("load_module %s;\npid %s/nginx.pid;\nerror_log %s/error.log;\n"
                "events {}\nhttp {\n    mall_redis 127.0.0.1:6391 %s;\n"
                "    client_body_temp_path %s/b; proxy_temp_path %s/p;\n"
                "    fastcgi_temp_path %s/f; uwsgi_temp_path %s/u;\n"
                "    scgi_temp_path %s/s;\n}\n"
                % ((MODULE, d, d, params) + (d,) * 5))
    r = subprocess.run([EDGE_NGINX, "-t", "-p", d, "-c", d + "/nginx.conf"],
                       capture_output=True, text=True)
    if error is None:
        assert r.returncode == 0, r.stderr
    else:
        assert r.returncode != 0
        assert "mall_redis: " + error in r.stderr, r.stderr
