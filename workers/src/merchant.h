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

#endif
