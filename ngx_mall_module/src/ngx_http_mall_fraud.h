
/*
 * Anti-fraud at the edge (README "Anti-fraud"): GeoIP and country
 * allow/deny (ngx_http_mall_geoip.c), IP/CIDR/device/user lists in shm fed
 * by list files (ngx_http_mall_fraud_lists.c) and the mall:fraud:blocks
 * stream (ngx_http_mall_fraud_push.c),
 * device velocity counters (ngx_http_mall_velocity.c), and the risk score
 * with its actions and $mall_risk (ngx_http_mall_fraud.c).
 *
 * Where they run (MISSION.md pipeline): the address, country and device
 * lists are cheap guards in PREACCESS, after the limits; the user list, a
 * required X-Mall-Device, velocity, the mini-program checks and the score
 * run at the end of ACCESS, after the token and signature checks (a write
 * without a token learns that first).
 */


#ifndef _NGX_HTTP_MALL_FRAUD_H_INCLUDED_
#define _NGX_HTTP_MALL_FRAUD_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <mall_iptab.h>


#define NGX_HTTP_MALL_GEO_PATH_MAX    4      /* components of a lookup path */

/* risk reasons: a bit each, weights in the loc conf */
#define NGX_HTTP_MALL_RISK_NO_DEVICE     0
#define NGX_HTTP_MALL_RISK_NOT_WECHAT    1
#define NGX_HTTP_MALL_RISK_BAD_REFERER   2
#define NGX_HTTP_MALL_RISK_DEVICE_USERS  3
#define NGX_HTTP_MALL_RISK_USER_DEVICES  4
#define NGX_HTTP_MALL_RISK_DEVICE_RATE   5
#define NGX_HTTP_MALL_RISK_IP_ORDERS     6
#define NGX_HTTP_MALL_RISK_DEVICE_ORDERS 7
#define NGX_HTTP_MALL_RISK_USER_ORDERS   8
#define NGX_HTTP_MALL_RISK_NREASONS      9

#define NGX_HTTP_MALL_RISK_ALLOW      0
#define NGX_HTTP_MALL_RISK_TAG        1
#define NGX_HTTP_MALL_RISK_CHALLENGE  2
#define NGX_HTTP_MALL_RISK_BLOCK      3

#define NGX_HTTP_MALL_DEVICE_MAX      128    /* bytes of X-Mall-Device */
#define NGX_HTTP_MALL_VELO_SLOTS      8      /* distinct ids remembered */


/* A list file of mall_fraud_list, loaded into the lists zone. */
typedef struct {
    ngx_uint_t                     kind;      /* MALL_IPTAB_*, v4 kind */
    ngx_str_t                      path;
    ngx_array_t                   *values;    /* ngx_str_t, cf->pool */
} ngx_http_mall_fraud_file_t;


/* shm_zone->data of the lists zone */
typedef struct {
    mall_iptab_t                  *tab;
    ngx_slab_pool_t               *shpool;
    ngx_array_t                   *files;     /* this cycle's list files */
} ngx_http_mall_fraud_lists_t;


typedef struct {
    struct MMDB_s                 *mmdb;      /* NULL: not configured */
    const char                    *path[NGX_HTTP_MALL_GEO_PATH_MAX + 1];
} ngx_http_mall_geodb_t;


typedef struct {
    ngx_http_mall_geodb_t          country;   /* mall_geoip */
    ngx_http_mall_geodb_t          asn;       /* mall_geoip_asn */
    ngx_shm_zone_t                *lists;     /* the lists zone */
    ngx_shm_zone_t                *velocity;  /* generic store */
    ngx_array_t                   *files;     /* fraud_file_t */
    ngx_str_t                      appid;     /* mini-program appid */
} ngx_http_mall_fraud_main_conf_t;


typedef struct {
    ngx_flag_t                     enabled;       /* mall_fraud */
    ngx_array_t                   *country_deny;  /* uint16_t codes */
    ngx_array_t                   *country_allow;
    ngx_uint_t                     device;        /* off/optional/required */
    ngx_flag_t                     wechat;        /* mini-program checks */

    /* velocity thresholds; 0: that counter is off */
    ngx_msec_t                     window;
    ngx_uint_t                     device_users;
    ngx_uint_t                     user_devices;
    ngx_uint_t                     device_rate;

    /* orders (writes of a mall_fraud_orders location) per client address,
     * device and user in their own sliding window; 0: off */
    ngx_msec_t                     order_window;
    ngx_uint_t                     ip_orders;
    ngx_uint_t                     device_orders;
    ngx_uint_t                     user_orders;

    ngx_int_t                      weight[NGX_HTTP_MALL_RISK_NREASONS];
    ngx_int_t                      tag;           /* action thresholds */
    ngx_int_t                      challenge;
    ngx_int_t                      block;
} ngx_http_mall_fraud_loc_conf_t;


