
/*
 * Token auth at the edge: "Authorization: Bearer <JWT>" verified once
 * (ES256 or HS256, lib/mall_jwt.h), then remembered in a shm zone keyed by
 * SHA-256 of the token until its exp. The same zone holds the revocation
 * deny set, fed from the Redis stream mall:revoked by worker 0.
 */


#ifndef _NGX_HTTP_MALL_AUTH_H_INCLUDED_
#define _NGX_HTTP_MALL_AUTH_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <mall_jwt.h>


#define NGX_HTTP_MALL_AUTH_MAX_KEYS  16


typedef struct {
    ngx_shm_zone_t                *zone;        /* cache + deny set */
    ngx_array_t                   *keys;        /* mall_jwt_key_t */
    time_t                         revoke_ttl;  /* seconds */
} ngx_http_mall_auth_main_conf_t;


typedef struct {
    ngx_uint_t                     mode;        /* NGX_HTTP_MALL_OFF... */
    ngx_str_t                      issuer;      /* NUL-terminated; "" any */
    ngx_str_t                      audience;    /* NUL-terminated; "" any */
    ngx_str_t                      role;        /* required role; "" any */
    time_t                         leeway;      /* seconds */
} ngx_http_mall_auth_loc_conf_t;


typedef struct ngx_http_mall_ctx_s  ngx_http_mall_ctx_t;


char *ngx_http_mall_auth_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_mall_auth_key(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);

void ngx_http_mall_auth_create_loc_conf(ngx_http_mall_auth_loc_conf_t *conf);
char *ngx_http_mall_auth_merge_loc_conf(ngx_conf_t *cf,
    ngx_http_mall_auth_loc_conf_t *prev, ngx_http_mall_auth_loc_conf_t *conf);
ngx_int_t ngx_http_mall_auth_init(ngx_conf_t *cf);

ngx_int_t ngx_http_mall_auth_handler(ngx_http_request_t *r,
    ngx_http_mall_ctx_t *ctx);

ngx_int_t ngx_http_mall_user_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


#endif /* _NGX_HTTP_MALL_AUTH_H_INCLUDED_ */
