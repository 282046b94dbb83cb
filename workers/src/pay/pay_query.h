/*
 * Asking WeChat what became of an order's payment (GET /v3/pay/
 * transactions/out-trade-no/{id}?mchid=), for a buyer whose notification
 * is late, for the query job and for a close that found the order paid.
 * A verified SUCCESS answer is applied like a notification (pay_apply).
 */
#ifndef PAY_QUERY_H
#define PAY_QUERY_H

#include "mall_ctx.h"
#include "pay_order.h"
#include "wxpay_resource.h"

/*
 * Queries order oid and applies a payment; *state is WeChat's trade_state
 * ("NOTEXIST" for an order WeChat does not know). MALL_OK, MALL_RETRY (no
 * trustworthy answer), MALL_ERR.
 */
int pay_query(mall_ctx_t *ctx, const char *oid, const char *source,
    char state[WXPAY_STR_MAX], mall_err_t *err);

/*
 * The same, at most once per wxpay_query_interval per order across every
 * process (a SET NX with that expiry): *asked = 0 when it was skipped.
 */
int pay_query_throttled(mall_ctx_t *ctx, const char *oid,
    const char *source, int *asked, mall_err_t *err);

#endif
