/*
 * Edge -> worker trust. The edge signs what it forwards; a worker refuses
 * any request without a valid signature, so a direct hit on a worker port,
 * or a client-forged X-Mall-User, gets 401.
 *
 * canonical = "mall-edge-v2" \n METHOD \n URI \n REQUEST_ID \n CLIENT_IP \n
 *             USER \n ROLE \n TOKEN_ID \n TOKEN_EXP \n TIMESTAMP \n
 *             IDEMPOTENCY_KEY \n hex(SHA256(body)) [ \n RISK ]
 * X-Mall-Edge-Signature =
 *     base64url_nopad(HMAC-SHA256(edge_key[kid], canonical))
 *
 * URI is the request target exactly as the worker receives it (path and
 * query). IDEMPOTENCY_KEY is the Idempotency-Key header the worker gets
 * (the workers decide by it which order, refund or claim a request is),
 * empty when there is none (v1 had no such line: issue 20, finding 5).
 * Empty fields stay as empty lines. Headers carrying the fields:
 * X-Request-Id, X-Mall-Client-Ip, X-Mall-User, X-Mall-Role, X-Mall-Token-Id,
 * X-Mall-Token-Exp, X-Mall-Edge-Ts, Idempotency-Key, X-Mall-Edge-Kid,
 * X-Mall-Edge-Signature.
 *
 * RISK is X-Mall-Risk, "<score>;<reasons>" of a request the edge tagged:
 * the line is there only when the header is not empty, so untagged
 * requests sign exactly as before, and a client-sent X-Mall-Risk (which the
 * edge replaces or drops) cannot pass a worker's check.
 */
#ifndef MALL_EDGE_SIG_H
#define MALL_EDGE_SIG_H

#include <stddef.h>
#include <stdint.h>

#include "mall_crypto.h"

#define MALL_EDGE_SIG_LEN  43

typedef struct {
    const char *method;      size_t method_len;
    const char *uri;         size_t uri_len;
    const char *request_id;  size_t request_id_len;
    const char *client_ip;   size_t client_ip_len;
    const char *user;        size_t user_len;
    const char *role;        size_t role_len;
    const char *token_id;    size_t token_id_len;
    const char *token_exp;   size_t token_exp_len;
    const char *ts;          size_t ts_len;
    const char *idem_key;    size_t idem_key_len;
    const char *body_sha256_hex;   /* 64 hex digits */
    const char *risk;        size_t risk_len;   /* NULL or "": untagged */
} mall_edge_fields_t;

/* Writes the 43-char signature (no NUL); 0, or -1 if the fields exceed 8 KB. */
int mall_edge_sign(const uint8_t *key, size_t keylen,
    const mall_edge_fields_t *f, char out[MALL_EDGE_SIG_LEN]);

/* The same with a key prepared once (mall_crypto.h), for the edge. */
int mall_edge_sign_keyed(const mall_hmac_key_t *key,
    const mall_edge_fields_t *f, char out[MALL_EDGE_SIG_LEN]);

/* Constant-time check of a received signature; 1 valid, 0 not. */
int mall_edge_verify(const uint8_t *key, size_t keylen,
    const mall_edge_fields_t *f, const char *sig, size_t sig_len);

#endif
