/*
 * Merchant catalog management (/admin/api/v1/): products, SKUs,
 * categories, low-stock alerts. See merchant.c for the write protocol.
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
 *
 * Keys added (besides the catalog's, catalog_keys.h):
 *   mall:purge              stream  tags "product:<id> category:<id> ..."
 *   mall:low_stock          set     sku ids at or below their threshold
 *   mall:alerts:low_stock   stream  sku_id product_id stock threshold ts
 *   mall:sku:{id} field low_stock_threshold (absent = config default)
 *   mall:product:{id} field status (on_sale | delisted)
 */
#ifndef MERCHANT_H
#define MERCHANT_H

#define MERCH_KEY_PURGE       "mall:purge"
#define MERCH_KEY_LOW_STOCK   "mall:low_stock"
#define MERCH_KEY_ALERTS      "mall:alerts:low_stock"

#include <stdint.h>

#include "mall_ctx.h"

/*
 * Brings what is derived from SKU stock in line after sku_id's stock
 * moved from old_stock outside a merchant edit (an order reserved it, a
 * cancel gave it back): the product's in_stock field and
 * mall:products:in_stock, mall:low_stock and a low-stock alert when the
 * SKU just became low, and the product's purge event. One MULTI/EXEC
 * under WATCH of the product and its SKUs, retried like an edit; it
 * re-reads the current stock, so a late call still converges. MALL_OK
 * (also when the product is gone), MALL_BATCH_ABORTED (still contended
 * after the retries), MALL_ERR, MALL_RETRY. Blocks on Redis.
 */
int merchant_stock_sync(mall_ctx_t *ctx, int64_t product_id, int64_t sku_id,
    int64_t old_stock, mall_err_t *err);

#endif
