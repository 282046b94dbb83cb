"""Storefront through the edge: catalog reads, search, cart, addresses,
favourites, browsing history (and ownership: another user's data is 404)."""

import requests

import resp
from conftest import assert_json_error
from mall_client import edge_headers, read_secret
from sf_helpers import Shopper

PHONES = set(range(1001, 1017))          # category 111 of the demo set
CASES = set(range(1017, 1047))           # category 112


# --- catalog reads -------------------------------------------------------

def worker_get(stack, uri):
    """Straight to the worker (edge-signed): the edge keeps Surrogate-Key
    for its own cache and does not pass it on to clients."""
    h = edge_headers(read_secret(stack.key("edge-e1.key")), "GET", uri)
    return requests.get(stack.worker + uri, headers=h, timeout=10)


def test_list_filters_sorts_and_cache_headers(stack):
    r = stack.get("/api/v1/products?category=11&size=100")
    assert r.status_code == 200
    ids = {p["id"] for p in r.json()["items"]}
    assert PHONES <= ids and CASES <= ids            # sub-categories too
    assert "s-maxage" in r.headers["Cache-Control"]
    w = worker_get(stack, "/api/v1/products?category=11&size=100")
    assert "s-maxage" in w.headers["Cache-Control"]
    assert "category:11" in w.headers["Surrogate-Key"].split()
    assert "list" in w.headers["Surrogate-Key"].split()
    assert w.json() == r.json()

    r = stack.get("/api/v1/products?category=111&sort=price_asc&size=100")
    prices = [p["price_fen"] for p in r.json()["items"]]
    assert prices == sorted(prices) and len(prices) == 16
    r = stack.get("/api/v1/products?category=111&sort=price_desc&size=100")
    prices = [p["price_fen"] for p in r.json()["items"]]
    assert prices == sorted(prices, reverse=True)
    r = stack.get("/api/v1/products?sort=sales&size=50")
    sales = [p["sales"] for p in r.json()["items"]]
    assert sales == sorted(sales, reverse=True)

    r = stack.get("/api/v1/products?brand=huawei&min_price=500000&max_price=800000")
    items = r.json()["items"]
    assert items and all(p["brand"] == "HUAWEI" for p in items)
    assert all(500000 <= p["price_fen"] <= 800000 for p in items)
    r = stack.get("/api/v1/products?in_stock=1&size=100")
    assert all(p["in_stock"] for p in r.json()["items"])
    assert_json_error(stack.get("/api/v1/products?sort=cheap"), 400,
                      "VALIDATION_FAILED")


def test_pagination_is_stable(stack):
    seen = []
    for page in range(1, 6):
        r = stack.get("/api/v1/products?sort=new&size=17&page=%d" % page)
        seen += [p["id"] for p in r.json()["items"]]
    again = []
    for page in range(1, 6):
        r = stack.get("/api/v1/products?sort=new&size=17&page=%d" % page)
        again += [p["id"] for p in r.json()["items"]]
    assert seen == again and len(seen) == len(set(seen)) == 85


def test_detail_has_skus_images_params_rating(stack):
    r = stack.get("/api/v1/products/1001")
    assert r.status_code == 200
    d = r.json()
    assert d["skus"] and {"sku_id", "price_fen", "stock", "attrs"} <= set(d["skus"][0])
    assert {"thumbnail", "medium", "large"} <= set(d["images"][0])
    assert d["params"] and "average" in d["rating"] and d["reviews"]
    tags = worker_get(stack, "/api/v1/products/1001").headers["Surrogate-Key"].split()
    assert "product:1001" in tags and "category:111" in tags


# --- search --------------------------------------------------------------

def search(stack, q, extra=""):
    r = stack.get("/api/v1/search", params={"q": q}, ) if not extra else \
        stack.get("/api/v1/search?q=%s&%s" % (q, extra))
    assert r.status_code == 200, r.text
    return r.json()


