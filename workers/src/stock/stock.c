/*
 * Stock bookkeeping (see stock.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "catalog_card.h"
#include "catalog_keys.h"
#include "mall_log.h"
#include "stock.h"

#define STOCK_SYNC_TRIES  8
#define STOCK_SKUS_MAX    64


const char *
stock_state(int64_t stock, int64_t threshold)
{
    if (stock <= 0) {
        return "out_of_stock";
    }
    return stock <= threshold ? "low" : "in_stock";
}


int64_t
stock_threshold(const mall_conf_t *conf, int64_t sku_threshold)
{
    return sku_threshold >= 0 ? sku_threshold : conf->low_stock_threshold;
}


int
stock_crossed(int64_t before, int64_t after, int64_t threshold)
{
    return (before > 0) != (after > 0)
           || (before > threshold) != (after > threshold);
}


void
stock_hold_key(char *buf, size_t sz, const char *holder, int64_t sku)
{
    snprintf(buf, sz, "mall:order:%s:hold:%lld", holder, (long long) sku);
}


void
stock_batch_take(mall_batch_t *b, int64_t sku, int64_t q, const char *holder)
{
    char  key[48], hold[STOCK_KEY_MAX], dq[24];

    snprintf(key, sizeof(key), CATALOG_KEY_SKU_FMT, (long long) sku);
    snprintf(dq, sizeof(dq), "-%lld", (long long) q);
    stock_hold_key(hold, sizeof(hold), holder, sku);
    mall_batch_addl(b, 4, "HINCRBY", key, "stock", dq);
    mall_batch_addl(b, 4, "COPY", key, hold, "REPLACE");
}


void
stock_batch_give(mall_batch_t *b, int64_t sku, int64_t q, const char *holder)
{
    char  key[48], dq[24];

    snprintf(key, sizeof(key), CATALOG_KEY_SKU_FMT, (long long) sku);
    snprintf(dq, sizeof(dq), "%lld", (long long) q);
    mall_batch_addl(b, 4, "HINCRBY", key, "stock", dq);
    stock_batch_settle(b, sku, holder);
}


void
stock_batch_settle(mall_batch_t *b, int64_t sku, const char *holder)
{
    char  hold[STOCK_KEY_MAX];

    stock_hold_key(hold, sizeof(hold), holder, sku);
    mall_batch_addl(b, 2, "DEL", hold);
}


void
stock_batch_low(mall_batch_t *b, const mall_conf_t *conf,
    const stock_change_t *c, time_t now)
{
    char     sid[24], pid[24], stock[24], thr[24], ts[24];
    int64_t  t;

    t = stock_threshold(conf, c->threshold);
    snprintf(sid, sizeof(sid), "%lld", (long long) c->sku_id);
    if (!c->on_sale || c->after > t) {
        mall_batch_addl(b, 3, "SREM", STOCK_KEY_LOW, sid);
        return;
    }
    mall_batch_addl(b, 3, "SADD", STOCK_KEY_LOW, sid);
    if (c->was_on_sale
        && c->before <= stock_threshold(conf, c->before_threshold))
    {
        return;                          /* was low already: alerted then */
    }
    snprintf(pid, sizeof(pid), "%lld", (long long) c->product_id);
    snprintf(stock, sizeof(stock), "%lld", (long long) c->after);
    snprintf(thr, sizeof(thr), "%lld", (long long) t);
    snprintf(ts, sizeof(ts), "%lld", (long long) now);
    mall_batch_addl(b, 16, "XADD", STOCK_KEY_ALERTS, "MAXLEN", "~", "10000",
                    "*", "sku_id", sid, "product_id", pid, "stock", stock,
                    "threshold", thr, "ts", ts);
}


/* ---- the derived state of one product ---------------------------------- */

typedef struct {
    int64_t   id;
    int64_t   stock;
    int64_t   threshold;
} sync_sku_t;


/* The stock-before of sku among the changes, or its current stock. */
static int64_t
sync_before(const stock_change_t *ch, size_t n, const sync_sku_t *k)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (ch[i].sku_id == k->id) {
            return ch[i].before;
        }
    }
    return k->stock;
}


/*
 * One attempt: WATCH + read the product and its SKUs, then one MULTI of
 * everything derived. MALL_OK, MALL_BATCH_ABORTED, MALL_ERR, MALL_RETRY.
 */
