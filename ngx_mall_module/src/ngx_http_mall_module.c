
/*
 * ngx_http_mall_module: module definition, configuration, phase
 * dispatchers, the X-Request-Id header filter, per-request ctx and the small
 * helpers the feature files share.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <mall_b64.h>

#include "ngx_http_mall_module.h"


#define NGX_HTTP_MALL_SECRET_FILE_MAX  4096


static ngx_int_t ngx_http_mall_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_http_mall_init(ngx_conf_t *cf);
static void *ngx_http_mall_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_mall_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_mall_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_mall_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_mall_init_process(ngx_cycle_t *cycle);
static void ngx_http_mall_exit_process(ngx_cycle_t *cycle);

static char *ngx_http_mall_json_error(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

static ngx_int_t ngx_http_mall_preaccess_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_mall_access_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_mall_precontent_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_mall_header_filter(ngx_http_request_t *r);

static void ngx_http_mall_ctx_cleanup(void *data);
static void ngx_http_mall_body_handler(ngx_http_request_t *r);
static void ngx_http_mall_secret_cleanup(void *data);


static ngx_conf_enum_t  ngx_http_mall_modes[] = {
    { ngx_string("off"), NGX_HTTP_MALL_OFF },
    { ngx_string("optional"), NGX_HTTP_MALL_OPTIONAL },
    { ngx_string("required"), NGX_HTTP_MALL_REQUIRED },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_mall_cache_set_cookie_modes[] = {
    { ngx_string("bypass"), 0 },
    { ngx_string("store"), 1 },
    { ngx_null_string, 0 }
};


static ngx_conf_num_bounds_t  ngx_http_mall_cache_variants_bounds = {
    ngx_conf_check_num_bounds, 1, 64
};


static ngx_conf_bitmask_t  ngx_http_mall_sign_methods_mask[] = {
    { ngx_string("GET"), NGX_HTTP_GET },
    { ngx_string("HEAD"), NGX_HTTP_HEAD },
    { ngx_string("POST"), NGX_HTTP_POST },
    { ngx_string("PUT"), NGX_HTTP_PUT },
    { ngx_string("PATCH"), NGX_HTTP_PATCH },
    { ngx_string("DELETE"), NGX_HTTP_DELETE },
    { ngx_string("OPTIONS"), NGX_HTTP_OPTIONS },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_http_mall_commands[] = {

    { ngx_string("mall_request_id"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mall_loc_conf_t, request_id),
      NULL },

    { ngx_string("mall_json_error"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE3,
      ngx_http_mall_json_error,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mall_redis"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_mall_redis,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mall_edge_key"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_http_mall_edge_key,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mall_auth_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_mall_auth_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mall_auth_key"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE3,
      ngx_http_mall_auth_key,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mall_auth_revoke_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_mall_main_conf_t, auth.revoke_ttl),
      NULL },

    { ngx_string("mall_auth"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mall_loc_conf_t, auth.mode),
      &ngx_http_mall_modes },

    { ngx_string("mall_auth_issuer"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mall_loc_conf_t, auth.issuer),
      NULL },

    { ngx_string("mall_auth_audience"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mall_loc_conf_t, auth.audience),
      NULL },

    { ngx_string("mall_auth_role"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mall_loc_conf_t, auth.role),
      NULL },

    { ngx_string("mall_auth_leeway"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mall_loc_conf_t, auth.leeway),
      NULL },

    { ngx_string("mall_sign_secret"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_http_mall_sign_secret,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mall_sign_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_mall_sign_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mall_sign_window"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mall_loc_conf_t, sign.window),
      NULL },

    { ngx_string("mall_sign"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mall_loc_conf_t, sign.mode),
      &ngx_http_mall_modes },

    { ngx_string("mall_sign_v1"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mall_loc_conf_t, sign.v1),
      NULL },

    { ngx_string("mall_sign_methods"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_conf_set_bitmask_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mall_loc_conf_t, sign.methods),
      &ngx_http_mall_sign_methods_mask },

    { ngx_string("mall_limit_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_mall_limit_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mall_limit"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_2MORE,
      ngx_http_mall_limit,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mall_loc_conf_t, limit),
      NULL },

    { ngx_string("mall_limit_sync"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_ANY,
      ngx_http_mall_limit_sync,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mall_limit_dry_run"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mall_loc_conf_t, limit.dry_run),
      NULL },

    { ngx_string("mall_limit_headers"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mall_loc_conf_t, limit.headers),
      NULL },

    { ngx_string("mall_limit_exempt"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_mall_limit_exempt,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mall_loc_conf_t, limit),
      NULL },

    { ngx_string("mall_limit_status"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mall_loc_conf_t, limit.status),
      &ngx_http_mall_limit_status_bounds },

    { ngx_string("mall_limit_log_level"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mall_loc_conf_t, limit.log_level),
      &ngx_http_mall_limit_log_levels },

    { ngx_string("mall_cc_guard"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_2MORE,
      ngx_http_mall_cc_guard,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mall_loc_conf_t, limit),
      NULL },

    { ngx_string("mall_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_mall_status,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mall_cache_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_mall_cache_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mall_cache"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_mall_cache,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mall_cache_key"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mall_loc_conf_t, cache.key),
      NULL },

    { ngx_string("mall_cache_valid"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mall_loc_conf_t, cache.valid),
      NULL },

    { ngx_string("mall_cache_stale_while_revalidate"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mall_loc_conf_t, cache.swr),
      NULL },

    { ngx_string("mall_cache_stale_if_error"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mall_loc_conf_t, cache.sie),
      NULL },

    { ngx_string("mall_cache_lock_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mall_loc_conf_t, cache.lock_timeout),
      NULL },

    { ngx_string("mall_cache_ignore_args"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_mall_cache_args,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mall_cache_default_args"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_mall_cache_defaults,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mall_cache_status_header"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mall_loc_conf_t, cache.status_header),
      NULL },

    { ngx_string("mall_cache_heuristic"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_mall_cache_heuristic,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mall_cache_targeted_fields"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_mall_cache_targeted,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mall_cache_set_cookie"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mall_loc_conf_t, cache.set_cookie),
      &ngx_http_mall_cache_set_cookie_modes },

    { ngx_string("mall_cache_max_variants"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mall_loc_conf_t, cache.max_variants),
      &ngx_http_mall_cache_variants_bounds },

    { ngx_string("mall_cache_ranges"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mall_loc_conf_t, cache.ranges),
      NULL },

    { ngx_string("mall_cache_keep"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mall_loc_conf_t, cache.keep),
      NULL },

    { ngx_string("mall_cache_purge"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_mall_cache_purge,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mall_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_mall_metrics,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mall_edge_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_mall_edge_status,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mall_cache_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_mall_cache_status,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mall_waf_rules"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_mall_waf_rules,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mall_waf"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mall_loc_conf_t, waf.mode),
      &ngx_http_mall_waf_modes },

    { ngx_string("mall_waf_policy"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_mall_waf_policy,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mall_waf_body_limit"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mall_loc_conf_t, waf.body_limit),
      NULL },

    { ngx_string("mall_waf_body_over"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mall_loc_conf_t, waf.body_over),
      &ngx_http_mall_waf_over },

    { ngx_string("mall_waf_value_cache"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_mall_main_conf_t, waf.value_cache),
      NULL },

    { ngx_string("mall_waf_max_args"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mall_loc_conf_t, waf.max_args),
      NULL },

    { ngx_string("mall_waf_max_headers"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mall_loc_conf_t, waf.max_headers),
      NULL },

    { ngx_string("mall_waf_audit_log"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_mall_waf_audit_log,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mall_geoip"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_mall_geoip,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_mall_main_conf_t, fraud.country),
      "country_code" },

    { ngx_string("mall_geoip_asn"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_mall_geoip,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_mall_main_conf_t, fraud.asn),
      "autonomous_system_number" },

    { ngx_string("mall_fraud_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_http_mall_fraud_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mall_fraud_list"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_http_mall_fraud_list,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mall_fraud_appid"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_mall_fraud_appid,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mall_fraud"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mall_loc_conf_t, fraud.enabled),
      NULL },

    { ngx_string("mall_fraud_device"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mall_loc_conf_t, fraud.device),
      &ngx_http_mall_modes },

    { ngx_string("mall_fraud_wechat"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mall_loc_conf_t, fraud.wechat),
      NULL },

    { ngx_string("mall_fraud_velocity"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_mall_fraud_velocity,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mall_loc_conf_t, fraud),
      NULL },

    { ngx_string("mall_fraud_orders"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_mall_fraud_orders,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mall_loc_conf_t, fraud),
      NULL },

    { ngx_string("mall_risk_score"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE2,
      ngx_http_mall_risk_score,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mall_loc_conf_t, fraud),
      NULL },

    { ngx_string("mall_risk_action"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_mall_risk_action,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mall_loc_conf_t, fraud),
      NULL },

    { ngx_string("mall_country_deny"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_mall_country_list,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mall_loc_conf_t, fraud.country_deny),
      NULL },

    { ngx_string("mall_country_allow"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_mall_country_list,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mall_loc_conf_t, fraud.country_allow),
      NULL },

    { ngx_string("mall_csrf"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mall_loc_conf_t, waf.csrf),
      NULL },

    { ngx_string("mall_csrf_origins"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_mall_csrf_origins,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_mall_module_ctx = {
    ngx_http_mall_add_variables,           /* preconfiguration */
    ngx_http_mall_init,                    /* postconfiguration */

    ngx_http_mall_create_main_conf,        /* create main configuration */
    ngx_http_mall_init_main_conf,          /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_mall_create_loc_conf,         /* create location configuration */
    ngx_http_mall_merge_loc_conf           /* merge location configuration */
};


