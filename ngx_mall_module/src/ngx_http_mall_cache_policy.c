
/*
 * Catalog cache: whether a response may be stored (RFC 9111 §3), and the
 * headers an entry keeps. Kept headers are serialized as (u16 name length,
 * u16 value length, name, value) records; freshness is read from them
 * (ngx_http_mall_cache_fresh.c), and a 304 from the origin is merged into
 * them (§3.2).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_mall_module.h"


static ngx_uint_t ngx_http_mall_cache_kept(ngx_table_elt_t *h);
static ngx_uint_t ngx_http_mall_cache_updated(ngx_str_t *name);
static ngx_int_t ngx_http_mall_cache_serialize(ngx_http_request_t *r,
    ngx_str_t *prefix, ngx_str_t *out, ngx_uint_t update);
static ngx_int_t ngx_http_mall_cache_decide(ngx_http_request_t *r,
    ngx_http_mall_cache_ctx_t *ctx, ngx_uint_t status);
static void ngx_http_mall_cache_strip(ngx_str_t *headers, const char *names,
    size_t len);


/* Response headers an entry never keeps: hop-by-hop, or made per response. */

static ngx_str_t  ngx_http_mall_cache_skip[] = {
    ngx_string("Age"),
    ngx_string("Server"),
    ngx_string("TE"),
    ngx_string("Trailer"),
    ngx_string("Upgrade"),
    ngx_string("Connection"),
    ngx_string("Keep-Alive"),
    ngx_string("Proxy-Connection"),
    ngx_string("Proxy-Authenticate"),
    ngx_string("Proxy-Authentication-Info"),
    ngx_string("X-Request-Id"),
    ngx_string("X-Mall-Cache"),
    ngx_string("Content-Length"),
    ngx_string("Transfer-Encoding"),
    ngx_null_string
};


/* Stored headers a 304 does not replace (§3.2: what the body depends on). */

static ngx_str_t  ngx_http_mall_cache_not_updated[] = {
    ngx_string("Content-Type"),
    ngx_string("Content-Range"),
    ngx_string("Surrogate-Key"),
    ngx_string("Content-Encoding"),
    ngx_null_string
};


static ngx_uint_t
ngx_http_mall_cache_kept(ngx_table_elt_t *h)
{
    ngx_str_t  *s;

    if (h->hash == 0 || h->key.len > 0xffff || h->value.len > 0xffff) {
        return 0;
    }

    for (s = ngx_http_mall_cache_skip; s->len; s++) {
        if (ngx_http_mall_header_is(h, (char *) s->data, s->len)) {
            return 0;
        }
    }

    return 1;
}


static ngx_uint_t
ngx_http_mall_cache_updated(ngx_str_t *name)
{
    ngx_str_t  *s;

    for (s = ngx_http_mall_cache_not_updated; s->len; s++) {
        if (name->len == s->len
            && ngx_strncasecmp(name->data, s->data, s->len) == 0)
        {
            return 0;
        }
    }

    return 1;
}


/* The next record of serialized headers: NGX_OK, or NGX_DONE at the end. */

ngx_int_t
ngx_http_mall_cache_header_next(u_char **p, u_char *last, ngx_str_t *key,
    ngx_str_t *value)
{
    u_short  klen, vlen;

    if (*p + 2 * sizeof(u_short) > last) {
        return NGX_DONE;
    }

    ngx_memcpy(&klen, *p, sizeof(u_short));
    ngx_memcpy(&vlen, *p + sizeof(u_short), sizeof(u_short));

    if ((size_t) (last - *p) < 2 * sizeof(u_short) + klen + vlen) {
        return NGX_DONE;
    }

    key->data = *p + 2 * sizeof(u_short);
    key->len = klen;
    value->data = key->data + klen;
    value->len = vlen;

    *p = value->data + vlen;

    return NGX_OK;
}


/* The first record named name: NGX_OK, or NGX_DECLINED. */

