/*
 * Edge -> worker request signatures (see mall_edge_sig.h for the canonical
 * form). The canonical string is built in a fixed stack buffer: no
 * allocation, bounded work.
 */
#include <string.h>

#include "mall_b64.h"
#include "mall_crypto.h"
#include "mall_edge_sig.h"

#define EDGE_CANON_MAX  8192
#define EDGE_PREFIX     "mall-edge-v2"


/* Appends s and a '\n'; -1 when it would not fit. */
static int
edge_append(char *buf, size_t *pos, const char *s, size_t len, int newline)
{
    size_t  room;

    room = EDGE_CANON_MAX - *pos;
    if (len > room || (size_t) newline > room - len) {
        return -1;
    }
    if (len > 0) {
        memcpy(buf + *pos, s, len);
        *pos += len;
    }
    if (newline) {
        buf[(*pos)++] = '\n';
    }
    return 0;
}


/* Writes the raw 32-byte MAC of the canonical string; 0 or -1. */
static int
edge_mac(const mall_hmac_key_t *key, const mall_edge_fields_t *f,
    uint8_t mac[MALL_SHA256_LEN])
{
    char    buf[EDGE_CANON_MAX];
    size_t  pos;

    pos = 0;
    if (f->body_sha256_hex == NULL
        || edge_append(buf, &pos, EDGE_PREFIX, sizeof(EDGE_PREFIX) - 1, 1)
        || edge_append(buf, &pos, f->method, f->method_len, 1)
        || edge_append(buf, &pos, f->uri, f->uri_len, 1)
        || edge_append(buf, &pos, f->request_id, f->request_id_len, 1)
        || edge_append(buf, &pos, f->client_ip, f->client_ip_len, 1)
        || edge_append(buf, &pos, f->user, f->user_len, 1)
        || edge_append(buf, &pos, f->role, f->role_len, 1)
        || edge_append(buf, &pos, f->token_id, f->token_id_len, 1)
        || edge_append(buf, &pos, f->token_exp, f->token_exp_len, 1)
        || edge_append(buf, &pos, f->ts, f->ts_len, 1)
        || edge_append(buf, &pos, f->idem_key, f->idem_key_len, 1)
        || edge_append(buf, &pos, f->body_sha256_hex, MALL_SHA256_HEX_LEN,
                       0))
    {
        return -1;
    }

    if (f->risk != NULL && f->risk_len > 0
        && (edge_append(buf, &pos, "\n", 1, 0)
            || edge_append(buf, &pos, f->risk, f->risk_len, 0)))
    {
        return -1;
    }

    mall_hmac_sha256_keyed(key, buf, pos, mac);
    return 0;
}


int
mall_edge_sign_keyed(const mall_hmac_key_t *key, const mall_edge_fields_t *f,
    char out[MALL_EDGE_SIG_LEN])
{
    uint8_t  mac[MALL_SHA256_LEN];

    if (edge_mac(key, f, mac) != 0) {
        return -1;
    }
    mall_b64url_encode(mac, sizeof(mac), out);
    return 0;
}


int
mall_edge_sign(const uint8_t *key, size_t keylen,
    const mall_edge_fields_t *f, char out[MALL_EDGE_SIG_LEN])
{
    int              rc;
    mall_hmac_key_t  k;

    mall_hmac_key_init(&k, key, keylen);
    rc = mall_edge_sign_keyed(&k, f, out);
    mall_hmac_key_wipe(&k);
    return rc;
}


int
mall_edge_verify(const uint8_t *key, size_t keylen,
    const mall_edge_fields_t *f, const char *sig, size_t sig_len)
{
    char  expect[MALL_EDGE_SIG_LEN];

    if (sig == NULL || sig_len != MALL_EDGE_SIG_LEN
        || mall_edge_sign(key, keylen, f, expect) != 0)
    {
        return 0;
    }
    return mall_ct_equal(expect, sizeof(expect), sig, sig_len);
}