typedef struct {
    ngx_str_t                      device;    /* X-Mall-Device, or empty */
    ngx_uint_t                     score;
    ngx_uint_t                     reasons;   /* bit per RISK_* */
    ngx_uint_t                     action;
    u_char                         country[2];

    uint32_t                       asn;
    unsigned                       geo_done:1;
    unsigned                       has_country:1;
    unsigned                       asn_done:1;
    unsigned                       has_asn:1;
    unsigned                       guarded:1;
    unsigned                       scored:1;
} ngx_http_mall_fraud_ctx_t;


typedef struct ngx_http_mall_ctx_s  ngx_http_mall_ctx_t;


/* ngx_http_mall_geoip.c */
char *ngx_http_mall_geoip(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_http_mall_country_list(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_mall_country_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
ngx_int_t ngx_http_mall_asn_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
ngx_int_t ngx_http_mall_geoip_country(ngx_http_request_t *r,
    ngx_http_mall_fraud_ctx_t *fctx);
ngx_int_t ngx_http_mall_country_denied(ngx_http_request_t *r,
    ngx_http_mall_fraud_loc_conf_t *flcf, ngx_http_mall_fraud_ctx_t *fctx);

/* ngx_http_mall_fraud_lists.c */
char *ngx_http_mall_fraud_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_mall_fraud_list(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_mall_fraud_put(ngx_http_mall_fraud_lists_t *fl,
    ngx_uint_t kind, ngx_str_t *value, ngx_uint_t add, uint64_t expire,
    ngx_uint_t source, ngx_log_t *log);

/* ngx_http_mall_fraud_push.c */
ngx_int_t ngx_http_mall_fraud_lists_init(ngx_conf_t *cf);
ngx_int_t ngx_http_mall_fraud_read_tokens(ngx_conf_t *cf, ngx_str_t *path,
    ngx_array_t *tokens);
#define NGX_HTTP_MALL_IP_ALLOWED  1
#define NGX_HTTP_MALL_IP_BLOCKED  2
ngx_uint_t ngx_http_mall_fraud_ip_lookup(ngx_http_request_t *r,
    ngx_shm_zone_t *zone);
ngx_int_t ngx_http_mall_fraud_id_listed(ngx_shm_zone_t *zone,
    ngx_uint_t kind, u_char *id, size_t len);

/* ngx_http_mall_velocity.c */
ngx_uint_t ngx_http_mall_velocity(ngx_http_request_t *r,
    ngx_http_mall_fraud_loc_conf_t *flcf, ngx_shm_zone_t *zone,
    ngx_str_t *device, ngx_str_t *user);

ngx_int_t ngx_http_mall_velo_update(ngx_shm_zone_t *zone, u_char kind,
    ngx_str_t *key, ngx_str_t *other, uint64_t now, uint64_t window,
    ngx_uint_t *distinct, ngx_uint_t *rate);

/* ngx_http_mall_order_velocity.c */
char *ngx_http_mall_fraud_orders(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_uint_t ngx_http_mall_order_velocity(ngx_http_request_t *r,
    ngx_http_mall_fraud_loc_conf_t *flcf, ngx_shm_zone_t *zone,
    ngx_str_t *device, ngx_str_t *user);

/* ngx_http_mall_fraud_wechat.c */
char *ngx_http_mall_fraud_appid(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_uint_t ngx_http_mall_fraud_wechat(ngx_http_request_t *r,
    ngx_str_t *appid);

/* ngx_http_mall_fraud.c */
void ngx_http_mall_fraud_create_loc_conf(ngx_http_mall_fraud_loc_conf_t *c);
char *ngx_http_mall_fraud_merge_loc_conf(ngx_conf_t *cf,
    ngx_http_mall_fraud_loc_conf_t *prev,
    ngx_http_mall_fraud_loc_conf_t *conf);
char *ngx_http_mall_fraud_velocity(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_mall_risk_score(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_mall_risk_action(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_mall_fraud_guard(ngx_http_request_t *r,
    ngx_http_mall_ctx_t *ctx);
ngx_int_t ngx_http_mall_fraud_score(ngx_http_request_t *r,
    ngx_http_mall_ctx_t *ctx);
ngx_int_t ngx_http_mall_risk_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
size_t ngx_http_mall_risk_format(ngx_http_mall_fraud_ctx_t *fctx,
    u_char *buf);

/* the longest X-Mall-Risk value: "NNNN;" and every reason name */
#define NGX_HTTP_MALL_RISK_LEN   128


#endif /* _NGX_HTTP_MALL_FRAUD_H_INCLUDED_ */