ngx_module_t  ngx_http_mall_module = {
    NGX_MODULE_V1,
    &ngx_http_mall_module_ctx,             /* module context */
    ngx_http_mall_commands,                /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_mall_init_process,            /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_mall_exit_process,            /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_variable_t  ngx_http_mall_vars[] = {

    { ngx_string("mall_country"), NULL, ngx_http_mall_country_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("mall_geo_country"), NULL, ngx_http_mall_country_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("mall_asn"), NULL, ngx_http_mall_asn_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("mall_risk"), NULL, ngx_http_mall_risk_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("mall_user_id"), NULL, ngx_http_mall_user_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("mall_user_role"), NULL, ngx_http_mall_user_variable,
      1, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("mall_token_id"), NULL, ngx_http_mall_user_variable,
      2, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("mall_token_exp"), NULL, ngx_http_mall_user_variable,
      3, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("mall_edge_ts"), NULL, ngx_http_mall_edge_ts_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("mall_edge_kid"), NULL, ngx_http_mall_edge_kid_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("mall_idempotency_key"), NULL,
      ngx_http_mall_edge_idem_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("mall_edge_signature"), NULL,
      ngx_http_mall_edge_signature_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("mall_limit_status"), NULL,
      ngx_http_mall_limit_status_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("mall_waf_status"), NULL,
      ngx_http_mall_waf_status_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("mall_waf_score"), NULL,
      ngx_http_mall_waf_score_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;


/* ------------------------------ configuration ---------------------------- */


static ngx_int_t
ngx_http_mall_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_mall_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static void *
ngx_http_mall_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_mall_main_conf_t  *mmcf;

    mmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_mall_main_conf_t));
    if (mmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     mmcf->auth.zone = NULL;
     *     mmcf->auth.keys = NULL;
     *     mmcf->sign.zone = NULL;
     *     mmcf->sign.secrets = NULL;
     *     mmcf->edge.keys = NULL;
     *     mmcf->redis.host = { 0, NULL };
     *     mmcf->redis.port = 0;
     *     mmcf->redis.streams = NULL;
     */

    mmcf->auth.revoke_ttl = NGX_CONF_UNSET;
    mmcf->redis.interval = NGX_CONF_UNSET_MSEC;
    mmcf->redis.timeout = NGX_CONF_UNSET_MSEC;
    mmcf->redis.count = NGX_CONF_UNSET_UINT;
    mmcf->waf.value_cache = NGX_CONF_UNSET_UINT;
    mmcf->request_id_index = NGX_ERROR;

    return mmcf;
}


static char *
ngx_http_mall_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_mall_main_conf_t *mmcf = conf;

    ngx_conf_init_msec_value(mmcf->redis.interval, 500);
    ngx_conf_init_msec_value(mmcf->redis.timeout, 3000);
    ngx_conf_init_uint_value(mmcf->redis.count, 512);
    ngx_conf_init_uint_value(mmcf->waf.value_cache, 4096);

    return ngx_http_mall_limit_init_main_conf(cf, &mmcf->limit);
}