def test_search_chinese_phones_before_cases(stack):
    body = search(stack, "手机")
    assert body["q"] == "手机"
    ids = [p["id"] for p in body["items"]]
    assert set(ids[:16]) == PHONES, ids[:20]
    body = search(stack, "手机", "size=100")
    ids = [p["id"] for p in body["items"]]
    first_case = min(ids.index(i) for i in CASES if i in ids)
    assert max(ids.index(i) for i in PHONES) < first_case


def test_search_english_cases_before_phones(stack):
    ids = [p["id"] for p in search(stack, "phone case")["items"]]
    assert set(ids[:20]) <= CASES, ids[:20]
    ids = [p["id"] for p in search(stack, "phone case", "size=100")["items"]]
    assert PHONES & set(ids)          # phones match "phone" too, later


def test_search_plural_and_typo(stack):
    cases = {p["id"] for p in search(stack, "cases")["items"]}
    assert cases & CASES
    typo = [p["id"] for p in search(stack, "phnoe")["items"]]
    assert typo and typo[0] in PHONES | CASES
    assert set(typo) & PHONES


def test_search_filters_sorts_and_ties(stack):
    body = search(stack, "手机", "sort=price_asc&category=111&size=50")
    prices = [p["price_fen"] for p in body["items"]]
    assert prices == sorted(prices) and len(prices) == 16
    # equal relevance: better seller first
    items = search(stack, "手机", "size=16")["items"]
    sales = [p["sales"] for p in items]
    assert sales == sorted(sales, reverse=True)


def test_search_cache_tags(stack):
    w = worker_get(stack, "/api/v1/search?q=%E6%89%8B%E6%9C%BA")
    assert w.status_code == 200 and "s-maxage" in w.headers["Cache-Control"]
    assert {"list", "search"} <= set(w.headers["Surrogate-Key"].split())


def test_search_validation(stack):
    assert_json_error(stack.get("/api/v1/search?q="), 400, "VALIDATION_FAILED")
    assert_json_error(stack.get("/api/v1/search"), 400, "VALIDATION_FAILED")
    assert_json_error(stack.get("/api/v1/search", params={"q": "a" * 65}),
                      400, "VALIDATION_FAILED")
    assert stack.get("/api/v1/search", params={"q": "手" * 64}).status_code == 200
    assert_json_error(stack.get("/api/v1/search?q=x&sort=best"), 400,
                      "VALIDATION_FAILED")


# --- cart ----------------------------------------------------------------

def test_cart_add_merge_patch_delete_and_totals(stack):
    u = Shopper(stack)
    r = u.post("/api/v1/cart/items", {"sku_id": 100102, "quantity": 2})
    assert r.status_code == 201, r.text
    r = u.post("/api/v1/cart/items", {"sku_id": 100102, "quantity": 3})
    assert r.status_code == 200 and r.json()["quantity"] == 5
    assert u.post("/api/v1/cart/items", {"sku_id": 100201, "quantity": 1}).status_code == 201

    cart = u.get("/api/v1/cart/items").json()
    assert cart["count"] == 2
    line = {i["sku_id"]: i for i in cart["items"]}
    assert line[100102]["quantity"] == 5 and line[100102]["selected"]
    assert cart["total_fen"] == sum(i["price_fen"] * i["quantity"] for i in cart["items"])

    r = u.patch("/api/v1/cart/items/100201", {"selected": False})
    assert r.status_code == 200 and r.json()["selected"] is False
    cart = u.get("/api/v1/cart/items").json()
    assert cart["total_fen"] == line[100102]["price_fen"] * 5
    assert cart["selected_count"] == 1

    assert u.patch("/api/v1/cart/items/100102", {"quantity": 7}).json()["quantity"] == 7
    assert_json_error(u.patch("/api/v1/cart/items/100102", {"quantity": 100}),
                      422, "VALIDATION_FAILED")
    assert_json_error(u.post("/api/v1/cart/items", {"sku_id": 100102, "quantity": 95}),
                      422, "VALIDATION_FAILED")
    assert_json_error(u.post("/api/v1/cart/items", {"sku_id": 100102, "quantity": 0}),
                      422, "VALIDATION_FAILED")
    assert_json_error(u.post("/api/v1/cart/items", {"sku_id": 999999, "quantity": 1}),
                      404, "NOT_FOUND")
    assert u.delete("/api/v1/cart/items/100201").status_code == 200
    assert_json_error(u.delete("/api/v1/cart/items/100201"), 404, "NOT_FOUND")
    assert [i["sku_id"] for i in u.get("/api/v1/cart/items").json()["items"]] == [100102]


