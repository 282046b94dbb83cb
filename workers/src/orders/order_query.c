/*
 * The buyer's orders: GET /api/v1/orders?status=&page=&size= (newest
 * first; a status filter reads that status's index) and
 * GET /api/v1/orders/{id} (owner only: anyone else gets 404). Both are
 * private and never cached (Cache-Control: private, no-store). This is
 * also the order-status query a client uses after a network failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logistics.h"
#include "mall_json.h"
#include "mall_log.h"
#include "mall_reply.h"
#include "order_store.h"
#include "order_view.h"
#include "pay_query.h"

#define ORDER_PAGE_DEFAULT  10
#define ORDER_PAGE_MAX      50

static int order_list(mall_ctx_t *ctx);
static int order_get(mall_ctx_t *ctx);

const mall_route_t  mall_order_query_routes[] = {
    { "GET", "/api/v1/orders", order_list, 0 },
    { "GET", "/api/v1/orders/{id}", order_get, 0 },
    { NULL, NULL, NULL, 0 }
};


static int
order_list(mall_ctx_t *ctx)
{
    char               uid[SF_UID_MAX], key[ORDER_KEY_MAX];
    order_status_e     st;
    long long          page, size;

    if (sf_require_user(ctx, uid) != MALL_OK
        || sf_page(ctx, ORDER_PAGE_DEFAULT, ORDER_PAGE_MAX, &page, &size)
           != MALL_OK)
    {
        return MALL_OK;
    }
    if (order_query_status(ctx, &st) != MALL_OK) {
        return MALL_OK;
    }
    if (st != ORDER_ST_NONE) {
        order_key(key, sizeof(key), ORDER_KEY_USER_STATUS, uid,
                  order_status_name(st));
    } else {
        order_key(key, sizeof(key), ORDER_KEY_USER_ALL, uid, NULL);
    }
    return order_list_page(ctx, key, st, page, size, 0);
}


int
order_query_status(mall_ctx_t *ctx, order_status_e *st)
{
    const char  *s = mall_query_get(&ctx->query, "status");

    *st = ORDER_ST_NONE;
    if (s == NULL || s[0] == '\0') {
        return MALL_OK;
    }
    *st = order_status_parse(s);
    if (*st == ORDER_ST_NONE) {
        mall_reply_error(ctx, 400, "VALIDATION_FAILED", "status must be one "
                         "of unpaid, paid, shipped, received, completed, "
                         "cancelled, refund_requested, refunded");
        return MALL_ERR;
    }
    return MALL_OK;
}


int
order_list_page(mall_ctx_t *ctx, const char *key, order_status_e st,
    long long page, long long size, int with_user)
{
    char               start[24], stop[24];
    char             (*okeys)[ORDER_KEY_MAX];
    const char        *argv[2][4], **hargv;
    mall_redis_cmd_t   cmds[2], *hcmds;
    redisReply        *reps[2], **hreps;
    mall_err_t         err;
    cJSON             *root, *items, *o;
    size_t             i, n;
    int                rc;

    snprintf(start, sizeof(start), "%lld", (page - 1) * size);
    snprintf(stop, sizeof(stop), "%lld", page * size - 1);

    memset(reps, 0, sizeof(reps));
    hreps = NULL;
    hcmds = NULL;
    hargv = NULL;
    okeys = NULL;
    root = NULL;
    n = 0;
    err.msg[0] = '\0';

    argv[0][0] = "ZREVRANGE"; argv[0][1] = key; argv[0][2] = start;
    argv[0][3] = stop;
    argv[1][0] = "ZCARD"; argv[1][1] = key;
    cmds[0].argc = 4; cmds[0].argv = argv[0]; cmds[0].argvlen = NULL;
    cmds[1].argc = 2; cmds[1].argv = argv[1]; cmds[1].argvlen = NULL;
    rc = mall_redis_pipeline(ctx->redis, 2, cmds, reps, &err);
    if (rc != MALL_OK) {
        goto done;
    }
    rc = MALL_ERR;
    if (reps[0]->type != REDIS_REPLY_ARRAY
        || reps[1]->type != REDIS_REPLY_INTEGER)
    {
        mall_err_set(&err, 500, "unexpected order index reply");
        goto done;
    }
    n = reps[0]->elements;
    hreps = calloc(n + 1, sizeof(*hreps));
    hcmds = calloc(n + 1, sizeof(*hcmds));
    hargv = calloc(2 * n + 1, sizeof(*hargv));
    okeys = calloc(n + 1, sizeof(*okeys));
    if (hreps == NULL || hcmds == NULL || hargv == NULL || okeys == NULL) {
        goto done;
    }
    for (i = 0; i < n; i++) {
        const char  *oid = reps[0]->element[i]->str;

        order_key(okeys[i], sizeof(okeys[i]), ORDER_KEY_ORDER,
                  order_id_valid(oid) ? oid : "-", NULL);
        hargv[2 * i] = "HGETALL";
        hargv[2 * i + 1] = okeys[i];
        hcmds[i].argc = 2;
        hcmds[i].argv = &hargv[2 * i];
    }
    if (n > 0) {
        rc = mall_redis_pipeline(ctx->redis, n, hcmds, hreps, &err);
        if (rc != MALL_OK) {
            goto done;
        }
        rc = MALL_ERR;
    }

    root = cJSON_CreateObject();
    items = root != NULL ? cJSON_AddArrayToObject(root, "items") : NULL;
    if (items == NULL) {
        goto done;
    }
    for (i = 0; i < n; i++) {
        order_fields_t  f;
        const char     *kv[128];
        const char     *status;

        if (hreps[i]->type != REDIS_REPLY_ARRAY || hreps[i]->elements > 128
            || order_fields_of_hash(hreps[i], kv, &f) != MALL_OK)
        {
            continue;                   /* gone since the index was read */
        }
        /* an index entry is only a hint: the record says the status */
        status = order_field(&f, "status");
        if (status == NULL || (st != ORDER_ST_NONE
                               && strcmp(status, order_status_name(st)) != 0))
        {
            continue;
        }
        o = order_view(ctx, &f, NULL, 0);
        if (o != NULL && with_user && mall_json_add_str(o, "user_id",
                order_field(&f, "user_id") != NULL
                ? order_field(&f, "user_id") : "") != MALL_OK)
        {
            cJSON_Delete(o);
            o = NULL;
        }
        if (o == NULL || !cJSON_AddItemToArray(items, o)) {
            cJSON_Delete(o);
            goto done;
        }
    }
    if (mall_json_add_int(root, "page", page) != MALL_OK
        || mall_json_add_int(root, "size", size) != MALL_OK
        || mall_json_add_int(root, "total", reps[1]->integer) != MALL_OK)
    {
        goto done;
    }
    rc = sf_reply(ctx, 200, root);

