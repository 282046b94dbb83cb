/*
 * POST /api/v1/orders: create an order (Idempotency-Key required) in two
 * Redis round trips; docs/orders.md has the data model and the argument.
 *
 *   read    one pipeline: the key's record, every SKU (price, stock, the
 *           product's name, image, status), the address, the purchase
 *           counters when a limit is set. A known key replays the answer
 *           it got the first time (200), or is 409 for another body.
 *   decide  prices from the catalog, never from the client; unknown or
 *           delisted SKU, foreign address, limit: 422; a line wanting more
 *           than is left: 409 OUT_OF_STOCK, nothing written.
 *   write   one MULTI/EXEC: per line HINCRBY stock -q and a COPY of the
 *           SKU as the order's hold record (stock.h), the order hash, SET
 *           of the key NX with the answer, the user's index and status
 *           index, the expiry queue (and the purchase counters).
 *   reply   201 {order_id, status, amounts, created_at, pay_deadline},
 *           built before the write (no read-back).
 *
 * The EXEC reply says whether it worked: a stock below zero means an
 * order racing for the last units got there first; a nil SET means a
 * request with the same key committed first. Either way this order is
 * discarded at once, before anyone is told it exists (409, or the
 * winner's answer), and its units go back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/http.h>

#include "catalog.h"
#include "catalog_keys.h"
#include "mall_buf.h"
#include "mall_json.h"
#include "mall_log.h"
#include "mall_reply.h"
#include "order_request.h"
#include "order_store.h"

#define CREATE_FIELDS      18
#define CREATE_INTS        10

static int order_create(mall_ctx_t *ctx);

const mall_route_t  mall_order_create_routes[] = {
    { "POST", "/api/v1/orders", order_create, 0 },
    { NULL, NULL, NULL, 0 }
};

/* What one line needs beyond order_line_t (strings point into c->read). */
typedef struct {
    int64_t      product_id;
    int64_t      stock;
    int64_t      threshold;
    const char  *attrs;
    const char  *name;
    const char  *image;
} create_sku_t;

typedef struct {
    char              uid[SF_UID_MAX];
    char              idem[ORDER_KEY_MAX];
    char              bought[ORDER_KEY_MAX];
    char              digest[ORDER_DIGEST_HEX];
    char              oid[ORDER_ID_MAX];
    order_req_t       req;
    create_sku_t      sku[ORDER_LINES_MAX];
    order_amounts_t   amounts;
    int64_t           created_ms;
    int               limit;            /* purchase limit in force */
    redisReply       *read[ORDER_LINES_MAX + 3];
    size_t            nread;
    const char       *address;          /* sealed record, in c->read */
    char             *items;            /* items JSON (cJSON_free) */
    mall_buf_t        idem_val;         /* "v1 digest oid answer" */
    size_t            answer_at;        /* where the answer starts in it */
} create_t;

/* read replies: key record, address, SKUs, [purchase counters] */
#define READ_IDEM   0
#define READ_ADDR   1
#define READ_SKU    2


/* ---- parse ------------------------------------------------------------ */

/* The request: user, key, body. MALL_OK, or MALL_ERR once replied. */
static int
create_parse(mall_ctx_t *ctx, create_t *c)
{
    const char  *key, *field;
    cJSON       *body;
    mall_err_t   err;

    if (sf_require_user(ctx, c->uid) != MALL_OK) {
        return MALL_ERR;
    }
    key = evhttp_find_header(evhttp_request_get_input_headers(ctx->req),
                             "Idempotency-Key");
    if (!order_idem_key_valid(key)) {
        mall_reply_error(ctx, 400, "VALIDATION_FAILED", "the Idempotency-Key "
                         "header is required: 1..64 characters of "
                         "[A-Za-z0-9_-]");
        return MALL_ERR;
    }
    if (sf_body(ctx, &body) != MALL_OK) {
        return MALL_ERR;
    }
    err.code = 0;
    err.msg[0] = '\0';
    if (order_req_parse(body, &ctx->conf->order, &c->req, &field, &err)
        != MALL_OK)
    {
        cJSON_Delete(body);
        sf_reply_invalid(ctx, field, err.msg);
        return MALL_ERR;
    }
    cJSON_Delete(body);
    if (c->req.coupon == ORDER_COUPON_IDS) {
        /* no coupon exists yet, so no listed id can be valid */
        mall_reply_error(ctx, 422, "COUPON_INVALID", "no such coupon");
        return MALL_ERR;
    }
    order_req_digest(&c->req, c->digest);
    order_key(c->idem, sizeof(c->idem), ORDER_KEY_IDEM, c->uid, key);
    order_key(c->bought, sizeof(c->bought), ORDER_KEY_BOUGHT, c->uid, NULL);
    c->limit = ctx->conf->order.purchase_limit > 0;
    return MALL_OK;
}


