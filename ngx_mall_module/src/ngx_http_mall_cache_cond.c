
/*
 * Catalog cache: conditional requests (RFC 9110 §13). A client's
 * If-None-Match / If-Modified-Since evaluated against a stored entry (a
 * 304 instead of the body), and the request headers sent to the origin:
 * the client's own preconditions removed (so that a fill gets a full
 * response), the stored validators added when an entry is revalidated.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_mall_module.h"


static ngx_int_t ngx_http_mall_cache_push_in(ngx_list_t *list, char *key,
    char *lowcase, ngx_str_t *value);


/* Request preconditions that are the client's, never the cache's. */

static ngx_str_t  ngx_http_mall_cache_preconditions[] = {
    ngx_string("If-None-Match"),
    ngx_string("If-Modified-Since"),
    ngx_string("If-Match"),
    ngx_string("If-Unmodified-Since"),
    ngx_string("If-Range"),
    ngx_null_string
};


/*
 * Sets resp->not_modified when the client's copy is current: If-None-Match
 * (weak comparison, lists, "*") decides alone when present (§13.2.2);
 * otherwise If-Modified-Since of a GET or HEAD against Last-Modified, or
 * the Date of the stored response. Only for 2xx entries (§13.2.1).
 */

ngx_int_t
ngx_http_mall_cache_not_modified(ngx_http_request_t *r,
    ngx_http_mall_cache_resp_t *resp)
{
    time_t      ims, lm;
    ngx_str_t   etag, v, *inm;

    resp->not_modified = 0;

    if (resp->e.status < 200 || resp->e.status >= 300) {
        return NGX_DECLINED;
    }

    if (r->headers_in.if_none_match) {
        inm = &r->headers_in.if_none_match->value;

        if (inm->len == 1 && inm->data[0] == '*') {
            resp->not_modified = 1;

        } else if (ngx_http_mall_cache_header_find(&resp->headers, "ETag", 4,
                                                   &etag)
                   == NGX_OK
                   && mall_http_cache_etag_listed((const char *) inm->data,
                                                  inm->len,
                                                  (const char *) etag.data,
                                                  etag.len))
        {
            resp->not_modified = 1;
        }

        return resp->not_modified ? NGX_OK : NGX_DECLINED;
    }

    if (r->headers_in.if_modified_since == NULL
        || !(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD)))
    {
        return NGX_DECLINED;
    }

    ims = ngx_parse_http_time(r->headers_in.if_modified_since->value.data,
                              r->headers_in.if_modified_since->value.len);
    if (ims == NGX_ERROR) {
        return NGX_DECLINED;        /* an invalid date is ignored */
    }

    lm = NGX_ERROR;

    if (ngx_http_mall_cache_header_find(&resp->headers, "Last-Modified", 13,
                                        &v)
        == NGX_OK
        || ngx_http_mall_cache_header_find(&resp->headers, "Date", 4, &v)
           == NGX_OK)
    {
        lm = ngx_parse_http_time(v.data, v.len);
    }

    if (lm == NGX_ERROR || lm > ims) {
        return NGX_DECLINED;
    }

    resp->not_modified = 1;

    return NGX_OK;
}


/*
 * The request headers for the origin, into out: r's minus the client's
 * preconditions, plus If-None-Match / If-Modified-Since from the stored
 * entry when one is revalidated (stored not NULL).
 */

ngx_int_t
ngx_http_mall_cache_origin_headers(ngx_http_request_t *r, ngx_list_t *out,
    ngx_http_mall_cache_resp_t *stored)
{
    ngx_str_t        *s, v;
    ngx_uint_t        i, skip, if_range;
    ngx_list_t        list;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h, *nh;

    if (ngx_list_init(&list, r->pool, 20, sizeof(ngx_table_elt_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /*
     * without its If-Range, a Range could get a part of another
     * representation: the origin is then asked for the whole
     */
    if_range = (r->headers_in.if_range != NULL);

    part = &r->headers_in.headers.part;
    i = 0;

    while ((h = ngx_http_mall_header_next(&part, &i)) != NULL) {

        skip = (if_range && ngx_http_mall_header_is(h, "Range", 5));

        for (s = ngx_http_mall_cache_preconditions; !skip && s->len; s++) {
            if (ngx_http_mall_header_is(h, (char *) s->data, s->len)) {
                skip = 1;
                break;
            }
        }

        if (skip) {
            continue;
        }

        nh = ngx_list_push(&list);
        if (nh == NULL) {
            return NGX_ERROR;
        }

        *nh = *h;
    }

    if (stored) {
        if (ngx_http_mall_cache_header_find(&stored->headers, "ETag", 4, &v)
            == NGX_OK
            && ngx_http_mall_cache_push_in(&list, "If-None-Match",
                                           "if-none-match", &v)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        if (ngx_http_mall_cache_header_find(&stored->headers, "Last-Modified",
                                            13, &v)
            == NGX_OK
            && ngx_http_mall_cache_push_in(&list, "If-Modified-Since",
                                           "if-modified-since", &v)
               != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    *out = list;

    return NGX_OK;
}


/* A request header as nginx's parser makes it (proxy looks it up hashed). */

static ngx_int_t
ngx_http_mall_cache_push_in(ngx_list_t *list, char *key, char *lowcase,
    ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(list);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->key.data = (u_char *) key;
    h->key.len = ngx_strlen(key);
    h->lowcase_key = (u_char *) lowcase;
    h->hash = ngx_hash_key((u_char *) lowcase, h->key.len);
    h->value = *value;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    return NGX_OK;
}
