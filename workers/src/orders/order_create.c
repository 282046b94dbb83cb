/*
 * POST /api/v1/orders: create an order (Idempotency-Key required).
 *
 * Round trips (docs/orders.md has the full argument):
 *   1. WATCH the idempotency key (and the purchase-limit counters when a
 *      limit is set), then read the key, the address and every SKU;
 *      a known key replays the order it made (or 409 on another body);
 *   2. read the products (on sale?, names), check stock: any line wanting
 *      more than is left is 409 OUT_OF_STOCK with nothing written;
 *   3. one MULTI/EXEC: HINCRBY -q per SKU, the order hash (status
 *      "reserving"), its event, the user index, the expiry and
 *      reservation queues, the idempotency key, the purchase counters;
 *      a WATCH of the order follows in the same round trip. A nil EXEC
 *      means the same key (or the limit counters) moved: start again;
 *   4. if a decrement left a SKU below zero, a second MULTI gives every
 *      unit back and removes the order and its key (409 OUT_OF_STOCK);
 *      otherwise it confirms the order (unpaid) and reads it back.
 * A crash between 3 and 4 leaves the order in mall:orders:reserving; the
 * expiry timer (or a retry with the same key) settles it by order_resolve.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/http.h>
#include <openssl/crypto.h>

#include "catalog.h"
#include "catalog_keys.h"
#include "mall_json.h"
#include "mall_log.h"
#include "mall_reply.h"
#include "mall_seal.h"
#include "order_request.h"
#include "order_store.h"

#define CREATE_TRIES       3
#define CREATE_SEALED_MAX  4096
#define CREATE_PLAIN_MAX   2048

static int order_create(mall_ctx_t *ctx);

const mall_route_t  mall_order_create_routes[] = {
    { "POST", "/api/v1/orders", order_create, 0 },
    { NULL, NULL, NULL, 0 }
};

/* What one line needs beyond order_line_t. */
typedef struct {
    int64_t      product_id;
    int64_t      stock;
    int64_t      threshold;
    const char  *attrs;             /* JSON text in the round-1 reply */
    const char  *name;              /* in the round-2 reply */
    const char  *image;
} create_sku_t;

typedef struct {
    char              uid[SF_UID_MAX];
    char              idem[ORDER_KEY_MAX];
    char              bought[ORDER_KEY_MAX];
    char              digest[ORDER_DIGEST_HEX];
    order_req_t       req;
    create_sku_t      sku[ORDER_LINES_MAX];
    order_amounts_t   amounts;
    order_head_t      head;
    char              sealed[CREATE_SEALED_MAX];
} create_t;


/* 1 when the first n replies of an EXEC are integers. */
static int
exec_ints_ok(const redisReply *exec, size_t n)
{
    size_t  i;

    if (exec == NULL || exec->type != REDIS_REPLY_ARRAY
        || exec->elements < n)
    {
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (exec->element[i]->type != REDIS_REPLY_INTEGER) {
            return 0;
        }
    }
    return 1;
}


/* 409 OUT_OF_STOCK naming the SKU ("sku_id" in the error object). */
static int
reply_out_of_stock(mall_ctx_t *ctx, int64_t sku)
{
    cJSON  *root, *e;
    char    msg[96];
    int     rc;

    snprintf(msg, sizeof(msg), "sku %lld does not have enough stock",
             (long long) sku);
    root = cJSON_CreateObject();
    e = root != NULL ? cJSON_AddObjectToObject(root, "error") : NULL;
    if (e == NULL
        || cJSON_AddStringToObject(e, "code", "OUT_OF_STOCK") == NULL
        || cJSON_AddStringToObject(e, "message", msg) == NULL
        || mall_json_add_int(e, "sku_id", sku) != MALL_OK
        || cJSON_AddStringToObject(e, "request_id", ctx->request_id) == NULL)
    {
        cJSON_Delete(root);
        return mall_reply_error(ctx, 409, "OUT_OF_STOCK", "%s", msg);
    }
    rc = mall_reply_json_nostore(ctx, 409, root);
    cJSON_Delete(root);
    return rc;
}


