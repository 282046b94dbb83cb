/*
 * Catalog reads: category tree, product list, product detail. All served
 * from Redis; the keys are described in catalog_keys.h.
 */
#ifndef CATALOG_H
#define CATALOG_H

#include <stdint.h>
#include <hiredis/hiredis.h>

#include "mall_ctx.h"

int catalog_categories_get(mall_ctx_t *ctx);
int catalog_products_list(mall_ctx_t *ctx);
int catalog_product_get(mall_ctx_t *ctx);

/* Cache-Control from the config plus the given Surrogate-Key tags. */
void catalog_cache_headers(mall_ctx_t *ctx, const char *surrogate_keys);

/*
 * Integer value of a string/integer reply element; MALL_OK or MALL_ERR
 * (nil, not a number).
 */
int catalog_reply_int(const redisReply *r, int64_t *out);

/* Positive decimal id (1..10^15); MALL_OK or MALL_ERR. */
int catalog_parse_id(const char *s, int64_t *out);

#endif
