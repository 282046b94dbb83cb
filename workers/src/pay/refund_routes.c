/*
 * Refund routes:
 *
 *   POST /admin/api/v1/orders/{id}/refunds {"amount_fen"?, "reason"?}
 *        + Idempotency-Key (admin role): refund part or (without
 *        amount_fen) all of what is left of a paid order. The key fixes
 *        the out_refund_no, so a retry of the same request refunds once.
 *        201 with the refund; the same key again: 200 with it.
 *   GET  /admin/api/v1/orders/{id}/refunds (staff), GET /api/v1/orders/
 *        {id}/refunds (the buyer): the order's refunds, oldest first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>

#include "mall_audit.h"
#include "mall_crypto.h"
#include "mall_json.h"
#include "mall_query.h"
#include "mall_reply.h"
#include "merchant.h"
#include "order_request.h"
#include "pay_keys.h"
#include "refund.h"
#include "storefront.h"

#define REFUND_LIST_MAX  100
#define REFUND_TAG_HEX   12
#define CREATE_CONFLICT  (ORDER_PLAN_NONE + 10)   /* key reused otherwise */
#define CREATE_TOO_MUCH  (ORDER_PLAN_NONE + 11)   /* over what is left */

static int refund_create(mall_ctx_t *ctx);
static int refund_list_admin(mall_ctx_t *ctx);
static int refund_list_buyer(mall_ctx_t *ctx);

const mall_route_t  mall_refund_routes[] = {
    { "POST", "/admin/api/v1/orders/{id}/refunds", refund_create, 0 },
    { "GET", "/admin/api/v1/orders/{id}/refunds", refund_list_admin, 0 },
    { "GET", "/api/v1/orders/{id}/refunds", refund_list_buyer, 0 },
    { NULL, NULL, NULL, 0 }
};


/* ---------------------------------------------------------------- views */

/* One refund record as the API shows it (NULL: unreadable). */
static cJSON *
refund_view(const redisReply *hash, const char *no)
{
    static const char  *ints[] = { "amount", "created_at", "updated_at" };
    static const char  *strs[] = { "order_id", "status", "reason",
                                   "refund_id", "success_time", "error" };
    cJSON              *o;
    long long           v;
    size_t              i, j;

    if (hash->type != REDIS_REPLY_ARRAY || hash->elements == 0) {
        return NULL;
    }
    o = cJSON_CreateObject();
    if (o == NULL || mall_json_add_str(o, "out_refund_no", no) != MALL_OK) {
        cJSON_Delete(o);
        return NULL;
    }
    for (i = 0; i + 1 < hash->elements; i += 2) {
        const char  *name = hash->element[i]->str;
        const char  *val = hash->element[i + 1]->str;

        for (j = 0; j < MALL_ARRAY_LEN(ints); j++) {
            if (strcmp(name, ints[j]) == 0
                && mall_parse_int(val, 0, 1LL << 50, &v) == MALL_OK)
            {
                mall_json_add_int(o, j == 0 ? "amount_fen" : name, v);
            }
        }
        for (j = 0; j < MALL_ARRAY_LEN(strs); j++) {
            if (strcmp(name, strs[j]) == 0 && val[0] != '\0') {
                mall_json_add_str(o, name, val);
            }
        }
    }
    return o;
}


/* {"refunds": [...]} of order oid into *out. */
static int
load_refunds(mall_ctx_t *ctx, const char *oid, cJSON **out, mall_err_t *err)
{
    char           key[ORDER_KEY_MAX], max[16];
    redisReply    *list, **reps;
    mall_batch_t   b;
    cJSON         *root, *arr, *o;
    size_t         i, n;
    int            rc;

    *out = NULL;
    order_key(key, sizeof(key), PAY_KEY_ORDER_REFUNDS, oid, NULL);
    snprintf(max, sizeof(max), "%d", REFUND_LIST_MAX - 1);
    rc = mall_cmd(ctx->redis, &list, err, 4, "LRANGE", key, "0", max);
    if (rc != MALL_OK) {
        return rc;
    }
    n = list->type == REDIS_REPLY_ARRAY ? list->elements : 0;
    reps = NULL;
    mall_batch_init(&b);
    for (i = 0; i < n; i++) {
        order_key(key, sizeof(key), PAY_KEY_REFUND, list->element[i]->str,
                  NULL);
        mall_batch_addl(&b, 2, "HGETALL", key);
    }
    root = cJSON_CreateObject();
    arr = root != NULL ? cJSON_AddArrayToObject(root, "refunds") : NULL;
    if (n > 0 && arr != NULL) {
        reps = calloc(n, sizeof(*reps));
        rc = reps == NULL ? mall_err_set(err, 500, "out of memory")
                          : mall_batch_send(&b, ctx->redis, reps, err);
    }
    for (i = 0; rc == MALL_OK && reps != NULL && i < n; i++) {
        o = refund_view(reps[i], list->element[i]->str);
        if (o != NULL) {
            cJSON_AddItemToArray(arr, o);
        }
    }
    if (reps != NULL && rc == MALL_OK) {
        mall_redis_free_replies(reps, n);
    }
    free(reps);
    mall_batch_free(&b);
    freeReplyObject(list);
    if (rc != MALL_OK || arr == NULL) {
        cJSON_Delete(root);
        return rc != MALL_OK ? rc : mall_err_set(err, 500, "out of memory");
    }
    *out = root;
    return MALL_OK;
}


