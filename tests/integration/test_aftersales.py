"""After-sales through the whole stack (docs/orders.md, "After-sales"): a
buyer's refund request, the merchant's approval (the WeChat refund goes out
through the simulator) or rejection, partial refunds per line, the return
flow with the goods back in stock, and coupons back on a full refund."""

import json
import time

from conftest import assert_json_error
from sf_helpers import Admin, new_product
from test_coupons import Buyer, template
from test_payments import sim


def skus(stack, *prices, stock=10):
    p = new_product(Admin(stack), name="售后测试商品",
                    skus=[{"price_fen": pr, "stock": stock,
                           "attrs": {"size": str(i)}}
                          for i, pr in enumerate(prices)])
    return [s["sku_id"] for s in p["skus"]]


def paid(stack, u, items, coupon=None):
    o = u.order_with(items, coupon)
    assert o.status_code == 201, o.text
    oid = o.json()["order_id"]
    r = u.prepay(oid)
    assert r.status_code == 200, r.text
    sim(stack, "/sim/pay", {"out_trade_no": oid, "payment": {
        k: r.json()[k] for k in ("appId", "timeStamp", "nonceStr", "package",
                                 "signType", "paySign")}})
    assert u.detail(oid)["status"] == "paid"
    return o.json()


def admin(stack, oid_or_as, step, body=None):
    return Admin(stack).post("/admin/api/v1/after-sales/%d/%s"
                             % (oid_or_as, step), body or {})


def pay_refund(stack, aftersale, status="SUCCESS"):
    r = sim(stack, "/sim/refund-result", {
        "out_refund_no": aftersale["out_refund_no"], "status": status})
    assert r.status_code == 200, r.text


def stock(stack, sku):
    return int(stack.redis("HGET", "mall:sku:%d" % sku, "stock"))


def test_refund_only_approved_refunds_all_and_returns_the_coupon(stack):
    (sku,) = skus(stack, 5000)
    u = Buyer(stack)
    cid = u.coupon(template(stack, off_fen=500))
    o = paid(stack, u, [{"sku_id": sku, "quantity": 1}], [cid])
    oid = o["order_id"]
    assert stock(stack, sku) == 9
    r = u.post("/api/v1/orders/%s/refund" % oid, {"reason": "不想要了"})
    assert r.status_code == 201, r.text
    a = r.json()
    assert a["status"] == "requested" and a["type"] == "refund_only"
    assert a["amount_fen"] == o["total_fen"]
    assert u.detail(oid)["status"] == "refund_requested"
    # one open request at a time
    assert_json_error(u.post("/api/v1/orders/%s/refund" % oid,
                             {"reason": "again"}), 409, "CONFLICT")
    listed = Admin(stack).get("/admin/api/v1/after-sales?status=requested")
    assert a["aftersale_id"] in [x["aftersale_id"]
                                 for x in listed.json()["after_sales"]]
    assert_json_error(Admin(stack, role="operator", name="op2").post(
        "/admin/api/v1/after-sales/%d/approve" % a["aftersale_id"], {}),
        403, "FORBIDDEN")

    r = admin(stack, a["aftersale_id"], "approve", {"note": "同意"})
    assert r.status_code == 200, r.text
    a = r.json()
    assert a["status"] == "refunding" and a["out_refund_no"]
    assert_json_error(admin(stack, a["aftersale_id"], "approve"), 409,
                      "CONFLICT")
    pay_refund(stack, a)
    a = u.get("/api/v1/orders/%s/after-sale" % oid).json()
    assert a["status"] == "refunded"
    d = u.detail(oid)
    assert d["status"] == "refunded"
    assert d["payment"]["refunded_fen"] == o["total_fen"]
    assert stock(stack, sku) == 10                 # never shipped
    assert cid in u.mine()                         # the coupon is back