static void *
ngx_http_mall_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_mall_loc_conf_t  *mlcf;

    mlcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_mall_loc_conf_t));
    if (mlcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     mlcf->error_status = 0;
     *     mlcf->error_code = { 0, NULL };
     *     mlcf->error_message = { 0, NULL };
     */

    ngx_http_mall_auth_create_loc_conf(&mlcf->auth);
    ngx_http_mall_sign_create_loc_conf(&mlcf->sign);
    ngx_http_mall_limit_create_loc_conf(&mlcf->limit);
    ngx_http_mall_cache_create_loc_conf(&mlcf->cache);
    ngx_http_mall_waf_create_loc_conf(&mlcf->waf);
    ngx_http_mall_fraud_create_loc_conf(&mlcf->fraud);

    mlcf->request_id = NGX_CONF_UNSET;

    return mlcf;
}


static char *
ngx_http_mall_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_mall_loc_conf_t *prev = parent;
    ngx_http_mall_loc_conf_t *conf = child;

    if (ngx_http_mall_auth_merge_loc_conf(cf, &prev->auth, &conf->auth)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_mall_sign_merge_loc_conf(cf, &prev->sign, &conf->sign,
                                          conf->auth.mode)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_mall_limit_merge_loc_conf(cf, &prev->limit, &conf->limit)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_mall_cache_merge_loc_conf(cf, &prev->cache, &conf->cache)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_mall_waf_merge_loc_conf(cf, &prev->waf, &conf->waf)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_mall_fraud_merge_loc_conf(cf, &prev->fraud, &conf->fraud)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    ngx_conf_merge_value(conf->request_id, prev->request_id, 1);

    return NGX_CONF_OK;
}