static int
stock_sync_once(mall_ctx_t *ctx, int64_t pid, const stock_change_t *ch,
    size_t n, mall_err_t *err)
{
    char            key[48], id[24], skey[48], tags[160], *tok, *save, *card;
    char            list[STOCK_SKUS_MAX * 24];
    sync_sku_t      skus[STOCK_SKUS_MAX];
    stock_change_t  c;
    catalog_card_t  cc;
    mall_batch_t    b;
    redisReply     *head[2], *reps[2 * STOCK_SKUS_MAX], *p;
    size_t          nskus, i;
    int64_t         was_in;
    int             rc, on_sale, in_stock;

    snprintf(key, sizeof(key), CATALOG_KEY_PRODUCT_FMT, (long long) pid);
    snprintf(id, sizeof(id), "%lld", (long long) pid);
    mall_batch_init(&b);
    mall_batch_addl(&b, 2, "WATCH", key);
    mall_batch_addl(&b, 11, "HMGET", key, "name_zh", "name_en", "brand",
                    "price_fen", "image", "sales", "status", "skus",
                    "in_stock");
    rc = mall_batch_send(&b, ctx->redis, head, err);
    mall_batch_free(&b);
    if (rc != MALL_OK) {
        return rc;
    }
    p = head[1];
    if (p->type != REDIS_REPLY_ARRAY || p->elements != 9
        || p->element[0]->type != REDIS_REPLY_STRING
        || p->element[7]->type != REDIS_REPLY_STRING
        || p->element[7]->len >= sizeof(list))
    {
        mall_redis_free_replies(head, 2);
        mall_unwatch(ctx->redis);        /* the product is gone */
        return MALL_OK;
    }

    memcpy(list, p->element[7]->str, p->element[7]->len + 1);
    nskus = 0;
    mall_batch_init(&b);
    for (tok = strtok_r(list, ",", &save); tok != NULL
         && nskus < STOCK_SKUS_MAX; tok = strtok_r(NULL, ",", &save))
    {
        if (catalog_parse_id(tok, &skus[nskus].id) != MALL_OK) {
            continue;
        }
        snprintf(skey, sizeof(skey), CATALOG_KEY_SKU_FMT,
                 (long long) skus[nskus].id);
        mall_batch_addl(&b, 2, "WATCH", skey);
        mall_batch_addl(&b, 4, "HMGET", skey, "stock",
                        "low_stock_threshold");
        nskus++;
    }
    rc = mall_batch_send(&b, ctx->redis, reps, err);
    mall_batch_free(&b);
    if (rc != MALL_OK) {
        mall_redis_free_replies(head, 2);
        return rc;
    }
    in_stock = 0;
    for (i = 0; i < nskus; i++) {
        const redisReply  *s = reps[2 * i + 1];

        skus[i].stock = 0;
        skus[i].threshold = -1;
        if (s->type == REDIS_REPLY_ARRAY && s->elements == 2) {
            catalog_reply_int(s->element[0], &skus[i].stock);
            catalog_reply_int(s->element[1], &skus[i].threshold);
        }
        in_stock |= skus[i].stock > 0;
    }
    mall_redis_free_replies(reps, 2 * nskus);

    on_sale = !(p->element[6]->type == REDIS_REPLY_STRING
                && strcmp(p->element[6]->str, "delisted") == 0);
    was_in = 0;
    catalog_reply_int(p->element[8], &was_in);
    memset(&cc, 0, sizeof(cc));
    cc.id = pid;
    cc.name = p->element[0]->str;
    cc.name_en = p->element[1]->type == REDIS_REPLY_STRING
                 ? p->element[1]->str : "";
    cc.brand = p->element[2]->type == REDIS_REPLY_STRING
               ? p->element[2]->str : "";
    catalog_reply_int(p->element[3], &cc.price_fen);
    cc.image = p->element[4]->type == REDIS_REPLY_STRING
               ? p->element[4]->str : "";
    catalog_reply_int(p->element[5], &cc.sales);
    cc.in_stock = in_stock;
    cc.on_sale = on_sale;
    card = catalog_card_json(&cc);

    mall_batch_init(&b);
    mall_batch_addl(&b, 4, "HSET", key, "in_stock", in_stock ? "1" : "0");
    mall_batch_addl(&b, 3, on_sale && in_stock ? "SADD" : "SREM",
                    CATALOG_KEY_IN_STOCK, id);
    snprintf(tags, sizeof(tags), "product:%lld list search", (long long) pid);
    for (i = 0; i < nskus; i++) {
        c.sku_id = skus[i].id;
        c.product_id = pid;
        c.before = sync_before(ch, n, &skus[i]);
        c.after = skus[i].stock;
        c.threshold = c.before_threshold = skus[i].threshold;
        c.was_on_sale = c.on_sale = on_sale;
        stock_batch_low(&b, ctx->conf, &c, time(NULL));
    }
    if (card != NULL) {
        snprintf(skey, sizeof(skey), CATALOG_KEY_CARD_FMT, (long long) pid);
        mall_batch_addl(&b, 3, "SET", skey, card);
        cJSON_free(card);
    } else {
        b.oom = 1;
    }
    if ((was_in != 0) != in_stock) {
        mall_batch_addl(&b, 2, "INCR", CATALOG_KEY_VERSION);
    }
    mall_batch_addl(&b, 8, "XADD", CATALOG_KEY_PURGE, "MAXLEN", "~", "10000",
                    "*", "tags", tags);
    mall_redis_free_replies(head, 2);
    rc = mall_batch_exec(&b, ctx->redis, 1, NULL, err);
    mall_batch_free(&b);
    return rc;
}


