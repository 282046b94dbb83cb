#!/usr/bin/env python3
"""Independent reference for the Mall Edge request-signing scheme.

Computes, with the Python standard library only (hmac, hashlib,
urllib.parse), the fixed vectors that test_sign.c, test_edge_sig.c and
docs/signing.md hard-code. Run: python3 tests/unit/sign_vectors.py
"""
import base64
import hashlib
import hmac
import re
import sys
import urllib.parse


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def canonical_query(q: str) -> str:
    """MISSION.md: decode ('+' = space), sort by name then value, re-encode."""
    pairs = []
    for seg in q.split("&"):
        if seg == "":
            continue                      # "a=1&&b=2"
        if re.search(r"%(?![0-9A-Fa-f]{2})", seg):
            raise ValueError("bad percent-encoding: %r" % seg)
        name, _, value = seg.partition("=")
        dec = lambda s: urllib.parse.unquote_to_bytes(s.replace("+", " "))
        pairs.append((dec(name), dec(value)))
    if len(pairs) > 64:
        raise ValueError("too many parameters")
    pairs.sort()                          # bytes compare bytewise
    enc = lambda b: urllib.parse.quote(b, safe="-._~")
    return "&".join(enc(n) + "=" + enc(v) for n, v in pairs)


def derive_key(secret: bytes, jti: str) -> str:
    mac = hmac.new(secret, b"mall-sign-v1:" + jti.encode(), hashlib.sha256)
    return b64url(mac.digest())


def canonical(method, path, query, ts, nonce, body: bytes) -> str:
    return "\n".join([method, path, canonical_query(query), ts, nonce,
                      hashlib.sha256(body).hexdigest()])


def canonical_v2(method, path, query, ts, nonce, idem, body: bytes) -> str:
    return "\n".join([method, path, canonical_query(query), ts, nonce, idem,
                      hashlib.sha256(body).hexdigest()])


def signature(sign_key: str, canon: str) -> str:
    mac = hmac.new(sign_key.encode(), canon.encode(), hashlib.sha256)
    return b64url(mac.digest())


def edge_signature(key: bytes, f: dict) -> str:
    canon = "\n".join(["mall-edge-v2", f["method"], f["uri"],
                       f["request_id"], f["client_ip"], f["user"], f["role"],
                       f["token_id"], f["token_exp"], f["ts"], f["idem_key"],
                       hashlib.sha256(f["body"]).hexdigest()])
    return b64url(hmac.new(key, canon.encode(), hashlib.sha256).digest())


SECRET = b"3f1b6c0e9a7d42f8b5c1e0d9a8f7b6c53f1b6c0e9a7d42f8b5c1e0d9a8f7b6c5"
JTI = "tok-7Hq2ZpX9"

QUERY_CASES = [
    "",
    "b=2&a=1",
    "a=2&a=10&a=1",
    "q=hello+world",
    "q=a%2Bb",
    "name=%E5%BE%AE%E4%BF%A1",
    "flag&x=1",
    "a=1&&b=2&",
    "sort=price_asc&page=1&size=20&category=%E6%89%8B%E6%9C%BA",
    "k=~-._&z=%7e",
    "A=1&a=1&_=1",
    "x=%2f%2F/",
]

EXAMPLE = dict(
    method="POST",
    path="/api/v1/orders",
    query="size=20&a=2&a=1&q=red+shoes&city=%E4%B8%8A%E6%B5%B7&flag",
    ts="1700000000",
    nonce="n-4f9c2a7e1b3d5f60",
    body=b'{"items":[{"sku_id":"sku-1001","quantity":2}],'
         b'"address_id":"addr-1","coupon":"auto"}',
)

GET_EXAMPLE = dict(method="GET", path="/api/v1/users/me", query="",
                   ts="1700000123", nonce="abcdefghijklmnop", body=b"")

IDEM_KEY = "order-2f1c9a7e-5b3d"

EDGE_KEY = b"e1-edge-key-0123456789abcdef0123456789abcdef0123456789abcdef01"
EDGE_FIELDS = dict(
    method="POST", uri="/api/v1/orders?x=1", request_id="req-0001",
    client_ip="1.0.1.1", user="u-42", role="", token_id="tok-7Hq2ZpX9",
    token_exp="1700003600", ts="1700000001", idem_key="idem-7f3a9c",
    body=b'{"a":1}')


def c_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace(
        "\n", "\\n") + '"'


def main() -> int:
    sign_key = derive_key(SECRET, JTI)
    print("secret      =", SECRET.decode())
    print("jti         =", JTI)
    print("sign_key    =", sign_key)
    print()
    print("canonical query cases:")
    for q in QUERY_CASES:
        print("  %-60s -> %s" % (c_str(q), c_str(canonical_query(q))))
    for bad in ["a=%zz", "a=%4", "%=1", "a=100%"]:
        try:
            canonical_query(bad)
            print("  ERROR: accepted", bad)
            return 1
        except ValueError:
            print("  %-60s -> error" % c_str(bad))
    for name, ex in (("POST example", EXAMPLE), ("GET example", GET_EXAMPLE)):
        canon = canonical(ex["method"], ex["path"], ex["query"], ex["ts"],
                          ex["nonce"], ex["body"])
        print()
        print(name)
        print("  query       =", c_str(ex["query"]))
        print("  cquery      =", c_str(canonical_query(ex["query"])))
        print("  body        =", c_str(ex["body"].decode()))
        print("  body_sha256 =", hashlib.sha256(ex["body"]).hexdigest())
        print("  canonical   =", c_str(canon))
        print("  signature   =", signature(sign_key, canon))
    ex = EXAMPLE
    canon = canonical_v2(ex["method"], ex["path"], ex["query"], ex["ts"],
                         ex["nonce"], IDEM_KEY, ex["body"])
    print()
    print("POST example, version 2 (X-Mall-Sign-Version: 2)")
    print("  idempotency =", c_str(IDEM_KEY))
    print("  canonical   =", c_str(canon))
    print("  signature   =", signature(sign_key, canon))
    print()
    print("edge signature =", edge_signature(EDGE_KEY, EDGE_FIELDS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
