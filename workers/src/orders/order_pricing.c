/*
 * Order pricing (see order_pricing.h).
 */
#include "order_pricing.h"


int64_t
order_shipping(const order_conf_t *c, int64_t items_fen)
{
    return items_fen >= c->free_shipping_over ? 0 : c->shipping_fen;
}


int
order_price(order_line_t *lines, size_t n, const order_conf_t *c,
    int64_t discount_fen, order_amounts_t *out, mall_err_t *err)
{
    int64_t  items, sub;
    size_t   i;

    if (n == 0) {
        return mall_err_set(err, 422, "an order needs at least one item");
    }
    items = 0;
    for (i = 0; i < n; i++) {
        if (lines[i].price_fen < 0 || lines[i].price_fen > ORDER_PRICE_MAX) {
            return mall_err_set(err, 500, "sku %lld has no valid price",
                                (long long) lines[i].sku_id);
        }
        if (lines[i].quantity < 1) {
            return mall_err_set(err, 422, "quantity must be positive");
        }
        if (__builtin_mul_overflow(lines[i].price_fen, lines[i].quantity,
                                   &sub)
            || __builtin_add_overflow(items, sub, &items))
        {
            return mall_err_set(err, 422, "order amount out of range");
        }
        lines[i].subtotal_fen = sub;
    }
    if (discount_fen < 0) {
        discount_fen = 0;
    }
    if (discount_fen > items) {
        discount_fen = items;
    }
    out->items_fen = items;
    out->shipping_fen = order_shipping(c, items);
    out->discount_fen = discount_fen;
    if (__builtin_add_overflow(items, out->shipping_fen, &out->total_fen)) {
        return mall_err_set(err, 422, "order amount out of range");
    }
    out->total_fen -= discount_fen;
    return MALL_OK;
}
