
/*
 * Contract errors (MISSION.md): a non-2xx status with
 * {"error":{"code":"UPPER_SNAKE","message":"...","request_id":"..."}}.
 * Every denial of the module goes through ngx_http_mall_send_error().
 */


#ifndef _NGX_HTTP_MALL_JSON_H_INCLUDED_
#define _NGX_HTTP_MALL_JSON_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


ngx_int_t ngx_http_mall_send_error(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *code, ngx_str_t *message, time_t retry_after);

/*
 * For phase handlers: sends the error and finalizes the request. Returns
 * NGX_DONE, which the phase handler returns as it is.
 */
ngx_int_t ngx_http_mall_send_json(ngx_http_request_t *r, ngx_uint_t status,
    u_char *body, size_t len);
ngx_int_t ngx_http_mall_deny(ngx_http_request_t *r, ngx_uint_t status,
    char *code, char *message);
ngx_int_t ngx_http_mall_deny_retry(ngx_http_request_t *r, ngx_uint_t status,
    char *code, char *message, time_t retry_after);

ngx_int_t ngx_http_mall_json_error_handler(ngx_http_request_t *r);

size_t ngx_http_mall_json_escape_len(u_char *src, size_t size);
u_char *ngx_http_mall_json_escape(u_char *dst, u_char *src, size_t size);


#endif /* _NGX_HTTP_MALL_JSON_H_INCLUDED_ */
