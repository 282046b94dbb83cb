/*
 * Payments applied to orders. A transaction object that WeChat vouched
 * for (a verified notification, or the verified answer of a query or a
 * close) moves its order unpaid -> paid exactly once: the state change,
 * the stock holds settled for good, the payment fields, the day's ledger
 * entry and the index clean-up are one MULTI/EXEC under WATCH of the
 * order, so duplicates and races (50 copies of one notification, a
 * notification and a query, a payment and a cancel) settle on one winner
 * and the others find the order paid.
 *
 * Checks first, and a failed one changes nothing but the anomaly stream:
 * mchid and appid are ours, out_trade_no is one of our orders, amount.total
 * is the order's total_fen in CNY, trade_state is SUCCESS (or REFUND: paid,
 * then refunding). A payment for an order already cancelled (the buyer paid
 * as it timed out) is recorded on the order and a full refund is queued in
 * the same EXEC (pay_late).
 */
#ifndef PAY_ORDER_H
#define PAY_ORDER_H

#include "mall_ctx.h"
#include "wxpay_resource.h"

typedef enum {
    PAY_APPLIED = 0,        /* the change happened now */
    PAY_DUPLICATE,          /* it had happened before: nothing changed */
    PAY_LATE,               /* paid after cancel: recorded, refund queued */
    PAY_REJECTED            /* a check failed: anomaly written, no change */
} pay_outcome_e;

/*
 * Applies transaction t; source ("notify", "query", "close") is recorded
 * with it, nid is the notification id (or NULL). MALL_OK with *outcome
 * (the reason of a rejection in err->msg), MALL_ERR or MALL_RETRY.
 */
int pay_apply(mall_ctx_t *ctx, const wxpay_txn_t *t, const char *source,
    const char *nid, pay_outcome_e *outcome, mall_err_t *err);

#endif