/* mall_json_error <status> <CODE> <message>: a location's content handler */

static char *
ngx_http_mall_json_error(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mall_loc_conf_t *mlcf = conf;

    u_char                     c;
    ngx_int_t                  status;
    ngx_str_t                 *value;
    ngx_uint_t                 i;
    ngx_http_core_loc_conf_t  *clcf;

    if (mlcf->error_status) {
        return "is duplicate";
    }

    value = cf->args->elts;

    status = ngx_atoi(value[1].data, value[1].len);

    if (status < 400 || status > 599) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "mall_json_error: invalid status \"%V\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    for (i = 0; i < value[2].len; i++) {
        c = value[2].data[i];

        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "mall_json_error: code \"%V\" is not "
                               "UPPER_SNAKE", &value[2]);
            return NGX_CONF_ERROR;
        }
    }

    if (value[2].len == 0) {
        return "has an empty code";
    }

    mlcf->error_status = status;
    mlcf->error_code = value[2];
    mlcf->error_message = value[3];

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_mall_json_error_handler;

    return NGX_CONF_OK;
}


/*
 * Opens a file named in the configuration (relative to the prefix) for
 * reading at configuration time: fills file (name, fd, log) and *size.
 * NGX_OK, or NGX_ERROR after logging (the file is then closed). The caller
 * reads and closes it.
 */

ngx_int_t
ngx_http_mall_conf_open(ngx_conf_t *cf, ngx_str_t *path, ngx_file_t *file,
    size_t *size)
{
    ngx_str_t        name;
    ngx_file_info_t  fi;

    name = *path;

    if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_memzero(file, sizeof(ngx_file_t));

    file->name = name;
    file->log = cf->log;

    file->fd = ngx_open_file(name.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (file->fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%V\" failed", &name);
        return NGX_ERROR;
    }

    if (ngx_fd_info(file->fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_fd_info_n " \"%V\" failed", &name);
        (void) ngx_close_file(file->fd);
        return NGX_ERROR;
    }

    *size = (size_t) ngx_file_size(&fi);

    return NGX_OK;
}


/*
 * Reads a secret file at configuration time (never on the request path):
 * its bytes, trailing CR/LF stripped, min..max bytes long. The copy lives in
 * cf->pool and is zeroed by a pool cleanup when the cycle goes away.
 */

ngx_int_t
ngx_http_mall_load_secret(ngx_conf_t *cf, ngx_str_t *path, ngx_str_t *key,
    size_t min, size_t max)
{
    u_char              *buf;
    size_t               len;
    ssize_t              n;
    ngx_str_t            name, *saved;
    ngx_file_t           file;
    ngx_pool_cleanup_t  *cln;

    if (ngx_http_mall_conf_open(cf, path, &file, &len) != NGX_OK) {
        return NGX_ERROR;
    }

    name = file.name;
    buf = NULL;

    if (len == 0 || len > NGX_HTTP_MALL_SECRET_FILE_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "secret file \"%V\" has a bad size", &name);
        goto failed;
    }

    cln = ngx_pool_cleanup_add(cf->pool, sizeof(ngx_str_t));
    if (cln == NULL) {
        goto failed;
    }

    buf = ngx_pnalloc(cf->pool, len);
    if (buf == NULL) {
        goto failed;
    }

    saved = cln->data;
    saved->data = buf;
    saved->len = len;
    cln->handler = ngx_http_mall_secret_cleanup;

    n = ngx_read_file(&file, buf, len, 0);

    if (n != (ssize_t) len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           ngx_read_file_n " \"%V\" returned only "
                           "%z bytes instead of %uz", &name, n, len);
        goto failed;
    }

    while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r')) {
        len--;
    }

    if (len < min || len > max) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "secret in \"%V\" must be %uz to %uz bytes",
                           &name, min, max);
        goto failed;
    }

    if (ngx_close_file(file.fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, cf->log, ngx_errno,
                      ngx_close_file_n " \"%V\" failed", &name);
    }

    key->data = buf;
    key->len = len;

    return NGX_OK;

