"""ngx_http_mall_module on its own: token auth, request signatures, edge
signatures, revocation and JSON errors, against a private nginx (module only)
and a private Redis on free loopback ports. The upstream is a second server
of the same nginx that echoes what the edge forwarded, so these tests do not
depend on the workers.
"""

import hashlib
import http.client
import socket
import subprocess
import time

import pytest

from edge_harness import error_of, running_edge
from mall_client import (claims, derive_sign_key, edge_headers, jwt_hs256,
                         nonce, read_secret, sign_headers)

CONF = """
%(main)s
events { worker_connections 256; }
http {
    access_log off;
%(temp_paths)s
    client_max_body_size 64k;
    client_body_buffer_size 64k;
    set_real_ip_from 127.0.0.1;
    real_ip_header X-Forwarded-For;

    mall_redis 127.0.0.1:%(redis)d interval=100ms;
    mall_auth_zone t_auth:2m;
    mall_auth_key k1 ES256 %(dir)s/jwt-k1.pub.pem;
    mall_auth_key h1 HS256 %(dir)s/hs-h1.key;
    mall_auth_issuer mall-edge;
    mall_auth_audience mall-mini;
    mall_sign_secret s1 %(dir)s/sign-s1.key;
    mall_sign_zone t_nonce:2m;
    mall_edge_key e1 %(dir)s/edge-e1.key;

    server {
        listen 127.0.0.1:%(edge)d;
        error_page 400 /_e/400;
        error_page 404 @e404;
        error_page 413 @e413;
        error_page 502 @e502;
        location / { return 404; }
        location /api/ {
            mall_auth required;
%(forward)s
            proxy_pass http://127.0.0.1:%(echo)d;
        }
        location /api/opt/ {
            mall_auth optional;
%(forward)s
            proxy_pass http://127.0.0.1:%(echo)d;
        }
        location /api/signed/ {
            mall_auth required;
            mall_sign required;
            mall_sign_methods GET POST PUT PATCH DELETE;
%(forward)s
            proxy_pass http://127.0.0.1:%(echo)d;
        }
        location /api/v2only/ {
            mall_auth required;
            mall_sign required;
            mall_sign_v1 off;
%(forward)s
            proxy_pass http://127.0.0.1:%(echo)d;
        }
        location /api/writes/ {
            mall_auth required;
            mall_sign required;
%(forward)s
            proxy_pass http://127.0.0.1:%(echo)d;
        }
        location /admin/ {
            mall_auth required;
            mall_auth_audience mall-admin;
%(forward)s
            proxy_pass http://127.0.0.1:%(echo)d;
        }
        location = /notify {
            mall_auth off;
            mall_sign off;
%(forward)s
            proxy_pass http://127.0.0.1:%(echo)d;
        }
        location = /_e/400 { internal; mall_json_error 400 VALIDATION_FAILED "bad request"; }
        location @e404 { mall_json_error 404 NOT_FOUND "no such resource"; }
        location @e413 { mall_json_error 413 PAYLOAD_TOO_LARGE "too large"; }
        location @e502 { mall_json_error 502 UPSTREAM_UNAVAILABLE "down"; }
    }

    server {
        listen 127.0.0.1:%(echo)d;
        mall_request_id off;
        location / {
            add_header X-Request-Id $http_x_request_id always;
%(echo_headers)s
            return 200 '{"ok":true}';
        }
    }
}
"""


@pytest.fixture(scope="module")
def edge():
    with running_edge(CONF) as e:
        yield e


def test_json_errors_and_request_id(edge):
    error_of(edge.get("/nope"), 404, "NOT_FOUND")
    s = socket.create_connection(("127.0.0.1", edge.edge_port))
    s.sendall(b"GARBAGE\r\n\r\n")
    raw = s.recv(4096)
    s.close()
    assert raw.startswith(b"HTTP/1.1 400") and b"VALIDATION_FAILED" in raw


def test_identity_and_edge_signature_forwarded(edge):
    tok, c = edge.token()
    body = b'{"a":1}'
    r = edge.get("/api/x?b=2&a=1", tok, method="POST", data=body,
                 headers={"X-Forwarded-For": "1.0.1.1"})
    assert r.status_code == 200, r.text
    h = r.headers
    assert (h["X-Got-User"], h["X-Got-Jti"], h["X-Got-Exp"], h["X-Got-Ip"]) \
        == ("u1", c["jti"], str(c["exp"]), "1.0.1.1")
    want = edge_headers(read_secret(edge.key("edge-e1.key")), "POST",
                        "/api/x?b=2&a=1", body=body, user="u1",
                        token_id=c["jti"], token_exp=c["exp"],
                        client_ip="1.0.1.1", request_id=h["X-Request-Id"],
                        ts=h["X-Got-Ts"])
    assert h["X-Got-Kid"] == "e1"
    assert h["X-Got-Sig"] == want["X-Mall-Edge-Signature"]


