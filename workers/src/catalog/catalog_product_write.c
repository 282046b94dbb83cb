/*
 * The catalog writer (see catalog_product.h): every key a product has,
 * written from one in-memory product.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "catalog.h"
#include "catalog_card.h"
#include "catalog_keys.h"
#include "catalog_product.h"
#include "mall_json.h"
#include "search_index.h"
#include "stock.h"

static const char *const  write_sorts[] = { "sales", "price", "new" };


void
catalog_product_derived(const catalog_product_t *p, int64_t *min_price,
    int *in_stock)
{
    size_t  i;

    *min_price = -1;
    *in_stock = 0;
    for (i = 0; i < p->nskus; i++) {
        if (*min_price < 0 || p->skus[i].price < *min_price) {
            *min_price = p->skus[i].price;
        }
        if (p->skus[i].stock > 0) {
            *in_stock = 1;
        }
    }
    if (*min_price < 0) {
        *min_price = 0;
    }
}


const char *
catalog_product_image(const catalog_product_t *p)
{
    const cJSON  *img, *t;

    img = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(p->doc,
                                                              "images"), 0);
    t = cJSON_GetObjectItemCaseSensitive(img, "thumbnail");
    return cJSON_IsString(t) ? t->valuestring : "";
}


/* Appends " tag" unless present. */
static void
tag_add(char *tags, size_t sz, const char *fmt, long long v)
{
    char    t[48];
    size_t  len;

    snprintf(t, sizeof(t), fmt, v);
    len = strlen(tags);
    if (strstr(tags, t) != NULL || len + strlen(t) + 2 >= sz) {
        return;
    }
    snprintf(tags + len, sz - len, "%s%s", len > 0 ? " " : "", t);
}


/* The sort scores of p: sales, lowest price, creation time. */
static void
write_scores(const catalog_product_t *p, char scores[3][24])
{
    int64_t  min_price;
    int      in_stock;

    catalog_product_derived(p, &min_price, &in_stock);
    snprintf(scores[0], 24, "%lld", (long long) p->sales);
    snprintf(scores[1], 24, "%lld", (long long) min_price);
    snprintf(scores[2], 24, "%lld", (long long) p->created_at);
}


/* Index entries of p: added (add = 1) or removed. */
static void
write_index(mall_batch_t *b, const catalog_product_t *p, int add)
{
    static const char *const  global[] = {
        CATALOG_KEY_BY_SALES, CATALOG_KEY_BY_PRICE, CATALOG_KEY_BY_NEW
    };
    char     id[24], scores[3][24], key[128];
    char     brand_lc[CATALOG_BRAND_MAX + 1];
    int64_t  min_price;
    int      in_stock;
    size_t   i, s;

    snprintf(id, sizeof(id), "%lld", (long long) p->id);
    catalog_product_derived(p, &min_price, &in_stock);
    write_scores(p, scores);
    catalog_brand_key(p->brand, brand_lc, sizeof(brand_lc));

    for (s = 0; s < 3; s++) {
        if (add) {
            mall_batch_addl(b, 4, "ZADD", global[s], scores[s], id);
        } else {
            mall_batch_addl(b, 3, "ZREM", global[s], id);
        }
    }
    if (add && in_stock) {
        mall_batch_addl(b, 3, "SADD", CATALOG_KEY_IN_STOCK, id);
    } else if (!add) {
        mall_batch_addl(b, 3, "SREM", CATALOG_KEY_IN_STOCK, id);
    }
    snprintf(key, sizeof(key), CATALOG_KEY_BRAND_PRODUCTS, brand_lc);
    mall_batch_addl(b, 3, add ? "SADD" : "SREM", key, id);
    if (add) {
        mall_batch_addl(b, 3, "SADD", CATALOG_KEY_BRANDS, brand_lc);
    }
    for (i = 0; i < p->nchain; i++) {
        snprintf(key, sizeof(key), CATALOG_KEY_CAT_PRODUCTS,
                 (long long) p->chain[i].id);
        mall_batch_addl(b, 3, add ? "SADD" : "SREM", key, id);
        for (s = 0; s < 3; s++) {
            snprintf(key, sizeof(key), CATALOG_KEY_CAT_BY_FMT,
                     (long long) p->chain[i].id, write_sorts[s]);
            if (add) {
                mall_batch_addl(b, 4, "ZADD", key, scores[s], id);
            } else {
                mall_batch_addl(b, 3, "ZREM", key, id);
            }
        }
    }
    if (!add) {
        search_index_remove(b, p->id, p->terms);
    }
}


