"""The event-driven worker runtime (docs/architecture.md, "Workers"):
one process serves many requests at once on fibers, sheds load beyond
max_inflight with 503 + Retry-After and writes nothing for what it sheds,
answers 503 within the Redis timeout when Redis is down or stalled and
recovers by itself, never oversells under a rush, and creates an order
with at most 17 Redis commands in two round trips (12 for the order, 5 for
abnormal-order detection: docs/orders.md "Abnormal orders").
"""

import os
import re
import secrets
import signal
import subprocess
import threading
import time

from conftest import assert_json_error
from test_orders import Buyer, make_sku, reload_workers, sku_stock


def rush(fn, n, threads=64):
    """Runs fn(i) for i in 0..n-1 on a pool of threads; results in order."""
    out = [None] * n
    idx = iter(range(n))
    lock = threading.Lock()

    def run():
        while True:
            with lock:
                i = next(idx, None)
            if i is None:
                return
            try:
                out[i] = fn(i)
            except Exception as e:          # a connection error is a result
                out[i] = e

    ts = [threading.Thread(target=run) for _ in range(min(threads, n))]
    [t.start() for t in ts]
    [t.join() for t in ts]
    return out


def order_keys(stack):
    out = subprocess.run(["redis-cli", "-p", str(stack.redis_port), "--scan",
                          "--pattern", "mall:order:*"],
                         capture_output=True, text=True).stdout.split()
    return sorted(out)


def pause_redis(stack):
    os.kill(stack.pid("redis"), signal.SIGSTOP)


def resume_redis(stack):
    os.kill(stack.pid("redis"), signal.SIGCONT)


def status_of(r):
    return r.status_code if hasattr(r, "status_code") else "error"


def test_one_process_serves_many_requests_at_once(stack):
    """A Redis round trip parks only its request: with Redis paused, a
    process keeps answering what needs no Redis, and 40 reads waiting on
    Redis all finish together once it is back."""
    reload_workers(stack, MALL_WORKER_PROCESSES="1")
    try:
        pause_redis(stack)
        try:
            started = time.time()
            waiting = []
            tag = secrets.token_hex(4)     # keys the edge has not cached
            t = threading.Thread(target=lambda: waiting.extend(
                rush(lambda i: stack.get("/api/v1/products?page=%d&t=%s"
                                         % (i + 1, tag), timeout=10),
                     40, threads=40)))
            t.start()
            time.sleep(0.3)
            # no edge signature: refused by the worker without Redis
            direct = stack.http.get(stack.worker + "/api/v1/products",
                                    timeout=2)
            assert direct.status_code == 401
            assert time.time() - started < 1.0
        finally:
            resume_redis(stack)
        t.join()
        # the pause was under the Redis timeout: every read succeeded
        assert [status_of(r) for r in waiting] == [200] * 40
        assert time.time() - started < 5
    finally:
        reload_workers(stack, MALL_WORKER_PROCESSES="2")


def test_overload_is_shed_with_503_and_writes_nothing(stack):
    """Beyond max_inflight a process answers 503 UNAVAILABLE with
    Retry-After at once; a shed order never reaches Redis, and every order
    the rush leaves behind is whole."""
    reload_workers(stack, MALL_WORKER_PROCESSES="1",
                   MALL_WORKER_MAX_INFLIGHT="4")
    try:
        sku, _ = make_sku(stack, 1000)
        before_stock = sku_stock(stack, sku)
        buyers = [Buyer(stack) for _ in range(10)]
        keys = ["shed-" + secrets.token_hex(6) for _ in range(40)]
        before_keys = set(order_keys(stack))
        pause_redis(stack)          # requests pile up in the process
        try:
            res = rush(lambda i: buyers[i % 10].order(
                [{"sku_id": sku, "quantity": 1}], key=keys[i]), 40,
                threads=40)
        finally:
            resume_redis(stack)
        codes = [status_of(r) for r in res]
        shed = [r for r in res if status_of(r) == 503
                and r.json()["error"]["code"] == "UNAVAILABLE"]
        assert len(shed) >= 30, codes        # only 4 could be in flight
        for r in shed:
            assert_json_error(r, 503, "UNAVAILABLE")
            assert r.headers.get("Retry-After") == "1"

        # retried with their keys, every request settles to one order
        again = rush(lambda i: buyers[i % 10].order(
            [{"sku_id": sku, "quantity": 1}], key=keys[i]), 40, threads=4)
        assert {status_of(r) for r in again} <= {200, 201}, \
            [status_of(r) for r in again]
        oids = {r.json()["order_id"] for r in again}
        assert len(oids) == 40
        made = {k for k in order_keys(stack) if k.count(":") == 2} \
            - before_keys
        assert made == {"mall:order:%s" % o for o in oids}
        assert sku_stock(stack, sku) == before_stock - 40
    finally:
        reload_workers(stack, MALL_WORKER_PROCESSES="2",
                       MALL_WORKER_MAX_INFLIGHT="512")


