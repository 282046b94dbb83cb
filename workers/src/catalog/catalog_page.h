/*
 * A page of products as the API answers it:
 *   {"items": [card, ...], "page", "size", "total"[, "q"]}
 * where each card is a product's ready-made list item (catalog_card.h),
 * fetched with one MGET and copied as it is: the cost of a page is one
 * round trip and a concatenation, whatever the catalog's size.
 */
#ifndef CATALOG_PAGE_H
#define CATALOG_PAGE_H

#include <stddef.h>
#include <stdint.h>

#include "mall_buf.h"
#include "mall_ctx.h"

typedef struct {
    int64_t      page;
    int64_t      size;
    int64_t      total;
    const char  *q;            /* echoed as "q" when not NULL */
} catalog_page_t;

/*
 * Appends the page JSON for the products ids[0..n) (a product whose card
 * is gone is left out) to out. MALL_OK, MALL_ERR (out of memory, err),
 * MALL_RETRY.
 */
int catalog_page_json(mall_ctx_t *ctx, const int64_t *ids, size_t n,
    const catalog_page_t *pg, mall_buf_t *out, mall_err_t *err);

/* The ids of an array reply of product ids (non-ids skipped); *n set.
 * malloc'd (free), NULL when out of memory. */
int64_t *catalog_reply_ids(const redisReply *r, size_t *n);

#endif