/* ---- read ------------------------------------------------------------- */

/* Round trip 1: everything the decision needs, in one pipeline. */
static int
create_read(mall_ctx_t *ctx, create_t *c, mall_err_t *err)
{
    char          key[ORDER_KEY_MAX], aid[24], sids[ORDER_LINES_MAX][24];
    const char   *argv[ORDER_LINES_MAX + 2];
    mall_batch_t  b;
    size_t        i;
    int           rc;

    mall_batch_init(&b);
    mall_batch_addl(&b, 2, "GET", c->idem);
    order_key(key, sizeof(key), "mall:addr:%s", c->uid, NULL);
    snprintf(aid, sizeof(aid), "%lld", (long long) c->req.address_id);
    mall_batch_addl(&b, 3, "HGET", key, aid);
    for (i = 0; i < c->req.nlines; i++) {
        snprintf(key, sizeof(key), CATALOG_KEY_SKU_FMT,
                 (long long) c->req.lines[i].sku_id);
        mall_batch_addl(&b, 10, "HMGET", key, "product_id", "price_fen",
                        "stock", "low_stock_threshold", "attrs", "name",
                        "image", "status");
    }
    if (c->limit) {
        argv[0] = "HMGET";
        argv[1] = c->bought;
        for (i = 0; i < c->req.nlines; i++) {
            snprintf(sids[i], sizeof(sids[i]), "%lld",
                     (long long) c->req.lines[i].sku_id);
            argv[2 + i] = sids[i];
        }
        mall_batch_add(&b, (int) (2 + c->req.nlines), argv);
    }
    c->nread = b.n;
    rc = mall_batch_send(&b, ctx->redis, c->read, err);
    mall_batch_free(&b);
    return rc;
}


/* ---- replay ----------------------------------------------------------- */

/*
 * The key was used before: "v1 {digest} {oid} {answer}". Another
 * body is 409. The same body gets the first answer again, unless that
 * order lost the race for its last units and its creator died before
 * undoing it (a SKU is below zero and the order's hold says it was short):
 * then it is discarded now and this request starts afresh.
 * MALL_OK (replied), MALL_BATCH_ABORTED (start afresh), MALL_ERR,
 * MALL_RETRY.
 */
static int
create_replay(mall_ctx_t *ctx, create_t *c, const redisReply *v,
    mall_err_t *err)
{
    char                oid[ORDER_ID_MAX];
    const char         *p, *answer;
    order_head_t        h;
    int64_t             short_sku;
    size_t              i;
    int                 rc, negative;

    p = v->str;
    if (v->len < 3 + ORDER_DIGEST_HEX + ORDER_ID_LEN
        || strncmp(p, ORDER_IDEM_VERSION " ", 3) != 0
        || p[3 + ORDER_DIGEST_HEX - 1] != ' '
        || p[3 + ORDER_DIGEST_HEX + ORDER_ID_LEN] != ' ')
    {
        return mall_err_set(err, 500, "bad idempotency record");
    }
    if (memcmp(p + 3, c->digest, ORDER_DIGEST_HEX - 1) != 0) {
        return mall_reply_error(ctx, 409, "CONFLICT", "this Idempotency-Key "
                                "was used with a different request body");
    }
    memcpy(oid, p + 3 + ORDER_DIGEST_HEX, ORDER_ID_LEN);
    oid[ORDER_ID_LEN] = '\0';
    answer = p + 3 + ORDER_DIGEST_HEX + ORDER_ID_LEN + 1;

    negative = 0;
    for (i = 0; i < c->req.nlines; i++) {
        const redisReply  *s = c->read[READ_SKU + i];

        negative |= s->type == REDIS_REPLY_ARRAY && s->elements == 8
                    && order_reply_int(s->element[2], 0) < 0;
    }
    if (negative) {
        rc = order_load_head(ctx, oid, 0, &h, err);
        if (rc == MALL_OK && h.status == ORDER_ST_UNPAID) {
            rc = order_holds_short(ctx, &h, &short_sku, err);
            if (rc == MALL_OK && short_sku != 0) {
                rc = order_discard(ctx, oid, 1, err);
                return rc == MALL_OK ? MALL_BATCH_ABORTED : rc;
            }
        }
        if (rc != MALL_OK) {
            return rc;
        }
    }

    return sf_reply_raw(ctx, 200, answer, v->len - (size_t) (answer - p));
}


/* ---- decide ----------------------------------------------------------- */

