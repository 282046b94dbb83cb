"""Coupons through the whole stack (docs/orders.md, "Coupons"): merchant
templates, atomic and idempotent claiming under concurrency, the buyer's
coupon lists, the checkout preview and its best combination (exact, on a
planted set where greedy is wrong), a coupon consumed in the order's EXEC
and returned on cancel, timeout and full refund."""

import secrets
import threading
import time

from conftest import assert_json_error
from sf_helpers import Admin, new_product
from test_payments import Payer, admin_refund, sim

DAY = 86400


# --- helpers ---------------------------------------------------------------

def template(stack, **body):
    """A coupon template (enabled, 100 of them, 1 per buyer, 7 days)."""
    b = {"name": "测试券", "kind": "no_threshold", "off_fen": 100,
         "scope": {"all": True}, "valid_days": 7, "total": 100,
         "per_user": 1}
    b.update(body)
    r = Admin(stack).post("/admin/api/v1/coupons", b)
    assert r.status_code == 201, r.text
    return r.json()["template_id"]


class Buyer(Payer):
    def claim(self, tid, key=None):
        h = {"Idempotency-Key": key} if key else {}
        return self.call("POST", "/api/v1/coupons/%d/claim" % tid, {}, h)

    def coupon(self, tid):
        r = self.claim(tid)
        assert r.status_code == 201, r.text
        return r.json()["coupon_id"]

    def body(self, items, coupon):
        return {"items": items, "address_id": self.address_id,
                "coupon": coupon}

    def preview(self, items, coupon="auto"):
        return self.post("/api/v1/orders/preview", self.body(items, coupon))

    def order_with(self, items, coupon="auto", key=None):
        return self.call("POST", "/api/v1/orders", self.body(items, coupon),
                         {"Idempotency-Key": key or secrets.token_hex(8)})

    def mine(self, status="unused"):
        r = self.get("/api/v1/coupons?status=%s" % status)
        assert r.status_code == 200, r.text
        return {c["coupon_id"]: c for c in r.json()["coupons"]}


def sku_of(stack, price, stock=100, category_id=113):
    p = new_product(Admin(stack), name="券测试商品", category_id=category_id,
                    skus=[{"price_fen": price, "stock": stock,
                           "attrs": {"size": "M"}}])
    return p["skus"][0]["sku_id"], p["id"]


def line(sku, q=1):
    return [{"sku_id": sku, "quantity": q}]


# --- merchant templates -----------------------------------------------------

def test_templates_are_checked_and_need_the_admin_role(stack):
    a = Admin(stack)
    for bad in ({"kind": "gift"}, {"kind": "threshold", "threshold_fen": 100,
                                   "off_fen": 100},
                {"kind": "percent", "percent": 100},
                {"scope": {"category_ids": []}},
                {"valid_days": None, "starts_at": 200, "ends_at": 100},
                {"total": 0}, {"stack_group": "bad group!"},
                {"kind": "threshold", "threshold_fen": 500, "off_fen": 100,
                 "stackable": True}):
        b = {"name": "x", "kind": "no_threshold", "off_fen": 100,
             "valid_days": 7, "total": 10}
        b.update(bad)
        assert_json_error(a.post("/admin/api/v1/coupons", b), 422,
                          "VALIDATION_FAILED")
    assert_json_error(Admin(stack, role="operator", name="op").post(
        "/admin/api/v1/coupons", {"name": "x", "kind": "no_threshold",
                                  "off_fen": 1, "valid_days": 1,
                                  "total": 1}), 403, "FORBIDDEN")

    tid = template(stack, name="满100减20", kind="threshold",
                   threshold_fen=10000, off_fen=2000, stack_group="full")
    r = a.get("/admin/api/v1/coupons/%d" % tid)
    assert r.status_code == 200, r.text
    t = r.json()
    assert t["kind"] == "threshold" and t["claimed"] == 0 \
        and t["remaining"] == 100 and t["stack_group"] == "full"
    assert any(x["template_id"] == tid
               for x in a.get("/admin/api/v1/coupons").json()["templates"])
    r = a.patch("/admin/api/v1/coupons/%d" % tid, {"enabled": False})
    assert r.status_code == 200 and r.json()["enabled"] is False
    u = Buyer(stack)
    assert_json_error(u.claim(tid), 409, "COUPON_UNAVAILABLE")
    assert tid not in [x["template_id"] for x in
                       u.get("/api/v1/coupons/available").json()["templates"]]
    a.patch("/admin/api/v1/coupons/%d" % tid, {"enabled": True})
    assert u.claim(tid).status_code == 201
    assert_json_error(a.patch("/admin/api/v1/coupons/%d" % tid,
                              {"total": 0}), 422, "VALIDATION_FAILED")


# --- claiming ------------------------------------------------------------------

