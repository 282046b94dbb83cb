
/*
 * Catalog cache: whether a response may be stored, for how long, and which
 * of its headers an entry keeps.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_mall_module.h"


static ngx_str_t  ngx_http_mall_cache_skip[] = {
    ngx_string("Date"),
    ngx_string("Vary"),
    ngx_string("Server"),
    ngx_string("Connection"),
    ngx_string("Keep-Alive"),
    ngx_string("X-Request-Id"),
    ngx_string("X-Mall-Cache"),
    ngx_string("Surrogate-Key"),
    ngx_string("Content-Length"),
    ngx_string("Transfer-Encoding"),
    ngx_null_string
};


static ngx_uint_t
ngx_http_mall_cache_kept(ngx_table_elt_t *h)
{
    ngx_str_t  *s;

    if (h->hash == 0) {
        return 0;
    }

    for (s = ngx_http_mall_cache_skip; s->len; s++) {
        if (ngx_http_mall_header_is(h, (char *) s->data, s->len)) {
            return 0;
        }
    }

    return 1;
}


/*
 * Reads Cache-Control: NGX_DECLINED for private, no-store or no-cache;
 * otherwise the directives' values (-1: absent) and NGX_OK.
 */

static ngx_int_t
ngx_http_mall_cache_control(ngx_str_t *value, ngx_int_t *smaxage,
    ngx_int_t *maxage, ngx_int_t *swr, ngx_int_t *sie)
{
    u_char     *p, *q, *end, *last;
    ngx_int_t   n;
    ngx_str_t   tok;

    p = value->data;
    last = p + value->len;

    while (p < last) {
        while (p < last && (*p == ' ' || *p == ',')) {
            p++;
        }

        q = p;
        while (q < last && *q != ',') {
            q++;
        }

        end = q;
        while (end > p && end[-1] == ' ') {
            end--;
        }

        tok.data = p;
        tok.len = end - p;
        p = q;

        if ((tok.len >= 7
             && ngx_strncasecmp(tok.data, (u_char *) "private", 7) == 0)
            || (tok.len >= 8
                && (ngx_strncasecmp(tok.data, (u_char *) "no-store", 8) == 0
                    || ngx_strncasecmp(tok.data, (u_char *) "no-cache", 8)
                       == 0)))
        {
            return NGX_DECLINED;
        }

        q = ngx_strlchr(tok.data, tok.data + tok.len, '=');
        if (q == NULL) {
            continue;
        }

        n = ngx_atoi(q + 1, tok.data + tok.len - q - 1);
        if (n == NGX_ERROR) {
            continue;
        }

        tok.len = q - tok.data;

        if (tok.len == 8
            && ngx_strncasecmp(tok.data, (u_char *) "s-maxage", 8) == 0)
        {
            *smaxage = n;

        } else if (tok.len == 7
                   && ngx_strncasecmp(tok.data, (u_char *) "max-age", 7) == 0)
        {
            *maxage = n;

        } else if (tok.len == 22
                   && ngx_strncasecmp(tok.data,
                                      (u_char *) "stale-while-revalidate", 22)
                      == 0)
        {
            *swr = n;

        } else if (tok.len == 14
                   && ngx_strncasecmp(tok.data, (u_char *) "stale-if-error",
                                      14) == 0)
        {
            *sie = n;
        }
    }

    return NGX_OK;
}


/*
 * Decides whether the response may be stored: NGX_OK (what is kept copied
 * into ctx), NGX_DECLINED (not cacheable by policy: BYPASS), NGX_ABORT (an
 * error status or a HEAD: just not stored).
 */