failed:

    if (ngx_close_file(file.fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, cf->log, ngx_errno,
                      ngx_close_file_n " \"%V\" failed", &name);
    }

    return NGX_ERROR;
}


static void
ngx_http_mall_secret_cleanup(void *data)
{
    ngx_str_t *secret = data;

    ngx_explicit_memzero(secret->data, secret->len);
}


static void
ngx_http_mall_hmac_cleanup(void *data)
{
    mall_hmac_key_wipe(data);
}


/*
 * "<id> <file>" of a secret directive (mall_sign_secret, mall_edge_key):
 * appends the secret to *secrets, created on first use. Returns
 * NGX_CONF_OK, the caller's message for an invalid or duplicate id, or
 * NGX_CONF_ERROR.
 */

char *
ngx_http_mall_secret_add(ngx_conf_t *cf, ngx_array_t **secrets,
    ngx_str_t *value, char *invalid, char *duplicate)
{
    ngx_pool_cleanup_t      *cln;
    ngx_http_mall_secret_t  *s;

    if (*secrets == NULL) {
        *secrets = ngx_array_create(cf->pool, 2,
                                    sizeof(ngx_http_mall_secret_t));
        if (*secrets == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    if (value[0].len == 0 || value[0].len >= MALL_JWT_ID_MAX) {
        return invalid;
    }

    if (ngx_http_mall_secret_find(*secrets, value[0].data, value[0].len)) {
        return duplicate;
    }

    s = ngx_array_push(*secrets);
    if (s == NULL) {
        return NGX_CONF_ERROR;
    }

    s->id = value[0];

    if (ngx_http_mall_load_secret(cf, &value[1], &s->key, 16, 256)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    /* its own allocation: the array's elements move when it grows */

    cln = ngx_pool_cleanup_add(cf->pool, sizeof(mall_hmac_key_t));
    if (cln == NULL) {
        return NGX_CONF_ERROR;
    }

    s->hmac = cln->data;
    mall_hmac_key_init(s->hmac, s->key.data, s->key.len);
    cln->handler = ngx_http_mall_hmac_cleanup;

    return NGX_CONF_OK;
}


/* The secret of that id in an array of ngx_http_mall_secret_t, or NULL. */

ngx_http_mall_secret_t *
ngx_http_mall_secret_find(ngx_array_t *secrets, u_char *id, size_t len)
{
    ngx_uint_t               i;
    ngx_http_mall_secret_t  *s;

    s = secrets->elts;

    for (i = 0; i < secrets->nelts; i++) {
        if (s[i].id.len == len && ngx_strncmp(s[i].id.data, id, len) == 0) {
            return &s[i];
        }
    }

    return NULL;
}


static ngx_int_t
ngx_http_mall_init(ngx_conf_t *cf)
{
    ngx_str_t                   name = ngx_string("request_id");
    ngx_http_handler_pt        *h;
    ngx_http_mall_main_conf_t  *mmcf;
    ngx_http_core_main_conf_t  *cmcf;

    mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_mall_module);
    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    mmcf->request_id_index = ngx_http_get_variable_index(cf, &name);
    if (mmcf->request_id_index == NGX_ERROR) {
        return NGX_ERROR;
    }

    /* one dispatcher per phase; each calls the features in a fixed order */

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PREACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_mall_preaccess_handler;

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_mall_access_handler;

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PRECONTENT_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_mall_precontent_handler;

    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_mall_header_filter;

    if (ngx_http_mall_cache_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_mall_metrics_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_mall_waf_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_mall_fraud_lists_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_mall_auth_init(cf);
}


/* ------------------------------ processes -------------------------------- */


static ngx_int_t
ngx_http_mall_init_process(ngx_cycle_t *cycle)
{
    ngx_http_mall_main_conf_t  *mmcf;

    mmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_mall_module);

    if (mmcf == NULL) {
        return NGX_OK;
    }

    /* cache manager and loader run init_process too: workers only */

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    if (ngx_http_mall_waf_init_process(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_worker != 0) {
        return NGX_OK;
    }

    if (ngx_http_mall_redis_init_process(cycle, &mmcf->redis) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_mall_limit_sync_init_process(cycle, &mmcf->limit.sync,
                                                 &mmcf->redis);
}


static void
ngx_http_mall_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_mall_redis_exit_process(cycle);
    ngx_http_mall_limit_sync_exit_process(cycle);
}


/* ------------------------------ request ctx ------------------------------ */


static void
ngx_http_mall_ctx_cleanup(void *data)
{
    /* only a marker: finds the ctx again after an internal redirect */
}


ngx_http_mall_ctx_t *
ngx_http_mall_get_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t   *cln;
    ngx_http_mall_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_mall_module);

    if (ctx == NULL && (r->internal || r->filter_finalize)) {

        /* r->ctx was zeroed by a redirect; the pool still knows it */

        for (cln = r->pool->cleanup; cln; cln = cln->next) {
            if (cln->handler == ngx_http_mall_ctx_cleanup) {
                ctx = cln->data;
                ngx_http_set_ctx(r, ctx, ngx_http_mall_module);
                break;
            }
        }
    }

    return ctx;
}


ngx_http_mall_ctx_t *
ngx_http_mall_create_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t   *cln;
    ngx_http_mall_ctx_t  *ctx;

    ctx = ngx_http_mall_get_ctx(r);

    if (ctx) {
        return ctx;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_mall_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_mall_ctx_cleanup;
    cln->data = ctx;

    ngx_http_set_ctx(r, ctx, ngx_http_mall_module);

    return ctx;
}


/* ------------------------------ phases ----------------------------------- */


/*
 * PREACCESS: the cheap guards (limits, blocklists); the WAF follows at the
 * start of ACCESS, where the body can be read and the phases re-run from
 * its handler. Never NGX_OK: it would skip the rest of the phase.
 */

static ngx_int_t
ngx_http_mall_preaccess_handler(ngx_http_request_t *r)
{
    ngx_int_t                  rc;
    ngx_http_mall_ctx_t       *ctx;
    ngx_http_mall_loc_conf_t  *mlcf;

    if (r != r->main) {
        return NGX_DECLINED;
    }

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_mall_module);

    if (mlcf->limit.limits || mlcf->limit.cc) {
        ctx = ngx_http_mall_create_ctx(r);
        if (ctx == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        rc = ngx_http_mall_limit_handler(r, ctx,
                                         NGX_HTTP_MALL_LIMIT_PREACCESS);
        if (rc != NGX_DECLINED) {
            return rc;
        }
    }

    /* then the lists: address, country, device */

    if (mlcf->fraud.enabled || mlcf->fraud.country_deny
        || mlcf->fraud.country_allow)
    {
        if (mlcf->error_status) {
            return NGX_DECLINED;
        }

        ctx = ngx_http_mall_create_ctx(r);
        if (ctx == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_mall_fraud_guard(r, ctx);
    }

    return NGX_DECLINED;
}


/*
 * ACCESS: WAF (after PREACCESS's cheap guards), CSRF, token, per-user
 * limits, then request signature (which needs the token's claims). The
 * body is read once, by the first of WAF and signature that needs it.
 */

static ngx_int_t
ngx_http_mall_access_handler(ngx_http_request_t *r)
{
    ngx_int_t                  rc;
    ngx_http_mall_ctx_t       *ctx;
    ngx_http_mall_loc_conf_t  *mlcf;

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_mall_module);

    if (mlcf->auth.mode == NGX_HTTP_MALL_OFF
        && mlcf->sign.mode == NGX_HTTP_MALL_OFF
        && mlcf->limit.nphase[NGX_HTTP_MALL_LIMIT_ACCESS] == 0
        && mlcf->waf.mode == NGX_HTTP_MALL_WAF_OFF
        && !mlcf->waf.csrf
        && !mlcf->fraud.enabled)
    {
        return NGX_DECLINED;
    }

    if (mlcf->error_status) {
        /* an error page location answers whoever was refused */
        return NGX_DECLINED;
    }

    if (r != r->main) {
        return NGX_DECLINED;
    }

    if (ngx_http_mall_path_ambiguous(r)) {
        return ngx_http_mall_deny(r, NGX_HTTP_BAD_REQUEST,
                                  "VALIDATION_FAILED",
                                  "encoded slashes and dot segments are "
                                  "not allowed in API paths");
    }

    ctx = ngx_http_mall_create_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* WAF first: an attack is WAF_BLOCKED with or without a token */

    rc = ngx_http_mall_waf_handler(r, ctx);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    rc = ngx_http_mall_csrf_handler(r);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    rc = ngx_http_mall_auth_handler(r, ctx);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    if (mlcf->limit.nphase[NGX_HTTP_MALL_LIMIT_ACCESS]) {
        /* per-user limits: after the token check, before the signature */
        rc = ngx_http_mall_limit_handler(r, ctx, NGX_HTTP_MALL_LIMIT_ACCESS);
        if (rc != NGX_DECLINED) {
            return rc;
        }
    }

    rc = ngx_http_mall_sign_handler(r, ctx);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    /* fraud scoring last: it knows the user and the signed request */

    return ngx_http_mall_fraud_score(r, ctx);
}


/* PRECONTENT: the catalog cache answers hits here. */

static ngx_int_t
ngx_http_mall_precontent_handler(ngx_http_request_t *r)
{
    return ngx_http_mall_cache_handler(r);
}


/* ------------------------------ X-Request-Id ----------------------------- */


/*
 * Adds X-Request-Id: $request_id to every main response, unless one is
 * already there (a worker echoes the id the edge sent it).
 */

static ngx_int_t
ngx_http_mall_header_filter(ngx_http_request_t *r)
{
    ngx_str_t                  id;
    ngx_table_elt_t           *h;
    ngx_http_mall_loc_conf_t  *mlcf;

    if (r != r->main) {
        return ngx_http_next_header_filter(r);
    }

    if (ngx_http_mall_limit_headers(r) != NGX_OK) {
        return NGX_ERROR;
    }

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_mall_module);

    if (!mlcf->request_id) {
        return ngx_http_next_header_filter(r);
    }

    if (ngx_http_mall_find_header(&r->headers_out.headers, "X-Request-Id",
                                  sizeof("X-Request-Id") - 1))
    {
        return ngx_http_next_header_filter(r);
    }

    ngx_http_mall_request_id(r, &id);

    if (id.len == 0) {
        return ngx_http_next_header_filter(r);
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "X-Request-Id");
    h->value = id;
    h->lowcase_key = NULL;

    return ngx_http_next_header_filter(r);
}


