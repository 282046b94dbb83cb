/*
 * JWS compact tokens, ES256 and HS256 (see mall_jwt.h).
 *
 * parse() is pure structure (no crypto, no allocation, bounded by
 * MALL_JWT_MAX_LEN); verify() is one HMAC or one ECDSA verify with a key
 * loaded once at configuration time; check_claims() is arithmetic.
 *
 * The "aud" claim may be a string or an array of strings. claims.aud holds
 * the first audience as a C string; further audiences follow it in the
 * same buffer, each NUL-terminated, and an empty string ends the list
 * ("a\0b\0c\0\0"). parse() zero-fills the claims, so for a string audience
 * the list is just "a\0\0". mall_jwt_check_claims() walks the list.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>

#include "mall_b64.h"
#include "mall_crypto.h"
#include "mall_json_flat.h"
#include "mall_jwt.h"

#define JWT_HEADER_MEMBERS  16
#define JWT_CLAIM_MEMBERS   32
#define JWT_SEG_MAX         MALL_B64_DECODED_MAX(MALL_JWT_MAX_LEN)
#define JWT_ES256_SIG_LEN   64
#define JWT_HS256_SIG_LEN   32
#define JWT_JSON_MAX        4096        /* worst case escaped claims */
#define JWT_KEYFILE_MAX     16384


/* Exported for the unit tests (tests/unit/mall_jwt_internal.h). */
mall_jwt_rc_e mall_jwt_verify_signature(mall_jwt_alg_e alg,
    const mall_jwt_key_t *key, const char *input, size_t input_len,
    const uint8_t *sig, size_t sig_len);


const char *
mall_jwt_strerror(mall_jwt_rc_e rc)
{
    switch (rc) {
    case MALL_JWT_OK:             return "ok";
    case MALL_JWT_TOO_LONG:       return "token too long";
    case MALL_JWT_MALFORMED:      return "malformed token";
    case MALL_JWT_BAD_ALG:        return "unsupported or mismatched alg";
    case MALL_JWT_UNKNOWN_KID:    return "unknown key id";
    case MALL_JWT_BAD_SIGNATURE:  return "bad signature";
    case MALL_JWT_EXPIRED:        return "token expired";
    case MALL_JWT_NOT_YET_VALID:  return "token not yet valid";
    case MALL_JWT_BAD_ISSUER:     return "bad issuer";
    case MALL_JWT_BAD_AUDIENCE:   return "bad audience";
    case MALL_JWT_MISSING_CLAIM:  return "missing claim";
    case MALL_JWT_INTERNAL:       return "internal error";
    }
    return "unknown error";
}


/* strnlen() is POSIX, not C11: the nginx and -std=c11 builds both work. */
static size_t
jwt_strnlen(const char *s, size_t max)
{
    const char  *z;

    z = memchr(s, '\0', max);
    return z != NULL ? (size_t) (z - s) : max;
}


/* ---------------------------------------------------------------- parse */


/*
 * Copies an optional string member into out. Absent: 0 (out untouched).
 * Present but not a string, too long, or holding a NUL: -1.
 */
static int
jwt_opt_string(const mall_json_member_t *m, int n, const char *name,
    char *out, size_t outsz)
{
    const mall_json_member_t  *mb;

    mb = mall_json_flat_get(m, n, name);
    if (mb == NULL) {
        return 0;
    }
    return mall_json_flat_string(mb, out, outsz) < 0 ? -1 : 0;
}


/* A required non-empty string claim. */
static mall_jwt_rc_e
jwt_req_string(const mall_json_member_t *m, int n, const char *name,
    char *out, size_t outsz)
{
    const mall_json_member_t  *mb;

    mb = mall_json_flat_get(m, n, name);
    if (mb == NULL) {
        return MALL_JWT_MISSING_CLAIM;
    }
    if (mall_json_flat_string(mb, out, outsz) <= 0) {
        return MALL_JWT_MALFORMED;
    }
    return MALL_JWT_OK;
}


