/*
 * Daily reconciliation: WeChat's trade bill of a Beijing day against the
 * payments and refunds this mall recorded for that day (mall:pay:day:*,
 * mall:refund:day:*, written in the same EXEC as each payment and each
 * refund WeChat accepted). Every difference is named: a payment or refund
 * WeChat has and we do not (missing_locally), one we have and WeChat does
 * not (missing_at_wechat), the same one with another amount or
 * transaction (amount_mismatch, transaction_mismatch). The report is kept
 * (mall:reconcile:{date}, 100 days), listed in the admin API, logged, and
 * each mismatch goes to the payment-anomaly stream.
 */
#ifndef RECONCILE_H
#define RECONCILE_H

#include <cjson/cJSON.h>

#include "mall_ctx.h"

#define RECONCILE_TTL   "8640000"          /* 100 days */

/*
 * Reconciles date ("YYYY-MM-DD", Beijing). *out is the report (caller
 * deletes). MALL_OK, MALL_RETRY (WeChat or Redis did not answer, or the
 * bill is still being made), MALL_ERR (err says why: a bad date, a bill
 * whose hash does not match, ...).
 */
int reconcile_run(mall_ctx_t *ctx, const char *date, cJSON **out,
    mall_err_t *err);

/*
 * The daily job: once the Beijing time is past wxpay_reconcile_at, runs
 * the day before if it has no report yet (one process: a claim).
 */
int reconcile_daily(mall_ctx_t *ctx, mall_err_t *err);

/*
 * mall-worker -c <conf> -r <date|yesterday>: one reconciliation from the
 * command line (blocking calls; the report on stdout). Exit status 0 when
 * the books agree, 2 when there are mismatches, 75 when WeChat or Redis
 * did not answer, 78 without payments configured, 1 on other errors.
 */
int reconcile_tool(const mall_conf_t *conf, const char *date);

#endif