@pytest.mark.parametrize("auth,message", [
    (None, "missing bearer token"),
    ("Basic dTpw", "authorization scheme must be Bearer"),
    ("Bearer a.b.c", "malformed token"),
    ("Bearer " + "a" * 3000, "token too long"),
])
def test_bad_authorization(edge, auth, message):
    h = {"Authorization": auth} if auth else {}
    assert error_of(edge.get("/api/x", headers=h), 401,
                    "UNAUTHORIZED")["message"] == message


def test_token_failures_say_what_failed(edge):
    now = int(time.time())
    cases = {
        "token expired": edge.token(iat=now - 900, exp=now - 100)[0],
        "wrong token audience": edge.token(aud="other")[0],
        "wrong token issuer": edge.token(iss="other")[0],
        "unknown token key": edge.token(kid="k9")[0],
    }
    for message, tok in cases.items():
        err = error_of(edge.get("/api/x", tok), 401, "UNAUTHORIZED")
        assert err["message"] == message
        assert tok not in err["message"]


def test_hs256_and_cached_token_per_location_audience(edge):
    hs = jwt_hs256(read_secret(edge.key("hs-h1.key")), "h1", claims())
    assert edge.get("/api/x", hs).status_code == 200
    tok, _ = edge.token()
    assert edge.get("/api/x", tok).status_code == 200      # now cached
    error_of(edge.get("/admin/x", tok), 401, "UNAUTHORIZED")
    adm, _ = edge.token(aud="mall-admin", role="admin", sub="admin")
    r = edge.get("/admin/x", adm)
    assert r.status_code == 200 and r.headers["X-Got-Role"] == "admin"


def test_optional_and_off(edge):
    r = edge.get("/api/opt/x")
    assert r.status_code == 200 and "X-Got-User" not in r.headers
    error_of(edge.get("/api/opt/x", "bad"), 401, "UNAUTHORIZED")
    assert edge.get("/notify", method="POST", data=b"{}").status_code == 200


def test_revocation_by_jti_and_by_user(edge):
    tok, c = edge.token(sub="rv1")
    old, _ = edge.token(sub="rv2", iat=int(time.time()) - 10)
    assert edge.get("/api/x", tok).status_code == 200
    assert edge.get("/api/x", old).status_code == 200
    edge.redis("XADD", "mall:revoked", "*", "type", "jti", "jti", c["jti"],
               "exp", c["exp"])
    edge.redis("XADD", "mall:revoked", "*", "type", "user", "sub", "rv2",
               "until", int(time.time()) - 1)
    time.sleep(0.6)
    for _ in range(6):        # every nginx worker sees the shared deny set
        assert error_of(edge.get("/api/x", tok), 401,
                        "UNAUTHORIZED")["message"] == "token revoked"
        error_of(edge.get("/api/x", old), 401, "UNAUTHORIZED")
    newer, _ = edge.token(sub="rv2", iat=int(time.time()) + 1)
    assert edge.get("/api/x", newer).status_code == 200


def test_token_remembered_on_connection_is_still_checked(edge):
    """A keepalive connection remembers its last token: the location's
    audience, a changed token and revocation still apply on it."""
    tok, c = edge.token(sub="ka1")
    other, _ = edge.token(sub="ka2")
    conn = http.client.HTTPConnection("127.0.0.1", edge.edge_port, timeout=5)

    def get(path, t):
        conn.request("GET", path, headers={"Authorization": "Bearer " + t})
        r = conn.getresponse()
        return r.status, r.getheader("X-Got-User"), r.read()

    try:
        assert get("/api/x", tok)[:2] == (200, "ka1")
        assert get("/api/x", tok)[:2] == (200, "ka1")      # remembered
        assert get("/admin/x", tok)[0] == 401               # its audience
        assert get("/api/x", other)[:2] == (200, "ka2")     # another token
        assert get("/api/x", tok[:-2] + "AA")[0] == 401     # not the same
        assert get("/api/x", tok)[:2] == (200, "ka1")
        edge.redis("XADD", "mall:revoked", "*", "type", "jti", "jti",
                   c["jti"], "exp", c["exp"])
        edge.redis("XADD", "mall:revoked", "*", "type", "user", "sub", "ka2",
                   "until", int(time.time()) + 1)
        time.sleep(0.6)
        status, _, body = get("/api/x", tok)
        assert status == 401 and b"token revoked" in body
        status, _, body = get("/api/x", other)
        assert status == 401 and b"token revoked" in body
    finally:
        conn.close()


