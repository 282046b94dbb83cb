"""Orders through the whole stack (docs/orders.md): signed, authenticated
order creation with server-side pricing, idempotency, stock that never
oversells under concurrency, cancel and automatic expiry that give stock
back, ownership, and durability across kill -9 of a worker child and of
Redis. Every write is signed as docs/signing.md says (sf_helpers.Shopper).
"""

import json
import os
import secrets
import signal
import subprocess
import threading
import time

import pytest
import requests

from conftest import assert_json_error, client_ip
from mall_client import edge_headers, read_secret, sign_headers
from sf_helpers import Admin, Shopper, new_product

ADDR = {"name": "李四", "phone": "13912345678", "province": "浙江省",
        "city": "杭州市", "district": "西湖区", "detail": "文三路90号",
        "is_default": True}


# --- helpers ---------------------------------------------------------------

class Buyer(Shopper):
    """A shopper with its own client address and one shipping address."""

    def __init__(self, stack):
        super().__init__(stack)
        self.ip = client_ip()
        r = self.post("/api/v1/addresses", ADDR)
        assert r.status_code == 201, r.text
        self.address_id = r.json()["address_id"]

    def order(self, items, key=None, **extra):
        body = {"items": items, "address_id": self.address_id,
                "coupon": None, "remark": ""}
        body.update(extra)
        key = key or secrets.token_hex(8)
        return self.call("POST", "/api/v1/orders", body,
                         {"Idempotency-Key": key})


def make_sku(stack, stock, price=1999):
    admin = Admin(stack)
    p = new_product(admin, skus=[{"price_fen": price, "stock": stock,
                                  "attrs": {"color": "红"}}])
    return p["skus"][0]["sku_id"], p["id"]


def sku_stock(stack, sku):
    return int(stack.redis("HGET", "mall:sku:%d" % sku, "stock").strip())


def set_stock(stack, sku, n):
    r = Admin(stack).patch("/admin/api/v1/skus/%d" % sku, {"stock": n})
    assert r.status_code == 200, r.text


def orders_of_sku(stack, sku):
    """(order ids, units) of every order record holding sku, by SCAN."""
    out = subprocess.run(["redis-cli", "-p", str(stack.redis_port), "--scan",
                          "--pattern", "mall:order:*"],
                         capture_output=True, text=True).stdout.split()
    ids, units = [], 0
    for k in out:
        if k.endswith(":events") or k.count(":") != 2:
            continue
        raw = stack.redis("HMGET", k, "items", "status").split("\n")
        items = json.loads(raw[0])
        for it in items:
            if it["sku_id"] == sku and raw[1] != "cancelled":
                ids.append(k.split(":")[2])
                units += it["quantity"]
    return ids, units


def data_keys(stack):
    """Every key but the edge's rate-limit counters (mall:rl:*), which the
    request itself moves."""
    out = subprocess.run(["redis-cli", "-p", str(stack.redis_port), "--scan"],
                         capture_output=True, text=True).stdout.split()
    return sorted(k for k in out if not k.startswith("mall:rl:"))


# --- create, price, read ------------------------------------------------------

