
/*
 * CSRF guard for cookie-authenticated pages (`mall_csrf on`): a
 * state-changing request (not GET, HEAD, OPTIONS) that carries a Cookie
 * and no Bearer token must come from this site or an allowed origin
 * (Origin, or Referer when there is no Origin), or carry a CSRF token: an
 * X-CSRF-Token header equal to its mall_csrf cookie (double submit).
 * Bearer-token API calls are not affected: a browser never adds that header
 * on its own, so a forged cross-site request cannot carry one.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <mall_crypto.h>

#include "ngx_http_mall_module.h"


#define NGX_HTTP_MALL_CSRF_SAFE  (NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_OPTIONS)


static ngx_uint_t ngx_http_mall_csrf_origin_ok(ngx_http_request_t *r,
    ngx_array_t *allowed, ngx_str_t *origin);
static ngx_uint_t ngx_http_mall_csrf_token_ok(ngx_str_t *cookie,
    ngx_str_t *token);


/* mall_csrf_origins https://shop.example.com ...: exact origins allowed */

char *
ngx_http_mall_csrf_origins(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mall_loc_conf_t *mlcf = conf;

    ngx_str_t   *o;
    ngx_uint_t   i;

    if (mlcf->waf.csrf_origins != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    mlcf->waf.csrf_origins = ngx_http_mall_waf_conf_args(cf);
    if (mlcf->waf.csrf_origins == NULL) {
        return NGX_CONF_ERROR;
    }

    o = mlcf->waf.csrf_origins->elts;

    for (i = 0; i < mlcf->waf.csrf_origins->nelts; i++) {
        if (ngx_strncmp(o[i].data, "http://", 7) != 0
            && ngx_strncmp(o[i].data, "https://", 8) != 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid origin \"%V\" (scheme://host[:port])",
                               &o[i]);
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/* ACCESS, after the WAF: NGX_DECLINED, or NGX_DONE once refused. */

ngx_int_t
ngx_http_mall_csrf_handler(ngx_http_request_t *r)
{
    u_char                    *p, *last;
    ngx_str_t                  origin;
    ngx_http_mall_loc_conf_t  *mlcf;

    ngx_http_mall_header_want_t  want[5] = {
        { ngx_string("cookie"), ngx_null_string },
        { ngx_string("authorization"), ngx_null_string },
        { ngx_string("origin"), ngx_null_string },
        { ngx_string("referer"), ngx_null_string },
        { ngx_string("x-csrf-token"), ngx_null_string },
    };

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_mall_module);

    if (!mlcf->waf.csrf || (r->method & NGX_HTTP_MALL_CSRF_SAFE)) {
        return NGX_DECLINED;
    }

    ngx_http_mall_find_headers_in(r, want, 5);

    if (want[0].value.data == NULL) {
        return NGX_DECLINED;
    }

    if (want[1].value.len > sizeof("Bearer ") - 1
        && ngx_strncasecmp(want[1].value.data, (u_char *) "Bearer ",
                           sizeof("Bearer ") - 1) == 0)
    {
        return NGX_DECLINED;
    }

    origin = want[2].value;

    if (origin.data == NULL && want[3].value.data) {

        /* the Referer's scheme://host[:port], up to the path */

        p = want[3].value.data;
        last = p + want[3].value.len;
        p = ngx_strlcasestrn(p, last, (u_char *) "://", 2);

        if (p) {
            p = ngx_strlchr(p + 3, last, '/');
            origin.data = want[3].value.data;
            origin.len = (p ? p : last) - origin.data;
        }
    }

    if (origin.data
        && ngx_http_mall_csrf_origin_ok(r, mlcf->waf.csrf_origins, &origin))
    {
        return NGX_DECLINED;
    }

    if (want[4].value.len
        && ngx_http_mall_csrf_token_ok(&want[0].value, &want[4].value))
    {
        return NGX_DECLINED;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "mall_csrf: cross-site %V refused", &r->method_name);

    return ngx_http_mall_deny(r, NGX_HTTP_FORBIDDEN, "FORBIDDEN",
                              "cross-site request refused");
}


/* This site's own origin (scheme + Host), or one listed in allowed. */

static ngx_uint_t
ngx_http_mall_csrf_origin_ok(ngx_http_request_t *r, ngx_array_t *allowed,
    ngx_str_t *origin)
{
    size_t       slen;
    ngx_str_t   *a, *host;
    ngx_uint_t   i;

#if (NGX_HTTP_SSL)
    slen = r->connection->ssl ? sizeof("https://") - 1
                              : sizeof("http://") - 1;
#else
    slen = sizeof("http://") - 1;
#endif

    if (r->headers_in.host) {
        host = &r->headers_in.host->value;

        if (origin->len == slen + host->len
            && ngx_strncasecmp(origin->data,
                               (u_char *) (slen == 8 ? "https://"
                                                     : "http://"),
                               slen) == 0
            && ngx_strncasecmp(origin->data + slen, host->data, host->len)
               == 0)
        {
            return 1;
        }
    }

    if (allowed == NULL) {
        return 0;
    }

    a = allowed->elts;

    for (i = 0; i < allowed->nelts; i++) {
        if (a[i].len == origin->len
            && ngx_strncasecmp(a[i].data, origin->data, origin->len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/* X-CSRF-Token equals the mall_csrf cookie (constant time). */

static ngx_uint_t
ngx_http_mall_csrf_token_ok(ngx_str_t *cookie, ngx_str_t *token)
{
    u_char  *p, *last, *v, *end;

    p = cookie->data;
    last = p + cookie->len;

    while (p < last) {
        while (p < last && (*p == ' ' || *p == ';')) {
            p++;
        }

        end = ngx_strlchr(p, last, ';');
        if (end == NULL) {
            end = last;
        }

        if (end - p > (ssize_t) sizeof("mall_csrf=") - 1
            && ngx_strncmp(p, "mall_csrf=", sizeof("mall_csrf=") - 1) == 0)
        {
            v = p + sizeof("mall_csrf=") - 1;

            return mall_ct_equal(v, end - v, token->data, token->len);
        }

        p = end;
    }

    return 0;
}
