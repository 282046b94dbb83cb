"""Order notifications (小程序订阅消息) through the whole stack
(docs/orders.md, "Notifications"): a buyer's accepted templates
(POST /api/v1/notifications/subscribe), one message per acceptance on paid,
shipped and the refund result, seen by the WeChat simulator; the access
token refreshed when WeChat calls it invalid (40001); a refusal (43101)
ends the message, a transient failure is retried from the outbox."""

import time
from urllib.parse import quote

from conftest import assert_json_error
from test_aftersales import admin, paid, pay_refund, skus
from test_coupons import Buyer
from test_lifecycle import ship
from test_payments import sim


def yuan(fen):
    return "%d.%02d元" % divmod(fen, 100)


def templates(u):
    r = u.get("/api/v1/notifications/subscriptions")
    assert r.status_code == 200, r.text
    return {t["event"]: t for t in r.json()["templates"]}


def subscribe(u, *events):
    ids = [templates(u)[e]["template_id"] for e in events]
    r = u.post("/api/v1/notifications/subscribe", {"template_ids": ids})
    assert r.status_code == 200, r.text
    return {t["event"]: t["remaining"] for t in r.json()["templates"]}


def messages(stack, oid):
    r = sim(stack, "/sim/messages?match=" + quote(oid))
    assert r.status_code == 200, r.text
    return r.json()["messages"]