/* A required or optional integer claim. */
static mall_jwt_rc_e
jwt_int(const mall_json_member_t *m, int n, const char *name, int required,
    int64_t *out)
{
    const mall_json_member_t  *mb;

    mb = mall_json_flat_get(m, n, name);
    if (mb == NULL) {
        return required ? MALL_JWT_MISSING_CLAIM : MALL_JWT_OK;
    }
    return mall_json_flat_int(mb, out) == 0 ? MALL_JWT_OK
                                            : MALL_JWT_MALFORMED;
}


/*
 * "aud": a string, or a non-empty array of non-empty strings stored as a
 * NUL-separated list (see the file comment). The array was validated by
 * the JSON scanner, so only its shape is walked here.
 */
static mall_jwt_rc_e
jwt_audience(const mall_json_member_t *m, int n, char *aud, size_t audsz)
{
    int                        len;
    size_t                     pos, i;
    const char                *p, *end;
    mall_json_member_t         el;
    const mall_json_member_t  *mb;

    mb = mall_json_flat_get(m, n, "aud");
    if (mb == NULL) {
        return MALL_JWT_OK;
    }

    if (mb->type == MALL_JSON_STRING) {
        /* leave room for the list terminator */
        return mall_json_flat_string(mb, aud, audsz - 1) < 0
               ? MALL_JWT_MALFORMED : MALL_JWT_OK;
    }

    if (mb->type != MALL_JSON_ARRAY) {
        return MALL_JWT_MALFORMED;
    }

    p = mb->val + 1;
    end = mb->val + mb->val_len - 1;    /* at the closing ']' */
    pos = 0;

    for ( ;; ) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\n'
                           || *p == '\r'))
        {
            p++;
        }
        if (p >= end || *p != '"') {
            return MALL_JWT_MALFORMED;  /* empty array or not a string */
        }

        el.key = "";
        el.key_len = 0;
        el.type = MALL_JSON_STRING;
        el.val = ++p;
        el.escaped = 0;
        for (i = 0; p + i < end && p[i] != '"'; i++) {
            if (p[i] == '\\') {
                el.escaped = 1;
                i++;
            }
        }
        el.val_len = i;
        p += i + 1;

        /* each element plus its NUL, and one more NUL to end the list */
        if (pos + 2 > audsz) {
            return MALL_JWT_MALFORMED;
        }
        len = mall_json_flat_string(&el, aud + pos, audsz - pos - 1);
        if (len <= 0) {
            return MALL_JWT_MALFORMED;
        }
        pos += (size_t) len + 1;

        while (p < end && (*p == ' ' || *p == '\t' || *p == '\n'
                           || *p == '\r'))
        {
            p++;
        }
        if (p >= end) {
            break;
        }
        if (*p != ',') {
            return MALL_JWT_MALFORMED;
        }
        p++;
    }

    aud[pos] = '\0';
    return MALL_JWT_OK;
}


static mall_jwt_rc_e
jwt_parse_header(const uint8_t *json, size_t len, mall_jwt_t *jwt)
{
    int                        n;
    char                       alg[16], typ[16];
    mall_json_member_t         m[JWT_HEADER_MEMBERS];
    const mall_json_member_t  *mb;

    n = mall_json_flat_parse((const char *) json, len, m, JWT_HEADER_MEMBERS);
    if (n < 0) {
        return MALL_JWT_MALFORMED;
    }

    mb = mall_json_flat_get(m, n, "alg");
    if (mb == NULL || mall_json_flat_string(mb, alg, sizeof(alg)) < 0) {
        /* absent, not a string, or longer than any alg we know */
        return mb != NULL && mb->type == MALL_JSON_STRING
               ? MALL_JWT_BAD_ALG : MALL_JWT_MALFORMED;
    }
    if (strcmp(alg, "ES256") == 0) {
        jwt->alg = MALL_JWT_ALG_ES256;
    } else if (strcmp(alg, "HS256") == 0) {
        jwt->alg = MALL_JWT_ALG_HS256;
    } else {
        return MALL_JWT_BAD_ALG;        /* "none", "None", RS256, ... */
    }

    /* we implement no extension, so any "crit" must be refused */
    if (mall_json_flat_get(m, n, "crit") != NULL) {
        return MALL_JWT_MALFORMED;
    }

    mb = mall_json_flat_get(m, n, "typ");
    if (mb != NULL && (mall_json_flat_string(mb, typ, sizeof(typ)) < 0
                       || strcmp(typ, "JWT") != 0))
    {
        return MALL_JWT_MALFORMED;
    }

    mb = mall_json_flat_get(m, n, "kid");
    if (mb == NULL
        || mall_json_flat_string(mb, jwt->claims.kid,
                                 sizeof(jwt->claims.kid)) <= 0)
    {
        return MALL_JWT_MALFORMED;
    }

    return MALL_JWT_OK;
}


