/*
 * Cart request bodies, the pure part of cart.c (fuzzed by
 * tests/fuzz/fuzz_cart.c):
 *
 *   POST  /api/v1/cart/items            {"sku_id", "quantity"?}
 *   PATCH /api/v1/cart/items/{sku_id}   {"quantity"?, "selected"?}
 */
#ifndef CART_BODY_H
#define CART_BODY_H

#include <stdint.h>
#include <cjson/cJSON.h>

#include "mall_common.h"

#define CART_QTY_MAX     99

/*
 * The add body: sku_id (a positive id) and quantity (1..99, default 1).
 * MALL_OK, or MALL_ERR with *field and *msg for a 422.
 */
int cart_body_add(const cJSON *body, int64_t *sku, int64_t *qty,
    const char **field, const char **msg);

/*
 * The patch body: *qty 1..99 or 0 when absent, *selected 1/0 or -1 when
 * absent; at least one of them. MALL_OK, or MALL_ERR with *field, *msg.
 */
int cart_body_patch(const cJSON *body, int64_t *qty, int *selected,
    const char **field, const char **msg);

#endif
