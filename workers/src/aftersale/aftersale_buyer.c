/*
 * The buyer's after-sale routes (see aftersale.h):
 *
 *   POST /api/v1/orders/{id}/refund {"reason", "type"?: "refund_only" |
 *        "return", "amount_fen"?, "items"?: [{"sku_id","quantity"}],
 *        "images"?: [urls]}: a request on a paid, shipped or received
 *        order (a completed one is past the after-sales window): 201 the
 *        after-sale. Without amount_fen: all that is left, or with items,
 *        their share of what was paid for the goods.
 *   POST /api/v1/orders/{id}/refund/return {"carrier","tracking_no"}:
 *        the goods are on their way back (an approved return)
 *   POST /api/v1/orders/{id}/refund/withdraw: the buyer gives up
 *   GET  /api/v1/orders/{id}/after-sale: the order's current after-sale
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aftersale.h"
#include "mall_json.h"
#include "mall_reply.h"
#include "merchant.h"
#include "order_request.h"
#include "refund.h"

#define AS_IMAGES_MAX   9
#define AS_URL_MAX      512
#define AS_ILLEGAL      (ORDER_PLAN_NONE + 20)
#define AS_TOO_MUCH     (ORDER_PLAN_NONE + 21)
#define AS_BAD_ITEMS    (ORDER_PLAN_NONE + 22)
#define AS_NOT_SHIPPED  (ORDER_PLAN_NONE + 23)

static int as_request(mall_ctx_t *ctx);
static int as_return(mall_ctx_t *ctx);
static int as_withdraw(mall_ctx_t *ctx);
static int as_get(mall_ctx_t *ctx);

const mall_route_t  mall_aftersale_buyer_routes[] = {
    { "POST", "/api/v1/orders/{id}/refund", as_request, 0 },
    { "POST", "/api/v1/orders/{id}/refund/return", as_return, 0 },
    { "POST", "/api/v1/orders/{id}/refund/withdraw", as_withdraw, 0 },
    { "GET", "/api/v1/orders/{id}/after-sale", as_get, 0 },
    { NULL, NULL, NULL, 0 }
};

typedef struct {
    char               uid[SF_UID_MAX];
    char               reason[REFUND_REASON_BYTES];
    int                ret;                 /* type "return" */
    int64_t            amount;              /* 0: the most allowed */
    order_item_ref_t   items[ORDER_LINES_MAX];
    size_t             nitems;
    char              *items_json, *images_json;
    /* the order, read before: prices of its lines, goods and shipping */
    int64_t            goods_fen, items_fen, shipping_fen;
    int64_t            id;
    int64_t            max;                 /* for AS_TOO_MUCH */
    order_status_e     cur;
} request_t;


/* ---- the request body ----------------------------------------------------- */

static int
body_items(const cJSON *v, request_t *q)
{
    const cJSON  *it;
    int64_t       sku, n;

    if (v == NULL || cJSON_IsNull(v)) {
        return MALL_OK;
    }
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) < 1
        || cJSON_GetArraySize(v) > ORDER_LINES_MAX)
    {
        return MALL_ERR;
    }
    cJSON_ArrayForEach(it, v) {
        if (mall_json_get_int(cJSON_GetObjectItemCaseSensitive(it, "sku_id"),
                              1, INT64_C(1) << 53, &sku) != MALL_OK
            || mall_json_get_int(cJSON_GetObjectItemCaseSensitive(it,
                                     "quantity"), 1, 10000, &n) != MALL_OK)
        {
            return MALL_ERR;
        }
        q->items[q->nitems].sku_id = sku;
        q->items[q->nitems].quantity = n;
        q->nitems++;
    }
    q->items_json = cJSON_PrintUnformatted(v);
    return q->items_json != NULL ? MALL_OK : MALL_ERR;
}