static mall_jwt_rc_e
jwt_parse_claims(const uint8_t *json, size_t len, mall_jwt_claims_t *c)
{
    int                 n;
    mall_jwt_rc_e       rc;
    mall_json_member_t  m[JWT_CLAIM_MEMBERS];

    n = mall_json_flat_parse((const char *) json, len, m, JWT_CLAIM_MEMBERS);
    if (n < 0) {
        return MALL_JWT_MALFORMED;
    }

    /* type and size errors first: a bad token is malformed, not missing */
    if (jwt_opt_string(m, n, "iss", c->iss, sizeof(c->iss)) != 0
        || jwt_opt_string(m, n, "role", c->role, sizeof(c->role)) != 0
        || jwt_opt_string(m, n, "skid", c->skid, sizeof(c->skid)) != 0
        || jwt_audience(m, n, c->aud, sizeof(c->aud)) != MALL_JWT_OK
        || jwt_int(m, n, "nbf", 0, &c->nbf) != MALL_JWT_OK)
    {
        return MALL_JWT_MALFORMED;
    }

    rc = jwt_req_string(m, n, "sub", c->sub, sizeof(c->sub));
    if (rc == MALL_JWT_OK) {
        rc = jwt_req_string(m, n, "jti", c->jti, sizeof(c->jti));
    }
    if (rc == MALL_JWT_OK) {
        rc = jwt_int(m, n, "iat", 1, &c->iat);
    }
    if (rc == MALL_JWT_OK) {
        rc = jwt_int(m, n, "exp", 1, &c->exp);
    }
    return rc;
}


mall_jwt_rc_e
mall_jwt_parse(const char *token, size_t len, mall_jwt_t *jwt)
{
    size_t         i, dot1, dot2, ndots, seglen;
    uint8_t        buf[JWT_SEG_MAX];
    mall_jwt_rc_e  rc;

    memset(jwt, 0, sizeof(*jwt));

    if (len > MALL_JWT_MAX_LEN) {
        return MALL_JWT_TOO_LONG;
    }
    if (token == NULL || len == 0) {
        return MALL_JWT_MALFORMED;
    }

    dot1 = 0;
    dot2 = 0;
    ndots = 0;
    for (i = 0; i < len; i++) {
        if (token[i] == '.') {
            if (++ndots == 1) {
                dot1 = i;
            } else {
                dot2 = i;
            }
        }
    }
    /* the signature may not be empty either, but "alg":"none" tokens
     * ("h.p.") are reported as BAD_ALG, so that check comes last */
    if (ndots != 2 || dot1 == 0 || dot2 == dot1 + 1) {
        return MALL_JWT_MALFORMED;
    }

    if (mall_b64url_decode(token, dot1, buf, &seglen) != 0) {
        return MALL_JWT_MALFORMED;
    }
    rc = jwt_parse_header(buf, seglen, jwt);
    if (rc != MALL_JWT_OK) {
        return rc;
    }

    if (mall_b64url_decode(token + dot1 + 1, dot2 - dot1 - 1, buf, &seglen)
        != 0)
    {
        return MALL_JWT_MALFORMED;
    }
    rc = jwt_parse_claims(buf, seglen, &jwt->claims);
    if (rc != MALL_JWT_OK) {
        return rc;
    }

    /* at most 64 bytes: 86 characters; the alg's exact size is verify's */
    if (dot2 == len - 1
        || len - dot2 - 1 > MALL_B64URL_ENCODED_LEN(sizeof(jwt->sig))
        || mall_b64url_decode(token + dot2 + 1, len - dot2 - 1, jwt->sig,
                              &jwt->sig_len) != 0)
    {
        return MALL_JWT_MALFORMED;
    }

    jwt->signing_input = token;
    jwt->signing_input_len = dot2;
    return MALL_JWT_OK;
}


