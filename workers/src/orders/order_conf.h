/*
 * Order directives of mall-worker.conf (parsed through mall_conf.c, the
 * way auth_conf.c handles the identity ones). Plain data.
 *
 *   order_pay_timeout 1800        seconds an unpaid order holds its stock
 *   order_max_lines 20            distinct SKUs per order (1..50)
 *   order_max_quantity 99         units per line (1..10000)
 *   order_purchase_limit 0        units of one SKU a user may hold in
 *                                 non-cancelled orders; 0 = no limit
 *   order_shipping 9900 800       free shipping from 9900 fen of goods,
 *                                 else 800 fen (0 0 = always free)
 */
#ifndef ORDER_CONF_H
#define ORDER_CONF_H

#include <stdint.h>

#include "mall_common.h"

#define ORDER_CONF_NOT_MINE  1       /* order_conf_directive(): not ours */
#define ORDER_LINES_MAX      50      /* hard cap of order_max_lines */
#define ORDER_COUPONS_MAX    10      /* coupons one order may use */

typedef struct {
    int      pay_timeout;            /* seconds */
    int      max_lines;
    int      max_quantity;
    int      purchase_limit;         /* 0 = off */
    int64_t  free_shipping_over;     /* fen; items_fen >= this: free */
    int64_t  shipping_fen;
    int      stock_check_interval;   /* s between stock checks; 0 = off */
} order_conf_t;

void order_conf_init(order_conf_t *c);

/*
 * Applies one directive (argv[0] is its name). MALL_OK, MALL_ERR with the
 * reason in err, or ORDER_CONF_NOT_MINE when it is not an order one.
 */
int order_conf_directive(order_conf_t *c, char **argv, int argc,
    mall_err_t *err);

#endif