static int
body_images(const cJSON *v, request_t *q)
{
    const cJSON  *it;

    if (v == NULL || cJSON_IsNull(v)) {
        cJSON  *none = cJSON_CreateArray();

        q->images_json = none != NULL ? cJSON_PrintUnformatted(none) : NULL;
        cJSON_Delete(none);
        return MALL_OK;
    }
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) > AS_IMAGES_MAX) {
        return MALL_ERR;
    }
    cJSON_ArrayForEach(it, v) {
        if (!cJSON_IsString(it) || strlen(it->valuestring) > AS_URL_MAX
            || strncmp(it->valuestring, "https://", 8) != 0
            || order_utf8_chars(it->valuestring) < 0)
        {
            return MALL_ERR;
        }
    }
    q->images_json = cJSON_PrintUnformatted(v);
    return MALL_OK;
}


/* MALL_OK, or MALL_ERR once replied (422 naming the field). */
static int
request_body(mall_ctx_t *ctx, request_t *q)
{
    const cJSON  *v;
    cJSON        *body;
    const char   *field = NULL, *msg = NULL;
    long          chars;

    if (sf_body(ctx, &body) != MALL_OK) {
        return MALL_ERR;
    }
    v = cJSON_GetObjectItemCaseSensitive(body, "reason");
    chars = cJSON_IsString(v) ? order_utf8_chars(v->valuestring) : -1;
    if (chars < 1 || chars > REFUND_REASON_CHARS) {
        field = "reason";
        msg = "reason must be 1..80 characters";
        goto bad;
    }
    memcpy(q->reason, v->valuestring, strlen(v->valuestring) + 1);
    v = cJSON_GetObjectItemCaseSensitive(body, "type");
    if (v != NULL && !(cJSON_IsString(v)
                       && (strcmp(v->valuestring, "refund_only") == 0
                           || strcmp(v->valuestring, "return") == 0)))
    {
        field = "type";
        msg = "type must be \"refund_only\" or \"return\"";
        goto bad;
    }
    q->ret = v != NULL && strcmp(v->valuestring, "return") == 0;
    v = cJSON_GetObjectItemCaseSensitive(body, "amount_fen");
    if (v != NULL && !cJSON_IsNull(v)
        && mall_json_get_int(v, 1, ORDER_PRICE_MAX, &q->amount) != MALL_OK)
    {
        field = "amount_fen";
        msg = "amount_fen must be a positive amount in fen";
        goto bad;
    }
    if (body_items(cJSON_GetObjectItemCaseSensitive(body, "items"), q)
        != MALL_OK)
    {
        field = "items";
        msg = "items must be 1..50 of {\"sku_id\", \"quantity\"}";
        goto bad;
    }
    if (body_images(cJSON_GetObjectItemCaseSensitive(body, "images"), q)
        != MALL_OK || q->images_json == NULL)
    {
        field = "images";
        msg = "images must be at most 9 https URLs";
        goto bad;
    }
    cJSON_Delete(body);
    return MALL_OK;

bad:
    cJSON_Delete(body);
    sf_reply_invalid(ctx, field, msg);
    return MALL_ERR;
}


/* ---- the request ------------------------------------------------------------ */

/*
 * The goods' share of what was paid for the listed items: their value at
 * the order's prices times (paid - shipping) / goods. MALL_OK, or
 * AS_BAD_ITEMS when an item is not in the order or over its quantity.
 */
static int
items_share(const request_t *q, const char *items, size_t len,
    int64_t paid, int64_t *share)
{
    cJSON         *arr = cJSON_ParseWithLength(items, len);
    const cJSON   *it;
    int64_t        value = 0, sku, n, price;
    size_t         i;
    int            found;

    for (i = 0; i < q->nitems; i++) {
        found = 0;
        cJSON_ArrayForEach(it, arr) {
            if (mall_json_get_int(cJSON_GetObjectItemCaseSensitive(it,
                                      "sku_id"), 1, INT64_MAX / 2, &sku)
                == MALL_OK && sku == q->items[i].sku_id
                && mall_json_get_int(cJSON_GetObjectItemCaseSensitive(it,
                                         "quantity"), 1, INT64_MAX / 2, &n)
                   == MALL_OK
                && mall_json_get_int(cJSON_GetObjectItemCaseSensitive(it,
                                         "price_fen"), 0, ORDER_PRICE_MAX,
                                     &price) == MALL_OK
                && q->items[i].quantity <= n)
            {
                value += price * q->items[i].quantity;
                found = 1;
            }
        }
        if (!found) {
            cJSON_Delete(arr);
            return AS_BAD_ITEMS;
        }
    }
    cJSON_Delete(arr);
    *share = q->items_fen > 0
             ? value * (paid - q->shipping_fen) / q->items_fen : 0;
    return MALL_OK;
}


