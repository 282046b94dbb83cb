
/*
 * WAF at the edge (MISSION.md "The edge pipeline", step 3): the rule
 * engine of lib/mall_waf.h compiled once at config load, run in ACCESS
 * before the token and signature checks, on the method, path, raw URI,
 * query args, headers, cookies, client address and the body (read once,
 * shared with the signature check). Blocked and detected requests get an
 * audit line (ngx_http_mall_waf_audit.c).
 */


#ifndef _NGX_HTTP_MALL_WAF_H_INCLUDED_
#define _NGX_HTTP_MALL_WAF_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <mall_waf.h>


#define NGX_HTTP_MALL_WAF_OFF        0
#define NGX_HTTP_MALL_WAF_DETECT     1
#define NGX_HTTP_MALL_WAF_ON         2

#define NGX_HTTP_MALL_WAF_OVER_REJECT  0
#define NGX_HTTP_MALL_WAF_OVER_PASS    1

/* $mall_waf_status */
#define NGX_HTTP_MALL_WAF_ST_NONE    0     /* not scanned */
#define NGX_HTTP_MALL_WAF_ST_PASS    1
#define NGX_HTTP_MALL_WAF_ST_DETECT  2     /* threshold reached, not blocked */
#define NGX_HTTP_MALL_WAF_ST_BLOCK   3


/* Where audit lines go: a file nginx reopens on USR1, or syslog. */
typedef struct {
    ngx_open_file_t               *file;
    ngx_syslog_peer_t             *syslog;
} ngx_http_mall_waf_audit_t;


typedef struct {
    mall_waf_rules_t              *rules;     /* NULL: no mall_waf_rules */
    size_t                         max_value; /* scratch sizing */
    ngx_uint_t                     value_cache;  /* entries; 0: off */
    ngx_int_t                      country_index;  /* or NGX_ERROR */
} ngx_http_mall_waf_main_conf_t;


typedef struct {
    ngx_uint_t                     mode;
    ngx_array_t                   *policy_args;  /* ngx_str_t, NUL-ended */
    mall_waf_policy_t             *policy;
    size_t                         body_limit;
    ngx_uint_t                     body_over;
    ngx_uint_t                     max_args;
    ngx_uint_t                     max_headers;
    ngx_http_mall_waf_audit_t     *audit;        /* NULL: off */

    ngx_flag_t                     csrf;
    ngx_array_t                   *csrf_origins; /* ngx_str_t */
} ngx_http_mall_waf_loc_conf_t;


typedef struct {
    int                            score;
    unsigned                       status:2;
    unsigned                       done:1;
    unsigned                       body_over:1;  /* over the limit, passed */
    unsigned                       body_in_file:1;  /* so not inspected */
} ngx_http_mall_waf_ctx_t;


typedef struct ngx_http_mall_ctx_s  ngx_http_mall_ctx_t;


extern ngx_conf_enum_t  ngx_http_mall_waf_modes[];
extern ngx_conf_enum_t  ngx_http_mall_waf_over[];

ngx_array_t *ngx_http_mall_waf_conf_args(ngx_conf_t *cf);
char *ngx_http_mall_waf_rules(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_mall_waf_policy(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_mall_waf_audit_log(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_mall_csrf_origins(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

void ngx_http_mall_waf_create_loc_conf(ngx_http_mall_waf_loc_conf_t *conf);
char *ngx_http_mall_waf_merge_loc_conf(ngx_conf_t *cf,
    ngx_http_mall_waf_loc_conf_t *prev, ngx_http_mall_waf_loc_conf_t *conf);
ngx_int_t ngx_http_mall_waf_init(ngx_conf_t *cf);
ngx_int_t ngx_http_mall_waf_init_process(ngx_cycle_t *cycle);

ngx_int_t ngx_http_mall_waf_handler(ngx_http_request_t *r,
    ngx_http_mall_ctx_t *ctx);
ngx_int_t ngx_http_mall_csrf_handler(ngx_http_request_t *r);

/* feeds every part of the request to s; 1: the threshold was reached */
ngx_int_t ngx_http_mall_waf_scan_request(ngx_http_request_t *r,
    mall_waf_scan_t *s, ngx_http_mall_waf_loc_conf_t *wlcf,
    ngx_uint_t stop, ngx_str_t *body);

void ngx_http_mall_risk_audit(ngx_http_request_t *r,
    ngx_http_mall_waf_audit_t *audit, char *action, ngx_uint_t score,
    ngx_str_t *reasons);
void ngx_http_mall_waf_audit(ngx_http_request_t *r,
    ngx_http_mall_waf_audit_t *audit, const mall_waf_result_t *res,
    ngx_uint_t status);

ngx_int_t ngx_http_mall_waf_status_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
ngx_int_t ngx_http_mall_waf_score_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


#endif /* _NGX_HTTP_MALL_WAF_H_INCLUDED_ */
