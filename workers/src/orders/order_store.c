/*
 * Orders in Redis (see order_store.h; the data model is order_keys.h and
 * the atomicity argument docs/orders.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "catalog.h"
#include "catalog_keys.h"
#include "mall_crypto.h"
#include "mall_json.h"
#include "mall_log.h"
#include "mall_query.h"
#include "mall_reply.h"
#include "order_store.h"

static const char  order_alphabet[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";


int
order_id_valid(const char *s)
{
    size_t  i;

    if (s == NULL || strlen(s) != ORDER_ID_LEN) {
        return 0;
    }
    for (i = 0; i < ORDER_ID_LEN; i++) {
        if (strchr(order_alphabet, s[i]) == NULL) {
            return 0;
        }
    }
    return 1;
}


int
order_new_id(char out[ORDER_ID_MAX])
{
    unsigned char  rnd[64];
    struct tm      tm;
    time_t         now;
    size_t         i, n;

    now = time(NULL);
    gmtime_r(&now, &tm);
    strftime(out, 9, "%Y%m%d", &tm);
    n = 8;
    while (n < ORDER_ID_LEN) {
        if (mall_random(rnd, sizeof(rnd)) != 0) {
            return MALL_ERR;
        }
        /* 248 = 4 * 62: rejection keeps every character equally likely */
        for (i = 0; i < sizeof(rnd) && n < ORDER_ID_LEN; i++) {
            if (rnd[i] < 248) {
                out[n++] = order_alphabet[rnd[i] % 62];
            }
        }
    }
    out[ORDER_ID_LEN] = '\0';
    OPENSSL_cleanse(rnd, sizeof(rnd));
    return MALL_OK;
}


void
order_key(char *buf, size_t sz, const char *fmt, const char *a,
    const char *b)
{
    snprintf(buf, sz, fmt, a, b);
}


int64_t
order_reply_int(const redisReply *r, int64_t def)
{
    long long  v;

    if (r == NULL || r->type != REDIS_REPLY_STRING
        || mall_parse_int(r->str, -(1LL << 62), 1LL << 62, &v) != MALL_OK)
    {
        return def;
    }
    return v;
}


/* ------------------------------------------------------------ loading */

int
order_items_parse(const char *json, size_t len, order_head_t *h)
{
    cJSON             *arr, *it;
    order_item_ref_t  *ref;
    int                rc;

    h->nitems = 0;
    arr = cJSON_ParseWithLength(json, len);
    if (!cJSON_IsArray(arr)) {
        cJSON_Delete(arr);
        return MALL_ERR;
    }
    rc = MALL_OK;
    cJSON_ArrayForEach(it, arr) {
        if (h->nitems >= ORDER_LINES_MAX) {
            rc = MALL_ERR;
            break;
        }
        ref = &h->items[h->nitems];
        ref->threshold = -1;
        if (mall_json_get_int(cJSON_GetObjectItemCaseSensitive(it, "sku_id"),
                              1, 1LL << 53, &ref->sku_id) != MALL_OK
            || mall_json_get_int(cJSON_GetObjectItemCaseSensitive(it,
                                     "product_id"), 0, 1LL << 53,
                                 &ref->product_id) != MALL_OK
            || mall_json_get_int(cJSON_GetObjectItemCaseSensitive(it,
                                     "quantity"), 1, 1000000,
                                 &ref->quantity) != MALL_OK)
        {
            rc = MALL_ERR;
            break;
        }
        h->nitems++;
    }
    cJSON_Delete(arr);
    return rc;
}


/* A string reply into dst ("" when absent or too long). */
static void
reply_str(const redisReply *r, char *dst, size_t dstsz)
{
    dst[0] = '\0';
    if (r->type == REDIS_REPLY_STRING && r->len < dstsz) {
        memcpy(dst, r->str, r->len + 1);
    }
}


/* The amounts and payment fields of the head, HMGET order from "total_fen". */
static void
head_payment(order_head_t *h, redisReply **f)
{
    h->total_fen = order_reply_int(f[0], 0);
    h->pay_deadline = order_reply_int(f[1], 0);
    reply_str(f[2], h->prepay_id, sizeof(h->prepay_id));
    h->prepay_expires = order_reply_int(f[3], 0);
    h->pay_closed = order_reply_int(f[4], 0) == 1;
    reply_str(f[5], h->transaction_id, sizeof(h->transaction_id));
    h->pay_total = order_reply_int(f[6], 0);
    h->pay_late = order_reply_int(f[7], 0) == 1;
    h->refund_reserved = order_reply_int(f[8], 0);
    h->refunded = order_reply_int(f[9], 0);
}