/* ------------------------------ helpers ---------------------------------- */


/* $request_id, the value nginx logs and conf forwards; "" if unavailable. */

void
ngx_http_mall_request_id(ngx_http_request_t *r, ngx_str_t *id)
{
    ngx_http_variable_value_t  *vv;
    ngx_http_mall_main_conf_t  *mmcf;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_mall_module);

    vv = ngx_http_get_indexed_variable(r->main, mmcf->request_id_index);

    if (vv == NULL || vv->not_found) {
        ngx_str_set(id, "");
        return;
    }

    id->data = vv->data;
    id->len = vv->len;
}


/* A live header (hash != 0: not hidden by a filter) with that name. */

ngx_uint_t
ngx_http_mall_header_is(ngx_table_elt_t *h, char *name, size_t len)
{
    return h->hash && h->key.len == len
           && ngx_strncasecmp(h->key.data, (u_char *) name, len) == 0;
}


/*
 * The last live header of that name (case-insensitive) in a header list
 * (headers_in or headers_out), or NULL.
 */

ngx_table_elt_t *
ngx_http_mall_find_header(ngx_list_t *headers, char *name, size_t len)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h, *found;

    found = NULL;
    part = &headers->part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (ngx_http_mall_header_is(&h[i], name, len)) {
            found = &h[i];
        }
    }

    return found;
}


