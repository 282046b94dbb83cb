/*
 * Product-list parameter validation (see catalog_params.h).
 */
#include <string.h>

#include "catalog_params.h"


void
catalog_brand_key(const char *brand, char *out, size_t outsz)
{
    size_t  i;

    for (i = 0; brand[i] != '\0' && i + 1 < outsz; i++) {
        out[i] = (brand[i] >= 'A' && brand[i] <= 'Z') ? brand[i] + 32
                                                      : brand[i];
    }
    out[i] = '\0';
}


int
catalog_list_params_parse(const mall_query_t *q, catalog_list_params_t *p,
    mall_err_t *err)
{
    const char  *v;
    long long    n;
    size_t       len;

    memset(p, 0, sizeof(*p));

    if (mall_query_int(q, "category", 1, CATALOG_ID_MAX, 0, &n, err)
        != MALL_OK)
    {
        return MALL_ERR;
    }
    p->category = n;

    v = mall_query_get(q, "brand");
    if (v != NULL && v[0] != '\0') {
        len = strlen(v);
        if (len > CATALOG_BRAND_MAX) {
            return mall_err_set(err, 400, "brand must be at most %d bytes",
                                CATALOG_BRAND_MAX);
        }
        memcpy(p->brand, v, len + 1);
    }

    if (mall_query_int(q, "min_price", 0, CATALOG_PRICE_MAX, -1, &n, err)
        != MALL_OK)
    {
        return MALL_ERR;
    }
    p->min_price = n;

    if (mall_query_int(q, "max_price", 0, CATALOG_PRICE_MAX, -1, &n, err)
        != MALL_OK)
    {
        return MALL_ERR;
    }
    p->max_price = n;

    if (p->min_price >= 0 && p->max_price >= 0
        && p->min_price > p->max_price)
    {
        return mall_err_set(err, 400, "min_price must not exceed max_price");
    }

    v = mall_query_get(q, "in_stock");
    if (v == NULL || v[0] == '\0' || strcmp(v, "0") == 0
        || strcmp(v, "false") == 0)
    {
        p->in_stock = 0;
    } else if (strcmp(v, "1") == 0 || strcmp(v, "true") == 0) {
        p->in_stock = 1;
    } else {
        return mall_err_set(err, 400, "in_stock must be 1, 0, true or false");
    }

    v = mall_query_get(q, "sort");
    if (v == NULL || v[0] == '\0' || strcmp(v, "sales") == 0) {
        p->sort = CATALOG_SORT_SALES;
    } else if (strcmp(v, "price_asc") == 0) {
        p->sort = CATALOG_SORT_PRICE_ASC;
    } else if (strcmp(v, "price_desc") == 0) {
        p->sort = CATALOG_SORT_PRICE_DESC;
    } else if (strcmp(v, "new") == 0) {
        p->sort = CATALOG_SORT_NEW;
    } else {
        return mall_err_set(err, 400, "sort must be one of sales, price_asc, "
                            "price_desc, new");
    }

    if (mall_query_int(q, "page", 1, CATALOG_PAGE_MAX, 1, &n, err)
        != MALL_OK)
    {
        return MALL_ERR;
    }
    p->page = n;

    if (mall_query_int(q, "size", 1, CATALOG_SIZE_MAX, CATALOG_SIZE_DEFAULT,
                       &n, err) != MALL_OK)
    {
        return MALL_ERR;
    }
    p->size = n;

    return MALL_OK;
}
