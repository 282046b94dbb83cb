/*
 * Order creation: the record, round trip 2 and its verdict (see
 * order_create.h and the top of order_create.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "coupon_keys.h"
#include "mall_json.h"
#include "mall_log.h"
#include "mall_reply.h"
#include "order_create.h"

#define CREATE_FIELDS      19
#define CREATE_INTS        10


/* ---- the record and the answer ----------------------------------------- */

cJSON *
create_line_json(const create_t *c, size_t i)
{
    const order_line_t  *l = &c->req.lines[i];
    cJSON               *it, *attrs;

    it = cJSON_CreateObject();
    attrs = c->sku[i].attrs != NULL ? cJSON_Parse(c->sku[i].attrs) : NULL;
    if (attrs == NULL) {
        attrs = cJSON_CreateObject();
    }
    if (it == NULL || attrs == NULL
        || !cJSON_AddItemToObject(it, "attrs", attrs))
    {
        cJSON_Delete(attrs);
        cJSON_Delete(it);
        return NULL;
    }
    if (mall_json_add_int(it, "sku_id", l->sku_id) != MALL_OK
        || mall_json_add_int(it, "product_id", c->sku[i].product_id)
           != MALL_OK
        || mall_json_add_str(it, "name", c->sku[i].name) != MALL_OK
        || mall_json_add_str(it, "image", c->sku[i].image) != MALL_OK
        || mall_json_add_int(it, "price_fen", l->price_fen) != MALL_OK
        || mall_json_add_int(it, "quantity", l->quantity) != MALL_OK
        || mall_json_add_int(it, "subtotal_fen", l->subtotal_fen) != MALL_OK)
    {
        cJSON_Delete(it);
        return NULL;
    }
    return it;
}


/* The items document stored with the order; NULL on OOM. */
static char *
create_items_json(const create_t *c)
{
    cJSON   *arr, *it;
    char    *out;
    size_t   i;

    arr = cJSON_CreateArray();
    for (i = 0; arr != NULL && i < c->req.nlines; i++) {
        it = create_line_json(c, i);
        if (it == NULL || !cJSON_AddItemToArray(arr, it)) {
            cJSON_Delete(it);
            cJSON_Delete(arr);
            return NULL;
        }
    }
    if (arr == NULL) {
        return NULL;
    }
    out = cJSON_PrintUnformatted(arr);
    cJSON_Delete(arr);
    return out;
}


/*
 * The order hash as name/value pairs into kv (2 * CREATE_FIELDS), their
 * integer texts in ints. MALL_OK or MALL_ERR (out of memory).
 */
static int
create_fields(mall_ctx_t *ctx, create_t *c, const char **kv,
    char ints[CREATE_INTS][24])
{
    int64_t  now = c->created_ms / 1000;
    int64_t  v[CREATE_INTS];
    size_t   i, n;

    c->items = create_items_json(c);
    if (c->items == NULL) {
        return MALL_ERR;
    }
    v[0] = c->amounts.items_fen;
    v[1] = c->amounts.shipping_fen;
    v[2] = c->amounts.discount_fen;
    v[3] = c->amounts.total_fen;
    v[4] = c->req.address_id;
    v[5] = now;
    v[6] = c->created_ms;
    v[7] = now + ctx->conf->order.pay_timeout;
    v[8] = now;
    for (i = 0; i < 9; i++) {
        snprintf(ints[i], 24, "%lld", (long long) v[i]);
    }

    n = 0;
#define CREATE_KV(name, value)  kv[n++] = (name); kv[n++] = (value)
    CREATE_KV("id", c->oid);
    CREATE_KV("user_id", c->uid);
    CREATE_KV("status", "unpaid");
    CREATE_KV("items", c->items);
    CREATE_KV("items_fen", ints[0]);
    CREATE_KV("shipping_fen", ints[1]);
    CREATE_KV("discount_fen", ints[2]);
    CREATE_KV("total_fen", ints[3]);
    CREATE_KV("coupon", c->coupon_json != NULL ? c->coupon_json : "null");
    CREATE_KV("coupon_ids", c->coupon_ids);
    CREATE_KV("remark", c->req.remark);
    CREATE_KV("address_id", ints[4]);
    CREATE_KV("address", c->address);
    CREATE_KV("created_at", ints[5]);
    CREATE_KV("created_ms", ints[6]);
    CREATE_KV("pay_deadline", ints[7]);
    CREATE_KV("updated_at", ints[8]);
    CREATE_KV("idem_key", c->idem);
    /* its units count against the purchase limit (released with it) */
    CREATE_KV(c->limit ? "counted" : "limit", c->limit ? "1" : "off");
#undef CREATE_KV
    return MALL_OK;
}


