/*
 * Closing payments before cancels (see pay_close.h).
 */
#include <stdio.h>
#include <string.h>

#include "mall_batch.h"
#include "mall_log.h"
#include "order_store.h"
#include "pay_close.h"
#include "pay_query.h"
#include "wxpay_client.h"

#define CLOSE_TRIES  3


/* pay_closed = 1 on the order. */
static int
mark_closed(mall_ctx_t *ctx, const char *oid, mall_err_t *err)
{
    char         key[ORDER_KEY_MAX];
    redisReply  *r;
    int          rc;

    order_key(key, sizeof(key), ORDER_KEY_ORDER, oid, NULL);
    rc = mall_cmd(ctx->redis, &r, err, 4, "HSET", key, "pay_closed", "1");
    if (rc == MALL_OK) {
        freeReplyObject(r);
    }
    return rc;
}


int
pay_close(mall_ctx_t *ctx, const char *oid, mall_err_t *err)
{
    wxpay_answer_t  ans;
    char            path[160], body[96], state[WXPAY_STR_MAX];
    int             rc;

    snprintf(path, sizeof(path), "/v3/pay/transactions/out-trade-no/%s/close",
             oid);
    snprintf(body, sizeof(body), "{\"mchid\":\"%s\"}", ctx->conf->pay.mchid);
    rc = wxpay_call(ctx->conf, "POST", path, body, &ans, err);
    if (rc != MALL_OK) {
        return rc;
    }
    if (ans.status == 204 || ans.status == 200
        || (ans.status == 404 && strcmp(ans.code, "ORDERNOTEXIST") == 0))
    {
        rc = mark_closed(ctx, oid, err);
    } else if (strcmp(ans.code, "ORDERPAID") == 0) {
        mall_log_req(MALL_LOG_NOTICE, "pay", ctx->request_id, "-",
                     "order %s: the close found it paid; querying", oid);
        rc = pay_query(ctx, oid, "close", state, err);
    } else {
        rc = mall_err_set(err, 502, "close: HTTP %ld %s", ans.status,
                          ans.code);
    }
    wxpay_answer_free(&ans);
    return rc;
}


int
pay_cancel_order(mall_ctx_t *ctx, const char *oid, const char *owner,
    order_event_e ev, order_actor_e actor, const char *actor_id,
    order_status_e *cur, mall_err_t *err)
{
    int  rc, tries;

    rc = ORDER_NEEDS_CLOSE;
    for (tries = 0; tries < CLOSE_TRIES && rc == ORDER_NEEDS_CLOSE; tries++) {
        rc = order_transition(ctx, oid, owner, ev, actor, actor_id, cur, err);
        if (rc != ORDER_NEEDS_CLOSE) {
            break;
        }
        rc = pay_close(ctx, oid, err);
        if (rc != MALL_OK) {
            return rc == MALL_ERR ? MALL_RETRY : rc;
        }
        rc = ORDER_NEEDS_CLOSE;
    }
    if (rc == ORDER_NEEDS_CLOSE) {
        mall_err_set(err, 503, "order %s: its payment keeps reopening", oid);
        return MALL_RETRY;
    }
    return rc;
}
