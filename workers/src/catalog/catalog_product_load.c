/*
 * Loading a product for an edit (see catalog_product.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "catalog_keys.h"
#include "catalog_product.h"
#include "search_index.h"


void
catalog_product_free(catalog_product_t *p)
{
    size_t  i;

    for (i = 0; i < p->nskus; i++) {
        cJSON_Delete(p->skus[i].attrs);
    }
    cJSON_Delete(p->doc);
    if (p->terms != NULL) {
        freeReplyObject(p->terms);
    }
    memset(p, 0, sizeof(*p));
}


int
catalog_product_copy(const catalog_product_t *src, catalog_product_t *dst)
{
    size_t  i;

    *dst = *src;
    dst->terms = NULL;
    dst->doc = src->doc != NULL ? cJSON_Duplicate(src->doc, 1) : NULL;
    for (i = 0; i < src->nskus; i++) {
        dst->skus[i].attrs = src->skus[i].attrs != NULL
                             ? cJSON_Duplicate(src->skus[i].attrs, 1) : NULL;
        if (src->skus[i].attrs != NULL && dst->skus[i].attrs == NULL) {
            return MALL_ERR;
        }
    }
    return src->doc != NULL && dst->doc == NULL ? MALL_ERR : MALL_OK;
}


static void
copy_str(char *dst, size_t sz, const redisReply *r)
{
    snprintf(dst, sz, "%s", r != NULL && r->type == REDIS_REPLY_STRING
                            ? r->str : "");
}


int
catalog_product_load_chain(mall_ctx_t *ctx, int64_t cid,
    catalog_product_t *p, mall_err_t *err)
{
    redisReply  *r;
    char         key[48];
    int64_t      parent;
    int          rc;

    p->nchain = 0;
    while (cid != 0 && p->nchain < CATALOG_MAX_DEPTH) {
        snprintf(key, sizeof(key), CATALOG_KEY_CAT_FMT, (long long) cid);
        rc = mall_cmd(ctx->redis, &r, err, 6, "HMGET", key, "id",
                      "parent_id", "name_zh", "name_en");
        if (rc != MALL_OK) {
            return rc;
        }
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 4
            || r->element[0]->type != REDIS_REPLY_STRING)
        {
            freeReplyObject(r);
            return mall_err_set(err, 422, "unknown category %lld",
                                (long long) cid);
        }
        p->chain[p->nchain].id = cid;
        copy_str(p->chain[p->nchain].name, CATALOG_TEXT_MAX, r->element[2]);
        copy_str(p->chain[p->nchain].name_en, CATALOG_TEXT_MAX,
                 r->element[3]);
        parent = 0;
        catalog_reply_int(r->element[1], &parent);
        freeReplyObject(r);
        p->nchain++;
        cid = parent;
    }
    return MALL_OK;
}


/* Round 1: WATCH + HMGET of the product hash. */
static int
load_head(mall_ctx_t *ctx, catalog_product_t *p, char *skus, size_t skusz,
    mall_err_t *err)
{
    char          key[48];
    mall_batch_t  b;
    redisReply   *reps[2], *r;
    int           rc;

    snprintf(key, sizeof(key), CATALOG_KEY_PRODUCT_FMT, (long long) p->id);
    mall_batch_init(&b);
    mall_batch_addl(&b, 2, "WATCH", key);
    mall_batch_addl(&b, 12, "HMGET", key, "id", "name_zh", "name_en",
                    "brand", "category_id", "sales", "created_at", "status",
                    "json", "skus");
    rc = mall_batch_send(&b, ctx->redis, reps, err);
    mall_batch_free(&b);
    if (rc != MALL_OK) {
        return rc;
    }
    r = reps[1];
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 10
        || r->element[0]->type != REDIS_REPLY_STRING)
    {
        mall_redis_free_replies(reps, 2);
        return MALL_OK;                  /* no such product */
    }
    p->exists = 1;
    copy_str(p->name, sizeof(p->name), r->element[1]);
    copy_str(p->name_en, sizeof(p->name_en), r->element[2]);
    copy_str(p->brand, sizeof(p->brand), r->element[3]);
    catalog_reply_int(r->element[4], &p->category_id);
    catalog_reply_int(r->element[5], &p->sales);
    catalog_reply_int(r->element[6], &p->created_at);
    p->on_sale = !(r->element[7]->type == REDIS_REPLY_STRING
                   && strcmp(r->element[7]->str, "delisted") == 0);
    if (r->element[8]->type == REDIS_REPLY_STRING) {
        p->doc = cJSON_ParseWithLength(r->element[8]->str,
                                       r->element[8]->len);
    }
    copy_str(skus, skusz, r->element[9]);
    mall_redis_free_replies(reps, 2);
    if (p->doc == NULL && (p->doc = cJSON_CreateObject()) == NULL) {
        return mall_err_set(err, 500, "out of memory");
    }
    return MALL_OK;
}


