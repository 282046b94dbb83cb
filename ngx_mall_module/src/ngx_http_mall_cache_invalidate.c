
/*
 * Catalog cache: invalidation by unsafe methods (RFC 9111 §4.4). A POST,
 * PUT, DELETE, PATCH or unknown method through a cached location that the
 * origin answers with 2xx or 3xx removes the stored response of its URI,
 * and those of the same-origin URIs its Location and Content-Location
 * name. Fills under way when it happens are not stored (purge_seq), as
 * for a purge.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_mall_module.h"


static ngx_int_t ngx_http_mall_cache_same_origin(ngx_http_request_t *r,
    ngx_str_t *uri, ngx_str_t *path, ngx_str_t *args);
static void ngx_http_mall_cache_drop_uri(ngx_http_request_t *r,
    ngx_http_mall_cache_ctx_t *ctx, ngx_table_elt_t *h);


void
ngx_http_mall_cache_invalidate(ngx_http_request_t *r,
    ngx_http_mall_cache_ctx_t *ctx)
{
    ngx_uint_t        status;
    ngx_shm_zone_t   *zone;

    status = r->headers_out.status;

    if (status < 200 || status >= 400) {
        return;
    }

    zone = ctx->czone->zone;

    ngx_http_mall_shm_lock(zone);

    /* a Vary list entry goes with it, and so do its variants */
    (void) ngx_http_mall_shm_delete_locked(zone, ctx->key.data, ctx->key.len);

    ctx->czone->stats->purge_seq++;

    ngx_http_mall_shm_unlock(zone);

    if (ctx->conf->key == NULL) {
        /* keys of other URIs only when keys are made from URIs */
        ngx_http_mall_cache_drop_uri(r, ctx,
                   ngx_http_mall_find_header(&r->headers_out.headers,
                                             "Location", 8));
        ngx_http_mall_cache_drop_uri(r, ctx,
                   ngx_http_mall_find_header(&r->headers_out.headers,
                                             "Content-Location", 16));
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "mall_cache: invalidated by %V", &r->method_name);
}


/* Removes the entry of the URI in header h, when it is of this origin. */

static void
ngx_http_mall_cache_drop_uri(ngx_http_request_t *r,
    ngx_http_mall_cache_ctx_t *ctx, ngx_table_elt_t *h)
{
    ngx_str_t  path, args, key;

    if (h == NULL
        || ngx_http_mall_cache_same_origin(r, &h->value, &path, &args)
           != NGX_OK)
    {
        return;
    }

    if (ngx_http_mall_cache_key(r->pool, ctx->conf, &path, &args, &key)
        != NGX_OK
        || key.len > NGX_HTTP_MALL_SHM_KEY_MAX)
    {
        return;
    }

    (void) ngx_http_mall_shm_delete(ctx->czone->zone, key.data, key.len);
}


/*
 * A path-absolute reference, or an absolute URI whose authority is this
 * request's Host: its path and query. NGX_DECLINED for another origin.
 */

static ngx_int_t
ngx_http_mall_cache_same_origin(ngx_http_request_t *r, ngx_str_t *uri,
    ngx_str_t *path, ngx_str_t *args)
{
    u_char     *p, *q, *last;
    size_t      skip;
    ngx_str_t  *host;

    p = uri->data;
    last = p + uri->len;

    if (last - p >= 2 && p[0] == '/' && p[1] != '/') {
        goto path;
    }

    if (last - p > 7 && ngx_strncasecmp(p, (u_char *) "http://", 7) == 0) {
        skip = 7;

    } else if (last - p > 8
               && ngx_strncasecmp(p, (u_char *) "https://", 8) == 0)
    {
        skip = 8;

    } else {
        return NGX_DECLINED;
    }

    if (r->headers_in.host == NULL) {
        return NGX_DECLINED;
    }

    host = &r->headers_in.host->value;
    p += skip;

    q = ngx_strlchr(p, last, '/');
    if (q == NULL) {
        return NGX_DECLINED;
    }

    if ((size_t) (q - p) != host->len
        || ngx_strncasecmp(p, host->data, host->len) != 0)
    {
        return NGX_DECLINED;
    }

    p = q;

path:

    q = ngx_strlchr(p, last, '#');
    if (q) {
        last = q;
    }

    q = ngx_strlchr(p, last, '?');

    path->data = p;
    path->len = (q ? q : last) - p;

    if (q) {
        args->data = q + 1;
        args->len = last - q - 1;

    } else {
        ngx_str_null(args);
    }

    return NGX_OK;
}
