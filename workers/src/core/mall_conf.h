/*
 * mall-worker configuration: a redis.conf-style file, one "key value..."
 * directive per line, '#' comments, double quotes for values with spaces.
 * The whole file is parsed and validated into a fresh mall_conf_t before
 * anything uses it, so a bad reload never disturbs the running config.
 *
 *   listen 127.0.0.1:9101          address the children accept on
 *   admin_listen 127.0.0.1:9102    admin listener: GET /metrics, /status
 *                                  (optional; keep it on loopback)
 *   workers auto                   child processes: 1..64, or auto (one
 *                                  per online core, the default)
 *   max_inflight 512               requests in flight per child; beyond
 *                                  it: 503 UNAVAILABLE + Retry-After
 *   fiber_stack_kb 256             stack of each request's fiber
 *   redis 127.0.0.1:6391           Redis host:port (numeric address: a
 *                                  host name is resolved blocking)
 *   redis_timeout_ms 1000          connect and command batch timeout
 *   redis_connections 4            pipelined connections per process
 *   redis_txn_connections 4        exclusive connections per process for
 *                                  WATCH transactions
 *   pidfile /path/mall-worker.pid  master pid (optional)
 *   error_log /path/file|stderr    log target (default stderr)
 *   log_level info                 error|warn|notice|info|debug
 *   shutdown_timeout 10            seconds before a stopping child is killed
 *   upgrade_timeout 30             seconds a new binary (SIGUSR2) has to
 *                                  serve before it is killed
 *   keepalive_drain 3              seconds a stopping child keeps its open
 *                                  connections (longer than the edge's
 *                                  upstream keepalive_timeout)
 *   edge_key e1 /path/edge-e1.key  edge HMAC key, repeatable (rotation)
 *   edge_clock_skew 60             seconds of allowed edge timestamp skew
 *   cache_control "public, s-maxage=60, max-age=0"   catalog responses
 *   max_body_size 1048576          larger request bodies get 413
 *   low_stock_threshold 10         stock at or below this is "low"
 *   backlog 511                    listen(2) backlog
 *
 * Identity directives (jwt_key, sign_secret, data_key, access_ttl, ...,
 * wechat_*) are parsed into conf->auth by auth_conf.c; see auth_conf.h.
 * Order directives (order_*) go into conf->order; see order_conf.h.
 * Carrier tracking (logistics_*) goes into conf->logistics; see
 * logistics_conf.h.
 * Abnormal-order directives (risk_*) go into conf->risk; see risk_conf.h.
 * Redis Sentinel and WAIT (redis_sentinels, redis_master_name,
 * redis_wait_*) go into conf->redis_ha; see redis_ha_conf.h. With
 * redis_sentinels set, "redis" may be left out.
 */
#ifndef MALL_CONF_H
#define MALL_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "auth_conf.h"
#include "logistics_conf.h"
#include "mall_common.h"
#include "notify_conf.h"
#include "order_conf.h"
#include "redis_ha_conf.h"
#include "risk_conf.h"
#include "wxpay_conf.h"

#define MALL_CONF_PATH_MAX       512
#define MALL_CONF_MAX_EDGE_KEYS  8
#define MALL_EDGE_KID_MAX        32
#define MALL_EDGE_KEY_MAX        256

typedef struct {
    char      kid[MALL_EDGE_KID_MAX];
    uint8_t   key[MALL_EDGE_KEY_MAX];
    size_t    key_len;
} mall_edge_key_t;

typedef struct {
    char              listen_host[64];
    int               listen_port;
    char              admin_host[64];                  /* "" = none */
    int               admin_port;
    int               backlog;
    int               workers;
    char              redis_host[256];
    int               redis_port;
    int               redis_timeout_ms;
    int               redis_connections;
    int               redis_txn_connections;
    int               max_inflight;
    int               fiber_stack_kb;
    char              pidfile[MALL_CONF_PATH_MAX];     /* "" = none */
    char              error_log[MALL_CONF_PATH_MAX];   /* "" = stderr */
    int               log_level;
    int               shutdown_timeout;                /* seconds */
    int               upgrade_timeout;                 /* seconds */
    int               keepalive_drain;                 /* seconds */
    mall_edge_key_t   edge_keys[MALL_CONF_MAX_EDGE_KEYS];
    size_t            n_edge_keys;
    int               edge_clock_skew;                 /* seconds */
    char              cache_control[256];
    size_t            max_body_size;                   /* bytes */
    int               low_stock_threshold;
    auth_conf_t       auth;                            /* auth_conf.h */
    order_conf_t      order;                           /* order_conf.h */
    risk_conf_t       risk;                            /* risk_conf.h */
    wxpay_conf_t      pay;                             /* wxpay_conf.h */
    notify_conf_t     notify;                          /* notify_conf.h */
    logistics_conf_t  logistics;                       /* logistics_conf.h */
    redis_ha_conf_t   redis_ha;                        /* redis_ha_conf.h */
} mall_conf_t;

/* Fills conf with the defaults (no listen, redis or edge keys). */
void mall_conf_init(mall_conf_t *conf);

/*
 * Parses the text of a config file into conf (which must come from
 * mall_conf_init) and validates it; key files named by edge_key are read
 * here. On error returns MALL_ERR with "line N: ..." in err.
 */
int mall_conf_parse(const char *text, size_t len, mall_conf_t *conf,
    mall_err_t *err);

/* Reads path and runs mall_conf_init + mall_conf_parse. */
int mall_conf_load(const char *path, mall_conf_t *conf, mall_err_t *err);

/* Key for kid, or NULL. */
const mall_edge_key_t *mall_conf_edge_key(const mall_conf_t *conf,
    const char *kid, size_t kid_len);

/* Overwrites secrets before the struct is dropped. */
void mall_conf_wipe(mall_conf_t *conf);

/* Parses "host:port" with a numeric IPv4 or a hostname; MALL_OK/MALL_ERR. */
int mall_conf_parse_hostport(const char *s, char *host, size_t hostsz,
    int *port, mall_err_t *err);

#endif