/*
 * Walks a header list: the element after the last one returned (start
 * with part = &list.part, i = 0), or NULL at the end.
 */

ngx_table_elt_t *
ngx_http_mall_header_next(ngx_list_part_t **part, ngx_uint_t *i)
{
    while (*i >= (*part)->nelts) {
        if ((*part)->next == NULL) {
            return NULL;
        }

        *part = (*part)->next;
        *i = 0;
    }

    return (ngx_table_elt_t *) (*part)->elts + (*i)++;
}


/*
 * Several request headers in one pass over headers_in, by the lowercase
 * names nginx keeps for each of them (so a compare is a memcmp); the last
 * live one of each name wins, as in ngx_http_mall_find_header(). Names in
 * want[] are lowercase; values not found are left NULL.
 */

void
ngx_http_mall_find_headers_in(ngx_http_request_t *r,
    ngx_http_mall_header_want_t *want, ngx_uint_t n)
{
    ngx_uint_t        i, k;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    for (k = 0; k < n; k++) {
        ngx_str_null(&want[k].value);
    }

    part = &r->headers_in.headers.part;
    i = 0;

    while ((h = ngx_http_mall_header_next(&part, &i)) != NULL) {

        if (h->hash == 0) {
            continue;
        }

        for (k = 0; k < n; k++) {
            if (h->key.len == want[k].name.len
                && ngx_memcmp(h->lowcase_key, want[k].name.data,
                              want[k].name.len)
                   == 0)
            {
                want[k].value = h->value;
                break;
            }
        }
    }
}


/* A per-request variable's value, empty until a getter fills it in. */

void
ngx_http_mall_variable_empty(ngx_http_variable_value_t *v)
{
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->len = 0;
    v->data = (u_char *) "";
}


/* Wall clock in unix milliseconds (the shm store's expiry unit). */

