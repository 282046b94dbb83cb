
/*
 * Catalog cache: the header and body filters that store a proxied answer
 * as it streams to the client, and replace a failed one by a stale copy
 * (stale-if-error).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <zlib.h>

#include "ngx_http_mall_module.h"


#define NGX_HTTP_MALL_CACHE_GZIP_MIN  256      /* bytes */


static ngx_int_t ngx_http_mall_cache_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_mall_cache_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_int_t ngx_http_mall_cache_origin_view(ngx_http_request_t *r);
static ngx_int_t ngx_http_mall_cache_revalidated(ngx_http_request_t *r,
    ngx_http_mall_cache_ctx_t *ctx);
static ngx_int_t ngx_http_mall_cache_swap(ngx_http_request_t *r,
    ngx_http_mall_cache_ctx_t *ctx, u_char *entry, ngx_uint_t state);
static ngx_int_t ngx_http_mall_cache_capture(ngx_http_request_t *r,
    ngx_http_mall_cache_ctx_t *ctx, ngx_chain_t *in);
static void ngx_http_mall_cache_store(ngx_http_request_t *r,
    ngx_http_mall_cache_ctx_t *ctx);
static u_char *ngx_http_mall_cache_write(ngx_http_request_t *r,
    ngx_http_mall_cache_ctx_t *ctx, ngx_str_t *body, ngx_str_t *gz);
static ngx_int_t ngx_http_mall_cache_gzip(ngx_pool_t *pool, u_char *in,
    size_t len, ngx_str_t *out);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


void
ngx_http_mall_cache_filter_init(void)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_mall_cache_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_mall_cache_body_filter;
}