/* Replies with the order (HGETALL + LRANGE replies) and status. */
static int
reply_order(mall_ctx_t *ctx, int status, const redisReply *hash,
    const redisReply *events)
{
    cJSON  *o;
    int     rc;

    o = order_view(ctx, hash, events, 1);
    if (o == NULL) {
        return MALL_ERR;
    }
    rc = sf_reply(ctx, status, o);
    cJSON_Delete(o);
    return rc;
}


/*
 * The key was used before (value "oid digest"). Replays the order, or
 * 409. MALL_OK (replied), MALL_BATCH_ABORTED (the reservation it named
 * was discarded: the caller starts afresh), MALL_ERR, MALL_RETRY.
 */
static int
create_replay(mall_ctx_t *ctx, create_t *c, const redisReply *v,
    mall_err_t *err)
{
    char            oid[ORDER_ID_MAX];
    const char     *sp;
    order_head_t    h;
    order_status_e  cur;
    int             rc;

    sp = memchr(v->str, ' ', v->len);
    if (sp == NULL || (size_t) (sp - v->str) != ORDER_ID_LEN) {
        return mall_err_set(err, 500, "bad idempotency record");
    }
    memcpy(oid, v->str, ORDER_ID_LEN);
    oid[ORDER_ID_LEN] = '\0';
    if (strcmp(sp + 1, c->digest) != 0) {
        return mall_reply_error(ctx, 409, "CONFLICT", "this Idempotency-Key "
                                "was used with a different request body");
    }
    rc = order_load_head(ctx, oid, 0, &h, err);
    if (rc != MALL_OK) {
        return rc;
    }
    if (h.status == ORDER_ST_RESERVING) {
        /* the first request is in flight or died: settle it under WATCH */
        rc = order_resolve(ctx, oid, &cur, err);
        if (rc != MALL_OK) {
            return rc;
        }
        if (cur == ORDER_ST_NONE) {
            return MALL_BATCH_ABORTED;
        }
    } else if (h.status == ORDER_ST_NONE) {
        return mall_reply_error(ctx, 409, "CONFLICT", "this Idempotency-Key "
                                "names an order that no longer exists");
    }
    return order_reply_stored(ctx, oid, 200, err);
}


/*
 * Round 1: WATCH + reads. Returns MALL_OK with *rep1 (caller frees every
 * reply in reps[0..nreps)), or MALL_RETRY/MALL_ERR.
 */
static int
create_read(mall_ctx_t *ctx, create_t *c, redisReply **reps, size_t *nreps,
    mall_err_t *err)
{
    mall_redis_cmd_t   cmds[ORDER_LINES_MAX + 5];
    const char        *argv[ORDER_LINES_MAX + 5][ORDER_LINES_MAX + 3];
    char               skeys[ORDER_LINES_MAX][48], sids[ORDER_LINES_MAX][24];
    char               addr_key[ORDER_KEY_MAX], addr_id[24];
    size_t             n, i, k;
    int                limit;

    limit = ctx->conf->order.purchase_limit > 0;
    n = 0;
    argv[n][0] = "WATCH"; argv[n][1] = c->idem; argv[n][2] = c->bought;
    cmds[n].argc = limit ? 3 : 2;
    n++;
    argv[n][0] = "GET"; argv[n][1] = c->idem;
    cmds[n].argc = 2;
    n++;
    order_key(addr_key, sizeof(addr_key), "mall:addr:%s", c->uid, NULL);
    snprintf(addr_id, sizeof(addr_id), "%lld",
             (long long) c->req.address_id);
    argv[n][0] = "HGET"; argv[n][1] = addr_key; argv[n][2] = addr_id;
    cmds[n].argc = 3;
    n++;
    for (i = 0; i < c->req.nlines; i++) {
        snprintf(skeys[i], sizeof(skeys[i]), CATALOG_KEY_SKU_FMT,
                 (long long) c->req.lines[i].sku_id);
        snprintf(sids[i], sizeof(sids[i]), "%lld",
                 (long long) c->req.lines[i].sku_id);
        argv[n][0] = "HMGET"; argv[n][1] = skeys[i];
        argv[n][2] = "product_id"; argv[n][3] = "price_fen";
        argv[n][4] = "stock"; argv[n][5] = "low_stock_threshold";
        argv[n][6] = "attrs";
        cmds[n].argc = 7;
        n++;
    }
    if (limit) {
        argv[n][0] = "HMGET"; argv[n][1] = c->bought;
        for (k = 0; k < c->req.nlines; k++) {
            argv[n][2 + k] = sids[k];
        }
        cmds[n].argc = (int) (2 + c->req.nlines);
        n++;
    }
    for (i = 0; i < n; i++) {
        cmds[i].argv = argv[i];
        cmds[i].argvlen = NULL;
    }
    *nreps = n;
    return mall_redis_pipeline(ctx->redis, n, cmds, reps, err);
}


