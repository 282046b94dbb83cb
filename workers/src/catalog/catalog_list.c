/*
 * GET /api/v1/products: filtered, sorted, paginated product list.
 *
 * The sort index (a zset over all products) is read with its scores and
 * filtered in memory against the filter sets (category incl. descendants,
 * brand, in-stock, price range), then sorted by (score, id) so pages are
 * stable, then one pipelined HMGET per product of the page. The work is
 * linear in the catalog size; the edge caches the answers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "catalog_keys.h"
#include "catalog_params.h"
#include "mall_json.h"
#include "mall_log.h"
#include "mall_reply.h"

#define LIST_MAX_CMDS  5

typedef struct {
    int64_t  id;
    int64_t  score;
    int64_t  tie;       /* relevance sort: sales, desc */
} list_item_t;

typedef struct {
    int64_t  *ids;      /* sorted */
    size_t    n;
    int       active;
} list_filter_t;

static int  list_desc;   /* qsort has no context argument */


static int
list_id_cmp(const void *a, const void *b)
{
    int64_t  x = *(const int64_t *) a, y = *(const int64_t *) b;

    return (x > y) - (x < y);
}


static int
list_item_cmp(const void *a, const void *b)
{
    const list_item_t  *x = a, *y = b;

    if (x->score != y->score) {
        return ((x->score < y->score) ? -1 : 1) * (list_desc ? -1 : 1);
    }
    if (x->tie != y->tie) {
        return x->tie > y->tie ? -1 : 1;
    }
    return (x->id > y->id) - (x->id < y->id);
}


/* Loads an array reply of ids into a sorted filter; MALL_OK or MALL_ERR. */
static int
list_filter_load(list_filter_t *f, const redisReply *r)
{
    size_t  i;

    if (r->type != REDIS_REPLY_ARRAY) {
        return MALL_ERR;
    }
    f->active = 1;
    f->n = 0;
    f->ids = malloc((r->elements + 1) * sizeof(int64_t));
    if (f->ids == NULL) {
        return MALL_ERR;
    }
    for (i = 0; i < r->elements; i++) {
        if (catalog_reply_int(r->element[i], &f->ids[f->n]) == MALL_OK) {
            f->n++;
        }
    }
    qsort(f->ids, f->n, sizeof(int64_t), list_id_cmp);
    return MALL_OK;
}


static int
list_filter_has(const list_filter_t *f, int64_t id)
{
    if (!f->active) {
        return 1;
    }
    return bsearch(&id, f->ids, f->n, sizeof(int64_t), list_id_cmp) != NULL;
}


const char *const  catalog_summary_fields[CATALOG_SUMMARY_NFIELDS] = {
    "id", "name_zh", "name_en", "brand", "price_fen", "image", "sales",
    "in_stock", "status"
};


