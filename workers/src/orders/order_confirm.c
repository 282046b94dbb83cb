/*
 * The buyer's side of the lifecycle:
 *
 *   POST /api/v1/orders/{id}/confirm   shipped -> received (the goods
 *        arrived); 409 CONFLICT with current_status otherwise
 *   GET  /api/v1/orders/counts   {"counts": {status: n}} for "my orders"
 *
 * The counts are ZCARDs of the per-status indexes
 * mall:user:{uid}:orders:{status}: every transition moves the order
 * between two of them in the MULTI that changes its status, and creation
 * adds it to "unpaid" in its own EXEC, so they are exact at any instant
 * (no counter to drift, nothing to repair after a crash).
 */
#include <string.h>

#include "mall_json.h"
#include "mall_reply.h"
#include "order_lifecycle.h"
#include "order_view.h"

static int order_confirm(mall_ctx_t *ctx);
static int order_counts(mall_ctx_t *ctx);

/* listed before mall_order_query_routes: /counts is not an {id} */
const mall_route_t  mall_order_confirm_routes[] = {
    { "GET", "/api/v1/orders/counts", order_counts, 0 },
    { "POST", "/api/v1/orders/{id}/confirm", order_confirm, 0 },
    { NULL, NULL, NULL, 0 }
};


static int
order_confirm(mall_ctx_t *ctx)
{
    char             uid[SF_UID_MAX];
    const char      *oid;
    order_status_e   cur;
    mall_err_t       err;
    int              rc;

    if (order_route_oid(ctx, uid, &oid) != MALL_OK) {
        return MALL_OK;
    }
    err.msg[0] = '\0';
    rc = order_lifecycle_move(ctx, oid, uid, ORDER_EV_RECEIVE,
                              ORDER_ACTOR_USER, uid, NULL, &cur, &err);
    switch (rc) {
    case MALL_OK:
        rc = order_reply_stored(ctx, oid, 200, &err);
        return rc == MALL_OK ? MALL_OK : sf_fail(ctx, rc, "order confirm",
                                                 &err);
    case ORDER_NOT_FOUND:
        return mall_reply_error(ctx, 404, "NOT_FOUND", "no such order");
    case ORDER_ILLEGAL:
        return order_reply_conflict(ctx, cur, "only a shipped order can be "
                                    "confirmed");
    default:
        return sf_fail(ctx, rc == MALL_BATCH_ABORTED ? MALL_RETRY : rc,
                       "order confirm", &err);
    }
}


static int
order_counts(mall_ctx_t *ctx)
{
    char               uid[SF_UID_MAX];
    char               keys[ORDER_ST_PREVIOUS][ORDER_KEY_MAX];
    const char        *argv[ORDER_ST_PREVIOUS][2];
    mall_redis_cmd_t   cmds[ORDER_ST_PREVIOUS];
    redisReply        *reps[ORDER_ST_PREVIOUS];
    mall_err_t         err;
    cJSON             *root, *counts;
    size_t             i, n;
    int                rc;

    if (sf_require_user(ctx, uid) != MALL_OK) {
        return MALL_OK;
    }
    n = 0;
    for (i = ORDER_ST_UNPAID; i < ORDER_ST_PREVIOUS; i++, n++) {
        order_key(keys[n], sizeof(keys[n]), ORDER_KEY_USER_STATUS, uid,
                  order_status_name((order_status_e) i));
        argv[n][0] = "ZCARD";
        argv[n][1] = keys[n];
        cmds[n].argc = 2;
        cmds[n].argv = argv[n];
        cmds[n].argvlen = NULL;
    }
    err.msg[0] = '\0';
    rc = mall_redis_pipeline(ctx->redis, n, cmds, reps, &err);
    if (rc != MALL_OK) {
        return sf_fail(ctx, rc, "order counts", &err);
    }
    root = cJSON_CreateObject();
    counts = root != NULL ? cJSON_AddObjectToObject(root, "counts") : NULL;
    rc = counts != NULL ? MALL_OK : MALL_ERR;
    for (i = 0; rc == MALL_OK && i < n; i++) {
        rc = mall_json_add_int(counts, order_status_name(
                                   (order_status_e) (ORDER_ST_UNPAID + i)),
                               reps[i]->type == REDIS_REPLY_INTEGER
                               ? reps[i]->integer : 0);
    }
    mall_redis_free_replies(reps, n);
    if (rc == MALL_OK) {
        rc = sf_reply(ctx, 200, root);
    }
    cJSON_Delete(root);
    return rc;
}
