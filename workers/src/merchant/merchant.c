/*
 * Merchant catalog management (see merchant.h for roles and keys).
 *
 * Every product edit follows one protocol, so indexes never disagree:
 *   1. WATCH the product hash and its SKU hashes;
 *   2. load the whole product (hash, SKUs, category chain, search terms);
 *   3. apply the change to an in-memory copy ("after");
 *   4. in one MULTI/EXEC: remove every index entry of "before" (sort
 *      zsets, in-stock set, category and brand sets, search postings),
 *      write the product and SKU hashes, add the index entries of "after"
 *      when it is on sale, update low-stock state, and XADD the purge
 *      event with the tags of both states;
 *   5. on a nil EXEC (a concurrent edit or order moved a watched key)
 *      start again; then write the audit entry (before/after summaries).
 * A reader therefore sees the product entirely before or entirely after.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog.h"
#include "catalog_keys.h"
#include "mall_audit.h"
#include "mall_batch.h"
#include "mall_json.h"
#include "mall_log.h"
#include "mall_reply.h"
#include "merchant.h"
#include "search_index.h"
#include "storefront.h"

#define MP_MAX_SKUS     64
#define MP_MAX_DEPTH    8
#define MP_TEXT_MAX     512
#define MP_TRIES        8
#define MP_PRICE_MAX    100000000000LL
#define MP_STOCK_MAX    1000000000LL

typedef struct {
    int64_t  id;
    int64_t  price;
    int64_t  stock;
    int64_t  threshold;     /* -1: config default */
    cJSON   *attrs;         /* owned */
    int      is_new;
} mp_sku_t;

typedef struct {
    int64_t  id;
    char     name[MP_TEXT_MAX];
    char     name_en[MP_TEXT_MAX];
} mp_cat_t;

typedef struct {
    int         exists;
    int64_t     id;
    int         on_sale;
    char        name[MP_TEXT_MAX];
    char        name_en[MP_TEXT_MAX];
    char        brand[CATALOG_BRAND_MAX + 1];
    int64_t     category_id;
    int64_t     sales;
    int64_t     created_at;
    cJSON      *doc;                /* static detail document, owned */
    mp_sku_t    skus[MP_MAX_SKUS];
    size_t      nskus;
    mp_cat_t    chain[MP_MAX_DEPTH];   /* leaf first */
    size_t      nchain;
    redisReply *terms;              /* SMEMBERS of the search doc key */
} mp_t;

static int merch_product_create(mall_ctx_t *ctx);
static int merch_product_get(mall_ctx_t *ctx);
static int merch_product_patch(mall_ctx_t *ctx);
static int merch_product_delete(mall_ctx_t *ctx);
static int merch_sku_create(mall_ctx_t *ctx);
static int merch_sku_patch(mall_ctx_t *ctx);
static int merch_low_stock(mall_ctx_t *ctx);
static int merch_cat_create(mall_ctx_t *ctx);
static int merch_cat_patch(mall_ctx_t *ctx);
static int merch_cat_delete(mall_ctx_t *ctx);

const mall_route_t  mall_merchant_routes[] = {
    { "POST", "/admin/api/v1/products", merch_product_create, 0 },
    { "GET", "/admin/api/v1/products/{id}", merch_product_get, 0 },
    { "PATCH", "/admin/api/v1/products/{id}", merch_product_patch, 0 },
    { "DELETE", "/admin/api/v1/products/{id}", merch_product_delete, 0 },
    { "POST", "/admin/api/v1/products/{id}/skus", merch_sku_create, 0 },
    { "PATCH", "/admin/api/v1/skus/{sku_id}", merch_sku_patch, 0 },
    { "GET", "/admin/api/v1/alerts/low-stock", merch_low_stock, 0 },
    { "POST", "/admin/api/v1/categories", merch_cat_create, 0 },
    { "PATCH", "/admin/api/v1/categories/{id}", merch_cat_patch, 0 },
    { "DELETE", "/admin/api/v1/categories/{id}", merch_cat_delete, 0 },
    { NULL, NULL, NULL, 0 }
};


/* ---------------------------------------------------------------- roles */

/*
 * MALL_OK when the caller is staff (admin, or operator unless admin_only);
 * otherwise replies 403 (audited as denied) and returns MALL_ERR.
 */
static int
merch_role(mall_ctx_t *ctx, int admin_only, const char *action)
{
    const char  *role = ctx->ident.role;
    int          ok;

    ok = ctx->ident.verified && ctx->ident.user[0] != '\0'
         && (strcmp(role, "admin") == 0
             || (!admin_only && strcmp(role, "operator") == 0));
    if (ok) {
        return MALL_OK;
    }
    if (ctx->ident.user[0] != '\0') {
        mall_audit_ctx(ctx, ctx->ident.user, action, "denied", NULL, 0);
    }
    mall_reply_error(ctx, 403, "FORBIDDEN", "%s requires the %s role",
                     action, admin_only ? "admin" : "admin or operator");
    return MALL_ERR;
}


/* ----------------------------------------------------------- load/free */

static void
mp_free(mp_t *p)
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


/* Deep copy of a loaded product (terms are not copied). */
static int
mp_copy(const mp_t *src, mp_t *dst)
{
    size_t  i;

    *dst = *src;
    dst->terms = NULL;
    dst->doc = src->doc != NULL ? cJSON_Duplicate(src->doc, 1) : NULL;
    if (src->doc != NULL && dst->doc == NULL) {
        return MALL_ERR;
    }
    for (i = 0; i < src->nskus; i++) {
        dst->skus[i].attrs = src->skus[i].attrs != NULL
                             ? cJSON_Duplicate(src->skus[i].attrs, 1) : NULL;
    }
    return MALL_OK;
}


static void
copy_str(char *dst, size_t sz, const redisReply *r)
{
    snprintf(dst, sz, "%s", r != NULL && r->type == REDIS_REPLY_STRING
                            ? r->str : "");
}


/*
 * Loads the category chain of cid (leaf first) into p. MALL_OK, MALL_ERR
 * (unknown category: err->code 422), MALL_RETRY.
 */
static int
mp_load_chain(mall_ctx_t *ctx, int64_t cid, mp_t *p, mall_err_t *err)
{
    redisReply  *r;
    char         key[48];
    int64_t      parent;
    int          rc;

    p->nchain = 0;
    while (cid != 0 && p->nchain < MP_MAX_DEPTH) {
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
        copy_str(p->chain[p->nchain].name, MP_TEXT_MAX, r->element[2]);
        copy_str(p->chain[p->nchain].name_en, MP_TEXT_MAX, r->element[3]);
        parent = 0;
        catalog_reply_int(r->element[1], &parent);
        freeReplyObject(r);
        p->nchain++;
        cid = parent;
    }
    return MALL_OK;
}


/*
 * WATCHes and loads product id. MALL_OK with p->exists set (0: no such
 * product), MALL_ERR, MALL_RETRY. The caller frees p with mp_free.
 */
