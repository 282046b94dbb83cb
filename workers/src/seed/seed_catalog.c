/*
 * Demo catalog loader (see seed_catalog.h). Validation runs over the whole
 * document before the first write, so a bad file changes nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog_keys.h"
#include "catalog_params.h"
#include "catalog_product.h"
#include "mall_json.h"
#include "mall_log.h"
#include "mall_query.h"
#include "search_index.h"
#include "seed_catalog.h"
#include "stock.h"

#define SEED_BATCH       512
#define SEED_MAX_DEPTH   8
#define SEED_ID_MAX      1000000000000LL
#define SEED_MONEY_MAX   100000000000LL

typedef struct {
    int64_t        id;
    int64_t        parent_id;
    int64_t        sort;
    int            level;
    const char    *name;
    const char    *name_en;
} seed_cat_t;

/* A pipeline that flushes every SEED_BATCH commands. */
typedef struct {
    mall_redis_t       *r;
    size_t              pending;
    const mall_conf_t  *conf;
} seed_pipe_t;


static int
seed_flush(seed_pipe_t *p, mall_err_t *err)
{
    void        *rep;
    redisReply  *rr;
    int          rc;

    rc = MALL_OK;
    while (p->pending > 0) {
        rep = NULL;
        if (redisGetReply(p->r->c, &rep) != REDIS_OK || rep == NULL) {
            mall_err_set(err, 503, "redis: %s", p->r->c->errstr);
            mall_redis_close(p->r);
            p->pending = 0;
            return MALL_RETRY;
        }
        rr = rep;
        if (rr->type == REDIS_REPLY_ERROR && rc == MALL_OK) {
            rc = mall_err_set(err, 500, "redis: %s", rr->str);
        }
        freeReplyObject(rr);
        p->pending--;
    }
    return rc;
}


/* Queues one command (arguments are copied by hiredis at once). */
static int
seed_cmd(seed_pipe_t *p, mall_err_t *err, int argc, const char **argv)
{
    if (redisAppendCommandArgv(p->r->c, argc, argv, NULL) != REDIS_OK) {
        return mall_err_set(err, 500, "redis append failed");
    }
    if (++p->pending >= SEED_BATCH) {
        return seed_flush(p, err);
    }
    return MALL_OK;
}


static const char *
seed_str(const cJSON *obj, const char *name)
{
    const cJSON  *it;

    it = cJSON_GetObjectItemCaseSensitive(obj, name);
    return cJSON_IsString(it) && it->valuestring[0] != '\0'
           ? it->valuestring : NULL;
}


static int
seed_int(const cJSON *obj, const char *name, int64_t min, int64_t max,
    int64_t *out)
{
    return mall_json_get_int(cJSON_GetObjectItemCaseSensitive(obj, name),
                             min, max, out);
}


static seed_cat_t *
seed_find_cat(seed_cat_t *cats, size_t n, int64_t id)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (cats[i].id == id) {
            return &cats[i];
        }
    }
    return NULL;
}


/* Reads and checks the categories: unique ids, known parents, no cycles. */
static int
seed_parse_categories(const cJSON *arr, seed_cat_t **out, size_t *n,
    mall_err_t *err)
{
    const cJSON  *c;
    seed_cat_t   *cats, *cur;
    size_t        i, k;
    int           depth;

    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) == 0) {
        return mall_err_set(err, 0, "\"categories\" must be a non-empty "
                            "array");
    }
    cats = calloc((size_t) cJSON_GetArraySize(arr), sizeof(*cats));
    if (cats == NULL) {
        return mall_err_set(err, 0, "out of memory");
    }

    i = 0;
    cJSON_ArrayForEach(c, arr) {
        if (seed_int(c, "id", 1, SEED_ID_MAX, &cats[i].id) != MALL_OK
            || seed_int(c, "parent_id", 0, SEED_ID_MAX, &cats[i].parent_id)
               != MALL_OK
            || seed_int(c, "sort", 0, SEED_ID_MAX, &cats[i].sort) != MALL_OK
            || (cats[i].name = seed_str(c, "name")) == NULL
            || (cats[i].name_en = seed_str(c, "name_en")) == NULL)
        {
            free(cats);
            return mall_err_set(err, 0, "category #%zu: needs id, "
                                "parent_id, sort, name, name_en", i);
        }
        if (seed_find_cat(cats, i, cats[i].id) != NULL) {
            mall_err_set(err, 0, "category %lld is duplicate",
                         (long long) cats[i].id);
            free(cats);
            return MALL_ERR;
        }
        i++;
    }

    for (k = 0; k < i; k++) {
        depth = 1;
        cur = &cats[k];
        while (cur->parent_id != 0) {
            cur = seed_find_cat(cats, i, cur->parent_id);
            if (cur == NULL || ++depth > SEED_MAX_DEPTH) {
                mall_err_set(err, 0, "category %lld: unknown parent or "
                             "cycle", (long long) cats[k].id);
                free(cats);
                return MALL_ERR;
            }
        }
        cats[k].level = depth;
    }

    *out = cats;
    *n = i;
    return MALL_OK;
}