/* The prices of the order's lines (fixed at creation: read unwatched). */
static int
request_read(mall_ctx_t *ctx, const char *oid, request_t *q, char **items,
    size_t *len, mall_err_t *err)
{
    char          key[ORDER_KEY_MAX];
    redisReply   *r;
    int           rc;

    order_key(key, sizeof(key), ORDER_KEY_ORDER, oid, NULL);
    rc = mall_cmd(ctx->redis, &r, err, 5, "HMGET", key, "items",
                  "items_fen", "shipping_fen");
    if (rc != MALL_OK) {
        return rc;
    }
    *items = NULL;
    if (r->element[0]->type == REDIS_REPLY_STRING) {
        *len = r->element[0]->len;
        *items = malloc(*len + 1);
        if (*items != NULL) {
            memcpy(*items, r->element[0]->str, *len + 1);
        }
    }
    q->items_fen = order_reply_int(r->element[1], 0);
    q->shipping_fen = order_reply_int(r->element[2], 0);
    freeReplyObject(r);
    return MALL_OK;
}


typedef struct {
    request_t   *q;
    const char  *items;
    size_t       items_len;
} request_arg_t;


static int
request_plan(mall_ctx_t *ctx, const order_head_t *h, mall_batch_t *b,
    void *arg)
{
    request_arg_t   *ra = arg;
    request_t       *q = ra->q;
    aftersale_t      a;
    order_status_e   to;
    char             key[64], sid[24], fen[24], now[24];
    int64_t          left, max;
    int              rc;

    (void) ctx;
    q->cur = h->status;
    if (h->status == ORDER_ST_NONE || strcmp(h->uid, q->uid) != 0) {
        return ORDER_NOT_FOUND;
    }
    to = order_state_next(h->status, ORDER_EV_REFUND_REQUEST,
                          ORDER_ACTOR_USER, h->refund_from);
    if (to == ORDER_ST_NONE || h->transaction_id[0] == '\0' || h->pay_late) {
        return ORDER_ILLEGAL;
    }
    if (q->ret && h->status == ORDER_ST_PAID) {
        return AS_NOT_SHIPPED;              /* its refund gives stock back */
    }
    left = h->pay_total - h->refund_reserved;
    max = left;
    if (q->nitems > 0) {
        rc = items_share(q, ra->items, ra->items_len, h->pay_total, &max);
        if (rc != MALL_OK) {
            return rc;
        }
        max = max < left ? max : left;
    }
    q->max = max;
    if (max <= 0 || q->amount > max) {
        return AS_TOO_MUCH;
    }

    snprintf(sid, sizeof(sid), "%lld", (long long) q->id);
    snprintf(key, sizeof(key), AS_KEY, sid);
    snprintf(fen, sizeof(fen), "%lld",
             (long long) (q->amount > 0 ? q->amount : max));
    snprintf(now, sizeof(now), "%lld", (long long) time(NULL));
    mall_batch_addl(b, 22, "HSET", key, "id", sid, "order_id", h->id,
                    "user_id", h->uid, "type",
                    q->ret ? "return" : "refund_only", "reason", q->reason,
                    "amount_fen", fen, "items",
                    q->items_json != NULL ? q->items_json : "[]",
                    "images", q->images_json, "created_at", now,
                    "updated_at", now);
    mall_batch_addl(b, 4, "ZADD", AS_KEY_ALL, sid, sid);
    memset(&a, 0, sizeof(a));
    a.id = q->id;
    snprintf(a.oid, sizeof(a.oid), "%s", h->id);
    aftersale_batch_status(b, &a, "requested", NULL, 0);
    order_batch_transition(b, h, to, ORDER_EV_REFUND_REQUEST,
                           ORDER_ACTOR_USER, h->uid);
    return MALL_OK;
}


