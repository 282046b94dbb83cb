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
#include "coupon_keys.h"
#include "mall_buf.h"
#include "mall_json.h"
#include "mall_log.h"
#include "mall_reply.h"
#include "order_create.h"


static int order_create(mall_ctx_t *ctx);

const mall_route_t  mall_order_create_routes[] = {
    { "POST", "/api/v1/orders", order_create,
      MALL_ROUTE_FROZEN_OWN | MALL_ROUTE_ORDER_CREATE },
    { NULL, NULL, NULL, 0 }
};

/* ---- parse ------------------------------------------------------------ */

/* What the edge says of the client: its device and its risk score (the
 * X-Mall-Risk the edge signed, as the edge check kept it; absent: 0). */
static void
create_parse_risk(mall_ctx_t *ctx, create_t *c)
{
    struct evkeyvalq  *in = evhttp_request_get_input_headers(ctx->req);
    const char        *dev, *risk;
    size_t             i;

    dev = evhttp_find_header(in, "X-Mall-Device");
    if (risk_device_valid(dev)) {
        snprintf(c->device, sizeof(c->device), "%s", dev);
    }
    risk = ctx->ident.risk[0] ? ctx->ident.risk : NULL;
    if (risk_parse_edge(risk, &c->edge_score, c->reasons, sizeof(c->reasons))
        != MALL_OK)
    {
        mall_log_req(MALL_LOG_WARN, "risk", ctx->request_id, c->uid,
                     "malformed X-Mall-Risk ignored");
    }
    for (i = 0; i < c->req.nlines; i++) {
        c->skus[i] = c->req.lines[i].sku_id;
    }
}


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
    if (order_req_parse(body, &ctx->conf->order, 1, &c->req, &field, &err)
        != MALL_OK)
    {
        cJSON_Delete(body);
        sf_reply_invalid(ctx, field, err.msg);
        return MALL_ERR;
    }
    cJSON_Delete(body);
    c->wallet = c->req.coupon != ORDER_COUPON_NONE;
    order_req_digest(&c->req, c->digest);
    order_key(c->idem, sizeof(c->idem), ORDER_KEY_IDEM, c->uid, key);
    order_key(c->bought, sizeof(c->bought), ORDER_KEY_BOUGHT, c->uid, NULL);
    c->limit = ctx->conf->order.purchase_limit > 0;
    create_parse_risk(ctx, c);
    return MALL_OK;
}


/* ---- read ------------------------------------------------------------- */

/* The commands of round trip 1 after the key's record. */
static void
read_batch(create_t *c, mall_batch_t *b)
{
    char         key[ORDER_KEY_MAX], aid[24], sids[ORDER_LINES_MAX][24];
    const char  *argv[ORDER_LINES_MAX + 2];
    size_t       i;

    order_key(key, sizeof(key), "mall:addr:%s", c->uid, NULL);
    snprintf(aid, sizeof(aid), "%lld", (long long) c->req.address_id);
    mall_batch_addl(b, 3, "HGET", key, aid);
    for (i = 0; i < c->req.nlines; i++) {
        snprintf(key, sizeof(key), CATALOG_KEY_SKU_FMT,
                 (long long) c->req.lines[i].sku_id);
        mall_batch_addl(b, 2 + READ_SKU_FIELDS, "HMGET", key, "product_id",
                        "price_fen", "stock", "low_stock_threshold", "attrs",
                        "name", "image", "status", "categories");
    }
    if (c->limit) {
        argv[0] = "HMGET";
        argv[1] = c->bought;
        for (i = 0; i < c->req.nlines; i++) {
            snprintf(sids[i], sizeof(sids[i]), "%lld",
                     (long long) c->req.lines[i].sku_id);
            argv[2 + i] = sids[i];
        }
        mall_batch_add(b, (int) (2 + c->req.nlines), argv);
    }
    if (c->wallet) {
        order_key(key, sizeof(key), COUPON_KEY_WALLET, c->uid, NULL);
        mall_batch_addl(b, 2, "HGETALL", key);
        order_key(key, sizeof(key), COUPON_KEY_USED, c->uid, NULL);
        mall_batch_addl(b, 2, "HGETALL", key);
    }
    if (!c->preview) {
        /* frozen or not, and the account's age (abnormal orders) */
        order_key(key, sizeof(key), "mall:user:%s", c->uid, NULL);
        mall_batch_addl(b, 4, "HMGET", key, "status", "created_at");
    }
}


