/*
 * Merchant SKU routes: add a SKU, edit price / stock / threshold, the
 * low-stock list (see merchant.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "catalog_keys.h"
#include "mall_json.h"
#include "mall_reply.h"
#include "merchant.h"
#include "stock.h"
#include "storefront.h"

static int merch_sku_create(mall_ctx_t *ctx);
static int merch_sku_patch(mall_ctx_t *ctx);
static int merch_low_stock(mall_ctx_t *ctx);

const mall_route_t  mall_merchant_sku_routes[] = {
    { "POST", "/admin/api/v1/products/{id}/skus", merch_sku_create, 0 },
    { "PATCH", "/admin/api/v1/skus/{sku_id}", merch_sku_patch, 0 },
    { "GET", "/admin/api/v1/alerts/low-stock", merch_low_stock, 0 },
    { NULL, NULL, NULL, 0 }
};

typedef struct {
    int64_t  sku;
    int64_t  price;        /* -1: unchanged */
    int64_t  stock;
    int64_t  threshold;
    int      set_threshold;
} sku_patch_t;


static int
edit_sku_add(mall_ctx_t *ctx, catalog_product_t *a, void *arg, mall_err_t *err)
{
    catalog_sku_t  *k;
    int        rc;

    if (a->nskus >= CATALOG_MAX_SKUS) {
        return mall_err_set(err, 422, "at most %d skus per product",
                            CATALOG_MAX_SKUS);
    }
    k = &a->skus[a->nskus];
    memset(k, 0, sizeof(*k));
    if (merch_body_sku(((edit_arg_t *) arg)->body, k, err) != MALL_OK) {
        cJSON_Delete(k->attrs);
        k->attrs = NULL;
        return MALL_ERR;
    }
    a->nskus++;
    rc = merch_next_id(ctx, "sku", &k->id, err);
    k->is_new = 1;
    return rc;
}


static int
merch_sku_create(mall_ctx_t *ctx)
{
    edit_arg_t   arg;
    cJSON       *body;
    int64_t      id;
    int          rc;

    if (merch_role(ctx, 1, "sku.create") != MALL_OK
        || sf_target(ctx, "id", "no such product", &id, &body) != MALL_OK)
    {
        return MALL_OK;
    }
    arg.body = body;
    arg.admin = 1;
    rc = merch_run(ctx, id, 0, "sku.create", edit_sku_add, &arg, 201);
    cJSON_Delete(body);
    return rc;
}


static int
edit_sku_patch(mall_ctx_t *ctx, catalog_product_t *a, void *arg,
    mall_err_t *err)
{
    sku_patch_t  *sp = arg;
    size_t        i;

    (void) ctx;
    for (i = 0; i < a->nskus; i++) {
        if (a->skus[i].id == sp->sku) {
            if (sp->price >= 0) {
                a->skus[i].price = sp->price;
            }
            if (sp->stock >= 0) {
                a->skus[i].stock = sp->stock;
            }
            if (sp->set_threshold) {
                a->skus[i].threshold = sp->threshold;
            }
            return MALL_OK;
        }
    }
    return mall_err_set(err, 409, "the sku left its product");
}