int
catalog_product_doc_sync(catalog_product_t *p)
{
    static const char *const  owned[] = {
        "id", "name", "name_en", "brand", "category_id", "category_path",
        "sales", "created_at"
    };
    cJSON   *path, *node;
    size_t   i;

    for (i = 0; i < sizeof(owned) / sizeof(owned[0]); i++) {
        cJSON_DeleteItemFromObjectCaseSensitive(p->doc, owned[i]);
    }
    if (mall_json_add_int(p->doc, "id", p->id) != MALL_OK
        || mall_json_add_str(p->doc, "name", p->name) != MALL_OK
        || mall_json_add_str(p->doc, "name_en", p->name_en) != MALL_OK
        || mall_json_add_str(p->doc, "brand", p->brand) != MALL_OK
        || mall_json_add_int(p->doc, "category_id", p->category_id)
           != MALL_OK
        || mall_json_add_int(p->doc, "sales", p->sales) != MALL_OK
        || mall_json_add_int(p->doc, "created_at", p->created_at) != MALL_OK)
    {
        return MALL_ERR;
    }
    path = cJSON_AddArrayToObject(p->doc, "category_path");
    if (path == NULL) {
        return MALL_ERR;
    }
    for (i = p->nchain; i-- > 0; ) {
        node = cJSON_CreateObject();
        if (node == NULL || !cJSON_AddItemToArray(path, node)) {
            cJSON_Delete(node);
            return MALL_ERR;
        }
        if (mall_json_add_int(node, "id", p->chain[i].id) != MALL_OK
            || mall_json_add_str(node, "name", p->chain[i].name) != MALL_OK
            || mall_json_add_str(node, "name_en", p->chain[i].name_en)
               != MALL_OK)
        {
            return MALL_ERR;
        }
    }
    return MALL_OK;
}


/* The SKU hashes of a (with the product fields an order or cart shows). */
static int
write_skus(mall_batch_t *b, const catalog_product_t *a, char *list,
    size_t listsz)
{
    char     skey[48], id[24], sid[24], price[24], stock[24], thr[24];
    char     cats[CATALOG_MAX_DEPTH * 24 + 2];
    char    *attrs;
    size_t   i, len, clen;

    snprintf(id, sizeof(id), "%lld", (long long) a->id);
    /* ",leaf,parent,...,root,": a coupon's category scope matches by it */
    clen = (size_t) snprintf(cats, sizeof(cats), ",");
    for (i = 0; i < a->nchain; i++) {
        clen += (size_t) snprintf(cats + clen, sizeof(cats) - clen, "%lld,",
                                  (long long) a->chain[i].id);
    }
    list[0] = '\0';
    len = 0;
    for (i = 0; i < a->nskus; i++) {
        const catalog_sku_t  *k = &a->skus[i];

        len += (size_t) snprintf(list + len, listsz - len, "%s%lld",
                                 len > 0 ? "," : "", (long long) k->id);
        snprintf(skey, sizeof(skey), CATALOG_KEY_SKU_FMT, (long long) k->id);
        snprintf(sid, sizeof(sid), "%lld", (long long) k->id);
        snprintf(stock, sizeof(stock), "%lld", (long long) k->stock);
        snprintf(thr, sizeof(thr), "%lld", (long long) k->threshold);
        snprintf(price, sizeof(price), "%lld", (long long) k->price);
        attrs = cJSON_PrintUnformatted(k->attrs);
        if (attrs == NULL) {
            return MALL_ERR;
        }
        mall_batch_addl(b, 20, "HSET", skey, "id", sid, "product_id", id,
                        "price_fen", price, "stock", stock, "attrs", attrs,
                        "name", a->name, "image", catalog_product_image(a),
                        "status", a->on_sale ? "on_sale" : "delisted",
                        "categories", cats);
        cJSON_free(attrs);
        if (k->threshold >= 0) {
            mall_batch_addl(b, 4, "HSET", skey, "low_stock_threshold", thr);
        } else {
            mall_batch_addl(b, 3, "HDEL", skey, "low_stock_threshold");
        }
    }
    return MALL_OK;
}


/* The product hash and its card. */
static int
write_product(mall_batch_t *b, catalog_product_t *a)
{
    char            key[48], ckey[48], id[24], cat[24], price[24];
    char            sales[24], created[24], skus[CATALOG_MAX_SKUS * 24];
    char           *json, *card;
    catalog_card_t  cc;
    int64_t         min_price;
    int             in_stock;

    if (catalog_product_doc_sync(a) != MALL_OK
        || write_skus(b, a, skus, sizeof(skus)) != MALL_OK)
    {
        return MALL_ERR;
    }
    snprintf(key, sizeof(key), CATALOG_KEY_PRODUCT_FMT, (long long) a->id);
    snprintf(ckey, sizeof(ckey), CATALOG_KEY_CARD_FMT, (long long) a->id);
    snprintf(id, sizeof(id), "%lld", (long long) a->id);
    snprintf(cat, sizeof(cat), "%lld", (long long) a->category_id);
    snprintf(sales, sizeof(sales), "%lld", (long long) a->sales);
    snprintf(created, sizeof(created), "%lld", (long long) a->created_at);
    catalog_product_derived(a, &min_price, &in_stock);
    snprintf(price, sizeof(price), "%lld", (long long) min_price);

    json = cJSON_PrintUnformatted(a->doc);
    memset(&cc, 0, sizeof(cc));
    cc.id = a->id;
    cc.name = a->name;
    cc.name_en = a->name_en;
    cc.brand = a->brand;
    cc.price_fen = min_price;
    cc.image = catalog_product_image(a);
    cc.sales = a->sales;
    cc.in_stock = in_stock;
    cc.on_sale = a->on_sale;
    card = catalog_card_json(&cc);
    if (json == NULL || card == NULL) {
        cJSON_free(json);
        cJSON_free(card);
        return MALL_ERR;
    }
    mall_batch_addl(b, 28, "HSET", key, "id", id, "name_zh", a->name,
                    "name_en", a->name_en, "brand", a->brand,
                    "category_id", cat, "price_fen", price, "image",
                    catalog_product_image(a), "sales", sales, "created_at",
                    created, "in_stock", in_stock ? "1" : "0", "skus", skus,
                    "json", json, "status",
                    a->on_sale ? "on_sale" : "delisted");
    mall_batch_addl(b, 3, "SET", ckey, card);
    cJSON_free(json);
    cJSON_free(card);
    return MALL_OK;
}


