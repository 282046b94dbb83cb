/*
 * Favourites and browsing history of the shopper.
 *
 *   mall:fav:{uid}       zset  product id -> time favourited (ms)
 *   mall:history:{uid}   list  product ids, newest first, distinct, <= 100
 *
 * Views are recorded two ways: the worker records one when it serves a
 * product detail to a logged-in user (an edge cache miss; see
 * catalog_detail.c), and the mini-program posts POST /api/v1/history when
 * it shows a product, because the edge answers most detail requests from
 * its cache without the worker seeing them. Both run LREM + LPUSH + LTRIM
 * in one MULTI, so the list stays distinct and bounded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "catalog.h"
#include "catalog_keys.h"
#include "catalog_page.h"
#include "mall_batch.h"
#include "mall_json.h"
#include "mall_reply.h"
#include "storefront.h"

#define FAV_MAX  1000

static int fav_add(mall_ctx_t *ctx);
static int fav_delete(mall_ctx_t *ctx);
static int fav_list(mall_ctx_t *ctx);
static int history_add(mall_ctx_t *ctx);
static int history_list(mall_ctx_t *ctx);
static int history_clear(mall_ctx_t *ctx);

const mall_route_t  mall_favorite_routes[] = {
    { "POST", "/api/v1/favorites", fav_add, 0 },
    { "GET", "/api/v1/favorites", fav_list, 0 },
    { "DELETE", "/api/v1/favorites/{product_id}", fav_delete, 0 },
    { "POST", "/api/v1/history", history_add, 0 },
    { "GET", "/api/v1/history", history_list, 0 },
    { "DELETE", "/api/v1/history", history_clear, 0 },
    { NULL, NULL, NULL, 0 }
};


/*
 * Reads {"product_id"} and checks the product is on sale. Returns the id,
 * or 0 after replying (422/404), or -1 when Redis is down.
 */
static int64_t
body_product(mall_ctx_t *ctx)
{
    cJSON       *body;
    redisReply  *r;
    mall_err_t   err;
    char         key[48];
    int64_t      id;
    int          rc, ok;

    if (sf_body(ctx, &body) != MALL_OK) {
        return 0;
    }
    rc = mall_json_get_int(cJSON_GetObjectItemCaseSensitive(body,
                               "product_id"), 1, CATALOG_ID_MAX, &id);
    cJSON_Delete(body);
    if (rc != MALL_OK) {
        sf_reply_invalid(ctx, "product_id", "product_id must be a positive "
                         "integer");
        return 0;
    }
    snprintf(key, sizeof(key), CATALOG_KEY_PRODUCT_FMT, (long long) id);
    rc = mall_cmd(ctx->redis, &r, &err, 4, "HMGET", key, "id", "status");
    if (rc != MALL_OK) {
        if (rc == MALL_RETRY) {
            return -1;
        }
        mall_reply_error(ctx, 500, "INTERNAL", "storage error");
        return 0;
    }
    ok = r->type == REDIS_REPLY_ARRAY && r->elements == 2
         && r->element[0]->type == REDIS_REPLY_STRING
         && !(r->element[1]->type == REDIS_REPLY_STRING
              && strcmp(r->element[1]->str, "delisted") == 0);
    freeReplyObject(r);
    if (!ok) {
        mall_reply_error(ctx, 404, "NOT_FOUND", "no such product");
        return 0;
    }
    return id;
}


static int
fav_add(mall_ctx_t *ctx)
{
    char             uid[SF_UID_MAX], key[SF_UID_MAX + 16], sid[24], ts[24];
    struct timeval   tv;
    redisReply      *r;
    mall_err_t       err;
    int64_t          id;
    int              rc, added;

    if (sf_require_user(ctx, uid) != MALL_OK) {
        return MALL_OK;
    }
    id = body_product(ctx);
    if (id <= 0) {
        return id < 0 ? MALL_RETRY : MALL_OK;
    }
    snprintf(key, sizeof(key), "mall:fav:%s", uid);
    snprintf(sid, sizeof(sid), "%lld", (long long) id);
    gettimeofday(&tv, NULL);
    snprintf(ts, sizeof(ts), "%lld",
             (long long) tv.tv_sec * 1000 + tv.tv_usec / 1000);
    err.msg[0] = '\0';

    rc = mall_cmd(ctx->redis, &r, &err, 2, "ZCARD", key);
    if (rc != MALL_OK) {
        goto fail;
    }
    if (r->type == REDIS_REPLY_INTEGER && r->integer >= FAV_MAX) {
        freeReplyObject(r);
        return mall_reply_error(ctx, 409, "CONFLICT", "at most %d "
                                "favourites", FAV_MAX);
    }
    freeReplyObject(r);

    /* NX: favouriting again keeps the original time */
    rc = mall_cmd(ctx->redis, &r, &err, 5, "ZADD", key, "NX", ts, sid);
    if (rc != MALL_OK) {
        goto fail;
    }
    added = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    freeReplyObject(r);
    return sf_reply_ack(ctx, added ? 201 : 200, "product_id", id, "favorited");

fail:
    return sf_fail(ctx, rc, "favorite add", &err);
}


