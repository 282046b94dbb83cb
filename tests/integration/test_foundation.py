"""Foundation: the whole stack serves the catalog through the edge, every
answer is JSON with X-Request-Id, workers survive crashes and reloads."""

import os
import re
import signal
import threading
import time

import requests
import urllib3

from conftest import assert_json_error, client_ip
from mall_client import edge_headers, read_secret

RID = re.compile(r"^[0-9a-f]{32}$")


def test_edge_healthz(stack):
    r = stack.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}
    assert RID.match(r.headers["X-Request-Id"])


def test_request_ids_are_unique(stack):
    ids = {stack.get("/healthz").headers["X-Request-Id"] for _ in range(20)}
    assert len(ids) == 20


def test_products_list_through_edge(stack):
    r = stack.get("/api/v1/products")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    assert RID.match(r.headers["X-Request-Id"])
    body = r.json()
    assert body["total"] >= 200
    assert len(body["items"]) == body["size"] == 20
    item = body["items"][0]
    for field in ("id", "name", "name_en", "price_fen"):
        assert field in item, item
    assert isinstance(item["price_fen"], int)


def test_product_detail_and_unknown(stack):
    first = stack.get("/api/v1/products").json()["items"][0]
    r = stack.get("/api/v1/products/%s" % first["id"])
    assert r.status_code == 200, r.text
    detail = r.json()
    assert str(detail["id"]) == str(first["id"])
    assert detail["skus"], detail
    for sku in detail["skus"]:
        assert isinstance(sku["price_fen"], int)
        assert "sku_id" in sku
    assert_json_error(stack.get("/api/v1/products/999999999"), 404, "NOT_FOUND")


def test_categories_tree(stack):
    r = stack.get("/api/v1/categories")
    assert r.status_code == 200, r.text
    roots = r.json()["categories"]
    assert len(roots) >= 3

    def depth(node):
        return 1 + max([depth(c) for c in node.get("children", [])] or [0])
    assert max(depth(c) for c in roots) >= 3


def test_unknown_route_is_json_404(stack):
    assert_json_error(stack.get("/no/such/page"), 404, "NOT_FOUND")
    assert_json_error(stack.get("/api/v1/no-such-thing"), 401, "UNAUTHORIZED")


def test_bad_method_is_json_not_html(stack):
    r = stack.request("TRACE", "/api/v1/products")
    assert_json_error(r, 405, "METHOD_NOT_ALLOWED")
    assert "<html" not in r.text.lower()


def test_edge_error_pages_are_json(stack):
    # An over-long header line makes nginx itself answer 400.
    r = stack.get("/api/v1/products", headers={"X-Big": "a" * 20000})
    assert r.status_code in (400, 431, 494), r.status_code
    assert "<html" not in r.text.lower()
    assert r.json()["error"]["code"] == "VALIDATION_FAILED"


def test_https_listener(stack):
    r = requests.get(stack.edge_tls + "/healthz", verify=stack.key("tls.crt"),
                     timeout=5)
    assert r.status_code == 200
    assert r.headers["X-Request-Id"]


def test_direct_worker_call_without_edge_signature_is_refused(stack):
    r = requests.get(stack.worker + "/api/v1/products", timeout=5)
    assert_json_error(r, 401, "UNAUTHORIZED")
    # Forged identity headers do not help either.
    r = requests.get(stack.worker + "/api/v1/products", timeout=5,
                     headers={"X-Mall-User": "42", "X-Mall-Edge-Kid": "e1",
                              "X-Mall-Edge-Signature": "x" * 43,
                              "X-Mall-Edge-Ts": str(int(time.time()))})
    assert_json_error(r, 401, "UNAUTHORIZED")


def test_direct_worker_call_with_edge_signature_is_served(stack):
    key = read_secret(stack.key("edge-e1.key"))
    h = edge_headers(key, "GET", "/api/v1/products?page=2")
    r = requests.get(stack.worker + "/api/v1/products?page=2", headers=h,
                     timeout=5)
    assert r.status_code == 200, r.text
    assert r.json()["page"] == 2
    # A stale timestamp is refused even with the right key.
    h = edge_headers(key, "GET", "/api/v1/products", ts=int(time.time()) - 600)
    r = requests.get(stack.worker + "/api/v1/products", headers=h, timeout=5)
    assert_json_error(r, 401, "UNAUTHORIZED")


def test_worker_healthz(stack):
    r = requests.get(stack.worker + "/healthz", timeout=5)
    assert r.status_code == 200
    assert r.json()["redis"] == "ok"


