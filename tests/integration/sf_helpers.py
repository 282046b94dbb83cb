"""Shoppers and admins for the storefront and merchant tests.

A Shopper holds a minted ES256 access token (the edge verifies it like a
real one) and the sign_key derived from its jti, and signs every write as
the mini-program would. An Admin holds an admin-audience token.
"""

import json
import secrets

from mall_client import (claims, derive_sign_key, jwt_es256, read_secret,
                         sign_headers)


class Shopper:
    def __init__(self, stack, sub=None):
        self.stack = stack
        self.sub = sub or "u" + secrets.token_hex(6)
        c = claims(sub=self.sub)
        self.token = jwt_es256(stack.key("jwt-k1.pem"), "k1", c)
        self.sign_key = derive_sign_key(read_secret(stack.key("sign-s1.key")),
                                        c["jti"])

    ip = None       # a client address of its own (X-Forwarded-For), if set

    def call(self, method, target, body=None, headers=None):
        data = b"" if body is None else json.dumps(body).encode()
        h = {"Authorization": "Bearer " + self.token}
        if self.ip:
            h["X-Forwarded-For"] = self.ip
        if body is not None:
            h["Content-Type"] = "application/json"
        if method in ("POST", "PUT", "PATCH", "DELETE"):
            h.update(sign_headers(self.sign_key, method, target, data))
        h.update(headers or {})
        return self.stack.request(method, target, data=data, headers=h)

    def get(self, target):
        return self.call("GET", target)

    def post(self, target, body):
        return self.call("POST", target, body)

    def patch(self, target, body):
        return self.call("PATCH", target, body)

    def delete(self, target):
        return self.call("DELETE", target)


class Admin:
    def __init__(self, stack, role="admin", name="admin"):
        self.stack = stack
        c = claims(sub="admin:" + name, aud="mall-admin", role=role)
        self.token = jwt_es256(stack.key("jwt-k1.pem"), "k1", c)

    def call(self, method, target, body=None):
        data = b"" if body is None else json.dumps(body).encode()
        h = {"Authorization": "Bearer " + self.token}
        if body is not None:
            h["Content-Type"] = "application/json"
        return self.stack.request(method, target, data=data, headers=h)

    def get(self, target):
        return self.call("GET", target)

    def post(self, target, body):
        return self.call("POST", target, body)

    def patch(self, target, body):
        return self.call("PATCH", target, body)

    def delete(self, target):
        return self.call("DELETE", target)


def new_product(admin, name="测试商品", name_en="Test gadget", brand="TestBrand",
                category_id=113, skus=None, **extra):
    body = {"name": name, "name_en": name_en, "brand": brand,
            "category_id": category_id,
            "description": "测试用商品 test item",
            "images": [{"thumbnail": "https://img.mall.example/t.jpg",
                        "medium": "https://img.mall.example/m.jpg",
                        "large": "https://img.mall.example/l.jpg"}],
            "params": [{"name": "产地", "value": "中国"}],
            "skus": skus or [{"price_fen": 1999, "stock": 50,
                              "attrs": {"color": "黑"}}]}
    body.update(extra)
    r = admin.post("/admin/api/v1/products", body)
    assert r.status_code == 201, r.text
    return r.json()