def test_cart_is_private(stack):
    a, b = Shopper(stack), Shopper(stack)
    assert a.post("/api/v1/cart/items", {"sku_id": 100101, "quantity": 1}).status_code == 201
    assert b.get("/api/v1/cart/items").json()["items"] == []
    assert_json_error(b.patch("/api/v1/cart/items/100101", {"quantity": 2}), 404, "NOT_FOUND")
    assert_json_error(b.delete("/api/v1/cart/items/100101"), 404, "NOT_FOUND")
    r = stack.get("/api/v1/cart/items")
    assert r.status_code == 401


def test_cart_item_cap(stack):
    u = Shopper(stack)
    key = "mall:cart:%s" % u.sub
    args = []
    for i in range(100):
        args += [str(900000 + i), "1"]
    stack.redis("HSET", key, *args)
    assert_json_error(u.post("/api/v1/cart/items", {"sku_id": 100101, "quantity": 1}),
                      409, "CONFLICT")


# --- addresses -----------------------------------------------------------

ADDR = {"name": "张三", "phone": "13812345678", "province": "广东省",
        "city": "深圳市", "district": "南山区", "detail": "科技园路1号腾讯大厦",
        "is_default": False}


def test_address_crud_default_and_masking(stack):
    u = Shopper(stack)
    r = u.post("/api/v1/addresses", ADDR)
    assert r.status_code == 201, r.text
    a1 = r.json()
    assert a1["address_id"] and a1["is_default"] is True     # first is default
    assert a1["phone"] == "138****5678"
    a2 = u.post("/api/v1/addresses", dict(ADDR, phone="13900001111",
                                          is_default=True)).json()
    assert a2["is_default"] is True
    items = u.get("/api/v1/addresses").json()["items"]
    assert [i["is_default"] for i in items].count(True) == 1
    assert all("****" in i["phone"] for i in items)

    one = u.get("/api/v1/addresses/%d" % a1["address_id"]).json()
    assert one["phone"] == "138****5678" and one["is_default"] is False
    rev = u.get("/api/v1/addresses/%d?reveal=phone" % a1["address_id"]).json()
    assert rev["phone"] == "13812345678"

    r = u.patch("/api/v1/addresses/%d" % a1["address_id"], {"detail": "新地址 88 号"})
    assert r.status_code == 200 and r.json()["detail"] == "新地址 88 号"
    # deleting the default promotes the other one
    assert u.delete("/api/v1/addresses/%d" % a2["address_id"]).status_code == 200
    items = u.get("/api/v1/addresses").json()["items"]
    assert len(items) == 1 and items[0]["is_default"] is True
    assert_json_error(u.get("/api/v1/addresses/%d" % a2["address_id"]), 404, "NOT_FOUND")


def test_address_validation_names_the_field(stack):
    u = Shopper(stack)
    for field, value in [("phone", "12812345678"), ("phone", "1381234567"),
                         ("name", ""), ("province", "省" * 33),
                         ("detail", "a"), ("detail", "路" * 121),
                         ("city", None)]:
        body = dict(ADDR)
        if value is None:
            del body[field]
        else:
            body[field] = value
        r = u.post("/api/v1/addresses", body)
        err = assert_json_error_field(r, field)
    assert u.get("/api/v1/addresses").json()["items"] == []


def assert_json_error_field(r, field):
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "VALIDATION_FAILED" and err["field"] == field, err
    return err