/* Round 2: WATCH + HMGET of every SKU, and the search terms. */
static int
load_skus(mall_ctx_t *ctx, catalog_product_t *p, char *list,
    mall_err_t *err)
{
    int64_t        ids[CATALOG_MAX_SKUS];
    char           key[48], *tok, *save;
    mall_batch_t   b;
    redisReply    *reps[2 * CATALOG_MAX_SKUS + 1], *s;
    catalog_sku_t *k;
    size_t         n, i;
    int            rc;

    n = 0;
    for (tok = strtok_r(list, ",", &save); tok != NULL
         && n < CATALOG_MAX_SKUS; tok = strtok_r(NULL, ",", &save))
    {
        if (catalog_parse_id(tok, &ids[n]) == MALL_OK) {
            n++;
        }
    }
    mall_batch_init(&b);
    for (i = 0; i < n; i++) {
        snprintf(key, sizeof(key), CATALOG_KEY_SKU_FMT, (long long) ids[i]);
        mall_batch_addl(&b, 2, "WATCH", key);
        mall_batch_addl(&b, 6, "HMGET", key, "price_fen", "stock", "attrs",
                        "low_stock_threshold");
    }
    snprintf(key, sizeof(key), SEARCH_KEY_DOC, (long long) p->id);
    mall_batch_addl(&b, 2, "SMEMBERS", key);
    rc = mall_batch_send(&b, ctx->redis, reps, err);
    mall_batch_free(&b);
    if (rc != MALL_OK) {
        return rc;
    }
    for (i = 0; i < n; i++) {
        s = reps[2 * i + 1];
        k = &p->skus[p->nskus];
        if (s->type != REDIS_REPLY_ARRAY || s->elements != 4
            || catalog_reply_int(s->element[0], &k->price) != MALL_OK)
        {
            continue;                    /* the SKU vanished */
        }
        k->id = ids[i];
        catalog_reply_int(s->element[1], &k->stock);
        k->threshold = -1;
        catalog_reply_int(s->element[3], &k->threshold);
        if (s->element[2]->type == REDIS_REPLY_STRING) {
            k->attrs = cJSON_ParseWithLength(s->element[2]->str,
                                             s->element[2]->len);
        }
        if (k->attrs == NULL) {
            k->attrs = cJSON_CreateObject();
        }
        p->nskus++;
    }
    p->terms = reps[2 * n];
    reps[2 * n] = NULL;
    mall_redis_free_replies(reps, 2 * n);
    return MALL_OK;
}


int
catalog_product_load(mall_ctx_t *ctx, int64_t id, catalog_product_t *p,
    mall_err_t *err)
{
    char  skus[CATALOG_MAX_SKUS * 24];
    int   rc;

    memset(p, 0, sizeof(*p));
    p->id = id;
    rc = load_head(ctx, p, skus, sizeof(skus), err);
    if (rc != MALL_OK || !p->exists) {
        return rc;
    }
    rc = load_skus(ctx, p, skus, err);
    if (rc != MALL_OK) {
        return rc;
    }
    rc = catalog_product_load_chain(ctx, p->category_id, p, err);
    if (rc == MALL_ERR) {
        p->nchain = 0;          /* the category vanished: index without it */
        rc = MALL_OK;
    }
    return rc;
}