/* Checks one product and its SKUs; MALL_OK or MALL_ERR. */
static int
seed_check_product(const cJSON *p, seed_cat_t *cats, size_t ncats,
    mall_err_t *err)
{
    const cJSON  *skus, *s, *attrs;
    int64_t       id, v;
    int           n;

    if (seed_int(p, "id", 1, SEED_ID_MAX / 1000, &id) != MALL_OK) {
        return mall_err_set(err, 0, "product without a valid id");
    }
    if (seed_int(p, "category_id", 1, SEED_ID_MAX, &v) != MALL_OK
        || seed_find_cat(cats, ncats, v) == NULL)
    {
        return mall_err_set(err, 0, "product %lld: unknown category",
                            (long long) id);
    }
    if (seed_str(p, "name") == NULL || seed_str(p, "name_en") == NULL
        || seed_str(p, "brand") == NULL
        || strlen(seed_str(p, "brand")) > CATALOG_BRAND_MAX
        || seed_int(p, "created_at", 0, 1LL << 40, &v) != MALL_OK
        || seed_int(p, "sales", 0, SEED_ID_MAX, &v) != MALL_OK)
    {
        return mall_err_set(err, 0, "product %lld: needs name, name_en, "
                            "brand (<= %d bytes), created_at, sales",
                            (long long) id, CATALOG_BRAND_MAX);
    }

    skus = cJSON_GetObjectItemCaseSensitive(p, "skus");
    n = cJSON_GetArraySize(skus);
    if (!cJSON_IsArray(skus) || n < 1 || n > 64) {
        return mall_err_set(err, 0, "product %lld: needs 1..64 skus",
                            (long long) id);
    }
    cJSON_ArrayForEach(s, skus) {
        attrs = cJSON_GetObjectItemCaseSensitive(s, "attrs");
        if (seed_int(s, "sku_id", 1, SEED_ID_MAX, &v) != MALL_OK
            || seed_int(s, "price_fen", 0, SEED_MONEY_MAX, &v) != MALL_OK
            || seed_int(s, "stock", 0, SEED_ID_MAX, &v) != MALL_OK
            || !cJSON_IsObject(attrs))
        {
            return mall_err_set(err, 0, "product %lld: a sku needs sku_id, "
                                "price_fen, stock (integers), attrs",
                                (long long) id);
        }
    }
    return MALL_OK;
}


