"""Request signing through the whole stack (docs/signing.md): real logins,
real sign keys, signed writes to the cart; every tampering or replay is
refused at the edge before a worker sees it."""

import json
import secrets
import time

import pytest

from conftest import assert_json_error
from mall_client import sign_headers


def login(stack, who):
    r = stack.request("POST", "/api/v1/auth/wx-login",
                      json={"code": "%s-%s" % (who, secrets.token_hex(4))})
    assert r.status_code == 200, r.text
    body = r.json()
    return {"Authorization": "Bearer " + body["access_token"]}, body["sign_key"]


@pytest.fixture(scope="module")
def sku(stack):
    items = stack.get("/api/v1/products?in_stock=1&size=5").json()["items"]
    for item in items:
        detail = stack.get("/api/v1/products/%s" % item["id"]).json()
        for s in detail["skus"]:
            if s.get("stock", 0) > 5:
                return s["sku_id"]
    pytest.fail("no SKU in stock in the demo catalog")


def signed_post(stack, auth, key, target, body, **sign_kw):
    raw = json.dumps(body).encode()
    h = dict(auth)
    h["Content-Type"] = "application/json"
    h.update(sign_headers(key, "POST", target, raw, **sign_kw))
    return h, raw


def test_signed_write_passes_and_replay_is_refused(stack, sku):
    auth, key = login(stack, "sig-a")
    h, raw = signed_post(stack, auth, key, "/api/v1/cart/items",
                         {"sku_id": sku, "quantity": 1})
    r = stack.request("POST", "/api/v1/cart/items", data=raw, headers=h)
    assert r.status_code in (200, 201), r.text
    again = stack.request("POST", "/api/v1/cart/items", data=raw, headers=h)
    assert_json_error(again, 401, "REPLAYED")
    # the replay changed nothing: one unit in the cart
    cart = stack.get("/api/v1/cart/items", headers=auth).json()
    assert [i["quantity"] for i in cart["items"] if i["sku_id"] == sku] == [1]


def test_unsigned_write_is_refused_but_reads_need_no_signature(stack):
    auth, _ = login(stack, "sig-b")
    r = stack.request("POST", "/api/v1/cart/items", headers=auth,
                      json={"sku_id": 1, "quantity": 1})
    err = assert_json_error(r, 401, "BAD_SIGNATURE")
    assert "X-Mall-Signature" in err["message"]
    assert stack.get("/api/v1/cart/items", headers=auth).status_code == 200


@pytest.mark.parametrize("skew", [-400, 400])
def test_stale_and_future_timestamps(stack, sku, skew):
    auth, key = login(stack, "sig-ts")
    h, raw = signed_post(stack, auth, key, "/api/v1/cart/items",
                         {"sku_id": sku, "quantity": 1},
                         ts=int(time.time()) + skew)
    r = stack.request("POST", "/api/v1/cart/items", data=raw, headers=h)
    err = assert_json_error(r, 401, "BAD_SIGNATURE")
    assert "timestamp" in err["message"]


def test_tampering_is_refused(stack, sku):
    auth, key = login(stack, "sig-t")
    body = {"sku_id": sku, "quantity": 1}

    # body changed after signing
    h, raw = signed_post(stack, auth, key, "/api/v1/cart/items", body)
    tampered = json.dumps({"sku_id": sku, "quantity": 9}).encode()
    assert_json_error(stack.request("POST", "/api/v1/cart/items",
                                    data=tampered, headers=h),
                      401, "BAD_SIGNATURE")

    # query changed after signing
    h, raw = signed_post(stack, auth, key, "/api/v1/cart/items?src=a", body)
    assert_json_error(stack.request("POST", "/api/v1/cart/items?src=b",
                                    data=raw, headers=h),
                      401, "BAD_SIGNATURE")

    # path changed after signing (same body, another resource)
    h, raw = signed_post(stack, auth, key, "/api/v1/favorites", body)
    assert_json_error(stack.request("POST", "/api/v1/cart/items",
                                    data=raw, headers=h),
                      401, "BAD_SIGNATURE")

    # method changed after signing
    h, raw = signed_post(stack, auth, key, "/api/v1/cart/items", body)
    assert_json_error(stack.request("PUT", "/api/v1/cart/items",
                                    data=raw, headers=h),
                      401, "BAD_SIGNATURE")

    # wrong key (a key that was never issued)
    h, raw = signed_post(stack, auth, "A" * 43, "/api/v1/cart/items", body)
    assert_json_error(stack.request("POST", "/api/v1/cart/items",
                                    data=raw, headers=h),
                      401, "BAD_SIGNATURE")


def test_query_order_and_encoding_do_not_matter(stack, sku):
    # The client signs its parameters in its own order and encoding; the
    # edge canonicalises the received query the same way.
    auth, key = login(stack, "sig-q")
    body = {"sku_id": sku, "quantity": 1}
    h, raw = signed_post(stack, auth, key,
                         "/api/v1/cart/items?b=2&a=%E4%B8%AD+x&c", body)
    r = stack.request("POST", "/api/v1/cart/items?c=&a=%e4%b8%ad%20x&b=2",
                      data=raw, headers=h)
    assert r.status_code in (200, 201), r.text


def test_user_a_key_on_user_b_token_is_refused(stack, sku):
    auth_a, key_a = login(stack, "sig-ua")
    auth_b, key_b = login(stack, "sig-ub")
    assert key_a != key_b
    h, raw = signed_post(stack, auth_b, key_a, "/api/v1/cart/items",
                         {"sku_id": sku, "quantity": 1})
    assert_json_error(stack.request("POST", "/api/v1/cart/items", data=raw,
                                    headers=h),
                      401, "BAD_SIGNATURE")


def test_large_bodies(stack, sku):
    auth, key = login(stack, "sig-big")
    # 60 KB: read without blocking, hashed, verified; the worker then judges
    # the content (an unknown field is not a signature problem).
    body = {"sku_id": sku, "quantity": 1, "note": "x" * 60000}
    h, raw = signed_post(stack, auth, key, "/api/v1/cart/items", body)
    r = stack.request("POST", "/api/v1/cart/items", data=raw, headers=h)
    assert r.status_code not in (401, 413), r.text
    # over client_max_body_size: a JSON 413, never HTML
    body = {"sku_id": sku, "quantity": 1, "note": "x" * 70000}
    h, raw = signed_post(stack, auth, key, "/api/v1/cart/items", body)
    r = stack.request("POST", "/api/v1/cart/items", data=raw, headers=h)
    assert_json_error(r, 413, "PAYLOAD_TOO_LARGE")
