/*
 * Payments applied to orders (see pay_order.h).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mall_log.h"
#include "notify.h"
#include "order_store.h"
#include "pay_anomaly.h"
#include "pay_keys.h"
#include "mall_metrics.h"
#include "pay_order.h"
#include "refund.h"
#include "stock.h"
#include "wxpay_time.h"

typedef struct {
    const wxpay_txn_t  *t;
    const char         *source;
    const char         *nid;
    int64_t             paid_at;
    pay_outcome_e       outcome;
    const char         *why;         /* a rejection's anomaly kind */
    char                detail[160];
} apply_t;


/* The payment fields and the day's ledger entry. */
static void
batch_payment(mall_batch_t *b, const order_head_t *h, const apply_t *a)
{
    char  key[ORDER_KEY_MAX], at[24], fen[24], day[9], entry[96];

    order_key(key, sizeof(key), ORDER_KEY_ORDER, h->id, NULL);
    snprintf(at, sizeof(at), "%lld", (long long) a->paid_at);
    snprintf(fen, sizeof(fen), "%lld", (long long) a->t->total);
    mall_batch_addl(b, 12, "HSET", key, "pay_transaction_id",
                    a->t->transaction_id, "paid_at", at, "pay_total", fen,
                    "pay_bank", a->t->bank_type, "pay_source", a->source);
    wxpay_day_key(a->paid_at, day);
    order_key(key, sizeof(key), PAY_KEY_DAY, day, NULL);
    snprintf(entry, sizeof(entry), "%s %lld", a->t->transaction_id,
             (long long) a->t->total);
    mall_batch_addl(b, 4, "HSET", key, h->id, entry);
}


/* unpaid -> paid: the transition, the holds settled, the payment. */
static void
batch_paid(mall_batch_t *b, const order_head_t *h, const apply_t *a)
{
    size_t  i;

    order_batch_transition(b, h, ORDER_ST_PAID, ORDER_EV_PAY,
                           ORDER_ACTOR_SYSTEM, a->source);
    notify_batch_event(b, NOTIFY_EV_PAID, h->id, NULL);
    for (i = 0; i < h->nitems; i++) {
        stock_batch_settle(b, h->items[i].sku_id, h->id);
    }
    batch_payment(b, h, a);
}


/* Paid after it was cancelled: record it and queue the full refund. */
static void
batch_late(mall_batch_t *b, const order_head_t *h, const apply_t *a)
{
    char           key[ORDER_KEY_MAX], no[REFUND_NO_MAX];
    order_head_t   paid = *h;

    batch_payment(b, h, a);
    order_key(key, sizeof(key), ORDER_KEY_ORDER, h->id, NULL);
    mall_batch_addl(b, 4, "HSET", key, "pay_late", "1");
    paid.pay_total = a->t->total;
    refund_number(h->id, "late", no);
    refund_batch_new(b, &paid, no, a->t->total, "订单已取消，自动退款",
                     "system", "late-payment");
    pay_batch_anomaly(b, &(pay_anomaly_t) {
        .kind = "paid_after_cancel",
        .out_trade_no = h->id,
        .out_refund_no = no,
        .notification = a->nid,
        .detail = "paid after the order was cancelled: refunded in full",
    });
}


/* A failed check: nothing is written (ORDER_PLAN_NONE). */
static int
reject(apply_t *a, const char *why, const char *detail)
{
    a->outcome = PAY_REJECTED;
    a->why = why;
    snprintf(a->detail, sizeof(a->detail), "%s", detail);
    return ORDER_PLAN_NONE;
}


static int
apply_plan(mall_ctx_t *ctx, const order_head_t *h, mall_batch_t *b,
    void *arg)
{
    apply_t  *a = arg;
    char      detail[96];

    (void) ctx;
    if (h->status == ORDER_ST_NONE) {
        return reject(a, "unknown_order", "no such order");
    }
    if (a->t->total != h->total_fen) {
        snprintf(detail, sizeof(detail), "WeChat says %lld fen, the order "
                 "is %lld fen", (long long) a->t->total,
                 (long long) h->total_fen);
        return reject(a, "amount_mismatch", detail);
    }
    if (h->transaction_id[0] != '\0') {
        if (strcmp(h->transaction_id, a->t->transaction_id) != 0) {
            return reject(a, "second_transaction", "the order was paid by "
                          "another transaction");
        }
        a->outcome = PAY_DUPLICATE;
        return ORDER_PLAN_NONE;
    }
    if (h->status == ORDER_ST_UNPAID) {
        batch_paid(b, h, a);
        a->outcome = PAY_APPLIED;
        return MALL_OK;
    }
    if (h->status == ORDER_ST_CANCELLED) {
        batch_late(b, h, a);
        a->outcome = PAY_LATE;
        return MALL_OK;
    }
    snprintf(detail, sizeof(detail), "the order is %s and has no payment",
             order_status_name(h->status));
    return reject(a, "paid_in_wrong_state", detail);
}


