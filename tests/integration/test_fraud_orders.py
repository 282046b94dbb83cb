"""Abnormal orders (docs/orders.md "Abnormal orders"), through the stack:
a rule that trips freezes the account — the order that tripped it is
refused with 403 ACCOUNT_FROZEN and nothing of it is written, the user's
tokens are refused at the edge, the worker refuses the user's writes —,
an admin sees the alert, and an unfreeze with a reason resolves it, is
audited, and lets the user write again.

The workers run with small thresholds for this module (workers_with),
and are restored afterwards.
"""

import json
import secrets
import time

import pytest
import requests

from conftest import assert_json_error, client_ip
from mall_client import edge_headers, read_secret
from sf_helpers import Admin, Shopper, new_product
from test_orders import sku_stock
from test_payments import workers_with

RISK_ENV = {
    "MALL_RISK_ORDERS_PER_USER": "4",
    "MALL_RISK_ORDERS_PER_ADDRESS": "5",
    "MALL_RISK_ADDRESSES_PER_USER": "2",
    "MALL_RISK_DEVICE_ACCOUNTS_PER_SKU": "2",
    "MALL_RISK_NEW_ACCOUNT_MAX_FEN": "500000",
    "MALL_RISK_PAY_FAILURES": "1",
    "MALL_RISK_EDGE_SCORE": "80",
}


def address(detail):
    return {"name": "张三", "phone": "13912345678", "province": "广东省",
            "city": "深圳市", "district": "南山区", "detail": detail,
            "is_default": False}


class Buyer(Shopper):
    """A user who logged in through WeChat (a real account: numeric id,
    created_at, openid), with one shipping address of its own."""

    def __init__(self, stack, code=None, detail=None):
        self.stack = stack
        self.ip = client_ip()
        self.code = code or "fraud%s" % secrets.token_hex(5)
        self.login()
        self.address_id = self.add_address(
            detail or "科技园%s号" % secrets.token_hex(3))

    def login(self):
        r = self.stack.request("POST", "/api/v1/auth/wx-login",
                               json={"code": self.code},
                               headers={"X-Forwarded-For": self.ip})
        assert r.status_code == 200, r.text
        j = r.json()
        self.token, self.sign_key = j["access_token"], j["sign_key"]
        self.uid = j["user"]["id"]
        return r

    def add_address(self, detail):
        r = self.post("/api/v1/addresses", address(detail))
        assert r.status_code == 201, r.text
        return r.json()["address_id"]

    def order(self, sku, quantity=1, address_id=None, headers=None):
        h = {"Idempotency-Key": secrets.token_hex(8)}
        h.update(headers or {})
        return self.call("POST", "/api/v1/orders",
                         {"items": [{"sku_id": sku, "quantity": quantity}],
                          "address_id": address_id or self.address_id,
                          "coupon": None}, h)

    def orders_held(self):
        return int(self.stack.redis("ZCARD", "mall:user:%s:orders"
                                    % self.uid).strip())


@pytest.fixture(scope="module")
def risky(stack):
    with workers_with(stack, **RISK_ENV):
        yield stack


def make_sku(stack, stock=100, price=1999):
    p = new_product(Admin(stack), skus=[{"price_fen": price, "stock": stock,
                                         "attrs": {"color": "蓝"}}])
    return p["skus"][0]["sku_id"]


def alerts(stack, **query):
    r = Admin(stack).get("/admin/api/v1/risk/alerts?" + "&".join(
        "%s=%s" % kv for kv in query.items()))
    assert r.status_code == 200, r.text
    return r.json()


def alerts_of(stack, uid, status=None):
    q = {"limit": 200}
    if status:
        q["status"] = status
    return [a for a in alerts(stack, **q)["alerts"] if a["user_id"] == uid]


def audit(stack):
    r = Admin(stack).get("/admin/api/v1/audit?count=200")
    assert r.status_code == 200, r.text
    return r.json()["entries"]


def wait_refused(stack, token, seconds=5.0):
    """The edge's answer once it applied the revocation (the workers say
    403 to a frozen account's profile before that)."""
    deadline = time.time() + seconds
    while True:
        r = stack.get("/api/v1/users/me",
                      headers={"Authorization": "Bearer " + token})
        if r.status_code == 401 or time.time() > deadline:
            return r
        time.sleep(0.1)