/* The coupon_ids field: "12 15" (absent: none). */
static void
head_coupons(order_head_t *h, const redisReply *f)
{
    const char  *p;
    char        *end;
    long long    v;

    h->ncoupons = 0;
    if (f->type != REDIS_REPLY_STRING) {
        return;
    }
    for (p = f->str; *p != '\0' && h->ncoupons < ORDER_COUPONS_MAX;
         p = end)
    {
        v = strtoll(p, &end, 10);
        if (end == p || v <= 0) {
            return;
        }
        h->coupons[h->ncoupons++] = v;
    }
}


int
order_load_head(mall_ctx_t *ctx, const char *oid, int watch,
    order_head_t *h, mall_err_t *err)
{
    static const char *const  fields[] = {
        "user_id", "status", "items", "created_ms", "refund_from",
        "idem_key", "counted", "total_fen", "pay_deadline", "pay_prepay_id",
        "pay_prepay_expires", "pay_closed", "pay_transaction_id",
        "pay_total", "pay_late", "refund_reserved_fen", "refunded_fen",
        "coupon_ids"
    };
    char         key[ORDER_KEY_MAX];
    redisReply  *r;
    int          rc;

    memset(h, 0, sizeof(*h));
    snprintf(h->id, sizeof(h->id), "%s", oid);
    order_key(key, sizeof(key), ORDER_KEY_ORDER, oid, NULL);
    rc = mall_hmget(ctx->redis, key, watch, fields, MALL_ARRAY_LEN(fields),
                    &r, err);
    if (rc != MALL_OK) {
        return rc;
    }
    if (r->element[0]->type != REDIS_REPLY_STRING
        || r->element[1]->type != REDIS_REPLY_STRING
        || r->element[2]->type != REDIS_REPLY_STRING)
    {
        freeReplyObject(r);
        return MALL_OK;                  /* no such order */
    }
    snprintf(h->uid, sizeof(h->uid), "%s", r->element[0]->str);
    h->status = order_status_parse(r->element[1]->str);
    h->created_ms = order_reply_int(r->element[3], 0);
    h->refund_from = r->element[4]->type == REDIS_REPLY_STRING
                     ? order_status_parse(r->element[4]->str)
                     : ORDER_ST_NONE;
    reply_str(r->element[5], h->idem_key, sizeof(h->idem_key));
    h->counted = r->element[6]->type == REDIS_REPLY_STRING;
    head_payment(h, r->element + 7);
    head_coupons(h, r->element[17]);
    if (order_items_parse(r->element[2]->str, r->element[2]->len, h)
        != MALL_OK || h->status == ORDER_ST_NONE)
    {
        h->status = ORDER_ST_NONE;
        rc = mall_err_set(err, 500, "order %s: corrupt record", oid);
    }
    freeReplyObject(r);
    return rc;
}


/* ----------------------------------------------------- short holds */

int
order_holds_short(mall_ctx_t *ctx, const order_head_t *h,
    int64_t *short_sku, mall_err_t *err)
{
    char           hold[STOCK_KEY_MAX];
    mall_batch_t   b;
    redisReply    *reps[ORDER_LINES_MAX];
    size_t         i;
    int            rc;

    *short_sku = 0;
    mall_batch_init(&b);
    for (i = 0; i < h->nitems; i++) {
        stock_hold_key(hold, sizeof(hold), h->id, h->items[i].sku_id);
        mall_batch_addl(&b, 3, "HGET", hold, "stock");
    }
    rc = mall_batch_send(&b, ctx->redis, reps, err);
    mall_batch_free(&b);
    if (rc != MALL_OK) {
        return rc;
    }
    for (i = 0; i < h->nitems && *short_sku == 0; i++) {
        if (order_reply_int(reps[i], 0) < 0) {
            *short_sku = h->items[i].sku_id;
        }
    }
    mall_redis_free_replies(reps, h->nitems);
    return MALL_OK;
}


/* The commands removing unpaid order h and its indexes (stock first). */
static void
discard_batch(mall_batch_t *b, const order_head_t *h, int drop_idem)
{
    char  key[ORDER_KEY_MAX];

    order_batch_release(b, h);
    order_batch_coupons_back(b, h);
    order_key(key, sizeof(key), ORDER_KEY_ORDER, h->id, NULL);
    mall_batch_addl(b, 2, "DEL", key);
    order_key(key, sizeof(key), ORDER_KEY_EVENTS, h->id, NULL);
    mall_batch_addl(b, 2, "DEL", key);
    order_key(key, sizeof(key), ORDER_KEY_USER_ALL, h->uid, NULL);
    mall_batch_addl(b, 3, "ZREM", key, h->id);
    order_key(key, sizeof(key), ORDER_KEY_USER_STATUS, h->uid, "unpaid");
    mall_batch_addl(b, 3, "ZREM", key, h->id);
    mall_batch_addl(b, 3, "ZREM", ORDER_KEY_EXPIRY, h->id);
    if (drop_idem && h->idem_key[0] != '\0') {
        mall_batch_addl(b, 2, "DEL", h->idem_key);
    }
}