/* --------------------------------------------------------------- verify */


/*
 * ECDSA signatures are malleable: (r, n - s) verifies wherever (r, s)
 * does, so one token would have two accepted strings (two cache entries,
 * two "different" tokens for one jti). Like Bitcoin's BIP 62 we accept
 * only the low S (s <= n / 2) and sign only low S. Big-endian, fixed
 * width: memcmp() orders them as numbers.
 */
static const uint8_t  jwt_p256_order[32] = {
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84,
    0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51
};

static const uint8_t  jwt_p256_half_order[32] = {
    0x7f, 0xff, 0xff, 0xff, 0x80, 0x00, 0x00, 0x00,
    0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xde, 0x73, 0x7d, 0x56, 0xd3, 0x8b, 0xcf, 0x42,
    0x79, 0xdc, 0xe5, 0x61, 0x7e, 0x31, 0x92, 0xa8
};


static int
jwt_es256_high_s(const uint8_t s[32])
{
    return memcmp(s, jwt_p256_half_order, 32) > 0;
}


/* s := n - s for 0 < s < n, in place (schoolbook borrow). */
static void
jwt_es256_negate_s(uint8_t s[32])
{
    int  i, d, borrow;

    borrow = 0;
    for (i = 31; i >= 0; i--) {
        d = (int) jwt_p256_order[i] - (int) s[i] - borrow;
        borrow = d < 0;
        s[i] = (uint8_t) (d + (borrow ? 256 : 0));
    }
}



static mall_jwt_rc_e
jwt_verify_es256(EVP_PKEY *pkey, const char *input, size_t input_len,
    const uint8_t *sig)
{
    int             der_len, ok;
    BIGNUM         *r, *s;
    uint8_t         der[80], *p;
    ECDSA_SIG      *es;
    EVP_MD_CTX     *ctx;
    mall_jwt_rc_e   rc;

    if (jwt_es256_high_s(sig + 32)) {
        return MALL_JWT_BAD_SIGNATURE;
    }

    es = ECDSA_SIG_new();
    r = BN_bin2bn(sig, 32, NULL);
    s = BN_bin2bn(sig + 32, 32, NULL);
    if (es == NULL || r == NULL || s == NULL || !ECDSA_SIG_set0(es, r, s)) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(es);
        return MALL_JWT_INTERNAL;
    }

    /* r and s now belong to es; DER of two 32-byte integers is <= 72 */
    p = der;
    der_len = i2d_ECDSA_SIG(es, &p);
    ECDSA_SIG_free(es);
    if (der_len <= 0 || der_len > (int) sizeof(der)) {
        return MALL_JWT_INTERNAL;
    }

    ctx = EVP_MD_CTX_new();
    if (ctx == NULL) {
        return MALL_JWT_INTERNAL;
    }

    rc = MALL_JWT_INTERNAL;
    if (EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pkey) == 1) {
        ok = EVP_DigestVerify(ctx, der, (size_t) der_len,
                              (const unsigned char *) input, input_len);
        /* 0 is a wrong signature, < 0 a malformed one: both are bad */
        rc = ok == 1 ? MALL_JWT_OK : MALL_JWT_BAD_SIGNATURE;
    }

    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return rc;
}


/*
 * Checks sig over input with key for alg. The key must be of that alg, so
 * an HS256 token never reaches an EC public key used as an HMAC secret.
 */
