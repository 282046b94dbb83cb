
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
    ngx_string("BYPASS"),
    ngx_string("REVALIDATED")
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

    (void) ngx_http_mall_cache_not_modified(r, resp);

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


/* Headers a 304 carries (RFC 9110 §15.4.5), with Age and X-Mall-Cache. */

static ngx_str_t  ngx_http_mall_cache_304_headers[] = {
    ngx_string("Date"),
    ngx_string("ETag"),
    ngx_string("Vary"),
    ngx_string("Expires"),
    ngx_string("Cache-Control"),
    ngx_string("Last-Modified"),
    ngx_string("Content-Location"),
    ngx_null_string
};


/* A response header made here (nginx >= 1.23 chains same-name headers). */

static ngx_table_elt_t *
ngx_http_mall_cache_push_out(ngx_http_request_t *r, ngx_str_t *key,
    ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NULL;
    }

    h->hash = 1;
    h->key = *key;
    h->value = *value;
    h->lowcase_key = NULL;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    return h;
}


/*
 * Response headers of an entry (replacing whatever was there): the stored
 * ones (the origin's Date among them), Age, and the encoding of the body
 * sent; only the validator and cache headers for a 304.
 */

ngx_int_t
ngx_http_mall_cache_set_headers(ngx_http_request_t *r,
    ngx_http_mall_cache_ctx_t *ctx, ngx_http_mall_cache_resp_t *resp)
{
    u_char           *p, *last;
    ngx_str_t         key, value, *s;
    ngx_uint_t        vary_ae, kept;
    ngx_table_elt_t  *h;

    static ngx_str_t  age = ngx_string("Age");
    static ngx_str_t  vary = ngx_string("Vary");
    static ngx_str_t  ae = ngx_string("Accept-Encoding");
    static ngx_str_t  ce = ngx_string("Content-Encoding");
    static ngx_str_t  gzip = ngx_string("gzip");

    if (resp->not_modified) {
        r->headers_out.status = NGX_HTTP_NOT_MODIFIED;
        ngx_str_null(&r->headers_out.content_type);
        r->headers_out.content_type_len = 0;
        r->headers_out.content_length_n = -1;
        r->header_only = 1;

    } else {
        r->headers_out.status = resp->e.status;
        r->headers_out.content_type = resp->ctype;
        r->headers_out.content_type_len = resp->ctype.len;
        r->headers_out.content_length_n = resp->body.len;
    }

    r->headers_out.status_line.len = 0;
    r->headers_out.content_type_lowcase = NULL;

    vary_ae = 0;
    p = resp->headers.data;
    last = p + resp->headers.len;

    while (ngx_http_mall_cache_header_next(&p, last, &key, &value) == NGX_OK) {

        if (key.len == 13
            && ngx_strncasecmp(key.data, (u_char *) "Surrogate-Key", 13) == 0)
        {
            continue;           /* tags are for the edge */
        }

        if (resp->not_modified) {
            kept = 0;

            for (s = ngx_http_mall_cache_304_headers; s->len; s++) {
                if (key.len == s->len
                    && ngx_strncasecmp(key.data, s->data, s->len) == 0)
                {
                    kept = 1;
                    break;
                }
            }

            if (!kept) {
                continue;
            }
        }

        h = ngx_http_mall_cache_push_out(r, &key, &value);
        if (h == NULL) {
            return NGX_ERROR;
        }

        /* the fields nginx would otherwise make up or act on */

        switch (key.len) {

        case 4:
            if (ngx_strncasecmp(key.data, (u_char *) "Date", 4) == 0) {
                r->headers_out.date = h;

            } else if (ngx_strncasecmp(key.data, (u_char *) "ETag", 4) == 0) {
                r->headers_out.etag = h;

            } else if (ngx_strncasecmp(key.data, (u_char *) "Vary", 4) == 0
                       && ngx_strlcasestrn(value.data, value.data + value.len,
                                           (u_char *) "accept-encoding",
                                           15 - 1))
            {
                vary_ae = 1;
            }

            break;

        case 13:
            if (ngx_strncasecmp(key.data, (u_char *) "Last-Modified", 13)
                == 0)
            {
                r->headers_out.last_modified = h;
                r->headers_out.last_modified_time =
                                    ngx_parse_http_time(value.data, value.len);
            }

            break;

        case 16:
            if (ngx_strncasecmp(key.data, (u_char *) "Content-Encoding", 16)
                == 0)
            {
                r->headers_out.content_encoding = h;
            }

            break;
        }
    }

    if (resp->gzip && !resp->not_modified) {
        h = ngx_http_mall_cache_push_out(r, &ce, &gzip);
        if (h == NULL) {
            return NGX_ERROR;
        }

        r->headers_out.content_encoding = h;
    }

    if (resp->e.gzip_len && !vary_ae
        && ngx_http_mall_cache_push_out(r, &vary, &ae) == NULL)
    {
        return NGX_ERROR;
    }

    /* §5.1: the current age, time spent at the origin included */

    value.data = ngx_pnalloc(r->pool, NGX_INT64_LEN);
    if (value.data == NULL) {
        return NGX_ERROR;
    }

    value.len = ngx_sprintf(value.data, "%uL",
                            ngx_http_mall_cache_current_age(&resp->e,
                                                   ngx_http_mall_now_ms())
                            / 1000)
                - value.data;

    if (ngx_http_mall_cache_push_out(r, &age, &value) == NULL) {
        return NGX_ERROR;
    }

    /* a Range of a stored complete 200 is cut from memory (range filter) */

    if (ctx->conf->ranges && resp->e.status == NGX_HTTP_OK
        && !resp->not_modified)
    {
        r->allow_ranges = 1;
    }

    if (ctx->status_header) {
        if (ngx_http_mall_cache_state_header(r, ctx->state) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* Accept-Encoding names this coding with a non-zero q. */

ngx_uint_t
ngx_http_mall_cache_accepts(ngx_http_request_t *r, u_char *coding, size_t len)
{
    ngx_table_elt_t  *ae;

    ae = r->headers_in.accept_encoding;

    return ae != NULL
           && mall_http_cache_accepts((const char *) ae->value.data,
                                      ae->value.len, (const char *) coding,
                                      len);
}


/* "X-Mall-Cache: <state>", for mall_cache_status_header. */

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
