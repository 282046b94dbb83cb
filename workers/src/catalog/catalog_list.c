/*
 * GET /api/v1/products: filtered, sorted, paginated product list, paged
 * inside Redis so the cost of a page does not grow with the catalog.
 *
 * Plans, by the filters asked for:
 *   none or category only   one ZRANGE of the sort index (global, or the
 *                           category's own mall:cat:{id}:by_{sort}) + ZCARD
 *   price range, price sort ZRANGEBYSCORE ... LIMIT + ZCOUNT on by_price
 *   anything else           the result zset mall:list:{digest}, built by
 *                           ZINTERSTORE of the sort index with the filter
 *                           sets (and a ZRANGESTORE of the price range) in
 *                           one MULTI, kept 60 s and tagged with the
 *                           catalog version it was built at: a change of
 *                           list membership (edit, sell-out) bumps the
 *                           version, so a stale result is rebuilt, never
 *                           served. Reading it is one round trip.
 * Then one MGET of the page's cards (catalog_page.h). Search results go
 * through catalog_list_run with their matches (catalog_list_search.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "catalog_keys.h"
#include "catalog_list.h"
#include "catalog_page.h"
#include "mall_b64.h"
#include "mall_batch.h"
#include "mall_crypto.h"
#include "mall_log.h"
#include "mall_reply.h"

#define LIST_RESULT_TTL  "60"

static const char *const  list_sorts[] = { "sales", "price", "price", "new" };


/* The sort index of p: the category's own or the global one. */
static void
list_sort_key(const catalog_list_params_t *p, const char *sort, char *key,
    size_t sz)
{
    if (p->category > 0) {
        snprintf(key, sz, CATALOG_KEY_CAT_BY_FMT, (long long) p->category,
                 sort);
    } else {
        snprintf(key, sz, "mall:products:by_%s", sort);
    }
}


static int
list_desc(const catalog_list_params_t *p)
{
    return p->sort != CATALOG_SORT_PRICE_ASC;
}


void
catalog_list_bounds(const catalog_list_params_t *p, char *min, char *max,
    size_t sz)
{
    snprintf(min, sz, "%lld",
             (long long) (p->min_price >= 0 ? p->min_price : 0));
    if (p->max_price >= 0) {
        snprintf(max, sz, "%lld", (long long) p->max_price);
    } else {
        snprintf(max, sz, "+inf");
    }
}


/* Appends the page read of key (ZRANGE or ZREVRANGE) and its ZCARD. */
static void
list_batch_page(mall_batch_t *b, const catalog_list_params_t *p,
    const char *key)
{
    char  start[24], stop[24];

    snprintf(start, sizeof(start), "%lld",
             (long long) ((p->page - 1) * p->size));
    snprintf(stop, sizeof(stop), "%lld",
             (long long) (p->page * p->size - 1));
    mall_batch_addl(b, 4, list_desc(p) ? "ZREVRANGE" : "ZRANGE", key, start,
                    stop);
    mall_batch_addl(b, 2, "ZCARD", key);
}


/* Answers the page ids[0..n) of total. */
int
catalog_list_reply(mall_ctx_t *ctx, const catalog_list_params_t *p,
    const int64_t *ids, size_t n, int64_t total, const char *q,
    mall_err_t *err)
{
    catalog_page_t  pg;
    mall_buf_t      out;
    char            tags[96];
    int             rc;

    pg.page = p->page;
    pg.size = p->size;
    pg.total = total;
    pg.q = q;
    mall_buf_init(&out);
    rc = catalog_page_json(ctx, ids, n, &pg, &out, err);
    if (rc == MALL_OK) {
        if (p->category > 0) {
            snprintf(tags, sizeof(tags), "list%s category:%lld",
                     q != NULL ? " search" : "", (long long) p->category);
        } else {
            snprintf(tags, sizeof(tags), "list%s", q != NULL ? " search" : "");
        }
        catalog_cache_headers(ctx, tags);
        rc = mall_reply_raw(ctx, 200, out.p, out.len);
    }
    mall_buf_free(&out);
    return rc;
}


