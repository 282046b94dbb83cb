/*
 * A product as the catalog stores it, and the one writer of its Redis
 * layout (catalog_keys.h). Merchant edits, mall-seed and category renames
 * all go through catalog_product_write, so the product hash, its SKU
 * hashes, its list card, the sort indexes (global and per category), the
 * filter sets, the search postings, the low-stock state and the purge
 * event can never disagree.
 *
 * An edit loads the product under WATCH (catalog_product_load), changes a
 * copy, and sends catalog_product_write(before, after) in one MULTI/EXEC:
 * readers see the product entirely before or entirely after.
 */
#ifndef CATALOG_PRODUCT_H
#define CATALOG_PRODUCT_H

#include <stdint.h>
#include <hiredis/hiredis.h>
#include <cjson/cJSON.h>

#include "catalog_params.h"
#include "mall_batch.h"
#include "mall_ctx.h"

#define CATALOG_MAX_SKUS    64
#define CATALOG_MAX_DEPTH   8
#define CATALOG_TEXT_MAX    512

typedef struct {
    int64_t  id;
    int64_t  price;
    int64_t  stock;
    int64_t  threshold;         /* -1: the config's low_stock_threshold */
    cJSON   *attrs;             /* owned */
    int      is_new;
} catalog_sku_t;

typedef struct {
    int64_t  id;
    char     name[CATALOG_TEXT_MAX];
    char     name_en[CATALOG_TEXT_MAX];
} catalog_cat_ref_t;

typedef struct {
    int                 exists;
    int64_t             id;
    int                 on_sale;
    char                name[CATALOG_TEXT_MAX];
    char                name_en[CATALOG_TEXT_MAX];
    char                brand[CATALOG_BRAND_MAX + 1];
    int64_t             category_id;
    int64_t             sales;
    int64_t             created_at;
    cJSON              *doc;            /* static detail document, owned */
    catalog_sku_t       skus[CATALOG_MAX_SKUS];
    size_t              nskus;
    catalog_cat_ref_t   chain[CATALOG_MAX_DEPTH];   /* leaf first */
    size_t              nchain;
    redisReply         *terms;          /* its search terms (SMEMBERS) */
} catalog_product_t;

/*
 * WATCHes and loads product id with its SKUs, category chain and search
 * terms (three round trips plus one per category level). MALL_OK with
 * p->exists set (0: no such product), MALL_ERR, MALL_RETRY. Free p with
 * catalog_product_free whatever the result.
 */
int catalog_product_load(mall_ctx_t *ctx, int64_t id, catalog_product_t *p,
    mall_err_t *err);

/*
 * Loads the category chain of cid (leaf first) into p. MALL_OK, MALL_ERR
 * (unknown category: err->code 422), MALL_RETRY.
 */
int catalog_product_load_chain(mall_ctx_t *ctx, int64_t cid,
    catalog_product_t *p, mall_err_t *err);

/* Deep copy (the search terms are not copied). MALL_OK or MALL_ERR. */
int catalog_product_copy(const catalog_product_t *src,
    catalog_product_t *dst);

void catalog_product_free(catalog_product_t *p);

/* The lowest SKU price and whether any SKU is in stock. */
void catalog_product_derived(const catalog_product_t *p, int64_t *min_price,
    int *in_stock);

/*
 * Rewrites the fields of the detail document that p's own fields own
 * (id, names, brand, category and its path, sales, created_at).
 * MALL_OK or MALL_ERR (out of memory).
 */
int catalog_product_doc_sync(catalog_product_t *p);

/* The list thumbnail: the first image's thumbnail, or "". */
const char *catalog_product_image(const catalog_product_t *p);

/*
 * Appends to b the commands that take the catalog from before (NULL or
 * !exists: a new product) to after: index entries of before removed,
 * product, SKU and card written, index entries of after added when it is
 * on sale, low-stock state, the catalog version bumped and the purge
 * event with the tags of both. Send it inside MULTI/EXEC. MALL_OK, or
 * MALL_ERR (out of memory; invalid UTF-8 text: err->code 422).
 */
int catalog_product_write(const mall_conf_t *conf, mall_batch_t *b,
    const catalog_product_t *before, catalog_product_t *after,
    mall_err_t *err);

#endif