static int
reply_refunds(mall_ctx_t *ctx, const char *oid)
{
    cJSON       *root;
    mall_err_t   err;
    int          rc;

    err.msg[0] = '\0';
    rc = load_refunds(ctx, oid, &root, &err);
    if (rc != MALL_OK) {
        return sf_fail(ctx, rc, "refund list", &err);
    }
    rc = mall_reply_json_nostore(ctx, 200, root);
    cJSON_Delete(root);
    return rc;
}


static int
refund_list_buyer(mall_ctx_t *ctx)
{
    char          uid[SF_UID_MAX];
    const char   *oid;
    order_head_t  h;
    mall_err_t    err;
    int           rc;

    if (order_route_oid(ctx, uid, &oid) != MALL_OK) {
        return MALL_OK;
    }
    err.msg[0] = '\0';
    rc = order_load_head(ctx, oid, 0, &h, &err);
    if (rc != MALL_OK) {
        return sf_fail(ctx, rc, "refund list", &err);
    }
    if (h.status == ORDER_ST_NONE || strcmp(h.uid, uid) != 0) {
        return mall_reply_error(ctx, 404, "NOT_FOUND", "no such order");
    }
    return reply_refunds(ctx, oid);
}


static int
refund_list_admin(mall_ctx_t *ctx)
{
    const char  *oid = mall_route_param(&ctx->params, "id");

    if (merch_role(ctx, 0, "order.refunds") != MALL_OK) {
        return MALL_OK;
    }
    if (oid == NULL || !order_id_valid(oid)) {
        return mall_reply_error(ctx, 404, "NOT_FOUND", "no such order");
    }
    return reply_refunds(ctx, oid);
}


/* ------------------------------------------------------------- creating */

typedef struct {
    const char      *no;
    int64_t          amount;          /* 0: what is left */
    const char      *reason;
    const char      *actor_id;
    refund_rec_t     rec;
    int64_t          left;
    int              existed;
    order_status_e   cur;
    mall_err_t      *err;
} create_t;


static int
refundable(const order_head_t *h)
{
    return h->transaction_id[0] != '\0' && !h->pay_late
           && (h->status == ORDER_ST_PAID || h->status == ORDER_ST_SHIPPED
               || h->status == ORDER_ST_RECEIVED
               || h->status == ORDER_ST_REFUND_REQUESTED);
}


static int
create_plan(mall_ctx_t *ctx, const order_head_t *h, mall_batch_t *b,
    void *arg)
{
    create_t  *c = arg;
    int64_t    want;
    int        rc;

    rc = refund_load(ctx, c->no, 1, &c->rec, c->err);
    if (rc != MALL_OK) {
        return rc;
    }
    c->cur = h->status;
    if (h->status == ORDER_ST_NONE) {
        return ORDER_NOT_FOUND;
    }
    if (c->rec.status != REFUND_NONE) {
        c->existed = 1;
        return strcmp(c->rec.oid, h->id) == 0
               && (c->amount == 0 || c->amount == c->rec.amount)
               ? ORDER_PLAN_NONE : CREATE_CONFLICT;
    }
    if (!refundable(h)) {
        return ORDER_ILLEGAL;
    }
    c->left = h->pay_total - h->refund_reserved;
    want = c->amount > 0 ? c->amount : c->left;
    if (c->left <= 0 || want > c->left) {
        return CREATE_TOO_MUCH;
    }
    refund_batch_new(b, h, c->no, want, c->reason, "admin", c->actor_id);
    return MALL_OK;
}


/* The body: amount_fen (optional, > 0) and reason (optional, <= 80). */
static int
create_body(mall_ctx_t *ctx, create_t *c, char reason[REFUND_REASON_BYTES])
{
    const cJSON  *a, *r;
    cJSON        *body;
    long          chars;

    if (sf_body(ctx, &body) != MALL_OK) {
        return MALL_ERR;
    }
    a = cJSON_GetObjectItemCaseSensitive(body, "amount_fen");
    r = cJSON_GetObjectItemCaseSensitive(body, "reason");
    reason[0] = '\0';
    if (a != NULL && !cJSON_IsNull(a)
        && mall_json_get_int(a, 1, 100000000000LL, &c->amount) != MALL_OK)
    {
        cJSON_Delete(body);
        sf_reply_invalid(ctx, "amount_fen", "amount_fen must be a positive "
                         "amount in fen");
        return MALL_ERR;
    }
    if (r != NULL && !cJSON_IsNull(r)) {
        chars = cJSON_IsString(r) ? order_utf8_chars(r->valuestring) : -1;
        if (chars < 0 || chars > REFUND_REASON_CHARS) {
            cJSON_Delete(body);
            sf_reply_invalid(ctx, "reason", "reason must be text of at most "
                             "80 characters");
            return MALL_ERR;
        }
        snprintf(reason, REFUND_REASON_BYTES, "%s", r->valuestring);
    }
    cJSON_Delete(body);
    return MALL_OK;
}