/* Answers from a page reply (ids) and a count reply. */
static int
list_reply_from(mall_ctx_t *ctx, const catalog_list_params_t *p,
    const redisReply *page, const redisReply *count, mall_err_t *err)
{
    int64_t  *ids;
    size_t    n;
    int       rc;

    if (page->type != REDIS_REPLY_ARRAY
        || count->type != REDIS_REPLY_INTEGER)
    {
        return mall_err_set(err, 500, "unexpected list reply");
    }
    ids = catalog_reply_ids(page, &n);
    if (ids == NULL) {
        return mall_err_set(err, 500, "out of memory");
    }
    rc = catalog_list_reply(ctx, p, ids, n, count->integer, NULL, err);
    free(ids);
    return rc;
}


/* Plan 1 and 2: the sort index itself, or its price range. */
static int
list_direct(mall_ctx_t *ctx, const catalog_list_params_t *p, mall_err_t *err)
{
    char          key[96], min[24], max[24], off[24], cnt[24];
    mall_batch_t  b;
    redisReply   *reps[2];
    int           rc;

    list_sort_key(p, list_sorts[p->sort], key, sizeof(key));
    mall_batch_init(&b);
    if (p->min_price >= 0 || p->max_price >= 0) {
        catalog_list_bounds(p, min, max, sizeof(min));
        snprintf(off, sizeof(off), "%lld",
                 (long long) ((p->page - 1) * p->size));
        snprintf(cnt, sizeof(cnt), "%lld", (long long) p->size);
        if (list_desc(p)) {
            mall_batch_addl(&b, 7, "ZREVRANGEBYSCORE", key, max, min, "LIMIT",
                            off, cnt);
        } else {
            mall_batch_addl(&b, 7, "ZRANGEBYSCORE", key, min, max, "LIMIT",
                            off, cnt);
        }
        mall_batch_addl(&b, 4, "ZCOUNT", key, min, max);
    } else {
        list_batch_page(&b, p, key);
    }
    rc = mall_batch_send(&b, ctx->redis, reps, err);
    mall_batch_free(&b);
    if (rc != MALL_OK) {
        return rc;
    }
    rc = list_reply_from(ctx, p, reps[0], reps[1], err);
    mall_redis_free_replies(reps, 2);
    return rc;
}


/* The result key of p's filters: mall:list:{16 hex of their digest}. */
static void
list_result_key(const catalog_list_params_t *p, char *key, size_t sz)
{
    char     canon[512], hex[MALL_SHA256_HEX_LEN + 1];
    char     brand_lc[CATALOG_BRAND_MAX + 1];
    uint8_t  d[MALL_SHA256_LEN];
    int      n;

    catalog_brand_key(p->brand, brand_lc, sizeof(brand_lc));
    n = snprintf(canon, sizeof(canon), "c=%lld|b=%s|s=%d|lo=%lld|hi=%lld|"
                 "sort=%s", (long long) p->category, brand_lc, p->in_stock,
                 (long long) p->min_price, (long long) p->max_price,
                 list_sorts[p->sort]);
    mall_sha256(canon, (size_t) n, d);
    mall_hex_encode(d, sizeof(d), hex);
    snprintf(key, sz, "mall:list:%.16s", hex);
}


/* The MULTI that (re)builds the result of p at version ver, then reads
 * its page. */
static void
list_batch_build(mall_batch_t *b, const catalog_list_params_t *p,
    const char *dst, const char *ver)
{
    const char  *argv[16];
    char         sort_key[96], price_key[96], tmp[128], vkey[128];
    char         brand_key[CATALOG_BRAND_MAX + 32];
    char         brand_lc[CATALOG_BRAND_MAX + 1], min[24], max[24], nk[8];
    int          n, k, w;

    list_sort_key(p, list_sorts[p->sort], sort_key, sizeof(sort_key));
    snprintf(tmp, sizeof(tmp), "%s:range", dst);
    snprintf(vkey, sizeof(vkey), "%s:ver", dst);
    if (p->min_price >= 0 || p->max_price >= 0) {
        list_sort_key(p, "price", price_key, sizeof(price_key));
        catalog_list_bounds(p, min, max, sizeof(min));
        mall_batch_addl(b, 6, "ZRANGESTORE", tmp, price_key, min, max,
                        "BYSCORE");
    }

    /* ZINTERSTORE dst k sort [range] [brand] [in_stock] WEIGHTS 1 0 ... */
    n = 0;
    argv[n++] = "ZINTERSTORE";
    argv[n++] = dst;
    argv[n++] = nk;
    argv[n++] = sort_key;
    k = 1;
    if (p->min_price >= 0 || p->max_price >= 0) {
        argv[n++] = tmp;
        k++;
    }
    if (p->brand[0] != '\0') {
        catalog_brand_key(p->brand, brand_lc, sizeof(brand_lc));
        snprintf(brand_key, sizeof(brand_key), CATALOG_KEY_BRAND_PRODUCTS,
                 brand_lc);
        argv[n++] = brand_key;
        k++;
    }
    if (p->in_stock) {
        argv[n++] = CATALOG_KEY_IN_STOCK;
        k++;
    }
    snprintf(nk, sizeof(nk), "%d", k);
    argv[n++] = "WEIGHTS";
    for (w = 0; w < k; w++) {
        argv[n++] = w == 0 ? "1" : "0";    /* the score is the sort key */
    }
    mall_batch_add(b, n, argv);
    mall_batch_addl(b, 2, "DEL", tmp);
    mall_batch_addl(b, 3, "EXPIRE", dst, LIST_RESULT_TTL);
    mall_batch_addl(b, 5, "SET", vkey, ver, "EX", LIST_RESULT_TTL);
    list_batch_page(b, p, dst);
}


