/*
 * Abnormal-order directives of mall-worker.conf (parsed through
 * mall_conf.c, as order_conf.c's are). Every threshold counts in the
 * current clock hour (docs/orders.md "Abnormal orders"); 0 turns its rule
 * off.
 *
 *   risk_orders_per_user 50        orders one user may place an hour
 *   risk_orders_per_device 50      orders from one X-Mall-Device an hour
 *   risk_orders_per_address 200    orders to one shipping address (its
 *                                  normalized text, any user) an hour
 *   risk_addresses_per_user 5      distinct addresses one user ships to
 *   risk_device_accounts_per_sku 5 distinct users buying one SKU from one
 *                                  device an hour (the flash-sale shape)
 *   risk_new_account 86400 1000000 an account younger than 86400 s may
 *                                  not place an order over 1000000 fen
 *   risk_edge_score 90             an X-Mall-Risk score at or above it
 *   risk_pay_failures 5            failed payments of one user an hour
 */
#ifndef RISK_CONF_H
#define RISK_CONF_H

#include <stdint.h>

#include "mall_common.h"

#define RISK_CONF_NOT_MINE  1        /* risk_conf_directive(): not ours */

typedef struct {
    int      orders_per_user;
    int      orders_per_device;
    int      orders_per_address;
    int      addresses_per_user;
    int      device_accounts_per_sku;
    int      new_account_age;        /* seconds; 0 = rule off */
    int64_t  new_account_max_fen;
    int      edge_score;             /* 1..100; 0 = rule off */
    int      pay_failures;
} risk_conf_t;

void risk_conf_init(risk_conf_t *c);

/*
 * Applies one directive (argv[0] is its name). MALL_OK, MALL_ERR with the
 * reason in err, or RISK_CONF_NOT_MINE when it is not a risk one.
 */
int risk_conf_directive(risk_conf_t *c, char **argv, int argc,
    mall_err_t *err);

#endif