int
catalog_summary_add(cJSON *items, const redisReply *r, int with_status)
{
    cJSON    *it;
    int64_t   id, price, sales, in_stock;
    size_t    i;
    int       delisted;

    if (r == NULL || r->type != REDIS_REPLY_ARRAY
        || r->elements != CATALOG_SUMMARY_NFIELDS
        || catalog_reply_int(r->element[0], &id) != MALL_OK)
    {
        return MALL_OK;   /* vanished since the index was read */
    }
    for (i = 1; i < 4; i++) {
        if (r->element[i]->type != REDIS_REPLY_STRING) {
            return MALL_OK;
        }
    }
    if (catalog_reply_int(r->element[4], &price) != MALL_OK) {
        return MALL_OK;
    }
    if (catalog_reply_int(r->element[6], &sales) != MALL_OK) {
        sales = 0;
    }
    if (catalog_reply_int(r->element[7], &in_stock) != MALL_OK) {
        in_stock = 0;
    }
    delisted = r->element[8]->type == REDIS_REPLY_STRING
               && strcmp(r->element[8]->str, "delisted") == 0;

    it = cJSON_CreateObject();
    if (it == NULL) {
        return MALL_ERR;
    }
    if (!cJSON_AddItemToArray(items, it)) {
        cJSON_Delete(it);
        return MALL_ERR;
    }

    if (mall_json_add_int(it, "id", id) != MALL_OK
        || mall_json_add_str(it, "name", r->element[1]->str) != MALL_OK
        || mall_json_add_str(it, "name_en", r->element[2]->str) != MALL_OK
        || mall_json_add_str(it, "brand", r->element[3]->str) != MALL_OK
        || mall_json_add_int(it, "price_fen", price) != MALL_OK
        || mall_json_add_str(it, "image",
                             r->element[5]->type == REDIS_REPLY_STRING
                             ? r->element[5]->str : "") != MALL_OK
        || mall_json_add_int(it, "sales", sales) != MALL_OK
        || cJSON_AddBoolToObject(it, "in_stock", in_stock != 0 && !delisted)
           == NULL)
    {
        return MALL_ERR;
    }
    if (with_status
        && mall_json_add_str(it, "status", delisted ? "delisted" : "on_sale")
           != MALL_OK)
    {
        return MALL_ERR;
    }
    return MALL_OK;
}


int
catalog_summaries(mall_ctx_t *ctx, const int64_t *ids, size_t n,
    cJSON *items, int with_status, mall_err_t *err)
{
    mall_redis_cmd_t   *cmds;
    redisReply        **reps;
    const char        **argv;
    char              (*keys)[48];
    size_t              i, w;
    int                 rc;

    if (n == 0) {
        return MALL_OK;
    }
    w = CATALOG_SUMMARY_NFIELDS + 2;
    cmds = calloc(n, sizeof(*cmds));
    reps = calloc(n, sizeof(*reps));
    keys = calloc(n, sizeof(*keys));
    argv = calloc(n * w, sizeof(*argv));
    rc = MALL_ERR;
    if (cmds == NULL || reps == NULL || keys == NULL || argv == NULL) {
        mall_err_set(err, 500, "out of memory");
        goto done;
    }
    for (i = 0; i < n; i++) {
        snprintf(keys[i], sizeof(keys[i]), CATALOG_KEY_PRODUCT_FMT,
                 (long long) ids[i]);
        argv[i * w] = "HMGET";
        argv[i * w + 1] = keys[i];
        memcpy(&argv[i * w + 2], catalog_summary_fields,
               sizeof(catalog_summary_fields));
        cmds[i].argc = (int) w;
        cmds[i].argv = &argv[i * w];
        cmds[i].argvlen = NULL;
    }
    rc = mall_redis_pipeline(ctx->redis, n, cmds, reps, err);
    if (rc != MALL_OK) {
        goto done;
    }
    for (i = 0; i < n; i++) {
        if (catalog_summary_add(items, reps[i], with_status) != MALL_OK) {
            rc = mall_err_set(err, 500, "out of memory");
            break;
        }
    }

done:
    if (reps != NULL) {
        mall_redis_free_replies(reps, n);
    }
    free(cmds);
    free(reps);
    free(keys);
    free(argv);
    return rc;
}


typedef struct {
    int64_t  id;
    int64_t  score;
} list_match_t;