static int
as_request(mall_ctx_t *ctx)
{
    const char     *oid;
    request_t       q;
    request_arg_t   ra;
    order_head_t    h;
    mall_err_t      err;
    char            msg[96], *items = NULL;
    size_t          len = 0;
    int             rc;

    memset(&q, 0, sizeof(q));
    if (order_route_oid(ctx, q.uid, &oid) != MALL_OK
        || request_body(ctx, &q) != MALL_OK)
    {
        rc = MALL_OK;
        goto done;
    }
    err.code = 0;
    err.msg[0] = '\0';
    rc = request_read(ctx, oid, &q, &items, &len, &err);
    if (rc == MALL_OK) {
        rc = merch_next_id(ctx, AS_SEQ, &q.id, &err);
    }
    if (rc == MALL_OK) {
        ra.q = &q;
        ra.items = items != NULL ? items : "[]";
        ra.items_len = items != NULL ? len : 2;
        rc = order_update(ctx, oid, request_plan, &ra, &h, NULL, &err);
    }
    switch (rc) {
    case MALL_OK:
        rc = aftersale_reply(ctx, 201, q.id);
        break;
    case ORDER_NOT_FOUND:
        rc = mall_reply_error(ctx, 404, "NOT_FOUND", "no such order");
        break;
    case ORDER_ILLEGAL:
        rc = order_reply_conflict(ctx, q.cur, "a refund can be asked for a "
                                  "paid, shipped or received order, once "
                                  "at a time");
        break;
    case AS_BAD_ITEMS:
        rc = sf_reply_invalid(ctx, "items", "an item is not in the order, "
                              "or more than was bought");
        break;
    case AS_NOT_SHIPPED:
        rc = sf_reply_invalid(ctx, "type", "nothing has shipped yet: ask "
                              "for refund_only");
        break;
    case AS_TOO_MUCH:
        snprintf(msg, sizeof(msg), "amount_fen must be at most %lld",
                 (long long) q.max);
        rc = q.max <= 0 ? order_reply_conflict(ctx, q.cur, "nothing is left "
                                               "to refund")
                        : sf_reply_invalid(ctx, "amount_fen", msg);
        break;
    default:
        rc = sf_fail(ctx, rc == MALL_BATCH_ABORTED ? MALL_RETRY : rc,
                     "refund request", &err);
    }

done:
    free(items);
    cJSON_free(q.items_json);
    cJSON_free(q.images_json);
    return rc;
}


/* ---- return, withdraw, read ------------------------------------------------- */

typedef struct {
    const char    *uid;
    int            withdraw;
    const char    *carrier, *tracking;
    aftersale_t    a;
    order_status_e cur;
    mall_err_t    *err;
} buyer_step_t;


static int
buyer_plan(mall_ctx_t *ctx, const order_head_t *h, mall_batch_t *b,
    void *arg)
{
    buyer_step_t    *s = arg;
    order_status_e   to;
    const char      *extra[4];
    redisReply      *r;
    char             key[ORDER_KEY_MAX];
    int              rc;

    s->cur = h->status;
    if (h->status == ORDER_ST_NONE || strcmp(h->uid, s->uid) != 0) {
        return ORDER_NOT_FOUND;
    }
    order_key(key, sizeof(key), ORDER_KEY_ORDER, h->id, NULL);
    rc = mall_cmd(ctx->redis, &r, s->err, 3, "HGET", key, "aftersale_id");
    if (rc != MALL_OK) {
        return rc;
    }
    rc = aftersale_load(ctx, order_reply_int(r, 0), &s->a, s->err);
    freeReplyObject(r);
    if (rc != MALL_OK) {
        return rc;
    }
    if (s->withdraw) {
        to = order_state_next(h->status, ORDER_EV_REFUND_WITHDRAW,
                              ORDER_ACTOR_USER, h->refund_from);
        if (to == ORDER_ST_NONE || (strcmp(s->a.status, "requested") != 0
                                    && strcmp(s->a.status,
                                              "awaiting_return") != 0))
        {
            return AS_ILLEGAL;
        }
        aftersale_batch_status(b, &s->a, "withdrawn", NULL, 0);
        order_batch_transition(b, h, to, ORDER_EV_REFUND_WITHDRAW,
                               ORDER_ACTOR_USER, h->uid);
        return MALL_OK;
    }
    if (strcmp(s->a.status, "awaiting_return") != 0) {
        return AS_ILLEGAL;
    }
    extra[0] = "return_carrier";
    extra[1] = s->carrier;
    extra[2] = "return_tracking_no";
    extra[3] = s->tracking;
    aftersale_batch_status(b, &s->a, "returning", extra, 2);
    return MALL_OK;
}


