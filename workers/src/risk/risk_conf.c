/*
 * Abnormal-order directives (see risk_conf.h).
 */
#include <stddef.h>
#include <string.h>

#include "mall_query.h"
#include "risk_conf.h"

#define RISK_FEN_MAX  100000000000LL     /* 1e9 yuan */


void
risk_conf_init(risk_conf_t *c)
{
    c->orders_per_user = 50;
    c->orders_per_device = 50;
    c->orders_per_address = 200;
    c->addresses_per_user = 5;
    c->device_accounts_per_sku = 5;
    c->new_account_age = 86400;
    c->new_account_max_fen = 1000000;
    c->edge_score = 90;
    c->pay_failures = 5;
}


int
risk_conf_directive(risk_conf_t *c, char **argv, int argc,
    mall_err_t *err)
{
    static const struct {
        const char  *name;
        size_t       off;
        long long    max;
    } ints[] = {
        { "risk_orders_per_user", offsetof(risk_conf_t, orders_per_user),
          1000000 },
        { "risk_orders_per_device", offsetof(risk_conf_t, orders_per_device),
          1000000 },
        { "risk_orders_per_address",
          offsetof(risk_conf_t, orders_per_address), 1000000 },
        { "risk_addresses_per_user",
          offsetof(risk_conf_t, addresses_per_user), 1000 },
        { "risk_device_accounts_per_sku",
          offsetof(risk_conf_t, device_accounts_per_sku), 1000 },
        { "risk_edge_score", offsetof(risk_conf_t, edge_score), 100 },
        { "risk_pay_failures", offsetof(risk_conf_t, pay_failures), 1000 },
    };
    long long  v, fen;
    size_t     i;

    for (i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        if (strcmp(argv[0], ints[i].name) != 0) {
            continue;
        }
        if (argc != 2 || mall_parse_int(argv[1], 0, ints[i].max, &v)
                         != MALL_OK)
        {
            return mall_err_set(err, 0, "%s must be one integer 0..%lld "
                                "(0: off)", argv[0], ints[i].max);
        }
        *(int *) ((char *) c + ints[i].off) = (int) v;
        return MALL_OK;
    }
    if (strcmp(argv[0], "risk_new_account") == 0) {
        if (argc != 3
            || mall_parse_int(argv[1], 0, 365 * 86400, &v) != MALL_OK
            || mall_parse_int(argv[2], 1, RISK_FEN_MAX, &fen) != MALL_OK)
        {
            return mall_err_set(err, 0, "risk_new_account takes <seconds> "
                                "<max_fen> (0 seconds: off)");
        }
        c->new_account_age = (int) v;
        c->new_account_max_fen = fen;
        return MALL_OK;
    }
    return RISK_CONF_NOT_MINE;
}
