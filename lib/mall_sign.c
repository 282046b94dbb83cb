/*
 * Client request signatures (see mall_sign.h and MISSION.md, "Request
 * signing, exactly"). Everything works in caller-provided buffers; the
 * query canonicaliser is linear in the query plus an insertion sort of at
 * most MALL_SIGN_MAX_PARAMS entries.
 */
#include <string.h>

#include "mall_b64.h"
#include "mall_crypto.h"
#include "mall_sign.h"

#define SIGN_DERIVE_PREFIX  "mall-sign-v1:"
#define SIGN_JTI_MAX        256


/*
 * Percent-decodes src[0..len) into dst ('+' is a space); returns the
 * decoded length or -1 on a truncated or non-hex %XX.
 */
static long
sign_decode(const char *src, size_t len, char *dst)
{
    size_t  i, o;
    int     hi, lo;

    o = 0;
    for (i = 0; i < len; i++) {
        if (src[i] == '+') {
            dst[o++] = ' ';

        } else if (src[i] == '%') {
            if (len - i < 3) {
                return -1;
            }
            hi = mall_hex_digit(src[i + 1]);
            lo = mall_hex_digit(src[i + 2]);
            if (hi < 0 || lo < 0) {
                return -1;
            }
            dst[o++] = (char) (hi << 4 | lo);
            i += 2;

        } else {
            dst[o++] = src[i];
        }
    }
    return (long) o;
}


/* RFC 3986 unreserved: ALPHA / DIGIT / "-" / "." / "_" / "~" */
static int
sign_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
           || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'
           || c == '~';
}


int
mall_sign_pct_encode(const char *s, size_t len, char *out, size_t *pos,
    size_t max)
{
    static const char  hex[] = "0123456789ABCDEF";
    size_t             i;
    unsigned char      c;

    for (i = 0; i < len; i++) {
        c = (unsigned char) s[i];
        if (sign_unreserved(c)) {
            if (*pos + 1 > max) {
                return -1;
            }
            out[(*pos)++] = (char) c;

        } else {
            if (*pos + 3 > max) {
                return -1;
            }
            out[(*pos)++] = '%';
            out[(*pos)++] = hex[c >> 4];
            out[(*pos)++] = hex[c & 0x0f];
        }
    }
    return 0;
}


/* Bytewise order of two strings, a shorter prefix first. */
static int
sign_bytecmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int  r;

    r = memcmp(a, b, alen < blen ? alen : blen);
    if (r != 0) {
        return r;
    }
    return alen < blen ? -1 : (alen > blen ? 1 : 0);
}


static int
sign_param_cmp(const mall_sign_param_t *a, const mall_sign_param_t *b)
{
    int  r;

    r = sign_bytecmp(a->name, a->name_len, b->name, b->name_len);
    if (r != 0) {
        return r;
    }
    return sign_bytecmp(a->value, a->value_len, b->value, b->value_len);
}


/*
 * Out is bounded by 3 * qlen + 1: every byte may become "%XX", and a lone
 * parameter without '=' gains the '=' ("!" -> "%21="); the bound is checked
 * anyway so a caller's short buffer is never overrun.
 */
long
mall_sign_canonical_query(const char *q, size_t qlen,
    mall_sign_param_t *params, size_t max_params, char *scratch, char *out)
{
    long                n;
    size_t              i, j, start, end, eq, np, pos, sp, max;
    mall_sign_param_t   t;

    if (max_params > MALL_SIGN_MAX_PARAMS) {
        max_params = MALL_SIGN_MAX_PARAMS;
    }

    np = 0;
    sp = 0;
    start = 0;

    while (start < qlen) {
        end = start;
        while (end < qlen && q[end] != '&') {
            end++;
        }

        if (end > start) {              /* "a=1&&b=2": skip the empty one */
            if (np >= max_params) {
                return -1;
            }

            eq = start;
            while (eq < end && q[eq] != '=') {
                eq++;
            }

            n = sign_decode(q + start, eq - start, scratch + sp);
            if (n < 0) {
                return -1;
            }
            params[np].name = scratch + sp;
            params[np].name_len = (size_t) n;
            sp += (size_t) n;

            if (eq < end) {
                n = sign_decode(q + eq + 1, end - eq - 1, scratch + sp);
                if (n < 0) {
                    return -1;
                }
            } else {
                n = 0;
            }
            params[np].value = scratch + sp;
            params[np].value_len = (size_t) n;
            sp += (size_t) n;
            np++;
        }

        start = end + 1;
    }

    /* insertion sort: stable, no recursion, n <= 64 */
    for (i = 1; i < np; i++) {
        t = params[i];
        for (j = i; j > 0 && sign_param_cmp(&params[j - 1], &t) > 0; j--) {
            params[j] = params[j - 1];
        }
        params[j] = t;
    }

    max = MALL_SIGN_CQUERY_SIZE(qlen);
    pos = 0;
    for (i = 0; i < np; i++) {
        if (i > 0) {
            if (pos + 1 > max) {
                return -1;
            }
            out[pos++] = '&';
        }
        if (mall_sign_pct_encode(params[i].name, params[i].name_len, out,
                                 &pos, max)
            != 0
            || pos + 1 > max)
        {
            return -1;
        }
        out[pos++] = '=';
        if (mall_sign_pct_encode(params[i].value, params[i].value_len, out,
                                 &pos, max)
            != 0)
        {
            return -1;
        }
    }

    return (long) pos;
}