mall_jwt_rc_e
mall_jwt_verify_signature(mall_jwt_alg_e alg, const mall_jwt_key_t *key,
    const char *input, size_t input_len, const uint8_t *sig, size_t sig_len)
{
    uint8_t  mac[MALL_SHA256_LEN];

    if (alg == MALL_JWT_ALG_NONE || key->alg != alg) {
        return MALL_JWT_BAD_ALG;
    }

    if (alg == MALL_JWT_ALG_ES256) {
        if (key->pkey == NULL) {
            return MALL_JWT_INTERNAL;
        }
        if (sig_len != JWT_ES256_SIG_LEN) {
            return MALL_JWT_BAD_SIGNATURE;
        }
        return jwt_verify_es256(key->pkey, input, input_len, sig);
    }

    if (alg != MALL_JWT_ALG_HS256) {
        return MALL_JWT_BAD_ALG;
    }
    if (key->secret_len == 0 || key->secret_len > sizeof(key->secret)) {
        return MALL_JWT_INTERNAL;
    }
    if (sig_len != JWT_HS256_SIG_LEN) {
        return MALL_JWT_BAD_SIGNATURE;
    }
    if (mall_hmac_sha256(key->secret, key->secret_len, input, input_len, mac)
        != 0)
    {
        return MALL_JWT_INTERNAL;
    }
    return mall_ct_equal(mac, sizeof(mac), sig, sig_len)
           ? MALL_JWT_OK : MALL_JWT_BAD_SIGNATURE;
}


mall_jwt_rc_e
mall_jwt_verify(const mall_jwt_t *jwt, const mall_jwt_key_t *keys,
    size_t nkeys)
{
    size_t  i;

    if (jwt == NULL || jwt->signing_input == NULL) {
        return MALL_JWT_MALFORMED;
    }

    for (i = 0; i < nkeys; i++) {
        if (keys[i].kid[0] != '\0'
            && strcmp(keys[i].kid, jwt->claims.kid) == 0)
        {
            return mall_jwt_verify_signature(jwt->alg, &keys[i],
                                             jwt->signing_input,
                                             jwt->signing_input_len,
                                             jwt->sig, jwt->sig_len);
        }
    }
    return MALL_JWT_UNKNOWN_KID;
}


/* --------------------------------------------------------------- claims */


/* Walks the NUL-separated audience list of c->aud (see file comment). */
static int
jwt_has_audience(const mall_jwt_claims_t *c, const char *aud)
{
    size_t  pos, n;

    pos = 0;
    while (pos < sizeof(c->aud) && c->aud[pos] != '\0') {
        n = jwt_strnlen(c->aud + pos, sizeof(c->aud) - pos);
        if (n == sizeof(c->aud) - pos) {
            return 0;                   /* unterminated: not ours */
        }
        if (strcmp(c->aud + pos, aud) == 0) {
            return 1;
        }
        pos += n + 1;
    }
    return 0;
}


mall_jwt_rc_e
mall_jwt_check_claims(const mall_jwt_claims_t *c, int64_t now,
    int64_t leeway, const char *iss, const char *aud)
{
    if (leeway < 0) {
        leeway = 0;
    }

    if (c->exp <= now - leeway) {
        return MALL_JWT_EXPIRED;
    }
    if (c->nbf > now + leeway || c->iat > now + leeway) {
        return MALL_JWT_NOT_YET_VALID;
    }
    if (iss != NULL
        && strncmp(c->iss, iss, sizeof(c->iss)) != 0)
    {
        return MALL_JWT_BAD_ISSUER;
    }
    if (aud != NULL && !jwt_has_audience(c, aud)) {
        return MALL_JWT_BAD_AUDIENCE;
    }
    return MALL_JWT_OK;
}


/* ----------------------------------------------------------------- sign */


typedef struct {
    char    *buf;
    size_t   len;
    size_t   size;
    int      overflow;
} jwt_out_t;