ngx_int_t
ngx_http_mall_cache_header_find(ngx_str_t *headers, char *name, size_t len,
    ngx_str_t *value)
{
    u_char     *p, *last;
    ngx_str_t   key;

    p = headers->data;
    last = p + headers->len;

    while (ngx_http_mall_cache_header_next(&p, last, &key, value) == NGX_OK) {
        if (key.len == len
            && ngx_strncasecmp(key.data, (u_char *) name, len) == 0)
        {
            return NGX_OK;
        }
    }

    return NGX_DECLINED;
}


/*
 * Serializes the kept headers of r's response after the records of
 * prefix (pool memory). update: a 304 merged into stored headers; the
 * records of prefix it replaces are dropped, and it cannot replace
 * what the stored body depends on.
 */

static ngx_int_t
ngx_http_mall_cache_serialize(ngx_http_request_t *r, ngx_str_t *prefix,
    ngx_str_t *out, ngx_uint_t update)
{
    u_char           *p, *q, *last;
    size_t            len;
    u_short           klen, vlen;
    ngx_str_t         key, value;
    ngx_uint_t        i, pass;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    len = prefix->len;
    p = NULL;

    for (pass = 0; pass < 2; pass++) {

        /* the stored records first, minus those a 304 replaces */

        q = prefix->data;
        last = q + prefix->len;

        while (pass == 1
               && ngx_http_mall_cache_header_next(&q, last, &key, &value)
                  == NGX_OK)
        {
            if (update && ngx_http_mall_cache_updated(&key)
                && ngx_http_mall_find_header(&r->headers_out.headers,
                                             (char *) key.data, key.len))
            {
                continue;
            }

            klen = (u_short) key.len;
            vlen = (u_short) value.len;
            p = ngx_cpymem(p, &klen, sizeof(u_short));
            p = ngx_cpymem(p, &vlen, sizeof(u_short));
            p = ngx_cpymem(p, key.data, klen);
            p = ngx_cpymem(p, value.data, vlen);
        }

        part = &r->headers_out.headers.part;
        i = 0;

        while ((h = ngx_http_mall_header_next(&part, &i)) != NULL) {

            if (!ngx_http_mall_cache_kept(h)
                || (update && !ngx_http_mall_cache_updated(&h->key)))
            {
                continue;
            }

            if (pass == 0) {
                len += 2 * sizeof(u_short) + h->key.len + h->value.len;
                continue;
            }

            klen = (u_short) h->key.len;
            vlen = (u_short) h->value.len;
            p = ngx_cpymem(p, &klen, sizeof(u_short));
            p = ngx_cpymem(p, &vlen, sizeof(u_short));
            p = ngx_cpymem(p, h->key.data, klen);
            p = ngx_cpymem(p, h->value.data, vlen);
        }

        if (pass == 0) {
            out->data = ngx_pnalloc(r->pool, len + 1);
            if (out->data == NULL) {
                return NGX_ERROR;
            }

            p = out->data;
        }
    }

    out->len = p - out->data;

    return NGX_OK;
}


/*
 * Decides whether the response may be stored: NGX_OK (ctx->headers,
 * ctype, tags, entry and expire set), NGX_DECLINED (not cacheable by
 * policy: BYPASS), NGX_ABORT (an error status or a HEAD: just not stored).
 */

ngx_int_t
ngx_http_mall_cache_policy(ngx_http_request_t *r,
    ngx_http_mall_cache_ctx_t *ctx)
{
    ngx_str_t  none;

    if (r->method != NGX_HTTP_GET) {
        return NGX_ABORT;
    }

    if (r->headers_out.content_length_n > (off_t) ctx->czone->max_entry) {
        return NGX_DECLINED;
    }

    ngx_str_null(&none);

    if (ngx_http_mall_cache_serialize(r, &none, &ctx->headers, 0) != NGX_OK) {
        return NGX_ABORT;
    }

    /* a copy: the response's headers go on changing below us */

    ctx->ctype.len = r->headers_out.content_type.len;
    ctx->ctype.data = ngx_pnalloc(r->pool, ctx->ctype.len + 1);
    if (ctx->ctype.data == NULL) {
        return NGX_ABORT;
    }

    if (ctx->ctype.len) {
        ngx_memcpy(ctx->ctype.data, r->headers_out.content_type.data,
                   ctx->ctype.len);
    }

    return ngx_http_mall_cache_decide(r, ctx, r->headers_out.status);
}