/* The search postings of an on-sale product. */
static int
write_search(mall_batch_t *b, const catalog_product_t *a, mall_err_t *err)
{
    search_doc_t   d;
    const cJSON   *desc;
    size_t         i;

    memset(&d, 0, sizeof(d));
    d.name_zh = a->name;
    d.name_en = a->name_en;
    d.brand = a->brand;
    desc = cJSON_GetObjectItemCaseSensitive(a->doc, "description");
    d.description = cJSON_IsString(desc) ? desc->valuestring : NULL;
    for (i = 0; i < a->nchain && d.ncategories + 2 <= SEARCH_MAX_CATS; i++) {
        d.categories[d.ncategories++] = a->chain[i].name;
        d.categories[d.ncategories++] = a->chain[i].name_en;
    }
    if (search_index_add(b, a->id, &d) != MALL_OK) {
        return mall_err_set(err, 422, "text is not valid UTF-8");
    }
    return MALL_OK;
}


/* Low-stock state of a's SKUs (against before's stock, for the alerts). */
static void
write_low_stock(const mall_conf_t *conf, mall_batch_t *b,
    const catalog_product_t *before, const catalog_product_t *a)
{
    stock_change_t  c;
    time_t          now = time(NULL);
    size_t          i, j;

    for (i = 0; i < a->nskus; i++) {
        c.sku_id = a->skus[i].id;
        c.product_id = a->id;
        c.after = a->skus[i].stock;
        c.threshold = c.before_threshold = a->skus[i].threshold;
        c.on_sale = a->on_sale;
        c.was_on_sale = 0;               /* a new SKU was never low */
        c.before = c.after;
        for (j = 0; before != NULL && j < before->nskus; j++) {
            if (before->skus[j].id == c.sku_id) {
                c.before = before->skus[j].stock;
                c.before_threshold = before->skus[j].threshold;
                c.was_on_sale = before->on_sale;
            }
        }
        stock_batch_low(b, conf, &c, now);
    }
}


/* The purge event: the product, the categories it was and is in, its
 * SKUs, lists and search (the edges drop what they cached of them). */
static void
write_purge(mall_batch_t *b, const catalog_product_t *before,
    const catalog_product_t *after)
{
    char    tags[1024];
    size_t  i;

    tags[0] = '\0';
    tag_add(tags, sizeof(tags), "product:%lld", (long long) after->id);
    for (i = 0; before != NULL && i < before->nchain; i++) {
        tag_add(tags, sizeof(tags), "category:%lld",
                (long long) before->chain[i].id);
    }
    for (i = 0; i < after->nchain; i++) {
        tag_add(tags, sizeof(tags), "category:%lld",
                (long long) after->chain[i].id);
    }
    for (i = 0; i < after->nskus; i++) {
        tag_add(tags, sizeof(tags), "sku:%lld", (long long) after->skus[i].id);
    }
    tag_add(tags, sizeof(tags), "list", 0);
    tag_add(tags, sizeof(tags), "search", 0);
    mall_batch_addl(b, 8, "XADD", CATALOG_KEY_PURGE, "MAXLEN", "~", "10000",
                    "*", "tags", tags);
}


int
catalog_product_write(const mall_conf_t *conf, mall_batch_t *b,
    const catalog_product_t *before, catalog_product_t *after,
    mall_err_t *err)
{
    if (before != NULL && !before->exists) {
        before = NULL;
    }
    if (before != NULL) {
        write_index(b, before, 0);
    } else {
        search_index_remove(b, after->id, NULL);    /* nothing indexed yet */
    }
    if (write_product(b, after) != MALL_OK) {
        return mall_err_set(err, 500, "out of memory");
    }
    if (after->on_sale) {
        write_index(b, after, 1);
        if (write_search(b, after, err) != MALL_OK) {
            return MALL_ERR;
        }
    }
    write_low_stock(conf, b, before, after);
    mall_batch_addl(b, 2, "INCR", CATALOG_KEY_VERSION);
    write_purge(b, before, after);
    return b->oom ? mall_err_set(err, 500, "out of memory") : MALL_OK;
}