/*
 * Round 2: products of the lines (on sale, name, image). MALL_OK, or
 * MALL_ERR after a 422 reply (watch dropped by the caller), MALL_RETRY.
 */
static int
create_products(mall_ctx_t *ctx, create_t *c, redisReply **preps,
    mall_err_t *err)
{
    mall_redis_cmd_t   cmds[ORDER_LINES_MAX];
    const char        *argv[ORDER_LINES_MAX][5];
    char               pkeys[ORDER_LINES_MAX][48], msg[96];
    size_t             i, n;
    int                rc;

    n = c->req.nlines;
    for (i = 0; i < n; i++) {
        snprintf(pkeys[i], sizeof(pkeys[i]), CATALOG_KEY_PRODUCT_FMT,
                 (long long) c->sku[i].product_id);
        argv[i][0] = "HMGET"; argv[i][1] = pkeys[i];
        argv[i][2] = "status"; argv[i][3] = "name_zh"; argv[i][4] = "image";
        cmds[i].argc = 5;
        cmds[i].argv = argv[i];
        cmds[i].argvlen = NULL;
    }
    rc = mall_redis_pipeline(ctx->redis, n, cmds, preps, err);
    if (rc != MALL_OK) {
        return rc;
    }
    for (i = 0; i < n; i++) {
        const redisReply  *p = preps[i];

        if (p->type != REDIS_REPLY_ARRAY || p->elements != 3
            || p->element[1]->type != REDIS_REPLY_STRING
            || (p->element[0]->type == REDIS_REPLY_STRING
                && strcmp(p->element[0]->str, "delisted") == 0))
        {
            snprintf(msg, sizeof(msg), "sku %lld is not on sale",
                     (long long) c->req.lines[i].sku_id);
            sf_reply_invalid(ctx, "items", msg);
            return MALL_ERR;
        }
        c->sku[i].name = p->element[1]->str;
        c->sku[i].image = p->element[2]->type == REDIS_REPLY_STRING
                          ? p->element[2]->str : "";
    }
    return MALL_OK;
}


/*
 * Opens the caller's address record and seals its snapshot for the order
 * into c->sealed. MALL_OK, or MALL_ERR (err->code 422: not the caller's).
 */
static int
create_address(mall_ctx_t *ctx, create_t *c, const redisReply *rec,
    const char *oid, mall_err_t *err)
{
    static const char   *fields[] = {
        "name", "phone", "province", "city", "district", "detail"
    };
    const auth_conf_t   *a = &ctx->conf->auth;
    char                 aad[ORDER_KEY_MAX], *text;
    uint8_t              plain[CREATE_PLAIN_MAX];
    size_t               n, i, len;
    cJSON               *src, *snap;
    const cJSON         *v;
    int                  rc;

    if (rec == NULL || rec->type != REDIS_REPLY_STRING) {
        return mall_err_set(err, 422, "no such address");
    }
    snprintf(aad, sizeof(aad), "mall:addr:%s:%lld", c->uid,
             (long long) c->req.address_id);
    if (a->n_data_keys == 0
        || mall_unseal(a->data_keys, a->n_data_keys, aad, rec->str, rec->len,
                       plain, sizeof(plain), &n, err) != MALL_OK)
    {
        return mall_err_set(err, 422, "no such address");
    }
    src = mall_json_object(plain, n);
    OPENSSL_cleanse(plain, sizeof(plain));
    snap = cJSON_CreateObject();
    rc = src != NULL && snap != NULL ? MALL_OK : MALL_ERR;
    for (i = 0; rc == MALL_OK && i < MALL_ARRAY_LEN(fields); i++) {
        v = cJSON_GetObjectItemCaseSensitive(src, fields[i]);
        rc = mall_json_add_str(snap, fields[i], cJSON_IsString(v)
                               ? v->valuestring : "");
    }
    cJSON_Delete(src);
    text = rc == MALL_OK ? cJSON_PrintUnformatted(snap) : NULL;
    cJSON_Delete(snap);
    if (text == NULL) {
        return mall_err_set(err, 500, "out of memory");
    }
    order_key(aad, sizeof(aad), ORDER_KEY_ADDRESS_AAD, oid, NULL);
    rc = mall_seal(&a->data_keys[0], aad, text, strlen(text), c->sealed,
                   sizeof(c->sealed), &len, err);
    OPENSSL_cleanse(text, strlen(text));
    cJSON_free(text);
    return rc;
}


