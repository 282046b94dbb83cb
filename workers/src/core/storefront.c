/*
 * Storefront helpers (see storefront.h).
 */
#include <stdio.h>
#include <string.h>

#include "catalog.h"
#include "mall_batch.h"
#include "mall_json.h"
#include "mall_log.h"
#include "mall_reply.h"
#include "storefront.h"

#define SF_HISTORY_MAX  "99"     /* LTRIM 0 99: 100 entries */


int
sf_require_user(mall_ctx_t *ctx, char uid[SF_UID_MAX])
{
    const char  *u = ctx->ident.user;
    size_t       i, len;

    len = strlen(u);
    if (!ctx->ident.verified || len == 0 || len >= SF_UID_MAX) {
        mall_reply_error(ctx, 401, "UNAUTHORIZED", "login required");
        return MALL_ERR;
    }
    for (i = 0; i < len; i++) {
        if (!((u[i] >= 'a' && u[i] <= 'z') || (u[i] >= 'A' && u[i] <= 'Z')
              || (u[i] >= '0' && u[i] <= '9') || u[i] == ':'
              || u[i] == '_' || u[i] == '-'))
        {
            mall_reply_error(ctx, 401, "UNAUTHORIZED", "login required");
            return MALL_ERR;
        }
    }
    memcpy(uid, u, len + 1);
    return MALL_OK;
}


int
sf_body(mall_ctx_t *ctx, cJSON **out)
{
    *out = mall_json_object(ctx->body, ctx->body_len);
    if (*out == NULL) {
        mall_reply_error(ctx, 400, "VALIDATION_FAILED",
                         "the body must be a JSON object");
        return MALL_ERR;
    }
    return MALL_OK;
}


int
sf_reply(mall_ctx_t *ctx, int status, const cJSON *root)
{
    mall_reply_header(ctx, "Cache-Control", "private, no-store");
    return mall_reply_json(ctx, status, root);
}


int
sf_reply_invalid(mall_ctx_t *ctx, const char *field, const char *msg)
{
    cJSON  *root, *e;
    int     rc;

    ctx->error_code = "VALIDATION_FAILED";
    root = cJSON_CreateObject();
    e = root != NULL ? cJSON_AddObjectToObject(root, "error") : NULL;
    if (e == NULL
        || cJSON_AddStringToObject(e, "code", "VALIDATION_FAILED") == NULL
        || cJSON_AddStringToObject(e, "message", msg) == NULL
        || cJSON_AddStringToObject(e, "field", field) == NULL
        || cJSON_AddStringToObject(e, "request_id", ctx->request_id) == NULL)
    {
        cJSON_Delete(root);
        return mall_reply_error(ctx, 422, "VALIDATION_FAILED", "%s: %s",
                                field, msg);
    }
    rc = mall_reply_json_nostore(ctx, 422, root);
    cJSON_Delete(root);
    return rc;
}


int64_t
sf_param_id(mall_ctx_t *ctx, const char *name)
{
    int64_t  id;

    if (catalog_parse_id(mall_route_param(&ctx->params, name), &id)
        != MALL_OK)
    {
        return 0;
    }
    return id;
}


int
sf_target(mall_ctx_t *ctx, const char *param, const char *missing,
    int64_t *id, cJSON **body)
{
    *id = sf_param_id(ctx, param);
    if (*id == 0) {
        mall_reply_error(ctx, 404, "NOT_FOUND", "%s", missing);
        return MALL_ERR;
    }
    return body != NULL ? sf_body(ctx, body) : MALL_OK;
}


int
sf_reply_ack(mall_ctx_t *ctx, int status, const char *name, int64_t id,
    const char *flag)
{
    cJSON  *root;
    int     rc;

    root = cJSON_CreateObject();
    if (root == NULL || mall_json_add_int(root, name, id) != MALL_OK
        || cJSON_AddBoolToObject(root, flag, 1) == NULL)
    {
        cJSON_Delete(root);
        return MALL_ERR;
    }
    rc = sf_reply(ctx, status, root);
    cJSON_Delete(root);
    return rc;
}


int
sf_page(mall_ctx_t *ctx, long long def, long long max, long long *page,
    long long *size)
{
    mall_err_t  err;

    if (mall_query_int(&ctx->query, "page", 1, 100000, 1, page, &err)
        != MALL_OK
        || mall_query_int(&ctx->query, "size", 1, max, def, size, &err)
           != MALL_OK)
    {
        mall_reply_error(ctx, 400, "VALIDATION_FAILED", "%s", err.msg);
        return MALL_ERR;
    }
    return MALL_OK;
}


int
sf_reply_raw(mall_ctx_t *ctx, int status, const char *json, size_t len)
{
    mall_reply_header(ctx, "Cache-Control", "private, no-store");
    return mall_reply_raw(ctx, status, json, len);
}


void
sf_log_fail(mall_ctx_t *ctx, const char *what, const mall_err_t *err)
{
    mall_log_req(MALL_LOG_ERROR, "storefront", ctx->request_id,
                 ctx->ident.user, "%s: %s", what,
                 err->msg[0] ? err->msg : "out of memory");
}


int
sf_fail(mall_ctx_t *ctx, int rc, const char *what, const mall_err_t *err)
{
    if (rc == MALL_RETRY) {
        return MALL_RETRY;
    }
    if (!ctx->replied) {
        sf_log_fail(ctx, what, err);
    }
    return MALL_ERR;
}


int
sf_history_record(mall_ctx_t *ctx, const char *uid, int64_t id,
    mall_err_t *err)
{
    mall_batch_t  b;
    char          key[SF_UID_MAX + 32], sid[24];
    int           rc;

    snprintf(key, sizeof(key), "mall:history:%s", uid);
    snprintf(sid, sizeof(sid), "%lld", (long long) id);
    mall_batch_init(&b);
    mall_batch_addl(&b, 4, "LREM", key, "0", sid);
    mall_batch_addl(&b, 3, "LPUSH", key, sid);
    mall_batch_addl(&b, 4, "LTRIM", key, "0", SF_HISTORY_MAX);
    rc = mall_batch_exec(&b, ctx->redis, 1, NULL, err);
    mall_batch_free(&b);
    return rc;
}
