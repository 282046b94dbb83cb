
/*
 * WAF inputs: every part of a request handed to the engine, in the
 * pipeline's order (URI, args, headers, cookies, then the body). Values
 * stay where nginx keeps them; only query args are decoded, into one
 * r->pool buffer the size of the query. Work is bounded by the number of
 * args and headers fed (mall_waf_max_args / mall_waf_max_headers: past
 * them the rest is not fed and the excess is a protocol anomaly).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <mall_kv.h>

#include "ngx_http_mall_module.h"


/* state of a mall_kv_walk() over args or cookies */
typedef struct {
    mall_waf_scan_t               *s;
    u_char                        *buf;      /* decoded args */
    ngx_uint_t                     stop;
    ngx_uint_t                     reached;
} ngx_http_mall_waf_walk_t;


/* feed one value; on reaching the threshold stop when asked to */
#define NGX_HTTP_MALL_WAF_FEED(call)                                          \
    if ((call) == 1) {                                                       \
        reached = 1;                                                         \
        if (stop) {                                                          \
            return 1;                                                        \
        }                                                                    \
    }


static ngx_int_t ngx_http_mall_waf_args(ngx_http_request_t *r,
    mall_waf_scan_t *s, ngx_uint_t max, ngx_uint_t stop);
static ngx_int_t ngx_http_mall_waf_headers(ngx_http_request_t *r,
    mall_waf_scan_t *s, ngx_uint_t max, ngx_uint_t stop);
static ngx_int_t ngx_http_mall_waf_cookies(mall_waf_scan_t *s,
    ngx_str_t *cookie, ngx_uint_t stop);
static ngx_int_t ngx_http_mall_waf_body_scan(ngx_http_request_t *r,
    mall_waf_scan_t *s, ngx_str_t *body);
static ngx_int_t ngx_http_mall_waf_anomaly(mall_waf_scan_t *s, int which);


#define ngx_http_mall_waf_value(s, t, n, nlen, v, vlen)                      \
    mall_waf_scan_value(s, t, (const char *) (n), nlen,                      \
                        (const uint8_t *) (v), vlen)


/*
 * Feeds everything; body NULL: not inspected (over the limit). Returns 1
 * when the threshold was reached (at once when stop is set), 0 otherwise.
 */

ngx_int_t
ngx_http_mall_waf_scan_request(ngx_http_request_t *r, mall_waf_scan_t *s,
    ngx_http_mall_waf_loc_conf_t *wlcf, ngx_uint_t stop, ngx_str_t *body)
{
    ngx_int_t           reached;
    ngx_str_t          *addr;
    ngx_http_headers_in_t  *hi;

    reached = 0;
    hi = &r->headers_in;

    if (hi->host == NULL) {
        NGX_HTTP_MALL_WAF_FEED(ngx_http_mall_waf_anomaly(s, 0));
    }

    if (hi->transfer_encoding && hi->content_length) {
        NGX_HTTP_MALL_WAF_FEED(ngx_http_mall_waf_anomaly(s, 1));
    }

    addr = &r->connection->addr_text;

    NGX_HTTP_MALL_WAF_FEED(ngx_http_mall_waf_value(s, MALL_WAF_CLIENT_IP,
                           NULL, 0, addr->data, addr->len));

    NGX_HTTP_MALL_WAF_FEED(ngx_http_mall_waf_value(s, MALL_WAF_METHOD,
                           NULL, 0, r->method_name.data,
                           r->method_name.len));

    NGX_HTTP_MALL_WAF_FEED(ngx_http_mall_waf_value(s, MALL_WAF_PATH,
                           NULL, 0, r->uri.data, r->uri.len));

    NGX_HTTP_MALL_WAF_FEED(ngx_http_mall_waf_value(s, MALL_WAF_RAW_URI,
                           NULL, 0, r->unparsed_uri.data,
                           r->unparsed_uri.len));

    if (r->args.len) {
        NGX_HTTP_MALL_WAF_FEED(ngx_http_mall_waf_args(r, s, wlcf->max_args,
                                                      stop));
    }

    NGX_HTTP_MALL_WAF_FEED(ngx_http_mall_waf_headers(r, s, wlcf->max_headers,
                                                     stop));

    if (body && body->len) {
        NGX_HTTP_MALL_WAF_FEED(ngx_http_mall_waf_body_scan(r, s, body));
    }

    return reached;
}