/* The items document stored with the order; NULL on OOM. */
static char *
create_items_json(const create_t *c)
{
    cJSON   *arr, *it, *attrs;
    char    *out;
    size_t   i;

    arr = cJSON_CreateArray();
    for (i = 0; arr != NULL && i < c->req.nlines; i++) {
        const order_line_t  *l = &c->req.lines[i];

        it = cJSON_CreateObject();
        if (it == NULL || !cJSON_AddItemToArray(arr, it)) {
            cJSON_Delete(it);
            goto fail;
        }
        attrs = c->sku[i].attrs != NULL ? cJSON_Parse(c->sku[i].attrs)
                                        : NULL;
        if (attrs == NULL) {
            attrs = cJSON_CreateObject();
        }
        if (attrs == NULL || !cJSON_AddItemToObject(it, "attrs", attrs)) {
            cJSON_Delete(attrs);
            goto fail;
        }
        if (mall_json_add_int(it, "sku_id", l->sku_id) != MALL_OK
            || mall_json_add_int(it, "product_id", c->sku[i].product_id)
               != MALL_OK
            || mall_json_add_str(it, "name", c->sku[i].name) != MALL_OK
            || mall_json_add_str(it, "image", c->sku[i].image) != MALL_OK
            || mall_json_add_int(it, "price_fen", l->price_fen) != MALL_OK
            || mall_json_add_int(it, "quantity", l->quantity) != MALL_OK
            || mall_json_add_int(it, "subtotal_fen", l->subtotal_fen)
               != MALL_OK)
        {
            goto fail;
        }
    }
    if (arr == NULL) {
        return NULL;
    }
    out = cJSON_PrintUnformatted(arr);
    cJSON_Delete(arr);
    return out;

fail:
    cJSON_Delete(arr);
    return NULL;
}


/*
 * Sends MULTI, b, EXEC and then WATCH watch_key in one round trip.
 * MALL_OK (*exec set, caller frees), MALL_BATCH_ABORTED (the WATCH of
 * watch_key is in place all the same), MALL_ERR, MALL_RETRY.
 */
static int
exec_then_watch(mall_ctx_t *ctx, mall_batch_t *b, const char *watch_key,
    redisReply **exec, mall_err_t *err)
{
    int           rc;
    mall_batch_t  watch;

    mall_batch_init(&watch);
    mall_batch_addl(&watch, 2, "WATCH", watch_key);
    rc = mall_batch_exec_then(b, ctx->redis, 1, &watch, exec, err);
    mall_batch_free(&watch);
    return rc;
}