static ngx_int_t
ngx_http_mall_cache_header_filter(ngx_http_request_t *r)
{
    ngx_int_t                   store;
    ngx_table_elt_t            *h;
    ngx_http_mall_cache_ctx_t  *ctx;

    ctx = ngx_http_mall_cache_get_ctx(r);

    if (ctx == NULL || ctx->served || ctx->key.len == 0) {

        if (ctx && ctx->key.len == 0 && ctx->status_header
            && ctx->state == NGX_HTTP_MALL_CACHE_BYPASS)
        {
            if (ngx_http_mall_cache_state_header(r,
                                                 NGX_HTTP_MALL_CACHE_BYPASS)
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        return ngx_http_next_header_filter(r);
    }

    if (ctx->invalidate) {
        ngx_http_mall_cache_invalidate(r, ctx);
        return ngx_http_next_header_filter(r);
    }

    if (ngx_http_mall_cache_origin_view(r) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ctx->revalidate && r->headers_out.status == NGX_HTTP_NOT_MODIFIED) {
        return ngx_http_mall_cache_revalidated(r, ctx);
    }

    if (ctx->stale && !ctx->refresh
        && (r->headers_out.status >= NGX_HTTP_INTERNAL_SERVER_ERROR
            || r->headers_out.status == 0)
        && ngx_http_mall_now_ms() < ctx->stale_sie)
    {
        return ngx_http_mall_cache_swap(r, ctx, ctx->stale,
                                        NGX_HTTP_MALL_CACHE_STALE);
    }

    store = ngx_http_mall_cache_policy(r, ctx);

    if (store == NGX_OK) {
        ctx->storing = 1;
        ctx->body = NULL;
        ctx->last = &ctx->body;
        ctx->body_len = 0;
        r->filter_need_in_memory = 1;

    } else {
        if (store == NGX_DECLINED && ctx->state == NGX_HTTP_MALL_CACHE_MISS) {
            ctx->state = NGX_HTTP_MALL_CACHE_BYPASS;
            (void) ngx_atomic_fetch_add(&ctx->czone->stats->bypass, 1);
        }

        /* nothing will be stored: let waiting requests go now */
        ngx_http_mall_cache_unlock_fill(ctx, 0);
    }

    if (ctx->refresh) {
        return ngx_http_next_header_filter(r);
    }

    /* tags are for the edge; clients never see them */

    for ( ;; ) {
        h = ngx_http_mall_find_header(&r->headers_out.headers,
                                      "Surrogate-Key",
                                      sizeof("Surrogate-Key") - 1);
        if (h == NULL) {
            break;
        }

        h->hash = 0;
    }

    if (ctx->status_header && ctx->state != NGX_HTTP_MALL_CACHE_NONE) {
        if (ngx_http_mall_cache_state_header(r, ctx->state) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return ngx_http_next_header_filter(r);
}


/*
 * The response as the origin sent it: its Date (proxy_pass hides it, and
 * nginx would write its own), without the fields its Connection names
 * (hop-by-hop, RFC 9110 §7.6.1).
 */

static ngx_int_t
ngx_http_mall_cache_origin_view(ngx_http_request_t *r)
{
    u_char           *p, *n, *last;
    ngx_table_elt_t  *h, *date, *conn;

    if (r->upstream == NULL) {
        return NGX_OK;
    }

    date = r->upstream->headers_in.date;

    if (date && r->headers_out.date == NULL) {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_ERROR;
        }

        *h = *date;
        h->hash = 1;
        r->headers_out.date = h;
    }

    conn = r->upstream->headers_in.connection;

    if (conn == NULL) {
        return NGX_OK;
    }

    p = conn->value.data;
    last = p + conn->value.len;

    while (p < last) {
        while (p < last && (*p == ' ' || *p == '\t' || *p == ',')) {
            p++;
        }

        n = p;
        while (p < last && *p != ',' && *p != ' ' && *p != '\t') {
            p++;
        }

        if (p == n) {
            continue;
        }

        for ( ;; ) {
            h = ngx_http_mall_find_header(&r->headers_out.headers,
                                          (char *) n, p - n);
            if (h == NULL) {
                break;
            }

            h->hash = 0;
        }
    }

    return NGX_OK;
}


/*
 * The origin answered 304 to the stored validators: the stored headers
 * are updated from it (§4.3.4) and the entry rewritten with its body;
 * the client gets that entry (REVALIDATED), or a 304 of its own.
 */

static ngx_int_t
ngx_http_mall_cache_revalidated(ngx_http_request_t *r,
    ngx_http_mall_cache_ctx_t *ctx)
{
    u_char                      *v;
    ngx_str_t                    gz, body;
    ngx_http_mall_cache_resp_t   stored;

    ngx_http_mall_cache_parse(ctx->stale, &stored, 1, 0);

    v = NULL;

    if (ngx_http_mall_cache_merge_304(r, ctx, &stored) == NGX_OK) {
        body = stored.body;
        gz.data = body.data + body.len;
        gz.len = stored.e.gzip_len;

        v = ngx_http_mall_cache_write(r, ctx, &body, &gz);
    }

    if (v == NULL) {
        /* not storable any more: this once, the stored copy still */
        ngx_http_mall_cache_unlock_fill(ctx, 0);
        v = ctx->stale;
    }

    if (ctx->refresh) {
        return ngx_http_next_header_filter(r);
    }

    return ngx_http_mall_cache_swap(r, ctx, v,
                                    NGX_HTTP_MALL_CACHE_REVALIDATED);
}


/*
 * Replaces the origin's response by a stored entry: stale-if-error (the
 * workers answered 5xx, timed out or are down: nginx's own 502/504,
 * possibly through error_page, and a copy within its stale-if-error
 * window exists), or a revalidated entry. Its headers replace the
 * origin's here, and the body filter sends its body instead.
 */

static ngx_int_t
ngx_http_mall_cache_swap(ngx_http_request_t *r, ngx_http_mall_cache_ctx_t *ctx,
    u_char *entry, ngx_uint_t state)
{
    ngx_http_mall_cache_resp_t  resp;

    ngx_http_mall_cache_unlock_fill(ctx, 0);

    ngx_http_mall_cache_parse(entry, &resp, 1,
                              ngx_http_mall_cache_accepts(r, (u_char *) "gzip",
                                                          4));

    if (ngx_list_init(&r->headers_out.headers, r->pool, 8,
                      sizeof(ngx_table_elt_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    r->headers_out.content_length = NULL;
    r->headers_out.content_encoding = NULL;
    r->headers_out.location = NULL;
    r->headers_out.refresh = NULL;
    r->headers_out.date = NULL;
    r->headers_out.last_modified = NULL;
    r->headers_out.last_modified_time = -1;
    r->headers_out.content_range = NULL;
    r->headers_out.accept_ranges = NULL;
    r->headers_out.www_authenticate = NULL;
    r->headers_out.expires = NULL;
    r->headers_out.etag = NULL;
    r->headers_out.charset.len = 0;
    r->headers_out.cache_control.nelts = 0;
    r->headers_out.link.nelts = 0;
    r->err_status = 0;

    ctx->state = state;
    ctx->swap = 1;

    if (state == NGX_HTTP_MALL_CACHE_STALE) {
        (void) ngx_atomic_fetch_add(&ctx->czone->stats->stale, 1);

        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "mall_cache: workers failed, serving a stale copy");
    }

    (void) ngx_http_mall_cache_not_modified(r, &resp);

    if (ngx_http_mall_cache_set_headers(r, ctx, &resp) != NGX_OK) {
        return NGX_ERROR;
    }

    /* the body to send, kept for the body filter */
    if (resp.not_modified) {
        ngx_str_null(&ctx->swap_body);

    } else {
        ctx->swap_body = resp.body;
    }

    /* the range filter runs after this one: no ranges of a swapped body */
    r->allow_ranges = 0;

    return ngx_http_next_header_filter(r);
}


static ngx_int_t
ngx_http_mall_cache_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_buf_t                  *b;
    ngx_chain_t                *cl, out;
    ngx_http_mall_cache_ctx_t  *ctx;

    ctx = ngx_http_mall_cache_get_ctx(r);

    if (ctx == NULL || (!ctx->storing && !ctx->swap && !ctx->refresh)) {
        return ngx_http_next_body_filter(r, in);
    }

    if (ctx->storing && ngx_http_mall_cache_capture(r, ctx, in) != NGX_OK) {
        return NGX_ERROR;
    }

    if (!ctx->swap && !ctx->refresh) {
        return ngx_http_next_body_filter(r, in);
    }

    /* the error's body (swap) or the refresh's output: consumed here */

    for (cl = in; cl; cl = cl->next) {
        cl->buf->pos = cl->buf->last;
        cl->buf->file_pos = cl->buf->file_last;
    }

    if (!ctx->swap || ctx->swap_sent) {
        return NGX_OK;
    }

    ctx->swap_sent = 1;

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    if (ctx->swap_body.len) {
        b->pos = ctx->swap_body.data;
        b->last = b->pos + ctx->swap_body.len;
        b->memory = 1;
    }

    b->last_buf = (r == r->main);
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_next_body_filter(r, &out);
}


/* Copies the body as it passes; stores it at its last buffer. */

static ngx_int_t
ngx_http_mall_cache_capture(ngx_http_request_t *r,
    ngx_http_mall_cache_ctx_t *ctx, ngx_chain_t *in)
{
    size_t        size;
    ngx_buf_t    *b, *nb;
    ngx_chain_t  *cl, *ncl;

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;

        if (b->in_file && !ngx_buf_in_memory(b)) {
            /* never read files here: this response is not stored */
            ctx->storing = 0;
            ngx_http_mall_cache_unlock_fill(ctx, 0);
            return NGX_OK;
        }

        size = ngx_buf_in_memory(b) ? (size_t) (b->last - b->pos) : 0;

        if (size) {
            if (ctx->body_len + size > ctx->czone->max_entry) {
                ctx->storing = 0;
                (void) ngx_atomic_fetch_add(&ctx->czone->stats->bypass, 1);
                ngx_http_mall_cache_unlock_fill(ctx, 0);
                return NGX_OK;
            }

            nb = ngx_create_temp_buf(r->pool, size);
            ncl = ngx_alloc_chain_link(r->pool);

            if (nb == NULL || ncl == NULL) {
                return NGX_ERROR;
            }

            nb->last = ngx_cpymem(nb->pos, b->pos, size);
            ncl->buf = nb;
            ncl->next = NULL;

            *ctx->last = ncl;
            ctx->last = &ncl->next;
            ctx->body_len += size;
        }

        if (b->last_buf || (r != r->main && b->last_in_chain)) {
            ctx->storing = 0;
            ngx_http_mall_cache_store(r, ctx);
            return NGX_OK;
        }
    }

    return NGX_OK;
}


/* The body as one piece, then the entry written with a gzip copy. */

static void
ngx_http_mall_cache_store(ngx_http_request_t *r, ngx_http_mall_cache_ctx_t *ctx)
{
    ngx_str_t  body, gz;

    body.len = ctx->body_len;

    if (ctx->body && ctx->body->next == NULL) {
        body.data = ctx->body->buf->pos;

    } else {
        body.data = ngx_pnalloc(r->pool, ctx->body_len + 1);
        if (body.data == NULL) {
            ngx_http_mall_cache_unlock_fill(ctx, 0);
            return;
        }

        (void) ngx_http_mall_chain_copy(body.data, ctx->body);
    }

    /* compressed once per fill, never per hit; never twice */

    ngx_str_null(&gz);

    if (!(ctx->entry.flags & NGX_HTTP_MALL_CACHE_F_ENCODED)
        && body.len >= NGX_HTTP_MALL_CACHE_GZIP_MIN
        && ngx_http_mall_cache_gzip(r->pool, body.data, body.len, &gz)
           != NGX_OK)
    {
        ngx_str_null(&gz);
    }

    if (gz.len >= body.len) {
        ngx_str_null(&gz);
    }

    if (ngx_http_mall_cache_write(r, ctx, &body, &gz) == NULL) {
        ngx_http_mall_cache_unlock_fill(ctx, 0);
    }
}


/*
 * Writes ctx->entry with its headers and bodies, and indexes its tags,
 * unless a purge ran since the request started (its answer may predate
 * the change: never store it). Returns the value written (pool memory),
 * or NULL.
 */

static u_char *
ngx_http_mall_cache_write(ngx_http_request_t *r,
    ngx_http_mall_cache_ctx_t *ctx, ngx_str_t *body, ngx_str_t *gz)
{
    u_char                       *v, *p;
    size_t                        vlen;
    uint64_t                      now;
    ngx_int_t                     rc;
    ngx_str_t                     key;
    ngx_shm_zone_t               *zone;
    ngx_http_mall_cache_entry_t  *e;
    ngx_http_mall_cache_stats_t  *stats;

    zone = ctx->czone->zone;
    stats = ctx->czone->stats;
    e = &ctx->entry;

    e->ctype_len = (uint32_t) ctx->ctype.len;
    e->headers_len = (uint32_t) ctx->headers.len;
    e->body_len = (uint32_t) body->len;
    e->gzip_len = (uint32_t) gz->len;

    vlen = sizeof(ngx_http_mall_cache_entry_t) + ctx->ctype.len
           + ctx->headers.len + body->len + gz->len;

    v = ngx_pnalloc(r->pool, vlen);
    if (v == NULL) {
        return NULL;
    }

    p = ngx_cpymem(v, e, sizeof(ngx_http_mall_cache_entry_t));
    p = ngx_cpymem(p, ctx->ctype.data, ctx->ctype.len);
    p = ngx_cpymem(p, ctx->headers.data, ctx->headers.len);

    if (body->len) {
        p = ngx_cpymem(p, body->data, body->len);
    }

    if (gz->len) {
        ngx_memcpy(p, gz->data, gz->len);
    }

    now = ngx_http_mall_now_ms();

    ngx_http_mall_shm_lock(zone);

    key = ctx->base;

    if (stats->purge_seq != ctx->seq) {
        rc = NGX_DECLINED;

    } else {
        if (ctx->vary_names.len) {
            rc = ngx_http_mall_cache_vary_store_locked(r, ctx, v, vlen, now,
                                                       &key);

        } else {
            rc = ngx_http_mall_shm_set_locked(zone, key.data, key.len, v,
                                              vlen, ctx->expire, now,
                                              NGX_HTTP_MALL_SHM_SOFT);
        }

        if (rc == NGX_OK
            && ngx_http_mall_cache_index_locked(ctx->czone, r->pool, &key,
                                                &ctx->tags, ctx->expire, now)
               != NGX_OK)
        {
            /* an entry that a tag purge could miss is not kept */
            (void) ngx_http_mall_shm_delete_locked(zone, key.data, key.len);
            rc = NGX_ERROR;
        }
    }

    ngx_http_mall_cache_unlock_fill(ctx, 1);

    ngx_http_mall_shm_unlock(zone);

    if (rc == NGX_OK) {
        (void) ngx_atomic_fetch_add(&stats->stores, 1);

    } else {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "mall_cache: not stored (%i)", rc);
    }

    /* what is served stays valid even when it was not kept */
    return v;
}


/* gzip (RFC 1952) of in into pool memory; zlib's state is freed here. */

static ngx_int_t
ngx_http_mall_cache_gzip(ngx_pool_t *pool, u_char *in, size_t len,
    ngx_str_t *out)
{
    int       rc;
    size_t    bound;
    z_stream  zs;

    ngx_memzero(&zs, sizeof(z_stream));

    if (deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8,
                     Z_DEFAULT_STRATEGY)
        != Z_OK)
    {
        return NGX_ERROR;
    }

    bound = deflateBound(&zs, len);

    out->data = ngx_pnalloc(pool, bound);
    if (out->data == NULL) {
        deflateEnd(&zs);
        return NGX_ERROR;
    }

    zs.next_in = in;
    zs.avail_in = len;
    zs.next_out = out->data;
    zs.avail_out = bound;

    rc = deflate(&zs, Z_FINISH);

    out->len = zs.total_out;

    deflateEnd(&zs);

    return rc == Z_STREAM_END ? NGX_OK : NGX_ERROR;
}
