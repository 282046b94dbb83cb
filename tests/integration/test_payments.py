"""WeChat Pay v3 through the whole stack (docs/payments.md): a buyer logs in,
orders, prepays and pays in the simulator, whose signed and encrypted
notification reaches the workers through the edge and makes the order paid
exactly once; forged, stale, tampered and mismatched notifications change
nothing and are refused as WeChat expects; late notifications are made up
by queries; expiry closes the payment at WeChat first; refunds and the
daily reconciliation run against the simulator's real protocol.

Notifications the tests forge themselves are built from the simulator's own
transaction objects (POST /sim/pay with "notify": false), signed with the
dev platform key and encrypted with the dev APIv3 key, exactly as the
simulator (and WeChat) does, so that the books stay consistent for the
reconciliation test.
"""

import contextlib
import json
import os
import secrets
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests

from conftest import MALLCTL, assert_json_error, client_ip
from sf_helpers import Admin, Shopper, new_product
from test_orders import reload_workers

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..",
                                "wechat_sim"))
import wxcrypto  # noqa: E402

CST = timezone(timedelta(hours=8))
NOTIFY = "/api/v1/payments/wechat/notify"
ADDR = {"name": "王五", "phone": "13700001111", "province": "广东省",
        "city": "深圳市", "district": "南山区", "detail": "科技园1号",
        "is_default": True}


# --- helpers ---------------------------------------------------------------

class Payer(Shopper):
    """A buyer who logged in through WeChat (so the mall knows its openid),
    with a shipping address, signing every write like the mini-program."""

    def __init__(self, stack):
        self.stack = stack
        self.ip = client_ip()
        self.code = "payer%s~1" % secrets.token_hex(4)
        r = stack.request("POST", "/api/v1/auth/wx-login",
                          json={"code": self.code},
                          headers={"X-Forwarded-For": self.ip})
        assert r.status_code == 200, r.text
        j = r.json()
        self.token, self.sign_key = j["access_token"], j["sign_key"]
        self.uid = j["user"]["id"]
        r = self.post("/api/v1/addresses", ADDR)
        assert r.status_code == 201, r.text
        self.address_id = r.json()["address_id"]

    def order(self, sku, quantity=1):
        r = self.call("POST", "/api/v1/orders",
                      {"items": [{"sku_id": sku, "quantity": quantity}],
                       "address_id": self.address_id, "coupon": None},
                      {"Idempotency-Key": secrets.token_hex(8)})
        assert r.status_code == 201, r.text
        return r.json()

    def prepay(self, oid):
        return self.post("/api/v1/orders/%s/pay" % oid, {})

    def detail(self, oid):
        r = self.get("/api/v1/orders/%s" % oid)
        assert r.status_code == 200, r.text
        return r.json()


def make_sku(stack, stock=50, price=2590):
    p = new_product(Admin(stack), name="支付测试商品",
                    skus=[{"price_fen": price, "stock": stock,
                           "attrs": {"color": "蓝"}}])
    return p["skus"][0]["sku_id"]


def keys(stack):
    d = os.path.join(stack.keys_dir, "wechat")

    def read(name):
        with open(os.path.join(d, name)) as f:
            return f.read().strip()

    return {"platform": wxcrypto.load_private_key(
                os.path.join(d, "platform_private.pem")),
            "merchant_pub": wxcrypto.load_public_key(
                os.path.join(d, "merchant_public.pem"))[0],
            "serial": read("platform_serial"), "apiv3": read("apiv3.key"),
            "mchid": read("mchid"), "appid": read("appid")}


def sim(stack, path, body=None):
    if body is None:
        r = requests.get(stack.sim + path, timeout=10)
    else:
        r = requests.post(stack.sim + path, json=body, timeout=15)
    return r


def sim_pay(stack, oid, **extra):
    """The buyer pays in WeChat; returns the simulator's answer."""
    body = {"out_trade_no": oid}
    body.update(extra)
    r = sim(stack, "/sim/pay", body)
    assert r.status_code == 200, r.text
    return r.json()