/* The out_refund_no the Idempotency-Key stands for; MALL_ERR: replied. */
static int
create_number(mall_ctx_t *ctx, const char *oid, char no[REFUND_NO_MAX])
{
    const char  *key;
    char         hex[MALL_SHA256_HEX_LEN + 1];

    key = evhttp_find_header(evhttp_request_get_input_headers(ctx->req),
                             "Idempotency-Key");
    if (key == NULL || !order_idem_key_valid(key)) {
        mall_reply_error(ctx, 400, "VALIDATION_FAILED", "the Idempotency-Key "
                         "header is required: 1..64 characters of "
                         "[A-Za-z0-9_-]");
        return MALL_ERR;
    }
    mall_sha256_hex(key, strlen(key), hex);
    hex[REFUND_TAG_HEX] = '\0';
    refund_number(oid, hex, no);
    return MALL_OK;
}


static int
reply_created(mall_ctx_t *ctx, const create_t *c, int status)
{
    char         key[ORDER_KEY_MAX];
    redisReply  *h;
    cJSON       *o;
    mall_err_t   err;
    int          rc;

    err.msg[0] = '\0';
    order_key(key, sizeof(key), PAY_KEY_REFUND, c->no, NULL);
    rc = mall_cmd(ctx->redis, &h, &err, 2, "HGETALL", key);
    if (rc != MALL_OK) {
        return sf_fail(ctx, rc, "refund", &err);
    }
    o = refund_view(h, c->no);
    freeReplyObject(h);
    if (o == NULL) {
        return mall_reply_error(ctx, 500, "INTERNAL", "refund unreadable");
    }
    rc = mall_reply_json_nostore(ctx, status, o);
    cJSON_Delete(o);
    return rc;
}


static int
refund_create(mall_ctx_t *ctx)
{
    char           reason[REFUND_REASON_BYTES], no[REFUND_NO_MAX];
    const char    *oid = mall_route_param(&ctx->params, "id");
    order_head_t   h;
    create_t       c;
    mall_err_t     err;
    int            rc;

    if (merch_role(ctx, 1, "order.refund") != MALL_OK) {
        return MALL_OK;
    }
    if (oid == NULL || !order_id_valid(oid)) {
        return mall_reply_error(ctx, 404, "NOT_FOUND", "no such order");
    }
    if (!wxpay_conf_enabled(&ctx->conf->pay)) {
        return mall_reply_error(ctx, 503, "UNAVAILABLE", "payments are not "
                                "configured");
    }
    memset(&c, 0, sizeof(c));
    if (create_number(ctx, oid, no) != MALL_OK
        || create_body(ctx, &c, reason) != MALL_OK)
    {
        return MALL_OK;
    }
    c.no = no;
    c.reason = reason;
    c.actor_id = ctx->ident.user;
    err.msg[0] = '\0';
    c.err = &err;
    rc = order_update(ctx, oid, create_plan, &c, &h, NULL, &err);
    switch (rc) {
    case MALL_OK:
        mall_audit_ctx(ctx, ctx->ident.user, "order.refund", "ok", NULL, 0);
        (void) refund_submit(ctx, no, &err);  /* else the job sends it */
        return reply_created(ctx, &c, 201);
    case ORDER_PLAN_NONE:
        return reply_created(ctx, &c, 200);
    case ORDER_NOT_FOUND:
        return mall_reply_error(ctx, 404, "NOT_FOUND", "no such order");
    case ORDER_ILLEGAL:
        return order_reply_conflict(ctx, c.cur, "only a paid order can be "
                                    "refunded");
    case CREATE_CONFLICT:
        return mall_reply_error(ctx, 409, "CONFLICT", "this Idempotency-Key "
                                "was used for another refund");
    case CREATE_TOO_MUCH:
        if (c.left <= 0) {
            return order_reply_conflict(ctx, c.cur, "nothing is left to "
                                        "refund");
        }
        snprintf(reason, sizeof(reason), "amount_fen must be at most %lld "
                 "(what is left to refund)", (long long) c.left);
        return sf_reply_invalid(ctx, "amount_fen", reason);
    default:
        return sf_fail(ctx, rc == MALL_BATCH_ABORTED ? MALL_RETRY : rc,
                       "refund", &err);
    }
}