ngx_int_t
ngx_http_mall_cache_policy(ngx_http_request_t *r,
    ngx_http_mall_cache_ctx_t *ctx)
{
    u_char           *p;
    size_t            len;
    u_short           klen, vlen;
    ngx_int_t         smaxage, maxage, swr, sie;
    ngx_str_t         tags;
    ngx_uint_t        i, pass;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    if (r->method != NGX_HTTP_GET
        || (r->headers_out.status != NGX_HTTP_OK
            && r->headers_out.status != 203))
    {
        return NGX_ABORT;
    }

    if (r->headers_out.content_length_n > (off_t) ctx->czone->max_entry) {
        return NGX_DECLINED;
    }

    smaxage = -1;
    maxage = -1;
    swr = -1;
    sie = -1;
    len = 0;
    ngx_str_null(&tags);

    /* pass 1: policy headers, and the size of those kept */

    for (pass = 0; pass < 2; pass++) {

        part = &r->headers_out.headers.part;
        h = part->elts;
        p = ctx->headers.data;

        for (i = 0; /* void */ ; i++) {

            if (i >= part->nelts) {
                if (part->next == NULL) {
                    break;
                }

                part = part->next;
                h = part->elts;
                i = 0;
            }

            if (pass == 0) {

                if (ngx_http_mall_header_is(&h[i], "Set-Cookie", 10)) {
                    return NGX_DECLINED;
                }

                if (ngx_http_mall_header_is(&h[i], "Content-Encoding", 16)
                    && h[i].value.len
                    && ngx_strncasecmp(h[i].value.data,
                                       (u_char *) "identity", 8) != 0)
                {
                    return NGX_DECLINED;
                }

                if (ngx_http_mall_header_is(&h[i], "Vary", 4)
                    && !(h[i].value.len == 15
                         && ngx_strncasecmp(h[i].value.data,
                                            (u_char *) "Accept-Encoding", 15)
                            == 0))
                {
                    /* varies on something else (a user?): not shared */
                    return NGX_DECLINED;
                }

                if (ngx_http_mall_header_is(&h[i], "Surrogate-Key", 13)) {
                    tags = h[i].value;
                }

                if (ngx_http_mall_header_is(&h[i], "Cache-Control", 13)
                    && ngx_http_mall_cache_control(&h[i].value, &smaxage,
                                                   &maxage, &swr, &sie)
                       != NGX_OK)
                {
                    return NGX_DECLINED;
                }
            }

            if (!ngx_http_mall_cache_kept(&h[i])) {
                continue;
            }

            if (h[i].key.len > 0xffff || h[i].value.len > 0xffff) {
                return NGX_DECLINED;
            }

            if (pass == 0) {
                len += 2 * sizeof(u_short) + h[i].key.len + h[i].value.len;
                continue;
            }

            klen = (u_short) h[i].key.len;
            vlen = (u_short) h[i].value.len;

            p = ngx_cpymem(p, &klen, sizeof(u_short));
            p = ngx_cpymem(p, &vlen, sizeof(u_short));
            p = ngx_cpymem(p, h[i].key.data, klen);
            p = ngx_cpymem(p, h[i].value.data, vlen);
        }

        if (pass == 1) {
            ctx->headers.len = p - ctx->headers.data;
            break;
        }

        if (smaxage >= 0) {
            ctx->ttl = (uint64_t) smaxage * 1000;

        } else if (maxage >= 0) {
            ctx->ttl = (uint64_t) maxage * 1000;

        } else {
            ctx->ttl = (uint64_t) ctx->valid * 1000;
        }

        if (ctx->ttl == 0) {
            return NGX_DECLINED;
        }

        ctx->ttl_swr = (uint64_t) (swr >= 0 ? swr : ctx->swr) * 1000;
        ctx->ttl_sie = (uint64_t) (sie >= 0 ? sie : ctx->sie) * 1000;
        ctx->http_status = r->headers_out.status;

        /* copies: the response's headers go on changing below us */

        ctx->ctype.len = r->headers_out.content_type.len;
        ctx->ctype.data = ngx_pnalloc(r->pool, ctx->ctype.len + tags.len
                                               + len + 1);
        if (ctx->ctype.data == NULL) {
            return NGX_ABORT;
        }

        /*
         * no Content-Type or no Surrogate-Key: data is NULL, and memcpy
         * must not see a NULL even for 0 bytes
         */

        p = ctx->ctype.data;

        if (ctx->ctype.len) {
            p = ngx_cpymem(p, r->headers_out.content_type.data,
                           ctx->ctype.len);
        }

        ctx->tags.data = p;
        ctx->tags.len = tags.len;

        if (tags.len) {
            p = ngx_cpymem(p, tags.data, tags.len);
        }

        ctx->headers.data = p;
    }

    return NGX_OK;
}
