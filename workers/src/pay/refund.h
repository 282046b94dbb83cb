/*
 * Refunds through WeChat Pay (keys: pay_keys.h; flows: docs/payments.md).
 *
 * A refund is recorded before WeChat hears of it: its record (status
 * "submitting"), the amount reserved on the order (refund_reserved_fen, so
 * the sum of refunds never passes what was paid) and its entry in
 * mall:refunds:due are one EXEC with whatever asked for it. It is then
 * submitted with its fixed out_refund_no, so a submission without an
 * answer (timeout, crash) is simply sent again by the refund job: WeChat
 * refunds one out_refund_no once. What WeChat answers or notifies moves
 * the record: processing -> success (refunded_fen grows; a full refund
 * moves the order to refunded and, when the goods never shipped, gives
 * the stock back), closed (the reservation is freed), abnormal (kept,
 * anomaly: the merchant settles it by hand); a definitive refusal marks it
 * failed and frees the reservation.
 */
#ifndef REFUND_H
#define REFUND_H

#include <stdint.h>

#include "mall_batch.h"
#include "mall_ctx.h"
#include "order_store.h"
#include "pay_order.h"
#include "wxpay_resource.h"

#define REFUND_REASON_CHARS  80
#define REFUND_REASON_BYTES  (REFUND_REASON_CHARS * 4 + 1)
#define REFUND_NO_MAX        WXPAY_STR_MAX

typedef enum {
    REFUND_NONE = 0,
    REFUND_SUBMITTING,          /* recorded; WeChat has not confirmed it */
    REFUND_PROCESSING,          /* WeChat accepted it */
    REFUND_SUCCESS,
    REFUND_CLOSED,
    REFUND_ABNORMAL,
    REFUND_FAILED,              /* WeChat refused the request */
    REFUND_COUNT
} refund_status_e;

typedef struct {
    char             no[REFUND_NO_MAX];
    char             oid[ORDER_ID_MAX];
    refund_status_e  status;
    int64_t          amount;
    int64_t          total;         /* the order's paid total */
    int64_t          attempts;
    char             refund_id[WXPAY_STR_MAX];
    char             reason[REFUND_REASON_BYTES];
    int              accepted;      /* in the day's ledger already */
    int64_t          aftersale;     /* the after-sale it pays, or 0 */
} refund_rec_t;

const char *refund_status_name(refund_status_e s);

/* The out_refund_no of order oid for tag ("late", or a key digest). */
void refund_number(const char *oid, const char *tag,
    char out[REFUND_NO_MAX]);

/*
 * Appends a new refund of amount fen of order h (inside the order's
 * MULTI): reservation, record, the order's list, due now.
 */
void refund_batch_new(mall_batch_t *b, const order_head_t *h, const char *no,
    int64_t amount, const char *reason, const char *actor,
    const char *actor_id);

/*
 * Reads refund no (WATCHing it first when watch: call it from an
 * order_update plan). r->status is REFUND_NONE when there is none.
 */
int refund_load(mall_ctx_t *ctx, const char *no, int watch, refund_rec_t *r,
    mall_err_t *err);

/*
 * Sends refund no to WeChat when it is submitting, or asks WeChat about
 * it when it is processing, and applies the answer. MALL_OK (whatever
 * became of it), MALL_RETRY (no answer: it is due again later), MALL_ERR.
 */
int refund_submit(mall_ctx_t *ctx, const char *no, mall_err_t *err);

/*
 * Applies what WeChat says of a refund (a verified answer, query or
 * notification). MALL_OK with *outcome, MALL_ERR or MALL_RETRY.
 */
int refund_apply(mall_ctx_t *ctx, const wxpay_refund_t *r,
    const char *source, const char *nid, pay_outcome_e *outcome,
    mall_err_t *err);

/* Job: submits or queries up to max refunds that are due. */
int refund_run_due(mall_ctx_t *ctx, size_t max, mall_err_t *err);

#endif