def test_rejected_and_withdrawn_requests_leave_the_order_as_it_was(stack):
    (sku,) = skus(stack, 3000)
    u = Buyer(stack)
    oid = paid(stack, u, [{"sku_id": sku, "quantity": 1}])["order_id"]
    a = u.post("/api/v1/orders/%s/refund" % oid, {"reason": "拍错了"}).json()
    assert_json_error(admin(stack, a["aftersale_id"], "reject", {}), 422,
                      "VALIDATION_FAILED")
    r = admin(stack, a["aftersale_id"], "reject", {"reason": "已超时效"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "rejected" \
        and r.json()["reject_reason"] == "已超时效"
    assert u.detail(oid)["status"] == "paid"

    a = u.post("/api/v1/orders/%s/refund" % oid, {"reason": "再试"}).json()
    r = u.post("/api/v1/orders/%s/refund/withdraw" % oid, {})
    assert r.status_code == 200 and r.json()["status"] == "withdrawn"
    assert u.detail(oid)["status"] == "paid"
    assert_json_error(u.post("/api/v1/orders/%s/refund/withdraw" % oid, {}),
                      409, "CONFLICT")
    other = Buyer(stack)
    assert_json_error(other.post("/api/v1/orders/%s/refund" % oid,
                                 {"reason": "x"}), 404, "NOT_FOUND")


def test_partial_refund_of_one_line(stack):
    a_sku, b_sku = skus(stack, 6000, 4000)
    u = Buyer(stack)
    o = paid(stack, u, [{"sku_id": a_sku, "quantity": 1},
                        {"sku_id": b_sku, "quantity": 2}])
    oid = o["order_id"]
    assert o["total_fen"] == 14000                 # free shipping
    assert_json_error(u.post("/api/v1/orders/%s/refund" % oid, {
        "reason": "x", "items": [{"sku_id": b_sku, "quantity": 3}]}), 422,
        "VALIDATION_FAILED")
    r = u.post("/api/v1/orders/%s/refund" % oid, {
        "reason": "一件有瑕疵", "items": [{"sku_id": b_sku, "quantity": 1}],
        "images": ["https://img.mall.example/flaw.jpg"]})
    assert r.status_code == 201, r.text
    a = r.json()
    assert a["amount_fen"] == 4000 and a["images"] == [
        "https://img.mall.example/flaw.jpg"]
    a = admin(stack, a["aftersale_id"], "approve").json()
    pay_refund(stack, a)
    d = u.detail(oid)
    assert d["status"] == "paid" and d["payment"]["refunded_fen"] == 4000
    assert u.get("/api/v1/orders/%s/after-sale" % oid).json()["status"] == \
        "refunded"
    # what is left can still be asked for
    r = u.post("/api/v1/orders/%s/refund" % oid, {"reason": "全退",
                                                   "amount_fen": 20000})
    assert_json_error(r, 422, "VALIDATION_FAILED")


def test_return_needs_shipped_goods(stack):
    (sku,) = skus(stack, 3000)
    u = Buyer(stack)
    oid = paid(stack, u, [{"sku_id": sku, "quantity": 1}])["order_id"]
    assert_json_error(u.post("/api/v1/orders/%s/refund" % oid,
                             {"reason": "x", "type": "return"}), 422,
                      "VALIDATION_FAILED")


# --- stock reconciliation ------------------------------------------------------

def test_check_stock_repairs_what_a_crash_left(stack):
    (sku,) = skus(stack, 2000)
    u = Buyer(stack)
    o = u.order_with([{"sku_id": sku, "quantity": 2}], None)
    assert o.status_code == 201, o.text
    oid = o.json()["order_id"]
    assert stock(stack, sku) == 8
    # a crash between the expiry's claim and its EXEC lost the queue entry,
    # with the deadline past; and a hold outlived its (gone) order
    stack.redis("ZREM", "mall:orders:expiry", oid)
    stack.redis("HSET", "mall:order:%s" % oid, "pay_deadline", "1000")
    ghost = "20200101AAAAAAAAAAAAAAAA"
    stack.redis("HSET", "mall:order:%s:hold:%d" % (ghost, sku), "stock", "5")
    r = stack.mallctl("check-stock", check=False)
    assert r.returncode == 2, (r.stdout, r.stderr)
    kinds = {(f["kind"], f.get("order_id")) for f in
             json.loads(r.stdout)["findings"]}
    assert ("expiry_requeued", oid) in kinds
    assert ("orphan_hold", ghost) in kinds
    assert stack.redis("EXISTS", "mall:order:%s:hold:%d"
                       % (ghost, sku)).strip() == "0"
    # the expiry now gives the units back as usual
    deadline = time.time() + 15
    while u.detail(oid)["status"] != "cancelled" \
            and time.time() < deadline:
        time.sleep(0.3)
    assert u.detail(oid)["status"] == "cancelled"
    assert stock(stack, sku) == 10
    r = stack.mallctl("check-stock", check=False)
    assert r.returncode in (0, 2), r.stderr
    assert oid not in r.stdout