uint64_t
ngx_http_mall_now_ms(void)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return (uint64_t) tp->sec * 1000 + tp->msec;
}


/*
 * Per-connection state of a feature (e.g. the last token seen on a
 * keep-alive connection): the data of the connection-pool cleanup whose
 * handler is owner, created zero-filled on demand, or NULL. The owner
 * handler wipes it when the connection closes.
 */

void *
ngx_http_mall_conn_data(ngx_connection_t *c, ngx_pool_cleanup_pt owner,
    size_t size, ngx_uint_t create)
{
    ngx_pool_cleanup_t  *cln;

    /* a connection pool has a handful of cleanups at most */

    for (cln = c->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == owner) {
            return cln->data;
        }
    }

    if (!create) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(c->pool, size);
    if (cln == NULL) {
        return NULL;
    }

    ngx_memzero(cln->data, size);
    cln->handler = owner;

    return cln->data;
}


/*
 * The request body, read once for every feature that needs it (the WAF in
 * ACCESS before auth, then the signature), without blocking: the mirror
 * module's way, the phases re-run from the body handler when the rest
 * arrives. Returns NGX_OK when the body is in r->request_body (or there is
 * none), NGX_DONE while it is being read, or an HTTP status.
 */

ngx_int_t
ngx_http_mall_read_body(ngx_http_request_t *r, ngx_http_mall_ctx_t *ctx)
{
    ngx_int_t  rc;

    if (ctx->body_read || ctx->body_hashed
        || (r->headers_in.content_length_n <= 0 && !r->headers_in.chunked))
    {
        return NGX_OK;
    }

    ctx->body_reading = 1;

    rc = ngx_http_read_client_request_body(r, ngx_http_mall_body_handler);

    ctx->body_reading = 0;

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    /* balances the reference the body read took */
    ngx_http_finalize_request(r, NGX_DONE);

    /* read at once (the usual case): go on now, no second pass */
    return ctx->body_read ? NGX_OK : NGX_DONE;
}


static void
ngx_http_mall_body_handler(ngx_http_request_t *r)
{
    ngx_http_mall_ctx_t  *ctx;

    ctx = ngx_http_mall_get_ctx(r);

    r->preserve_body = 1;

    if (ctx) {
        ctx->body_read = 1;

        if (ctx->body_reading) {
            /* called from within the read: the caller goes on */
            return;
        }
    }

    r->write_event_handler = ngx_http_core_run_phases;
    ngx_http_core_run_phases(r);
}


/*
 * Copies the bytes of a chain of memory buffers to p; returns the end.
 * Empty buffers are skipped: the last one of a chunked body, or of an
 * upstream response, may have no memory at all (pos NULL), and memcpy()
 * from NULL is undefined even for 0 bytes (UBSan stops the worker).
 */

u_char *
ngx_http_mall_chain_copy(u_char *p, ngx_chain_t *cl)
{
    for ( /* void */ ; cl; cl = cl->next) {
        if (cl->buf->last != cl->buf->pos) {
            p = ngx_cpymem(p, cl->buf->pos, cl->buf->last - cl->buf->pos);
        }
    }

    return p;
}


/*
 * Lowercase hex SHA-256 of the request body into ctx->body_sha256, once.
 * The body may span several memory buffers; a body (partly) in a temp
 * file is not read (that would block): returns NGX_DECLINED then. An absent
 * body hashes as the empty string.
 */

ngx_int_t
ngx_http_mall_body_sha256(ngx_http_request_t *r, ngx_http_mall_ctx_t *ctx)
{
    u_char                    digest[MALL_SHA256_LEN];
    ngx_buf_t                *b;
    ngx_chain_t              *cl;
    mall_sha256_ctx_t         md;
    ngx_http_request_body_t  *rb;

    if (ctx->body_hashed) {
        return NGX_OK;
    }

    rb = r->request_body;

    if (rb == NULL || rb->bufs == NULL) {
        mall_sha256("", 0, digest);
        goto done;
    }

    if (rb->temp_file) {
        return NGX_DECLINED;
    }

    for (cl = rb->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (b->in_file || (!ngx_buf_in_memory(b) && ngx_buf_size(b) > 0)) {
            return NGX_DECLINED;
        }
    }

    mall_sha256_init(&md);

    for (cl = rb->bufs; cl; cl = cl->next) {
        b = cl->buf;
        mall_sha256_update(&md, b->pos, b->last - b->pos);
    }

    mall_sha256_final(&md, digest);

done:

    mall_hex_encode(digest, MALL_SHA256_LEN, (char *) ctx->body_sha256);
    ctx->body_hashed = 1;

    return NGX_OK;
}