int
order_discard(mall_ctx_t *ctx, const char *oid, int drop_idem,
    mall_err_t *err)
{
    order_head_t   h;
    mall_batch_t   b;
    redisReply    *exec;
    int            rc, tries;

    rc = MALL_BATCH_ABORTED;
    for (tries = 0; tries < ORDER_TRIES && rc == MALL_BATCH_ABORTED;
         tries++)
    {
        rc = order_load_head(ctx, oid, 1, &h, err);
        if (rc != MALL_OK) {
            break;
        }
        if (h.status != ORDER_ST_UNPAID) {
            mall_unwatch(ctx->redis);    /* gone, or it moved on */
            return MALL_OK;
        }
        mall_batch_init(&b);
        discard_batch(&b, &h, drop_idem);
        order_batch_thresholds(&b, &h);
        rc = mall_batch_exec(&b, ctx->redis, 1, &exec, err);
        mall_batch_free(&b);
        if (rc == MALL_OK) {
            mall_log_req(MALL_LOG_INFO, "order", ctx->request_id, h.uid,
                         "order %s discarded: its stock hold was short",
                         oid);
            order_release_follow_up(ctx, &h, exec);
            freeReplyObject(exec);
        }
    }
    if (rc == MALL_ERR) {
        mall_unwatch(ctx->redis);
    }
    return rc == MALL_BATCH_ABORTED
           ? mall_err_set(err, 503, "order %s keeps changing", oid) : rc;
}


int
order_void_if_short(mall_ctx_t *ctx, const order_head_t *h, int *voided,
    mall_err_t *err)
{
    order_status_e  cur;
    int64_t         short_sku;
    int             rc;

    *voided = 0;
    if (h->status != ORDER_ST_UNPAID) {
        return MALL_OK;
    }
    rc = order_holds_short(ctx, h, &short_sku, err);
    if (rc != MALL_OK || short_sku == 0) {
        return rc;
    }
    rc = order_transition(ctx, h->id, NULL, ORDER_EV_VOID, ORDER_ACTOR_SYSTEM,
                          "", &cur, err);
    if (rc == MALL_OK) {
        *voided = 1;
        mall_log_req(MALL_LOG_NOTICE, "order", ctx->request_id, h->uid,
                     "order %s voided: sku %lld was short when it was "
                     "created", h->id, (long long) short_sku);
        return MALL_OK;
    }
    return rc == ORDER_ILLEGAL || rc == ORDER_NOT_FOUND ? MALL_OK : rc;
}


/* ------------------------------------------------------------ replies */

int
order_route_oid(mall_ctx_t *ctx, char uid[SF_UID_MAX], const char **oid)
{
    if (sf_require_user(ctx, uid) != MALL_OK) {
        return MALL_ERR;
    }
    *oid = mall_route_param(&ctx->params, "id");
    if (!order_id_valid(*oid)) {
        mall_reply_error(ctx, 404, "NOT_FOUND", "no such order");
        return MALL_ERR;
    }
    return MALL_OK;
}


/* A contract error whose object carries one more member (value is
 * consumed). */
static int
reply_error_with(mall_ctx_t *ctx, int status, const char *code,
    const char *msg, const char *name, cJSON *value)
{
    cJSON  *root, *e;
    int     rc;

    ctx->error_code = code;
    root = cJSON_CreateObject();
    e = root != NULL ? cJSON_AddObjectToObject(root, "error") : NULL;
    if (e == NULL || value == NULL
        || cJSON_AddStringToObject(e, "code", code) == NULL
        || cJSON_AddStringToObject(e, "message", msg) == NULL
        || !cJSON_AddItemToObject(e, name, value))
    {
        cJSON_Delete(value);
        cJSON_Delete(root);
        return mall_reply_error(ctx, status, code, "%s", msg);
    }
    if (cJSON_AddStringToObject(e, "request_id", ctx->request_id) == NULL) {
        cJSON_Delete(root);              /* value belongs to root now */
        return mall_reply_error(ctx, status, code, "%s", msg);
    }
    rc = mall_reply_json_nostore(ctx, status, root);
    cJSON_Delete(root);
    return rc;
}


int
order_reply_conflict(mall_ctx_t *ctx, order_status_e cur, const char *msg)
{
    return reply_error_with(ctx, 409, "CONFLICT", msg, "current_status",
                            cJSON_CreateString(order_status_name(cur)));
}


int
order_reply_out_of_stock(mall_ctx_t *ctx, int64_t sku)
{
    char  msg[96];

    snprintf(msg, sizeof(msg), "sku %lld does not have enough stock",
             (long long) sku);
    return reply_error_with(ctx, 409, "OUT_OF_STOCK", msg, "sku_id",
                            mall_json_int(sku));
}
