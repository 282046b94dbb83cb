/*
 * Demo catalog loader used by mall-seed: validates a catalog document
 * (conf/demo/catalog.json, format in conf/demo/gen_catalog.py) and writes
 * it to Redis under the keys of catalog_keys.h. Re-running replaces the
 * previous catalog; nothing is duplicated.
 */
#ifndef SEED_CATALOG_H
#define SEED_CATALOG_H

#include <cjson/cJSON.h>

#include "mall_common.h"
#include "mall_conf.h"
#include "mall_redis.h"

typedef struct {
    size_t  categories;
    size_t  products;
    size_t  skus;
    size_t  removed;      /* products of the previous catalog deleted */
} seed_stats_t;

/*
 * Replaces the catalog with doc, through the catalog writer (so the
 * layout is the merchant edits' own); SKUs at or below their threshold
 * start in the low-stock set. MALL_OK, or MALL_ERR / MALL_RETRY with the
 * reason in err. Blocks (a tool, no event loop).
 */
int seed_catalog_load(mall_redis_t *r, const cJSON *doc,
    const mall_conf_t *conf, seed_stats_t *st, mall_err_t *err);

#endif
