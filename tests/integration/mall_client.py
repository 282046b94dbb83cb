"""Client-side helpers for the integration tests.

Independent Python implementations of what a mini-program (and, for
direct-to-worker tests, the edge) does: mint ES256/HS256 JWTs, sign requests
per MISSION.md "Request signing, exactly", sign edge->worker requests per
lib/mall_edge_sig.h. They are written from the specs, not from our C code, so
a test that passes shows that both sides agree on the spec.
"""

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
import urllib.parse

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def read_secret(path) -> bytes:
    data = open(path, "rb").read()
    return data[:-1] if data.endswith(b"\n") else data


# --- tokens ---------------------------------------------------------------

P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def jwt_es256(private_pem_path, kid, claims, header_extra=None):
    key = serialization.load_pem_private_key(
        open(private_pem_path, "rb").read(), password=None)
    header = {"alg": "ES256", "kid": kid, "typ": "JWT"}
    header.update(header_extra or {})
    signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode())
                     + "." + b64url(json.dumps(claims, separators=(",", ":"),
                                               ensure_ascii=False).encode()))
    der = key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    # the edge accepts only low S (lib/mall_jwt.h): take the twin n - s
    if s > P256_ORDER // 2:
        s = P256_ORDER - s
    sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return signing_input + "." + b64url(sig)


def jwt_hs256(secret: bytes, kid, claims, alg="HS256"):
    header = {"alg": alg, "kid": kid, "typ": "JWT"}
    signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode())
                     + "." + b64url(json.dumps(claims, separators=(",", ":")).encode()))
    sig = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64url(sig)


def claims(sub="u1", aud="mall-mini", iss="mall-edge", ttl=3600, **extra):
    now = int(time.time())
    c = {"iss": iss, "aud": aud, "sub": sub, "iat": now, "exp": now + ttl,
         "jti": secrets.token_hex(12), "skid": "s1"}
    c.update(extra)
    return c


# --- client request signatures --------------------------------------------

def _enc(s: str) -> str:
    return urllib.parse.quote(s, safe="-._~")


def canonical_query(raw_query: str) -> str:
    params = []
    for part in raw_query.split("&") if raw_query else []:
        if part == "":
            continue
        name, sep, value = part.partition("=")
        params.append((urllib.parse.unquote_plus(name, errors="strict"),
                       urllib.parse.unquote_plus(value, errors="strict")))
    params.sort(key=lambda p: (p[0].encode(), p[1].encode()))
    return "&".join(_enc(n) + "=" + _enc(v) for n, v in params)


def derive_sign_key(secret: bytes, jti: str) -> str:
    return b64url(hmac.new(secret, b"mall-sign-v1:" + jti.encode(),
                           hashlib.sha256).digest())


def sign_headers(sign_key: str, method: str, target: str, body: bytes = b"",
                 ts=None, nonce=None, idem_key=None):
    """The signing headers; with idem_key (a string, "" for none) version 2,
    which covers the Idempotency-Key (returned too when not empty)."""
    path, _, query = target.partition("?")
    ts = str(int(time.time()) if ts is None else ts)
    nonce = nonce or secrets.token_urlsafe(18)
    lines = [method, path, canonical_query(query), ts, nonce]
    if idem_key is not None:
        lines.append(idem_key)
    canonical = "\n".join(lines + [hashlib.sha256(body).hexdigest()])
    sig = b64url(hmac.new(sign_key.encode(), canonical.encode(),
                          hashlib.sha256).digest())
    h = {"X-Mall-Timestamp": ts, "X-Mall-Nonce": nonce,
         "X-Mall-Signature": sig}
    if idem_key is not None:
        h["X-Mall-Sign-Version"] = "2"
        if idem_key:
            h["Idempotency-Key"] = idem_key
    return h


# --- edge -> worker signatures (for direct-to-worker tests) ---------------

def edge_headers(edge_key: bytes, method, uri, body=b"", user="", role="",
                 token_id="", token_exp="", client_ip="127.0.0.1",
                 request_id=None, kid="e1", ts=None, idem_key="", risk=""):
    """The edge's headers (lib/mall_edge_sig.h, mall-edge-v2); with
    idem_key, the Idempotency-Key header it covers too; with risk, the
    X-Mall-Risk line of a tagged request."""
    request_id = request_id or secrets.token_hex(16)
    ts = str(int(time.time()) if ts is None else ts)
    canonical = "\n".join(["mall-edge-v2", method, uri, request_id, client_ip,
                           user, role, token_id, str(token_exp), ts, idem_key,
                           hashlib.sha256(body).hexdigest()])
    if risk:
        # X-Mall-Risk of a tagged request: one more line, only when set
        canonical += "\n" + risk
    sig = b64url(hmac.new(edge_key, canonical.encode(), hashlib.sha256).digest())
    h = {"X-Request-Id": request_id, "X-Mall-Client-Ip": client_ip,
         "X-Mall-User": user, "X-Mall-Role": role,
         "X-Mall-Token-Id": token_id, "X-Mall-Token-Exp": str(token_exp),
         "X-Mall-Edge-Ts": ts, "X-Mall-Edge-Kid": kid,
         "X-Mall-Edge-Signature": sig}
    if idem_key:
        h["Idempotency-Key"] = idem_key
    if risk:
        h["X-Mall-Risk"] = risk
    return h


def nonce():
    return b64url(os.urandom(18))
