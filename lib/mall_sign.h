/*
 * Client request signatures (MISSION.md, "Request signing, exactly"):
 *
 *   canonical = METHOD \n PATH \n QUERY \n TIMESTAMP \n NONCE \n
 *               hex(SHA256(body))
 *   X-Mall-Signature = base64url_nopad(HMAC-SHA256(sign_key, canonical))
 *
 * Version 2 (the request says X-Mall-Sign-Version: 2) adds the
 * Idempotency-Key header's value (empty when there is none) before the
 * body hash: METHOD \n PATH \n QUERY \n TIMESTAMP \n NONCE \n
 * IDEMPOTENCY_KEY \n hex(SHA256(body)). A v2 string has one line more than
 * a v1 string and no field can hold a newline, so the two never collide.
 *
 * QUERY: parameters percent-decoded ('+' is a space, a parameter without
 * '=' has an empty value), sorted by name then value (bytewise), each
 * re-encoded per RFC 3986 (unreserved A-Z a-z 0-9 - . _ ~ kept, everything
 * else %XX uppercase), joined by '&'.
 *
 * The sign key is derived, never stored: sign_key =
 * base64url_nopad(HMAC-SHA256(secret[skid], "mall-sign-v1:" + jti)), so any
 * edge node holding the secrets can verify from the access token alone.
 */
#ifndef MALL_SIGN_H
#define MALL_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include "mall_crypto.h"

#define MALL_SIGN_MAX_PARAMS   64   /* more query parameters are refused */
#define MALL_SIGN_KEY_LEN      43   /* base64url of 32 bytes */
#define MALL_SIGN_SIG_LEN      43

/* Scratch the query canonicaliser needs; callers provide it (stack/pool). */
typedef struct {
    const char  *name;
    size_t       name_len;
    const char  *value;
    size_t       value_len;
} mall_sign_param_t;

/*
 * Buffer sizes of mall_sign_canonical_query() for a query of qlen bytes:
 * decoding never grows, and every byte may become "%XX" while a last
 * parameter without '=' gains one ("!" -> "%21=", 4 bytes from 1). Callers
 * size their buffers with these, not with a formula of their own.
 */
#define MALL_SIGN_SCRATCH_SIZE(qlen)  (qlen)
#define MALL_SIGN_CQUERY_SIZE(qlen)   (3 * (qlen) + 1)

/*
 * Percent-encodes len bytes of s as RFC 3986 (unreserved kept, the rest
 * %XX uppercase) into out at *pos, advancing it, unless that would pass
 * max bytes: -1 then (out partly written). No NUL. 0 on success. Also
 * what the workers use for application/x-www-form-urlencoded values.
 */
int mall_sign_pct_encode(const char *s, size_t len, char *out, size_t *pos,
    size_t max);

/*
 * Canonical QUERY from the raw query string (without '?'). scratch must hold
 * MALL_SIGN_SCRATCH_SIZE(qlen) bytes for decoded names and values; out
 * must hold MALL_SIGN_CQUERY_SIZE(qlen) bytes.
 * Returns the canonical length, or -1 on bad percent-encoding or too many
 * parameters.
 */
long mall_sign_canonical_query(const char *q, size_t qlen,
    mall_sign_param_t *params, size_t max_params,
    char *scratch, char *out);

/*
 * Builds the canonical string into out (outsz bytes) and returns its length
 * or -1 if it does not fit. body_sha256_hex is 64 lowercase hex digits.
 */
long mall_sign_canonical(const char *method, size_t method_len,
    const char *path, size_t path_len, const char *cquery, size_t cquery_len,
    const char *ts, size_t ts_len, const char *nonce, size_t nonce_len,
    const char body_sha256_hex[64], char *out, size_t outsz);

/*
 * The version 2 canonical string: the same with idem (the Idempotency-Key,
 * idem_len 0 when absent) as the line before the body hash.
 */
long mall_sign_canonical_v2(const char *method, size_t method_len,
    const char *path, size_t path_len, const char *cquery, size_t cquery_len,
    const char *ts, size_t ts_len, const char *nonce, size_t nonce_len,
    const char *idem, size_t idem_len, const char body_sha256_hex[64],
    char *out, size_t outsz);

/* X-Mall-Signature for a canonical string: 43 chars, no NUL. */
int mall_sign_compute(const char *key, size_t keylen, const char *canonical,
    size_t len, char out[MALL_SIGN_SIG_LEN]);

/* Per-session sign key from the derivation secret and the token's jti. */
int mall_sign_derive_key(const uint8_t *secret, size_t secret_len,
    const char *jti, size_t jti_len, char out[MALL_SIGN_KEY_LEN]);

/* The same two with a prepared HMAC key (mall_crypto.h): for hot paths. */
void mall_sign_compute_keyed(const mall_hmac_key_t *key,
    const char *canonical, size_t len, char out[MALL_SIGN_SIG_LEN]);
int mall_sign_derive_key_keyed(const mall_hmac_key_t *secret,
    const char *jti, size_t jti_len, char out[MALL_SIGN_KEY_LEN]);

#endif
