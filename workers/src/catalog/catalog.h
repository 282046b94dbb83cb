/*
 * Catalog reads: category tree, product list, product detail. All served
 * from Redis; the keys are described in catalog_keys.h.
 */
#ifndef CATALOG_H
#define CATALOG_H

#include <stdint.h>
#include <hiredis/hiredis.h>
#include <cjson/cJSON.h>

#include "mall_ctx.h"

#include "catalog_params.h"

int catalog_categories_get(mall_ctx_t *ctx);
int catalog_products_list(mall_ctx_t *ctx);
int catalog_product_get(mall_ctx_t *ctx);

/* The matches of a search: the candidate set and relevance scores. */
typedef struct {
    const int64_t  *ids;
    const int64_t  *scores;
    size_t          n;
    int             relevance;    /* sort by score, then sales */
    const char     *q;            /* echoed as "q" */
} catalog_match_t;

/*
 * Filters, sorts and pages the catalog (or, with m, the matches of a
 * search) and replies with {"items", "page", "size", "total"[, "q"]};
 * see catalog_list.c for how each filter is paged inside Redis.
 */
int catalog_list_run(mall_ctx_t *ctx, const catalog_list_params_t *p,
    const catalog_match_t *m);

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
