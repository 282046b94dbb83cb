/*
 * The stock reconciliation (mallctl check-stock, and a periodic job in
 * the workers): what a crash may leave behind, found and put right.
 *
 *   a hold record (stock.h) of an order that is gone or no longer unpaid
 *       (its units were given back or settled with it): dropped
 *   an unpaid order past its deadline that the expiry queue lost: queued
 *       again, so the expiry gives its units back as usual
 *   an unpaid order whose hold says the stock went below zero (it lost
 *       the race for the last units and its creator died before undoing
 *       it): voided, its units back
 *   a SKU whose stock is below zero with no such order to explain it:
 *       reported (the merchant sets the stock)
 *
 * It reads with SCAN, so it never blocks Redis; with repair unset it only
 * reports. The report: {"ok", "holds", "skus", "findings": [{"kind",
 * "order_id"?, "sku_id"?, "stock"?, "repaired"}]}.
 */
#ifndef STOCK_CHECK_H
#define STOCK_CHECK_H

#include <cjson/cJSON.h>

#include "mall_ctx.h"

#define STOCK_CHECK_GRACE  60        /* s past a deadline before requeueing */
#define STOCK_CHECK_LOCK   "mall:lock:stock_check"

/* One pass. MALL_OK with *report (caller deletes), MALL_ERR, MALL_RETRY. */
int stock_check_run(mall_ctx_t *ctx, int repair, cJSON **report,
    mall_err_t *err);

/* mall-worker -k: one pass with repairs, the report on stdout; exit 0
 * when nothing was found, 2 when something was, 75/1 on errors. */
int stock_check_tool(const mall_conf_t *conf);

struct event_base;
typedef struct stock_check_job_s  stock_check_job_t;

/* The periodic pass (every conf->order.stock_check_interval s, one
 * process at a time through STOCK_CHECK_LOCK); NULL when turned off. */
stock_check_job_t *stock_check_start(struct event_base *base,
    const mall_conf_t *conf, mall_redis_t *redis);
void stock_check_stop(stock_check_job_t *j);

#endif
