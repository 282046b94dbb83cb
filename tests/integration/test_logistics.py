"""Logistics through the whole stack (docs/orders.md, "Logistics"): the
merchant ships, the order detail (buyer and merchant) carries carrier,
tracking number and a timeline fetched from the carrier-tracking API (the
Kuaidi100-style simulator, tests/carrier_sim), cached in Redis so reads do
not call the carrier again, shown stale when the carrier fails, and merged
with the merchant's manual entries, newest first."""

import hashlib
import json
import secrets
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from conftest import assert_json_error
from sf_helpers import Admin
from test_aftersales import paid, skus
from test_coupons import Buyer
from test_lifecycle import ship


def csim(stack, path, body=None):
    url = stack.carrier_sim + path
    if body is None:
        r = requests.get(url, timeout=5)
    else:
        r = requests.post(url, json=body, timeout=5)
    assert r.status_code == 200, r.text
    return r.json()


def queries(stack, num):
    return csim(stack, "/sim/queries?num=" + num)


def new_num(prefix="ZT"):
    return prefix + secrets.token_hex(6).upper()


def shipped_order(stack, carrier, num):
    (sku,) = skus(stack, 2500)
    u = Buyer(stack)
    oid = paid(stack, u, [{"sku_id": sku, "quantity": 1}])["order_id"]
    r = ship(stack, oid, carrier, num)
    assert r.status_code == 200, r.text
    return u, oid


PLANTED = [
    {"time": "2026-12-01 09:00:00", "context": "【杭州市】 快件已揽收",
     "location": "杭州市"},
    {"time": "2026-12-01 21:15:00", "context": "【杭州市】 快件已发往【北京】"},
    {"time": "2026-12-02 14:30:00", "context": "【北京市】 快件派送中",
     "location": "北京市"},
]


def fresh_ttl(stack, oid):
    return int(stack.redis("TTL", "mall:logistics:%s:fresh" % oid).strip())


def test_timeline_from_carrier_then_cached(stack):
    """Shipping answers the order with its first timeline (the carrier is
    asked once, then the cache serves every read)."""
    num = new_num()
    csim(stack, "/sim/track", {"com": "zhongtong", "num": num, "state": "5",
                               "events": PLANTED})
    bad_before = queries(stack, num)["bad_sign"]
    u, oid = shipped_order(stack, "zhongtong", num)

    lg = u.detail(oid)["logistics"]
    assert lg["carrier"] == "zhongtong" and lg["tracking_no"] == num
    assert lg["timeline_status"] == "ok", lg
    assert lg["state"] == 5 and lg["state_name"] == "out_for_delivery"
    assert lg["delivered"] is False
    assert [e["time"] for e in lg["timeline"]] == [
        "2026-12-02 14:30:00", "2026-12-01 21:15:00", "2026-12-01 09:00:00"]
    assert [e["source"] for e in lg["timeline"]] == ["carrier"] * 3
    assert lg["timeline"][0]["location"] == "北京市"
    assert lg["timeline"][1]["location"] == ""
    assert lg["timeline"][0]["at"] > lg["timeline"][1]["at"]
    assert lg["timeline_updated_at"] > 0

    q = queries(stack, num)
    assert q["total"] == 1, q
    assert q["queries"][-1]["code"] == "200"        # the sign was right
    assert q["queries"][-1]["com"] == "zhongtong"
    assert q["bad_sign"] == bad_before

    # cache hits: the buyer again, the merchant's detail: no new query
    assert u.detail(oid)["logistics"]["timeline"] == lg["timeline"]
    r = Admin(stack).get("/admin/api/v1/orders/%s" % oid)
    assert r.status_code == 200, r.text
    assert r.json()["logistics"]["timeline"] == lg["timeline"]
    assert r.json()["logistics"]["timeline_status"] == "ok"
    assert queries(stack, num)["total"] == 1
    # the freshness key carries the configured TTL (1800 s by default)
    assert 0 < fresh_ttl(stack, oid) <= 1800

    # once it expires, the next read asks the carrier again
    csim(stack, "/sim/track", {"com": "zhongtong", "num": num, "state": "3",
                               "ischeck": True, "events": PLANTED + [
                                   {"time": "2026-12-02 18:00:00",
                                    "context": "已签收"}]})
    stack.redis("DEL", "mall:logistics:%s:fresh" % oid)
    lg = u.detail(oid)["logistics"]
    assert queries(stack, num)["total"] == 2
    assert lg["state_name"] == "delivered" and lg["delivered"] is True
    assert lg["timeline"][0]["context"] == "已签收"
    assert len(lg["timeline"]) == 4
    # a delivered parcel hardly changes: fresh for a day at least
    assert 1800 < fresh_ttl(stack, oid) <= 86400


