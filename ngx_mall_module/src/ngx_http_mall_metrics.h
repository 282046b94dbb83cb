
/*
 * Prometheus metrics of the edge (mall_metrics): the counters the features
 * keep in their own zones (limits, bans, cache, shm store, nonces, sync
 * ring) plus the ones kept here, in a small zone of this module: request
 * decisions, auth, signatures and the Redis follower. Every counter is an
 * ngx_atomic_t in shared memory, bumped with ngx_atomic_fetch_add: no lock
 * on the request path, one figure for all workers, kept across reloads.
 */


#ifndef _NGX_HTTP_MALL_METRICS_H_INCLUDED_
#define _NGX_HTTP_MALL_METRICS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* auth events: mall_auth_*_total; the order of the names in the .c file */
#define NGX_HTTP_MALL_M_AUTH_CACHE          0   /* verified, from the zone */
#define NGX_HTTP_MALL_M_AUTH_FULL           1   /* verified, signature */
#define NGX_HTTP_MALL_M_AUTH_MISSING        2   /* rejected: ... */
#define NGX_HTTP_MALL_M_AUTH_BAD_SCHEME     3
#define NGX_HTTP_MALL_M_AUTH_TOO_LONG       4
#define NGX_HTTP_MALL_M_AUTH_MALFORMED      5
#define NGX_HTTP_MALL_M_AUTH_BAD_ALG        6
#define NGX_HTTP_MALL_M_AUTH_UNKNOWN_KID    7
#define NGX_HTTP_MALL_M_AUTH_BAD_SIGNATURE  8
#define NGX_HTTP_MALL_M_AUTH_EXPIRED        9
#define NGX_HTTP_MALL_M_AUTH_NOT_YET_VALID  10
#define NGX_HTTP_MALL_M_AUTH_BAD_ISSUER     11
#define NGX_HTTP_MALL_M_AUTH_BAD_AUDIENCE   12
#define NGX_HTTP_MALL_M_AUTH_MISSING_CLAIM  13
#define NGX_HTTP_MALL_M_AUTH_REVOKED        14
#define NGX_HTTP_MALL_M_AUTH_OTHER          15
#define NGX_HTTP_MALL_M_AUTH_REVOCATION     16  /* deny-set entry applied */
#define NGX_HTTP_MALL_M_AUTH_N              17

/* signature checks: mall_sign_*_total */
#define NGX_HTTP_MALL_M_SIGN_ACCEPTED       0
#define NGX_HTTP_MALL_M_SIGN_MISSING        1   /* rejected: ... */
#define NGX_HTTP_MALL_M_SIGN_NO_TOKEN       2
#define NGX_HTTP_MALL_M_SIGN_BAD_TIMESTAMP  3
#define NGX_HTTP_MALL_M_SIGN_EXPIRED        4   /* outside the window */
#define NGX_HTTP_MALL_M_SIGN_BAD_NONCE      5
#define NGX_HTTP_MALL_M_SIGN_UNKNOWN_KEY    6
#define NGX_HTTP_MALL_M_SIGN_BAD_QUERY      7
#define NGX_HTTP_MALL_M_SIGN_BAD_SIGNATURE  8
#define NGX_HTTP_MALL_M_SIGN_TOO_LARGE      9
#define NGX_HTTP_MALL_M_SIGN_REPLAY         10
#define NGX_HTTP_MALL_M_SIGN_UNAVAILABLE    11
#define NGX_HTTP_MALL_M_SIGN_USER_LIMITED   12  /* per_user share */
#define NGX_HTTP_MALL_M_SIGN_N              13


/* a zone's figures, copied out under its lock */
typedef struct {
    ngx_str_t                      name;
    ngx_shm_zone_t                *zone;
    uint64_t                       size;      /* bytes */
    uint64_t                       used;      /* bytes of used slab pages */
    uint64_t                       c[4];      /* store: entries, evictions,
                                                 expired, failures */
    ngx_uint_t                     store;     /* c[] is valid */
} ngx_http_mall_metrics_zone_t;


ngx_int_t ngx_http_mall_metrics_init(ngx_conf_t *cf);
/* every zone of the module, each once, into zones (of the above) */
ngx_int_t ngx_http_mall_metrics_zones(ngx_http_request_t *r,
    ngx_array_t *zones);
ngx_uint_t ngx_http_mall_metrics_redis_up(void);
char *ngx_http_mall_metrics(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
/* ngx_http_mall_edge_status.c: the edge's part of `mallctl status` */
char *ngx_http_mall_edge_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_mall_metrics_handler(ngx_http_request_t *r);

void ngx_http_mall_metrics_denied(ngx_http_request_t *r, ngx_uint_t status);
void ngx_http_mall_metrics_auth(ngx_uint_t event);
void ngx_http_mall_metrics_auth_jwt(ngx_uint_t jwt_rc);
void ngx_http_mall_metrics_sign(ngx_uint_t event);
void ngx_http_mall_metrics_redis(ngx_uint_t connected);
void ngx_http_mall_metrics_stream(ngx_str_t *key);


#endif /* _NGX_HTTP_MALL_METRICS_H_INCLUDED_ */