/*
 * The answer (201, and 200 for a replay of the key): what the client needs
 * to pay or to find the order again. The key's record holds it after
 * "v1 {digest} {oid} ", so a replay is answered from the first round trip
 * (it carries nothing sensitive; the detail is GET /api/v1/orders/{id}).
 */
static int
create_answer(mall_ctx_t *ctx, create_t *c, mall_err_t *err)
{
    mall_buf_t  *b = &c->idem_val;
    int64_t      now = c->created_ms / 1000;

    mall_buf_printf(b, ORDER_IDEM_VERSION " %s %s ", c->digest, c->oid);
    c->answer_at = b->len;
    mall_buf_printf(b, "{\"order_id\":\"%s\",\"status\":\"unpaid\","
                    "\"items_fen\":%lld,\"shipping_fen\":%lld,"
                    "\"discount_fen\":%lld,\"total_fen\":%lld,"
                    "\"created_at\":%lld,\"pay_deadline\":%lld,"
                    "\"coupons\":%s}", c->oid,
                    (long long) c->amounts.items_fen,
                    (long long) c->amounts.shipping_fen,
                    (long long) c->amounts.discount_fen,
                    (long long) c->amounts.total_fen, (long long) now,
                    (long long) (now + ctx->conf->order.pay_timeout),
                    c->coupon_json != NULL ? c->coupon_json : "[]");
    return b->oom ? mall_err_set(err, 500, "out of memory") : MALL_OK;
}


/*
 * The order is on the primary but WAIT did not see it on enough replicas:
 * 503 UNAVAILABLE. Nothing is undone: the client retries with the same
 * Idempotency-Key and gets this order (its replay waits for the replicas
 * too), or, if the primary died and the order with it, creates it anew
 * on the promoted replica. Either way there is one order.
 */
int
create_reply_unreplicated(mall_ctx_t *ctx, const mall_err_t *err)
{
    mall_log_req(MALL_LOG_WARN, "orders", ctx->request_id, ctx->ident.user,
                 "order not acknowledged: %s", err->msg);
    mall_reply_header(ctx, "Retry-After", "1");
    return mall_reply_error(ctx, 503, "UNAVAILABLE", "the order is not yet "
                            "confirmed by a replica; retry with the same "
                            "Idempotency-Key");
}


/* ---- write ------------------------------------------------------------ */

/* The coupons' marks: HSET mall:user:{uid}:coupons:used id oid ... */
static void
create_batch_coupons(mall_batch_t *b, const create_t *c)
{
    const char  *argv[2 + 2 * ORDER_COUPONS_MAX];
    char         key[ORDER_KEY_MAX], ids[ORDER_COUPONS_MAX][24];
    size_t       i, n = c->coupons.pick.n;

    order_key(key, sizeof(key), COUPON_KEY_USED, c->uid, NULL);
    argv[0] = "HSET";
    argv[1] = key;
    for (i = 0; i < n; i++) {
        snprintf(ids[i], sizeof(ids[i]), "%lld",
                 (long long) c->coupons.c[c->coupons.pick.idx[i]].id);
        argv[2 + 2 * i] = ids[i];
        argv[3 + 2 * i] = c->oid;
    }
    mall_batch_add(b, (int) (2 + 2 * n), argv);
}