/* The reservation MULTI (step 3) into b. */
static int
create_batch(mall_ctx_t *ctx, create_t *c, const char *oid, int64_t cms,
    mall_batch_t *b)
{
    char     key[ORDER_KEY_MAX], ekey[ORDER_KEY_MAX], ukey[ORDER_KEY_MAX];
    char     skey[48], q[24], sid[24], ms[24], now_s[24], deadline[24];
    char     items_fen[24], ship[24], disc[24], total[24], addr_id[24];
    char     idem_val[ORDER_ID_MAX + ORDER_DIGEST_HEX + 2], *items, *ev;
    time_t   now;
    size_t   i;
    cJSON   *e;

    now = (time_t) (cms / 1000);
    snprintf(ms, sizeof(ms), "%lld", (long long) cms);
    snprintf(now_s, sizeof(now_s), "%lld", (long long) now);
    snprintf(deadline, sizeof(deadline), "%lld",
             (long long) now + ctx->conf->order.pay_timeout);
    snprintf(items_fen, sizeof(items_fen), "%lld",
             (long long) c->amounts.items_fen);
    snprintf(ship, sizeof(ship), "%lld", (long long) c->amounts.shipping_fen);
    snprintf(disc, sizeof(disc), "%lld", (long long) c->amounts.discount_fen);
    snprintf(total, sizeof(total), "%lld", (long long) c->amounts.total_fen);
    snprintf(addr_id, sizeof(addr_id), "%lld",
             (long long) c->req.address_id);
    snprintf(idem_val, sizeof(idem_val), "%s %s", oid, c->digest);
    order_key(key, sizeof(key), ORDER_KEY_ORDER, oid, NULL);
    order_key(ekey, sizeof(ekey), ORDER_KEY_EVENTS, oid, NULL);
    order_key(ukey, sizeof(ukey), ORDER_KEY_USER_ALL, c->uid, NULL);

    items = create_items_json(c);
    e = cJSON_CreateObject();
    ev = NULL;
    if (e != NULL && mall_json_add_int(e, "at", (int64_t) now) == MALL_OK
        && mall_json_add_str(e, "actor", "user") == MALL_OK
        && mall_json_add_str(e, "actor_id", c->uid) == MALL_OK
        && mall_json_add_str(e, "event", "create") == MALL_OK
        && mall_json_add_str(e, "from", "") == MALL_OK
        && mall_json_add_str(e, "to", "unpaid") == MALL_OK)
    {
        ev = cJSON_PrintUnformatted(e);
    }
    cJSON_Delete(e);
    if (items == NULL || ev == NULL) {
        cJSON_free(items);
        cJSON_free(ev);
        return MALL_ERR;
    }

    /* the decrements come first: their replies are the EXEC's first n */
    for (i = 0; i < c->req.nlines; i++) {
        snprintf(skey, sizeof(skey), CATALOG_KEY_SKU_FMT,
                 (long long) c->req.lines[i].sku_id);
        snprintf(q, sizeof(q), "-%lld", (long long) c->req.lines[i].quantity);
        mall_batch_addl(b, 4, "HINCRBY", skey, "stock", q);
    }
    mall_batch_addl(b, 38, "HSET", key, "id", oid, "user_id", c->uid,
                    "status", "reserving", "items", items,
                    "items_fen", items_fen, "shipping_fen", ship,
                    "discount_fen", disc, "total_fen", total,
                    "coupon", c->req.coupon == ORDER_COUPON_AUTO
                              ? "\"auto\"" : "null",
                    "remark", c->req.remark, "address_id", addr_id,
                    "address", c->sealed, "created_at", now_s,
                    "created_ms", ms, "pay_deadline", deadline,
                    "updated_at", now_s, "idem_key", c->idem,
                    "idem_digest", c->digest);
    mall_batch_addl(b, 3, "RPUSH", ekey, ev);
    mall_batch_addl(b, 4, "ZADD", ukey, ms, oid);
    mall_batch_addl(b, 4, "ZADD", ORDER_KEY_EXPIRY, deadline, oid);
    mall_batch_addl(b, 4, "ZADD", ORDER_KEY_RESERVING, ms, oid);
    mall_batch_addl(b, 5, "SET", c->idem, idem_val, "EX", ORDER_IDEM_TTL);
    for (i = 0; i < c->req.nlines; i++) {
        snprintf(sid, sizeof(sid), "%lld",
                 (long long) c->req.lines[i].sku_id);
        snprintf(q, sizeof(q), "%lld", (long long) c->req.lines[i].quantity);
        mall_batch_addl(b, 4, "HINCRBY", c->bought, sid, q);
    }
    cJSON_free(items);
    cJSON_free(ev);
    return b->oom ? MALL_ERR : MALL_OK;
}


