
/*
 * Contract error responses: see ngx_http_mall_json.h.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_mall_module.h"


static ngx_str_t  ngx_http_mall_json_type = ngx_string("application/json");


/* Length of src once escaped as the inside of a JSON string. */

size_t
ngx_http_mall_json_escape_len(u_char *src, size_t size)
{
    size_t  len;

    len = 0;

    while (size--) {
        if (*src == '"' || *src == '\\') {
            len += 2;

        } else if (*src < 0x20 || *src == 0x7f) {
            len += 6;

        } else {
            len++;
        }

        src++;
    }

    return len;
}


/* Escapes src into dst (ngx_http_mall_json_escape_len bytes); returns end. */

u_char *
ngx_http_mall_json_escape(u_char *dst, u_char *src, size_t size)
{
    static u_char  hex[] = "0123456789abcdef";

    while (size--) {

        if (*src == '"' || *src == '\\') {
            *dst++ = '\\';
            *dst++ = *src;

        } else if (*src < 0x20 || *src == 0x7f) {
            *dst++ = '\\';
            *dst++ = 'u';
            *dst++ = '0';
            *dst++ = '0';
            *dst++ = hex[*src >> 4];
            *dst++ = hex[*src & 0xf];

        } else {
            *dst++ = *src;
        }

        src++;
    }

    return dst;
}


static ngx_int_t
ngx_http_mall_push_header(ngx_http_request_t *r, char *key, u_char *value,
    size_t len)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) key;
    h->key.len = ngx_strlen(key);
    h->value.data = value;
    h->value.len = len;
    h->lowcase_key = NULL;

    return NGX_OK;
}


/*
 * Sends status with the contract's error body, built in r->pool. Discards
 * the request body, sets Content-Type: application/json and Cache-Control:
 * no-store, adds Retry-After when retry_after > 0 (429) and honours
 * header_only. Returns what ngx_http_output_filter() or
 * ngx_http_send_header() returned, for ngx_http_finalize_request(). Never
 * blocks.
 */

ngx_int_t
ngx_http_mall_send_error(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *code, ngx_str_t *message, time_t retry_after)
{
    u_char       *p, *ra;
    size_t        len;
    ngx_buf_t    *b;
    ngx_int_t     rc;
    ngx_str_t     id;
    ngx_chain_t   out;

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }

    ngx_http_mall_request_id(r, &id);

    len = sizeof("{\"error\":{\"code\":\"\",\"message\":\"\","
                 "\"request_id\":\"\"}}") - 1
          + ngx_http_mall_json_escape_len(code->data, code->len)
          + ngx_http_mall_json_escape_len(message->data, message->len)
          + ngx_http_mall_json_escape_len(id.data, id.len);

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(b->last, "{\"error\":{\"code\":\"",
                   sizeof("{\"error\":{\"code\":\"") - 1);
    p = ngx_http_mall_json_escape(p, code->data, code->len);
    p = ngx_cpymem(p, "\",\"message\":\"", sizeof("\",\"message\":\"") - 1);
    p = ngx_http_mall_json_escape(p, message->data, message->len);
    p = ngx_cpymem(p, "\",\"request_id\":\"",
                   sizeof("\",\"request_id\":\"") - 1);
    p = ngx_http_mall_json_escape(p, id.data, id.len);
    p = ngx_cpymem(p, "\"}}", sizeof("\"}}") - 1);

    b->last = p;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.status = status;
    r->headers_out.content_type = ngx_http_mall_json_type;
    r->headers_out.content_type_len = ngx_http_mall_json_type.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.charset.len = 0;

    ngx_http_clear_content_length(r);
    ngx_http_clear_accept_ranges(r);
    ngx_http_clear_last_modified(r);
    ngx_http_clear_etag(r);

    r->headers_out.content_length_n = b->last - b->pos;

    if (ngx_http_mall_push_header(r, "Cache-Control", (u_char *) "no-store",
                                  sizeof("no-store") - 1)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (retry_after > 0) {
        ra = ngx_pnalloc(r->pool, NGX_TIME_T_LEN);
        if (ra == NULL) {
            return NGX_ERROR;
        }

        if (ngx_http_mall_push_header(r, "Retry-After", ra,
                                      ngx_sprintf(ra, "%T", retry_after) - ra)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/* Sends body (JSON, len bytes) with status; for content handlers. */

ngx_int_t
ngx_http_mall_send_json(ngx_http_request_t *r, ngx_uint_t status,
    u_char *body, size_t len)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    r->headers_out.status = status;
    r->headers_out.content_length_n = len;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = body;
    b->last = body + len;
    b->memory = 1;
    b->last_buf = 1;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/*
 * Phase handlers' denial: sends the error and finalizes the request. The
 * caller returns the NGX_DONE this returns.
 */

ngx_int_t
ngx_http_mall_deny(ngx_http_request_t *r, ngx_uint_t status, char *code,
    char *message)
{
    return ngx_http_mall_deny_retry(r, status, code, message,
                                    status == NGX_HTTP_TOO_MANY_REQUESTS);
}


/* The same with Retry-After: retry_after seconds (none when 0). */

ngx_int_t
ngx_http_mall_deny_retry(ngx_http_request_t *r, ngx_uint_t status,
    char *code, char *message, time_t retry_after)
{
    ngx_int_t  rc;
    ngx_str_t  c, m;

    c.data = (u_char *) code;
    c.len = ngx_strlen(code);
    m.data = (u_char *) message;
    m.len = ngx_strlen(message);

    ngx_http_mall_metrics_denied(r, status);

    rc = ngx_http_mall_send_error(r, status, &c, &m, retry_after);

    ngx_http_finalize_request(r, rc);

    return NGX_DONE;
}


/*
 * A 494 caused by the Authorization line: nginx keeps the start of the line
 * it could not buffer in header_name_start (ngx_http_request.c) and never
 * added it to headers_in, unlike an Authorization line that fitted.
 */

static ngx_uint_t
ngx_http_mall_json_long_auth(ngx_http_request_t *r)
{
    u_char  *p;

    static u_char  name[] = "authorization";

    p = r->header_name_start;

    if (p == NULL || r->headers_in.authorization != NULL || r->header_in == NULL
        || p < r->header_in->start
        || (size_t) (r->header_in->last - p) < sizeof(name))
    {
        return 0;
    }

    return ngx_strncasecmp(p, name, sizeof(name) - 1) == 0
           && (p[sizeof(name) - 1] == ':' || p[sizeof(name) - 1] == ' ');
}


/*
 * Content handler of "mall_json_error <status> <CODE> <message>": conf maps
 * nginx's own errors (error_page ... @json_404) to the contract's schema.
 */

ngx_int_t
ngx_http_mall_json_error_handler(ngx_http_request_t *r)
{
    ngx_http_mall_loc_conf_t  *mlcf;

    static ngx_str_t  unauth = ngx_string("UNAUTHORIZED");
    static ngx_str_t  toolong = ngx_string("token too long");

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_mall_module);

    if (mlcf->error_status == NGX_HTTP_BAD_REQUEST
        && ngx_http_mall_json_long_auth(r))
    {
        r->err_status = NGX_HTTP_UNAUTHORIZED;
        return ngx_http_mall_send_error(r, NGX_HTTP_UNAUTHORIZED, &unauth,
                                        &toolong, 0);
    }

    return ngx_http_mall_send_error(r, mlcf->error_status, &mlcf->error_code,
                                    &mlcf->error_message,
                                    mlcf->error_status
                                    == NGX_HTTP_TOO_MANY_REQUESTS);
}
