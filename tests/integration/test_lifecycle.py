"""The order lifecycle after payment through the whole stack
(docs/orders.md, "Lifecycle"): the merchant ships (one order, or many at
once), the buyer confirms receipt, the timers receive and complete orders
on their own, illegal moves are 409 with the current status, and the list
filter and the per-status counts of a "my orders" page follow every move."""

import time

from conftest import assert_json_error
from sf_helpers import Admin
from test_aftersales import paid, skus
from test_coupons import Buyer
from test_orders import reload_workers


def ship(stack, oid, carrier="shunfeng", no="SF1234567890"):
    return Admin(stack).post("/admin/api/v1/orders/%s/ship" % oid,
                             {"carrier": carrier, "tracking_no": no})


def zscore(stack, queue, oid):
    v = stack.redis("ZSCORE", "mall:orders:" + queue, oid).strip()
    return float(v) if v else None


def counts(u):
    r = u.get("/api/v1/orders/counts")
    assert r.status_code == 200, r.text
    return r.json()["counts"]


def listed(u, status):
    r = u.get("/api/v1/orders?status=%s" % status)
    assert r.status_code == 200, r.text
    return [o["order_id"] for o in r.json()["items"]]


def events(u, oid):
    return [(e["event"], e["actor"]) for e in u.detail(oid)["events"]]


def wait_status(u, oid, status, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if u.detail(oid)["status"] == status:
            return
        time.sleep(0.2)
    assert u.detail(oid)["status"] == status


def test_ship_confirm_complete(stack):
    (sku,) = skus(stack, 3000)
    u = Buyer(stack)
    o = u.order_with([{"sku_id": sku, "quantity": 1}], None)
    assert o.status_code == 201, o.text
    unpaid_oid = o.json()["order_id"]
    assert counts(u)["unpaid"] == 1
    # an unpaid order cannot be shipped: 409 with the current status
    r = ship(stack, unpaid_oid)
    assert_json_error(r, 409, "CONFLICT")
    assert r.json()["error"]["current_status"] == "unpaid"

    oid = paid(stack, u, [{"sku_id": sku, "quantity": 1}])["order_id"]
    c = counts(u)
    assert c["paid"] == 1 and c["unpaid"] == 1 and c["shipped"] == 0
    # the buyer cannot confirm what was not shipped
    r = u.post("/api/v1/orders/%s/confirm" % oid, {})
    assert_json_error(r, 409, "CONFLICT")
    assert r.json()["error"]["current_status"] == "paid"
    # only the admin role ships; bodies are checked
    assert_json_error(Admin(stack, role="operator", name="op-ship").post(
        "/admin/api/v1/orders/%s/ship" % oid,
        {"carrier": "shunfeng", "tracking_no": "SF1"}), 403, "FORBIDDEN")
    assert_json_error(Admin(stack).post(
        "/admin/api/v1/orders/%s/ship" % oid,
        {"carrier": "Shun Feng", "tracking_no": "SF1234567890"}), 422,
        "VALIDATION_FAILED")

    r = ship(stack, oid)
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["status"] == "shipped"
    assert d["logistics"]["carrier"] == "shunfeng"
    assert d["logistics"]["tracking_no"] == "SF1234567890"
    assert zscore(stack, "shipped", oid) > 0
    assert_json_error(ship(stack, oid), 409, "CONFLICT")
    assert listed(u, "shipped") == [oid] and listed(u, "paid") == []
    assert counts(u)["shipped"] == 1 and counts(u)["paid"] == 0

    # another buyer's order is not found
    assert_json_error(Buyer(stack).post("/api/v1/orders/%s/confirm" % oid,
                                        {}), 404, "NOT_FOUND")
    r = u.post("/api/v1/orders/%s/confirm" % oid, {})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "received"
    assert zscore(stack, "shipped", oid) is None
    assert zscore(stack, "received", oid) is not None
    c = counts(u)
    assert c["received"] == 1 and c["shipped"] == 0
    assert_json_error(u.post("/api/v1/orders/%s/confirm" % oid, {}), 409,
                      "CONFLICT")

    # the merchant sees it, by status too
    a = Admin(stack).get("/admin/api/v1/orders?status=received&size=50")
    assert a.status_code == 200, a.text
    assert oid in [x["order_id"] for x in a.json()["items"]]
    assert Admin(stack).get("/admin/api/v1/orders/%s" % oid).json()[
        "user_id"]

    # the after-sales window closes: completed by the timer
    reload_workers(stack, MALL_ORDER_AFTER_SALES="1")
    try:
        wait_status(u, oid, "completed")
    finally:
        reload_workers(stack, MALL_ORDER_AFTER_SALES="604800")
    assert events(u, oid)[-3:] == [("ship", "admin"), ("receive", "user"),
                                   ("complete", "system")]
    c = counts(u)
    assert c["completed"] == 1 and c["received"] == 0
    assert zscore(stack, "received", oid) is None


def test_auto_receive_after_shipping(stack):
    (sku,) = skus(stack, 2000)
    u = Buyer(stack)
    oid = paid(stack, u, [{"sku_id": sku, "quantity": 1}])["order_id"]
    assert ship(stack, oid).status_code == 200
    time.sleep(1.5)
    assert u.detail(oid)["status"] == "shipped"     # 10 days by default
    reload_workers(stack, MALL_ORDER_AUTO_RECEIVE="1")
    try:
        wait_status(u, oid, "received")
    finally:
        reload_workers(stack, MALL_ORDER_AUTO_RECEIVE="864000")
    assert events(u, oid)[-1] == ("receive", "system")
    assert counts(u)["received"] == 1


def test_bulk_ship_answers_per_order(stack):
    (sku,) = skus(stack, 1500)
    u = Buyer(stack)
    a = paid(stack, u, [{"sku_id": sku, "quantity": 1}])["order_id"]
    b = paid(stack, u, [{"sku_id": sku, "quantity": 1}])["order_id"]
    r = Admin(stack).post("/admin/api/v1/orders/ship", {"orders": [
        {"order_id": a, "carrier": "yuantong", "tracking_no": "YT0001"},
        {"order_id": b, "carrier": "yuantong", "tracking_no": "YT0002"},
        {"order_id": a, "carrier": "yuantong", "tracking_no": "YT0003"},
        {"order_id": "20260101AAAAAAAAAAAAAAAA", "carrier": "jd",
         "tracking_no": "JD0001"},
        {"order_id": b, "carrier": "", "tracking_no": "x"}]})
    assert r.status_code == 200, r.text
    res = r.json()["results"]
    assert [x["ok"] for x in res] == [True, True, False, False, False]
    assert res[0]["status"] == "shipped"
    assert res[2]["error"]["code"] == "CONFLICT"
    assert res[2]["error"]["current_status"] == "shipped"
    assert res[3]["error"]["code"] == "NOT_FOUND"
    assert res[4]["error"]["code"] == "VALIDATION_FAILED"
    assert u.detail(b)["logistics"]["tracking_no"] == "YT0002"
    assert_json_error(Admin(stack).post("/admin/api/v1/orders/ship",
                                        {"orders": []}), 422,
                      "VALIDATION_FAILED")
    assert counts(u)["shipped"] == 2