static void
jwt_put(jwt_out_t *o, const char *s, size_t n)
{
    if (o->overflow || n > o->size - o->len) {
        o->overflow = 1;
        return;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}


/* "name": then the JSON-escaped string s of at most max bytes. */
static int
jwt_put_string(jwt_out_t *o, const char *name, const char *s, size_t max,
    int comma)
{
    static const char  hex[] = "0123456789abcdef";
    char               esc[6];
    size_t             i, n;
    unsigned char      ch;

    n = jwt_strnlen(s, max);
    if (n == max) {
        return -1;                      /* not NUL-terminated in its field */
    }

    if (comma) {
        jwt_put(o, ",", 1);
    }
    jwt_put(o, "\"", 1);
    jwt_put(o, name, strlen(name));
    jwt_put(o, "\":\"", 3);

    for (i = 0; i < n; i++) {
        ch = (unsigned char) s[i];
        if (ch == '"' || ch == '\\') {
            esc[0] = '\\';
            esc[1] = (char) ch;
            jwt_put(o, esc, 2);
        } else if (ch < 0x20) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[ch >> 4];
            esc[5] = hex[ch & 0x0f];
            jwt_put(o, esc, 6);
        } else {
            jwt_put(o, (const char *) &ch, 1);
        }
    }
    jwt_put(o, "\"", 1);
    return 0;
}


static void
jwt_put_int(jwt_out_t *o, const char *name, int64_t v)
{
    char  num[48];
    int   n;

    n = snprintf(num, sizeof(num), ",\"%s\":%lld", name, (long long) v);
    if (n < 0 || (size_t) n >= sizeof(num)) {
        o->overflow = 1;
        return;
    }
    jwt_put(o, num, (size_t) n);
}


/* Claims JSON: iss, sub, aud, iat, nbf, exp, jti, role, skid. */
static int
jwt_claims_json(const mall_jwt_claims_t *c, jwt_out_t *o)
{
    int  comma;

    comma = 0;
    jwt_put(o, "{", 1);
    if (c->iss[0] != '\0') {
        if (jwt_put_string(o, "iss", c->iss, sizeof(c->iss), comma) != 0) {
            return -1;
        }
        comma = 1;
    }
    if (jwt_put_string(o, "sub", c->sub, sizeof(c->sub), comma) != 0) {
        return -1;
    }
    /* parse keeps a byte of c->aud for the list's terminator: what does
     * not fit there would be issued and then refused */
    if (c->aud[0] != '\0'
        && jwt_put_string(o, "aud", c->aud, sizeof(c->aud) - 1, 1) != 0)
    {
        return -1;
    }
    jwt_put_int(o, "iat", c->iat);
    if (c->nbf != 0) {
        jwt_put_int(o, "nbf", c->nbf);
    }
    jwt_put_int(o, "exp", c->exp);
    if (jwt_put_string(o, "jti", c->jti, sizeof(c->jti), 1) != 0
        || (c->role[0] != '\0'
            && jwt_put_string(o, "role", c->role, sizeof(c->role), 1) != 0)
        || (c->skid[0] != '\0'
            && jwt_put_string(o, "skid", c->skid, sizeof(c->skid), 1) != 0))
    {
        return -1;
    }
    jwt_put(o, "}", 1);
    return 0;
}


static mall_jwt_rc_e
jwt_sign_es256(EVP_PKEY *pkey, const char *input, size_t input_len,
    uint8_t sig[JWT_ES256_SIG_LEN])
{
    size_t           der_len;
    uint8_t          der[80];
    const uint8_t   *p;
    EVP_MD_CTX      *ctx;
    ECDSA_SIG       *es;
    const BIGNUM    *r, *s;
    mall_jwt_rc_e    rc;

    ctx = EVP_MD_CTX_new();
    if (ctx == NULL) {
        return MALL_JWT_INTERNAL;
    }

    rc = MALL_JWT_INTERNAL;
    der_len = sizeof(der);
    if (EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, pkey) == 1
        && EVP_DigestSign(ctx, der, &der_len, (const unsigned char *) input,
                          input_len) == 1)
    {
        p = der;
        es = d2i_ECDSA_SIG(NULL, &p, (long) der_len);
        if (es != NULL) {
            ECDSA_SIG_get0(es, &r, &s);
            /* JWS wants fixed-width big-endian r || s, zero-padded */
            if (BN_bn2binpad(r, sig, 32) == 32
                && BN_bn2binpad(s, sig + 32, 32) == 32)
            {
                /* OpenSSL returns either S; the verifiers take low S */
                if (jwt_es256_high_s(sig + 32)) {
                    jwt_es256_negate_s(sig + 32);
                }
                rc = MALL_JWT_OK;
            }
            ECDSA_SIG_free(es);
        }
    }

    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return rc;
}