done:
    if (rc == MALL_ERR && !ctx->replied) {
        sf_log_fail(ctx, "order list", &err);
    }
    cJSON_Delete(root);
    mall_redis_free_replies(reps, 2);
    if (hreps != NULL) {
        mall_redis_free_replies(hreps, n);
    }
    free(hreps);
    free(hcmds);
    free(hargv);
    free(okeys);
    return rc;
}


/*
 * Before an unpaid order is shown: one with a prepay is asked about at
 * WeChat (at most once per wxpay_query_interval), so a buyer whose
 * payment notification is late sees it paid; one without is voided when
 * its stock hold was short (it lost the race for the last units and its
 * creator died before undoing it), so nobody can pay for units that do
 * not exist. A WeChat that does not answer leaves the order as stored.
 */
static int
order_get_settle(mall_ctx_t *ctx, const char *oid, mall_err_t *err)
{
    order_head_t  h;
    int           rc, voided, asked;

    rc = order_load_head(ctx, oid, 0, &h, err);
    if (rc != MALL_OK || h.status != ORDER_ST_UNPAID) {
        return rc;
    }
    if (h.prepay_id[0] == '\0') {
        return order_void_if_short(ctx, &h, &voided, err);
    }
    rc = pay_query_throttled(ctx, oid, "query", &asked, err);
    if (rc != MALL_OK) {
        mall_log_req(MALL_LOG_WARN, "pay", ctx->request_id, h.uid,
                     "query of order %s: %s", oid, err->msg);
    }
    return asked ? MALL_OK : rc;
}


static int
order_get(mall_ctx_t *ctx)
{
    char               uid[SF_UID_MAX];
    const char        *oid, *kv[128];
    const char        *owner, *st;
    redisReply        *reps[2];
    order_fields_t     f;
    mall_err_t         err;
    cJSON             *o;
    int                rc, settled;

    if (order_route_oid(ctx, uid, &oid) != MALL_OK) {
        return MALL_OK;
    }
    err.msg[0] = '\0';

    for (settled = 0; ; settled++) {
        rc = order_load_full(ctx, oid, reps, &err);
        if (rc != MALL_OK) {
            return sf_fail(ctx, rc, "order get", &err);
        }
        owner = st = NULL;
        if (reps[0]->type == REDIS_REPLY_ARRAY && reps[0]->elements <= 128
            && order_fields_of_hash(reps[0], kv, &f) == MALL_OK)
        {
            owner = order_field(&f, "user_id");
            st = order_field(&f, "status");
        }
        if (owner == NULL || st == NULL || strcmp(owner, uid) != 0) {
            mall_redis_free_replies(reps, 2);
            return mall_reply_error(ctx, 404, "NOT_FOUND", "no such order");
        }
        if (settled || strcmp(st, "unpaid") != 0) {
            break;
        }
        mall_redis_free_replies(reps, 2);
        rc = order_get_settle(ctx, oid, &err);
        if (rc != MALL_OK) {
            return sf_fail(ctx, rc, "order get", &err);
        }
    }
    o = order_view(ctx, &f, reps[1], ORDER_VIEW_ADDRESS | ORDER_VIEW_EVENTS);
    mall_redis_free_replies(reps, 2);
    if (o == NULL) {
        return MALL_ERR;
    }
    logistics_attach(ctx, oid, o);
    rc = sf_reply(ctx, 200, o);
    cJSON_Delete(o);
    return rc;
}
