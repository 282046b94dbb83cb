/*
 * Request helpers shared by the identity handlers: JSON bodies, caller
 * checks (shopper or admin role) and the user profile document.
 */
#ifndef AUTH_HTTP_H
#define AUTH_HTTP_H

#include <stdint.h>
#include <cjson/cJSON.h>

#include "auth_store.h"
#include "mall_ctx.h"

/*
 * Parses the body as a JSON object into *root (caller cJSON_Deletes).
 * On failure replies 400 VALIDATION_FAILED and returns MALL_ERR.
 */
int auth_body_object(mall_ctx_t *ctx, cJSON **root);

/*
 * String member name of root with 1..maxlen bytes and no control
 * characters, or NULL (absent, wrong type, empty, too long).
 */
const char *auth_json_str(const cJSON *root, const char *name,
    size_t maxlen);

/*
 * The caller must be a shopper (numeric user id from the edge). Replies
 * 401 UNAUTHORIZED and returns MALL_ERR otherwise.
 */
int auth_require_user(mall_ctx_t *ctx);

/*
 * The caller must be an admin token ("admin:<name>" subject) whose role is
 * role, or any admin role when role is NULL. Replies 401 (anonymous) or
 * 403 FORBIDDEN (other role) and returns MALL_ERR otherwise.
 */
int auth_require_admin(mall_ctx_t *ctx, const char *role);

/* Profile document of u: id, nickname, avatar_url, phone (masked or
 * null), created_at. NULL when memory runs out. */
cJSON *auth_profile_json(const auth_conf_t *a, const auth_user_t *u);

/* Retry-After + the contract error in one call. */
int auth_reply_retry(mall_ctx_t *ctx, int status, const char *code,
    int retry_after, const char *msg);

/* Replies 500 after logging why (err) for the request. */
int auth_reply_internal(mall_ctx_t *ctx, int rc, const char *what,
    const mall_err_t *err);

/* 1 when s is valid UTF-8 of 1..maxchars code points without control
 * characters and not only spaces. */
int auth_utf8_text(const char *s, size_t maxchars);

#endif