def test_address_limit_and_ownership(stack):
    a, b = Shopper(stack), Shopper(stack)
    ids = []
    for i in range(20):
        r = a.post("/api/v1/addresses", dict(ADDR, detail="地址 %d 号" % i))
        assert r.status_code == 201, r.text
        ids.append(r.json()["address_id"])
    assert_json_error(a.post("/api/v1/addresses", ADDR), 409, "CONFLICT")
    assert_json_error(b.get("/api/v1/addresses/%d" % ids[0]), 404, "NOT_FOUND")
    assert_json_error(b.patch("/api/v1/addresses/%d" % ids[0], {"name": "李四"}),
                      404, "NOT_FOUND")
    assert_json_error(b.delete("/api/v1/addresses/%d" % ids[0]), 404, "NOT_FOUND")
    assert b.get("/api/v1/addresses").json()["items"] == []


def test_addresses_are_encrypted_at_rest(stack):
    u = Shopper(stack)
    phone, detail = "13711112222", "保密街道 99 号 SecretLane"
    r = u.post("/api/v1/addresses", dict(ADDR, phone=phone, detail=detail,
                                         name="王五秘密"))
    assert r.status_code == 201
    raw = stack.redis("HGETALL", "mall:addr:%s" % u.sub)
    assert raw.strip() and raw.split("\n")[1].startswith("d1:")   # key id kept
    # every key, every value (raw bytes): no plaintext anywhere
    needles = [phone.encode(), detail.encode(), "保密街道".encode(),
               "SecretLane".encode(), "王五秘密".encode()]
    values = resp.dump_values(stack.redis_port)
    assert len(values) > 10
    for k, v in values.items():
        for n in needles:
            assert n not in v and n not in k, (k, n)


# --- favourites and history ----------------------------------------------

def test_favorites(stack):
    u, other = Shopper(stack), Shopper(stack)
    for pid in (1001, 1017, 1050):
        assert u.post("/api/v1/favorites", {"product_id": pid}).status_code == 201
    assert u.post("/api/v1/favorites", {"product_id": 1001}).status_code == 200
    assert_json_error(u.post("/api/v1/favorites", {"product_id": 424242}), 404, "NOT_FOUND")
    assert_json_error(u.post("/api/v1/favorites", {"product_id": "x"}), 422,
                      "VALIDATION_FAILED")
    body = u.get("/api/v1/favorites").json()
    assert [p["id"] for p in body["items"]] == [1050, 1017, 1001]
    assert body["total"] == 3 and body["items"][0]["name"]
    page2 = u.get("/api/v1/favorites?size=2&page=2").json()
    assert [p["id"] for p in page2["items"]] == [1001]
    assert other.get("/api/v1/favorites").json()["items"] == []
    assert_json_error(other.delete("/api/v1/favorites/1001"), 404, "NOT_FOUND")
    assert u.delete("/api/v1/favorites/1017").status_code == 200
    assert [p["id"] for p in u.get("/api/v1/favorites").json()["items"]] == [1050, 1001]


def test_history_is_recent_distinct_bounded(stack):
    u, other = Shopper(stack), Shopper(stack)
    for pid in (1001, 1002, 1003, 1001):
        assert u.post("/api/v1/history", {"product_id": pid}).status_code == 200
    assert [p["id"] for p in u.get("/api/v1/history").json()["items"]] == [1001, 1003, 1002]
    assert other.get("/api/v1/history").json()["items"] == []
    for pid in range(1001, 1121):
        stack.redis("LPUSH", "mall:history:%s" % u.sub, pid)
    u.post("/api/v1/history", {"product_id": 1050})
    body = u.get("/api/v1/history?size=100").json()
    assert body["total"] == 100 and body["items"][0]["id"] == 1050
    ids = [p["id"] for p in body["items"]]
    assert len(ids) == len(set(ids))


def test_detail_served_to_a_user_records_a_view(stack):
    u = Shopper(stack)
    r = u.get("/api/v1/products/1005")
    assert r.status_code == 200
    assert stack.redis("LRANGE", "mall:history:%s" % u.sub, 0, -1).split() == ["1005"]