/* Plan 3: a cached intersection, rebuilt when the catalog moved on. */
static int
list_cached(mall_ctx_t *ctx, const catalog_list_params_t *p, mall_err_t *err)
{
    char           dst[64], vkey[80], ver[24];
    mall_batch_t   b;
    redisReply    *reps[4], *exec;
    size_t         n;
    int            rc;

    list_result_key(p, dst, sizeof(dst));
    snprintf(vkey, sizeof(vkey), "%s:ver", dst);
    mall_batch_init(&b);
    mall_batch_addl(&b, 2, "GET", CATALOG_KEY_VERSION);
    mall_batch_addl(&b, 2, "GET", vkey);
    list_batch_page(&b, p, dst);
    rc = mall_batch_send(&b, ctx->redis, reps, err);
    mall_batch_free(&b);
    if (rc != MALL_OK) {
        return rc;
    }
    snprintf(ver, sizeof(ver), "%s", reps[0]->type == REDIS_REPLY_STRING
                                     ? reps[0]->str : "0");
    if (reps[1]->type == REDIS_REPLY_STRING && strcmp(reps[1]->str, ver) == 0)
    {
        rc = list_reply_from(ctx, p, reps[2], reps[3], err);
        mall_redis_free_replies(reps, 4);
        return rc;
    }
    mall_redis_free_replies(reps, 4);

    mall_batch_init(&b);
    list_batch_build(&b, p, dst, ver);
    rc = mall_batch_exec(&b, ctx->redis, 1, &exec, err);
    mall_batch_free(&b);
    if (rc != MALL_OK) {
        return rc == MALL_BATCH_ABORTED ? MALL_RETRY : rc;
    }
    n = exec->elements;
    rc = n >= 2 ? list_reply_from(ctx, p, exec->element[n - 2],
                                  exec->element[n - 1], err)
                : mall_err_set(err, 500, "unexpected list build reply");
    freeReplyObject(exec);
    return rc;
}


int
catalog_list_run(mall_ctx_t *ctx, const catalog_list_params_t *p,
    const catalog_match_t *m)
{
    mall_err_t  err;
    int         rc, price_sort, price_range;

    err.msg[0] = '\0';
    price_sort = p->sort == CATALOG_SORT_PRICE_ASC
                 || p->sort == CATALOG_SORT_PRICE_DESC;
    price_range = p->min_price >= 0 || p->max_price >= 0;

    if (m != NULL) {
        rc = catalog_list_matches(ctx, p, m, &err);
    } else if (p->brand[0] == '\0' && !p->in_stock
               && (!price_range || price_sort))
    {
        rc = list_direct(ctx, p, &err);
    } else {
        rc = list_cached(ctx, p, &err);
    }
    if (rc == MALL_ERR && !ctx->replied) {
        mall_log_req(MALL_LOG_ERROR, "catalog", ctx->request_id,
                     ctx->ident.user, "products list: %s",
                     err.msg[0] ? err.msg : "out of memory");
    }
    return rc;
}


int
catalog_products_list(mall_ctx_t *ctx)
{
    catalog_list_params_t  p;
    mall_err_t             err;

    if (catalog_list_params_parse(&ctx->query, &p, &err) != MALL_OK) {
        return mall_reply_error(ctx, 400, "VALIDATION_FAILED", "%s",
                                err.msg);
    }
    return catalog_list_run(ctx, &p, NULL);
}