def signed(edge, method, target, body=b"", tok=None, c=None, **kw):
    if tok is None:
        tok, c = edge.token()
    key = derive_sign_key(read_secret(edge.key("sign-s1.key")), c["jti"])
    h = sign_headers(key, method, target, body, **kw)
    return h, tok, key


def test_signed_post_and_replay(edge):
    body = b'{"items":[{"sku_id":"1","quantity":2}]}'
    h, tok, _ = signed(edge, "POST", "/api/signed/orders?x=%E4%B8%AD+1&a",
                       body)
    r = edge.get("/api/signed/orders?x=%E4%B8%AD+1&a", tok, method="POST",
                 data=body, headers=dict(h))
    assert r.status_code == 200, r.text
    r = edge.get("/api/signed/orders?x=%E4%B8%AD+1&a", tok, method="POST",
                 data=body, headers=dict(h))
    error_of(r, 401, "REPLAYED")


def test_signature_v2_covers_idempotency_key(edge):
    # issue 20, finding 5: X-Mall-Sign-Version: 2 adds the Idempotency-Key
    # to the canonical string; v1 stays accepted unless mall_sign_v1 off
    tok, c = edge.token()
    url = "/api/signed/orders"

    def post(h, target=url):
        return edge.get(target, tok, method="POST", data=b"{}",
                        headers=dict(h))

    h, _, _ = signed(edge, "POST", url, b"{}", tok, c, idem_key="order-1")
    r = post(h)
    assert r.status_code == 200, r.text
    assert r.headers["X-Got-Idem"] == "order-1"
    for changed in ({"Idempotency-Key": "order-2"},
                    {"Idempotency-Key": ""}, {"X-Mall-Sign-Version": "1"}):
        h, _, _ = signed(edge, "POST", url, b"{}", tok, c, idem_key="order-1")
        err = error_of(post(dict(h, **changed)), 401, "BAD_SIGNATURE")
        assert err["message"] == "signature mismatch", changed
    # signed without a key: one cannot be added afterwards
    h, _, _ = signed(edge, "POST", url, b"{}", tok, c, idem_key="")
    assert post(h).status_code == 200
    h, _, _ = signed(edge, "POST", url, b"{}", tok, c, idem_key="")
    error_of(post(dict(h, **{"Idempotency-Key": "x"})), 401, "BAD_SIGNATURE")
    h, _, _ = signed(edge, "POST", url, b"{}", tok, c, idem_key="k")
    err = error_of(post(dict(h, **{"X-Mall-Sign-Version": "3"})), 401,
                   "BAD_SIGNATURE")
    assert err["message"] == "unsupported X-Mall-Sign-Version"

    # v1 (today's clients): still accepted, the key forwarded as it is
    h, _, _ = signed(edge, "POST", url, b"{}", tok, c)
    r = post(dict(h, **{"Idempotency-Key": "order-3"}))
    assert r.status_code == 200, r.text
    assert r.headers["X-Got-Idem"] == "order-3"

    # where mall_sign_v1 is off, only v2
    v2only = "/api/v2only/orders"
    h, _, _ = signed(edge, "POST", v2only, b"{}", tok, c)
    err = error_of(post(h, v2only), 401, "BAD_SIGNATURE")
    assert "version 1" in err["message"]
    h, _, _ = signed(edge, "POST", v2only, b"{}", tok, c, idem_key="order-4")
    assert post(h, v2only).status_code == 200


def test_two_idempotency_keys_one_forwarded(edge):
    # the edge signs and forwards one key (the last), never both
    tok, c = edge.token()
    url = "/api/signed/orders"
    h, _, _ = signed(edge, "POST", url, b"{}", tok, c, idem_key="second")
    h.pop("Idempotency-Key")
    head = "POST %s HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\n" \
        "Idempotency-Key: first\r\nIdempotency-Key: second\r\n%s" \
        "Content-Length: 2\r\nConnection: close\r\n\r\n{}" % (
            url, tok, "".join("%s: %s\r\n" % kv for kv in h.items()))
    s = socket.create_connection(("127.0.0.1", edge.edge_port), timeout=5)
    s.sendall(head.encode())
    resp = read_to_close(s)
    s.close()
    assert resp.startswith(b"HTTP/1.1 200"), resp[:300]
    assert b"\r\nX-Got-Idem: second\r\n" in resp, resp[:600]