def direct_write(stack, uid, path, body):
    """A write straight to a worker, edge-signed for uid (as if the edge
    had not yet applied the revocation), with an Idempotency-Key."""
    data = json.dumps(body).encode()
    h = edge_headers(read_secret(stack.key("edge-e1.key")), "POST", path,
                     data, user=str(uid), token_id=secrets.token_hex(8),
                     token_exp=str(int(time.time()) + 600),
                     idem_key=secrets.token_hex(8))
    h["Content-Type"] = "application/json"
    return requests.post(stack.worker + path, data=data, headers=h,
                         timeout=10)


def unfreeze(stack, uid, body):
    return Admin(stack).post("/admin/api/v1/users/%d/unfreeze" % uid, body)


def test_orders_per_hour_freeze_alert_unfreeze(risky):
    stack = risky
    sku = make_sku(stack)
    b = Buyer(stack)
    for _ in range(4):
        r = b.order(sku)
        assert r.status_code == 201, r.text
    before = sku_stock(stack, sku)

    # the 5th order of the hour trips the rule: refused, nothing written
    r = b.order(sku)
    assert_json_error(r, 403, "ACCOUNT_FROZEN")
    assert b.orders_held() == 4
    assert sku_stock(stack, sku) == before
    assert stack.redis("HGET", "mall:user:%s" % b.uid,
                       "status").strip() == "frozen"

    # the edge refuses the user's token; a new login is refused too
    assert_json_error(wait_refused(stack, b.token), 401, "UNAUTHORIZED")
    r = stack.request("POST", "/api/v1/auth/wx-login",
                      json={"code": b.code})
    assert_json_error(r, 403, "FORBIDDEN")
    # the workers refuse the user's writes whatever reaches them
    assert_json_error(direct_write(stack, b.uid, "/api/v1/addresses",
                                   address("别处")), 403, "ACCOUNT_FROZEN")
    assert_json_error(direct_write(stack, b.uid, "/api/v1/orders",
                                   {"items": [{"sku_id": sku,
                                               "quantity": 1}],
                                    "address_id": b.address_id}),
                      403, "ACCOUNT_FROZEN")

    # the admin sees the open alert
    mine = alerts_of(stack, b.uid, "open")
    assert len(mine) == 1, mine
    a = mine[0]
    assert a["rule"] == "orders_per_user"
    assert a["value"] == 5 and a["limit"] == 4
    assert a["status"] == "open" and a["resolution"] is None
    assert a["total_fen"] > 0 and a["order_id"]
    assert stack.redis("EXISTS", "mall:order:%s" % a["order_id"]).strip() \
        == "0"
    # operators may read alerts too; shoppers may not
    assert Admin(stack, role="operator", name="op1").get(
        "/admin/api/v1/risk/alerts").status_code == 200
    assert_json_error(b.get("/admin/api/v1/risk/alerts"), 401,
                      "UNAUTHORIZED")

    # unfreeze: a reason is required, the role must be admin
    assert_json_error(unfreeze(stack, b.uid, {}), 422, "VALIDATION_FAILED")
    r = Admin(stack, role="operator", name="op1").post(
        "/admin/api/v1/users/%d/unfreeze" % b.uid, {"reason": "ok"})
    assert_json_error(r, 403, "FORBIDDEN")
    r = unfreeze(stack, b.uid, {"reason": "客服核实：公司团购"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "active"
    assert r.json()["alerts_resolved"] == 1

    assert alerts_of(stack, b.uid, "open") == []
    done = alerts_of(stack, b.uid, "resolved")
    assert len(done) == 1 and done[0]["id"] == a["id"]
    assert done[0]["resolution"]["by"] == "admin"
    assert done[0]["resolution"]["reason"] == "客服核实：公司团购"

    entries = audit(stack)
    un = [e for e in entries if e["action"] == "user.unfreeze"
          and e.get("target") == "user:%d" % b.uid]
    assert un and un[0]["reason"] == "客服核实：公司团购"
    assert un[0]["actor"] == "admin" and un[0]["alerts_resolved"] == "1"
    fr = [e for e in entries if e["action"] == "user.freeze"
          and e.get("target") == "user:%d" % b.uid]
    assert fr and fr[0]["actor"] == "risk"
    assert fr[0]["rule"] == "orders_per_user" and fr[0]["alert"] == a["id"]

    # a new session after the review: writes are accepted again (the
    # review gives the user a fresh hour)
    time.sleep(1.1)          # tokens issued up to the freeze's second die
    b.login()
    r = b.order(sku, address_id=b.add_address("复核后地址"))
    assert r.status_code == 201, r.text
    assert b.post("/api/v1/addresses", address("新地址")).status_code == 201


def test_high_value_on_a_new_account(risky):
    stack = risky
    sku = make_sku(stack, stock=5, price=600000)     # 6000 yuan
    b = Buyer(stack)
    r = b.order(sku)
    assert_json_error(r, 403, "ACCOUNT_FROZEN")
    assert b.orders_held() == 0
    assert sku_stock(stack, sku) == 5
    [a] = alerts_of(stack, b.uid, "open")
    assert a["rule"] == "new_account_value"
    assert a["value"] == 600000 and a["limit"] == 500000
    # an account older than a day may (the same order, aged account)
    old = Buyer(stack)
    stack.redis("HSET", "mall:user:%s" % old.uid, "created_at",
                int(time.time()) - 2 * 86400)
    assert old.order(sku).status_code == 201


def test_repeated_failed_payments(risky):
    stack = risky
    sku = make_sku(stack)
    b = Buyer(stack)
    r = b.order(sku)
    assert r.status_code == 201, r.text
    oid = r.json()["order_id"]
    s = requests.post(stack.sim + "/sim/pay-fault",
                      json={"code": "TRADE_ERROR", "count": 2,
                            "match": oid}, timeout=10)
    assert s.status_code == 200, s.text
    # the first refusal is WeChat's answer; the second freezes
    assert_json_error(b.post("/api/v1/orders/%s/pay" % oid, {}), 502,
                      "UPSTREAM_ERROR")
    assert_json_error(b.post("/api/v1/orders/%s/pay" % oid, {}), 403,
                      "ACCOUNT_FROZEN")
    [a] = alerts_of(stack, b.uid, "open")
    assert a["rule"] == "pay_failures" and a["value"] == 2
    assert a["order_id"] == oid
    assert_json_error(wait_refused(stack, b.token), 401, "UNAUTHORIZED")


def test_failed_payments_found_by_query(risky):
    """PAYERROR (the buyer's bank refused): WeChat notifies nothing, the
    order read's query finds it; each order counts once."""
    stack = risky
    sku = make_sku(stack)
    b = Buyer(stack)

    def pay_fails(oid):
        r = b.post("/api/v1/orders/%s/pay" % oid, {})
        assert r.status_code == 200, r.text
        s = requests.post(stack.sim + "/sim/pay",
                          json={"out_trade_no": oid, "result": "PAYERROR"},
                          timeout=10)
        assert s.status_code == 200, s.text
        assert s.json()["transaction"]["trade_state"] == "PAYERROR"
        stack.redis("DEL", "mall:pay:queried:%s" % oid)   # query now
        r = b.get("/api/v1/orders/%s" % oid)
        assert r.status_code == 200 and r.json()["status"] == "unpaid"

    first = b.order(sku).json()["order_id"]
    pay_fails(first)
    # the same order queried again is still one failure: not frozen
    stack.redis("DEL", "mall:pay:queried:%s" % first)
    assert b.get("/api/v1/orders/%s" % first).status_code == 200
    assert not alerts_of(stack, b.uid)
    second = b.order(sku)
    assert second.status_code == 201, second.text
    pay_fails(second.json()["order_id"])
    [a] = alerts_of(stack, b.uid, "open")
    assert a["rule"] == "pay_failures" and a["value"] == 2
    assert_json_error(wait_refused(stack, b.token), 401, "UNAUTHORIZED")


def test_many_distinct_addresses(risky):
    stack = risky
    sku = make_sku(stack)
    b = Buyer(stack, detail="一号路1号")
    second = b.add_address("二号路2号")
    third = b.add_address("三号路3号")
    assert b.order(sku).status_code == 201
    # the same address typed again counts once (case, spaces, punctuation)
    same = b.add_address(" 一号路 1号 ")
    assert b.order(sku, address_id=same).status_code == 201
    assert b.order(sku, address_id=second).status_code == 201
    r = b.order(sku, address_id=third)
    assert_json_error(r, 403, "ACCOUNT_FROZEN")
    [a] = alerts_of(stack, b.uid, "open")
    assert a["rule"] == "addresses_per_user"
    assert a["value"] == 3 and a["limit"] == 2


def test_many_accounts_on_one_device_buying_one_sku(risky):
    stack = risky
    sku, other = make_sku(stack), make_sku(stack)
    dev = {"X-Mall-Device": "dev-" + secrets.token_hex(6)}
    users = [Buyer(stack) for _ in range(3)]
    assert users[0].order(sku, headers=dev).status_code == 201
    assert users[1].order(sku, headers=dev).status_code == 201
    # another SKU from the same device is a different count
    assert users[2].order(other, headers=dev).status_code == 201
    r = users[2].order(sku, headers=dev)
    assert_json_error(r, 403, "ACCOUNT_FROZEN")
    [a] = alerts_of(stack, users[2].uid, "open")
    assert a["rule"] == "device_accounts_per_sku"
    assert a["device"] == dev["X-Mall-Device"] and a["value"] == 3


def test_edge_risk_score(risky):
    """The edge's X-Mall-Risk, edge-signed: sent to a worker directly as
    the edge would."""
    stack = risky
    sku = make_sku(stack)
    b = Buyer(stack)
    body = {"items": [{"sku_id": sku, "quantity": 1}],
            "address_id": b.address_id, "coupon": None}

    def post(risk):
        data = json.dumps(body).encode()
        h = edge_headers(read_secret(stack.key("edge-e1.key")), "POST",
                         "/api/v1/orders", data, user=str(b.uid),
                         token_id=secrets.token_hex(8),
                         token_exp=str(int(time.time()) + 600),
                         idem_key=secrets.token_hex(8), risk=risk)
        h["Content-Type"] = "application/json"
        return requests.post(stack.worker + "/api/v1/orders", data=data,
                             headers=h, timeout=10)

    assert post("79;geo").status_code == 201
    assert post("garbage").status_code == 201          # malformed: 0
    assert_json_error(post("85;velocity,device"), 403, "ACCOUNT_FROZEN")
    [a] = alerts_of(stack, b.uid, "open")
    assert a["rule"] == "edge_score" and a["edge_score"] == 85
    assert a["reasons"] == "velocity,device"
    assert b.orders_held() == 2


def test_alerts_paging_and_filter(risky):
    stack = risky
    page = alerts(stack, limit=1)
    assert len(page["alerts"]) == 1 and page["next_cursor"]
    nxt = alerts(stack, limit=1, cursor=page["next_cursor"])
    assert nxt["alerts"] and nxt["alerts"][0]["id"] < page["alerts"][0]["id"]
    for a in alerts(stack, status="open", limit=200)["alerts"]:
        assert a["status"] == "open"
    r = Admin(stack).get("/admin/api/v1/risk/alerts?status=maybe")
    assert_json_error(r, 422, "VALIDATION_FAILED")
    r = Admin(stack).get("/admin/api/v1/risk/alerts?cursor=x")
    assert_json_error(r, 422, "VALIDATION_FAILED")


def test_many_orders_to_one_address(risky):
    """Accounts of a scalper ship to one address, typed a little
    differently each time: counted as one."""
    stack = risky
    sku = make_sku(stack)
    place = "仓库路%s号" % secrets.token_hex(3)
    spellings = [place, " " + place, place + ".", place.replace("路", "路 "),
                 place + "-", "(" + place + ")"]
    users = [Buyer(stack, detail=d) for d in spellings]
    for u in users[:5]:
        assert u.order(sku).status_code == 201
    r = users[5].order(sku)
    assert_json_error(r, 403, "ACCOUNT_FROZEN")
    [a] = alerts_of(stack, users[5].uid, "open")
    assert a["rule"] == "orders_per_address"
    assert a["value"] == 6 and a["limit"] == 5
