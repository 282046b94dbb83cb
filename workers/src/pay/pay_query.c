/*
 * Payment queries (see pay_query.h).
 */
#include <stdio.h>
#include <string.h>

#include "mall_batch.h"
#include "order_store.h"
#include "pay_keys.h"
#include "pay_query.h"
#include "risk_store.h"
#include "wxpay_client.h"


/*
 * WeChat reports the payment of oid failed (PAYERROR: the buyer's bank
 * refused it; WeChat notifies nothing, a query finds it). It counts once
 * per order toward the buyer's failed payments, which freeze the account
 * past risk_pay_failures (risk_store.h); the buyer may still pay again.
 */
static void
pay_error_count(mall_ctx_t *ctx, const char *oid)
{
    char          key[ORDER_KEY_MAX];
    order_head_t  h;
    redisReply   *r;
    mall_err_t    err;
    int           first;

    err.msg[0] = '\0';
    order_key(key, sizeof(key), PAY_KEY_PAYERROR, oid, NULL);
    if (mall_cmd(ctx->redis, &r, &err, 6, "SET", key, "1", "NX", "EX",
                 PAY_PAYERROR_TTL) != MALL_OK)
    {
        return;
    }
    first = r->type == REDIS_REPLY_STATUS;
    freeReplyObject(r);
    if (first && order_load_head(ctx, oid, 0, &h, &err) == MALL_OK) {
        risk_pay_failed(ctx, h.uid, oid);
    }
}


int
pay_query(mall_ctx_t *ctx, const char *oid, const char *source,
    char state[WXPAY_STR_MAX], mall_err_t *err)
{
    wxpay_answer_t  ans;
    wxpay_txn_t     t;
    pay_outcome_e   outcome;
    char            path[160];
    int             rc;

    state[0] = '\0';
    snprintf(path, sizeof(path), "/v3/pay/transactions/out-trade-no/%s"
             "?mchid=%s", oid, ctx->conf->pay.mchid);
    rc = wxpay_call(ctx->conf, "GET", path, NULL, &ans, err);
    if (rc != MALL_OK) {
        return rc;
    }
    if (ans.status == 404 && strcmp(ans.code, "ORDERNOTEXIST") == 0) {
        snprintf(state, WXPAY_STR_MAX, "NOTEXIST");
        rc = MALL_OK;
    } else if (ans.status != 200
               || wxpay_txn_parse(ans.json, &t, err) != MALL_OK
               || strcmp(t.out_trade_no, oid) != 0)
    {
        rc = mall_err_set(err, 502, "order query: HTTP %ld %s", ans.status,
                          ans.code);
    } else {
        snprintf(state, WXPAY_STR_MAX, "%s", t.trade_state);
        rc = MALL_OK;
        if (strcmp(t.trade_state, "SUCCESS") == 0
            || strcmp(t.trade_state, "REFUND") == 0)
        {
            rc = pay_apply(ctx, &t, source, NULL, &outcome, err);
        } else if (strcmp(t.trade_state, "PAYERROR") == 0) {
            pay_error_count(ctx, oid);
        }
    }
    wxpay_answer_free(&ans);
    return rc;
}


int
pay_query_throttled(mall_ctx_t *ctx, const char *oid, const char *source,
    int *asked, mall_err_t *err)
{
    char         key[ORDER_KEY_MAX], ttl[16], state[WXPAY_STR_MAX];
    redisReply  *r;
    int          rc;

    *asked = 0;
    order_key(key, sizeof(key), PAY_KEY_QUERIED, oid, NULL);
    snprintf(ttl, sizeof(ttl), "%d", ctx->conf->pay.query_interval);
    rc = mall_cmd(ctx->redis, &r, err, 6, "SET", key, "1", "NX", "EX", ttl);
    if (rc != MALL_OK) {
        return rc;
    }
    *asked = r->type == REDIS_REPLY_STATUS;
    freeReplyObject(r);
    return *asked ? pay_query(ctx, oid, source, state, err) : MALL_OK;
}
