/*
 * Server-side order pricing: integer fen only, never a client's figure.
 * Pure code (no Redis), unit-tested in tests/unit/test_order_pricing.c.
 *
 *   subtotal_fen = price_fen * quantity            per line
 *   items_fen    = sum of subtotals
 *   shipping_fen = 0 when items_fen >= free_shipping_over, else
 *                  shipping_fen of the config
 *   discount_fen = what coupons/promotions take off, at most items_fen
 *   total_fen    = items_fen + shipping_fen - discount_fen
 */
#ifndef ORDER_PRICING_H
#define ORDER_PRICING_H

#include <stddef.h>
#include <stdint.h>

#include "mall_common.h"
#include "order_conf.h"

#define ORDER_PRICE_MAX  100000000000LL     /* per unit, as the catalog */

typedef struct {
    int64_t  sku_id;
    int64_t  quantity;
    int64_t  price_fen;            /* from mall:sku:{id}, set by the caller */
    int64_t  subtotal_fen;         /* set by order_price() */
} order_line_t;

typedef struct {
    int64_t  items_fen;
    int64_t  shipping_fen;
    int64_t  discount_fen;
    int64_t  total_fen;
} order_amounts_t;

/*
 * Prices lines[0..n) (filling each subtotal) under the shipping rule of
 * c, taking off discount_fen (clamped to [0, items_fen]). MALL_OK, or
 * MALL_ERR (err) for an empty order, a price or quantity out of range or
 * an amount that would overflow.
 */
int order_price(order_line_t *lines, size_t n, const order_conf_t *c,
    int64_t discount_fen, order_amounts_t *out, mall_err_t *err);

/* Shipping fee for goods worth items_fen under c's rule. */
int64_t order_shipping(const order_conf_t *c, int64_t items_fen);

#endif
