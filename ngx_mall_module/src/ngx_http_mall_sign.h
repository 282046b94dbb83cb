
/*
 * Client request signatures (MISSION.md "Request signing, exactly";
 * lib/mall_sign.h) with replay protection: a nonce is recorded in a shm
 * zone only after the signature has been found valid.
 */


#ifndef _NGX_HTTP_MALL_SIGN_H_INCLUDED_
#define _NGX_HTTP_MALL_SIGN_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


#define NGX_HTTP_MALL_NONCE_MIN  16
#define NGX_HTTP_MALL_NONCE_MAX  64


typedef struct {
    ngx_shm_zone_t                *zone;      /* nonce replay cache */
    ngx_array_t                   *secrets;   /* ngx_http_mall_secret_t */
} ngx_http_mall_sign_main_conf_t;


typedef struct {
    ngx_uint_t                     mode;      /* NGX_HTTP_MALL_OFF... */
    ngx_uint_t                     methods;   /* NGX_HTTP_* bits to check */
    time_t                         window;    /* seconds, each side of now */
    ngx_flag_t                     v1;        /* mall_sign_v1: take v1 */
} ngx_http_mall_sign_loc_conf_t;


typedef struct ngx_http_mall_ctx_s  ngx_http_mall_ctx_t;


char *ngx_http_mall_sign_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_mall_sign_secret(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

void ngx_http_mall_sign_create_loc_conf(ngx_http_mall_sign_loc_conf_t *conf);
char *ngx_http_mall_sign_merge_loc_conf(ngx_conf_t *cf,
    ngx_http_mall_sign_loc_conf_t *prev, ngx_http_mall_sign_loc_conf_t *conf,
    ngx_uint_t auth_mode);

ngx_int_t ngx_http_mall_sign_handler(ngx_http_request_t *r,
    ngx_http_mall_ctx_t *ctx);


#endif /* _NGX_HTTP_MALL_SIGN_H_INCLUDED_ */
