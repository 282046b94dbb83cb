/*
 * Validation of the product-list query (GET /api/v1/products). Pure code so
 * the rules are unit-tested without Redis.
 */
#ifndef CATALOG_PARAMS_H
#define CATALOG_PARAMS_H

#include <stdint.h>

#include "mall_common.h"
#include "mall_query.h"

#define CATALOG_SIZE_DEFAULT   20
#define CATALOG_SIZE_MAX       100
#define CATALOG_PAGE_MAX       100000
#define CATALOG_PRICE_MAX      100000000000LL    /* fen */
#define CATALOG_BRAND_MAX      64
#define CATALOG_ID_MAX         1000000000000000LL

typedef enum {
    CATALOG_SORT_SALES = 0,     /* sales desc */
    CATALOG_SORT_PRICE_ASC,
    CATALOG_SORT_PRICE_DESC,
    CATALOG_SORT_NEW            /* created_at desc */
} catalog_sort_e;

typedef struct {
    int64_t          category;     /* 0 = any */
    char             brand[CATALOG_BRAND_MAX + 1];   /* "" = any */
    int64_t          min_price;    /* fen, -1 = none */
    int64_t          max_price;    /* fen, -1 = none */
    int              in_stock;     /* 1 = only products with stock */
    catalog_sort_e   sort;
    int64_t          page;         /* 1-based */
    int64_t          size;
} catalog_list_params_t;

/*
 * Reads and validates the list parameters from q. MALL_ERR with err->code
 * 400 and a message that starts with the offending parameter's name.
 * Unknown parameters are ignored.
 */
int catalog_list_params_parse(const mall_query_t *q,
    catalog_list_params_t *p, mall_err_t *err);

/* Lowercases brand into out (ASCII only; other bytes kept). */
void catalog_brand_key(const char *brand, char *out, size_t outsz);

#endif
