/*
 * Redis high-availability directives of mall-worker.conf (parsed through
 * mall_conf.c, the way order_conf.c does its own):
 *
 *   redis_sentinels 127.0.0.1:26391,127.0.0.1:26392   Sentinels to ask for
 *                                  the primary ("off": none, the default;
 *                                  then "redis" names the one server)
 *   redis_master_name mall         the name the Sentinels monitor
 *   redis_wait_replicas 0          replicas that must have an order or
 *                                  payment change before it is
 *                                  acknowledged (WAIT); 0 = off
 *   redis_wait_timeout_ms 200      how long WAIT may take; fewer replicas
 *                                  by then: 503 UNAVAILABLE (the change
 *                                  stays, a retry with the same key finds
 *                                  it); below redis_timeout_ms
 *
 * docs/scaling.md and conf/ha/README.md have the two-node layout.
 */
#ifndef REDIS_HA_CONF_H
#define REDIS_HA_CONF_H

#include <stddef.h>

#include "mall_common.h"

#define REDIS_HA_CONF_NOT_MINE   1       /* redis_ha_conf_directive() */
#define REDIS_HA_SENTINELS_MAX   8
#define REDIS_HA_HOST_MAX        64
#define REDIS_HA_NAME_MAX        64

typedef struct {
    char   host[REDIS_HA_HOST_MAX];
    int    port;
} redis_ha_addr_t;

typedef struct {
    redis_ha_addr_t  sentinels[REDIS_HA_SENTINELS_MAX];
    size_t           nsentinels;                 /* 0: no Sentinel */
    char             master_name[REDIS_HA_NAME_MAX];
    int              wait_replicas;              /* 0: no WAIT */
    int              wait_timeout_ms;
} redis_ha_conf_t;

void redis_ha_conf_init(redis_ha_conf_t *c);

/*
 * Applies one directive (argv[0] is its name). MALL_OK, MALL_ERR with the
 * reason in err, or REDIS_HA_CONF_NOT_MINE.
 */
int redis_ha_conf_directive(redis_ha_conf_t *c, char **argv, int argc,
    mall_err_t *err);

/* After the whole file: WAIT must end before the batch timeout. */
int redis_ha_conf_validate(const redis_ha_conf_t *c, int redis_timeout_ms,
    mall_err_t *err);

/* Parses "h:p[,h:p...]" (or "off") into c->sentinels. */
int redis_ha_parse_sentinels(redis_ha_conf_t *c, const char *v,
    mall_err_t *err);

#endif