static int
mp_load(mall_ctx_t *ctx, int64_t id, mp_t *p, mall_err_t *err)
{
    char         key[48], skey[48], tkey[48], buf[MP_MAX_SKUS * 24];
    char        *tok, *save;
    redisReply  *r, *s;
    mp_sku_t    *k;
    int          rc;

    memset(p, 0, sizeof(*p));
    p->id = id;
    snprintf(key, sizeof(key), CATALOG_KEY_PRODUCT_FMT, (long long) id);
    rc = mall_cmd(ctx->redis, &r, err, 2, "WATCH", key);
    if (rc != MALL_OK) {
        return rc;
    }
    freeReplyObject(r);

    rc = mall_cmd(ctx->redis, &r, err, 12, "HMGET", key, "id", "name_zh",
                  "name_en", "brand", "category_id", "sales", "created_at",
                  "status", "json", "skus");
    if (rc != MALL_OK) {
        return rc;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 10
        || r->element[0]->type != REDIS_REPLY_STRING)
    {
        freeReplyObject(r);
        return MALL_OK;
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
    if (p->doc == NULL) {
        p->doc = cJSON_CreateObject();
    }
    copy_str(buf, sizeof(buf), r->element[9]);
    freeReplyObject(r);
    if (p->doc == NULL) {
        return mall_err_set(err, 500, "out of memory");
    }

    for (tok = strtok_r(buf, ",", &save); tok != NULL
         && p->nskus < MP_MAX_SKUS; tok = strtok_r(NULL, ",", &save))
    {
        k = &p->skus[p->nskus];
        if (catalog_parse_id(tok, &k->id) != MALL_OK) {
            continue;
        }
        snprintf(skey, sizeof(skey), CATALOG_KEY_SKU_FMT, (long long) k->id);
        rc = mall_cmd(ctx->redis, &s, err, 2, "WATCH", skey);
        if (rc != MALL_OK) {
            return rc;
        }
        freeReplyObject(s);
        rc = mall_cmd(ctx->redis, &s, err, 6, "HMGET", skey, "price_fen",
                      "stock", "attrs", "low_stock_threshold");
        if (rc != MALL_OK) {
            return rc;
        }
        if (s->type == REDIS_REPLY_ARRAY && s->elements == 4
            && catalog_reply_int(s->element[0], &k->price) == MALL_OK)
        {
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
        freeReplyObject(s);
    }

    rc = mp_load_chain(ctx, p->category_id, p, err);
    if (rc != MALL_OK && rc != MALL_RETRY) {
        p->nchain = 0;      /* category vanished: index without it */
        rc = MALL_OK;
    }
    if (rc != MALL_OK) {
        return rc;
    }
    snprintf(tkey, sizeof(tkey), SEARCH_KEY_DOC, (long long) id);
    return mall_cmd(ctx->redis, &p->terms, err, 2, "SMEMBERS", tkey);
}


/* ------------------------------------------------------------- commit */

static int64_t
mp_threshold(mall_ctx_t *ctx, const mp_sku_t *k)
{
    return k->threshold >= 0 ? k->threshold
                             : ctx->conf->low_stock_threshold;
}


static void
mp_derived(const mp_t *p, int64_t *min_price, int *in_stock)
{
    size_t  i;

    *min_price = -1;
    *in_stock = 0;
    for (i = 0; i < p->nskus; i++) {
        if (*min_price < 0 || p->skus[i].price < *min_price) {
            *min_price = p->skus[i].price;
        }
        if (p->skus[i].stock > 0) {
            *in_stock = 1;
        }
    }
    if (*min_price < 0) {
        *min_price = 0;
    }
}


/* Appends " tag" unless present. */
static void
tag_add(char *tags, size_t sz, const char *fmt, long long v)
{
    char    t[48];
    size_t  len;

    snprintf(t, sizeof(t), fmt, v);
    len = strlen(tags);
    if (strstr(tags, t) != NULL || len + strlen(t) + 2 >= sz) {
        return;
    }
    snprintf(tags + len, sz - len, "%s%s", len > 0 ? " " : "", t);
}


/* Index entries of p (SREM/ZREM when add is 0). */
static void
mp_index(mall_batch_t *b, const mp_t *p, int add)
{
    char     id[24], price_s[24], sales_s[24], new_s[24], key[128];
    char     brand_lc[CATALOG_BRAND_MAX + 1];
    int64_t  min_price;
    int      in_stock;
    size_t   i;

    snprintf(id, sizeof(id), "%lld", (long long) p->id);
    mp_derived(p, &min_price, &in_stock);
    catalog_brand_key(p->brand, brand_lc, sizeof(brand_lc));
    snprintf(key, sizeof(key), CATALOG_KEY_BRAND_PRODUCTS, brand_lc);

    if (!add) {
        mall_batch_addl(b, 3, "ZREM", CATALOG_KEY_BY_SALES, id);
        mall_batch_addl(b, 3, "ZREM", CATALOG_KEY_BY_PRICE, id);
        mall_batch_addl(b, 3, "ZREM", CATALOG_KEY_BY_NEW, id);
        mall_batch_addl(b, 3, "SREM", CATALOG_KEY_IN_STOCK, id);
        mall_batch_addl(b, 3, "SREM", key, id);
        for (i = 0; i < p->nchain; i++) {
            snprintf(key, sizeof(key), CATALOG_KEY_CAT_PRODUCTS,
                     (long long) p->chain[i].id);
            mall_batch_addl(b, 3, "SREM", key, id);
        }
        search_index_remove(b, p->id, p->terms);
        return;
    }

    snprintf(price_s, sizeof(price_s), "%lld", (long long) min_price);
    snprintf(sales_s, sizeof(sales_s), "%lld", (long long) p->sales);
    snprintf(new_s, sizeof(new_s), "%lld", (long long) p->created_at);
    mall_batch_addl(b, 4, "ZADD", CATALOG_KEY_BY_SALES, sales_s, id);
    mall_batch_addl(b, 4, "ZADD", CATALOG_KEY_BY_PRICE, price_s, id);
    mall_batch_addl(b, 4, "ZADD", CATALOG_KEY_BY_NEW, new_s, id);
    if (in_stock) {
        mall_batch_addl(b, 3, "SADD", CATALOG_KEY_IN_STOCK, id);
    }
    mall_batch_addl(b, 3, "SADD", key, id);
    mall_batch_addl(b, 3, "SADD", CATALOG_KEY_BRANDS, brand_lc);
    for (i = 0; i < p->nchain; i++) {
        snprintf(key, sizeof(key), CATALOG_KEY_CAT_PRODUCTS,
                 (long long) p->chain[i].id);
        mall_batch_addl(b, 3, "SADD", key, id);
    }
}


/* Rebuilds the parts of the detail document that live in p's fields. */
static int
mp_doc_sync(mp_t *p)
{
    cJSON   *path, *node;
    size_t   i;

    cJSON_DeleteItemFromObjectCaseSensitive(p->doc, "id");
    cJSON_DeleteItemFromObjectCaseSensitive(p->doc, "name");
    cJSON_DeleteItemFromObjectCaseSensitive(p->doc, "name_en");
    cJSON_DeleteItemFromObjectCaseSensitive(p->doc, "brand");
    cJSON_DeleteItemFromObjectCaseSensitive(p->doc, "category_id");
    cJSON_DeleteItemFromObjectCaseSensitive(p->doc, "category_path");
    cJSON_DeleteItemFromObjectCaseSensitive(p->doc, "sales");
    cJSON_DeleteItemFromObjectCaseSensitive(p->doc, "created_at");
    if (mall_json_add_int(p->doc, "id", p->id) != MALL_OK
        || mall_json_add_str(p->doc, "name", p->name) != MALL_OK
        || mall_json_add_str(p->doc, "name_en", p->name_en) != MALL_OK
        || mall_json_add_str(p->doc, "brand", p->brand) != MALL_OK
        || mall_json_add_int(p->doc, "category_id", p->category_id)
           != MALL_OK
        || mall_json_add_int(p->doc, "sales", p->sales) != MALL_OK
        || mall_json_add_int(p->doc, "created_at", p->created_at) != MALL_OK)
    {
        return MALL_ERR;
    }
    path = cJSON_AddArrayToObject(p->doc, "category_path");
    if (path == NULL) {
        return MALL_ERR;
    }
    for (i = p->nchain; i-- > 0; ) {
        node = cJSON_CreateObject();
        if (node == NULL || !cJSON_AddItemToArray(path, node)) {
            cJSON_Delete(node);
            return MALL_ERR;
        }
        if (mall_json_add_int(node, "id", p->chain[i].id) != MALL_OK
            || mall_json_add_str(node, "name", p->chain[i].name) != MALL_OK
            || mall_json_add_str(node, "name_en", p->chain[i].name_en)
               != MALL_OK)
        {
            return MALL_ERR;
        }
    }
    return MALL_OK;
}


static const char *
mp_image(const mp_t *p)
{
    const cJSON  *img, *t;

    img = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(p->doc,
                                                              "images"), 0);
    t = cJSON_GetObjectItemCaseSensitive(img, "thumbnail");
    return cJSON_IsString(t) ? t->valuestring : "";
}


/* Product and SKU hashes of a. */
static int
mp_write(mall_ctx_t *ctx, mall_batch_t *b, mp_t *a)
{
    char     key[48], skey[48], id[24], sid[24], cat[24], price[24];
    char     stock[24], thr[24], sales[24], created[24];
    char     skus[MP_MAX_SKUS * 24], *json, *attrs;
    int64_t  min_price;
    int      in_stock;
    size_t   i, len;

    (void) ctx;
    if (mp_doc_sync(a) != MALL_OK) {
        return MALL_ERR;
    }
    snprintf(key, sizeof(key), CATALOG_KEY_PRODUCT_FMT, (long long) a->id);
    snprintf(id, sizeof(id), "%lld", (long long) a->id);
    snprintf(cat, sizeof(cat), "%lld", (long long) a->category_id);
    snprintf(sales, sizeof(sales), "%lld", (long long) a->sales);
    snprintf(created, sizeof(created), "%lld", (long long) a->created_at);
    mp_derived(a, &min_price, &in_stock);
    snprintf(price, sizeof(price), "%lld", (long long) min_price);

    skus[0] = '\0';
    len = 0;
    for (i = 0; i < a->nskus; i++) {
        mp_sku_t  *k = &a->skus[i];

        len += (size_t) snprintf(skus + len, sizeof(skus) - len, "%s%lld",
                                 len > 0 ? "," : "", (long long) k->id);
        snprintf(skey, sizeof(skey), CATALOG_KEY_SKU_FMT, (long long) k->id);
        snprintf(sid, sizeof(sid), "%lld", (long long) k->id);
        snprintf(stock, sizeof(stock), "%lld", (long long) k->stock);
        snprintf(thr, sizeof(thr), "%lld", (long long) k->threshold);
        snprintf(price, sizeof(price), "%lld", (long long) k->price);
        attrs = cJSON_PrintUnformatted(k->attrs);
        if (attrs == NULL) {
            return MALL_ERR;
        }
        mall_batch_addl(b, 12, "HSET", skey, "id", sid, "product_id", id,
                        "price_fen", price, "stock", stock, "attrs", attrs);
        cJSON_free(attrs);
        if (k->threshold >= 0) {
            mall_batch_addl(b, 4, "HSET", skey, "low_stock_threshold", thr);
        } else {
            mall_batch_addl(b, 3, "HDEL", skey, "low_stock_threshold");
        }
    }
    snprintf(price, sizeof(price), "%lld", (long long) min_price);

    json = cJSON_PrintUnformatted(a->doc);
    if (json == NULL) {
        return MALL_ERR;
    }
    mall_batch_addl(b, 26, "HSET", key, "id", id, "name_zh", a->name,
                    "name_en", a->name_en, "brand", a->brand,
                    "category_id", cat, "price_fen", price, "image",
                    mp_image(a), "sales", sales, "created_at", created,
                    "in_stock", in_stock ? "1" : "0", "skus", skus,
                    "json", json);
    cJSON_free(json);
    mall_batch_addl(b, 4, "HSET", key, "status",
                    a->on_sale ? "on_sale" : "delisted");
    return b->oom ? MALL_ERR : MALL_OK;
}


/* Low-stock set and alert stream entries for the SKUs of a. */
static void
mp_low_stock(mall_ctx_t *ctx, mall_batch_t *b, const mp_t *before,
    const mp_t *a)
{
    char     sid[24], pid[24], stock[24], thr[24], ts[24];
    int64_t  t, old_stock;
    size_t   i, j;
    int      was_low;

    snprintf(pid, sizeof(pid), "%lld", (long long) a->id);
    snprintf(ts, sizeof(ts), "%lld", (long long) time(NULL));
    for (i = 0; i < a->nskus; i++) {
        const mp_sku_t  *k = &a->skus[i];

        t = mp_threshold(ctx, k);
        snprintf(sid, sizeof(sid), "%lld", (long long) k->id);
        if (!a->on_sale || k->stock > t) {
            mall_batch_addl(b, 3, "SREM", MERCH_KEY_LOW_STOCK, sid);
            continue;
        }
        was_low = 0;
        for (j = 0; before != NULL && j < before->nskus; j++) {
            if (before->skus[j].id == k->id) {
                old_stock = before->skus[j].stock;
                was_low = before->on_sale
                          && old_stock <= mp_threshold(ctx,
                                                       &before->skus[j]);
            }
        }
        mall_batch_addl(b, 3, "SADD", MERCH_KEY_LOW_STOCK, sid);
        if (!was_low) {
            snprintf(stock, sizeof(stock), "%lld", (long long) k->stock);
            snprintf(thr, sizeof(thr), "%lld", (long long) t);
            mall_batch_addl(b, 16, "XADD", MERCH_KEY_ALERTS, "MAXLEN", "~",
                            "10000", "*", "sku_id", sid, "product_id", pid,
                            "stock", stock, "threshold", thr, "ts", ts);
        }
    }
}


/*
 * The purge event of an edit: the product, the categories it was and is
 * in, its SKUs, lists and search (the edge drops what it cached of them).
 */
static void
mp_purge(mall_batch_t *b, const mp_t *before, const mp_t *after)
{
    char    tags[1024];
    size_t  i;

    tags[0] = '\0';
    tag_add(tags, sizeof(tags), "product:%lld", (long long) after->id);
    for (i = 0; before != NULL && before->exists && i < before->nchain; i++)
    {
        tag_add(tags, sizeof(tags), "category:%lld",
                (long long) before->chain[i].id);
    }
    for (i = 0; i < after->nchain; i++) {
        tag_add(tags, sizeof(tags), "category:%lld",
                (long long) after->chain[i].id);
    }
    for (i = 0; i < after->nskus; i++) {
        tag_add(tags, sizeof(tags), "sku:%lld", (long long) after->skus[i].id);
    }
    tag_add(tags, sizeof(tags), "list", 0);
    tag_add(tags, sizeof(tags), "search", 0);
    mall_batch_addl(b, 8, "XADD", MERCH_KEY_PURGE, "MAXLEN", "~", "10000",
                    "*", "tags", tags);
}


/*
 * The MULTI/EXEC of an edit (see the file comment). MALL_OK,
 * MALL_BATCH_ABORTED, MALL_ERR, MALL_RETRY.
 */
static int
mp_commit(mall_ctx_t *ctx, const mp_t *before, mp_t *after,
    mall_err_t *err)
{
    mall_batch_t  b;
    size_t        i;
    int           rc;

    mall_batch_init(&b);
    if (before != NULL && before->exists) {
        mp_index(&b, before, 0);
    } else {
        /* a new product: nothing indexed yet */
        search_index_remove(&b, after->id, NULL);
    }
    if (mp_write(ctx, &b, after) != MALL_OK) {
        mall_batch_free(&b);
        return mall_err_set(err, 500, "out of memory");
    }
    if (after->on_sale) {
        search_doc_t  d;

        mp_index(&b, after, 1);
        memset(&d, 0, sizeof(d));
        d.name_zh = after->name;
        d.name_en = after->name_en;
        d.brand = after->brand;
        {
            const cJSON  *desc = cJSON_GetObjectItemCaseSensitive(after->doc,
                                     "description");

            d.description = cJSON_IsString(desc) ? desc->valuestring : NULL;
        }
        for (i = 0; i < after->nchain && d.ncategories + 2 <= SEARCH_MAX_CATS;
             i++)
        {
            d.categories[d.ncategories++] = after->chain[i].name;
            d.categories[d.ncategories++] = after->chain[i].name_en;
        }
        if (search_index_add(&b, after->id, &d) != MALL_OK) {
            mall_batch_free(&b);
            return mall_err_set(err, 422, "text is not valid UTF-8");
        }
    }
    mp_low_stock(ctx, &b, before, after);
    mp_purge(&b, before, after);

    rc = mall_batch_exec(&b, ctx->redis, 1, NULL, err);
    mall_batch_free(&b);
    return rc;
}


/*
 * The stock-derived state of a product whose SKU stock moved outside a
 * merchant edit (orders, cancels): the in_stock field and set, low-stock
 * set and alerts (before holds the stock the alerts last saw), purge.
 * MALL_OK, MALL_BATCH_ABORTED, MALL_ERR, MALL_RETRY.
 */
static int
mp_stock_commit(mall_ctx_t *ctx, const mp_t *before, const mp_t *after,
    mall_err_t *err)
{
    mall_batch_t  b;
    char          key[48], id[24];
    int64_t       min_price;
    int           in_stock, rc;

    mp_derived(after, &min_price, &in_stock);
    snprintf(key, sizeof(key), CATALOG_KEY_PRODUCT_FMT, (long long) after->id);
    snprintf(id, sizeof(id), "%lld", (long long) after->id);
    mall_batch_init(&b);
    mall_batch_addl(&b, 4, "HSET", key, "in_stock", in_stock ? "1" : "0");
    if (after->on_sale && in_stock) {
        mall_batch_addl(&b, 3, "SADD", CATALOG_KEY_IN_STOCK, id);
    } else {
        mall_batch_addl(&b, 3, "SREM", CATALOG_KEY_IN_STOCK, id);
    }
    mp_low_stock(ctx, &b, before, after);
    mp_purge(&b, before, after);
    rc = mall_batch_exec(&b, ctx->redis, 1, NULL, err);
    mall_batch_free(&b);
    return rc;
}


int
merchant_stock_sync(mall_ctx_t *ctx, int64_t product_id, int64_t sku_id,
    int64_t old_stock, mall_err_t *err)
{
    mp_t    before, after;
    size_t  i;
    int     rc, tries;

    rc = MALL_BATCH_ABORTED;
    for (tries = 0; tries < MP_TRIES; tries++) {
        rc = mp_load(ctx, product_id, &after, err);
        if (rc != MALL_OK || !after.exists) {
            mp_free(&after);
            if (rc == MALL_OK) {
                mall_unwatch(ctx->redis);       /* the product is gone */
            }
            break;
        }
        if (mp_copy(&after, &before) != MALL_OK) {
            mp_free(&after);
            rc = mall_err_set(err, 500, "out of memory");
            break;
        }
        for (i = 0; i < before.nskus; i++) {
            if (before.skus[i].id == sku_id) {
                before.skus[i].stock = old_stock;
            }
        }
        rc = mp_stock_commit(ctx, &before, &after, err);
        mp_free(&before);
        mp_free(&after);
        if (rc != MALL_BATCH_ABORTED) {
            break;
        }
    }
    if (rc != MALL_OK && rc != MALL_RETRY) {
        mall_unwatch(ctx->redis);
    }
    return rc;
}


/* A SKU's id, price and stock, appended to skus; NULL when out of memory. */
static cJSON *
mp_sku_json(cJSON *skus, const mp_sku_t *k)
{
    cJSON  *s;

    s = cJSON_CreateObject();
    if (s == NULL || !cJSON_AddItemToArray(skus, s)) {
        cJSON_Delete(s);
        return NULL;
    }
    mall_json_add_int(s, "sku_id", k->id);
    mall_json_add_int(s, "price_fen", k->price);
    mall_json_add_int(s, "stock", k->stock);
    return s;
}


/* Compact summary for the audit log; caller frees with cJSON_free. */
static char *
mp_summary(const mp_t *p)
{
    cJSON   *o, *skus, *s;
    char    *out;
    size_t   i;

    if (p == NULL || !p->exists) {
        o = cJSON_CreateNull();
        out = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        return out;
    }
    o = cJSON_CreateObject();
    if (o == NULL) {
        return NULL;
    }
    mall_json_add_int(o, "id", p->id);
    mall_json_add_str(o, "name", p->name);
    mall_json_add_str(o, "brand", p->brand);
    mall_json_add_int(o, "category_id", p->category_id);
    mall_json_add_str(o, "status", p->on_sale ? "on_sale" : "delisted");
    skus = cJSON_AddArrayToObject(o, "skus");
    for (i = 0; skus != NULL && i < p->nskus; i++) {
        s = mp_sku_json(skus, &p->skus[i]);
        if (s == NULL) {
            break;
        }
    }
    out = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return out;
}


static void
mp_audit(mall_ctx_t *ctx, const char *action, const mp_t *before,
    const mp_t *after)
{
    mall_audit_field_t  f[3];
    char                id[24], *b, *a;

    snprintf(id, sizeof(id), "%lld", (long long) after->id);
    b = mp_summary(before);
    a = mp_summary(after);
    f[0].name = "product_id"; f[0].value = id;
    f[1].name = "before"; f[1].value = b != NULL ? b : "?";
    f[2].name = "after"; f[2].value = a != NULL ? a : "?";
    mall_audit_ctx(ctx, ctx->ident.user, action, "ok", f, 3);
    cJSON_free(b);
    cJSON_free(a);
}


/* ------------------------------------------------------------ editing */

typedef int (*mp_edit_pt)(mall_ctx_t *ctx, mp_t *after, void *arg,
    mall_err_t *err);


/* The admin view of a product: the detail document plus status. */
static int
mp_reply(mall_ctx_t *ctx, int status, mp_t *p)
{
    cJSON   *o, *skus, *s;
    size_t   i;
    int64_t  min_price;
    int      in_stock, rc;

    if (mp_doc_sync(p) != MALL_OK) {
        return MALL_ERR;
    }
    o = cJSON_Duplicate(p->doc, 1);
    if (o == NULL) {
        return MALL_ERR;
    }
    mp_derived(p, &min_price, &in_stock);
    skus = cJSON_AddArrayToObject(o, "skus");
    for (i = 0; skus != NULL && i < p->nskus; i++) {
        s = mp_sku_json(skus, &p->skus[i]);
        if (s == NULL) {
            break;
        }
        mall_json_add_int(s, "low_stock_threshold",
                          mp_threshold(ctx, &p->skus[i]));
        cJSON_AddItemToObject(s, "attrs", p->skus[i].attrs != NULL
                              ? cJSON_Duplicate(p->skus[i].attrs, 1)
                              : cJSON_CreateObject());
    }
    mall_json_add_int(o, "price_fen", min_price);
    cJSON_AddBoolToObject(o, "in_stock", in_stock);
    mall_json_add_str(o, "status", p->on_sale ? "on_sale" : "delisted");
    rc = mall_reply_json_nostore(ctx, status, o);
    cJSON_Delete(o);
    return rc;
}


/*
 * Runs the edit protocol on product id with edit(); replies with the
 * product (status) or the error. create: the product must not exist yet.
 */
static int
mp_run(mall_ctx_t *ctx, int64_t id, int create, const char *action,
    mp_edit_pt edit, void *arg, int status)
{
    mp_t        before, after;
    mall_err_t  err;
    int         rc, tries;

    memset(&after, 0, sizeof(after));
    err.code = 0;
    err.msg[0] = '\0';
    rc = MALL_BATCH_ABORTED;

    for (tries = 0; tries < MP_TRIES; tries++) {
        rc = mp_load(ctx, id, &before, &err);
        if (rc != MALL_OK) {
            mp_free(&before);
            break;
        }
        if (!create && !before.exists) {
            mp_free(&before);
            mall_unwatch(ctx->redis);
            return mall_reply_error(ctx, 404, "NOT_FOUND",
                                    "no such product");
        }
        if (mp_copy(&before, &after) != MALL_OK) {
            mp_free(&before);
            rc = mall_err_set(&err, 500, "out of memory");
            break;
        }
        if (create) {
            after.exists = 1;
            after.on_sale = 1;
            if (after.doc == NULL && (after.doc = cJSON_CreateObject())
                                     == NULL)
            {
                mp_free(&before);
                rc = mall_err_set(&err, 500, "out of memory");
                break;
            }
        }
        rc = edit(ctx, &after, arg, &err);
        if (rc == MALL_OK) {
            rc = mp_commit(ctx, create ? NULL : &before, &after, &err);
        }
        if (rc == MALL_OK) {
            mp_audit(ctx, action, create ? NULL : &before, &after);
            rc = mp_reply(ctx, status, &after);
            mp_free(&before);
            mp_free(&after);
            return rc;
        }
        mp_free(&before);
        mp_free(&after);
        if (rc != MALL_BATCH_ABORTED) {
            break;
        }
    }
    mall_unwatch(ctx->redis);
    if (rc == MALL_RETRY) {
        return MALL_RETRY;
    }
    if (rc == MALL_BATCH_ABORTED) {
        return mall_reply_error(ctx, 409, "CONFLICT", "the product changed "
                                "concurrently; try again");
    }
    if (err.code == 422) {
        return mall_reply_error(ctx, 422, "VALIDATION_FAILED", "%s",
                                err.msg);
    }
    if (err.code == 403) {
        return mall_reply_error(ctx, 403, "FORBIDDEN", "%s", err.msg);
    }
    mall_log_req(MALL_LOG_ERROR, "merchant", ctx->request_id,
                 ctx->ident.user, "%s %lld: %s", action, (long long) id,
                 err.msg);
    return MALL_ERR;
}


/* Reads a string field (1..max bytes) into dst when present. */
static int
body_text(const cJSON *body, const char *name, char *dst, size_t max,
    int required, mall_err_t *err)
{
    const cJSON  *v = cJSON_GetObjectItemCaseSensitive(body, name);

    if (v == NULL) {
        return required ? mall_err_set(err, 422, "%s is required", name)
                        : MALL_OK;
    }
    if (!cJSON_IsString(v) || v->valuestring[0] == '\0'
        || strlen(v->valuestring) >= max
        || search_utf8_chars(v->valuestring, strlen(v->valuestring)) < 0)
    {
        return mall_err_set(err, 422, "%s must be a non-empty string of at "
                            "most %zu bytes", name, max - 1);
    }
    memcpy(dst, v->valuestring, strlen(v->valuestring) + 1);
    return MALL_OK;
}


/* Replaces doc[name] with a copy of body[name] of the given type. */
static int
body_doc_item(const cJSON *body, cJSON *doc, const char *name, int array,
    mall_err_t *err)
{
    const cJSON  *v = cJSON_GetObjectItemCaseSensitive(body, name);
    cJSON        *c;

    if (v == NULL) {
        return MALL_OK;
    }
    if (array ? !cJSON_IsArray(v) : !cJSON_IsString(v)) {
        return mall_err_set(err, 422, "%s must be %s", name,
                            array ? "an array" : "a string");
    }
    c = cJSON_Duplicate(v, 1);
    if (c == NULL) {
        return mall_err_set(err, 500, "out of memory");
    }
    cJSON_DeleteItemFromObjectCaseSensitive(doc, name);
    if (!cJSON_AddItemToObject(doc, name, c)) {
        cJSON_Delete(c);
        return mall_err_set(err, 500, "out of memory");
    }
    return MALL_OK;
}


/* Reads one SKU spec {price_fen, stock, attrs?, low_stock_threshold?}. */
static int
body_sku(const cJSON *s, mp_sku_t *k, mall_err_t *err)
{
    const cJSON  *attrs, *thr;

    if (mall_json_get_int(cJSON_GetObjectItemCaseSensitive(s, "price_fen"),
                          0, MP_PRICE_MAX, &k->price) != MALL_OK
        || mall_json_get_int(cJSON_GetObjectItemCaseSensitive(s, "stock"),
                             0, MP_STOCK_MAX, &k->stock) != MALL_OK)
    {
        return mall_err_set(err, 422, "a sku needs price_fen and stock "
                            "(non-negative integers)");
    }
    k->threshold = -1;
    thr = cJSON_GetObjectItemCaseSensitive(s, "low_stock_threshold");
    if (thr != NULL && mall_json_get_int(thr, 0, MP_STOCK_MAX, &k->threshold)
                       != MALL_OK)
    {
        return mall_err_set(err, 422, "low_stock_threshold must be a "
                            "non-negative integer");
    }
    attrs = cJSON_GetObjectItemCaseSensitive(s, "attrs");
    if (attrs != NULL && !cJSON_IsObject(attrs)) {
        return mall_err_set(err, 422, "attrs must be an object");
    }
    k->attrs = attrs != NULL ? cJSON_Duplicate(attrs, 1)
                             : cJSON_CreateObject();
    return k->attrs != NULL ? MALL_OK
                            : mall_err_set(err, 500, "out of memory");
}


static int
next_id(mall_ctx_t *ctx, const char *seq, int64_t *id, mall_err_t *err)
{
    redisReply  *r;
    char         key[48];
    int          rc;

    snprintf(key, sizeof(key), CATALOG_KEY_SEQ_FMT, seq);
    rc = mall_cmd(ctx->redis, &r, err, 2, "INCR", key);
    if (rc != MALL_OK) {
        return rc;
    }
    *id = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
    freeReplyObject(r);
    return *id > 0 ? MALL_OK : mall_err_set(err, 500, "bad sequence");
}


typedef struct {
    const cJSON  *body;
    int           admin;
} edit_arg_t;


/* Content fields shared by create and patch. */
static int
edit_content(mall_ctx_t *ctx, mp_t *a, const cJSON *body, int create,
    mall_err_t *err)
{
    const cJSON  *cat;
    int64_t       cid;
    int           rc;

    if (body_text(body, "name", a->name, sizeof(a->name), create, err)
        != MALL_OK
        || body_text(body, "name_en", a->name_en, sizeof(a->name_en), 0, err)
           != MALL_OK
        || body_text(body, "brand", a->brand, sizeof(a->brand), create, err)
           != MALL_OK
        || body_doc_item(body, a->doc, "description", 0, err) != MALL_OK
        || body_doc_item(body, a->doc, "images", 1, err) != MALL_OK
        || body_doc_item(body, a->doc, "params", 1, err) != MALL_OK)
    {
        return MALL_ERR;
    }
    if (create && a->name_en[0] == '\0') {
        memcpy(a->name_en, a->name, sizeof(a->name_en));
    }
    cat = cJSON_GetObjectItemCaseSensitive(body, "category_id");
    if (cat != NULL || create) {
        if (mall_json_get_int(cat, 1, CATALOG_ID_MAX, &cid) != MALL_OK) {
            return mall_err_set(err, 422, "category_id must be a category "
                                "id");
        }
        rc = mp_load_chain(ctx, cid, a, err);
        if (rc != MALL_OK) {
            return rc;
        }
        a->category_id = cid;
    }
    return MALL_OK;
}


static int
edit_create(mall_ctx_t *ctx, mp_t *a, void *arg, mall_err_t *err)
{
    const cJSON  *body = ((edit_arg_t *) arg)->body, *skus, *s;
    int           rc;

    if (!cJSON_GetObjectItemCaseSensitive(a->doc, "rating")) {
        cJSON  *rating = cJSON_AddObjectToObject(a->doc, "rating");

        if (rating == NULL || mall_json_add_int(rating, "average", 0)
                              != MALL_OK
            || mall_json_add_int(rating, "count", 0) != MALL_OK
            || cJSON_AddArrayToObject(a->doc, "reviews") == NULL
            || cJSON_AddArrayToObject(a->doc, "images") == NULL
            || cJSON_AddArrayToObject(a->doc, "params") == NULL
            || mall_json_add_str(a->doc, "description", "") != MALL_OK)
        {
            return mall_err_set(err, 500, "out of memory");
        }
    }
    rc = edit_content(ctx, a, body, 1, err);
    if (rc != MALL_OK) {
        return rc;
    }
    skus = cJSON_GetObjectItemCaseSensitive(body, "skus");
    if (!cJSON_IsArray(skus) || cJSON_GetArraySize(skus) < 1
        || cJSON_GetArraySize(skus) > MP_MAX_SKUS)
    {
        return mall_err_set(err, 422, "skus must be an array of 1..%d skus",
                            MP_MAX_SKUS);
    }
    cJSON_ArrayForEach(s, skus) {
        mp_sku_t  *k = &a->skus[a->nskus];

        memset(k, 0, sizeof(*k));
        if (body_sku(s, k, err) != MALL_OK) {
            return MALL_ERR;
        }
        a->nskus++;
        rc = next_id(ctx, "sku", &k->id, err);
        if (rc != MALL_OK) {
            return rc;
        }
        k->is_new = 1;
    }
    a->created_at = (int64_t) time(NULL);
    a->sales = 0;
    return MALL_OK;
}


static int
merch_product_create(mall_ctx_t *ctx)
{
    edit_arg_t   arg;
    cJSON       *body;
    mall_err_t   err;
    int64_t      id;
    int          rc;

    if (merch_role(ctx, 1, "product.create") != MALL_OK
        || sf_body(ctx, &body) != MALL_OK)
    {
        return MALL_OK;
    }
    rc = next_id(ctx, "product", &id, &err);
    if (rc != MALL_OK) {
        cJSON_Delete(body);
        return rc == MALL_RETRY ? MALL_RETRY : MALL_ERR;
    }
    arg.body = body;
    arg.admin = 1;
    rc = mp_run(ctx, id, 1, "product.create", edit_create, &arg, 201);
    cJSON_Delete(body);
    return rc;
}


static int
edit_patch(mall_ctx_t *ctx, mp_t *a, void *arg, mall_err_t *err)
{
    edit_arg_t    *ea = arg;
    const cJSON   *st;
    int            rc;

    st = cJSON_GetObjectItemCaseSensitive(ea->body, "status");
    if (st != NULL) {
        if (!cJSON_IsString(st)
            || (strcmp(st->valuestring, "on_sale") != 0
                && strcmp(st->valuestring, "delisted") != 0))
        {
            return mall_err_set(err, 422, "status must be on_sale or "
                                "delisted");
        }
        if (!ea->admin) {
            return mall_err_set(err, 403, "changing status requires the "
                                "admin role");
        }
        a->on_sale = strcmp(st->valuestring, "on_sale") == 0;
    }
    rc = edit_content(ctx, a, ea->body, 0, err);
    return rc;
}


static int
merch_product_patch(mall_ctx_t *ctx)
{
    edit_arg_t   arg;
    cJSON       *body;
    int64_t      id;
    int          rc;

    if (merch_role(ctx, 0, "product.update") != MALL_OK
        || sf_target(ctx, "id", "no such product", &id, &body) != MALL_OK)
    {
        return MALL_OK;
    }
    arg.body = body;
    arg.admin = strcmp(ctx->ident.role, "admin") == 0;
    if (!arg.admin && cJSON_GetObjectItemCaseSensitive(body, "status")) {
        cJSON_Delete(body);
        mall_audit_ctx(ctx, ctx->ident.user, "product.status", "denied",
                       NULL, 0);
        return mall_reply_error(ctx, 403, "FORBIDDEN", "changing status "
                                "requires the admin role");
    }
    rc = mp_run(ctx, id, 0, "product.update", edit_patch, &arg, 200);
    cJSON_Delete(body);
    return rc;
}


static int
edit_delist(mall_ctx_t *ctx, mp_t *a, void *arg, mall_err_t *err)
{
    (void) ctx;
    (void) arg;
    (void) err;
    a->on_sale = 0;
    return MALL_OK;
}


static int
merch_product_delete(mall_ctx_t *ctx)
{
    int64_t  id;

    if (merch_role(ctx, 1, "product.delist") != MALL_OK
        || sf_target(ctx, "id", "no such product", &id, NULL) != MALL_OK)
    {
        return MALL_OK;
    }
    return mp_run(ctx, id, 0, "product.delist", edit_delist, NULL, 200);
}


static int
edit_none(mall_ctx_t *ctx, mp_t *a, void *arg, mall_err_t *err)
{
    (void) ctx;
    (void) a;
    (void) arg;
    (void) err;
    return MALL_OK;
}


static int
merch_product_get(mall_ctx_t *ctx)
{
    mp_t        p;
    mall_err_t  err;
    int64_t     id;
    int         rc;

    if (merch_role(ctx, 0, "product.read") != MALL_OK
        || sf_target(ctx, "id", "no such product", &id, NULL) != MALL_OK)
    {
        return MALL_OK;
    }
    rc = mp_load(ctx, id, &p, &err);
    mall_unwatch(ctx->redis);
    if (rc == MALL_OK && !p.exists) {
        rc = mall_reply_error(ctx, 404, "NOT_FOUND", "no such product");
    } else if (rc == MALL_OK) {
        rc = mp_reply(ctx, 200, &p);
    }
    mp_free(&p);
    return rc;
}


static int
edit_sku_add(mall_ctx_t *ctx, mp_t *a, void *arg, mall_err_t *err)
{
    mp_sku_t  *k;
    int        rc;

    if (a->nskus >= MP_MAX_SKUS) {
        return mall_err_set(err, 422, "at most %d skus per product",
                            MP_MAX_SKUS);
    }
    k = &a->skus[a->nskus];
    memset(k, 0, sizeof(*k));
    if (body_sku(((edit_arg_t *) arg)->body, k, err) != MALL_OK) {
        cJSON_Delete(k->attrs);
        k->attrs = NULL;
        return MALL_ERR;
    }
    a->nskus++;
    rc = next_id(ctx, "sku", &k->id, err);
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
    rc = mp_run(ctx, id, 0, "sku.create", edit_sku_add, &arg, 201);
    cJSON_Delete(body);
    return rc;
}


typedef struct {
    int64_t  sku;
    int64_t  price;        /* -1: unchanged */
    int64_t  stock;
    int64_t  threshold;
    int      set_threshold;
} sku_patch_t;


static int
edit_sku_patch(mall_ctx_t *ctx, mp_t *a, void *arg, mall_err_t *err)
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
        && mall_json_get_int(v, 0, MP_PRICE_MAX, &sp.price) != MALL_OK)
    {
        rc = sf_reply_invalid(ctx, "price_fen", "price_fen must be a "
                              "non-negative integer (fen)");
    } else if ((v = cJSON_GetObjectItemCaseSensitive(body, "stock")) != NULL
               && mall_json_get_int(v, 0, MP_STOCK_MAX, &sp.stock)
                  != MALL_OK)
    {
        rc = sf_reply_invalid(ctx, "stock", "stock must be a non-negative "
                              "integer");
    } else if ((v = cJSON_GetObjectItemCaseSensitive(body,
                    "low_stock_threshold")) != NULL)
    {
        sp.set_threshold = 1;
        if (!cJSON_IsNull(v)
            && mall_json_get_int(v, 0, MP_STOCK_MAX, &sp.threshold)
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
    return mp_run(ctx, pid, 0, "sku.update", edit_sku_patch, &sp, 200);
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
    rc = mall_cmd(ctx->redis, &r, &err, 2, "SMEMBERS", MERCH_KEY_LOW_STOCK);
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


/* ---------------------------------------------------------- categories */

static int
cat_purge_audit(mall_ctx_t *ctx, const char *action, int64_t id,
    const char *before, const char *after, mall_batch_t *b, mall_err_t *err)
{
    mall_audit_field_t  f[3];
    char                tags[64], sid[24];
    int                 rc;

    snprintf(tags, sizeof(tags), "category:%lld categories list search",
             (long long) id);
    mall_batch_addl(b, 8, "XADD", MERCH_KEY_PURGE, "MAXLEN", "~", "10000",
                    "*", "tags", tags);
    rc = mall_batch_exec(b, ctx->redis, 1, NULL, err);
    if (rc != MALL_OK) {
        return rc;
    }
    snprintf(sid, sizeof(sid), "%lld", (long long) id);
    f[0].name = "category_id"; f[0].value = sid;
    f[1].name = "before"; f[1].value = before;
    f[2].name = "after"; f[2].value = after;
    mall_audit_ctx(ctx, ctx->ident.user, action, "ok", f, 3);
    return MALL_OK;
}


static cJSON *
cat_json(int64_t id, int64_t parent, int64_t level, const char *name,
    const char *name_en, int64_t sort)
{
    cJSON  *o = cJSON_CreateObject();

    if (o == NULL || mall_json_add_int(o, "id", id) != MALL_OK
        || mall_json_add_int(o, "parent_id", parent) != MALL_OK
        || mall_json_add_int(o, "level", level) != MALL_OK
        || mall_json_add_str(o, "name", name) != MALL_OK
        || mall_json_add_str(o, "name_en", name_en) != MALL_OK
        || mall_json_add_int(o, "sort", sort) != MALL_OK)
    {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}


static int
cat_reply(mall_ctx_t *ctx, int status, cJSON *o)
{
    int  rc;

    if (o == NULL) {
        return MALL_ERR;
    }
    rc = mall_reply_json_nostore(ctx, status, o);
    cJSON_Delete(o);
    return rc;
}


static int
merch_cat_create(mall_ctx_t *ctx)
{
    char          name[MP_TEXT_MAX], name_en[MP_TEXT_MAX], key[48], sid[24];
    char          sp[24], sl[24], ss[24], *after;
    cJSON        *body, *o;
    mp_t          chain;
    mall_batch_t  b;
    mall_err_t    err;
    int64_t       id, parent, sort, level;
    int           rc;

    if (merch_role(ctx, 1, "category.create") != MALL_OK
        || sf_body(ctx, &body) != MALL_OK)
    {
        return MALL_OK;
    }
    name_en[0] = '\0';
    err.code = 0;
    parent = 0;
    sort = 1000;
    if (body_text(body, "name", name, sizeof(name), 1, &err) != MALL_OK
        || body_text(body, "name_en", name_en, sizeof(name_en), 0, &err)
           != MALL_OK
        || (cJSON_GetObjectItemCaseSensitive(body, "parent_id") != NULL
            && mall_json_get_int(cJSON_GetObjectItemCaseSensitive(body,
                   "parent_id"), 0, CATALOG_ID_MAX, &parent) != MALL_OK)
        || (cJSON_GetObjectItemCaseSensitive(body, "sort") != NULL
            && mall_json_get_int(cJSON_GetObjectItemCaseSensitive(body,
                   "sort"), 0, 1000000000, &sort) != MALL_OK))
    {
        cJSON_Delete(body);
        return mall_reply_error(ctx, 422, "VALIDATION_FAILED", "%s",
                                err.code ? err.msg
                                : "parent_id and sort must be integers");
    }
    cJSON_Delete(body);
    if (name_en[0] == '\0') {
        memcpy(name_en, name, sizeof(name_en));
    }
    memset(&chain, 0, sizeof(chain));
    rc = mp_load_chain(ctx, parent, &chain, &err);
    if (rc != MALL_OK) {
        return rc == MALL_RETRY ? MALL_RETRY
               : mall_reply_error(ctx, 422, "VALIDATION_FAILED",
                                  "unknown parent_id");
    }
    level = (int64_t) chain.nchain + 1;
    if (level > MP_MAX_DEPTH - 1) {
        return mall_reply_error(ctx, 422, "VALIDATION_FAILED",
                                "categories nest at most %d levels",
                                MP_MAX_DEPTH - 1);
    }
    rc = next_id(ctx, "category", &id, &err);
    if (rc != MALL_OK) {
        return rc == MALL_RETRY ? MALL_RETRY : MALL_ERR;
    }
    snprintf(key, sizeof(key), CATALOG_KEY_CAT_FMT, (long long) id);
    snprintf(sid, sizeof(sid), "%lld", (long long) id);
    snprintf(sp, sizeof(sp), "%lld", (long long) parent);
    snprintf(sl, sizeof(sl), "%lld", (long long) level);
    snprintf(ss, sizeof(ss), "%lld", (long long) sort);
    mall_batch_init(&b);
    mall_batch_addl(&b, 14, "HSET", key, "id", sid, "parent_id", sp,
                    "level", sl, "name_zh", name, "name_en", name_en,
                    "sort", ss);
    mall_batch_addl(&b, 4, "ZADD", CATALOG_KEY_CATS, ss, sid);
    o = cat_json(id, parent, level, name, name_en, sort);
    after = o != NULL ? cJSON_PrintUnformatted(o) : NULL;
    rc = cat_purge_audit(ctx, "category.create", id, "null",
                         after != NULL ? after : "?", &b, &err);
    cJSON_free(after);
    mall_batch_free(&b);
    if (rc != MALL_OK) {
        cJSON_Delete(o);
        return rc == MALL_RETRY ? MALL_RETRY : MALL_ERR;
    }
    return cat_reply(ctx, 201, o);
}


/* Re-saves every product of category id (names changed in its path). */
static void
cat_reindex(mall_ctx_t *ctx, int64_t id)
{
    redisReply  *r;
    mall_err_t   err;
    char         key[48];
    int64_t      pid;
    size_t       i;
    mp_t         before, after;
    int          rc, tries;

    snprintf(key, sizeof(key), CATALOG_KEY_CAT_PRODUCTS, (long long) id);
    if (mall_cmd(ctx->redis, &r, &err, 2, "SMEMBERS", key) != MALL_OK) {
        return;
    }
    for (i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        if (catalog_reply_int(r->element[i], &pid) != MALL_OK) {
            continue;
        }
        for (tries = 0; tries < MP_TRIES; tries++) {
            rc = mp_load(ctx, pid, &before, &err);
            if (rc == MALL_OK && before.exists
                && mp_copy(&before, &after) == MALL_OK)
            {
                rc = mp_commit(ctx, &before, &after, &err);
                mp_free(&after);
            }
            mp_free(&before);
            if (rc != MALL_BATCH_ABORTED) {
                break;
            }
        }
        mall_unwatch(ctx->redis);
    }
    freeReplyObject(r);
    (void) edit_none;
}


static int
merch_cat_patch(mall_ctx_t *ctx)
{
    char          name[MP_TEXT_MAX], name_en[MP_TEXT_MAX], key[48], ss[24];
    char         *before, *after;
    cJSON        *body, *o, *ob;
    redisReply   *r;
    mall_batch_t  b;
    mall_err_t    err;
    int64_t       id, parent, level, sort;
    int           rc, renamed;

    if (merch_role(ctx, 1, "category.update") != MALL_OK) {
        return MALL_OK;
    }
    id = sf_param_id(ctx, "id");
    snprintf(key, sizeof(key), CATALOG_KEY_CAT_FMT, (long long) id);
    rc = mall_cmd(ctx->redis, &r, &err, 8, "HMGET", key, "id", "parent_id",
                  "level", "name_zh", "name_en", "sort");
    if (rc != MALL_OK) {
        return rc == MALL_RETRY ? MALL_RETRY : MALL_ERR;
    }
    if (id == 0 || r->type != REDIS_REPLY_ARRAY || r->elements != 6
        || r->element[0]->type != REDIS_REPLY_STRING)
    {
        freeReplyObject(r);
        return mall_reply_error(ctx, 404, "NOT_FOUND", "no such category");
    }
    parent = level = sort = 0;
    catalog_reply_int(r->element[1], &parent);
    catalog_reply_int(r->element[2], &level);
    copy_str(name, sizeof(name), r->element[3]);
    copy_str(name_en, sizeof(name_en), r->element[4]);
    catalog_reply_int(r->element[5], &sort);
    freeReplyObject(r);
    ob = cat_json(id, parent, level, name, name_en, sort);
    before = ob != NULL ? cJSON_PrintUnformatted(ob) : NULL;
    cJSON_Delete(ob);

    if (sf_body(ctx, &body) != MALL_OK) {
        cJSON_free(before);
        return MALL_OK;
    }
    err.code = 0;
    if (cJSON_GetObjectItemCaseSensitive(body, "parent_id") != NULL) {
        cJSON_Delete(body);
        cJSON_free(before);
        return sf_reply_invalid(ctx, "parent_id", "a category cannot move; "
                                "create a new one");
    }
    if (body_text(body, "name", name, sizeof(name), 0, &err) != MALL_OK
        || body_text(body, "name_en", name_en, sizeof(name_en), 0, &err)
           != MALL_OK
        || (cJSON_GetObjectItemCaseSensitive(body, "sort") != NULL
            && mall_json_get_int(cJSON_GetObjectItemCaseSensitive(body,
                   "sort"), 0, 1000000000, &sort) != MALL_OK))
    {
        cJSON_Delete(body);
        cJSON_free(before);
        return mall_reply_error(ctx, 422, "VALIDATION_FAILED", "%s",
                                err.code ? err.msg : "sort must be an "
                                "integer");
    }
    renamed = cJSON_GetObjectItemCaseSensitive(body, "name") != NULL
              || cJSON_GetObjectItemCaseSensitive(body, "name_en") != NULL;
    cJSON_Delete(body);

    snprintf(ss, sizeof(ss), "%lld", (long long) sort);
    mall_batch_init(&b);
    mall_batch_addl(&b, 8, "HSET", key, "name_zh", name, "name_en", name_en,
                    "sort", ss);
    {
        char  sid[24];

        snprintf(sid, sizeof(sid), "%lld", (long long) id);
        mall_batch_addl(&b, 4, "ZADD", CATALOG_KEY_CATS, ss, sid);
    }
    o = cat_json(id, parent, level, name, name_en, sort);
    after = o != NULL ? cJSON_PrintUnformatted(o) : NULL;
    rc = cat_purge_audit(ctx, "category.update", id,
                         before != NULL ? before : "?",
                         after != NULL ? after : "?", &b, &err);
    cJSON_free(before);
    cJSON_free(after);
    mall_batch_free(&b);
    if (rc != MALL_OK) {
        cJSON_Delete(o);
        return rc == MALL_RETRY ? MALL_RETRY : MALL_ERR;
    }
    if (renamed) {
        cat_reindex(ctx, id);   /* detail paths and search terms */
    }
    return cat_reply(ctx, 200, o);
}


static int
merch_cat_delete(mall_ctx_t *ctx)
{
    char          key[48], pkey[48], sid[24], *kid;
    redisReply   *r;
    mall_batch_t  b;
    mall_err_t    err;
    cJSON        *o;
    int64_t       id, parent;
    size_t        i;
    int           rc, busy;

    if (merch_role(ctx, 1, "category.delete") != MALL_OK) {
        return MALL_OK;
    }
    id = sf_param_id(ctx, "id");
    snprintf(key, sizeof(key), CATALOG_KEY_CAT_FMT, (long long) id);
    snprintf(pkey, sizeof(pkey), CATALOG_KEY_CAT_PRODUCTS, (long long) id);
    snprintf(sid, sizeof(sid), "%lld", (long long) id);
    rc = mall_cmd(ctx->redis, &r, &err, 3, "HGET", key, "id");
    if (rc != MALL_OK) {
        return rc == MALL_RETRY ? MALL_RETRY : MALL_ERR;
    }
    busy = r->type != REDIS_REPLY_STRING;
    freeReplyObject(r);
    if (id == 0 || busy) {
        return mall_reply_error(ctx, 404, "NOT_FOUND", "no such category");
    }

    /* refuse while products or children remain (a SCARD/scan, then the
     * delete; a product added in between keeps its own category hash) */
    rc = mall_cmd(ctx->redis, &r, &err, 2, "SCARD", pkey);
    if (rc != MALL_OK) {
        return rc == MALL_RETRY ? MALL_RETRY : MALL_ERR;
    }
    busy = r->type == REDIS_REPLY_INTEGER && r->integer > 0;
    freeReplyObject(r);
    if (!busy) {
        rc = mall_cmd(ctx->redis, &r, &err, 4, "ZRANGE", CATALOG_KEY_CATS,
                      "0", "-1");
        if (rc != MALL_OK) {
            return rc == MALL_RETRY ? MALL_RETRY : MALL_ERR;
        }
        for (i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements && !busy;
             i++)
        {
            redisReply  *c;
            char         ck[48];

            kid = r->element[i]->str;
            snprintf(ck, sizeof(ck), "mall:cat:%.30s", kid);
            if (mall_cmd(ctx->redis, &c, &err, 3, "HGET", ck, "parent_id")
                == MALL_OK)
            {
                busy = catalog_reply_int(c, &parent) == MALL_OK
                       && parent == id;
                freeReplyObject(c);
            }
        }
        freeReplyObject(r);
    }
    if (busy) {
        return mall_reply_error(ctx, 409, "CONFLICT", "the category still "
                                "has products or sub-categories");
    }
    mall_batch_init(&b);
    mall_batch_addl(&b, 2, "DEL", key);
    mall_batch_addl(&b, 2, "DEL", pkey);
    mall_batch_addl(&b, 3, "ZREM", CATALOG_KEY_CATS, sid);
    rc = cat_purge_audit(ctx, "category.delete", id, sid, "null", &b, &err);
    mall_batch_free(&b);
    if (rc != MALL_OK) {
        return rc == MALL_RETRY ? MALL_RETRY : MALL_ERR;
    }
    o = cJSON_CreateObject();
    if (o == NULL || mall_json_add_int(o, "id", id) != MALL_OK
        || cJSON_AddBoolToObject(o, "deleted", 1) == NULL)
    {
        cJSON_Delete(o);
        return MALL_ERR;
    }
    return cat_reply(ctx, 200, o);
}
