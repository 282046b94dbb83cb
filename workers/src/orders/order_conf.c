/*
 * Order directives (see order_conf.h).
 */
#include <string.h>

#include "mall_query.h"
#include "order_conf.h"

#define ORDER_FEN_MAX  100000000000LL    /* 1e9 yuan: far above any order */


void
order_conf_init(order_conf_t *c)
{
    c->pay_timeout = 1800;
    c->max_lines = 20;
    c->max_quantity = 99;
    c->purchase_limit = 0;
    c->free_shipping_over = 9900;
    c->shipping_fen = 800;
    c->stock_check_interval = 3600;
}


/* One integer directive value in [min, max]. */
static int
order_conf_int(char **argv, int argc, long long min, long long max,
    long long *v, mall_err_t *err)
{
    if (argc != 2 || mall_parse_int(argv[1], min, max, v) != MALL_OK) {
        return mall_err_set(err, 0, "%s must be one integer %lld..%lld",
                            argv[0], min, max);
    }
    return MALL_OK;
}


int
order_conf_directive(order_conf_t *c, char **argv, int argc,
    mall_err_t *err)
{
    long long  v, fee;

    if (strcmp(argv[0], "order_pay_timeout") == 0) {
        if (order_conf_int(argv, argc, 1, 7 * 86400, &v, err) != MALL_OK) {
            return MALL_ERR;
        }
        c->pay_timeout = (int) v;
        return MALL_OK;
    }
    if (strcmp(argv[0], "stock_check_interval") == 0) {
        if (order_conf_int(argv, argc, 0, 7 * 86400, &v, err) != MALL_OK) {
            return MALL_ERR;
        }
        c->stock_check_interval = (int) v;
        return MALL_OK;
    }
    if (strcmp(argv[0], "order_max_lines") == 0) {
        if (order_conf_int(argv, argc, 1, ORDER_LINES_MAX, &v, err)
            != MALL_OK)
        {
            return MALL_ERR;
        }
        c->max_lines = (int) v;
        return MALL_OK;
    }
    if (strcmp(argv[0], "order_max_quantity") == 0) {
        if (order_conf_int(argv, argc, 1, 10000, &v, err) != MALL_OK) {
            return MALL_ERR;
        }
        c->max_quantity = (int) v;
        return MALL_OK;
    }
    if (strcmp(argv[0], "order_purchase_limit") == 0) {
        if (order_conf_int(argv, argc, 0, 1000000, &v, err) != MALL_OK) {
            return MALL_ERR;
        }
        c->purchase_limit = (int) v;
        return MALL_OK;
    }
    if (strcmp(argv[0], "order_shipping") == 0) {
        if (argc != 3
            || mall_parse_int(argv[1], 0, ORDER_FEN_MAX, &v) != MALL_OK
            || mall_parse_int(argv[2], 0, ORDER_FEN_MAX, &fee) != MALL_OK)
        {
            return mall_err_set(err, 0, "order_shipping takes "
                                "<free_over_fen> <fee_fen>");
        }
        c->free_shipping_over = v;
        c->shipping_fen = fee;
        return MALL_OK;
    }
    return ORDER_CONF_NOT_MINE;
}