mall_jwt_rc_e
mall_jwt_sign(const mall_jwt_key_t *key, const mall_jwt_claims_t *c,
    char *out, size_t outsz, size_t *outlen)
{
    int                 n;
    char                json[JWT_JSON_MAX];
    size_t              pos, siglen, hlen;
    uint8_t             sig[JWT_ES256_SIG_LEN];
    jwt_out_t           o;
    const char         *alg;
    mall_jwt_rc_e       rc;
    mall_json_member_t  m[JWT_CLAIM_MEMBERS];

    if (key->alg == MALL_JWT_ALG_ES256 && key->pkey != NULL) {
        alg = "ES256";
        siglen = JWT_ES256_SIG_LEN;
    } else if (key->alg == MALL_JWT_ALG_HS256 && key->secret_len > 0
               && key->secret_len <= sizeof(key->secret))
    {
        alg = "HS256";
        siglen = JWT_HS256_SIG_LEN;
    } else {
        return MALL_JWT_BAD_ALG;
    }

    if (key->kid[0] == '\0') {
        return MALL_JWT_MALFORMED;
    }

    /* header, then its base64url straight into out */
    o.buf = json;
    o.len = 0;
    o.size = sizeof(json);
    o.overflow = 0;
    jwt_put(&o, "{\"alg\":\"", 8);
    jwt_put(&o, alg, 5);
    jwt_put(&o, "\"", 1);
    if (jwt_put_string(&o, "kid", key->kid, sizeof(key->kid), 1) != 0) {
        return MALL_JWT_MALFORMED;
    }
    jwt_put(&o, ",\"typ\":\"JWT\"}", 13);
    if (o.overflow) {
        return MALL_JWT_TOO_LONG;
    }
    hlen = o.len;

    if (outsz == 0
        || MALL_B64URL_ENCODED_LEN(hlen) + 1 > outsz - 1)
    {
        return MALL_JWT_TOO_LONG;
    }
    pos = mall_b64url_encode((const uint8_t *) json, hlen, out);
    out[pos++] = '.';

    o.len = 0;
    if (jwt_claims_json(c, &o) != 0) {
        return MALL_JWT_MALFORMED;
    }
    if (o.overflow) {
        return MALL_JWT_TOO_LONG;
    }

    /* what we issue must be what we accept (UTF-8, sizes, types) */
    n = mall_json_flat_parse(json, o.len, m, JWT_CLAIM_MEMBERS);
    if (n < 0 || c->sub[0] == '\0' || c->jti[0] == '\0') {
        return MALL_JWT_MALFORMED;
    }

    if (MALL_B64URL_ENCODED_LEN(o.len) + 1
        + MALL_B64URL_ENCODED_LEN(siglen) + 1 > outsz - pos
        || pos + MALL_B64URL_ENCODED_LEN(o.len) + 1
           + MALL_B64URL_ENCODED_LEN(siglen) > MALL_JWT_MAX_LEN)
    {
        return MALL_JWT_TOO_LONG;
    }
    pos += mall_b64url_encode((const uint8_t *) json, o.len, out + pos);

    if (siglen == JWT_ES256_SIG_LEN) {
        rc = jwt_sign_es256(key->pkey, out, pos, sig);
        if (rc != MALL_JWT_OK) {
            return rc;
        }
    } else if (mall_hmac_sha256(key->secret, key->secret_len, out, pos, sig)
               != 0)
    {
        return MALL_JWT_INTERNAL;
    }

    out[pos++] = '.';
    pos += mall_b64url_encode(sig, siglen, out + pos);
    out[pos] = '\0';
    OPENSSL_cleanse(sig, sizeof(sig));

    if (outlen != NULL) {
        *outlen = pos;
    }
    return MALL_JWT_OK;
}


/* ----------------------------------------------------------------- keys */


/* Never prompts for a passphrase: encrypted keys simply fail to load. */
static int
jwt_no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void) buf;
    (void) size;
    (void) rwflag;
    (void) u;
    return -1;
}