/* Deletes the previous catalog's products, SKUs and indexes. */
static int
seed_remove_old(seed_pipe_t *pp, seed_stats_t *st, mall_err_t *err)
{
    static const char  *idx[] = {
        "DEL", CATALOG_KEY_CATS, CATALOG_KEY_BRANDS, CATALOG_KEY_BY_SALES,
        CATALOG_KEY_BY_PRICE, CATALOG_KEY_BY_NEW, CATALOG_KEY_IN_STOCK,
        STOCK_KEY_LOW
    };
    static const char  *sorts[] = { "sales", "price", "new" };
    const char         *argv[4];
    char                key[256], skey[48], *tok, *save, buf[2048];
    redisReply         *cats, *brands, *prods, *rep;
    size_t              i, k;
    int                 rc;

    cats = brands = prods = rep = NULL;

    argv[0] = "ZRANGE"; argv[1] = CATALOG_KEY_CATS; argv[2] = "0";
    argv[3] = "-1";
    rc = mall_redis_command(pp->r, &cats, err, 4, argv, NULL);
    if (rc != MALL_OK) {
        goto done;
    }
    argv[0] = "SMEMBERS"; argv[1] = CATALOG_KEY_BRANDS;
    rc = mall_redis_command(pp->r, &brands, err, 2, argv, NULL);
    if (rc != MALL_OK) {
        goto done;
    }
    argv[0] = "ZRANGE"; argv[1] = CATALOG_KEY_BY_NEW;
    rc = mall_redis_command(pp->r, &prods, err, 4, argv, NULL);
    if (rc != MALL_OK) {
        goto done;
    }

    for (i = 0; i < cats->elements; i++) {
        snprintf(key, sizeof(key), "mall:cat:%s:products",
                 cats->element[i]->str);
        argv[0] = "DEL"; argv[1] = key;
        if ((rc = seed_cmd(pp, err, 2, argv)) != MALL_OK) {
            goto done;
        }
        for (k = 0; k < MALL_ARRAY_LEN(sorts); k++) {
            snprintf(key, sizeof(key), "mall:cat:%s:by_%s",
                     cats->element[i]->str, sorts[k]);
            if ((rc = seed_cmd(pp, err, 2, argv)) != MALL_OK) {
                goto done;
            }
        }
        snprintf(key, sizeof(key), "mall:cat:%s", cats->element[i]->str);
        if ((rc = seed_cmd(pp, err, 2, argv)) != MALL_OK) {
            goto done;
        }
    }
    for (i = 0; i < brands->elements; i++) {
        snprintf(key, sizeof(key), CATALOG_KEY_BRAND_PRODUCTS,
                 brands->element[i]->str);
        argv[0] = "DEL"; argv[1] = key;
        if ((rc = seed_cmd(pp, err, 2, argv)) != MALL_OK) {
            goto done;
        }
    }

    for (i = 0; i < prods->elements; i++) {
        snprintf(key, sizeof(key), "mall:product:%s",
                 prods->element[i]->str);
        argv[0] = "HGET"; argv[1] = key; argv[2] = "skus";
        rc = mall_redis_command(pp->r, &rep, err, 3, argv, NULL);
        if (rc != MALL_OK) {
            goto done;
        }
        if (rep->type == REDIS_REPLY_STRING && rep->len < sizeof(buf)) {
            memcpy(buf, rep->str, rep->len + 1);
            for (tok = strtok_r(buf, ",", &save); tok != NULL;
                 tok = strtok_r(NULL, ",", &save))
            {
                snprintf(skey, sizeof(skey), "mall:sku:%.30s", tok);
                argv[0] = "DEL"; argv[1] = skey;
                if ((rc = seed_cmd(pp, err, 2, argv)) != MALL_OK) {
                    goto done;
                }
            }
        }
        freeReplyObject(rep);
        rep = NULL;
        argv[0] = "DEL"; argv[1] = key;
        if ((rc = seed_cmd(pp, err, 2, argv)) != MALL_OK) {
            goto done;
        }
        snprintf(key, sizeof(key), "mall:product:%s:card",
                 prods->element[i]->str);
        if ((rc = seed_cmd(pp, err, 2, argv)) != MALL_OK) {
            goto done;
        }
        st->removed++;
    }

    if ((rc = seed_cmd(pp, err, (int) MALL_ARRAY_LEN(idx), idx)) != MALL_OK)
    {
        goto done;
    }
    rc = seed_flush(pp, err);

done:
    if (rep != NULL) {
        freeReplyObject(rep);
    }
    if (cats != NULL) {
        freeReplyObject(cats);
    }
    if (brands != NULL) {
        freeReplyObject(brands);
    }
    if (prods != NULL) {
        freeReplyObject(prods);
    }
    return rc;
}


static int
seed_write_category(seed_pipe_t *pp, const seed_cat_t *c, mall_err_t *err)
{
    const char  *argv[14];
    char         key[48], id[24], parent[24], level[8], sort[24];

    snprintf(key, sizeof(key), CATALOG_KEY_CAT_FMT, (long long) c->id);
    snprintf(id, sizeof(id), "%lld", (long long) c->id);
    snprintf(parent, sizeof(parent), "%lld", (long long) c->parent_id);
    snprintf(level, sizeof(level), "%d", c->level);
    snprintf(sort, sizeof(sort), "%lld", (long long) c->sort);

    argv[0] = "HSET"; argv[1] = key;
    argv[2] = "id"; argv[3] = id;
    argv[4] = "parent_id"; argv[5] = parent;
    argv[6] = "level"; argv[7] = level;
    argv[8] = "name_zh"; argv[9] = c->name;
    argv[10] = "name_en"; argv[11] = c->name_en;
    argv[12] = "sort"; argv[13] = sort;
    if (seed_cmd(pp, err, 14, argv) != MALL_OK) {
        return MALL_ERR;
    }

    argv[0] = "ZADD"; argv[1] = CATALOG_KEY_CATS; argv[2] = sort;
    argv[3] = id;
    return seed_cmd(pp, err, 4, argv);
}