static int
merch_sku_patch(mall_ctx_t *ctx)
{
    sku_patch_t   sp;
    const cJSON  *v;
    cJSON        *body;
    redisReply   *r;
    mall_err_t    err;
    char          key[48];
    int64_t       pid;
    int           rc;

    if (merch_role(ctx, 0, "sku.update") != MALL_OK
        || sf_target(ctx, "sku_id", "no such sku", &sp.sku, &body)
           != MALL_OK)
    {
        return MALL_OK;
    }
    sp.price = sp.stock = -1;
    sp.threshold = -1;
    sp.set_threshold = 0;
    rc = MALL_OK;
    if ((v = cJSON_GetObjectItemCaseSensitive(body, "price_fen")) != NULL
        && mall_json_get_int(v, 0, MERCH_PRICE_MAX, &sp.price) != MALL_OK)
    {
        rc = sf_reply_invalid(ctx, "price_fen", "price_fen must be a "
                              "non-negative integer (fen)");
    } else if ((v = cJSON_GetObjectItemCaseSensitive(body, "stock")) != NULL
               && mall_json_get_int(v, 0, MERCH_STOCK_MAX, &sp.stock)
                  != MALL_OK)
    {
        rc = sf_reply_invalid(ctx, "stock", "stock must be a non-negative "
                              "integer");
    } else if ((v = cJSON_GetObjectItemCaseSensitive(body,
                    "low_stock_threshold")) != NULL)
    {
        sp.set_threshold = 1;
        if (!cJSON_IsNull(v)
            && mall_json_get_int(v, 0, MERCH_STOCK_MAX, &sp.threshold)
               != MALL_OK)
        {
            rc = sf_reply_invalid(ctx, "low_stock_threshold", "must be a "
                                  "non-negative integer or null");
        }
    }
    if (!ctx->replied && sp.price < 0 && sp.stock < 0 && !sp.set_threshold)
    {
        rc = sf_reply_invalid(ctx, "price_fen", "give price_fen, stock "
                              "and/or low_stock_threshold");
    }
    cJSON_Delete(body);
    if (ctx->replied) {
        return rc;
    }

    snprintf(key, sizeof(key), CATALOG_KEY_SKU_FMT, (long long) sp.sku);
    rc = mall_cmd(ctx->redis, &r, &err, 3, "HGET", key, "product_id");
    if (rc != MALL_OK) {
        return rc == MALL_RETRY ? MALL_RETRY : MALL_ERR;
    }
    pid = 0;
    catalog_reply_int(r, &pid);
    freeReplyObject(r);
    if (pid <= 0) {
        return mall_reply_error(ctx, 404, "NOT_FOUND", "no such sku");
    }
    return merch_run(ctx, pid, 0, "sku.update", edit_sku_patch, &sp, 200);
}


static int
merch_low_stock(mall_ctx_t *ctx)
{
    redisReply  *r, *s;
    cJSON       *root, *items, *it;
    mall_err_t   err;
    char         key[48];
    int64_t      sku, pid, stock, thr;
    size_t       i;
    int          rc;

    if (merch_role(ctx, 0, "alerts.read") != MALL_OK) {
        return MALL_OK;
    }
    rc = mall_cmd(ctx->redis, &r, &err, 2, "SMEMBERS", STOCK_KEY_LOW);
    if (rc != MALL_OK) {
        return rc == MALL_RETRY ? MALL_RETRY : MALL_ERR;
    }
    root = cJSON_CreateObject();
    items = root != NULL ? cJSON_AddArrayToObject(root, "items") : NULL;
    rc = MALL_ERR;
    for (i = 0; items != NULL && i < r->elements; i++) {
        if (catalog_reply_int(r->element[i], &sku) != MALL_OK) {
            continue;
        }
        snprintf(key, sizeof(key), CATALOG_KEY_SKU_FMT, (long long) sku);
        rc = mall_cmd(ctx->redis, &s, &err, 5, "HMGET", key, "product_id",
                      "stock", "low_stock_threshold");
        if (rc != MALL_OK) {
            goto done;
        }
        rc = MALL_ERR;
        if (s->type != REDIS_REPLY_ARRAY || s->elements != 3
            || catalog_reply_int(s->element[0], &pid) != MALL_OK)
        {
            freeReplyObject(s);
            continue;
        }
        stock = 0;
        catalog_reply_int(s->element[1], &stock);
        thr = ctx->conf->low_stock_threshold;
        catalog_reply_int(s->element[2], &thr);
        freeReplyObject(s);
        it = cJSON_CreateObject();
        if (it == NULL || !cJSON_AddItemToArray(items, it)) {
            cJSON_Delete(it);
            goto done;
        }
        mall_json_add_int(it, "sku_id", sku);
        mall_json_add_int(it, "product_id", pid);
        mall_json_add_int(it, "stock", stock);
        mall_json_add_int(it, "low_stock_threshold", thr);
    }
    if (items == NULL) {
        goto done;
    }
    rc = mall_reply_json_nostore(ctx, 200, root);

done:
    cJSON_Delete(root);
    freeReplyObject(r);
    return rc;
}
