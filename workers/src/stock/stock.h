/*
 * Stock bookkeeping, in one place for every writer: orders take and give
 * back units, payment settles them, the merchant edits them, and what is
 * derived from them follows (a product's in_stock flag and card, the
 * in-stock filter set, the low-stock set and alert stream, the purge
 * event the edges follow).
 *
 * Keys (prefix "mall:"):
 *   mall:sku:{id}                 field stock: units left (may dip below 0
 *                                 for a moment when orders race for the
 *                                 last units; such an order gives them back)
 *   mall:order:{oid}:hold:{sku}   the SKU hash as it was right after the
 *                                 order took its units (COPY in the same
 *                                 MULTI): its stock field says whether that
 *                                 order found enough. Kept while the units
 *                                 are held (unpaid), dropped on settle/give
 *   mall:low_stock                set    sku ids at or below their threshold
 *   mall:alerts:low_stock         stream sku_id product_id stock threshold ts
 *   mall:stock:resync             set    "{product}:{sku}:{before}" whose
 *                                 derived state must still be brought in line
 *
 * No Lua: a take is an unconditional HINCRBY whose result the taker reads
 * in the EXEC reply; docs/orders.md gives the argument why nothing is
 * ever oversold.
 */
#ifndef STOCK_H
#define STOCK_H

#include <stdint.h>
#include <time.h>

#include "mall_batch.h"
#include "mall_ctx.h"

#define STOCK_KEY_LOW       "mall:low_stock"
#define STOCK_KEY_ALERTS    "mall:alerts:low_stock"
#define STOCK_KEY_RESYNC    "mall:stock:resync"
#define STOCK_KEY_MAX       96

/* One SKU's stock before and after a change, for the derived state. */
typedef struct {
    int64_t  sku_id;
    int64_t  product_id;
    int64_t  before;
    int64_t  after;
    int64_t  threshold;        /* -1: the config's low_stock_threshold */
    int64_t  before_threshold; /* the threshold before (alerts) */
    int      was_on_sale;
    int      on_sale;
} stock_change_t;

/* "in_stock", "low" or "out_of_stock". */
const char *stock_state(int64_t stock, int64_t threshold);

/* The effective low-stock threshold of a SKU (-1: the config's). */
int64_t stock_threshold(const mall_conf_t *conf, int64_t sku_threshold);

/* 1 when a change moved stock across zero or across the threshold. */
int stock_crossed(int64_t before, int64_t after, int64_t threshold);

/* The hold record of holder (an order id) on sku. */
void stock_hold_key(char *buf, size_t sz, const char *holder, int64_t sku);

/*
 * Appends the take of q units of sku by holder: HINCRBY stock -q (its
 * reply is the stock after), then COPY of the SKU hash into the hold key.
 * Two commands; put them inside the holder's MULTI.
 */
void stock_batch_take(mall_batch_t *b, int64_t sku, int64_t q,
    const char *holder);

/* Appends the give-back: HINCRBY stock +q (reply first), DEL the hold. */
void stock_batch_give(mall_batch_t *b, int64_t sku, int64_t q,
    const char *holder);

/* Appends the settle of a paid hold: the units stay sold, DEL the hold. */
void stock_batch_settle(mall_batch_t *b, int64_t sku, const char *holder);

/*
 * Appends the low-stock state of one SKU after a change: SREM, or SADD
 * and, when it has just become low, an alert entry.
 */
void stock_batch_low(mall_batch_t *b, const mall_conf_t *conf,
    const stock_change_t *c, time_t now);

/*
 * After stock moved outside a catalog edit (orders, cancels): for every
 * product among changes[0..n) whose SKUs crossed a boundary, brings its
 * derived state in line (one MULTI/EXEC under WATCH of the product and
 * its SKUs, retried a few times); a product still contended is queued in
 * mall:stock:resync for the timer. Never fails the caller.
 */
void stock_follow_up(mall_ctx_t *ctx, const stock_change_t *changes,
    size_t n);

/* Timer job: syncs up to max queued products. MALL_OK or MALL_RETRY. */
int stock_resync_run(mall_ctx_t *ctx, size_t max, mall_err_t *err);

#endif