/* The checks that need no order: ours, paid, in CNY. */
static const char *
precheck(mall_ctx_t *ctx, const wxpay_txn_t *t)
{
    if (strcmp(t->mchid, ctx->conf->pay.mchid) != 0) {
        return "wrong_mchid";
    }
    if (strcmp(t->appid, ctx->conf->auth.wechat_appid) != 0) {
        return "wrong_appid";
    }
    if (!order_id_valid(t->out_trade_no)) {
        return "unknown_order";
    }
    if (strcmp(t->trade_state, "SUCCESS") != 0
        && strcmp(t->trade_state, "REFUND") != 0)
    {
        return "not_paid";
    }
    if (t->transaction_id[0] == '\0' || strchr(t->transaction_id, ' ')) {
        return "no_transaction_id";
    }
    if (strcmp(t->currency, "CNY") != 0) {
        return "wrong_currency";
    }
    return NULL;
}


static int
pay_apply_txn(mall_ctx_t *ctx, const wxpay_txn_t *t, const char *source,
    const char *nid, pay_outcome_e *outcome, mall_err_t *err)
{
    order_head_t    h;
    apply_t         a;
    redisReply     *exec;
    const char     *why;
    int             rc;

    memset(&a, 0, sizeof(a));
    a.t = t;
    a.source = source;
    a.nid = nid;
    if (t->success_time[0] == '\0'
        || wxpay_time_parse(t->success_time, &a.paid_at) != MALL_OK)
    {
        a.paid_at = (int64_t) time(NULL);
    }
    why = precheck(ctx, t);
    if (why == NULL) {
        rc = order_update(ctx, t->out_trade_no, apply_plan, &a, &h, &exec,
                          err);
        if (rc == MALL_OK) {
            freeReplyObject(exec);
        } else if (rc == MALL_BATCH_ABORTED) {
            mall_err_set(err, 503, "order %s keeps changing",
                         t->out_trade_no);
            return MALL_RETRY;
        } else if (rc != ORDER_PLAN_NONE) {
            return rc;
        }
        why = a.outcome == PAY_REJECTED ? a.why : NULL;
    } else {
        snprintf(a.detail, sizeof(a.detail), "%s", why);
    }
    if (why != NULL) {
        pay_anomaly(ctx, &(pay_anomaly_t) {
            .kind = why,
            .out_trade_no = t->out_trade_no,
            .notification = nid,
            .detail = a.detail,
        });
        mall_err_set(err, 400, "%s", why);
        *outcome = PAY_REJECTED;
        return MALL_OK;
    }
    *outcome = a.outcome;
    if (a.outcome == PAY_APPLIED) {
        mall_log_req(MALL_LOG_INFO, "pay", ctx->request_id, h.uid,
                     "order %s paid (%lld fen, by %s)", h.id,
                     (long long) t->total, source);
    } else if (a.outcome == PAY_LATE) {
        /* the refund job (every second) sends the refund */
        mall_log_req(MALL_LOG_WARN, "pay", ctx->request_id, h.uid,
                     "order %s paid after it was cancelled: refund queued",
                     h.id);
    }
    return MALL_OK;
}


/* pay_apply_txn, counted by outcome (mall_metrics.h) */
int
pay_apply(mall_ctx_t *ctx, const wxpay_txn_t *t, const char *source,
    const char *nid, pay_outcome_e *outcome, mall_err_t *err)
{
    int  rc;

    rc = pay_apply_txn(ctx, t, source, nid, outcome, err);
    mall_metrics_payment(rc != MALL_OK ? MM_PAY_ERROR
                         : *outcome == PAY_APPLIED ? MM_PAY_APPLIED
                         : *outcome == PAY_DUPLICATE ? MM_PAY_DUPLICATE
                         : *outcome == PAY_LATE ? MM_PAY_LATE
                         : MM_PAY_REJECTED);
    return rc;
}
