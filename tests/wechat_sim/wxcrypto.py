"""WeChat Pay v3 cryptography, shared by the simulator and its tests.

Everything here follows ../shared/WECHAT.md (beside the repo): SHA256withRSA (PKCS#1 v1.5)
signatures in base64, the `WECHATPAY2-SHA256-RSA2048` Authorization header
and AEAD_AES_256_GCM resources whose base64 ciphertext ends with the 16-byte
GCM tag.  Standard library + `cryptography` only.
"""

import base64
import re
import secrets
import string

from cryptography import x509
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

AUTH_SCHEME = "WECHATPAY2-SHA256-RSA2048"
SIGNTEST_PREFIX = "WECHATPAY/SIGNTEST/"
_ALNUM = string.ascii_letters + string.digits


def random_nonce(n=32):
    """Random alphanumeric string, as WeChat uses for nonces."""
    return "".join(secrets.choice(_ALNUM) for _ in range(n))


# --- keys ---------------------------------------------------------------------

def load_private_key(path):
    with open(path, "rb") as f:
        return serialization.load_pem_private_key(f.read(), password=None)


def load_public_key(path):
    """A PEM public key, or the public key of a PEM certificate.

    Returns (key, cert_serial_hex_or_None)."""
    with open(path, "rb") as f:
        data = f.read()
    if b"BEGIN CERTIFICATE" in data:
        cert = x509.load_pem_x509_certificate(data)
        return cert.public_key(), "%X" % cert.serial_number
    return serialization.load_pem_public_key(data), None


# --- signatures ---------------------------------------------------------------

def rsa_sign(private_key, message):
    """base64(SHA256withRSA(message)); message is bytes or str (UTF-8)."""
    if isinstance(message, str):
        message = message.encode()
    sig = private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(sig).decode()


def rsa_verify(public_key, message, signature_b64):
    """True when signature_b64 is a valid SHA256withRSA signature."""
    if isinstance(message, str):
        message = message.encode()
    try:
        sig = base64.b64decode(signature_b64, validate=True)
        public_key.verify(sig, message, padding.PKCS1v15(), hashes.SHA256())
        return True
    except (InvalidSignature, ValueError, TypeError):
        return False


def request_message(method, canonical_url, timestamp, nonce, body):
    """The string a merchant signs: every line ends with \\n, even the last."""
    if isinstance(body, str):
        body = body.encode()
    head = "%s\n%s\n%s\n%s\n" % (method, canonical_url, timestamp, nonce)
    return head.encode() + body + b"\n"


def response_message(timestamp, nonce, body):
    """What WeChat signs in responses and notifications: ts\\nnonce\\nbody\\n."""
    if isinstance(body, str):
        body = body.encode()
    return ("%s\n%s\n" % (timestamp, nonce)).encode() + body + b"\n"


def build_authorization(mchid, serial_no, private_key, method, canonical_url,
                        body, timestamp, nonce=None):
    """The Authorization header value a merchant sends (used by tests)."""
    nonce = nonce or random_nonce()
    msg = request_message(method, canonical_url, str(timestamp), nonce, body)
    sig = rsa_sign(private_key, msg)
    return ('%s mchid="%s",nonce_str="%s",timestamp="%s",serial_no="%s",'
            'signature="%s"' % (AUTH_SCHEME, mchid, nonce, timestamp,
                                serial_no, sig))


_PAIR = re.compile(r'\s*([a-z_]+)="([^"]*)"\s*')


def parse_authorization(value):
    """Parse `SCHEME k="v",k="v"...` (pairs in any order).

    Returns (scheme, dict) or raises ValueError with the reason."""
    if not value:
        raise ValueError("missing Authorization header")
    scheme, _, rest = value.strip().partition(" ")
    if scheme != AUTH_SCHEME:
        raise ValueError("unsupported authorization scheme")
    params = {}
    for part in rest.split(","):
        m = _PAIR.fullmatch(part)
        if not m:
            raise ValueError("malformed authorization parameter")
        if m.group(1) in params:
            raise ValueError("duplicate authorization parameter")
        params[m.group(1)] = m.group(2)
    for need in ("mchid", "nonce_str", "timestamp", "serial_no", "signature"):
        if not params.get(need):
            raise ValueError("authorization lacks %s" % need)
    return scheme, params


# --- AEAD resources -----------------------------------------------------------

def _bytes(v):
    return v.encode() if isinstance(v, str) else v


def aead_encrypt(key, nonce, associated_data, plaintext):
    """base64(AES-GCM ciphertext || 16-byte tag); AES-128/256 by key length."""
    ct = AESGCM(_bytes(key)).encrypt(_bytes(nonce), _bytes(plaintext),
                                     _bytes(associated_data) or None)
    return base64.b64encode(ct).decode()


def aead_decrypt(key, nonce, associated_data, ciphertext_b64):
    """Inverse of aead_encrypt; raises ValueError when the tag is wrong."""
    raw = base64.b64decode(ciphertext_b64)
    if len(raw) < 16:
        raise ValueError("ciphertext shorter than the GCM tag")
    try:
        return AESGCM(_bytes(key)).decrypt(_bytes(nonce), raw,
                                           _bytes(associated_data) or None)
    except InvalidTag as e:
        raise ValueError("GCM tag mismatch") from e