/* The head of the order being created (for confirm/discard). */
static void
create_head(create_t *c, const char *oid, int64_t cms)
{
    order_head_t  *h = &c->head;
    size_t         i;

    memset(h, 0, sizeof(*h));
    snprintf(h->id, sizeof(h->id), "%s", oid);
    snprintf(h->uid, sizeof(h->uid), "%s", c->uid);
    snprintf(h->idem_key, sizeof(h->idem_key), "%s", c->idem);
    h->status = ORDER_ST_RESERVING;
    h->created_ms = cms;
    for (i = 0; i < c->req.nlines; i++) {
        h->items[i].sku_id = c->req.lines[i].sku_id;
        h->items[i].product_id = c->sku[i].product_id;
        h->items[i].quantity = c->req.lines[i].quantity;
        h->items[i].threshold = c->sku[i].threshold;
    }
    h->nitems = c->req.nlines;
}


/*
 * Step 4 after the reservation EXEC (the order is WATCHed): confirm and
 * reply 201, or give everything back and reply 409.
 */
static int
create_settle(mall_ctx_t *ctx, create_t *c, const redisReply *rexec,
    mall_err_t *err)
{
    order_head_t   *h = &c->head;
    int64_t         stock[ORDER_LINES_MAX], delta[ORDER_LINES_MAX];
    int64_t         short_sku, after[ORDER_LINES_MAX];
    char            key[ORDER_KEY_MAX], ekey[ORDER_KEY_MAX];
    mall_batch_t    b;
    redisReply     *exec;
    order_status_e  cur;
    size_t          i, n;
    int             rc;

    n = h->nitems;
    short_sku = 0;
    for (i = 0; i < n; i++) {
        stock[i] = rexec->element[i]->integer;
        if (stock[i] < 0 && short_sku == 0) {
            short_sku = h->items[i].sku_id;
        }
    }

    mall_batch_init(&b);
    if (short_sku != 0) {
        order_batch_discard(&b, h);
    } else {
        order_key(key, sizeof(key), ORDER_KEY_ORDER, h->id, NULL);
        order_key(ekey, sizeof(ekey), ORDER_KEY_EVENTS, h->id, NULL);
        order_batch_confirm(&b, h, time(NULL));
        mall_batch_addl(&b, 2, "HGETALL", key);
        mall_batch_addl(&b, 4, "LRANGE", ekey, "0", "-1");
    }
    rc = mall_batch_exec(&b, ctx->redis, 1, &exec, err);
    n = b.n;
    mall_batch_free(&b);

    if (rc == MALL_BATCH_ABORTED) {
        /* the reconciler settled it first: answer what it decided */
        rc = order_resolve(ctx, h->id, &cur, err);
        if (rc != MALL_OK) {
            return rc;
        }
        if (cur == ORDER_ST_NONE) {
            return reply_out_of_stock(ctx, short_sku != 0 ? short_sku
                                                          : h->items[0]
                                                            .sku_id);
        }
        return order_reply_stored(ctx, h->id, 201, err);
    }
    if (rc != MALL_OK) {
        return rc;
    }

    if (short_sku != 0) {
        /* the give-back moved stock too (e.g. -1 -> 1): keep state right */
        if (exec_ints_ok(exec, h->nitems)) {
            for (i = 0; i < h->nitems; i++) {
                after[i] = exec->element[i]->integer;
                delta[i] = h->items[i].quantity;
            }
            order_stock_after(ctx, h, after, delta);
        }
        freeReplyObject(exec);
        return reply_out_of_stock(ctx, short_sku);
    }

    for (i = 0; i < h->nitems; i++) {
        delta[i] = -h->items[i].quantity;
    }
    rc = reply_order(ctx, 201, exec->element[n - 2], exec->element[n - 1]);
    freeReplyObject(exec);
    order_stock_after(ctx, h, stock, delta);
    return rc;
}


/*
 * Checks round 1 (SKUs, limits) and round 2 (products, address), prices
 * the order. MALL_OK to go on; MALL_ERR once a reply is sent (or for an
 * internal error: err), MALL_RETRY.
 */