def test_workers_log_the_edge_request_id(stack):
    # a query no one asked before: the catalog cache cannot answer it
    r = stack.get("/api/v1/categories?rid=%d" % time.time_ns())
    rid = r.headers["X-Request-Id"]
    log = os.path.join(stack.run_dir, "logs", "workers.log")
    deadline = time.time() + 5
    while time.time() < deadline:
        if rid in open(log, errors="replace").read():
            return
        time.sleep(0.1)
    raise AssertionError("request id %s not in workers.log" % rid)


def test_crashed_worker_is_restarted(stack):
    before = stack.worker_children()
    assert len(before) == 2, before
    os.kill(before[0], signal.SIGKILL)
    deadline = time.time() + 10
    after = []
    while time.time() < deadline:
        after = stack.worker_children()
        if len(after) == 2 and before[0] not in after:
            break
        time.sleep(0.1)
    assert len(after) == 2 and before[0] not in after, (before, after)
    for _ in range(10):
        assert stack.get("/api/v1/products").status_code == 200


def test_admin_metrics_endpoint(stack):
    r = requests.get(stack.admin + "/metrics", timeout=5)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain")
    for name in ("mall_requests_total", "mall_auth_verified_total",
                 "mall_limit_requests_total", "mall_cache_hits_total",
                 "mall_shm_size_bytes", "mall_redis_connected"):
        assert "\n# TYPE %s " % name in "\n" + r.text, name
    assert 'mall_cache_hits_total{zone="catalog"}' in r.text


def test_mallctl_status(stack):
    r = stack.mallctl("status", check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "nginx" in r.stdout and "running" in r.stdout


def test_mallctl_purge_reaches_the_edge_cache(stack):
    pid = stack.get("/api/v1/products?size=1").json()["items"][0]["id"]
    path = "/api/v1/products/%s" % pid

    def state():
        return stack.get(path).headers.get("X-Mall-Cache")

    def purges():
        m = re.search(r'^mall_cache_purges_total\{zone="catalog"\} (\d+)$',
                      stack.http.get(stack.admin + "/metrics").text, re.M)
        return int(m.group(1))

    state()
    assert state() == "HIT"
    before = purges()

    r = stack.mallctl("purge", "product:%s" % pid, check=False)
    assert r.returncode == 0, r.stderr
    assert "queued" in r.stderr

    # every edge follows mall:purge within a second: the next answer after
    # that is a fresh MISS (then HITs again)
    seen, deadline = [], time.time() + 3
    while time.time() < deadline:
        seen.append(state())
        if seen[-1] != "HIT":
            break
        time.sleep(0.1)
    assert seen[-1] == "MISS", seen
    assert purges() > before

    r = stack.mallctl("purge", check=False)
    assert r.returncode != 0 and "name at least one tag" in r.stderr


def test_reload_keeps_serving(stack):
    failures, done = [], threading.Event()
    session = requests.Session()
    # An old worker closes a keep-alive connection after its current
    # response; a GET already sent on it is retried once on a new
    # connection, as HTTP clients do for idempotent requests. Cache hits
    # make that race frequent. A request that fails twice is a failure.
    session.mount("http://", requests.adapters.HTTPAdapter(
        max_retries=urllib3.util.retry.Retry(
            total=1, connect=0, read=1, status=0, backoff_factor=0,
            allowed_methods=frozenset(["GET"]))))

    def hammer():
        while not done.is_set():
            try:
                # a fresh client address per request: the load must not
                # trip the per-IP limit, which would hide real failures
                resp = session.get(stack.edge + "/api/v1/products", timeout=10,
                                   headers={"X-Forwarded-For": client_ip()})
                if resp.status_code != 200:
                    failures.append(resp.status_code)
            except requests.RequestException as e:
                failures.append(repr(e))

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        old_edge = stack.nginx_workers()
        old_workers = stack.worker_children()
        r = stack.reload()
        assert r.returncode == 0, r.stderr
        time.sleep(1.0)
        assert not set(old_edge) & set(stack.nginx_workers())
        deadline = time.time() + 15
        while set(old_workers) & set(stack.worker_children()):
            assert time.time() < deadline, "old worker processes linger"
            time.sleep(0.1)
    finally:
        done.set()
        for t in threads:
            t.join()
    assert failures == []


def test_reload_refuses_a_broken_config(stack):
    path = stack.add_conf("broken.conf", "this is not nginx;\n")
    try:
        r = stack.reload()
        assert r.returncode != 0
        assert "rejected" in r.stderr
        assert stack.get("/healthz").status_code == 200
    finally:
        os.unlink(path)
