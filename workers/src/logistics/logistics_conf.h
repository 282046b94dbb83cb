/*
 * Logistics directives of mall-worker.conf (parsed by mall_conf.c through
 * logistics_conf_directive()). Plain data, copied by value on reload. The
 * carrier-tracking API is on when logistics_api_base is set; then the
 * customer id and the key must be given too. Off: order detail shows the
 * merchant's manual entries only (timeline_status "disabled").
 *
 *   logistics_api_base https://poll.kuaidi100.com
 *                                  Kuaidi100-style query API (POST
 *                                  /poll/query.do under it)
 *   logistics_customer_file /keys/carrier/customer
 *                                  the account's customer id
 *   logistics_key_file /keys/carrier/key
 *                                  the account's key (signs each query)
 *   logistics_cache_ttl 1800       seconds a fetched timeline is fresh:
 *                                  detail reads within it never call the
 *                                  carrier
 *   logistics_error_retry 60       seconds after a failed query before the
 *                                  carrier is asked again (meanwhile the
 *                                  last good timeline is shown, "stale")
 *   logistics_timeout_ms 2000      one query, connection included
 */
#ifndef LOGISTICS_CONF_H
#define LOGISTICS_CONF_H

#include "mall_common.h"

#define LOGISTICS_CONF_NOT_MINE  1   /* logistics_conf_directive(): no */
#define LOGISTICS_URL_MAX        256
#define LOGISTICS_SECRET_MAX     129

typedef struct {
    char      api_base[LOGISTICS_URL_MAX];      /* "" = carrier off */
    char      customer[LOGISTICS_SECRET_MAX];
    char      key[LOGISTICS_SECRET_MAX];
    int       cache_ttl;                        /* seconds */
    int       error_retry;                      /* seconds */
    int       timeout_ms;
    unsigned  seen;
} logistics_conf_t;

void logistics_conf_init(logistics_conf_t *c);

/*
 * Applies one directive (argv[0] is its name). MALL_OK, MALL_ERR with the
 * reason in err, or LOGISTICS_CONF_NOT_MINE. Secret files are read here.
 */
int logistics_conf_directive(logistics_conf_t *c, char **argv, int argc,
    mall_err_t *err);

/* After the whole file: a base URL needs the customer id and the key. */
int logistics_conf_validate(const logistics_conf_t *c, mall_err_t *err);

/* 1 when the carrier API is configured. */
int logistics_conf_enabled(const logistics_conf_t *c);

/* Overwrites the key. */
void logistics_conf_wipe(logistics_conf_t *c);

#endif