/* One query arg, decoded once into the r->pool buffer of the walk. */

static int
ngx_http_mall_waf_arg(void *data, const uint8_t *name, size_t nlen,
    const uint8_t *val, size_t vlen)
{
    ngx_http_mall_waf_walk_t *w = data;

    size_t  dn, dv;

    dn = mall_kv_decode(w->buf, name, nlen);
    dv = val ? mall_kv_decode(w->buf + dn, val, vlen) : 0;

    if (ngx_http_mall_waf_value(w->s, MALL_WAF_ARG_NAME, w->buf, dn,
                                w->buf, dn) == 1
        || ngx_http_mall_waf_value(w->s, MALL_WAF_ARG_VALUE, w->buf, dn,
                                   w->buf + dn, dv) == 1)
    {
        w->reached = 1;
        return w->stop;
    }

    return 0;
}


/* One cookie, as sent (not decoded). */

static int
ngx_http_mall_waf_cookie(void *data, const uint8_t *name, size_t nlen,
    const uint8_t *val, size_t vlen)
{
    ngx_http_mall_waf_walk_t *w = data;

    if (ngx_http_mall_waf_value(w->s, MALL_WAF_COOKIE_NAME, name, nlen,
                                name, nlen) == 1
        || (val && ngx_http_mall_waf_value(w->s, MALL_WAF_COOKIE_VALUE,
                                           name, nlen, val, vlen) == 1))
    {
        w->reached = 1;
        return w->stop;
    }

    return 0;
}


/*
 * Query args, each name and value percent-decoded once ('+' is a space,
 * as the signing canonical reads them). Returns 1 on the threshold.
 */

static ngx_int_t
ngx_http_mall_waf_args(ngx_http_request_t *r, mall_waf_scan_t *s,
    ngx_uint_t max, ngx_uint_t stop)
{
    int                       more;
    ngx_http_mall_waf_walk_t  w;

    w.buf = ngx_pnalloc(r->pool, r->args.len);
    if (w.buf == NULL) {
        return 0;
    }

    w.s = s;
    w.stop = stop;
    w.reached = 0;

    (void) mall_kv_walk(r->args.data, r->args.len, MALL_KV_QUERY, max,
                        ngx_http_mall_waf_arg, &w, &more);

    if (more && !(w.reached && stop)
        && ngx_http_mall_waf_anomaly(s, 2) == 1)
    {
        w.reached = 1;
    }

    return w.reached;
}


/*
 * Each live header, name (lowercase) and value; the Cookie header is fed
 * cookie by cookie instead.
 */

static ngx_int_t
ngx_http_mall_waf_headers(ngx_http_request_t *r, mall_waf_scan_t *s,
    ngx_uint_t max, ngx_uint_t stop)
{
    ngx_int_t         reached;
    ngx_uint_t        i, n;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    reached = 0;
    n = 0;
    part = &r->headers_in.headers.part;
    i = 0;

    while ((h = ngx_http_mall_header_next(&part, &i)) != NULL) {

        if (h->hash == 0) {
            continue;
        }

        if (++n > max) {
            NGX_HTTP_MALL_WAF_FEED(ngx_http_mall_waf_anomaly(s, 3));
            break;
        }

        NGX_HTTP_MALL_WAF_FEED(ngx_http_mall_waf_value(s,
                               MALL_WAF_HEADER_NAME, h->lowcase_key,
                               h->key.len, h->lowcase_key,
                               h->key.len));

        if (h->key.len == sizeof("cookie") - 1
            && ngx_strncmp(h->lowcase_key, "cookie", 6) == 0)
        {
            NGX_HTTP_MALL_WAF_FEED(ngx_http_mall_waf_cookies(s, &h->value,
                                                             stop));
            continue;
        }

        NGX_HTTP_MALL_WAF_FEED(ngx_http_mall_waf_value(s,
                               MALL_WAF_HEADER_VALUE, h->lowcase_key,
                               h->key.len, h->value.data,
                               h->value.len));
    }

    return reached;
}