/*
 * Round trip 2: the MULTI/EXEC (under the WATCH of the buyer's coupon
 * marks when coupons are read). The EXEC reply: per line the HINCRBY
 * (stock after) and the COPY, then HSET, SET NX, three ZADDs, with a
 * limit the purchase counters and, with coupons, their marks.
 */
static int
create_write(mall_ctx_t *ctx, create_t *c, const char **kv,
    const char *deadline, redisReply **exec, mall_err_t *err)
{
    const char   *argv[2 + 2 * CREATE_FIELDS];
    char          key[ORDER_KEY_MAX], ms[24], sid[24], q[24];
    mall_batch_t  b;
    size_t        i;
    int           rc;

    snprintf(ms, sizeof(ms), "%lld", (long long) c->created_ms);
    mall_batch_init(&b);
    for (i = 0; i < c->req.nlines; i++) {
        stock_batch_take(&b, c->req.lines[i].sku_id,
                         c->req.lines[i].quantity, c->oid);
    }
    order_key(key, sizeof(key), ORDER_KEY_ORDER, c->oid, NULL);
    argv[0] = "HSET";
    argv[1] = key;
    memcpy(&argv[2], kv, 2 * CREATE_FIELDS * sizeof(*kv));
    mall_batch_add(&b, 2 + 2 * CREATE_FIELDS, argv);
    mall_batch_addl(&b, 6, "SET", c->idem, c->idem_val.p, "NX", "EX",
                    ORDER_IDEM_TTL);
    order_key(key, sizeof(key), ORDER_KEY_USER_ALL, c->uid, NULL);
    mall_batch_addl(&b, 4, "ZADD", key, ms, c->oid);
    order_key(key, sizeof(key), ORDER_KEY_USER_STATUS, c->uid, "unpaid");
    mall_batch_addl(&b, 4, "ZADD", key, ms, c->oid);
    mall_batch_addl(&b, 4, "ZADD", ORDER_KEY_EXPIRY, deadline, c->oid);
    for (i = 0; c->limit && i < c->req.nlines; i++) {
        snprintf(sid, sizeof(sid), "%lld",
                 (long long) c->req.lines[i].sku_id);
        snprintf(q, sizeof(q), "%lld", (long long) c->req.lines[i].quantity);
        mall_batch_addl(&b, 4, "HINCRBY", c->bought, sid, q);
    }
    if (c->coupons.pick.n > 0) {
        create_batch_coupons(&b, c);
    }
    c->nrisk = risk_batch_order(&b, &ctx->conf->risk, &c->risk);
    rc = mall_batch_exec(&b, ctx->redis, 1, exec, err);
    mall_batch_free(&b);
    return rc;
}


/* Where the risk counters start in the EXEC reply. */
static size_t
create_at_risk(const create_t *c)
{
    size_t  n = c->req.nlines;

    return 2 * n + 5 + (c->limit ? n : 0) + (c->coupons.pick.n > 0);
}


/* What the EXEC says: 0 = created, or the first short SKU (> 0), or -1
 * (the key was taken first), -2 (over the purchase limit), -3 (an
 * abnormal order: *hit says which rule). */
static int64_t
create_outcome(mall_ctx_t *ctx, const create_t *c, const redisReply *exec,
    stock_change_t *ch, risk_hit_t *hit)
{
    risk_counters_t    k;
    const redisReply  *set;
    size_t             i, n = c->req.nlines;
    int64_t            verdict = 0;

    for (i = 0; i < n; i++) {
        memset(&ch[i], 0, sizeof(ch[i]));
        ch[i].sku_id = c->req.lines[i].sku_id;
        ch[i].product_id = c->sku[i].product_id;
        ch[i].after = exec->element[2 * i]->integer;
        ch[i].before = ch[i].after + c->req.lines[i].quantity;
        ch[i].threshold = ch[i].before_threshold = c->sku[i].threshold;
        ch[i].on_sale = ch[i].was_on_sale = 1;
        if (ch[i].after < 0 && verdict == 0) {
            verdict = ch[i].sku_id;
        }
    }
    set = exec->element[2 * n + 1];
    if (set->type != REDIS_REPLY_STATUS) {
        return -1;
    }
    for (i = 0; verdict == 0 && c->limit && i < n; i++) {
        if (exec->element[2 * n + 5 + i]->integer
            > ctx->conf->order.purchase_limit)
        {
            verdict = -2;
        }
    }
    if (verdict == 0 && c->nrisk > 0) {
        risk_counters_init(&k, c->risk.now);
        if (risk_order_counts(exec, create_at_risk(c), &c->risk, &k)
            == MALL_OK
            && risk_evaluate(&ctx->conf->risk, &k, hit))
        {
            verdict = -3;
        }
    }
    return verdict;
}