def test_create_prices_on_the_server_and_reads_back(stack):
    sku, pid = make_sku(stack, 20, price=1999)
    u = Buyer(stack)
    r = u.order([{"sku_id": sku, "quantity": 2, "price_fen": 1}],
                remark="请尽快发货", total_fen=1)
    assert r.status_code == 201, r.text
    assert "no-store" in r.headers.get("Cache-Control", "")
    o = r.json()
    assert o["status"] == "unpaid"
    assert 6 <= len(o["order_id"]) <= 32 and o["order_id"].isalnum()
    assert o["items_fen"] == 3998                      # the catalog's price
    assert o["shipping_fen"] == 800                     # under 9900: fee
    assert o["discount_fen"] == 0
    assert o["total_fen"] == 3998 + 800
    assert o["pay_deadline"] - o["created_at"] == 1800
    assert sku_stock(stack, sku) == 18

    d = u.get("/api/v1/orders/%s" % o["order_id"])
    assert d.status_code == 200, d.text
    assert "no-store" in d.headers.get("Cache-Control", "")
    dj = d.json()
    assert dj["status"] == "unpaid" and dj["total_fen"] == 4798
    assert dj["items"][0]["price_fen"] == 1999
    assert dj["items"][0]["quantity"] == 2
    assert dj["items"][0]["subtotal_fen"] == 3998
    assert dj["pay_deadline"] == o["pay_deadline"]
    assert dj["logistics"] is None
    assert dj["remark"] == "请尽快发货"
    assert dj["address"]["phone"] == "139****5678"
    assert dj["address"]["city"] == "杭州市"
    # one event so far: its creation
    assert [(e["event"], e["to"]) for e in dj["events"]] == \
        [("create", "unpaid")]
    assert dj["events"][0]["actor"] == "user"

    # free shipping from 9900 fen; duplicate lines are merged
    r2 = u.order([{"sku_id": sku, "quantity": 3}, {"sku_id": sku,
                                                   "quantity": 2}])
    assert r2.status_code == 201, r2.text
    o2 = r2.json()
    d2 = u.get("/api/v1/orders/%s" % o2["order_id"]).json()
    assert d2["items"][0]["quantity"] == 5 and len(d2["items"]) == 1
    assert o2["items_fen"] == 9995 and o2["shipping_fen"] == 0
    assert o2["total_fen"] == 9995

    lst = u.get("/api/v1/orders").json()
    assert [i["order_id"] for i in lst["items"]] == [o2["order_id"],
                                                     o["order_id"]]
    assert lst["total"] == 2
    page2 = u.get("/api/v1/orders?page=2&size=1").json()
    assert [i["order_id"] for i in page2["items"]] == [o["order_id"]]
    unpaid = u.get("/api/v1/orders?status=unpaid").json()
    assert len(unpaid["items"]) == 2
    assert u.get("/api/v1/orders?status=paid").json()["items"] == []
    assert_json_error(u.get("/api/v1/orders?status=bogus"), 400,
                      "VALIDATION_FAILED")

    # no plaintext phone or address in Redis
    dump = stack.redis("HGETALL", "mall:order:%s" % o["order_id"])
    assert "13912345678" not in dump and "文三路" not in dump


def test_validation(stack):
    sku, pid = make_sku(stack, 5)
    u = Buyer(stack)
    other = Buyer(stack)
    body = {"items": [{"sku_id": sku, "quantity": 1}],
            "address_id": u.address_id}

    r = u.call("POST", "/api/v1/orders", body)           # no key
    assert_json_error(r, 400, "VALIDATION_FAILED")
    r = u.call("POST", "/api/v1/orders", body, {"Idempotency-Key": "bad key!"})
    assert_json_error(r, 400, "VALIDATION_FAILED")

    def field(resp):
        assert resp.status_code == 422, resp.text
        e = resp.json()["error"]
        assert e["code"] == "VALIDATION_FAILED"
        return e["field"]

    assert field(u.order([])) == "items"
    assert field(u.order([{"sku_id": sku, "quantity": 0}])) == \
        "items[0].quantity"
    assert field(u.order([{"sku_id": sku, "quantity": 100}])) == \
        "items[0].quantity"
    assert field(u.order([{"sku_id": 99999999, "quantity": 1}])) == "items"
    assert field(u.order([{"sku_id": sku, "quantity": 1}], remark="x" * 201)) \
        == "remark"
    r = u.call("POST", "/api/v1/orders",
               dict(body, address_id=other.address_id),
               {"Idempotency-Key": secrets.token_hex(4)})
    assert field(r) == "address_id"
    assert field(u.order([{"sku_id": sku, "quantity": 1}], coupon=5)) == \
        "coupon"
    r = u.order([{"sku_id": sku, "quantity": 1}], coupon=["C1"])
    assert_json_error(r, 422, "COUPON_INVALID")
    assert u.order([{"sku_id": sku, "quantity": 1}],
                   coupon="auto").status_code == 201

    # a delisted product cannot be ordered
    Admin(stack).delete("/admin/api/v1/products/%d" % pid)
    assert field(u.order([{"sku_id": sku, "quantity": 1}])) == "items"
    assert sku_stock(stack, sku) == 4