/* SKUs: they exist, are on sale; their price (the catalog's). MALL_OK,
 * or MALL_ERR once replied. */
static int
create_check_skus(mall_ctx_t *ctx, create_t *c)
{
    const redisReply  *s;
    create_sku_t      *k;
    char               msg[96];
    size_t             i;

    for (i = 0; i < c->req.nlines; i++) {
        s = c->read[READ_SKU + i];
        k = &c->sku[i];
        if (s->type != REDIS_REPLY_ARRAY || s->elements != 8
            || catalog_reply_int(s->element[0], &k->product_id) != MALL_OK
            || s->element[1]->type != REDIS_REPLY_STRING)
        {
            snprintf(msg, sizeof(msg), "sku %lld does not exist",
                     (long long) c->req.lines[i].sku_id);
            sf_reply_invalid(ctx, "items", msg);
            return MALL_ERR;
        }
        if (s->element[7]->type == REDIS_REPLY_STRING
            && strcmp(s->element[7]->str, "on_sale") != 0)
        {
            snprintf(msg, sizeof(msg), "sku %lld is not on sale",
                     (long long) c->req.lines[i].sku_id);
            sf_reply_invalid(ctx, "items", msg);
            return MALL_ERR;
        }
        c->req.lines[i].price_fen = order_reply_int(s->element[1], -1);
        k->stock = order_reply_int(s->element[2], 0);
        k->threshold = order_reply_int(s->element[3], -1);
        k->attrs = s->element[4]->type == REDIS_REPLY_STRING
                   ? s->element[4]->str : NULL;
        k->name = s->element[5]->type == REDIS_REPLY_STRING
                  ? s->element[5]->str : "";
        k->image = s->element[6]->type == REDIS_REPLY_STRING
                   ? s->element[6]->str : "";
    }
    return MALL_OK;
}


/*
 * The shipping address: the caller's address-book record, copied sealed
 * as it is (AES-256-GCM under the book's AAD mall:addr:{uid}:{aid}, which
 * the order's user_id and address_id rebuild). Its presence in the
 * caller's own book is the ownership check. MALL_OK, or MALL_ERR once
 * replied (422).
 */
static int
create_address(mall_ctx_t *ctx, create_t *c)
{
    const redisReply  *rec = c->read[READ_ADDR];

    if (rec->type != REDIS_REPLY_STRING || rec->len == 0) {
        sf_reply_invalid(ctx, "address_id", "no such address of yours");
        return MALL_ERR;
    }
    c->address = rec->str;
    return MALL_OK;
}


/* The purchase limit: units held in open orders plus these. MALL_OK, or
 * MALL_ERR once replied. */
static int
create_check_limit(mall_ctx_t *ctx, create_t *c)
{
    const redisReply  *bought = c->read[c->nread - 1];
    int64_t            have;
    char               msg[128];
    size_t             i;
    int                limit = ctx->conf->order.purchase_limit;

    for (i = 0; c->limit && i < c->req.nlines; i++) {
        have = bought->type == REDIS_REPLY_ARRAY && i < bought->elements
               ? order_reply_int(bought->element[i], 0) : 0;
        if (have + c->req.lines[i].quantity > limit) {
            snprintf(msg, sizeof(msg), "at most %d of sku %lld per customer "
                     "(you have %lld in open orders)", limit,
                     (long long) c->req.lines[i].sku_id, (long long) have);
            sf_reply_invalid(ctx, "items", msg);
            return MALL_ERR;
        }
    }
    return MALL_OK;
}


/*
 * The decision from round trip 1. MALL_OK to write; MALL_ERR once a
 * reply is sent (or for an internal error: err).
 */
static int
create_check(mall_ctx_t *ctx, create_t *c, mall_err_t *err)
{
    size_t  i;

    if (create_check_skus(ctx, c) != MALL_OK) {
        return MALL_ERR;
    }
    if (order_new_id(c->oid) != MALL_OK) {
        return mall_err_set(err, 500, "no randomness for the order id");
    }
    if (create_address(ctx, c) != MALL_OK) {
        return MALL_ERR;
    }
    /* fast fail: nothing is written for an order that cannot be served */
    for (i = 0; i < c->req.nlines; i++) {
        if (c->sku[i].stock < c->req.lines[i].quantity) {
            order_reply_out_of_stock(ctx, c->req.lines[i].sku_id);
            return MALL_ERR;
        }
    }
    if (create_check_limit(ctx, c) != MALL_OK) {
        return MALL_ERR;
    }
    /* coupons do not exist yet: "auto" finds none */
    if (order_price(c->req.lines, c->req.nlines, &ctx->conf->order, 0,
                    &c->amounts, err) != MALL_OK)
    {
        if (err->code == 422) {
            sf_reply_invalid(ctx, "items", err->msg);
        }
        return MALL_ERR;
    }
    return MALL_OK;
}