int
create_read(mall_ctx_t *ctx, create_t *c, mall_err_t *err)
{
    char          used[ORDER_KEY_MAX];
    redisReply   *reps[ORDER_LINES_MAX + 7];
    mall_batch_t  b;
    size_t        first;
    int           rc, watch = c->wallet && !c->preview;

    mall_batch_init(&b);
    if (watch) {
        order_key(used, sizeof(used), COUPON_KEY_USED, c->uid, NULL);
        mall_batch_addl(&b, 2, "WATCH", used);
    }
    if (!c->preview) {
        mall_batch_addl(&b, 2, "GET", c->idem);
    }
    read_batch(c, &b);
    rc = mall_batch_send(&b, ctx->redis, reps, err);
    if (rc == MALL_OK) {
        /* the layout of create.h: the WATCH's reply dropped, no record
         * in a preview */
        first = watch;
        if (watch) {
            freeReplyObject(reps[0]);
        }
        c->read[READ_IDEM] = c->preview ? NULL : reps[first++];
        memcpy(&c->read[READ_ADDR], &reps[first],
               (b.n - first) * sizeof(reps[0]));
        c->nread = 1 + b.n - first;
        c->at_bought = READ_SKU + c->req.nlines;
        c->at_wallet = c->at_bought + (c->limit ? 1 : 0);
        c->at_user = c->at_wallet + (c->wallet ? 2 : 0);
    }
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

        negative |= s->type == REDIS_REPLY_ARRAY
                    && s->elements == READ_SKU_FIELDS
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

    /* the first attempt may have been refused for want of a replica */
    if (mall_redis_durable(ctx->redis, err) != MALL_OK) {
        return create_reply_unreplicated(ctx, err);
    }
    return sf_reply_raw(ctx, 200, answer, v->len - (size_t) (answer - p));
}


/* ---- the handler -------------------------------------------------------- */

/* 1 when the buyer's record (round trip 1) says frozen. */
static int
create_frozen(const create_t *c)
{
    const redisReply  *u = c->read[c->at_user];

    return u->type == REDIS_REPLY_ARRAY && u->elements == 2
           && u->element[0]->type == REDIS_REPLY_STRING
           && strcmp(u->element[0]->str, "frozen") == 0;
}


/* One attempt: read, replay or decide, write. */
static int
create_attempt(mall_ctx_t *ctx, create_t *c, mall_err_t *err)
{
    int  rc;

    rc = create_read(ctx, c, err);
    if (rc != MALL_OK) {
        return rc;
    }
    if (create_frozen(c)) {
        return risk_reply_frozen(ctx);      /* a replay too: writes stop */
    }
    if (c->read[READ_IDEM]->type == REDIS_REPLY_STRING) {
        return create_replay(ctx, c, c->read[READ_IDEM], err);
    }
    if (create_check(ctx, c, err) != MALL_OK
        || create_check_risk(ctx, c, err) != MALL_OK)
    {
        return MALL_ERR;
    }
    return create_commit(ctx, c, err);
}


void
create_reset(create_t *c)
{
    mall_redis_free_replies(c->read, c->nread);
    c->nread = 0;
    c->address = NULL;
    cJSON_free(c->items);
    c->items = NULL;
    cJSON_free(c->coupon_json);
    c->coupon_json = NULL;
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