def read_to_close(s):
    resp = b""
    while True:
        d = s.recv(65536)
        if not d:
            return resp
        resp += d


def test_invalid_signature_does_not_burn_nonce(edge):
    tok, c = edge.token()
    n = nonce()
    h, _, _ = signed(edge, "POST", "/api/signed/x", b"{}", tok, c, nonce=n)
    bad = dict(h, **{"X-Mall-Signature": "A" * 43})
    err = error_of(edge.get("/api/signed/x", tok, method="POST", data=b"{}",
                            headers=bad), 401, "BAD_SIGNATURE")
    assert err["message"] == "signature mismatch"
    assert edge.get("/api/signed/x", tok, method="POST", data=b"{}",
                    headers=dict(h)).status_code == 200


def test_sign_methods_default_to_writes(edge):
    # /api/ has mall_sign required with the default methods: a GET passes
    # on the token alone, a POST without a signature is refused.
    tok, _ = edge.token()
    assert edge.get("/api/writes/x", tok).status_code == 200
    error_of(edge.get("/api/writes/x", tok, method="POST", data=b"{}"), 401,
             "BAD_SIGNATURE")


def test_signature_checks_name_the_failing_part(edge):
    tok, c = edge.token()
    now = int(time.time())
    cases = [
        ({"ts": now - 400}, "timestamp outside window"),
        ({"nonce": "short"}, "nonce must be 16 to 64 characters"),
        ({"nonce": "a" * 20 + "!"}, "nonce has invalid characters"),
    ]
    for kw, message in cases:
        h, _, _ = signed(edge, "GET", "/api/signed/p", b"", tok, c, **kw)
        err = error_of(edge.get("/api/signed/p", tok, headers=h), 401,
                       "BAD_SIGNATURE")
        assert err["message"] == message
    err = error_of(edge.get("/api/signed/p", tok), 401, "BAD_SIGNATURE")
    assert err["message"] == "missing X-Mall-Signature header"
    # body changed after signing
    h, _, _ = signed(edge, "POST", "/api/signed/p", b'{"a":1}', tok, c)
    error_of(edge.get("/api/signed/p", tok, method="POST", data=b'{"a":2}',
                      headers=h), 401, "BAD_SIGNATURE")


def test_slow_body_is_read_without_blocking(edge):
    tok, c = edge.token()
    body = b'{"slow":true,"pad":"' + b"x" * 3000 + b'"}'
    h, _, _ = signed(edge, "POST", "/api/signed/slow", body, tok, c)
    s = socket.create_connection(("127.0.0.1", edge.edge_port))
    head = "POST /api/signed/slow HTTP/1.1\r\nHost: t\r\n" \
           "Authorization: Bearer %s\r\nContent-Length: %d\r\n" \
           "Connection: close\r\n" % (tok, len(body))
    head += "".join("%s: %s\r\n" % kv for kv in h.items()) + "\r\n"
    s.sendall(head.encode())
    for i in range(0, len(body), 1000):
        time.sleep(0.1)
        s.sendall(body[i:i + 1000])
    resp = read_to_close(s)
    assert resp.startswith(b"HTTP/1.1 200"), resp[:300]
    assert hashlib.sha256(body).hexdigest()  # body hash covered by signature


def test_reload_keeps_cache_and_deny_set(edge):
    tok, c = edge.token(sub="rl")
    assert edge.get("/api/x", tok).status_code == 200
    edge.redis("XADD", "mall:revoked", "*", "type", "jti", "jti", c["jti"],
               "exp", c["exp"])
    time.sleep(0.6)
    replays = edge.log().count('mall_auth: token "')
    subprocess.run(edge.nginx + ["-s", "reload"], check=True,
                   capture_output=True)
    time.sleep(1.5)
    for _ in range(4):
        error_of(edge.get("/api/x", tok), 401, "UNAUTHORIZED")
    # the new worker 0 resumed from the last id kept in shm: no replay
    assert edge.log().count('mall_auth: token "') == replays
