/*
 * Search results through the list's filters and pages (see
 * catalog_list.h): the matches' sort scores and filter memberships in one
 * round trip, then a sort, a page and its cards.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog_keys.h"
#include "catalog_list.h"
#include "mall_batch.h"
#include "mall_query.h"

typedef struct {
    int64_t  id;
    int64_t  score;         /* relevance, or the sort key */
    int64_t  tie;           /* relevance sort: sales */
} match_t;

static int  match_desc;     /* qsort has no context argument */


static int
match_cmp(const void *a, const void *b)
{
    const match_t  *x = a, *y = b;

    if (x->score != y->score) {
        return ((x->score < y->score) ? -1 : 1) * (match_desc ? -1 : 1);
    }
    if (x->tie != y->tie) {
        return x->tie > y->tie ? -1 : 1;
    }
    return (x->id > y->id) - (x->id < y->id);
}


/* Appends "CMD key id1 id2 ..." over the matches. */
static void
batch_over_ids(mall_batch_t *b, const char *cmd, const char *key,
    char (*ids)[24], size_t n)
{
    const char  **argv;
    size_t        i;

    argv = malloc((n + 2) * sizeof(*argv));
    if (argv == NULL) {
        b->oom = 1;
        return;
    }
    argv[0] = cmd;
    argv[1] = key;
    for (i = 0; i < n; i++) {
        argv[i + 2] = ids[i];
    }
    mall_batch_add(b, (int) (n + 2), argv);
    free(argv);
}


/* A ZMSCORE element as an integer; 0 with *ok = 0 when nil. */
static int64_t
score_of(const redisReply *r, int *ok)
{
    long long  v;

    *ok = r->type == REDIS_REPLY_STRING
          && mall_parse_int(r->str, -(1LL << 53), 1LL << 53, &v) == MALL_OK;
    return *ok ? v : 0;
}


int
catalog_list_matches(mall_ctx_t *ctx, const catalog_list_params_t *p,
    const catalog_match_t *m, mall_err_t *err)
{
    static const char *const  sorts[] = { "sales", "price", "price", "new" };
    char           (*sids)[24], key[96], cat_key[64];
    char             brand_key[CATALOG_BRAND_MAX + 32];
    char             brand_lc[CATALOG_BRAND_MAX + 1];
    mall_batch_t     b;
    redisReply      *reps[6];
    match_t         *v;
    int64_t         *page, lo, hi, price;
    size_t           i, k, n, first, count, nreps;
    int              rc, ok, keep;

    if (m->n == 0) {
        return catalog_list_reply(ctx, p, NULL, 0, 0, m->q, err);
    }
    sids = malloc(m->n * sizeof(*sids));
    v = malloc(m->n * sizeof(*v));
    page = malloc((size_t) p->size * sizeof(*page));
    rc = MALL_ERR;
    nreps = 0;
    if (sids == NULL || v == NULL || page == NULL) {
        mall_err_set(err, 500, "out of memory");
        goto done;
    }
    for (i = 0; i < m->n; i++) {
        snprintf(sids[i], sizeof(sids[i]), "%lld", (long long) m->ids[i]);
    }

    /* 0: the sort index scores (absent = not on sale), 1: price, then the
     * filter sets that apply */
    mall_batch_init(&b);
    snprintf(key, sizeof(key), "mall:products:by_%s",
             m->relevance ? "sales" : sorts[p->sort]);
    batch_over_ids(&b, "ZMSCORE", key, sids, m->n);
    batch_over_ids(&b, "ZMSCORE", CATALOG_KEY_BY_PRICE, sids, m->n);
    if (p->category > 0) {
        snprintf(cat_key, sizeof(cat_key), CATALOG_KEY_CAT_PRODUCTS,
                 (long long) p->category);
        batch_over_ids(&b, "SMISMEMBER", cat_key, sids, m->n);
    }
    if (p->brand[0] != '\0') {
        catalog_brand_key(p->brand, brand_lc, sizeof(brand_lc));
        snprintf(brand_key, sizeof(brand_key), CATALOG_KEY_BRAND_PRODUCTS,
                 brand_lc);
        batch_over_ids(&b, "SMISMEMBER", brand_key, sids, m->n);
    }
    if (p->in_stock) {
        batch_over_ids(&b, "SMISMEMBER", CATALOG_KEY_IN_STOCK, sids, m->n);
    }
    nreps = b.n;
    rc = mall_batch_send(&b, ctx->redis, reps, err);
    mall_batch_free(&b);
    if (rc != MALL_OK) {
        nreps = 0;
        goto done;
    }
    for (i = 0; i < nreps; i++) {
        if (reps[i]->type != REDIS_REPLY_ARRAY || reps[i]->elements != m->n) {
            rc = mall_err_set(err, 500, "unexpected search filter reply");
            goto done;
        }
    }

    lo = p->min_price >= 0 ? p->min_price : 0;
    hi = p->max_price >= 0 ? p->max_price : INT64_MAX;
    count = 0;
    for (i = 0; i < m->n; i++) {
        v[count].id = m->ids[i];
        v[count].score = score_of(reps[0]->element[i], &ok);
        keep = ok;
        price = score_of(reps[1]->element[i], &ok);
        keep &= ok && price >= lo && price <= hi;
        for (k = 2; k < nreps; k++) {
            keep &= reps[k]->element[i]->type == REDIS_REPLY_INTEGER
                    && reps[k]->element[i]->integer == 1;
        }
        if (!keep) {
            continue;
        }
        v[count].tie = 0;
        if (m->relevance) {
            v[count].tie = v[count].score;       /* sales */
            v[count].score = m->scores[i];
        }
        count++;
    }
    match_desc = m->relevance || p->sort != CATALOG_SORT_PRICE_ASC;
    if (count > 0) {
        qsort(v, count, sizeof(*v), match_cmp);
    }

    first = (size_t) ((p->page - 1) * p->size);
    n = first < count ? count - first : 0;
    if (n > (size_t) p->size) {
        n = (size_t) p->size;
    }
    for (i = 0; i < n; i++) {
        page[i] = v[first + i].id;
    }
    rc = catalog_list_reply(ctx, p, page, n, (int64_t) count, m->q, err);

done:
    mall_redis_free_replies(reps, nreps);
    free(sids);
    free(v);
    free(page);
    return rc;
}
