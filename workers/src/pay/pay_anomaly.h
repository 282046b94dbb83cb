/*
 * The payment-anomaly stream (mall:pay:anomalies, capped): every
 * notification refused, every payment that arrived for a cancelled order,
 * every refund WeChat refused or could not complete, every reconciliation
 * mismatch. One entry: kind, out_trade_no, out_refund_no, notification id,
 * detail, ts. Admins read it at GET /admin/api/v1/payments/anomalies.
 * Never holds a key, a signature or a decrypted resource.
 */
#ifndef PAY_ANOMALY_H
#define PAY_ANOMALY_H

#include "mall_batch.h"
#include "mall_ctx.h"

typedef struct {
    const char  *kind;              /* "bad_signature", "paid_after_cancel" */
    const char  *out_trade_no;      /* NULL: none */
    const char  *out_refund_no;
    const char  *notification;      /* the notification id, NULL: none */
    const char  *detail;
} pay_anomaly_t;

/* Appends the XADD of a into a batch (inside the change's MULTI). */
void pay_batch_anomaly(mall_batch_t *b, const pay_anomaly_t *a);

/* Writes a on its own and logs it (best effort: a failure is logged). */
void pay_anomaly(mall_ctx_t *ctx, const pay_anomaly_t *a);

#endif