/* ---- the record and the answer ----------------------------------------- */

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
    CREATE_KV("coupon", c->req.coupon == ORDER_COUPON_AUTO ? "\"auto\""
                                                           : "null");
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
                    "\"created_at\":%lld,\"pay_deadline\":%lld}", c->oid,
                    (long long) c->amounts.items_fen,
                    (long long) c->amounts.shipping_fen,
                    (long long) c->amounts.discount_fen,
                    (long long) c->amounts.total_fen, (long long) now,
                    (long long) (now + ctx->conf->order.pay_timeout));
    return b->oom ? mall_err_set(err, 500, "out of memory") : MALL_OK;
}


/* ---- write ------------------------------------------------------------ */

/*
 * Round trip 2: the MULTI/EXEC. The EXEC reply: per line the HINCRBY
 * (stock after) and the COPY, then HSET, SET NX, three ZADDs and, with a
 * limit, the purchase counters.
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
    rc = mall_batch_exec(&b, ctx->redis, 1, exec, err);
    mall_batch_free(&b);
    return rc;
}


/* What the EXEC says: 0 = created, or the first short SKU (> 0), or -1
 * (the key was taken first), -2 (over the purchase limit). */
static int64_t
create_outcome(mall_ctx_t *ctx, const create_t *c, const redisReply *exec,
    stock_change_t *ch)
{
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
    return verdict;
}


/* 1 when the EXEC reply has the shape create_write asked for. */
static int
create_exec_ok(const create_t *c, const redisReply *exec)
{
    size_t  i, n = c->req.nlines;

    if (exec == NULL || exec->type != REDIS_REPLY_ARRAY
        || exec->elements != 2 * n + 5 + (c->limit ? n : 0))
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
 * MALL_BATCH_ABORTED (the key was taken first: replay it), MALL_ERR,
 * MALL_RETRY (outcome unknown: the client retries with its key).
 */
static int
create_commit(mall_ctx_t *ctx, create_t *c, mall_err_t *err)
{
    const char      *kv[2 * CREATE_FIELDS];
    char             ints[CREATE_INTS][24];
    stock_change_t   ch[ORDER_LINES_MAX];
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
    verdict = create_outcome(ctx, c, exec, ch);
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
        return order_reply_out_of_stock(ctx, verdict);
    }

    rc = sf_reply_raw(ctx, 201, c->idem_val.p + c->answer_at,
                      c->idem_val.len - c->answer_at);
    /* after the answer: the SKUs' derived state, if one crossed a line */
    stock_follow_up(ctx, ch, c->req.nlines);
    return rc;
}


/* ---- the handler -------------------------------------------------------- */

/* One attempt: read, replay or decide, write. */
static int
create_attempt(mall_ctx_t *ctx, create_t *c, mall_err_t *err)
{
    int  rc;

    rc = create_read(ctx, c, err);
    if (rc != MALL_OK) {
        return rc;
    }
    if (c->read[READ_IDEM]->type == REDIS_REPLY_STRING) {
        return create_replay(ctx, c, c->read[READ_IDEM], err);
    }
    if (create_check(ctx, c, err) != MALL_OK) {
        return MALL_ERR;
    }
    return create_commit(ctx, c, err);
}


/* Releases one attempt's buffers (the request is kept for a retry). */
static void
create_reset(create_t *c)
{
    mall_redis_free_replies(c->read, c->nread);
    c->nread = 0;
    c->address = NULL;
    cJSON_free(c->items);
    c->items = NULL;
    mall_buf_free(&c->idem_val);
}


static int
order_create(mall_ctx_t *ctx)
{
    create_t    *c;
    mall_err_t   err;
    int          rc, tries;

    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return MALL_ERR;
    }
    rc = MALL_OK;
    if (create_parse(ctx, c) != MALL_OK) {
        goto done;
    }
    err.code = 0;
    err.msg[0] = '\0';
    rc = MALL_BATCH_ABORTED;
    for (tries = 0; tries < 3 && rc == MALL_BATCH_ABORTED; tries++) {
        rc = create_attempt(ctx, c, &err);
        create_reset(c);
    }
    if (rc == MALL_BATCH_ABORTED) {
        rc = mall_reply_error(ctx, 409, "CONFLICT", "the request raced with "
                              "another one using the same Idempotency-Key; "
                              "retry");
    } else if (rc != MALL_OK) {
        rc = sf_fail(ctx, rc, "order create", &err);
    }

done:
    create_reset(c);
    free(c);
    return rc;
}
