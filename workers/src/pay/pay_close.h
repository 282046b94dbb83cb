/*
 * Closing an order's payment at WeChat before the order is cancelled or
 * expires (POST /v3/pay/transactions/out-trade-no/{id}/close), so that a
 * buyer cannot pay an order that no longer holds its stock. A close that
 * finds the order paid (ORDERPAID) queries it and turns it paid instead.
 */
#ifndef PAY_CLOSE_H
#define PAY_CLOSE_H

#include "mall_ctx.h"
#include "order_state.h"

/*
 * Closes order oid at WeChat and marks it closed (pay_closed). MALL_OK
 * (closed, or found paid and applied), MALL_RETRY (no trustworthy
 * answer), MALL_ERR.
 */
int pay_close(mall_ctx_t *ctx, const char *oid, mall_err_t *err);

/*
 * order_transition() of a cancel or an expiry, closing the order's
 * prepay first when it has one. An order the close found paid answers
 * ORDER_ILLEGAL with *cur = paid. Same codes as order_transition, except
 * ORDER_NEEDS_CLOSE.
 */
int pay_cancel_order(mall_ctx_t *ctx, const char *oid, const char *owner,
    order_event_e ev, order_actor_e actor, const char *actor_id,
    order_status_e *cur, mall_err_t *err);

#endif