def test_redis_stalled_answers_503_within_the_timeout(stack):
    """A stalled Redis (SIGSTOP) fails the requests waiting on it with 503
    at redis_timeout_ms (1 s), none hangs; once it runs again the same
    processes serve again (no restart)."""
    workers = stack.worker_children()
    tag = secrets.token_hex(4)             # keys the edge has not cached
    pause_redis(stack)
    try:
        started = time.time()
        res = rush(lambda i: stack.get("/api/v1/products?page=%d&t=%s"
                                       % (i + 1, tag), timeout=10),
                   20, threads=20)
        took = time.time() - started
    finally:
        resume_redis(stack)
    for r in res:
        assert_json_error(r, 503, "UNAVAILABLE")
        assert r.headers.get("Retry-After") == "1"
    assert took < 3.0, took
    deadline = time.time() + 10
    while time.time() < deadline:
        if stack.get("/api/v1/products?page=99").status_code == 200:
            break
        time.sleep(0.1)
    assert stack.get("/api/v1/products?page=98").status_code == 200
    assert stack.worker_children() == workers


def test_redis_down_then_back_without_a_worker_restart(stack):
    """Redis stopped: requests answer 503 fast (the connection is refused
    and backs off); restarted: served again by the same processes."""
    workers = stack.worker_children()
    pid = stack.pid("redis")
    os.kill(pid, signal.SIGTERM)            # AOF: nothing acknowledged lost
    deadline = time.time() + 10
    while time.time() < deadline and os.path.exists("/proc/%d" % pid):
        time.sleep(0.05)
    try:
        started = time.time()
        tag = secrets.token_hex(4)
        res = rush(lambda i: stack.get("/api/v1/products?page=%d&t=%s"
                                       % (i + 2, tag), timeout=10),
                   20, threads=10)
        assert time.time() - started < 3.0
        for r in res:
            assert_json_error(r, 503, "UNAVAILABLE")
    finally:
        subprocess.Popen(["redis-server", os.path.join(stack.run_dir,
                                                       "redis.conf")],
                         start_new_session=True, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 30
    ok = None
    while time.time() < deadline:
        ok = stack.get("/api/v1/products?page=2")
        if ok.status_code == 200:
            break
        time.sleep(0.1)
    assert ok.status_code == 200
    assert stack.worker_children() == workers


def test_500_orders_for_100_units_make_exactly_100(stack):
    sku, _ = make_sku(stack, 100)
    buyers = [Buyer(stack) for _ in range(50)]
    res = rush(lambda i: buyers[i % 50].order(
        [{"sku_id": sku, "quantity": 1}]), 500, threads=100)
    codes = [status_of(r) for r in res]
    assert codes.count(201) == 100, sorted(set(codes))
    for r in res:
        if status_of(r) != 201:
            assert_json_error(r, 409, "OUT_OF_STOCK")
            assert r.json()["error"]["sku_id"] == sku
    assert sku_stock(stack, sku) == 0
    # every buyer is new: the orders they hold are the ones made
    held = sum(int(stack.redis("ZCARD", "mall:user:%s:orders" % b.sub))
               for b in buyers)
    assert held == 100


MONITOR_RE = re.compile(r'^[\d.]+ \[\d+ ([\d.]+:\d+)\] "([A-Za-z]+)"')


def worker_addrs(stack):
    out = stack.redis("CLIENT", "LIST")
    return {m.group(1) for m in re.finditer(r"addr=(\S+) .*?name=mall-worker",
                                            out)}


def test_an_order_is_at_most_17_commands_in_two_round_trips(stack):
    """Counted on the wire (MONITOR), from the workers' own connections,
    for orders of one line without a device; the order timer's polling is
    left out. 12 make the order (docs/orders.md), 5 the abnormal-order
    counters (the buyer's status and age in the read; orders of the user
    and of the address, the user's distinct addresses in the MULTI), plus
    the EXPIREATs of the hour's risk keys, once a minute per process."""
    sku, _ = make_sku(stack, 500)
    buyers = [Buyer(stack) for _ in range(3)]     # under the per-user limit
    buyers[0].order([{"sku_id": sku, "quantity": 1}])   # connections warm
    # line-buffered: every line MONITOR printed is read before it stops
    mon = subprocess.Popen(["stdbuf", "-oL", "redis-cli", "-p",
                            str(stack.redis_port), "MONITOR"],
                           stdout=subprocess.PIPE, text=True)
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(mon.stdout))
    try:
        assert mon.stdout.readline().strip() == "OK"   # MONITOR is on
        reader.start()                  # drained as it runs: no backlog
        n = 30
        for i in range(n):
            r = buyers[i % 3].order([{"sku_id": sku, "quantity": 1}])
            assert r.status_code == 201, r.text
        time.sleep(0.5)
    finally:
        mon.terminate()
    reader.join(timeout=10)
    mine = worker_addrs(stack)
    counted = {}
    for line in lines:
        m = MONITOR_RE.match(line)
        if not m or m.group(1) not in mine:
            continue
        cmd = m.group(2).upper()
        if cmd in ("ZRANGEBYSCORE", "SPOP", "PING"):
            continue                  # the order timer's own polling
        counted[cmd] = counted.get(cmd, 0) + 1
    expire = counted.pop("EXPIREAT", 0)
    assert expire <= 2 * 2 * 4, counted    # 2 processes, a minute boundary
    total = sum(counted.values())
    assert total <= 17 * n, \
        " ".join("%s=%d" % kv for kv in sorted(counted.items()))
    # the shape: one read pipeline, one MULTI/EXEC
    assert counted.get("MULTI") == n and counted.get("EXEC") == n, \
        " ".join("%s=%d" % kv for kv in sorted(counted.items()))
    assert counted.get("WATCH", 0) == 0, counted
