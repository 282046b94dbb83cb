
/*
 * Catalog cache: a stored entry copied out of the zone and sent as the
 * response (hits, stale answers, stale-if-error swaps).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_mall_module.h"


static ngx_str_t  ngx_http_mall_cache_states[] = {
    ngx_null_string,
    ngx_string("MISS"),
    ngx_string("HIT"),
    ngx_string("STALE"),
    ngx_string("UPDATING"),
    ngx_string("BYPASS")
};


u_char *
ngx_http_mall_cache_copy(ngx_pool_t *pool, u_char *v,
    ngx_http_mall_cache_entry_t *e, ngx_int_t variant, size_t *len)
{
    u_char  *buf;
    size_t   head, blen, boff;

    head = sizeof(ngx_http_mall_cache_entry_t) + e->ctype_len
           + e->headers_len;

    if (variant == 2) {
        blen = (size_t) e->body_len + e->gzip_len;
        boff = head;

    } else if (variant == 1) {
        blen = e->gzip_len;
        boff = head + e->body_len;

    } else {
        blen = e->body_len;
        boff = head;
    }

    buf = ngx_pnalloc(pool, head + blen);
    if (buf == NULL) {
        return NULL;
    }

    ngx_memcpy(buf, v, head);
    ngx_memcpy(buf + head, v + boff, blen);

    *len = head + blen;

    return buf;
}


/* Points resp into a copy; full: the copy holds both bodies. */

void
ngx_http_mall_cache_parse(u_char *p, ngx_http_mall_cache_resp_t *resp,
    ngx_uint_t full, ngx_uint_t gzip)
{
    ngx_memcpy(&resp->e, p, sizeof(ngx_http_mall_cache_entry_t));
    p += sizeof(ngx_http_mall_cache_entry_t);

    resp->ctype.data = p;
    resp->ctype.len = resp->e.ctype_len;
    p += resp->ctype.len;

    resp->headers.data = p;
    resp->headers.len = resp->e.headers_len;
    p += resp->headers.len;

    resp->gzip = gzip && resp->e.gzip_len;

    if (full && resp->gzip) {
        p += resp->e.body_len;
    }

    resp->body.data = p;
    resp->body.len = resp->gzip ? resp->e.gzip_len : resp->e.body_len;
}


ngx_int_t
ngx_http_mall_cache_send(ngx_http_request_t *r, ngx_http_mall_cache_ctx_t *ctx,
    ngx_http_mall_cache_resp_t *resp)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_mall_cache_set_headers(r, ctx, resp) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    if (resp->body.len) {
        b->pos = resp->body.data;
        b->last = resp->body.data + resp->body.len;
        b->memory = 1;
    }

    b->last_buf = 1;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/* Response headers of an entry (replacing whatever was there). */

ngx_int_t
ngx_http_mall_cache_set_headers(ngx_http_request_t *r,
    ngx_http_mall_cache_ctx_t *ctx, ngx_http_mall_cache_resp_t *resp)
{
    u_char           *p, *last;
    u_short           klen, vlen;
    ngx_table_elt_t  *h;

    r->headers_out.status = resp->e.status;
    r->headers_out.status_line.len = 0;
    r->headers_out.content_type = resp->ctype;
    r->headers_out.content_type_len = resp->ctype.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.content_length_n = resp->body.len;

    p = resp->headers.data;
    last = p + resp->headers.len;

    while (p + 2 * sizeof(u_short) <= last) {
        ngx_memcpy(&klen, p, sizeof(u_short));
        ngx_memcpy(&vlen, p + sizeof(u_short), sizeof(u_short));
        p += 2 * sizeof(u_short);

        if ((size_t) (last - p) < (size_t) klen + vlen) {
            break;
        }

        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_ERROR;
        }

        h->hash = 1;
        h->key.data = p;
        h->key.len = klen;
        h->value.data = p + klen;
        h->value.len = vlen;
        h->lowcase_key = NULL;

        p += klen + vlen;
    }

    if (resp->gzip) {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_ERROR;
        }

        h->hash = 1;
        ngx_str_set(&h->key, "Content-Encoding");
        ngx_str_set(&h->value, "gzip");
        h->lowcase_key = NULL;
        r->headers_out.content_encoding = h;
    }

    if (resp->e.gzip_len) {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_ERROR;
        }

        h->hash = 1;
        ngx_str_set(&h->key, "Vary");
        ngx_str_set(&h->value, "Accept-Encoding");
        h->lowcase_key = NULL;
    }

    if (ctx->status_header) {
        if (ngx_http_mall_cache_state_header(r, ctx->state) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * Starts one background GET subrequest to the same location (the way
 * proxy_cache_background_update does). It has its own ctx with refresh
 * set: the filters store its answer and discard its output. It carries the
 * main request's $request_id so the edge signature matches what is sent.
 */


ngx_uint_t
ngx_http_mall_cache_accepts_gzip(ngx_http_request_t *r)
{
    u_char           *p, *last;
    ngx_table_elt_t  *ae;

    ae = r->headers_in.accept_encoding;

    if (ae == NULL || ae->value.len < 4) {
        return 0;
    }

    last = ae->value.data + ae->value.len;

    p = ngx_strlcasestrn(ae->value.data, last, (u_char *) "gzip", 4 - 1);
    if (p == NULL) {
        return 0;
    }

    p += 4;

    while (p < last && (*p == ' ' || *p == ';')) {
        p++;
    }

    if (last - p >= 3 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
        for (p += 2; p < last && (*p == '0' || *p == '.'); p++) {
            /* void */
        }

        if (p == last || *p < '1' || *p > '9') {
            return 0;
        }
    }

    return 1;
}


ngx_int_t
ngx_http_mall_cache_state_header(ngx_http_request_t *r, ngx_uint_t state)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "X-Mall-Cache");
    h->value = ngx_http_mall_cache_states[state];
    h->lowcase_key = NULL;

    return NGX_OK;
}
