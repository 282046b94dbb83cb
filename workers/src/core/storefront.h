/*
 * Helpers shared by the shopper's own resources (cart, addresses,
 * favourites, history): who the caller is, JSON bodies, private replies.
 * The edge has verified the access token; ctx->ident.user is the user id.
 */
#ifndef STOREFRONT_H
#define STOREFRONT_H

#include <stdint.h>
#include <cjson/cJSON.h>

#include "mall_ctx.h"

#define SF_UID_MAX  65

/*
 * Copies the caller's user id into uid, or replies 401 UNAUTHORIZED (no
 * user, or a user id that is not [A-Za-z0-9:_-]{1,64}, so it is safe
 * inside a key). MALL_OK, or MALL_ERR once the reply is sent.
 */
int sf_require_user(mall_ctx_t *ctx, char uid[SF_UID_MAX]);

/*
 * Parses the request body as a JSON object into *out (caller deletes),
 * or replies 400 VALIDATION_FAILED. MALL_OK or MALL_ERR (replied).
 */
int sf_body(mall_ctx_t *ctx, cJSON **out);

/* Replies with root and Cache-Control: private, no-store. */
int sf_reply(mall_ctx_t *ctx, int status, const cJSON *root);

/* The same for a body already printed (JSON text). */
int sf_reply_raw(mall_ctx_t *ctx, int status, const char *json, size_t len);

/* Replies 422 VALIDATION_FAILED naming the field ("field": name). */
int sf_reply_invalid(mall_ctx_t *ctx, const char *field, const char *msg);

/* Reads an integer path parameter; 0 when absent or not a positive id. */
int64_t sf_param_id(mall_ctx_t *ctx, const char *name);

/*
 * Reads what a handler acts on, once its caller is checked: the id path
 * parameter param (else replies 404 NOT_FOUND with the message missing)
 * and, when body is not NULL, the JSON object body (see sf_body; caller
 * deletes). MALL_OK, or MALL_ERR once the reply is sent.
 */
int sf_target(mall_ctx_t *ctx, const char *param, const char *missing,
    int64_t *id, cJSON **body);

/* Replies {"<name>": id, "<flag>": true}, e.g. flag "deleted". */
int sf_reply_ack(mall_ctx_t *ctx, int status, const char *name, int64_t id,
    const char *flag);

/*
 * Reads page (1..) and size (1..max, default def) from the query, or
 * replies 400. MALL_OK or MALL_ERR (replied).
 */
int sf_page(mall_ctx_t *ctx, long long def, long long max, long long *page,
    long long *size);

/* Logs a failed storefront call (for MALL_ERR without a reply). */
void sf_log_fail(mall_ctx_t *ctx, const char *what, const mall_err_t *err);

/*
 * Ends a handler whose step failed with rc: MALL_RETRY passes through
 * (Redis is down); anything else is logged as what, unless a reply has
 * gone out, and becomes MALL_ERR.
 */
int sf_fail(mall_ctx_t *ctx, int rc, const char *what, const mall_err_t *err);

/*
 * Records a view of product id in the caller's history (LREM + LPUSH +
 * LTRIM in one MULTI). MALL_OK, MALL_ERR, MALL_RETRY.
 */
int sf_history_record(mall_ctx_t *ctx, const char *uid, int64_t id,
    mall_err_t *err);

#endif