static int
fav_delete(mall_ctx_t *ctx)
{
    char         uid[SF_UID_MAX], key[SF_UID_MAX + 16], sid[24];
    redisReply  *r;
    mall_err_t   err;
    int64_t      id;
    int          rc, gone;

    if (sf_require_user(ctx, uid) != MALL_OK
        || sf_target(ctx, "product_id", "not a favourite", &id, NULL)
           != MALL_OK)
    {
        return MALL_OK;
    }
    snprintf(key, sizeof(key), "mall:fav:%s", uid);
    snprintf(sid, sizeof(sid), "%lld", (long long) id);
    err.msg[0] = '\0';
    rc = mall_cmd(ctx->redis, &r, &err, 3, "ZREM", key, sid);
    if (rc != MALL_OK) {
        return sf_fail(ctx, rc, "favorite delete", &err);
    }
    gone = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    freeReplyObject(r);
    if (!gone) {
        return mall_reply_error(ctx, 404, "NOT_FOUND", "not a favourite");
    }
    return sf_reply_ack(ctx, 200, "product_id", id, "deleted");
}


/*
 * Replies with the page of products whose ids are in r (an array reply),
 * total items overall. Private: Cache-Control private, no-store.
 */
static int
reply_products(mall_ctx_t *ctx, const redisReply *r, long long page,
    long long size, long long total, const char *what)
{
    catalog_page_t   pg;
    mall_buf_t       out;
    mall_err_t       err;
    int64_t         *ids;
    size_t           n;
    int              rc;

    err.msg[0] = '\0';
    ids = catalog_reply_ids(r, &n);
    if (ids == NULL) {
        return MALL_ERR;
    }
    pg.page = page;
    pg.size = size;
    pg.total = total;
    pg.q = NULL;
    mall_buf_init(&out);
    rc = catalog_page_json(ctx, ids, n, &pg, &out, &err);
    if (rc == MALL_OK) {
        rc = sf_reply_raw(ctx, 200, out.p, out.len);
    } else if (rc == MALL_ERR) {
        sf_log_fail(ctx, what, &err);
    }
    mall_buf_free(&out);
    free(ids);
    return rc;
}


/*
 * GET of one page of the caller's product ids under key_fmt ("%s" = uid):
 * count_cmd gives the total, range_cmd START STOP the page, newest first.
 */
static int
list_page(mall_ctx_t *ctx, const char *key_fmt, const char *count_cmd,
    const char *range_cmd, const char *what)
{
    char         uid[SF_UID_MAX], key[SF_UID_MAX + 16], start[24], stop[24];
    redisReply  *r, *c;
    mall_err_t   err;
    long long    page, size, total;
    int          rc;

    if (sf_require_user(ctx, uid) != MALL_OK
        || sf_page(ctx, 20, 100, &page, &size) != MALL_OK)
    {
        return MALL_OK;
    }
    snprintf(key, sizeof(key), key_fmt, uid);
    snprintf(start, sizeof(start), "%lld", (page - 1) * size);
    snprintf(stop, sizeof(stop), "%lld", page * size - 1);
    err.msg[0] = '\0';

    rc = mall_cmd(ctx->redis, &c, &err, 2, count_cmd, key);
    if (rc != MALL_OK) {
        return rc == MALL_RETRY ? MALL_RETRY : MALL_ERR;
    }
    total = c->type == REDIS_REPLY_INTEGER ? c->integer : 0;
    freeReplyObject(c);
    rc = mall_cmd(ctx->redis, &r, &err, 4, range_cmd, key, start, stop);
    if (rc != MALL_OK) {
        return rc == MALL_RETRY ? MALL_RETRY : MALL_ERR;
    }
    rc = reply_products(ctx, r, page, size, total, what);
    freeReplyObject(r);
    return rc;
}


static int
fav_list(mall_ctx_t *ctx)
{
    /* newest first; equal times fall back to member order: stable */
    return list_page(ctx, "mall:fav:%s", "ZCARD", "ZREVRANGE",
                     "favorite list");
}


static int
history_add(mall_ctx_t *ctx)
{
    char        uid[SF_UID_MAX];
    mall_err_t  err;
    int64_t     id;
    int         rc;

    if (sf_require_user(ctx, uid) != MALL_OK) {
        return MALL_OK;
    }
    id = body_product(ctx);
    if (id <= 0) {
        return id < 0 ? MALL_RETRY : MALL_OK;
    }
    err.msg[0] = '\0';
    rc = sf_history_record(ctx, uid, id, &err);
    if (rc != MALL_OK) {
        return sf_fail(ctx, rc, "history add", &err);
    }
    return sf_reply_ack(ctx, 200, "product_id", id, "recorded");
}


static int
history_list(mall_ctx_t *ctx)
{
    return list_page(ctx, "mall:history:%s", "LLEN", "LRANGE",
                     "history list");
}


static int
history_clear(mall_ctx_t *ctx)
{
    char         uid[SF_UID_MAX], key[SF_UID_MAX + 16];
    redisReply  *r;
    mall_err_t   err;
    cJSON       *root;
    int          rc;

    if (sf_require_user(ctx, uid) != MALL_OK) {
        return MALL_OK;
    }
    snprintf(key, sizeof(key), "mall:history:%s", uid);
    rc = mall_cmd(ctx->redis, &r, &err, 2, "DEL", key);
    if (rc != MALL_OK) {
        return rc == MALL_RETRY ? MALL_RETRY : MALL_ERR;
    }
    freeReplyObject(r);
    root = cJSON_CreateObject();
    if (root == NULL || cJSON_AddBoolToObject(root, "cleared", 1) == NULL) {
        cJSON_Delete(root);
        return MALL_ERR;
    }
    rc = sf_reply(ctx, 200, root);
    cJSON_Delete(root);
    return rc;
}
