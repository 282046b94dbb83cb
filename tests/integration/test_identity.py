"""Identity at the edge, workers side: WeChat login, tokens the edge
verifies, refresh rotation with reuse detection, logout and freeze
revocations that every edge applies within seconds, the profile, phone
numbers sealed at rest, and the merchant admin login with lockout and
audit."""

import base64
import hashlib
import hmac
import json
import os
import secrets
import subprocess
import threading
import time

import pytest
import requests
from cryptography.hazmat.primitives import padding, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from conftest import assert_json_error
from mall_client import claims, edge_headers, jwt_es256, read_secret, sign_headers

ADMIN_PASSWORD = "admin-dev-password"


# --- helpers ----------------------------------------------------------------

def uniq(prefix):
    return "%s%s~1" % (prefix, secrets.token_hex(6))


def login(stack, code):
    r = stack.request("POST", "/api/v1/auth/wx-login", json={"code": code})
    assert r.status_code == 200, r.text
    return r.json()


def bearer(token):
    return {"Authorization": "Bearer " + token}


def me(stack, token):
    return stack.get("/api/v1/users/me", headers=bearer(token))


def signed(stack, method, path, session, body=None):
    data = json.dumps(body).encode() if body is not None else b""
    h = bearer(session["access_token"])
    h.update(sign_headers(session["sign_key"], method, path, data))
    if data:
        h["Content-Type"] = "application/json"
    return stack.request(method, path, data=data, headers=h)


def wait_refused(stack, token, seconds=5.0):
    """Polls users/me until the edge refuses token; returns the answer."""
    deadline = time.time() + seconds
    while True:
        r = me(stack, token)
        if r.status_code == 401 or time.time() > deadline:
            return r
        time.sleep(0.1)


def admin_login(stack, username=None, password=ADMIN_PASSWORD, ip=None):
    headers = {"X-Forwarded-For": ip} if ip else {}
    return stack.request("POST", "/admin/api/v1/auth/login", headers=headers,
                         json={"username": username or "admin",
                               "password": password})


def admin_token(stack):
    r = admin_login(stack)
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def create_admin(stack, username, role, password):
    """An account as mall-admin/mall-seed would store it, hashed here with
    Python's PBKDF2 (an independent implementation of the format)."""
    salt = os.urandom(16)
    dk = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 200000)
    stored = "pbkdf2-sha256$200000$%s$%s" % (
        base64.b64encode(salt).decode(), base64.b64encode(dk).decode())
    stack.redis("HSET", "mall:admin:" + username, "username", username,
                "role", role, "password", stored)


def sim_session_key(stack, code):
    """The simulator's session_key for code (tests/wechat_sim/sim.py)."""
    appid = read_secret(stack.key("wechat/appid"))
    return hmac.new(appid, ("session_key|" + code).encode(),
                    hashlib.sha256).digest()[:16]


def audit_entries(stack, count=200):
    r = stack.get("/admin/api/v1/audit?count=%d" % count,
                  headers=bearer(admin_token(stack)))
    assert r.status_code == 200, r.text
    return r.json()["entries"]


# --- login and profile --------------------------------------------------------

