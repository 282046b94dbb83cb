/*
 * Redis data model of payments and refunds (prefix "mall:"); docs/
 * payments.md tells the flows. A payment lives in its order's own hash,
 * so a payment, a cancel and a refund of one order are each one
 * MULTI/EXEC under WATCH of that one key:
 *
 *   mall:order:{oid}               hash, payment fields:
 *        pay_prepay_id, pay_prepay_expires (s)   the JSAPI prepay
 *        pay_closed                1: closed at WeChat (cancel/expiry)
 *        pay_transaction_id, paid_at (s), pay_total (fen WeChat took),
 *        pay_bank, pay_source      (notify | query | close)
 *        pay_late                  1: paid after the order was cancelled
 *                                  (refunded automatically)
 *        refund_reserved_fen       sum of refunds submitted and not closed
 *                                  or failed (bounds new ones)
 *        refunded_fen              sum of refunds WeChat completed
 *   mall:pay:watch                 zset  oid -> pay_deadline: unpaid orders
 *                                        with a prepay (the query job)
 *   mall:pay:queried:{oid}         string, EX wxpay_query_interval: a read
 *                                        queried WeChat about it lately
 *   mall:pay:payerror:{oid}        string, EX 2 days: a query found the
 *                                        payment failed (PAYERROR) and it
 *                                        was counted (once per order)
 *   mall:pay:day:{YYYYMMDD}        hash  oid -> "{transaction_id} {fen}":
 *                                        the payments of a Beijing day (the
 *                                        local side of reconciliation)
 *   mall:pay:anomalies             stream kind, out_trade_no, detail,
 *                                        notification, at: notifications
 *                                        refused, late payments, mismatches
 *                                        (capped, for the admin API)
 *   mall:refund:{out_refund_no}    hash  order_id, amount, total, reason,
 *                                        status (submitting | processing |
 *                                        success | closed | abnormal |
 *                                        failed), refund_id, actor,
 *                                        actor_id, created_at, updated_at,
 *                                        success_time, attempts, error
 *   mall:order:{oid}:refunds       list  out_refund_no, oldest first
 *   mall:refunds:due               zset  out_refund_no -> when (s): refunds
 *                                        to submit again or to query
 *   mall:refund:day:{YYYYMMDD}     hash  out_refund_no -> "{refund_id}
 *                                        {fen}" by the day WeChat accepted
 *                                        it (the bill's refund rows)
 *   mall:reconcile:{YYYY-MM-DD}    string the last report of that day
 *   mall:reconcile:reports         zset  date -> when it ran
 *   mall:reconcile:claim:{date}    string NX EX: one process runs it
 */
#ifndef PAY_KEYS_H
#define PAY_KEYS_H

#define PAY_KEY_WATCH           "mall:pay:watch"
#define PAY_KEY_QUERIED         "mall:pay:queried:%s"
#define PAY_KEY_PAYERROR        "mall:pay:payerror:%s"
#define PAY_PAYERROR_TTL        "172800"
#define PAY_KEY_DAY             "mall:pay:day:%s"
#define PAY_KEY_ANOMALIES       "mall:pay:anomalies"
#define PAY_ANOMALIES_MAX       "10000"
#define PAY_KEY_REFUND          "mall:refund:%s"
#define PAY_KEY_ORDER_REFUNDS   "mall:order:%s:refunds"
#define PAY_KEY_REFUNDS_DUE     "mall:refunds:due"
#define PAY_KEY_REFUND_DAY      "mall:refund:day:%s"
#define PAY_KEY_RECONCILE       "mall:reconcile:%s"
#define PAY_KEY_RECONCILE_RUNS  "mall:reconcile:reports"
#define PAY_KEY_RECONCILE_CLAIM "mall:reconcile:claim:%s"

#define PAY_PREPAY_TTL          7200     /* a prepay_id lives 2 hours */
#define PAY_PREPAY_MARGIN       300      /* renewed this long before */

#endif