static int
create_check(mall_ctx_t *ctx, create_t *c, redisReply **reps, size_t nreps,
    redisReply **preps, const char *oid, mall_err_t *err)
{
    const redisReply  *s, *bought;
    char               msg[128];
    size_t             i;
    int64_t            have;
    int                rc, limit;

    limit = ctx->conf->order.purchase_limit;
    for (i = 0; i < c->req.nlines; i++) {
        s = reps[3 + i];
        if (s->type != REDIS_REPLY_ARRAY || s->elements != 5
            || catalog_reply_int(s->element[0], &c->sku[i].product_id)
               != MALL_OK
            || s->element[1]->type != REDIS_REPLY_STRING)
        {
            snprintf(msg, sizeof(msg), "sku %lld does not exist",
                     (long long) c->req.lines[i].sku_id);
            sf_reply_invalid(ctx, "items", msg);
            return MALL_ERR;
        }
        /* the catalog's price, never the client's */
        c->req.lines[i].price_fen = order_reply_int(s->element[1], -1);
        c->sku[i].stock = order_reply_int(s->element[2], 0);
        c->sku[i].threshold = order_reply_int(s->element[3], -1);
        c->sku[i].attrs = s->element[4]->type == REDIS_REPLY_STRING
                          ? s->element[4]->str : NULL;
    }

    rc = create_products(ctx, c, preps, err);
    if (rc != MALL_OK) {
        return rc;
    }
    rc = create_address(ctx, c, reps[2], oid, err);
    if (rc != MALL_OK) {
        if (err->code == 422) {
            sf_reply_invalid(ctx, "address_id", "no such address of yours");
        }
        return MALL_ERR;
    }

    /* fast fail: nothing is written for an order that cannot be served */
    for (i = 0; i < c->req.nlines; i++) {
        if (c->sku[i].stock < c->req.lines[i].quantity) {
            reply_out_of_stock(ctx, c->req.lines[i].sku_id);
            return MALL_ERR;
        }
    }
    if (limit > 0) {
        bought = reps[nreps - 1];
        for (i = 0; i < c->req.nlines; i++) {
            have = bought->type == REDIS_REPLY_ARRAY
                   && i < bought->elements
                   ? order_reply_int(bought->element[i], 0) : 0;
            if (have + c->req.lines[i].quantity > limit) {
                snprintf(msg, sizeof(msg), "at most %d of sku %lld per "
                         "customer (you have %lld in open orders)", limit,
                         (long long) c->req.lines[i].sku_id,
                         (long long) have);
                sf_reply_invalid(ctx, "items", msg);
                return MALL_ERR;
            }
        }
    }

    /* coupons do not exist yet: "auto" finds none */
    rc = order_price(c->req.lines, c->req.nlines, &ctx->conf->order, 0,
                     &c->amounts, err);
    if (rc != MALL_OK) {
        if (err->code == 422) {
            sf_reply_invalid(ctx, "items", err->msg);
        }
        return MALL_ERR;
    }
    return MALL_OK;
}


/*
 * One attempt. MALL_OK (replied), MALL_BATCH_ABORTED (try again),
 * MALL_ERR, MALL_RETRY.
 */