/* The static part of the detail document (the writer adds the rest). */
static cJSON *
seed_detail_doc(const cJSON *p)
{
    static const char  *copy[] = {
        "description", "images", "params", "rating", "reviews"
    };
    cJSON              *doc, *item;
    size_t              i;

    doc = cJSON_CreateObject();
    for (i = 0; doc != NULL && i < MALL_ARRAY_LEN(copy); i++) {
        item = cJSON_GetObjectItemCaseSensitive(p, copy[i]);
        item = item != NULL ? cJSON_Duplicate(item, 1) : cJSON_CreateArray();
        if (item == NULL || !cJSON_AddItemToObject(doc, copy[i], item)) {
            cJSON_Delete(item);
            cJSON_Delete(doc);
            return NULL;
        }
    }
    return doc;
}


/* The catalog's model of one (validated) product of the document. */
static int
seed_product_build(const cJSON *j, seed_cat_t *cats, size_t ncats,
    catalog_product_t *p)
{
    const cJSON  *s;
    seed_cat_t   *c;

    memset(p, 0, sizeof(*p));
    p->exists = 1;
    p->on_sale = 1;
    seed_int(j, "id", 1, SEED_ID_MAX, &p->id);
    seed_int(j, "category_id", 1, SEED_ID_MAX, &p->category_id);
    seed_int(j, "sales", 0, SEED_ID_MAX, &p->sales);
    seed_int(j, "created_at", 0, 1LL << 40, &p->created_at);
    snprintf(p->name, sizeof(p->name), "%s", seed_str(j, "name"));
    snprintf(p->name_en, sizeof(p->name_en), "%s", seed_str(j, "name_en"));
    snprintf(p->brand, sizeof(p->brand), "%s", seed_str(j, "brand"));
    p->doc = seed_detail_doc(j);
    if (p->doc == NULL) {
        return MALL_ERR;
    }
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(j, "skus")) {
        catalog_sku_t  *k = &p->skus[p->nskus];

        seed_int(s, "sku_id", 1, SEED_ID_MAX, &k->id);
        seed_int(s, "price_fen", 0, SEED_MONEY_MAX, &k->price);
        seed_int(s, "stock", 0, SEED_ID_MAX, &k->stock);
        k->threshold = -1;
        k->attrs = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(s,
                                                                    "attrs"),
                                   1);
        if (k->attrs == NULL) {
            return MALL_ERR;
        }
        p->nskus++;
    }
    for (c = seed_find_cat(cats, ncats, p->category_id);
         c != NULL && p->nchain < CATALOG_MAX_DEPTH;
         c = c->parent_id ? seed_find_cat(cats, ncats, c->parent_id) : NULL)
    {
        p->chain[p->nchain].id = c->id;
        snprintf(p->chain[p->nchain].name, CATALOG_TEXT_MAX, "%s", c->name);
        snprintf(p->chain[p->nchain].name_en, CATALOG_TEXT_MAX, "%s",
                 c->name_en);
        p->nchain++;
    }
    return MALL_OK;
}


/*
 * Writes one (validated) product through the catalog writer, the same
 * code every merchant edit uses. It is passed as its own "before": the
 * old catalog is gone already, and a demo SKU that starts low is in the
 * low-stock set without raising an alert.
 */
static int
seed_write_product(seed_pipe_t *pp, const cJSON *j, seed_cat_t *cats,
    size_t ncats, seed_stats_t *st, mall_err_t *err)
{
    catalog_product_t  *p;
    mall_batch_t        b;
    size_t              i;
    int                 rc;

    p = malloc(sizeof(*p));
    if (p == NULL) {
        return mall_err_set(err, 0, "out of memory");
    }
    mall_batch_init(&b);
    rc = seed_product_build(j, cats, ncats, p);
    if (rc != MALL_OK) {
        mall_err_set(err, 0, "out of memory");
    } else {
        rc = catalog_product_write(pp->conf, &b, p, p, err);
    }
    for (i = 0; i < b.n && rc == MALL_OK; i++) {
        rc = seed_cmd(pp, err, b.cmds[i].argc, b.cmds[i].argv);
    }
    if (rc == MALL_OK) {
        st->products++;
        st->skus += p->nskus;
    }
    mall_batch_free(&b);
    catalog_product_free(p);
    free(p);
    return rc;
}


