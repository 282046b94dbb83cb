/*
 * Between the product list (catalog_list.c) and the search results that
 * reuse its filters and pages (catalog_list_search.c).
 */
#ifndef CATALOG_LIST_H
#define CATALOG_LIST_H

#include "catalog.h"

/* The price filter as ZRANGEBYSCORE bounds ("0".."+inf" by default). */
void catalog_list_bounds(const catalog_list_params_t *p, char *min,
    char *max, size_t sz);

/* Answers the page ids[0..n) of total products, q echoed when not NULL. */
int catalog_list_reply(mall_ctx_t *ctx, const catalog_list_params_t *p,
    const int64_t *ids, size_t n, int64_t total, const char *q,
    mall_err_t *err);

/*
 * The matches of a search under p's filters and sort, paged: one pipeline
 * of SMISMEMBER/ZMSCORE over the matches (their number, not the
 * catalog's size, bounds the work), sorted in memory.
 */
int catalog_list_matches(mall_ctx_t *ctx, const catalog_list_params_t *p,
    const catalog_match_t *m, mall_err_t *err);

#endif