static int
stock_sync(mall_ctx_t *ctx, int64_t pid, const stock_change_t *ch, size_t n,
    mall_err_t *err)
{
    int  rc, tries;

    rc = MALL_BATCH_ABORTED;
    for (tries = 0; tries < STOCK_SYNC_TRIES && rc == MALL_BATCH_ABORTED;
         tries++)
    {
        rc = stock_sync_once(ctx, pid, ch, n, err);
    }
    if (rc == MALL_ERR) {
        mall_unwatch(ctx->redis);
    }
    return rc;
}


/* Queues the changes of product pid for the timer. */
static void
stock_queue(mall_ctx_t *ctx, int64_t pid, const stock_change_t *ch,
    size_t n)
{
    char         member[80];
    mall_err_t   err;
    redisReply  *r;
    size_t       i;

    for (i = 0; i < n; i++) {
        if (ch[i].product_id != pid) {
            continue;
        }
        snprintf(member, sizeof(member), "%lld:%lld:%lld", (long long) pid,
                 (long long) ch[i].sku_id, (long long) ch[i].before);
        if (mall_cmd(ctx->redis, &r, &err, 3, "SADD", STOCK_KEY_RESYNC,
                     member) == MALL_OK)
        {
            freeReplyObject(r);
        }
    }
}


void
stock_follow_up(mall_ctx_t *ctx, const stock_change_t *ch, size_t n)
{
    mall_err_t  err;
    size_t      i, j;
    int         rc, crossed;

    for (i = 0; i < n; i++) {
        /* once per product: its first change in the list handles it */
        for (j = 0; j < i && ch[j].product_id != ch[i].product_id; j++) {
            /* nothing */
        }
        if (j < i) {
            continue;
        }
        crossed = 0;
        for (j = i; j < n; j++) {
            crossed |= ch[j].product_id == ch[i].product_id
                       && stock_crossed(ch[j].before, ch[j].after,
                                        stock_threshold(ctx->conf,
                                                        ch[j].threshold));
        }
        if (!crossed) {
            continue;
        }
        err.msg[0] = '\0';
        rc = stock_sync(ctx, ch[i].product_id, ch, n, &err);
        if (rc != MALL_OK) {
            mall_log_req(MALL_LOG_WARN, "stock", ctx->request_id,
                         ctx->ident.user, "product %lld: derived stock "
                         "state deferred: %s", (long long) ch[i].product_id,
                         rc == MALL_BATCH_ABORTED ? "contended" : err.msg);
            stock_queue(ctx, ch[i].product_id, ch, n);
        }
    }
}


int
stock_resync_run(mall_ctx_t *ctx, size_t max, mall_err_t *err)
{
    stock_change_t  c;
    redisReply     *r;
    long long       pid, sku, before;
    char            count[24];
    size_t          i;
    int             rc;

    snprintf(count, sizeof(count), "%zu", max);
    rc = mall_cmd(ctx->redis, &r, err, 3, "SPOP", STOCK_KEY_RESYNC, count);
    if (rc != MALL_OK) {
        return rc;
    }
    for (i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        if (sscanf(r->element[i]->str, "%lld:%lld:%lld", &pid, &sku,
                   &before) != 3)
        {
            continue;
        }
        memset(&c, 0, sizeof(c));
        c.product_id = pid;
        c.sku_id = sku;
        c.before = before;
        c.threshold = c.before_threshold = -1;
        rc = stock_sync(ctx, pid, &c, 1, err);
        if (rc != MALL_OK) {
            stock_queue(ctx, pid, &c, 1);    /* next tick */
            if (rc == MALL_RETRY) {
                break;
            }
        }
    }
    freeReplyObject(r);
    return rc == MALL_RETRY ? MALL_RETRY : MALL_OK;
}