def envelope(k, plain, event="TRANSACTION.SUCCESS", original="transaction"):
    nonce = secrets.token_hex(6)
    return json.dumps({
        "id": "EV-" + secrets.token_hex(8),
        "create_time": datetime.now(CST).isoformat(timespec="seconds"),
        "resource_type": "encrypt-resource", "event_type": event,
        "summary": "支付成功",
        "resource": {"original_type": original,
                     "algorithm": "AEAD_AES_256_GCM",
                     "ciphertext": wxcrypto.aead_encrypt(
                         k["apiv3"], nonce, original,
                         json.dumps(plain, ensure_ascii=False)),
                     "associated_data": original, "nonce": nonce}},
        ensure_ascii=False).encode()


def signed_headers(k, body, ts=None, serial=None, key=None):
    ts = str(int(time.time()) if ts is None else ts)
    nonce = wxcrypto.random_nonce(32)
    sig = wxcrypto.rsa_sign(key or k["platform"],
                            wxcrypto.response_message(ts, nonce, body))
    return {"Wechatpay-Timestamp": ts, "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": sig,
            "Wechatpay-Serial": serial or k["serial"],
            "Wechatpay-Signature-Type": wxcrypto.AUTH_SCHEME,
            "Content-Type": "application/json"}


def notify(stack, body, headers):
    h = {"X-Forwarded-For": client_ip()}
    h.update(headers)
    return stack.request("POST", NOTIFY, data=body, headers=h)


def order_hash(stack, oid):
    out = stack.redis("HGETALL", "mall:order:%s" % oid).split("\n")
    return dict(zip(out[0::2], out[1::2]))


def events(stack, oid):
    return [json.loads(x) for x in
            stack.redis("LRANGE", "mall:order:%s:events" % oid, 0, -1)
            .split("\n") if x]


def anomalies(stack):
    r = Admin(stack).get("/admin/api/v1/payments/anomalies?count=500")
    assert r.status_code == 200, r.text
    return r.json()["anomalies"]


