/*
 * GET /api/v1/products/{id}: the product detail document. Its static part
 * (names, images, params, rating, reviews, category path) is stored as
 * JSON in the product hash; SKU prices and stock are read live from the
 * SKU hashes, so merchant edits show without rewriting the document.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "catalog_keys.h"
#include "mall_json.h"
#include "mall_log.h"
#include "mall_reply.h"
#include "storefront.h"

#define DETAIL_MAX_SKUS   64
#define DETAIL_TAGS_MAX   2048


/* Appends " tag" to the tag list if it fits. */
static void
detail_tag(char *tags, const char *fmt, long long v)
{
    size_t  len;

    len = strlen(tags);
    if (len + 40 < DETAIL_TAGS_MAX) {
        snprintf(tags + len, DETAIL_TAGS_MAX - len, fmt, v);
    }
}


static const char *
detail_stock_state(int64_t stock, int low)
{
    if (stock <= 0) {
        return "out_of_stock";
    }
    return stock <= low ? "low" : "in_stock";
}


/*
 * Adds the "skus" array, "price_fen" (lowest SKU price) and "in_stock"
 * to doc from the SKU HMGET replies. MALL_OK or MALL_ERR (OOM).
 */
static int
detail_add_skus(mall_ctx_t *ctx, cJSON *doc, const int64_t *sku_ids,
    redisReply **reps, size_t n, char *tags)
{
    /* fields: price_fen stock attrs */
    cJSON    *skus, *sku, *attrs;
    int64_t   price, stock, min_price;
    size_t    i;
    int       any_stock;

    skus = cJSON_CreateArray();
    if (skus == NULL) {
        return MALL_ERR;
    }
    if (!cJSON_AddItemToObject(doc, "skus", skus)) {
        cJSON_Delete(skus);
        return MALL_ERR;
    }

    min_price = -1;
    any_stock = 0;

    for (i = 0; i < n; i++) {
        if (reps[i]->type != REDIS_REPLY_ARRAY || reps[i]->elements != 3
            || catalog_reply_int(reps[i]->element[0], &price) != MALL_OK
            || catalog_reply_int(reps[i]->element[1], &stock) != MALL_OK)
        {
            mall_log_req(MALL_LOG_WARN, "catalog", ctx->request_id,
                         ctx->ident.user, "sku %lld missing or incomplete",
                         (long long) sku_ids[i]);
            continue;
        }

        attrs = NULL;
        if (reps[i]->element[2]->type == REDIS_REPLY_STRING) {
            attrs = cJSON_ParseWithLength(reps[i]->element[2]->str,
                                          reps[i]->element[2]->len);
        }
        if (attrs == NULL || !cJSON_IsObject(attrs)) {
            cJSON_Delete(attrs);
            attrs = cJSON_CreateObject();
            if (attrs == NULL) {
                return MALL_ERR;
            }
        }

        sku = cJSON_CreateObject();
        if (sku == NULL || !cJSON_AddItemToArray(skus, sku)) {
            cJSON_Delete(sku);
            cJSON_Delete(attrs);
            return MALL_ERR;
        }
        if (mall_json_add_int(sku, "sku_id", sku_ids[i]) != MALL_OK
            || !cJSON_AddItemToObject(sku, "attrs", attrs))
        {
            cJSON_Delete(attrs);
            return MALL_ERR;
        }
        if (mall_json_add_int(sku, "price_fen", price) != MALL_OK
            || mall_json_add_int(sku, "stock", stock < 0 ? 0 : stock)
               != MALL_OK
            || mall_json_add_str(sku, "stock_state",
                                 detail_stock_state(stock,
                                     ctx->conf->low_stock_threshold))
               != MALL_OK)
        {
            return MALL_ERR;
        }

        if (min_price < 0 || price < min_price) {
            min_price = price;
        }
        if (stock > 0) {
            any_stock = 1;
        }
        detail_tag(tags, " sku:%lld", (long long) sku_ids[i]);
    }

    cJSON_DeleteItemFromObjectCaseSensitive(doc, "price_fen");
    cJSON_DeleteItemFromObjectCaseSensitive(doc, "in_stock");
    if (mall_json_add_int(doc, "price_fen", min_price < 0 ? 0 : min_price)
        != MALL_OK
        || cJSON_AddBoolToObject(doc, "in_stock", any_stock) == NULL)
    {
        return MALL_ERR;
    }
    return MALL_OK;
}


/*
 * A logged-in shopper's view reaches the worker only on an edge cache
 * miss; record it then (best effort: the reply is already queued). The
 * mini-program's POST /api/v1/history covers the cache hits.
 */
static void
detail_record_view(mall_ctx_t *ctx, int64_t id)
{
    mall_err_t  err;
    char        uid[SF_UID_MAX];
    size_t      len;

    len = strlen(ctx->ident.user);
    if (!ctx->ident.verified || len == 0 || len >= SF_UID_MAX
        || strncmp(ctx->ident.user, "admin:", 6) == 0
        || strspn(ctx->ident.user, "abcdefghijklmnopqrstuvwxyz"
                  "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:_-") != len)
    {
        return;
    }
    memcpy(uid, ctx->ident.user, len + 1);
    if (sf_history_record(ctx, uid, id, &err) == MALL_ERR) {
        mall_log_req(MALL_LOG_WARN, "catalog", ctx->request_id,
                     ctx->ident.user, "history: %s", err.msg);
    }
}