static int
create_attempt(mall_ctx_t *ctx, create_t *c, mall_err_t *err)
{
    redisReply    *reps[ORDER_LINES_MAX + 5], *preps[ORDER_LINES_MAX];
    redisReply    *exec;
    char           oid[ORDER_ID_MAX], okey[ORDER_KEY_MAX];
    mall_batch_t   b;
    size_t         nreps;
    int64_t        cms;
    int            rc, watching;

    memset(reps, 0, sizeof(reps));
    memset(preps, 0, sizeof(preps));
    nreps = 0;
    exec = NULL;
    watching = 0;

    rc = create_read(ctx, c, reps, &nreps, err);
    if (rc != MALL_OK) {
        goto done;
    }
    watching = 1;
    if (reps[0]->type == REDIS_REPLY_ERROR) {
        rc = mall_err_set(err, 500, "redis: %s", reps[0]->str);
        goto done;
    }
    if (reps[1]->type == REDIS_REPLY_STRING) {
        mall_unwatch(ctx->redis);
        watching = 0;
        rc = create_replay(ctx, c, reps[1], err);
        goto done;
    }

    if (order_new_id(oid) != MALL_OK) {
        rc = mall_err_set(err, 500, "no randomness for the order id");
        goto done;
    }
    rc = create_check(ctx, c, reps, nreps, preps, oid, err);
    if (rc != MALL_OK) {
        goto done;
    }

    cms = mall_wall_ms();
    mall_batch_init(&b);
    rc = create_batch(ctx, c, oid, cms, &b);
    if (rc != MALL_OK) {
        mall_batch_free(&b);
        rc = mall_err_set(err, 500, "out of memory");
        goto done;
    }
    order_key(okey, sizeof(okey), ORDER_KEY_ORDER, oid, NULL);
    rc = exec_then_watch(ctx, &b, okey, &exec, err);
    mall_batch_free(&b);
    if (rc == MALL_BATCH_ABORTED) {
        goto done;              /* still watching the order key: dropped */
    }
    if (rc != MALL_OK) {
        goto done;
    }
    create_head(c, oid, cms);
    if (!exec_ints_ok(exec, c->head.nitems)) {
        rc = mall_err_set(err, 500, "unexpected reservation reply");
        goto done;
    }
    watching = 0;               /* create_settle's EXEC ends the WATCH */
    rc = create_settle(ctx, c, exec, err);

done:
    if (watching && rc != MALL_RETRY) {
        mall_unwatch(ctx->redis);
    }
    if (exec != NULL) {
        freeReplyObject(exec);
    }
    mall_redis_free_replies(reps, nreps);
    mall_redis_free_replies(preps, c->req.nlines);
    return rc;
}


static int
order_create(mall_ctx_t *ctx)
{
    const char  *key, *field;
    create_t    *c;
    cJSON       *body;
    mall_err_t   err;
    int          rc, tries;

    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return MALL_ERR;
    }
    rc = MALL_OK;
    if (sf_require_user(ctx, c->uid) != MALL_OK) {
        goto done;
    }
    key = evhttp_find_header(evhttp_request_get_input_headers(ctx->req),
                             "Idempotency-Key");
    if (!order_idem_key_valid(key)) {
        mall_reply_error(ctx, 400, "VALIDATION_FAILED", "the Idempotency-Key "
                         "header is required: 1..64 characters of "
                         "[A-Za-z0-9_-]");
        goto done;
    }
    if (sf_body(ctx, &body) != MALL_OK) {
        goto done;
    }
    err.code = 0;
    err.msg[0] = '\0';
    if (order_req_parse(body, &ctx->conf->order, &c->req, &field, &err)
        != MALL_OK)
    {
        cJSON_Delete(body);
        sf_reply_invalid(ctx, field, err.msg);
        goto done;
    }
    cJSON_Delete(body);
    if (c->req.coupon == ORDER_COUPON_IDS) {
        /* no coupon exists yet, so no listed id can be valid */
        mall_reply_error(ctx, 422, "COUPON_INVALID", "no such coupon");
        goto done;
    }
    order_req_digest(&c->req, c->digest);
    order_key(c->idem, sizeof(c->idem), ORDER_KEY_IDEM, c->uid, key);
    order_key(c->bought, sizeof(c->bought), ORDER_KEY_BOUGHT, c->uid, NULL);

    rc = MALL_BATCH_ABORTED;
    for (tries = 0; tries < CREATE_TRIES && rc == MALL_BATCH_ABORTED;
         tries++)
    {
        rc = create_attempt(ctx, c, &err);
    }
    if (rc == MALL_BATCH_ABORTED) {
        rc = mall_reply_error(ctx, 409, "CONFLICT", "the request raced with "
                              "another one using the same Idempotency-Key; "
                              "retry");
    } else if (rc != MALL_OK) {
        rc = sf_fail(ctx, rc, "order create", &err);
    }

done:
    OPENSSL_cleanse(c->sealed, sizeof(c->sealed));
    free(c);
    return rc;
}