static int
buyer_step(mall_ctx_t *ctx, buyer_step_t *s, const char *oid)
{
    order_head_t  h;
    mall_err_t    err;
    int           rc;

    err.code = 0;
    err.msg[0] = '\0';
    s->err = &err;
    rc = order_update(ctx, oid, buyer_plan, s, &h, NULL, &err);
    switch (rc) {
    case MALL_OK:
        return aftersale_reply(ctx, 200, s->a.id);
    case ORDER_NOT_FOUND:
        return mall_reply_error(ctx, 404, "NOT_FOUND", "no such order");
    case AS_ILLEGAL:
        return mall_reply_error(ctx, 409, "CONFLICT", s->a.id == 0
                                ? "the order has no after-sale"
                                : "the after-sale is %s", s->a.status);
    default:
        return sf_fail(ctx, rc == MALL_BATCH_ABORTED ? MALL_RETRY : rc,
                       "after-sale", &err);
    }
}


static int
as_return(mall_ctx_t *ctx)
{
    char          uid[SF_UID_MAX], carrier[64], tracking[64];
    const char   *oid;
    buyer_step_t  s;
    cJSON        *body;
    mall_err_t    err;
    int           rc;

    if (order_route_oid(ctx, uid, &oid) != MALL_OK
        || sf_body(ctx, &body) != MALL_OK)
    {
        return MALL_OK;
    }
    rc = merch_body_text(body, "carrier", carrier, sizeof(carrier), 1, &err);
    if (rc == MALL_OK) {
        rc = merch_body_text(body, "tracking_no", tracking, sizeof(tracking),
                             1, &err);
    }
    cJSON_Delete(body);
    if (rc != MALL_OK) {
        return sf_reply_invalid(ctx, "tracking_no", err.msg);
    }
    memset(&s, 0, sizeof(s));
    s.uid = uid;
    s.carrier = carrier;
    s.tracking = tracking;
    return buyer_step(ctx, &s, oid);
}


static int
as_withdraw(mall_ctx_t *ctx)
{
    char          uid[SF_UID_MAX];
    const char   *oid;
    buyer_step_t  s;

    if (order_route_oid(ctx, uid, &oid) != MALL_OK) {
        return MALL_OK;
    }
    memset(&s, 0, sizeof(s));
    s.uid = uid;
    s.withdraw = 1;
    return buyer_step(ctx, &s, oid);
}


static int
as_get(mall_ctx_t *ctx)
{
    char          uid[SF_UID_MAX], key[ORDER_KEY_MAX];
    const char   *oid;
    redisReply   *r;
    mall_err_t    err;
    int64_t       id;
    int           rc;

    if (order_route_oid(ctx, uid, &oid) != MALL_OK) {
        return MALL_OK;
    }
    order_key(key, sizeof(key), ORDER_KEY_ORDER, oid, NULL);
    rc = mall_cmd(ctx->redis, &r, &err, 4, "HMGET", key, "user_id",
                  "aftersale_id");
    if (rc != MALL_OK) {
        return sf_fail(ctx, rc, "after-sale", &err);
    }
    id = r->element[0]->type == REDIS_REPLY_STRING
         && strcmp(r->element[0]->str, uid) == 0
         ? order_reply_int(r->element[1], 0) : 0;
    freeReplyObject(r);
    if (id == 0) {
        return mall_reply_error(ctx, 404, "NOT_FOUND", "no after-sale for "
                                "this order");
    }
    return aftersale_reply(ctx, 200, id);
}