/* "a=1; b=2": each cookie's name and value. */

static ngx_int_t
ngx_http_mall_waf_cookies(mall_waf_scan_t *s, ngx_str_t *cookie,
    ngx_uint_t stop)
{
    int                       more;
    ngx_http_mall_waf_walk_t  w;

    w.s = s;
    w.stop = stop;
    w.reached = 0;
    w.buf = NULL;

    (void) mall_kv_walk(cookie->data, cookie->len, MALL_KV_COOKIE,
                        (size_t) -1, ngx_http_mall_waf_cookie, &w, &more);

    return w.reached;
}


/*
 * The body by its Content-Type: JSON (application/json, +json), a form,
 * multipart with its boundary, or raw bytes.
 */

static ngx_int_t
ngx_http_mall_waf_body_scan(ngx_http_request_t *r, mall_waf_scan_t *s,
    ngx_str_t *body)
{
    u_char     *p, *last, *semi, *b, *bend;
    size_t      len;
    ngx_str_t   type;

    if (r->headers_in.content_type == NULL) {
        return ngx_http_mall_waf_value(s, MALL_WAF_BODY_RAW, NULL, 0,
                                       body->data, body->len);
    }

    type = r->headers_in.content_type->value;
    p = type.data;
    last = p + type.len;

    semi = ngx_strlchr(p, last, ';');
    len = (semi ? semi : last) - p;

    while (len && (p[len - 1] == ' ' || p[len - 1] == '\t')) {
        len--;
    }

    if ((len == sizeof("application/json") - 1
         && ngx_strncasecmp(p, (u_char *) "application/json", len) == 0)
        || (len > 5
            && ngx_strncasecmp(p + len - 5, (u_char *) "+json", 5) == 0))
    {
        return mall_waf_scan_json(s, body->data, body->len);
    }

    if (len == sizeof("application/x-www-form-urlencoded") - 1
        && ngx_strncasecmp(p, (u_char *) "application/x-www-form-urlencoded",
                           len)
           == 0)
    {
        return mall_waf_scan_form(s, body->data, body->len);
    }

    if (len == sizeof("multipart/form-data") - 1
        && ngx_strncasecmp(p, (u_char *) "multipart/form-data", len) == 0
        && semi)
    {
        b = ngx_strlcasestrn(semi, last, (u_char *) "boundary=",
                             sizeof("boundary=") - 2);
        if (b) {
            b += sizeof("boundary=") - 1;

            if (b < last && *b == '"') {
                b++;
                bend = ngx_strlchr(b, last, '"');

            } else {
                bend = ngx_strlchr(b, last, ';');
            }

            if (bend == NULL) {
                bend = last;
            }

            return mall_waf_scan_multipart(s, (const char *) b, bend - b,
                                           body->data, body->len);
        }
    }

    return ngx_http_mall_waf_value(s, MALL_WAF_BODY_RAW, NULL, 0,
                                   body->data, body->len);
}


/*
 * A protocol fact (0 no Host, 1 Content-Length with Transfer-Encoding,
 * 2 too many args, 3 too many headers) where the engine takes them.
 */

static ngx_int_t
ngx_http_mall_waf_anomaly(mall_waf_scan_t *s, int which)
{
    static const mall_waf_anomaly_e  map[] = {
        MALL_WAF_ANOMALY_NO_HOST,
        MALL_WAF_ANOMALY_CL_AND_TE,
        MALL_WAF_ANOMALY_TOO_MANY_ARGS,
        MALL_WAF_ANOMALY_TOO_MANY_HEADERS
    };

    return mall_waf_scan_anomaly(s, map[which]) == 1;
}