def test_sf_express_query_carries_the_phone_tail(stack):
    """SF Express answers only with the receiver's phone: the query sends
    its last four digits (what the detail shows anyway), other carriers'
    queries send none."""
    num = new_num("SF")
    csim(stack, "/sim/track", {"com": "shunfeng", "num": num,
                               "phone": "13700001111", "events": PLANTED})
    u, oid = shipped_order(stack, "shunfeng", num)
    lg = u.detail(oid)["logistics"]
    assert lg["timeline_status"] == "ok", lg
    assert len(lg["timeline"]) == 3
    q = queries(stack, num)["queries"][-1]
    assert q["phone"] == "1111" and q["code"] == "200"
    # a wrong tail is refused by the carrier (408): stale-on-error, logged
    csim(stack, "/sim/track", {"com": "shunfeng", "num": num,
                               "phone": "13700002222", "events": PLANTED})
    stack.redis("DEL", "mall:logistics:%s:fresh" % oid)
    lg = u.detail(oid)["logistics"]
    assert lg["timeline_status"] == "stale" and lg["timeline_error"] == "408"
    num2 = new_num()
    u2, oid2 = shipped_order(stack, "zhongtong", num2)
    u2.detail(oid2)
    assert queries(stack, num2)["queries"][-1]["phone"] is None


def test_carrier_error_keeps_the_cached_timeline(stack):
    num = new_num()
    csim(stack, "/sim/track", {"com": "zhongtong", "num": num,
                               "events": PLANTED})
    u, oid = shipped_order(stack, "zhongtong", num)
    assert u.detail(oid)["logistics"]["timeline_status"] == "ok"

    csim(stack, "/sim/fail", {"returnCode": "502"})
    try:
        stack.redis("DEL", "mall:logistics:%s:fresh" % oid)
        d = u.detail(oid)
        lg = d["logistics"]
        assert d["status"] == "shipped"
        assert lg["timeline_status"] == "stale", lg
        assert lg["timeline_error"] == "502"
        assert len(lg["timeline"]) == 3             # the last good answer
        assert queries(stack, num)["total"] == 2
        # the failure is remembered for logistics_error_retry seconds:
        # reads meanwhile do not hammer the carrier
        assert u.detail(oid)["logistics"]["timeline_status"] == "stale"
        assert queries(stack, num)["total"] == 2
        assert 0 < fresh_ttl(stack, oid) <= 60

        # a parcel never fetched, while the carrier is down (HTTP 502):
        # the detail still answers, with an empty timeline
        csim(stack, "/sim/fail", {"http": 502})
        num2 = new_num()
        u2, oid2 = shipped_order(stack, "yuantong", num2)
        d = u2.detail(oid2)
        assert d["logistics"]["tracking_no"] == num2
        assert d["logistics"]["timeline"] == []
        assert d["logistics"]["timeline_status"] == "unavailable"
        assert d["logistics"]["timeline_error"] == "network"
        assert d["logistics"]["state"] is None
    finally:
        csim(stack, "/sim/fail", {"clear": True})
    # back up: after the retry delay the next read fetches again
    stack.redis("DEL", "mall:logistics:%s:fresh" % oid2)
    lg = u2.detail(oid2)["logistics"]
    assert lg["timeline_status"] == "ok" and len(lg["timeline"]) >= 1


def test_slow_carrier_blocks_no_one(stack):
    """A carrier slower than logistics_timeout_ms (2 s): the reads that ask
    it wait for the timeout and answer "unavailable"; meanwhile the same
    worker processes go on answering everyone else at once (the query
    parks its fiber on the libcurl-multi client, not the event loop)."""
    orders = []
    for _ in range(4):
        num = new_num()
        orders.append(shipped_order(stack, "zhongtong", num))
    for _, oid in orders:
        stack.redis("DEL", "mall:logistics:%s:fresh" % oid,
                    "mall:logistics:%s" % oid)
    csim(stack, "/sim/fail", {"delay": 3.5})
    try:
        with ThreadPoolExecutor(max_workers=12) as ex:
            t0 = time.time()
            slow = [ex.submit(u.detail, oid) for u, oid in orders]
            time.sleep(0.3)             # the queries are in flight now
            t1 = time.time()
            # private answers: the workers serve them, never the edge cache
            fast = [ex.submit(orders[i % 4][0].get, "/api/v1/orders/counts")
                    for i in range(8)]
            for f in fast:
                assert f.result().status_code == 200
            fast_done = time.time() - t1
            for f in slow:
                lg = f.result()["logistics"]
                assert lg["timeline_status"] == "unavailable", lg
                assert lg["timeline_error"] == "network"
            slow_done = time.time() - t0
    finally:
        csim(stack, "/sim/fail", {"clear": True})
    assert fast_done < 1.0, fast_done
    assert 1.5 < slow_done < 3.4, slow_done