/* Raises mall:seq:{name} to at least v (single writer: GET then SET). */
static int
seed_bump_seq(mall_redis_t *r, const char *name, int64_t v, mall_err_t *err)
{
    const char  *argv[3];
    char         key[48], val[24];
    redisReply  *rep;
    int64_t      cur;
    int          rc;

    snprintf(key, sizeof(key), CATALOG_KEY_SEQ_FMT, name);
    argv[0] = "GET"; argv[1] = key;
    rc = mall_redis_command(r, &rep, err, 2, argv, NULL);
    if (rc != MALL_OK) {
        return rc;
    }
    cur = 0;
    if (rep->type == REDIS_REPLY_STRING) {
        long long  n;

        if (mall_parse_int(rep->str, 0, 1LL << 62, &n) == MALL_OK) {
            cur = n;
        }
    }
    freeReplyObject(rep);
    if (cur >= v) {
        return MALL_OK;
    }

    snprintf(val, sizeof(val), "%lld", (long long) v);
    argv[0] = "SET"; argv[1] = key; argv[2] = val;
    rc = mall_redis_command(r, &rep, err, 3, argv, NULL);
    if (rc == MALL_OK) {
        freeReplyObject(rep);
    }
    return rc;
}


int
seed_catalog_load(mall_redis_t *r, const cJSON *doc, const mall_conf_t *conf,
    seed_stats_t *st, mall_err_t *err)
{
    const cJSON  *prods, *p, *s;
    seed_cat_t   *cats;
    seed_pipe_t   pp;
    size_t        ncats, i;
    int64_t       v, max_cat, max_prod, max_sku;
    int           rc;

    memset(st, 0, sizeof(*st));
    cats = NULL;
    ncats = 0;
    max_cat = max_prod = max_sku = 0;
    pp.r = r;
    pp.pending = 0;
    pp.conf = conf;

    rc = seed_parse_categories(cJSON_GetObjectItemCaseSensitive(doc,
                                   "categories"), &cats, &ncats, err);
    if (rc != MALL_OK) {
        goto done;
    }

    prods = cJSON_GetObjectItemCaseSensitive(doc, "products");
    if (!cJSON_IsArray(prods)) {
        rc = mall_err_set(err, 0, "\"products\" must be an array");
        goto done;
    }
    cJSON_ArrayForEach(p, prods) {
        rc = seed_check_product(p, cats, ncats, err);
        if (rc != MALL_OK) {
            goto done;
        }
        seed_int(p, "id", 1, SEED_ID_MAX, &v);
        max_prod = v > max_prod ? v : max_prod;
        cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(p, "skus")) {
            seed_int(s, "sku_id", 1, SEED_ID_MAX, &v);
            max_sku = v > max_sku ? v : max_sku;
        }
    }

    rc = mall_redis_connect(r, err);
    if (rc != MALL_OK) {
        goto done;
    }

    rc = seed_remove_old(&pp, st, err);
    if (rc != MALL_OK) {
        goto done;
    }
    rc = search_index_clear(r, err);
    if (rc != MALL_OK) {
        goto done;
    }

    for (i = 0; i < ncats; i++) {
        rc = seed_write_category(&pp, &cats[i], err);
        if (rc != MALL_OK) {
            goto done;
        }
        max_cat = cats[i].id > max_cat ? cats[i].id : max_cat;
        st->categories++;
    }
    cJSON_ArrayForEach(p, prods) {
        rc = seed_write_product(&pp, p, cats, ncats, st, err);
        if (rc != MALL_OK) {
            goto done;
        }
    }
    rc = seed_flush(&pp, err);
    if (rc != MALL_OK) {
        goto done;
    }

    if ((rc = seed_bump_seq(r, "category", max_cat, err)) != MALL_OK
        || (rc = seed_bump_seq(r, "product", max_prod, err)) != MALL_OK
        || (rc = seed_bump_seq(r, "sku", max_sku, err)) != MALL_OK)
    {
        goto done;
    }

done:
    if (rc != MALL_OK && pp.pending > 0 && r->c != NULL) {
        mall_err_t  ignored;
        seed_flush(&pp, &ignored);
    }
    free(cats);
    return rc;
}