def test_fifty_concurrent_claims_respect_the_total(stack):
    tid = template(stack, total=20)
    buyers = [Buyer(stack) for _ in range(50)]
    codes = [None] * 50

    def go(i):
        codes[i] = buyers[i].claim(tid).status_code

    ts = [threading.Thread(target=go, args=(i,)) for i in range(50)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert codes.count(201) == 20, codes
    assert codes.count(409) == 30, codes
    t = Admin(stack).get("/admin/api/v1/coupons/%d" % tid).json()
    assert t["claimed"] == 20 and t["remaining"] == 0
    assert_json_error(Buyer(stack).claim(tid), 409, "COUPON_SOLD_OUT")


def test_concurrent_claims_of_one_buyer_respect_per_user(stack):
    tid = template(stack, per_user=2)
    u = Buyer(stack)
    codes = []
    lock = threading.Lock()

    def go():
        c = u.claim(tid).status_code
        with lock:
            codes.append(c)

    ts = [threading.Thread(target=go) for _ in range(12)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert codes.count(201) == 2, codes
    assert len([c for c in u.mine().values() if c["template_id"] == tid]) == 2
    assert_json_error(u.claim(tid), 409, "COUPON_LIMIT")
    avail = {x["template_id"]: x for x in
             u.get("/api/v1/coupons/available").json()["templates"]}
    assert avail[tid]["claimed_by_me"] == 2 \
        and avail[tid]["can_claim"] is False


def test_claim_is_idempotent_with_a_key(stack):
    tid = template(stack, per_user=3)
    u = Buyer(stack)
    r1 = u.claim(tid, key="claim-1")
    r2 = u.claim(tid, key="claim-1")
    assert r1.status_code == 201 and r2.status_code == 200, (r1.text, r2.text)
    assert r1.json()["coupon_id"] == r2.json()["coupon_id"]
    assert Admin(stack).get(
        "/admin/api/v1/coupons/%d" % tid).json()["claimed"] == 1
    assert_json_error(u.claim(999999999), 404, "NOT_FOUND")


def test_coupon_lists_by_status(stack):
    now = int(time.time())
    short = template(stack, valid_days=None, starts_at=now - 10,
                     ends_at=now + 2)
    keep = template(stack, off_fen=50)
    u = Buyer(stack)
    c_short, c_keep = u.coupon(short), u.coupon(keep)
    unused = u.mine()
    assert set(unused) == {c_short, c_keep}
    assert list(unused)[0] == c_short               # soonest expiry first
    time.sleep(3)
    assert set(u.mine("expired")) == {c_short}
    assert set(u.mine()) == {c_keep}
    assert_json_error(u.get("/api/v1/coupons?status=gone"), 400,
                      "VALIDATION_FAILED")


# --- preview, best combination, use ----------------------------------------------

def test_auto_pick_beats_greedy_and_create_matches_preview(stack):
    sku, _ = sku_of(stack, 10000)
    # greedy takes the lone 30-yuan coupon; the best is 20 + 20% (40 yuan)
    alone = template(stack, name="无门槛30", off_fen=3000)
    full = template(stack, name="满50减20", kind="threshold",
                    threshold_fen=5000, off_fen=2000, stack_group="full")
    pct = template(stack, name="8折", kind="percent", percent=20,
                   max_off_fen=5000, stack_group="pct")
    u = Buyer(stack)
    ids = {u.coupon(t): t for t in (alone, full, pct)}
    r = u.preview(line(sku))
    assert r.status_code == 200, r.text
    p = r.json()
    assert sorted(c["template_id"] for c in p["coupons"]) == \
        sorted([full, pct])
    assert p["coupon_discount_fen"] == 4000 and p["discount_fen"] == 4000
    assert p["items_fen"] == 10000 and p["shipping_fen"] == 0
    assert p["total_fen"] == 6000
    assert {c["coupon_id"] for c in p["usable_coupons"]} == set(ids)
    assert p["lines"][0]["subtotal_fen"] == 10000

    o = u.order_with(line(sku))
    assert o.status_code == 201, o.text
    o = o.json()
    assert o["total_fen"] == p["total_fen"]
    assert sorted(c["coupon_id"] for c in o["coupons"]) == \
        sorted(c["coupon_id"] for c in p["coupons"])
    used = u.mine("used")
    assert set(used) == {c["coupon_id"] for c in p["coupons"]}
    assert all(c["order_id"] == o["order_id"] for c in used.values())

    # the picked ones are gone: the next auto order gets the lone coupon
    p2 = u.preview(line(sku)).json()
    assert [c["template_id"] for c in p2["coupons"]] == [alone]
    # and they cannot be named again
    assert_json_error(u.order_with(line(sku), [o["coupons"][0]["coupon_id"]]),
                      422, "COUPON_INVALID")


def test_named_coupons_are_checked(stack):
    sku, pid = sku_of(stack, 3000)
    other_sku, _ = sku_of(stack, 3000)
    u = Buyer(stack)
    a = u.coupon(template(stack, stack_group="g", off_fen=100))
    b = u.coupon(template(stack, stack_group="g", off_fen=200))
    big = u.coupon(template(stack, kind="threshold", threshold_fen=50000,
                            off_fen=1000))
    only = u.coupon(template(stack, off_fen=700, stackable=True,
                             scope={"product_ids": [pid]}))
    thr = u.coupon(template(stack, kind="threshold", threshold_fen=5000,
                            off_fen=200, stack_group="full"))
    stranger = Buyer(stack).coupon(template(stack, off_fen=100))
    assert_json_error(u.preview(line(sku), [a, b]), 422, "COUPON_INVALID")
    assert_json_error(u.preview(line(sku), [big]), 422, "COUPON_INVALID")
    assert_json_error(u.preview(line(sku), [stranger]), 422,
                      "COUPON_INVALID")
    assert_json_error(u.preview(line(other_sku), [only]), 422,
                      "COUPON_INVALID")
    # a non-stackable no-threshold coupon goes alone; coupons without a
    # group share the default one
    assert_json_error(u.preview(line(sku) + line(other_sku), [b, thr]), 422,
                      "COUPON_INVALID")
    p = u.preview(line(sku) + line(other_sku), [only, thr]).json()
    assert p["coupon_discount_fen"] == 900 and p["items_fen"] == 6000
    # a product-scoped coupon never takes more than its lines
    huge = u.coupon(template(stack, off_fen=5000,
                             scope={"product_ids": [pid]}))
    p = u.preview(line(sku) + line(other_sku), [huge]).json()
    assert p["coupon_discount_fen"] == 3000


def test_category_scope_counts_subcategories(stack):
    cats = stack.request("GET", "/api/v1/categories").json()
    root = next(c for c in cats["categories"] if c.get("children"))
    leaf = root["children"][0]
    while leaf.get("children"):
        leaf = leaf["children"][0]
    sku, _ = sku_of(stack, 4000, category_id=leaf["id"])
    u = Buyer(stack)
    c = u.coupon(template(stack, kind="percent", percent=50, max_off_fen=1500,
                          scope={"category_ids": [root["id"]]}))
    p = u.preview(line(sku), [c]).json()
    assert p["coupon_discount_fen"] == 1500          # 50 % capped at 15 yuan


def test_one_coupon_one_order_under_concurrency(stack):
    sku, _ = sku_of(stack, 5000)
    u = Buyer(stack)
    cid = u.coupon(template(stack, off_fen=1000))
    codes = []
    lock = threading.Lock()

    def go():
        r = u.order_with(line(sku), [cid])
        with lock:
            codes.append((r.status_code, r.json()))

    ts = [threading.Thread(target=go) for _ in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    ok = [j for c, j in codes if c == 201]
    assert len(ok) == 1, codes
    assert all(c in (201, 422) for c, _ in codes), codes
    assert ok[0]["discount_fen"] == 1000


def test_coupon_back_on_cancel(stack):
    sku, _ = sku_of(stack, 5000)
    u = Buyer(stack)
    cid = u.coupon(template(stack, off_fen=800))
    o = u.order_with(line(sku), [cid]).json()
    assert cid in u.mine("used")
    r = u.post("/api/v1/orders/%s/cancel" % o["order_id"], {})
    assert r.status_code == 200, r.text
    assert cid in u.mine() and cid not in u.mine("used")
    o2 = u.order_with(line(sku), [cid])
    assert o2.status_code == 201 and o2.json()["discount_fen"] == 800


def test_coupon_back_on_full_refund(stack):
    sku, _ = sku_of(stack, 6000)
    u = Buyer(stack)
    cid = u.coupon(template(stack, off_fen=1000))
    o = u.order_with(line(sku), [cid]).json()
    oid = o["order_id"]
    r = u.prepay(oid)
    assert r.status_code == 200, r.text
    sim(stack, "/sim/pay", {"out_trade_no": oid, "payment": {
        k: r.json()[k] for k in ("appId", "timeStamp", "nonceStr", "package",
                                 "signType", "paySign")}})
    deadline = time.time() + 10
    while u.detail(oid)["status"] != "paid" and time.time() < deadline:
        time.sleep(0.2)
    r = admin_refund(stack, oid, "k-all")
    assert r.status_code == 201, r.text
    sim(stack, "/sim/refund-result", {"out_refund_no":
                                      r.json()["out_refund_no"],
                                      "status": "SUCCESS"})
    assert u.detail(oid)["status"] == "refunded"
    assert cid in u.mine()