/*
 * A 304 from the origin for the stored response: its headers replace the
 * stored ones (§3.2), and freshness is computed again from the result.
 */

ngx_int_t
ngx_http_mall_cache_merge_304(ngx_http_request_t *r,
    ngx_http_mall_cache_ctx_t *ctx, ngx_http_mall_cache_resp_t *stored)
{
    if (ngx_http_mall_cache_serialize(r, &stored->headers, &ctx->headers, 1)
        != NGX_OK)
    {
        return NGX_ABORT;
    }

    ctx->ctype = stored->ctype;

    return ngx_http_mall_cache_decide(r, ctx, stored->e.status);
}


/* The storage rules shared by a full response and a merged 304. */

static ngx_int_t
ngx_http_mall_cache_decide(ngx_http_request_t *r,
    ngx_http_mall_cache_ctx_t *ctx, ngx_uint_t status)
{
    ngx_int_t                  rc;
    ngx_str_t                  v;
    ngx_http_mall_cache_cc_t   cc;

    ctx->origin_age = ngx_http_mall_cache_origin_age(r);

    ngx_http_mall_cache_cc_read(ctx->conf, &ctx->headers, &cc);

    /* fields the origin asks not to share (§5.2.2.4, §5.2.2.7) */

    if (cc.no_cache_fields_len) {
        ngx_http_mall_cache_strip(&ctx->headers, cc.no_cache_fields,
                                  cc.no_cache_fields_len);
    }

    if (cc.private_fields_len) {
        ngx_http_mall_cache_strip(&ctx->headers, cc.private_fields,
                                  cc.private_fields_len);
    }

    if (ngx_http_mall_cache_header_find(&ctx->headers, "Set-Cookie", 10, &v)
        == NGX_OK && !ctx->conf->set_cookie)
    {
        /* mall_cache_set_cookie bypass: a personal answer */
        return NGX_DECLINED;
    }

    /* Vary: * never matches; other names make variants (§4.1) */

    rc = ngx_http_mall_cache_vary_names(r->pool, &ctx->headers,
                                        &ctx->vary_names);
    if (rc != NGX_OK) {
        return (rc == NGX_DECLINED) ? NGX_DECLINED : NGX_ABORT;
    }

    rc = ngx_http_mall_cache_freshness(r, ctx, &cc, &ctx->headers, status,
                                       &ctx->entry, &ctx->expire);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_mall_cache_header_find(&ctx->headers, "Content-Encoding", 16,
                                        &v)
        == NGX_OK && v.len
        && !(v.len == 8
             && ngx_strncasecmp(v.data, (u_char *) "identity", 8) == 0))
    {
        /* stored as it is; served to clients that accept its coding */
        ctx->entry.flags |= NGX_HTTP_MALL_CACHE_F_ENCODED;
    }

    ngx_str_null(&ctx->tags);

    if (ngx_http_mall_cache_header_find(&ctx->headers, "Surrogate-Key", 13,
                                        &v)
        == NGX_OK)
    {
        ctx->tags = v;
    }

    return NGX_OK;
}


/* Drops, in place, the records named in a comma-separated list. */

static void
ngx_http_mall_cache_strip(ngx_str_t *headers, const char *names, size_t len)
{
    u_char     *p, *q, *rec, *last;
    ngx_str_t   key, value;

    p = headers->data;
    q = p;
    last = p + headers->len;

    for ( ;; ) {
        rec = p;

        if (ngx_http_mall_cache_header_next(&p, last, &key, &value)
            != NGX_OK)
        {
            break;
        }

        if (mall_http_cache_field_listed(names, len, (const char *) key.data,
                                         key.len))
        {
            continue;
        }

        if (q != rec) {
            ngx_memmove(q, rec, p - rec);
        }

        q += p - rec;
    }

    headers->len = q - headers->data;
}

