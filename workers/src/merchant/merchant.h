/*
 * Merchant catalog management (/admin/api/v1/): products, SKUs,
 * categories, low-stock alerts.
 *
 *   merchant_edit.c        role check, id sequences, the edit protocol
 *   merchant_body.c        request-body readers
 *   merchant_products.c    products: create, read, edit, delist
 *   merchant_skus.c        SKUs: add, edit price/stock/threshold; alerts
 *   merchant_categories.c  categories: create, edit, delete
 *
 * Every product edit follows one protocol, so indexes never disagree:
 *   1. load the product under WATCH (catalog_product_load);
 *   2. apply the change to an in-memory copy ("after");
 *   3. one MULTI/EXEC of catalog_product_write(before, after): indexes of
 *      before out, hashes and card written, indexes of after in, stock
 *      state, catalog version, purge event;
 *   4. on a nil EXEC (a concurrent edit or order moved a watched key)
 *      start again; then the audit entry (before/after summaries).
 * A reader therefore sees the product entirely before or entirely after.
 *
 * Role matrix (ctx->ident.role, set by the edge from the admin token):
 *
 *   action                                     admin   operator
 *   read products / low-stock alerts             yes     yes
 *   PATCH sku price_fen / stock / threshold      yes     yes
 *   PATCH product content (names, images, ...)   yes     yes
 *   PATCH product status, DELETE (delist)        yes     no
 *   POST product, POST sku                       yes     no
 *   categories create / edit / delete            yes     no
 */
#ifndef MERCHANT_H
#define MERCHANT_H

#include <stdint.h>
#include <hiredis/hiredis.h>
#include <cjson/cJSON.h>

#include "catalog_product.h"
#include "mall_ctx.h"

#define MERCH_PRICE_MAX     100000000000LL
#define MERCH_STOCK_MAX     1000000000LL

/* An edit: changes after (a copy of the loaded product) in place. */
typedef int (*merch_edit_pt)(mall_ctx_t *ctx, catalog_product_t *after,
    void *arg, mall_err_t *err);

/* The argument of the body-driven edits. */
typedef struct {
    const cJSON  *body;
    int           admin;
} edit_arg_t;

/*
 * MALL_OK when the caller is staff (admin, or operator unless admin_only);
 * otherwise replies 403 (audited as denied) and returns MALL_ERR.
 */
int merch_role(mall_ctx_t *ctx, int admin_only, const char *action);

/* The next id of mall:seq:{seq}. MALL_OK, MALL_ERR, MALL_RETRY. */
int merch_next_id(mall_ctx_t *ctx, const char *seq, int64_t *id,
    mall_err_t *err);

/*
 * Runs the edit protocol on product id with edit(); replies with the
 * product (status) or the error. create: the product must not exist yet.
 */
int merch_run(mall_ctx_t *ctx, int64_t id, int create, const char *action,
    merch_edit_pt edit, void *arg, int status);

/* One MULTI/EXEC of the catalog writer; see merchant_edit.c. */
int merch_commit(mall_ctx_t *ctx, const catalog_product_t *before,
    catalog_product_t *after, mall_err_t *err);

/* The admin view of a product: the detail document plus status. */
int merch_reply(mall_ctx_t *ctx, int status, catalog_product_t *p);

/* A SKU's id, price and stock appended to skus; NULL on OOM. */
cJSON *merch_sku_json(cJSON *skus, const catalog_sku_t *k);

/* Reads a string field (1..max bytes) into dst when present. */
int merch_body_text(const cJSON *body, const char *name, char *dst,
    size_t max, int required, mall_err_t *err);

/* Replaces doc[name] with a copy of body[name] (an array or a string). */
int merch_body_doc_item(const cJSON *body, cJSON *doc, const char *name,
    int array, mall_err_t *err);

/* Reads one SKU spec {price_fen, stock, attrs?, low_stock_threshold?}. */
int merch_body_sku(const cJSON *s, catalog_sku_t *k, mall_err_t *err);

/* Copies a string reply (or "") into dst. */
void merch_copy_str(char *dst, size_t sz, const redisReply *r);

#endif
