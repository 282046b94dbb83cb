/*
 * workers/src/core/mall_query.c and catalog/catalog_params.c: the query
 * string of every worker request (evhttp's raw URI query) and the product
 * list parameters read from it.
 *
 * Input: the raw query (without '?'). Oracles: every decoded name and
 * value lies inside the parse buffer, is NUL-terminated and holds no NUL;
 * list parameters are within their documented ranges; a percent decode
 * into exactly len bytes (the header's "at least len") never grows.
 */
#include "fuzz_common.h"
#include "catalog_params.h"
#include "mall_query.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char                   *q, *out, *s, brand[CATALOG_BRAND_MAX + 1];
    size_t                  i, n;
    long long               v;
    mall_err_t              err;
    mall_query_t           *mq;
    catalog_list_params_t   p;

    q = fz_dup(data, size);
    mq = fz_alloc(sizeof(*mq));

    if (mall_query_parse(q, size, mq, &err) == MALL_OK) {
        FZ_ASSERT(mq->n <= MALL_QUERY_MAX_PARAMS);
        for (i = 0; i < mq->n; i++) {
            FZ_ASSERT(mq->params[i].name >= mq->buf
                      && mq->params[i].name < mq->buf + sizeof(mq->buf));
            FZ_ASSERT(mq->params[i].value >= mq->buf
                      && mq->params[i].value < mq->buf + sizeof(mq->buf));
            FZ_ASSERT(mall_query_get(mq, mq->params[i].name) != NULL);
        }

        if (catalog_list_params_parse(mq, &p, &err) == MALL_OK) {
            FZ_ASSERT(p.category >= 0 && p.category <= CATALOG_ID_MAX);
            FZ_ASSERT(p.page >= 1 && p.page <= CATALOG_PAGE_MAX);
            FZ_ASSERT(p.size >= 1 && p.size <= CATALOG_SIZE_MAX);
            FZ_ASSERT(p.min_price >= -1 && p.max_price >= -1);
            FZ_ASSERT(memchr(p.brand, '\0', sizeof(p.brand)) != NULL);
            /* catalog_list.c lowercases into a buffer of the same size */
            catalog_brand_key(p.brand, brand, sizeof(brand));
            FZ_ASSERT(strlen(brand) == strlen(p.brand));
        } else {
            FZ_ASSERT(err.code == 400);
        }
        mall_query_int(mq, "page", 1, 100, 1, &v, &err);
        mall_query_int(mq, "limit", -5, 5, 0, &v, &err);
    } else {
        FZ_ASSERT(err.code == 400);
    }

    out = fz_alloc(size);
    if (mall_percent_decode(q, size, (int) (size & 1), out, &n) == MALL_OK) {
        FZ_ASSERT(n <= size && memchr(out, '\0', n) == NULL);
    }
    free(out);

    s = fz_str(data, size);
    if (mall_parse_int(s, -1000000, 1000000, &v) == MALL_OK) {
        FZ_ASSERT(v >= -1000000 && v <= 1000000);
    }
    free(s);

    free(mq);
    free(q);
    return 0;
}