static int
list_match_cmp(const void *a, const void *b)
{
    const list_match_t  *x = a, *y = b;

    return (x->id > y->id) - (x->id < y->id);
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


int
catalog_list_run(mall_ctx_t *ctx, const catalog_list_params_t *pp,
    const catalog_match_t *m)
{
    catalog_list_params_t   p = *pp;
    mall_redis_cmd_t        cmds[LIST_MAX_CMDS];
    redisReply             *reps[LIST_MAX_CMDS], *zr;
    list_match_t           *matches, key, *hit;
    int64_t                *page_ids;
    list_filter_t           filters[LIST_MAX_CMDS];
    list_item_t            *items;
    const char             *argv[LIST_MAX_CMDS][6];
    char                    cat_key[64], brand_key[CATALOG_BRAND_MAX + 32];
    char                    brand_lc[CATALOG_BRAND_MAX + 1];
    char                    min_s[24], max_s[24];
    char                    tags[96];
    cJSON                  *root, *arr;
    mall_err_t              err;
    size_t                  ncmds, i, k, n, first, count;
    int                     rc, price_sort, price_filter, price_cmd;
    int                     relevance;

    memset(reps, 0, sizeof(reps));
    memset(filters, 0, sizeof(filters));
    items = NULL;
    matches = NULL;
    page_ids = NULL;
    root = NULL;
    ncmds = 0;
    count = 0;
    err.msg[0] = '\0';
    relevance = m != NULL && m->relevance;

    /* the matches of a search, by id for lookups */
    if (m != NULL) {
        matches = malloc((m->n + 1) * sizeof(*matches));
        if (matches == NULL) {
            rc = MALL_ERR;
            goto done;
        }
        for (i = 0; i < m->n; i++) {
            matches[i].id = m->ids[i];
            matches[i].score = m->scores[i];
        }
        qsort(matches, m->n, sizeof(*matches), list_match_cmp);
    }

    price_sort = p.sort == CATALOG_SORT_PRICE_ASC
                 || p.sort == CATALOG_SORT_PRICE_DESC;
    price_filter = p.min_price >= 0 || p.max_price >= 0;
    list_desc = relevance || p.sort != CATALOG_SORT_PRICE_ASC;

    /* command 0: the sort index with scores */
    argv[0][0] = "ZRANGE";
    argv[0][1] = relevance ? CATALOG_KEY_BY_SALES
                 : price_sort ? CATALOG_KEY_BY_PRICE
                 : p.sort == CATALOG_SORT_NEW ? CATALOG_KEY_BY_NEW
                 : CATALOG_KEY_BY_SALES;
    argv[0][2] = "0";
    argv[0][3] = "-1";
    argv[0][4] = "WITHSCORES";
    cmds[0].argc = 5;
    ncmds = 1;

    snprintf(min_s, sizeof(min_s), "%lld",
             (long long) (p.min_price >= 0 ? p.min_price : 0));
    if (p.max_price >= 0) {
        snprintf(max_s, sizeof(max_s), "%lld", (long long) p.max_price);
    } else {
        snprintf(max_s, sizeof(max_s), "+inf");
    }

    price_cmd = -1;
    if (price_filter) {
        price_cmd = (int) ncmds;
        argv[ncmds][0] = "ZRANGEBYSCORE";
        argv[ncmds][1] = CATALOG_KEY_BY_PRICE;
        argv[ncmds][2] = min_s;
        argv[ncmds][3] = max_s;
        cmds[ncmds++].argc = 4;
    }
    if (p.category > 0) {
        snprintf(cat_key, sizeof(cat_key), CATALOG_KEY_CAT_PRODUCTS,
                 (long long) p.category);
        argv[ncmds][0] = "SMEMBERS";
        argv[ncmds][1] = cat_key;
        cmds[ncmds++].argc = 2;
    }
    if (p.brand[0] != '\0') {
        catalog_brand_key(p.brand, brand_lc, sizeof(brand_lc));
        snprintf(brand_key, sizeof(brand_key), CATALOG_KEY_BRAND_PRODUCTS,
                 brand_lc);
        argv[ncmds][0] = "SMEMBERS";
        argv[ncmds][1] = brand_key;
        cmds[ncmds++].argc = 2;
    }
    if (p.in_stock) {
        argv[ncmds][0] = "SMEMBERS";
        argv[ncmds][1] = CATALOG_KEY_IN_STOCK;
        cmds[ncmds++].argc = 2;
    }
    for (i = 0; i < ncmds; i++) {
        cmds[i].argv = argv[i];
        cmds[i].argvlen = NULL;
    }

    rc = mall_redis_pipeline(ctx->redis, ncmds, cmds, reps, &err);
    if (rc != MALL_OK) {
        goto done;
    }
    rc = MALL_ERR;

    for (i = 0; i < ncmds; i++) {
        if (reps[i]->type == REDIS_REPLY_ERROR) {
            mall_err_set(&err, 500, "redis: %s", reps[i]->str);
            goto done;
        }
    }
    for (i = 1; i < ncmds; i++) {
        if (list_filter_load(&filters[i], reps[i]) != MALL_OK) {
            goto done;
        }
    }
    (void) price_cmd;

    /* the sort index: member, score, member, score, ... */
    zr = reps[0];
    if (zr->type != REDIS_REPLY_ARRAY || zr->elements % 2 != 0) {
        mall_err_set(&err, 500, "bad sort index reply");
        goto done;
    }
    items = malloc((zr->elements / 2 + 1) * sizeof(*items));
    if (items == NULL) {
        goto done;
    }
    for (i = 0; i + 1 < zr->elements; i += 2) {
        list_item_t  it;

        if (catalog_reply_int(zr->element[i], &it.id) != MALL_OK
            || catalog_reply_int(zr->element[i + 1], &it.score) != MALL_OK)
        {
            continue;
        }
        it.tie = 0;
        if (matches != NULL) {
            key.id = it.id;
            hit = bsearch(&key, matches, m->n, sizeof(*matches),
                          list_match_cmp);
            if (hit == NULL) {
                continue;
            }
            if (relevance) {
                it.tie = it.score;
                it.score = hit->score;
            }
        }
        for (k = 1; k < ncmds; k++) {
            if (!list_filter_has(&filters[k], it.id)) {
                break;
            }
        }
        if (k == ncmds) {
            items[count++] = it;
        }
    }

    qsort(items, count, sizeof(*items), list_item_cmp);

    /* the page */
    first = (size_t) ((p.page - 1) * p.size);
    n = first < count ? count - first : 0;
    if (n > (size_t) p.size) {
        n = (size_t) p.size;
    }

    root = cJSON_CreateObject();
    arr = root != NULL ? cJSON_AddArrayToObject(root, "items") : NULL;
    page_ids = malloc((n + 1) * sizeof(int64_t));
    if (arr == NULL || page_ids == NULL) {
        rc = MALL_ERR;
        goto done;
    }
    for (i = 0; i < n; i++) {
        page_ids[i] = items[first + i].id;
    }
    rc = catalog_summaries(ctx, page_ids, n, arr, 0, &err);
    if (rc != MALL_OK) {
        goto done;
    }
    rc = MALL_ERR;
    if (m != NULL && m->q != NULL
        && mall_json_add_str(root, "q", m->q) != MALL_OK)
    {
        goto done;
    }
    if (mall_json_add_int(root, "page", p.page) != MALL_OK
        || mall_json_add_int(root, "size", p.size) != MALL_OK
        || mall_json_add_int(root, "total", (int64_t) count) != MALL_OK)
    {
        goto done;
    }

    if (p.category > 0) {
        snprintf(tags, sizeof(tags), "list%s category:%lld",
                 m != NULL ? " search" : "", (long long) p.category);
    } else {
        snprintf(tags, sizeof(tags), "list%s", m != NULL ? " search" : "");
    }
    catalog_cache_headers(ctx, tags);
    rc = mall_reply_json(ctx, 200, root);

done:
    if (rc == MALL_ERR && !ctx->replied) {
        mall_log_req(MALL_LOG_ERROR, "catalog", ctx->request_id,
                     ctx->ident.user, "products list: %s",
                     err.msg[0] ? err.msg : "out of memory");
    }
    cJSON_Delete(root);
    mall_redis_free_replies(reps, ncmds);
    for (i = 0; i < LIST_MAX_CMDS; i++) {
        free(filters[i].ids);
    }
    free(items);
    free(matches);
    free(page_ids);
    return rc;
}
