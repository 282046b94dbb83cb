/*
 * Catalog route table and helpers shared by the catalog handlers.
 */
#include <stdio.h>
#include <string.h>

#include "catalog.h"
#include "mall_query.h"
#include "mall_reply.h"
#include "mall_routes.h"

const mall_route_t  mall_catalog_routes[] = {
    { "GET", "/api/v1/categories", catalog_categories_get, 0 },
    { "GET", "/api/v1/products", catalog_products_list, 0 },
    { "GET", "/api/v1/products/{id}", catalog_product_get, 0 },
    { NULL, NULL, NULL, 0 }
};


void
catalog_cache_headers(mall_ctx_t *ctx, const char *surrogate_keys)
{
    mall_reply_header(ctx, "Cache-Control", ctx->conf->cache_control);
    mall_reply_header(ctx, "Surrogate-Key", surrogate_keys);
}


int
catalog_reply_int(const redisReply *r, int64_t *out)
{
    long long  v;

    if (r == NULL) {
        return MALL_ERR;
    }
    if (r->type == REDIS_REPLY_INTEGER) {
        *out = r->integer;
        return MALL_OK;
    }
    if (r->type != REDIS_REPLY_STRING
        || mall_parse_int(r->str, -(1LL << 53), 1LL << 53, &v) != MALL_OK)
    {
        return MALL_ERR;
    }
    *out = v;
    return MALL_OK;
}


int
catalog_parse_id(const char *s, int64_t *out)
{
    long long  v;

    if (s == NULL || s[0] == '-' || s[0] == '0'
        || mall_parse_int(s, 1, 1000000000000000LL, &v) != MALL_OK)
    {
        return MALL_ERR;
    }
    *out = v;
    return MALL_OK;
}