/* Reads up to max bytes of path into buf; -1 if larger or unreadable. */
static long
jwt_read_file(const char *path, uint8_t *buf, size_t max)
{
    FILE    *f;
    size_t   n;
    int      err;

    f = fopen(path, "rb");
    if (f == NULL) {
        return -1;
    }
    n = fread(buf, 1, max + 1, f);
    err = ferror(f);
    fclose(f);
    if (err || n > max) {
        return -1;
    }
    return (long) n;
}


static int
jwt_load_pem(mall_jwt_key_t *key, const uint8_t *pem, size_t len,
    char *err, size_t errsz)
{
    int        nid;
    char       group[64];
    BIO       *bio;
    size_t     glen;
    EVP_PKEY  *pkey;

    bio = BIO_new_mem_buf(pem, (int) len);
    if (bio == NULL) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    pkey = PEM_read_bio_PrivateKey(bio, NULL, jwt_no_passphrase, NULL);
    BIO_free(bio);

    if (pkey == NULL) {
        bio = BIO_new_mem_buf(pem, (int) len);
        if (bio == NULL) {
            snprintf(err, errsz, "out of memory");
            return -1;
        }
        pkey = PEM_read_bio_PUBKEY(bio, NULL, jwt_no_passphrase, NULL);
        BIO_free(bio);
    }
    ERR_clear_error();

    if (pkey == NULL) {
        snprintf(err, errsz, "no PEM public or private key");
        return -1;
    }

    nid = NID_undef;
    if (EVP_PKEY_is_a(pkey, "EC")
        && EVP_PKEY_get_group_name(pkey, group, sizeof(group), &glen) == 1)
    {
        nid = OBJ_txt2nid(group);
    }
    ERR_clear_error();

    if (nid != NID_X9_62_prime256v1) {
        EVP_PKEY_free(pkey);
        snprintf(err, errsz, "not an EC P-256 key");
        return -1;
    }

    key->pkey = pkey;
    return 0;
}


int
mall_jwt_key_load(mall_jwt_key_t *key, const char *kid, mall_jwt_alg_e alg,
    const char *path, char *err, size_t errsz)
{
    int      rc;
    long     n;
    size_t   len;
    uint8_t  buf[JWT_KEYFILE_MAX];
    char     dummy[1];

    if (err == NULL || errsz == 0) {
        err = dummy;
        errsz = sizeof(dummy);
    }

    memset(key, 0, sizeof(*key));

    if (kid == NULL || kid[0] == '\0' || strlen(kid) >= sizeof(key->kid)) {
        snprintf(err, errsz, "key id empty or longer than %d bytes",
                 MALL_JWT_ID_MAX - 1);
        return -1;
    }

    if (alg != MALL_JWT_ALG_ES256 && alg != MALL_JWT_ALG_HS256) {
        snprintf(err, errsz, "unsupported key algorithm");
        return -1;
    }

    n = jwt_read_file(path, buf, sizeof(buf) - 1);
    if (n < 0) {
        snprintf(err, errsz, "cannot read key file \"%s\"", path);
        return -1;
    }
    len = (size_t) n;

    if (alg == MALL_JWT_ALG_ES256) {
        rc = jwt_load_pem(key, buf, len, err, errsz);

    } else {
        if (len > 0 && buf[len - 1] == '\n') {
            len--;
        }
        if (len < 32 || len > sizeof(key->secret)) {
            snprintf(err, errsz, "HS256 secret must be 32..64 bytes");
            rc = -1;
        } else {
            memcpy(key->secret, buf, len);
            key->secret_len = len;
            rc = 0;
        }
    }

    OPENSSL_cleanse(buf, (size_t) n);

    if (rc != 0) {
        memset(key, 0, sizeof(*key));
        return -1;
    }

    memcpy(key->kid, kid, strlen(kid) + 1);
    key->alg = alg;
    return 0;
}


void
mall_jwt_key_free(mall_jwt_key_t *key)
{
    if (key == NULL) {
        return;
    }
    EVP_PKEY_free(key->pkey);
    OPENSSL_cleanse(key, sizeof(*key));
}
