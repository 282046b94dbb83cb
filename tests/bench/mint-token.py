#!/usr/bin/python3
"""Mint a bench access token and its request-signing key.

Usage: mint-token.py KEYS_DIR [SUB]

Reads KEYS_DIR/jwt-k1.pem (EC P-256 private key) and KEYS_DIR/sign-s1.key
(the sign-key derivation secret, its bytes as stored, trailing newline
stripped) and prints two lines:

    <ES256 JWT, header kid k1, claims iss/aud/sub/jti/iat/exp/skid>
    <sign_key = base64url_nopad(HMAC-SHA256(secret, "mall-sign-v1:" + jti))>

This is what the workers issue at login (MISSION.md, lib/mall_jwt.h,
lib/mall_sign.h), done here so the bench does not need the workers.
"""
import base64
import hashlib
import hmac
import json
import os
import sys
import time

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def main() -> int:
    if len(sys.argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    keys = sys.argv[1]
    sub = sys.argv[2] if len(sys.argv) == 3 else "bench-user-1"

    with open(os.path.join(keys, "jwt-k1.pem"), "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    with open(os.path.join(keys, "sign-s1.key"), "rb") as f:
        secret = f.read().rstrip(b"\r\n")

    now = int(time.time())
    jti = os.urandom(16).hex()
    header = {"alg": "ES256", "typ": "JWT", "kid": "k1"}
    claims = {"iss": "mall-edge", "aud": "mall-mini", "sub": sub, "jti": jti,
              "iat": now, "exp": now + 86400, "skid": "s1"}

    signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode())
                     + "." +
                     b64url(json.dumps(claims, separators=(",", ":")).encode()))
    der = key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    # the edge accepts only low S (lib/mall_jwt.h): take the twin n - s
    if s > P256_ORDER // 2:
        s = P256_ORDER - s
    sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")

    sign_key = b64url(hmac.new(secret, b"mall-sign-v1:" + jti.encode(),
                               hashlib.sha256).digest())

    print(signing_input + "." + b64url(sig))
    print(sign_key)
    return 0


if __name__ == "__main__":
    sys.exit(main())