def wait_for(fn, timeout=10.0, step=0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(step)
    return fn()


@contextlib.contextmanager
def workers_with(stack, **env):
    """Workers reloaded with env for the block, then as they were."""
    old = {k: stack.env.get(k) for k in env}
    reload_workers(stack, **env)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                stack.env.pop(k, None)
            else:
                stack.env[k] = v
        reload_workers(stack)


def paid_order(stack, payer, sku):
    """An order paid through the simulator's notification."""
    o = payer.order(sku)
    r = payer.prepay(o["order_id"])
    assert r.status_code == 200, r.text
    sim_pay(stack, o["order_id"], payment={
        k: r.json()[k] for k in ("appId", "timeStamp", "nonceStr", "package",
                                 "signType", "paySign")})
    assert wait_for(lambda: payer.detail(o["order_id"])["status"] == "paid")
    return o


# --- the happy path ----------------------------------------------------------

def test_login_order_pay_notify_paid(stack):
    sku = make_sku(stack, stock=10, price=2590)
    u = Payer(stack)
    k = keys(stack)
    o = u.order(sku, 2)
    oid = o["order_id"]

    r = u.prepay(oid)
    assert r.status_code == 200, r.text
    assert "no-store" in r.headers.get("Cache-Control", "")
    p = r.json()
    assert p["signType"] == "RSA" and p["package"].startswith("prepay_id=wx")
    assert p["appId"] == k["appid"] and len(p["nonceStr"]) <= 32
    assert abs(int(p["timeStamp"]) - time.time()) < 60
    # paySign is the merchant key's signature over the four lines
    msg = "%s\n%s\n%s\n%s\n" % (p["appId"], p["timeStamp"], p["nonceStr"],
                                p["package"])
    assert wxcrypto.rsa_verify(k["merchant_pub"], msg, p["paySign"])

    # WeChat was told the stored order's amount, deadline and buyer
    st = sim(stack, "/sim/state").json()["orders"][oid]
    assert st["amount"]["total"] == o["total_fen"] == 2 * 2590 + 800
    assert st["trade_state"] == "NOTPAY"
    assert st["payer"]["openid"] == stack.redis(
        "HGET", "mall:user:%s" % u.uid, "openid").strip()
    # a second call while the prepay lives reuses it
    r2 = u.prepay(oid)
    assert r2.status_code == 200 and r2.json()["package"] == p["package"]

    # the buyer pays in WeChat; the notification comes through the edge
    out = sim_pay(stack, oid, payment={
        x: p[x] for x in ("appId", "timeStamp", "nonceStr", "package",
                          "signType", "paySign")})
    assert out["notification"]["ok"], out["notification"]
    assert out["notification"]["status"] == 204
    d = u.detail(oid)
    assert d["status"] == "paid"
    assert d["payment"]["transaction_id"] == out["transaction"][
        "transaction_id"]
    assert d["payment"]["total_fen"] == o["total_fen"]
    assert [e["event"] for e in d["events"]][-1] == "pay"
    # the units are sold for good: no hold left, stock stays taken
    assert stack.redis("EXISTS", "mall:order:%s:hold:%d" % (oid, sku)) \
        .strip() == "0"
    assert int(stack.redis("HGET", "mall:sku:%d" % sku, "stock")) == 8
    assert stack.redis("ZSCORE", "mall:pay:watch", oid).strip() == ""
    day = datetime.now(CST).strftime("%Y%m%d")
    assert stack.redis("HGET", "mall:pay:day:" + day, oid).strip() == \
        "%s %d" % (out["transaction"]["transaction_id"], o["total_fen"])
    # paying again: 409 with the current state
    r3 = u.prepay(oid)
    assert_json_error(r3, 409, "CONFLICT")
    assert r3.json()["error"]["current_status"] == "paid"


def test_prepay_only_for_the_owner_of_an_unpaid_order(stack):
    sku = make_sku(stack)
    u, other = Payer(stack), Payer(stack)
    o = u.order(sku)
    assert_json_error(other.prepay(o["order_id"]), 404, "NOT_FOUND")
    assert_json_error(u.prepay("20990101AAAAAAAAAAAAAAAA"), 404, "NOT_FOUND")
    r = u.post("/api/v1/orders/%s/cancel" % o["order_id"], {})
    assert r.status_code == 200, r.text
    r = u.prepay(o["order_id"])
    assert_json_error(r, 409, "CONFLICT")
    assert r.json()["error"]["current_status"] == "cancelled"
    # unsigned: the edge refuses it before any worker sees it
    r = stack.request("POST", "/api/v1/orders/%s/pay" % o["order_id"],
                      headers={"Authorization": "Bearer " + u.token,
                               "X-Forwarded-For": u.ip})
    assert r.status_code == 401, r.text


# --- forgeries -----------------------------------------------------------------

def unpaid_with_transaction(stack):
    """An order with a prepay that the buyer paid in WeChat, whose
    notification has not arrived: (payer, order, transaction object)."""
    sku = make_sku(stack)
    u = Payer(stack)
    o = u.order(sku)
    assert u.prepay(o["order_id"]).status_code == 200
    t = sim_pay(stack, o["order_id"], notify=False)["transaction"]
    return u, o, t


@pytest.mark.parametrize("case", [
    "tampered", "wrong_serial", "stale", "other_key", "no_signature",
    "wrong_amount", "wrong_mchid", "wrong_appid", "unknown_order",
    "not_success", "undecryptable"])
def test_forged_notifications_change_nothing(stack, case):
    k = keys(stack)
    u, o, t = unpaid_with_transaction(stack)
    oid = o["order_id"]
    before = order_hash(stack, oid)
    t = dict(t)
    expect_status, kind = 400, case
    body_k = k
    if case == "wrong_amount":
        t["amount"] = dict(t["amount"], total=t["amount"]["total"] + 1)
        kind = "amount_mismatch"
    elif case == "wrong_mchid":
        t["mchid"] = "1900000999"
    elif case == "wrong_appid":
        t["appid"] = "wx0000000000000bad"
    elif case == "unknown_order":
        t["out_trade_no"] = "20990101ZZZZZZZZZZZZZZZZ"
    elif case == "not_success":
        t["trade_state"] = "NOTPAY"
        kind = "not_paid"
    elif case == "undecryptable":
        body_k = dict(k, apiv3="x" * 32)
        kind = "bad_resource"
    body = envelope(body_k, t)
    h = signed_headers(k, body)
    if case == "tampered":
        body = body.replace(b'"EV-', b'"EV-X')
        expect_status, kind = 401, "bad_signature"
    elif case == "wrong_serial":
        h = signed_headers(k, body, serial="PUB_KEY_ID_0199999999999999999")
        expect_status, kind = 401, "unknown_serial"
    elif case == "stale":
        h = signed_headers(k, body, ts=int(time.time()) - 360)
        expect_status, kind = 401, "stale_timestamp"
    elif case == "other_key":
        from cryptography.hazmat.primitives.asymmetric import rsa
        h = signed_headers(k, body, key=rsa.generate_private_key(65537, 2048))
        expect_status, kind = 401, "bad_signature"
    elif case == "no_signature":
        del h["Wechatpay-Signature"]
        expect_status, kind = 401, "missing_headers"
    r = notify(stack, body, h)
    assert r.status_code == expect_status, (r.status_code, r.text)
    assert r.json()["code"] == "FAIL"
    assert order_hash(stack, oid) == before
    assert before["status"] == "unpaid"
    assert any(a["kind"] == kind for a in anomalies(stack)[:20]), kind
    # the real payment still goes through (the read asks WeChat)
    assert u.detail(oid)["status"] == "paid"


def test_signtest_probe_refused(stack):
    u, o, _ = unpaid_with_transaction(stack)
    before = order_hash(stack, o["order_id"])
    r = sim(stack, "/sim/notify-signtest", {"out_trade_no": o["order_id"]})
    assert r.status_code == 200, r.text
    n = r.json()["notification"]
    assert n["signtest"] and not n["ok"] and n["status"] == 401, n
    assert order_hash(stack, o["order_id"]) == before
    assert anomalies(stack)[0]["kind"] == "signtest"
    assert u.detail(o["order_id"])["status"] == "paid"     # by a query


def test_replayed_and_concurrent_duplicates_credit_once(stack):
    k = keys(stack)
    u, o, t = unpaid_with_transaction(stack)
    oid = o["order_id"]
    body = envelope(k, t)
    h = signed_headers(k, body)
    results = []

    def send():
        results.append(notify(stack, body, h).status_code)

    threads = [threading.Thread(target=send) for _ in range(50)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert results == [204] * 50, results
    pays = [e for e in events(stack, oid) if e["event"] == "pay"]
    assert len(pays) == 1
    assert u.detail(oid)["status"] == "paid"
    # the same notification replayed later, and WeChat's own duplicate
    assert notify(stack, body, h).status_code == 204
    r = sim(stack, "/sim/renotify", {"out_trade_no": oid})
    assert r.json()["notification"]["status"] == 204
    assert len([e for e in events(stack, oid) if e["event"] == "pay"]) == 1


# --- queries and closes --------------------------------------------------------

def test_late_notification_found_by_query(stack):
    u, o, t = unpaid_with_transaction(stack)
    d = u.detail(o["order_id"])           # the read asks WeChat
    assert d["status"] == "paid", d
    assert d["payment"]["transaction_id"] == t["transaction_id"]
    assert order_hash(stack, o["order_id"])["pay_source"] == "query"


def test_cancel_closes_at_wechat_first(stack):
    sku = make_sku(stack)
    u = Payer(stack)
    o = u.order(sku)
    assert u.prepay(o["order_id"]).status_code == 200
    r = u.post("/api/v1/orders/%s/cancel" % o["order_id"], {})
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    st = sim(stack, "/sim/state").json()["orders"][o["order_id"]]
    assert st["trade_state"] == "CLOSED"
    assert sim(stack, "/sim/pay", {"out_trade_no": o["order_id"]}) \
        .status_code == 409


def test_cancel_of_an_order_paid_in_wechat_finds_it_paid(stack):
    u, o, t = unpaid_with_transaction(stack)
    r = u.post("/api/v1/orders/%s/cancel" % o["order_id"], {})
    assert_json_error(r, 409, "CONFLICT")
    assert r.json()["error"]["current_status"] == "paid"
    assert order_hash(stack, o["order_id"])["pay_source"] == "close"


def test_expiry_closes_the_payment(stack):
    sku = make_sku(stack)
    u = Payer(stack)
    with workers_with(stack, MALL_ORDER_PAY_TIMEOUT="15"):
        o = u.order(sku)
        assert u.prepay(o["order_id"]).status_code == 200
        assert wait_for(lambda: u.detail(o["order_id"])["status"]
                        == "cancelled", timeout=30, step=0.5)
    st = sim(stack, "/sim/state").json()["orders"][o["order_id"]]
    assert st["trade_state"] == "CLOSED"
    e = events(stack, o["order_id"])[-1]
    assert e["event"] == "expire" and e["to"] == "cancelled"


def test_payment_after_cancel_is_refunded(stack):
    """The race no close can prevent (the buyer pays as the order is
    cancelled) is planted: the close is marked done, the order cancelled,
    then the buyer pays at WeChat."""
    sku = make_sku(stack)
    u = Payer(stack)
    o = u.order(sku)
    oid = o["order_id"]
    assert u.prepay(oid).status_code == 200
    stack.redis("HSET", "mall:order:%s" % oid, "pay_closed", "1")
    assert u.post("/api/v1/orders/%s/cancel" % oid, {}).status_code == 200
    out = sim_pay(stack, oid)
    assert out["notification"]["status"] == 204
    d = u.detail(oid)
    assert d["status"] == "cancelled" and d["payment"]["late"] is True
    assert any(a["kind"] == "paid_after_cancel" and a["out_trade_no"] == oid
               for a in anomalies(stack))
    # the refund job sends the full refund to WeChat
    no = oid + "Rlate"
    assert wait_for(lambda: no in sim(stack, "/sim/state").json()["refunds"])
    r = sim(stack, "/sim/refund-result", {"out_refund_no": no,
                                          "status": "SUCCESS"})
    assert r.json()["notification"]["status"] == 204
    refunds = u.get("/api/v1/orders/%s/refunds" % oid).json()["refunds"]
    assert [(x["out_refund_no"], x["status"], x["amount_fen"])
            for x in refunds] == [(no, "success", o["total_fen"])]
    assert u.detail(oid)["status"] == "cancelled"


# --- refunds --------------------------------------------------------------------

def admin_refund(stack, oid, key, **body):
    """POST /admin/api/v1/orders/{id}/refunds with an Idempotency-Key."""
    return stack.request(
        "POST", "/admin/api/v1/orders/%s/refunds" % oid,
        data=json.dumps(body).encode(),
        headers={"Authorization": "Bearer " + Admin(stack).token,
                 "Content-Type": "application/json",
                 "Idempotency-Key": key})


def test_refunds_partial_then_full(stack):
    sku = make_sku(stack, stock=5, price=3000)
    u = Payer(stack)
    o = paid_order(stack, u, sku)
    oid, total = o["order_id"], o["total_fen"]
    assert int(stack.redis("HGET", "mall:sku:%d" % sku, "stock")) == 4

    r = admin_refund(stack, oid, "k-part", amount_fen=500, reason="少发一件")
    assert r.status_code == 201, r.text
    part = r.json()
    assert part["status"] == "processing" and part["amount_fen"] == 500
    # the same key again: the same refund, not a second one
    r = admin_refund(stack, oid, "k-part", amount_fen=500)
    assert r.status_code == 200 and r.json()["out_refund_no"] == \
        part["out_refund_no"]
    assert len(sim(stack, "/sim/state").json()["refunds"]) >= 1
    # more than what is left
    assert_json_error(admin_refund(stack, oid, "k-big", amount_fen=total),
                      422, "VALIDATION_FAILED")
    r = sim(stack, "/sim/refund-result", {"out_refund_no":
                                          part["out_refund_no"],
                                          "status": "SUCCESS"})
    assert r.json()["notification"]["status"] == 204
    d = u.detail(oid)
    assert d["status"] == "paid" and d["payment"]["refunded_fen"] == 500

    r = admin_refund(stack, oid, "k-rest")          # what is left
    assert r.status_code == 201, r.text
    rest = r.json()
    assert rest["amount_fen"] == total - 500
    sim(stack, "/sim/refund-result", {"out_refund_no": rest["out_refund_no"],
                                      "status": "SUCCESS"})
    d = u.detail(oid)
    assert d["status"] == "refunded" and d["payment"]["refunded_fen"] == total
    # never shipped: the unit is back on sale
    assert int(stack.redis("HGET", "mall:sku:%d" % sku, "stock")) == 5
    assert_json_error(admin_refund(stack, oid, "k-more", amount_fen=1), 409,
                      "CONFLICT")


def test_refund_closed_and_abnormal(stack):
    sku = make_sku(stack)
    u = Payer(stack)
    o = paid_order(stack, u, sku)
    oid = o["order_id"]
    r = admin_refund(stack, oid, "k1", amount_fen=100)
    no = r.json()["out_refund_no"]
    sim(stack, "/sim/refund-result", {"out_refund_no": no,
                                      "status": "CLOSED"})
    refunds = u.get("/api/v1/orders/%s/refunds" % oid).json()["refunds"]
    assert refunds[0]["status"] == "closed"
    assert u.detail(oid)["payment"]["refunding_fen"] == 0
    # the amount is free again; this one fails at WeChat for good
    r = admin_refund(stack, oid, "k2", amount_fen=o["total_fen"])
    assert r.status_code == 201, r.text
    no2 = r.json()["out_refund_no"]
    sim(stack, "/sim/refund-result", {"out_refund_no": no2,
                                      "status": "ABNORMAL"})
    refunds = u.get("/api/v1/orders/%s/refunds" % oid).json()["refunds"]
    assert refunds[1]["status"] == "abnormal"
    assert u.detail(oid)["status"] == "paid"
    assert any(a["kind"] == "refund_abnormal" and a["out_refund_no"] == no2
               for a in anomalies(stack))
    # a buyer only sees refunds of their own orders; staff only for admin
    assert_json_error(Payer(stack).get("/api/v1/orders/%s/refunds" % oid),
                      404, "NOT_FOUND")
    op = Admin(stack, role="operator", name="op")
    r = stack.request("POST", "/admin/api/v1/orders/%s/refunds" % oid,
                      data=b"{}", headers={
                          "Authorization": "Bearer " + op.token,
                          "Idempotency-Key": "k3"})
    assert_json_error(r, 403, "FORBIDDEN")


# --- reconciliation --------------------------------------------------------------

def test_reconciliation_reports_planted_mismatches(stack):
    sku = make_sku(stack)
    u = Payer(stack)
    paid = [paid_order(stack, u, sku)["order_id"] for _ in range(3)]
    day = stack.redis("HGET", "mall:order:%s" % paid[0], "paid_at").strip()
    date = datetime.fromtimestamp(int(day), CST).strftime("%Y-%m-%d")
    key = "mall:pay:day:" + date.replace("-", "")
    admin = Admin(stack)

    r = admin.post("/admin/api/v1/payments/reconciliations", {"date": date})
    assert r.status_code == 200, r.text
    rep = r.json()
    assert rep["ok"] is True, rep["mismatches"]
    assert rep["wechat"]["payments"] == rep["local"]["payments"] >= 3

    # plant: one amount changed, one payment lost, one WeChat never saw
    entry = stack.redis("HGET", key, paid[0]).strip().split()
    stack.redis("HSET", key, paid[0], "%s %d" % (entry[0], 1))
    stack.redis("HDEL", key, paid[1])
    stack.redis("HSET", key, "20990101PLANTEDPLANTED00", "4200000000 999")
    r = admin.post("/admin/api/v1/payments/reconciliations", {"date": date})
    rep = r.json()
    got = sorted((m["kind"], m["out_trade_no"]) for m in rep["mismatches"])
    assert got == sorted([("amount_mismatch", paid[0]),
                          ("missing_locally", paid[1]),
                          ("missing_at_wechat", "20990101PLANTEDPLANTED00")])
    assert rep["ok"] is False
    stored = admin.get("/admin/api/v1/payments/reconciliations/" + date)
    assert stored.status_code == 200 and stored.json() == rep
    listed = admin.get("/admin/api/v1/payments/reconciliations").json()
    assert listed["reconciliations"][0]["date"] == date
    # the command line says the same (exit status 2: mismatches)
    cli = subprocess.run([MALLCTL, "reconcile", date], env=stack.env,
                         capture_output=True, text=True, timeout=60)
    assert cli.returncode == 2, cli.stderr
    assert len(json.loads(cli.stdout)["mismatches"]) == 3
    # repaired books reconcile again
    h1 = order_hash(stack, paid[1])
    stack.redis("HSET", key, paid[0], " ".join(entry))
    stack.redis("HSET", key, paid[1], "%s %s" % (h1["pay_transaction_id"],
                                                 h1["pay_total"]))
    stack.redis("HDEL", key, "20990101PLANTEDPLANTED00")
    r = admin.post("/admin/api/v1/payments/reconciliations", {"date": date})
    assert r.json()["ok"] is True, r.json()["mismatches"]


# --- secrets --------------------------------------------------------------------

def test_no_payment_secret_in_logs_redis_or_answers(stack):
    k = keys(stack)
    with open(os.path.join(stack.keys_dir, "wechat",
                           "merchant_private.pem")) as f:
        pem_line = f.read().split("\n")[1]        # a line of key material
    logs = stack.logs()
    aof = subprocess.run(["sh", "-c", "cat %s/redis/*/* %s/redis/* "
                          "2>/dev/null" % (stack.run_dir, stack.run_dir)],
                         capture_output=True).stdout
    for secret in (k["apiv3"], pem_line):
        assert secret not in logs
        assert secret.encode() not in aof


# --- keys, forged answers, the query job ------------------------------------------

def test_platform_keys_rotate_cert_serial_and_public_key_id(stack):
    """Both configured WeChat Pay keys verify at once: the public key by its
    PUB_KEY_ID_ id and the platform certificate by its serial (compared as
    a number: case and leading zeros do not matter)."""
    k = keys(stack)
    d = os.path.join(stack.keys_dir, "wechat")
    cert_key = wxcrypto.load_private_key(os.path.join(d,
                                                      "platform_cert_private.pem"))
    serial = subprocess.run(["openssl", "x509", "-in",
                             os.path.join(d, "platform_cert.pem"), "-noout",
                             "-serial"], capture_output=True, text=True
                            ).stdout.strip().split("=")[1]
    for key, sid in ((k["platform"], k["serial"]),
                     (cert_key, "00" + serial.lower())):
        u, o, t = unpaid_with_transaction(stack)
        body = envelope(k, t)
        r = notify(stack, body, signed_headers(k, body, serial=sid, key=key))
        assert r.status_code == 204, (sid, r.text)
        assert order_hash(stack, o["order_id"])["status"] == "paid"
    # the certificate's key under the public key's id does not verify
    u, o, t = unpaid_with_transaction(stack)
    body = envelope(k, t)
    r = notify(stack, body, signed_headers(k, body, key=cert_key))
    assert r.status_code == 401
    assert u.detail(o["order_id"])["status"] == "paid"     # by a query


class _Forger(threading.Thread):
    """Stands between the workers and WeChat and answers every call with a
    plausible body that WeChat Pay did not sign (or signed with another
    key): what a man in the middle would send."""

    def __init__(self, k):
        import http.server

        from cryptography.hazmat.primitives.asymmetric import rsa
        other = rsa.generate_private_key(65537, 2048)

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                body = json.dumps({"prepay_id": "wx" + "f" * 30}).encode()
                h = signed_headers(k, body, key=other)
                self.send_response(200)
                for name, v in h.items():
                    self.send_header(name, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST

        super().__init__(daemon=True)
        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d" % self.srv.server_address[1]

    def run(self):
        self.srv.serve_forever()


def test_an_answer_that_does_not_verify_is_no_answer(stack):
    sku = make_sku(stack)
    u = Payer(stack)
    o = u.order(sku)
    f = _Forger(keys(stack))
    f.start()
    try:
        with workers_with(stack, MALL_WXPAY_API_BASE=f.url):
            r = u.prepay(o["order_id"])
            assert_json_error(r, 502, "UPSTREAM_ERROR")
            h = order_hash(stack, o["order_id"])
            assert "pay_prepay_id" not in h and h["status"] == "unpaid"
    finally:
        f.srv.shutdown()
    assert u.prepay(o["order_id"]).status_code == 200


def test_query_job_finds_a_lost_payment_before_the_deadline(stack):
    sku = make_sku(stack)
    u = Payer(stack)
    with workers_with(stack, MALL_ORDER_PAY_TIMEOUT="120"):
        o = u.order(sku)
        assert u.prepay(o["order_id"]).status_code == 200
        sim_pay(stack, o["order_id"], notify=False)
        # nobody reads the order: the payment timer asks WeChat
        assert wait_for(lambda: order_hash(stack, o["order_id"])["status"]
                        == "paid", timeout=20, step=0.25)
    assert order_hash(stack, o["order_id"])["pay_source"] == "query"