def test_login_then_me(stack):
    s = login(stack, uniq("alice"))
    assert s["token_type"] == "Bearer"
    assert 0 < s["expires_in"] <= 7200
    assert s["refresh_expires_in"] > s["expires_in"]
    assert len(s["sign_key"]) == 43
    assert "session_key" not in json.dumps(s)
    user = s["user"]
    assert isinstance(user["id"], int)
    assert user["nickname"] and user["phone"] is None

    r = me(stack, s["access_token"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"] == user["id"]
    assert body["phone"] is None
    assert isinstance(body["created_at"], int)

    # the token's claims are what the contract says
    payload = s["access_token"].split(".")[1]
    c = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert c["iss"] == "mall-edge" and c["aud"] == "mall-mini"
    assert c["sub"] == str(user["id"]) and c["skid"] == "s1"
    assert c["exp"] - c["iat"] == 7200 and len(c["jti"]) >= 16


def test_same_wechat_user_same_account(stack):
    name = "bob" + secrets.token_hex(6)
    a = login(stack, name + "~1")
    b = login(stack, name + "~2")
    assert a["user"]["id"] == b["user"]["id"]
    assert a["access_token"] != b["access_token"]
    other = login(stack, uniq("carl"))
    assert other["user"]["id"] != a["user"]["id"]


def test_concurrent_first_logins_make_one_user(stack):
    name = "race" + secrets.token_hex(6)
    ids, errors = [], []

    def go(i):
        try:
            ids.append(login(stack, "%s~%d" % (name, i))["user"]["id"])
        except AssertionError as e:        # pragma: no cover - reported
            errors.append(str(e))
    threads = [threading.Thread(target=go, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(ids) == 8 and len(set(ids)) == 1, ids


def test_session_key_only_sealed_at_rest(stack):
    code = uniq("sealed")
    s = login(stack, code)
    stored = stack.redis("HGET", "mall:user:%d" % s["user"]["id"],
                         "session_key").strip()
    assert stored.startswith("d1:"), stored
    real = base64.b64encode(sim_session_key(stack, code)).decode()
    assert real not in stored
    assert real not in json.dumps(s)


@pytest.mark.parametrize("code,status,err,retry", [
    ("invalid-code", 401, "UNAUTHORIZED", None),
    ("busy-now", 503, "UPSTREAM_BUSY", "1"),
    ("limit-reached", 429, "RATE_LIMITED", "any"),
    ("risky-user", 403, "RISK_BLOCKED", None),
])
def test_wechat_errors_map_to_contract(stack, code, status, err, retry):
    r = stack.request("POST", "/api/v1/auth/wx-login", json={"code": code})
    e = assert_json_error(r, status, err)
    if code.startswith("invalid"):
        assert e["message"] == "invalid or expired login code"
    if retry == "1":
        assert r.headers.get("Retry-After") == "1"
    elif retry:
        assert int(r.headers["Retry-After"]) > 0


@pytest.mark.parametrize("body", [b"", b"not json", b"[]", b'{"code": 5}',
                                  b'{"code": ""}', b'{"other": "x"}'])
def test_login_bad_body(stack, body):
    r = stack.request("POST", "/api/v1/auth/wx-login", data=body,
                      headers={"Content-Type": "application/json"})
    assert_json_error(r, 400, "VALIDATION_FAILED")


def test_anonymous_refused(stack):
    assert_json_error(stack.get("/api/v1/users/me"), 401, "UNAUTHORIZED")
    # straight to a worker with a valid edge signature but no user
    key = read_secret(stack.key("edge-e1.key"))
    h = edge_headers(key, "GET", "/api/v1/users/me")
    r = requests.get(stack.worker + "/api/v1/users/me", headers=h, timeout=10)
    assert_json_error(r, 401, "UNAUTHORIZED")


def test_direct_to_worker_without_edge_signature(stack):
    s = login(stack, uniq("direct"))
    r = requests.get(stack.worker + "/api/v1/users/me", timeout=10,
                     headers={"X-Mall-User": str(s["user"]["id"]),
                              "Authorization": "Bearer " + s["access_token"]})
    assert_json_error(r, 401, "UNAUTHORIZED")
    r = requests.post(stack.worker + "/admin/api/v1/users/%d/freeze"
                      % s["user"]["id"], timeout=10,
                      headers={"X-Mall-User": "admin:admin",
                               "X-Mall-Role": "admin"})
    assert_json_error(r, 401, "UNAUTHORIZED")


def test_client_identity_headers_are_ignored(stack):
    victim = login(stack, uniq("victim"))
    me_ = login(stack, uniq("mallory"))
    h = bearer(me_["access_token"])
    h.update({"X-Mall-User": str(victim["user"]["id"]), "X-Mall-Role": "admin"})
    r = stack.get("/api/v1/users/me", headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["id"] == me_["user"]["id"]


def test_profile_patch(stack):
    s = login(stack, uniq("patch"))
    r = signed(stack, "PATCH", "/api/v1/users/me", s,
               {"nickname": "小明 Ming", "avatar_url": "https://img.example.com/a.png"})
    assert r.status_code == 200, r.text
    assert r.json()["nickname"] == "小明 Ming"
    body = me(stack, s["access_token"]).json()
    assert body["nickname"] == "小明 Ming"
    assert body["avatar_url"] == "https://img.example.com/a.png"

    for bad in ({"nickname": ""}, {"nickname": "x" * 33}, {"nickname": 5},
                {"nickname": "a\u0001b"}, {"avatar_url": "http://x.example/a"},
                {"avatar_url": "https://" + "a" * 510}, {}):
        r = signed(stack, "PATCH", "/api/v1/users/me", s, bad)
        assert r.status_code in (400, 422), (bad, r.text)
        assert r.json()["error"]["code"] == "VALIDATION_FAILED"
    # 32 characters of Chinese are fine (96 bytes)
    r = signed(stack, "PATCH", "/api/v1/users/me", s, {"nickname": "字" * 32})
    assert r.status_code == 200, r.text


def test_phone_by_code_sealed_and_masked(stack):
    s = login(stack, uniq("phone"))
    r = signed(stack, "POST", "/api/v1/users/me/phone", s,
               {"code": "phone-13800138000"})
    assert r.status_code == 200, r.text
    assert r.json() == {"phone": "138****8000"}
    assert me(stack, s["access_token"]).json()["phone"] == "138****8000"
    stored = stack.redis("HGET", "mall:user:%d" % s["user"]["id"], "phone")
    assert stored.startswith("d1:") and "13800138000" not in stored
    # the app access token is cached, sealed
    cached = stack.redis("GET", "mall:wx:access_token").strip()
    assert cached.startswith("d1:")

    r = signed(stack, "POST", "/api/v1/users/me/phone", s,
               {"code": "invalid-phone-code"})
    assert r.status_code in (400, 422)
    assert r.json()["error"]["code"] == "VALIDATION_FAILED"
    r = signed(stack, "POST", "/api/v1/users/me/phone", s, {})
    assert r.status_code in (400, 422)


def encrypt_wx(session_key, payload, iv):
    p = padding.PKCS7(128).padder()
    data = p.update(json.dumps(payload).encode()) + p.finalize()
    enc = Cipher(algorithms.AES(session_key), modes.CBC(iv)).encryptor()
    return base64.b64encode(enc.update(data) + enc.finalize()).decode()


def test_phone_by_encrypted_data(stack):
    code = uniq("oldpath")
    s = login(stack, code)
    key = sim_session_key(stack, code)
    appid = read_secret(stack.key("wechat/appid")).decode()
    iv = os.urandom(16)
    good = {"phoneNumber": "13912345678", "purePhoneNumber": "13912345678",
            "countryCode": "86", "watermark": {"appid": appid, "timestamp": 1}}
    r = signed(stack, "POST", "/api/v1/users/me/phone", s,
               {"encrypted_data": encrypt_wx(key, good, iv),
                "iv": base64.b64encode(iv).decode()})
    assert r.status_code == 200, r.text
    assert r.json()["phone"] == "139****5678"

    foreign = dict(good, watermark={"appid": "wxsomeoneelse0001", "timestamp": 1})
    r = signed(stack, "POST", "/api/v1/users/me/phone", s,
               {"encrypted_data": encrypt_wx(key, foreign, iv),
                "iv": base64.b64encode(iv).decode()})
    assert r.status_code in (400, 422), r.text
    # encrypted with another session's key
    r = signed(stack, "POST", "/api/v1/users/me/phone", s,
               {"encrypted_data": encrypt_wx(os.urandom(16), good, iv),
                "iv": base64.b64encode(iv).decode()})
    assert r.status_code in (400, 422), r.text


# --- logout and refresh --------------------------------------------------------

def test_logout_revokes_at_the_edge(stack):
    s = login(stack, uniq("logout"))
    assert me(stack, s["access_token"]).status_code == 200
    r = signed(stack, "POST", "/api/v1/auth/logout", s)
    assert r.status_code == 200, r.text
    assert r.json() == {"revoked": True}
    assert_json_error(wait_refused(stack, s["access_token"]), 401, "UNAUTHORIZED")
    # its refresh family is gone too
    r = stack.request("POST", "/api/v1/auth/refresh",
                      json={"refresh_token": s["refresh_token"]})
    assert_json_error(r, 401, "UNAUTHORIZED")


def test_refresh_rotation_and_reuse(stack):
    s = login(stack, uniq("rot"))
    r = stack.request("POST", "/api/v1/auth/refresh",
                      json={"refresh_token": s["refresh_token"]})
    assert r.status_code == 200, r.text
    n = r.json()
    assert n["refresh_token"] != s["refresh_token"]
    assert n["access_token"] != s["access_token"]
    assert n["user"]["id"] == s["user"]["id"]
    assert me(stack, n["access_token"]).status_code == 200

    # the old refresh token again: reuse -> the whole family is revoked
    r = stack.request("POST", "/api/v1/auth/refresh",
                      json={"refresh_token": s["refresh_token"]})
    e = assert_json_error(r, 401, "UNAUTHORIZED")
    assert e["message"] == "refresh token reuse detected"
    assert_json_error(wait_refused(stack, n["access_token"]), 401, "UNAUTHORIZED")
    assert_json_error(wait_refused(stack, s["access_token"]), 401, "UNAUTHORIZED")
    r = stack.request("POST", "/api/v1/auth/refresh",
                      json={"refresh_token": n["refresh_token"]})
    assert_json_error(r, 401, "UNAUTHORIZED")

    # refresh tokens are stored only as digests
    h = hashlib.sha256(n["refresh_token"].encode()).hexdigest()
    assert stack.redis("EXISTS", "mall:rt:" + h).strip() == "1"
    assert stack.redis("EXISTS", "mall:rt:" + n["refresh_token"]).strip() == "0"


def test_concurrent_refresh_exactly_one_wins(stack):
    for _ in range(3):
        s = login(stack, uniq("twin"))
        results = []
        barrier = threading.Barrier(4)

        def go():
            barrier.wait()
            r = requests.post(stack.edge + "/api/v1/auth/refresh", timeout=10,
                              json={"refresh_token": s["refresh_token"]})
            results.append(r.status_code)
        threads = [threading.Thread(target=go) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results).count(200) == 1, results
        assert all(c in (200, 401) for c in results), results


def test_refresh_garbage(stack):
    for tok in ("x", "A" * 43, secrets.token_urlsafe(32)):
        r = stack.request("POST", "/api/v1/auth/refresh",
                          json={"refresh_token": tok})
        assert_json_error(r, 401, "UNAUTHORIZED")
    r = stack.request("POST", "/api/v1/auth/refresh", json={})
    assert_json_error(r, 400, "VALIDATION_FAILED")


# --- admin ----------------------------------------------------------------------

def test_admin_login_and_audit(stack):
    r = admin_login(stack, ip="203.0.113.7")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["role"] == "admin" and body["expires_in"] <= 3600
    payload = body["access_token"].split(".")[1]
    c = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert c["aud"] == "mall-admin" and c["sub"] == "admin:admin"
    assert c["role"] == "admin"

    wrong = admin_login(stack, password="nope")
    unknown = admin_login(stack, username="nobody" + secrets.token_hex(4))
    e1 = assert_json_error(wrong, 401, "UNAUTHORIZED")
    e2 = assert_json_error(unknown, 401, "UNAUTHORIZED")
    assert e1["message"] == e2["message"]

    entries = audit_entries(stack)
    logins = [e for e in entries if e["action"] == "admin.login"]
    ok = [e for e in logins if e["request_id"] == r.headers["X-Request-Id"]]
    assert ok and ok[0]["result"] == "ok" and ok[0]["actor"] == "admin"
    assert ok[0]["ip"] == "203.0.113.7"
    failed = [e for e in logins if e["request_id"] == wrong.headers["X-Request-Id"]]
    assert failed and failed[0]["result"] == "fail"
    assert any(e["request_id"] == unknown.headers["X-Request-Id"]
               and e["result"] == "fail" for e in logins)

    # no password in clear anywhere in Redis
    dump = subprocess.run(
        ["sh", "-c", "redis-cli -p %d --scan | while read k; do "
         "t=$(redis-cli -p %d type \"$k\"); case $t in "
         "string) redis-cli -p %d get \"$k\";; hash) redis-cli -p %d hgetall \"$k\";; "
         "stream) redis-cli -p %d xrange \"$k\" - +;; esac; done"
         % ((stack.redis_port,) * 5)],
        capture_output=True, text=True, timeout=60).stdout
    assert "mall:admin:admin" in subprocess.run(
        ["redis-cli", "-p", str(stack.redis_port), "--scan"],
        capture_output=True, text=True).stdout
    assert ADMIN_PASSWORD not in dump
    assert "nope" not in dump.split()


def test_admin_lockout(stack):
    name = "locky" + secrets.token_hex(4)
    create_admin(stack, name, "operator", "right-password")
    assert admin_login(stack, name, "right-password").status_code == 200
    for _ in range(5):
        assert_json_error(admin_login(stack, name, "wrong"), 401, "UNAUTHORIZED")
    r = admin_login(stack, name, "right-password")
    assert_json_error(r, 429, "RATE_LIMITED")
    assert 0 < int(r.headers["Retry-After"]) <= 900
    # other accounts are not affected
    assert admin_login(stack).status_code == 200


def test_operator_is_not_admin(stack):
    name = "op" + secrets.token_hex(4)
    create_admin(stack, name, "operator", "op-password-1")
    r = admin_login(stack, name, "op-password-1")
    assert r.status_code == 200, r.text
    assert r.json()["role"] == "operator"
    tok = r.json()["access_token"]
    assert_json_error(stack.get("/admin/api/v1/audit", headers=bearer(tok)),
                      403, "FORBIDDEN")
    victim = login(stack, uniq("opvictim"))
    r = stack.request("POST", "/admin/api/v1/users/%d/freeze"
                      % victim["user"]["id"], headers=bearer(tok))
    assert_json_error(r, 403, "FORBIDDEN")
    assert me(stack, victim["access_token"]).status_code == 200
    # shopper tokens are not admin tokens (audience), and vice versa
    assert_json_error(stack.get("/admin/api/v1/audit",
                                headers=bearer(victim["access_token"])),
                      401, "UNAUTHORIZED")
    assert_json_error(me(stack, tok), 401, "UNAUTHORIZED")


def test_freeze_revokes_and_blocks_login(stack):
    code = uniq("frozen")
    s = login(stack, code)
    uid = s["user"]["id"]
    assert me(stack, s["access_token"]).status_code == 200
    adm = bearer(admin_token(stack))

    r = stack.request("POST", "/admin/api/v1/users/%d/freeze" % uid, headers=adm)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "frozen"
    assert_json_error(wait_refused(stack, s["access_token"]), 401, "UNAUTHORIZED")
    assert_json_error(stack.request("POST", "/api/v1/auth/wx-login",
                                    json={"code": code}), 403, "FORBIDDEN")
    r = stack.request("POST", "/api/v1/auth/refresh",
                      json={"refresh_token": s["refresh_token"]})
    assert r.status_code in (401, 403), r.text

    entries = [e for e in audit_entries(stack) if e["action"] == "user.freeze"
               and e.get("target") == "user:%d" % uid]
    assert entries and entries[0]["before"] == "active"
    assert entries[0]["after"] == "frozen" and entries[0]["actor"] == "admin"

    assert_json_error(stack.request("POST", "/admin/api/v1/users/999999999/freeze",
                                    headers=adm), 404, "NOT_FOUND")

    time.sleep(1.1)      # a new token must be issued after the freeze's "until"
    r = stack.request("POST", "/admin/api/v1/users/%d/unfreeze" % uid,
                      headers=adm, json={"reason": "reviewed"})
    assert r.status_code == 200, r.text
    again = login(stack, code)
    assert me(stack, again["access_token"]).status_code == 200


def test_key_rotation_second_kid(stack):
    s = login(stack, uniq("rotate"))
    key = ec.generate_private_key(ec.SECP256R1())
    priv = os.path.join(stack.keys_dir, "jwt-k2.pem")
    pub = os.path.join(stack.keys_dir, "jwt-k2.pub.pem")
    with open(priv, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    with open(pub, "wb") as f:
        f.write(key.public_key().public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo))
    stack.add_conf("jwt-k2.conf", "mall_auth_key k2 ES256 %s;\n" % pub)
    r = stack.reload()
    assert r.returncode == 0, r.stdout + r.stderr

    k2 = jwt_es256(priv, "k2", claims(sub=str(s["user"]["id"])))
    r = me(stack, k2)
    assert r.status_code == 200, r.text
    assert r.json()["id"] == s["user"]["id"]
    assert me(stack, s["access_token"]).status_code == 200
    # an unknown kid is still refused
    k3 = jwt_es256(priv, "k3", claims(sub=str(s["user"]["id"])))
    assert_json_error(me(stack, k3), 401, "UNAUTHORIZED")