/* Parses "1,2,3" into ids; returns the count (bad entries skipped). */
static size_t
detail_parse_skus(const redisReply *r, int64_t *ids, size_t max)
{
    char    buf[DETAIL_MAX_SKUS * 20];
    char   *tok, *save;
    size_t  n;

    n = 0;
    if (r->type != REDIS_REPLY_STRING || r->len >= sizeof(buf)) {
        return 0;
    }
    memcpy(buf, r->str, r->len + 1);

    for (tok = strtok_r(buf, ",", &save); tok != NULL && n < max;
         tok = strtok_r(NULL, ",", &save))
    {
        if (catalog_parse_id(tok, &ids[n]) == MALL_OK) {
            n++;
        }
    }
    return n;
}


int
catalog_product_get(mall_ctx_t *ctx)
{
    static const char  *sku_fields[] = {
        "HMGET", NULL, "price_fen", "stock", "attrs"
    };
    const char         *argv[6];
    const char         *sargv[DETAIL_MAX_SKUS][5];
    char                key[48], skeys[DETAIL_MAX_SKUS][48];
    char                tags[DETAIL_TAGS_MAX];
    int64_t             id, sku_ids[DETAIL_MAX_SKUS], sales, cid;
    mall_redis_cmd_t    cmds[DETAIL_MAX_SKUS];
    redisReply         *prod, *reps[DETAIL_MAX_SKUS];
    cJSON              *doc, *path, *item;
    mall_err_t          err;
    size_t              i, nskus;
    int                 rc;

    prod = NULL;
    doc = NULL;
    nskus = 0;
    err.msg[0] = '\0';
    memset(reps, 0, sizeof(reps));

    if (catalog_parse_id(mall_route_param(&ctx->params, "id"), &id)
        != MALL_OK)
    {
        return mall_reply_error(ctx, 404, "NOT_FOUND", "no such product");
    }

    snprintf(key, sizeof(key), CATALOG_KEY_PRODUCT_FMT, (long long) id);
    argv[0] = "HMGET";
    argv[1] = key;
    argv[2] = "json";
    argv[3] = "skus";
    argv[4] = "sales";
    argv[5] = "status";

    rc = mall_redis_command(ctx->redis, &prod, &err, 6, argv, NULL);
    if (rc != MALL_OK) {
        goto done;
    }
    rc = MALL_ERR;

    if (prod->type != REDIS_REPLY_ARRAY || prod->elements != 4) {
        goto done;
    }
    /* a delisted product is gone for shoppers (cart lines say why) */
    if (prod->element[0]->type != REDIS_REPLY_STRING
        || (prod->element[3]->type == REDIS_REPLY_STRING
            && strcmp(prod->element[3]->str, "delisted") == 0))
    {
        rc = mall_reply_error(ctx, 404, "NOT_FOUND", "no such product");
        goto done;
    }

    doc = cJSON_ParseWithLength(prod->element[0]->str,
                                prod->element[0]->len);
    if (doc == NULL || !cJSON_IsObject(doc)) {
        mall_err_set(&err, 500, "product %lld: stored json is invalid",
                     (long long) id);
        goto done;
    }

    /* live sales counter wins over the stored snapshot */
    if (catalog_reply_int(prod->element[2], &sales) == MALL_OK) {
        cJSON_DeleteItemFromObjectCaseSensitive(doc, "sales");
        if (mall_json_add_int(doc, "sales", sales) != MALL_OK) {
            goto done;
        }
    }

    nskus = detail_parse_skus(prod->element[1], sku_ids, DETAIL_MAX_SKUS);
    for (i = 0; i < nskus; i++) {
        snprintf(skeys[i], sizeof(skeys[i]), CATALOG_KEY_SKU_FMT,
                 (long long) sku_ids[i]);
        memcpy(sargv[i], sku_fields, sizeof(sku_fields));
        sargv[i][1] = skeys[i];
        cmds[i].argc = 5;
        cmds[i].argv = sargv[i];
        cmds[i].argvlen = NULL;
    }
    if (nskus > 0) {
        rc = mall_redis_pipeline(ctx->redis, nskus, cmds, reps, &err);
        if (rc != MALL_OK) {
            goto done;
        }
        rc = MALL_ERR;
    }

    snprintf(tags, sizeof(tags), "product:%lld", (long long) id);
    path = cJSON_GetObjectItemCaseSensitive(doc, "category_path");
    cJSON_ArrayForEach(item, path) {
        if (mall_json_get_int(cJSON_GetObjectItemCaseSensitive(item, "id"),
                              1, INT64_MAX, &cid) == MALL_OK)
        {
            detail_tag(tags, " category:%lld", (long long) cid);
        }
    }

    if (detail_add_skus(ctx, doc, sku_ids, reps, nskus, tags) != MALL_OK) {
        goto done;
    }

    catalog_cache_headers(ctx, tags);
    rc = mall_reply_json(ctx, 200, doc);
    detail_record_view(ctx, id);

done:
    if (rc == MALL_ERR && !ctx->replied) {
        mall_log_req(MALL_LOG_ERROR, "catalog", ctx->request_id,
                     ctx->ident.user, "product %lld: %s", (long long) id,
                     err.msg[0] ? err.msg : "bad data or out of memory");
    }
    cJSON_Delete(doc);
    mall_redis_free_replies(reps, nskus);
    if (prod != NULL) {
        freeReplyObject(prod);
    }
    return rc;
}