def test_no_tracking_yet_is_pending(stack):
    num = new_num("NONE")       # the simulator has no record: returnCode 500
    u, oid = shipped_order(stack, "yunda", num)
    lg = u.detail(oid)["logistics"]
    assert lg["timeline"] == [] and lg["timeline_status"] == "pending"
    assert "timeline_error" not in lg
    assert queries(stack, num)["queries"][-1]["code"] == "500"
    u.detail(oid)
    assert queries(stack, num)["total"] == 1       # cached like an answer


def test_manual_entries_merge_with_the_carrier(stack):
    (sku,) = skus(stack, 1800)
    u = Buyer(stack)
    oid = paid(stack, u, [{"sku_id": sku, "quantity": 1}])["order_id"]
    entry = {"time": "2026-12-01 12:00:00", "context": "已到达杭州仓",
             "location": "杭州"}
    path = "/admin/api/v1/orders/%s/tracking" % oid
    # never shipped: nothing to track yet
    r = Admin(stack).post(path, entry)
    assert_json_error(r, 409, "CONFLICT")
    assert r.json()["error"]["current_status"] == "paid"

    num = new_num()
    csim(stack, "/sim/track", {"com": "zhongtong", "num": num,
                               "events": PLANTED})
    assert ship(stack, oid, "zhongtong", num).status_code == 200
    r = Admin(stack).post(path, entry)
    assert r.status_code == 201, r.text
    b = r.json()                                    # the order back
    assert b["order_id"] == oid and b["status"] == "shipped"
    assert b["logistics"]["timeline"][2] == {
        "time": "2026-12-01 12:00:00", "at": 1796097600,
        "context": "已到达杭州仓", "location": "杭州", "source": "merchant"}
    times = [(e["time"], e["source"]) for e in b["logistics"]["timeline"]]
    assert times == [("2026-12-02 14:30:00", "carrier"),
                     ("2026-12-01 21:15:00", "carrier"),
                     ("2026-12-01 12:00:00", "merchant"),
                     ("2026-12-01 09:00:00", "carrier")]
    # unix seconds work too; the newest event comes first for the buyer
    at = b["logistics"]["timeline"][0]["at"] + 3600
    r = Admin(stack).post(path, {"time": at, "context": "商家备注：已联系买家"})
    assert r.status_code == 201, r.text
    lg = u.detail(oid)["logistics"]
    assert lg["timeline"][0] == {"time": "2026-12-02 15:30:00", "at": at,
                                 "context": "商家备注：已联系买家",
                                 "location": "", "source": "merchant"}
    assert len(lg["timeline"]) == 5
    assert queries(stack, num)["total"] == 1       # all from the cache

    # bodies are checked; only the admin role writes; unknown orders 404
    assert_json_error(Admin(stack).post(path, {"time": at}), 422,
                      "VALIDATION_FAILED")
    assert_json_error(Admin(stack).post(path, {"time": "yesterday",
                                               "context": "x"}), 422,
                      "VALIDATION_FAILED")
    assert_json_error(Admin(stack, role="operator", name="op-track").post(
        path, entry), 403, "FORBIDDEN")
    assert_json_error(Admin(stack).post(
        "/admin/api/v1/orders/20991231ABCDEFGHJKLMNPQR/tracking", entry),
        404, "NOT_FOUND")
    # the buyer cannot write the timeline
    r = u.post(path, entry)
    assert r.status_code in (401, 403), r.text


def _read(path):
    with open(path) as f:
        return f.read().strip()


def test_simulator_verifies_the_sign(stack):
    """The simulator checks the sign byte for byte: the test builds one
    query from the DEV/TEST account files exactly as the workers do."""
    customer = _read(stack.key("carrier/customer"))
    key = _read(stack.key("carrier/key"))
    num = new_num()
    param = json.dumps({"com": "zhongtong", "num": num},
                       separators=(",", ":"))
    sign = hashlib.md5((param + key + customer).encode()).hexdigest().upper()
    url = stack.carrier_sim + "/poll/query.do"
    r = requests.post(url, data={"customer": customer, "sign": sign,
                                 "param": param}, timeout=5)
    assert r.status_code == 200
    b = r.json()
    assert b["status"] == "200" and b["message"] == "ok" and b["nu"] == num
    assert b["data"] and all("ftime" in e and "context" in e
                             for e in b["data"])
    bad = requests.post(url, data={"customer": customer,
                                   "sign": sign.lower(), "param": param},
                        timeout=5).json()
    assert bad == {"result": False, "returnCode": "503",
                   "message": "验证签名失败"}
    other = requests.post(url, data={"customer": customer, "sign": sign,
                                     "param": param + " "}, timeout=5).json()
    assert other["returnCode"] == "503"
    assert requests.post(url, data={"customer": "nobody", "sign": sign,
                                    "param": param},
                         timeout=5).json()["returnCode"] == "601"
