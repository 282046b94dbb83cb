
/*
 * Edge -> worker signature (lib/mall_edge_sig.h) exposed as the variables
 * $mall_edge_ts, $mall_edge_kid and $mall_edge_signature, which conf/ passes
 * to the workers with proxy_set_header, with $mall_idempotency_key: the
 * Idempotency-Key the signature covers (forwarded in place of the
 * client's, so that the worker reads exactly the signed value).
 */


#ifndef _NGX_HTTP_MALL_EDGE_H_INCLUDED_
#define _NGX_HTTP_MALL_EDGE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <mall_edge_sig.h>


typedef struct {
    ngx_array_t                   *keys;   /* secrets; [0] signs */
} ngx_http_mall_edge_main_conf_t;


char *ngx_http_mall_edge_key(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);

ngx_int_t ngx_http_mall_edge_ts_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
ngx_int_t ngx_http_mall_edge_kid_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
ngx_int_t ngx_http_mall_edge_idem_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
ngx_int_t ngx_http_mall_edge_signature_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


#endif /* _NGX_HTTP_MALL_EDGE_H_INCLUDED_ */
