/*
 * Response helpers. Every reply is JSON; errors use the contract's shape
 * {"error":{"code","message","request_id"}}. X-Request-Id is set by the
 * server before the handler runs.
 */
#ifndef MALL_REPLY_H
#define MALL_REPLY_H

#include <stddef.h>
#include <cjson/cJSON.h>

#include "mall_ctx.h"

/* Adds a response header (before the reply). MALL_OK or MALL_ERR. */
int mall_reply_header(mall_ctx_t *ctx, const char *name, const char *value);

/* Sends body[0..len) as application/json with status. MALL_OK/MALL_ERR. */
int mall_reply_raw(mall_ctx_t *ctx, int status, const char *body,
    size_t len);

/* Prints root (not freed: the caller owns it) and sends it. */
int mall_reply_json(mall_ctx_t *ctx, int status, const cJSON *root);

/*
 * mall_reply_json with Cache-Control: no-store, for answers no cache may
 * keep (tokens, account and back-office views, validation errors).
 */
int mall_reply_json_nostore(mall_ctx_t *ctx, int status, const cJSON *root);

/*
 * mall_reply_json_nostore of a document the call then deletes; MALL_ERR
 * (nothing sent) when root is NULL (it could not be built).
 */
int mall_reply_json_drop(mall_ctx_t *ctx, int status, cJSON *root);

/*
 * Sends the contract error with Cache-Control: no-store. Returns MALL_OK
 * once the reply is queued, so handlers can "return mall_reply_error(..)".
 */
int mall_reply_error(mall_ctx_t *ctx, int status, const char *code,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Reason phrase for a status code. */
const char *mall_reply_reason(int status);

#endif