/* Joins n parts with '\n' into out[outsz]; the length, or -1. */
static long
sign_join(const char **part, const size_t *plen, size_t n, char *out,
    size_t outsz)
{
    size_t  i, pos, len;

    len = n - 1;                        /* the newlines */
    for (i = 0; i < n; i++) {
        if (plen[i] > outsz) {
            return -1;
        }
        len += plen[i];
    }
    if (len > outsz || len > (size_t) 0x7fffffff) {
        return -1;
    }

    pos = 0;
    for (i = 0; i < n; i++) {
        if (i > 0) {
            out[pos++] = '\n';
        }
        if (plen[i] > 0) {
            memcpy(out + pos, part[i], plen[i]);
            pos += plen[i];
        }
    }
    return (long) pos;
}


long
mall_sign_canonical(const char *method, size_t method_len,
    const char *path, size_t path_len, const char *cquery, size_t cquery_len,
    const char *ts, size_t ts_len, const char *nonce, size_t nonce_len,
    const char body_sha256_hex[64], char *out, size_t outsz)
{
    const char  *part[6];
    size_t       plen[6];

    part[0] = method;            plen[0] = method_len;
    part[1] = path;              plen[1] = path_len;
    part[2] = cquery;            plen[2] = cquery_len;
    part[3] = ts;                plen[3] = ts_len;
    part[4] = nonce;             plen[4] = nonce_len;
    part[5] = body_sha256_hex;   plen[5] = MALL_SHA256_HEX_LEN;

    return sign_join(part, plen, 6, out, outsz);
}


long
mall_sign_canonical_v2(const char *method, size_t method_len,
    const char *path, size_t path_len, const char *cquery, size_t cquery_len,
    const char *ts, size_t ts_len, const char *nonce, size_t nonce_len,
    const char *idem, size_t idem_len, const char body_sha256_hex[64],
    char *out, size_t outsz)
{
    const char  *part[7];
    size_t       plen[7];

    part[0] = method;            plen[0] = method_len;
    part[1] = path;              plen[1] = path_len;
    part[2] = cquery;            plen[2] = cquery_len;
    part[3] = ts;                plen[3] = ts_len;
    part[4] = nonce;             plen[4] = nonce_len;
    part[5] = idem;              plen[5] = idem_len;
    part[6] = body_sha256_hex;   plen[6] = MALL_SHA256_HEX_LEN;

    return sign_join(part, plen, 7, out, outsz);
}


void
mall_sign_compute_keyed(const mall_hmac_key_t *key, const char *canonical,
    size_t len, char out[MALL_SIGN_SIG_LEN])
{
    uint8_t  mac[MALL_SHA256_LEN];

    mall_hmac_sha256_keyed(key, canonical, len, mac);
    mall_b64url_encode(mac, sizeof(mac), out);
}


int
mall_sign_compute(const char *key, size_t keylen, const char *canonical,
    size_t len, char out[MALL_SIGN_SIG_LEN])
{
    mall_hmac_key_t  k;

    mall_hmac_key_init(&k, key, keylen);
    mall_sign_compute_keyed(&k, canonical, len, out);
    mall_hmac_key_wipe(&k);
    return 0;
}


int
mall_sign_derive_key_keyed(const mall_hmac_key_t *secret, const char *jti,
    size_t jti_len, char out[MALL_SIGN_KEY_LEN])
{
    char     msg[sizeof(SIGN_DERIVE_PREFIX) - 1 + SIGN_JTI_MAX];
    uint8_t  mac[MALL_SHA256_LEN];
    size_t   plen;

    if (jti_len > SIGN_JTI_MAX) {
        return -1;
    }

    plen = sizeof(SIGN_DERIVE_PREFIX) - 1;
    memcpy(msg, SIGN_DERIVE_PREFIX, plen);
    if (jti_len > 0) {
        memcpy(msg + plen, jti, jti_len);
    }

    mall_hmac_sha256_keyed(secret, msg, plen + jti_len, mac);
    mall_b64url_encode(mac, sizeof(mac), out);
    return 0;
}


int
mall_sign_derive_key(const uint8_t *secret, size_t secret_len,
    const char *jti, size_t jti_len, char out[MALL_SIGN_KEY_LEN])
{
    int              rc;
    mall_hmac_key_t  k;

    mall_hmac_key_init(&k, secret, secret_len);
    rc = mall_sign_derive_key_keyed(&k, jti, jti_len, out);
    mall_hmac_key_wipe(&k);
    return rc;
}