# --- idempotency ------------------------------------------------------------

def test_idempotent_retry_and_conflict(stack):
    sku, _ = make_sku(stack, 10)
    u = Buyer(stack)
    key = "retry-" + secrets.token_hex(6)
    r1 = u.order([{"sku_id": sku, "quantity": 2}], key=key)
    assert r1.status_code == 201, r1.text
    r2 = u.order([{"sku_id": sku, "quantity": 2}], key=key)
    assert r2.status_code == 200, r2.text
    assert r2.json() == r1.json()          # the first answer, replayed
    assert sku_stock(stack, sku) == 8                  # decremented once
    r3 = u.order([{"sku_id": sku, "quantity": 3}], key=key)
    assert_json_error(r3, 409, "CONFLICT")
    # the key is scoped per user
    v = Buyer(stack)
    r4 = v.order([{"sku_id": sku, "quantity": 2}], key=key)
    assert r4.status_code == 201 and r4.json()["order_id"] != \
        r1.json()["order_id"]
    ttl = int(stack.redis("TTL", "mall:idem:order:%s:%s" % (u.sub, key)))
    assert 86000 < ttl <= 86400


def test_concurrent_same_key_makes_one_order(stack):
    sku, _ = make_sku(stack, 10)
    u = Buyer(stack)
    key = secrets.token_hex(8)
    out = []

    def go():
        out.append(u.order([{"sku_id": sku, "quantity": 1}], key=key))

    ts = [threading.Thread(target=go) for _ in range(6)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    ok = [r for r in out if r.status_code in (200, 201)]
    assert ok and all(r.status_code in (200, 201, 409) for r in out), \
        [(r.status_code, r.text) for r in out]
    assert len({r.json()["order_id"] for r in ok}) == 1
    assert sku_stock(stack, sku) == 9


# --- stock --------------------------------------------------------------------

def test_concurrent_buyers_never_oversell(stack):
    sku, _ = make_sku(stack, 100)
    set_stock(stack, sku, 30)
    buyers = [Buyer(stack) for _ in range(90)]
    results = [None] * 90
    start = threading.Event()

    def go(i):
        start.wait()
        results[i] = buyers[i].order([{"sku_id": sku, "quantity": 1}])

    ts = [threading.Thread(target=go, args=(i,)) for i in range(90)]
    [t.start() for t in ts]
    start.set()
    [t.join() for t in ts]
    codes = [r.status_code for r in results]
    assert codes.count(201) == 30, [(r.status_code, r.text[:120])
                                    for r in results if r.status_code
                                    not in (201, 409)]
    for r in results:
        if r.status_code == 409:
            assert r.json()["error"]["code"] == "OUT_OF_STOCK"
            assert r.json()["error"]["sku_id"] == sku
    assert sku_stock(stack, sku) == 0
    ids, units = orders_of_sku(stack, sku)
    assert len(ids) == 30 and units == 30
    assert stack.redis("ZSCORE", "mall:orders:reserving", ids[0]).strip() == ""
    # the sold-out SKU's product left the in-stock set
    pid = stack.redis("HGET", "mall:sku:%d" % sku, "product_id").strip()
    assert stack.redis("SISMEMBER", "mall:products:in_stock", pid).strip() \
        == "0"


def test_sold_out_fails_fast_and_writes_nothing(stack):
    sku, _ = make_sku(stack, 1)
    u = Buyer(stack)
    assert u.order([{"sku_id": sku, "quantity": 1}]).status_code == 201
    key = "sold-out-" + secrets.token_hex(4)
    before_keys = data_keys(stack)
    before_orders = orders_of_sku(stack, sku)
    before_index = stack.redis("ZCARD", "mall:user:%s:orders" % u.sub)
    r = u.order([{"sku_id": sku, "quantity": 1}], key=key)
    err = assert_json_error(r, 409, "OUT_OF_STOCK")
    assert err["sku_id"] == sku
    # no key added (keys of earlier tests with a TTL may expire meanwhile)
    assert sorted(set(data_keys(stack)) - set(before_keys)) == []
    assert stack.redis("EXISTS", "mall:idem:order:%s:%s" % (u.sub,
                                                            key)).strip() \
        == "0"
    assert stack.redis("ZCARD", "mall:user:%s:orders" % u.sub) == \
        before_index
    assert orders_of_sku(stack, sku) == before_orders
    assert sku_stock(stack, sku) == 0


# --- cancel, expiry, ownership ------------------------------------------------

def test_cancel_releases_stock_and_ownership(stack):
    sku, pid = make_sku(stack, 3)
    u = Buyer(stack)
    o = u.order([{"sku_id": sku, "quantity": 3}]).json()
    oid = o["order_id"]
    assert sku_stock(stack, sku) == 0

    other = Buyer(stack)
    assert_json_error(other.get("/api/v1/orders/%s" % oid), 404, "NOT_FOUND")
    assert_json_error(other.post("/api/v1/orders/%s/cancel" % oid, {}), 404,
                      "NOT_FOUND")
    assert_json_error(u.get("/api/v1/orders/20240101AAAAAAAAAAAAAAAA"), 404,
                      "NOT_FOUND")

    r = u.post("/api/v1/orders/%s/cancel" % oid, {})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled"
    assert sku_stock(stack, sku) == 3
    ev = r.json()["events"][-1]
    assert (ev["from"], ev["to"], ev["actor"]) == ("unpaid", "cancelled",
                                                   "user")
    # back in stock: the product is in the in-stock set again
    assert stack.redis("SISMEMBER", "mall:products:in_stock",
                       str(pid)).strip() == "1"

    again = u.post("/api/v1/orders/%s/cancel" % oid, {})
    err = assert_json_error(again, 409, "CONFLICT")
    assert err["current_status"] == "cancelled"
    assert sku_stock(stack, sku) == 3
    st = u.get("/api/v1/orders?status=cancelled").json()["items"]
    assert [i["order_id"] for i in st] == [oid]
    assert u.get("/api/v1/orders?status=unpaid").json()["items"] == []


def test_purchase_limit_counts_open_orders(stack):
    """With the shipped limit 0 (off) a buyer may hold any number of units
    and nothing is counted; with a limit, units in open orders count
    (also under concurrency), and a cancel gives them back."""
    sku, _ = make_sku(stack, 50)
    u = Buyer(stack)
    for _ in range(3):
        assert u.order([{"sku_id": sku, "quantity": 5}]).status_code == 201
    assert stack.redis("HGET", "mall:user:%s:bought" % u.sub,
                       str(sku)).strip() == ""

    reload_workers(stack, MALL_ORDER_PURCHASE_LIMIT="6")
    try:
        sku2, _ = make_sku(stack, 100)
        v = Buyer(stack)
        r = v.order([{"sku_id": sku2, "quantity": 4}])
        assert r.status_code == 201, r.text
        first = r.json()["order_id"]
        over = v.order([{"sku_id": sku2, "quantity": 3}])
        assert_json_error(over, 422, "VALIDATION_FAILED")
        assert over.json()["error"]["field"] == "items"
        assert v.call("POST", "/api/v1/orders/%s/cancel" % first,
                      {}).status_code == 200
        assert stack.redis("HGET", "mall:user:%s:bought" % v.sub,
                           str(sku2)).strip() == "0"

        # ten concurrent 2-unit orders: at most 3 fit the limit of 6
        codes = []
        def one():
            codes.append(v.order([{"sku_id": sku2, "quantity": 2}])
                         .status_code)
        threads = [threading.Thread(target=one) for _ in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert codes.count(201) <= 3 and codes.count(201) >= 1, codes
        assert set(codes) <= {201, 422}, codes
        held = int(stack.redis("HGET", "mall:user:%s:bought" % v.sub,
                               str(sku2)))
        assert held == 2 * codes.count(201) <= 6
        assert sku_stock(stack, sku2) == 100 - held
    finally:
        reload_workers(stack, MALL_ORDER_PURCHASE_LIMIT="0")


def reload_workers(stack, **env):
    old = stack.worker_children()
    stack.env.update(env)
    r = stack.mallctl("reload", check=False)
    assert r.returncode == 0, r.stderr
    deadline = time.time() + 20
    while time.time() < deadline:
        now = stack.worker_children()
        if now and not set(now) & set(old):
            break
        time.sleep(0.1)
    time.sleep(0.3)


def test_unpaid_orders_expire_and_release_stock(stack):
    reload_workers(stack, MALL_ORDER_PAY_TIMEOUT="2")
    try:
        sku, _ = make_sku(stack, 4)
        u = Buyer(stack)
        o = u.order([{"sku_id": sku, "quantity": 4}]).json()
        assert o["pay_deadline"] - o["created_at"] == 2
        assert sku_stock(stack, sku) == 0
        deadline = time.time() + 15
        status = None
        while time.time() < deadline:
            status = u.get("/api/v1/orders/%s" % o["order_id"]).json()["status"]
            if status == "cancelled":
                break
            time.sleep(0.3)
        assert status == "cancelled"
        assert sku_stock(stack, sku) == 4
        d = u.get("/api/v1/orders/%s" % o["order_id"]).json()
        ev = d["events"][-1]
        assert (ev["event"], ev["actor"], ev["to"]) == ("expire", "system",
                                                        "cancelled")
        assert stack.redis("ZSCORE", "mall:orders:expiry",
                           o["order_id"]).strip() == ""
    finally:
        reload_workers(stack, MALL_ORDER_PAY_TIMEOUT="1800")


# --- signing contract on this route -------------------------------------------

def test_unsigned_and_replayed_orders_are_refused(stack):
    sku, _ = make_sku(stack, 5)
    u = Buyer(stack)
    body = json.dumps({"items": [{"sku_id": sku, "quantity": 1}],
                       "address_id": u.address_id}).encode()
    h = {"Authorization": "Bearer " + u.token, "X-Forwarded-For": u.ip,
         "Content-Type": "application/json", "Idempotency-Key": "k1"}
    r = stack.request("POST", "/api/v1/orders", data=body, headers=h)
    assert_json_error(r, 401, "BAD_SIGNATURE")
    h.update(sign_headers(u.sign_key, "POST", "/api/v1/orders", body))
    r = stack.request("POST", "/api/v1/orders", data=body, headers=h)
    assert r.status_code == 201, r.text
    again = stack.request("POST", "/api/v1/orders", data=body, headers=h)
    assert_json_error(again, 401, "REPLAYED")
    assert sku_stock(stack, sku) == 4


def test_idempotency_key_is_covered_by_the_edge_signature(stack):
    # issue 20, finding 5: the workers decide by the Idempotency-Key which
    # order a request is, so a key changed between the edge and a worker
    # (or added, or dropped) must be refused by the worker
    sku, _ = make_sku(stack, 5)
    u = Buyer(stack)
    body = json.dumps({"items": [{"sku_id": sku, "quantity": 1}],
                       "address_id": u.address_id}).encode()
    key = read_secret(stack.key("edge-e1.key"))

    def direct(signed_key, sent_key):
        h = edge_headers(key, "POST", "/api/v1/orders", body, user=u.sub,
                         token_id=secrets.token_hex(8),
                         token_exp=int(time.time()) + 3600,
                         idem_key=signed_key)
        h.pop("Idempotency-Key", None)
        h["Content-Type"] = "application/json"
        if sent_key is not None:
            h["Idempotency-Key"] = sent_key
        return requests.post(stack.worker + "/api/v1/orders", data=body,
                             headers=h, timeout=10)

    assert_json_error(direct("idem-a-1", "idem-b-1"), 401, "UNAUTHORIZED")
    assert_json_error(direct("", "idem-b-2"), 401, "UNAUTHORIZED")
    assert_json_error(direct("idem-a-3", None), 401, "UNAUTHORIZED")
    assert sku_stock(stack, sku) == 5
    r = direct("idem-a-4", "idem-a-4")
    assert r.status_code == 201, r.text

    # through the edge: the key the worker gets is the one the edge signed
    # (one, even when a client sends two)
    r = u.call("POST", "/api/v1/orders", json.loads(body),
               {"Idempotency-Key": "idem-c-1"})
    assert r.status_code == 201, r.text
    assert sku_stock(stack, sku) == 3

    # a client signing version 2 covers the key itself: altered on the way
    # to the edge, it is refused there
    h = {"Authorization": "Bearer " + u.token, "X-Forwarded-For": u.ip,
         "Content-Type": "application/json"}
    h.update(sign_headers(u.sign_key, "POST", "/api/v1/orders", body,
                          idem_key="idem-d-1"))
    r = stack.request("POST", "/api/v1/orders", data=body,
                      headers=dict(h, **{"Idempotency-Key": "idem-d-2"}))
    assert_json_error(r, 401, "BAD_SIGNATURE")
    r = stack.request("POST", "/api/v1/orders", data=body, headers=h)
    assert r.status_code == 201, r.text
    assert sku_stock(stack, sku) == 2


# --- durability -----------------------------------------------------------------

def test_kill_worker_child_mid_load_keeps_stock_consistent(stack):
    sku, _ = make_sku(stack, 200)
    initial = sku_stock(stack, sku)
    buyers = [Buyer(stack) for _ in range(12)]
    acked = []
    lock = threading.Lock()
    stop = time.time() + 4

    def go(b):
        while time.time() < stop:
            try:
                r = b.order([{"sku_id": sku, "quantity": 1}])
            except Exception:
                continue
            if r.status_code == 201:
                with lock:
                    acked.append(r.json()["order_id"])
            time.sleep(0.05)

    ts = [threading.Thread(target=go, args=(b,)) for b in buyers]
    [t.start() for t in ts]
    time.sleep(1.0)
    children = stack.worker_children()
    os.kill(children[0], signal.SIGKILL)
    [t.join() for t in ts]
    # every order was all or nothing: each one written holds its units
    ids, units = orders_of_sku(stack, sku)
    assert acked and set(acked) <= set(ids)
    assert sku_stock(stack, sku) + units == initial


def test_kill_redis_after_acknowledgement_keeps_orders(stack):
    sku, _ = make_sku(stack, 50)
    initial = sku_stock(stack, sku)
    u = Buyer(stack)
    acked = []
    for _ in range(8):
        r = u.order([{"sku_id": sku, "quantity": 2}])
        assert r.status_code == 201, r.text
        acked.append(r.json()["order_id"])
    pid = stack.pid("redis")
    os.kill(pid, signal.SIGKILL)
    deadline = time.time() + 10
    while time.time() < deadline and os.path.exists("/proc/%d" % pid):
        time.sleep(0.05)
    # restart it as mallctl does (same config: AOF on, appendfsync always);
    # Redis writes the pid file mallctl stops it by
    subprocess.Popen(["redis-server", os.path.join(stack.run_dir,
                                                   "redis.conf")],
                     start_new_session=True, stdin=subprocess.DEVNULL,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 30
    while time.time() < deadline:
        if stack.redis("PING").strip() == "PONG":
            break
        time.sleep(0.1)
    assert stack.redis("PING").strip() == "PONG"
    for oid in acked:
        assert stack.redis("HGET", "mall:order:%s" % oid,
                           "status").strip() == "unpaid", oid
    assert sku_stock(stack, sku) == initial - 16
    # the workers reconnect and serve orders again
    deadline = time.time() + 20
    while time.time() < deadline:
        d = u.get("/api/v1/orders/%s" % acked[-1])
        if d.status_code == 200:
            break
        time.sleep(0.2)
    assert d.status_code == 200 and d.json()["status"] == "unpaid"
