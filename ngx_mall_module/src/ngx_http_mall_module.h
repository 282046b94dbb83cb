
/*
 * ngx_http_mall_module: shared types of the mall edge module.
 *
 * The module is split by concern (STYLE.md section 2): this header holds the
 * main/loc conf made of per-feature sub-structs, the per-request ctx and the
 * helpers every feature uses. Feature files declare their own conf types.
 */


#ifndef _NGX_HTTP_MALL_MODULE_H_INCLUDED_
#define _NGX_HTTP_MALL_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <mall_jwt.h>
#include <mall_crypto.h>

#include "ngx_http_mall_shm.h"
#include "ngx_http_mall_json.h"
#include "ngx_http_mall_redis.h"
#include "ngx_http_mall_auth.h"
#include "ngx_http_mall_sign.h"
#include "ngx_http_mall_edge.h"
#include "ngx_http_mall_limit.h"
#include "ngx_http_mall_cache.h"
#include "ngx_http_mall_metrics.h"
#include "ngx_http_mall_waf.h"
#include "ngx_http_mall_fraud.h"


#define NGX_HTTP_MALL_OFF       0
#define NGX_HTTP_MALL_OPTIONAL  1
#define NGX_HTTP_MALL_REQUIRED  2


/* A request header asked for by name (lowercase) and what was found. */
typedef struct {
    ngx_str_t                      name;
    ngx_str_t                      value;    /* data NULL: absent */
} ngx_http_mall_header_want_t;


/*
 * A named secret loaded from a file, and its HMAC key prepared once (both
 * zeroed by cf->pool cleanups).
 */
typedef struct {
    ngx_str_t                      id;
    ngx_str_t                      key;
    mall_hmac_key_t               *hmac;
} ngx_http_mall_secret_t;


typedef struct {
    ngx_http_mall_auth_main_conf_t   auth;
    ngx_http_mall_sign_main_conf_t   sign;
    ngx_http_mall_edge_main_conf_t   edge;
    ngx_http_mall_redis_conf_t       redis;
    ngx_http_mall_limit_main_conf_t  limit;
    ngx_http_mall_cache_main_conf_t  cache;
    ngx_http_mall_waf_main_conf_t    waf;
    ngx_http_mall_fraud_main_conf_t  fraud;
    ngx_int_t                        request_id_index;
} ngx_http_mall_main_conf_t;


typedef struct {
    ngx_http_mall_auth_loc_conf_t    auth;
    ngx_http_mall_sign_loc_conf_t    sign;
    ngx_http_mall_limit_loc_conf_t   limit;
    ngx_http_mall_cache_loc_conf_t   cache;
    ngx_http_mall_waf_loc_conf_t     waf;
    ngx_http_mall_fraud_loc_conf_t   fraud;

    ngx_flag_t                       request_id;

    /* mall_json_error: a content handler answering with a fixed error */
    ngx_uint_t                       error_status;
    ngx_str_t                        error_code;
    ngx_str_t                        error_message;
} ngx_http_mall_loc_conf_t;


#define NGX_HTTP_MALL_AUTH_NONE      0    /* not checked yet */
#define NGX_HTTP_MALL_AUTH_ANON      1    /* optional auth, no token */
#define NGX_HTTP_MALL_AUTH_VERIFIED  2    /* claims below are valid */


/*
 * Per-request state. It survives internal redirects (pool-cleanup marker,
 * as realip does), so a token is verified and a nonce recorded only once per
 * request even when error_page or try_files re-runs the phases.
 */
struct ngx_http_mall_ctx_s {
    mall_jwt_claims_t             *claims;        /* r->pool, when VERIFIED:
                                                     most requests never
                                                     carry a token */
    ngx_uint_t                     auth_state;

    u_char                         body_sha256[MALL_SHA256_HEX_LEN];

    /* edge -> worker signature, computed once the body is known */
    u_char                         edge_ts[NGX_TIME_T_LEN];
    size_t                         edge_ts_len;
    u_char                         edge_sig[MALL_EDGE_SIG_LEN];
    ngx_str_t                      edge_kid;
    ngx_str_t                      edge_idem;     /* Idempotency-Key signed */

    ngx_http_mall_limit_ctx_t      limit;
    ngx_http_mall_cache_ctx_t     *cache;
    ngx_http_mall_waf_ctx_t        waf;
    ngx_http_mall_fraud_ctx_t      fraud;

    unsigned                       body_hashed:1;
    unsigned                       body_reading:1;
    unsigned                       body_read:1;
    unsigned                       sign_done:1;
    unsigned                       edge_done:1;
    unsigned                       subrequest:1;  /* own ctx of a sr */
    unsigned                       denied:1;      /* counted refused */
};


ngx_http_mall_ctx_t *ngx_http_mall_get_ctx(ngx_http_request_t *r);
ngx_http_mall_ctx_t *ngx_http_mall_create_ctx(ngx_http_request_t *r);

/* ngx_http_mall_path.c: an API path nginx and the workers read apart */
ngx_uint_t ngx_http_mall_path_ambiguous(ngx_http_request_t *r);
void *ngx_http_mall_conn_data(ngx_connection_t *c, ngx_pool_cleanup_pt owner,
    size_t size, ngx_uint_t create);
ngx_int_t ngx_http_mall_read_body(ngx_http_request_t *r,
    ngx_http_mall_ctx_t *ctx);
ngx_int_t ngx_http_mall_body_sha256(ngx_http_request_t *r,
    ngx_http_mall_ctx_t *ctx);
u_char *ngx_http_mall_chain_copy(u_char *p, ngx_chain_t *cl);
ngx_int_t ngx_http_mall_conf_open(ngx_conf_t *cf, ngx_str_t *path,
    ngx_file_t *file, size_t *size);
ngx_int_t ngx_http_mall_load_secret(ngx_conf_t *cf, ngx_str_t *path,
    ngx_str_t *key, size_t min, size_t max);
char *ngx_http_mall_secret_add(ngx_conf_t *cf, ngx_array_t **secrets,
    ngx_str_t *value, char *invalid, char *duplicate);
ngx_http_mall_secret_t *ngx_http_mall_secret_find(ngx_array_t *secrets,
    u_char *id, size_t len);
void ngx_http_mall_request_id(ngx_http_request_t *r, ngx_str_t *id);
void ngx_http_mall_variable_empty(ngx_http_variable_value_t *v);
ngx_uint_t ngx_http_mall_header_is(ngx_table_elt_t *h, char *name,
    size_t len);
ngx_table_elt_t *ngx_http_mall_header_next(ngx_list_part_t **part,
    ngx_uint_t *i);
ngx_table_elt_t *ngx_http_mall_find_header(ngx_list_t *headers, char *name,
    size_t len);
void ngx_http_mall_find_headers_in(ngx_http_request_t *r,
    ngx_http_mall_header_want_t *want, ngx_uint_t n);
uint64_t ngx_http_mall_now_ms(void);


extern ngx_module_t  ngx_http_mall_module;


#endif /* _NGX_HTTP_MALL_MODULE_H_INCLUDED_ */