/* 1 when the EXEC reply has the shape create_write asked for. */
static int
create_exec_ok(const create_t *c, const redisReply *exec)
{
    size_t  i, n = c->req.nlines;

    if (exec == NULL || exec->type != REDIS_REPLY_ARRAY
        || exec->elements != create_at_risk(c) + c->nrisk)
    {
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (exec->element[2 * i]->type != REDIS_REPLY_INTEGER) {
            return 0;
        }
    }
    for (i = 0; c->limit && i < n; i++) {
        if (exec->element[2 * n + 5 + i]->type != REDIS_REPLY_INTEGER) {
            return 0;
        }
    }
    return 1;
}


/*
 * Write, then reply from the EXEC's verdict. MALL_OK (replied),
 * MALL_BATCH_ABORTED (the key was taken first, or the buyer's coupon
 * marks moved under the WATCH: start again), MALL_ERR,
 * MALL_RETRY (outcome unknown: the client retries with its key).
 */
int
create_commit(mall_ctx_t *ctx, create_t *c, mall_err_t *err)
{
    const char      *kv[2 * CREATE_FIELDS];
    char             ints[CREATE_INTS][24];
    stock_change_t   ch[ORDER_LINES_MAX];
    risk_hit_t       hit;
    redisReply      *exec;
    int64_t          verdict;
    int              rc;

    c->created_ms = mall_wall_ms();
    if (create_fields(ctx, c, kv, ints) != MALL_OK) {
        return mall_err_set(err, 500, "out of memory");
    }
    rc = create_answer(ctx, c, err);
    if (rc != MALL_OK) {
        return rc;
    }

    rc = create_write(ctx, c, kv, ints[7], &exec, err);
    if (rc != MALL_OK) {
        return rc;
    }
    if (!create_exec_ok(c, exec)) {
        freeReplyObject(exec);
        return mall_err_set(err, 500, "unexpected order EXEC reply");
    }
    verdict = create_outcome(ctx, c, exec, ch, &hit);
    freeReplyObject(exec);

    if (verdict != 0) {
        /* never acknowledged: undo it whole (the key stays the winner's
         * when another request took it first) */
        rc = order_discard(ctx, c->oid, verdict != -1, err);
        if (rc != MALL_OK) {
            return rc;
        }
        if (verdict == -1) {
            return MALL_BATCH_ABORTED;
        }
        if (verdict == -2) {
            return sf_reply_invalid(ctx, "items", "over the purchase limit "
                                    "per customer");
        }
        if (verdict == -3) {
            return create_freeze(ctx, c, &hit, err);
        }
        return order_reply_out_of_stock(ctx, verdict);
    }

    /* acknowledged only once on the replicas (WAIT, when configured);
     * else the order stays, and a retry with the key answers it */
    if (mall_redis_durable(ctx->redis, err) != MALL_OK) {
        return create_reply_unreplicated(ctx, err);
    }
    rc = sf_reply_raw(ctx, 201, c->idem_val.p + c->answer_at,
                      c->idem_val.len - c->answer_at);
    /* after the answer: the SKUs' derived state, if one crossed a line */
    stock_follow_up(ctx, ch, c->req.nlines);
    return rc;
}