def wait_messages(stack, oid, n, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = messages(stack, oid)
        if len(got) >= n:
            return got
        time.sleep(0.2)
    raise AssertionError("%d messages of %s, wanted %d"
                         % (len(messages(stack, oid)), oid, n))


def record(stack, m, status=None, timeout=15):
    """The outbox's record of message m, once it is settled (as status)."""
    deadline = time.time() + timeout
    while True:
        raw = stack.redis("HGETALL", "mall:notify:msg:" + m).split("\n")
        rec = dict(zip(raw[0::2], raw[1::2]))
        done = stack.redis("ZSCORE", "mall:notify:outbox", m).strip() == ""
        if rec.get("status") and done and (status is None
                                           or rec["status"] == status):
            return rec
        if time.time() > deadline:
            raise AssertionError("message %s: %r" % (m, rec))
        time.sleep(0.2)


def fault(stack, oid, errcode, count=1):
    r = sim(stack, "/sim/message-fault",
            {"errcode": errcode, "count": count, "match": oid})
    assert r.status_code == 200, r.text


def test_subscribe_is_checked_and_counts_acceptances(stack):
    u = Buyer(stack)
    t = templates(u)
    assert set(t) == {"paid", "shipped", "refund"}
    assert all(x["remaining"] == 0 for x in t.values())
    for body in ({}, {"template_ids": []}, {"template_ids": "x"},
                 {"template_ids": ["not-a-template-of-ours"]},
                 {"template_ids": [t["paid"]["template_id"], 7]}):
        assert_json_error(u.post("/api/v1/notifications/subscribe", body),
                          422, "VALIDATION_FAILED")
    assert subscribe(u, "shipped") == {"paid": 0, "shipped": 1, "refund": 0}
    assert subscribe(u, "shipped", "paid") == {"paid": 1, "shipped": 2,
                                               "refund": 0}
    # another buyer's subscriptions are their own
    assert templates(Buyer(stack))["shipped"]["remaining"] == 0
    r = stack.request("POST", "/api/v1/notifications/subscribe",
                      json={"template_ids": [t["paid"]["template_id"]]})
    assert r.status_code == 401


def test_messages_on_paid_and_ship_spend_one_subscription_each(stack):
    (sku,) = skus(stack, 4990)
    u = Buyer(stack)
    subscribe(u, "paid", "shipped")
    t = templates(u)
    o = paid(stack, u, [{"sku_id": sku, "quantity": 1}])
    oid = o["order_id"]
    (m,) = wait_messages(stack, oid, 1)
    assert m["template_id"] == t["paid"]["template_id"]
    assert m["errcode"] == 0
    assert m["page"] == "pages/order/detail?id=" + oid
    assert m["data"]["character_string1"]["value"] == oid
    assert m["data"]["amount2"]["value"] == yuan(o["total_fen"])
    assert m["data"]["thing3"]["value"] == "售后测试商品"
    assert m["data"]["phrase5"]["value"] == "已支付"
    assert m["miniprogram_state"] == "formal"
    assert record(stack, "paid:" + oid)["status"] == "sent"
    assert templates(u)["paid"]["remaining"] == 0

    assert ship(stack, oid, no="SF2233445566").status_code == 200
    msgs = wait_messages(stack, oid, 2)
    m = msgs[1]
    assert m["template_id"] == t["shipped"]["template_id"]
    assert m["touser"] == msgs[0]["touser"]
    assert m["data"]["character_string4"]["value"] == "SF2233445566"
    assert m["data"]["thing3"]["value"] == "shunfeng"
    assert record(stack, "shipped:" + oid)["status"] == "sent"
    assert templates(u)["shipped"]["remaining"] == 0

    # the subscriptions are spent: the next order's payment sends nothing
    oid2 = paid(stack, u, [{"sku_id": sku, "quantity": 1}])["order_id"]
    rec = record(stack, "paid:" + oid2)
    assert rec["status"] == "not_subscribed"
    assert messages(stack, oid2) == []
    assert templates(u)["paid"]["remaining"] == 0


def test_refund_result_is_notified(stack):
    (sku,) = skus(stack, 3000)
    u = Buyer(stack)
    subscribe(u, "refund")
    o = paid(stack, u, [{"sku_id": sku, "quantity": 1}])
    oid = o["order_id"]
    assert record(stack, "paid:" + oid)["status"] == "not_subscribed"
    r = u.post("/api/v1/orders/%s/refund" % oid, {"reason": "不想要了"})
    assert r.status_code == 201, r.text
    a = admin(stack, r.json()["aftersale_id"], "approve", {"note": "同意"})
    assert a.status_code == 200, a.text
    assert messages(stack, oid) == []          # no result yet
    pay_refund(stack, a.json())
    (m,) = wait_messages(stack, oid, 1)
    assert m["template_id"] == templates(u)["refund"]["template_id"]
    assert m["data"]["amount2"]["value"] == yuan(o["total_fen"])
    assert m["data"]["phrase3"]["value"] == "退款成功"
    rec = record(stack, "refund:%s:%s" % (oid, a.json()["out_refund_no"]))
    assert rec["status"] == "sent"


def test_invalid_token_is_refreshed_once(stack):
    (sku,) = skus(stack, 1200)
    u = Buyer(stack)
    subscribe(u, "paid", "shipped")
    oid = paid(stack, u, [{"sku_id": sku, "quantity": 1}])["order_id"]
    wait_messages(stack, oid, 1)
    before = stack.redis("GET", "mall:wx:access_token")
    assert before.strip()
    # WeChat no longer accepts the cached token: 40001 on the next send
    r = sim(stack, "/sim/invalidate-token", {})
    assert r.status_code == 200 and r.json()["invalidated"] >= 1
    assert ship(stack, oid).status_code == 200
    msgs = wait_messages(stack, oid, 2)
    assert msgs[1]["errcode"] == 0
    rec = record(stack, "shipped:" + oid)
    assert rec["status"] == "sent" and rec["attempts"] == "1"
    assert stack.redis("GET", "mall:wx:access_token") != before
    assert stack.redis("EXISTS", "mall:wx:access_token:lock").strip() == "0"


def test_refusal_43101_is_not_retried(stack):
    (sku,) = skus(stack, 1500)
    u = Buyer(stack)
    subscribe(u, "shipped")
    oid = paid(stack, u, [{"sku_id": sku, "quantity": 1}])["order_id"]
    fault(stack, oid, 43101, count=5)
    assert ship(stack, oid).status_code == 200
    rec = record(stack, "shipped:" + oid, "refused")
    assert rec["errcode"] == "43101" and rec["attempts"] == "1"
    time.sleep(2.5)                             # past the first backoff
    assert [m["errcode"] for m in messages(stack, oid)] == [43101]
    # the order went on regardless
    assert u.detail(oid)["status"] == "shipped"


def test_transient_failure_is_retried_with_backoff(stack):
    (sku,) = skus(stack, 1800)
    u = Buyer(stack)
    subscribe(u, "shipped")
    oid = paid(stack, u, [{"sku_id": sku, "quantity": 1}])["order_id"]
    fault(stack, oid, -1, count=2)              # WeChat's "system busy"
    t0 = time.time()
    r = ship(stack, oid)
    assert r.status_code == 200 and r.json()["status"] == "shipped"
    assert time.time() - t0 < 1.0               # the order never waits
    msgs = wait_messages(stack, oid, 3, timeout=20)
    assert [m["errcode"] for m in msgs] == [-1, -1, 0]
    # 1 s, then 2 s apart (notify_retry_base_ms 1000, doubling)
    assert msgs[2]["at"] - msgs[0]["at"] >= 2
    rec = record(stack, "shipped:" + oid, "sent")
    assert rec["attempts"] == "3"
    # one subscription for the message, however many sends it took
    assert templates(u)["shipped"]["remaining"] == 0
