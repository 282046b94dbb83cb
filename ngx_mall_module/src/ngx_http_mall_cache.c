
/*
 * Catalog cache: see ngx_http_mall_cache.h.
 *
 * Request path, per main GET/HEAD in a location with mall_cache:
 *   PRECONTENT  lock, find 'e' + key (through its variant list when the
 *               response varies), copy what is served into r->pool,
 *               unlock, send. Fresh: HIT (or a 304 for a client whose copy
 *               is current). Stale within the SWR window: STALE (and one
 *               background refresh, conditional when the entry has
 *               validators) or UPDATING. Otherwise a miss: the first GET
 *               takes the 'f' lock and proxies, with the stored ETag /
 *               Last-Modified when there is an entry to revalidate; later
 *               ones poll every few ms until the entry appears, the lock
 *               goes, or mall_cache_lock_timeout passes (proxy_cache_lock).
 *   filters     ngx_http_mall_cache_fill.c: store the answer, merge a 304
 *               into the entry (REVALIDATED), or serve a stale copy when
 *               the workers fail (stale-if-error).
 * Other methods: a success invalidates the key (ngx_http_mall_cache_
 * invalidate.c).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_mall_module.h"


static ngx_int_t ngx_http_mall_cache_lookup(ngx_http_request_t *r,
    ngx_http_mall_cache_ctx_t *ctx);
static ngx_int_t ngx_http_mall_cache_wait(ngx_http_request_t *r,
    ngx_http_mall_cache_ctx_t *ctx);
static void ngx_http_mall_cache_wait_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_mall_cache_refresh(ngx_http_request_t *r,
    ngx_http_mall_cache_ctx_t *ctx, u_char *stored);
static ngx_int_t ngx_http_mall_cache_invalidating(ngx_http_request_t *r,
    ngx_http_mall_cache_ctx_t *ctx);
static void ngx_http_mall_cache_cleanup(void *data);


/* ------------------------------ PRECONTENT ------------------------------- */


/*
 * Serves a hit (NGX_DONE, the request finalized), waits for a filling
 * request (NGX_AGAIN, a timer re-runs the phase), or declines so that
 * proxy_pass runs and the filters store the answer.
 */

ngx_int_t
ngx_http_mall_cache_handler(ngx_http_request_t *r)
{
    ngx_int_t                        rc;
    ngx_str_t                        key;
    ngx_pool_cleanup_t              *cln;
    ngx_http_mall_ctx_t             *mctx;
    ngx_http_mall_cache_ctx_t       *ctx;
    ngx_http_mall_loc_conf_t        *mlcf;
    ngx_http_mall_cache_loc_conf_t  *conf;

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_mall_module);
    conf = &mlcf->cache;

    if (conf->zone == NULL || r != r->main
        || (r->method & (NGX_HTTP_OPTIONS|NGX_HTTP_TRACE)))
    {
        return NGX_DECLINED;
    }

    mctx = ngx_http_mall_create_ctx(r);
    if (mctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx = mctx->cache;

    if (ctx) {
        /* phases re-run: after a lock poll go on, otherwise decided */
        return ctx->waiting ? ngx_http_mall_cache_lookup(r, ctx)
                            : NGX_DECLINED;
    }

    if (ngx_http_mall_cache_stats(conf->zone) == NULL) {
        return NGX_DECLINED;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_mall_cache_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->request = r;
    ctx->czone = conf->zone;
    ctx->conf = conf;
    ctx->valid = conf->valid;
    ctx->swr = conf->swr;
    ctx->sie = conf->sie;
    ctx->lock_timeout = conf->lock_timeout;
    ctx->status_header = conf->status_header;

    mctx->cache = ctx;

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_mall_cache_cleanup;
    cln->data = ctx;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        /* an unsafe method: its success invalidates the entry (§4.4) */
        return ngx_http_mall_cache_invalidating(r, ctx);
    }

    /* client preconditions are evaluated here, against the entry */
    r->disable_not_modified = 1;

    if (conf->key) {
        if (ngx_http_complex_value(r, conf->key, &key) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        rc = ngx_http_mall_cache_key(r->pool, conf, &key, &key, &ctx->key);

        if (rc == NGX_OK) {
            /* a configured key is used as it is: no normalization */
            ctx->key.len = 1 + key.len;
            ngx_memcpy(ctx->key.data + 1, key.data, key.len);
        }

    } else {
        rc = ngx_http_mall_cache_key(r->pool, conf, &r->uri, &r->args,
                                     &ctx->key);
    }

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_ABORT) {
        /* refused before anything is cached (see ngx_http_mall_cache_key) */
        ctx->key.len = 0;
        ctx->state = NGX_HTTP_MALL_CACHE_BYPASS;
        return ngx_http_mall_deny(r, NGX_HTTP_BAD_REQUEST,
                                  "VALIDATION_FAILED",
                                  "a query parameter is given twice");
    }

    if (rc == NGX_DECLINED || ctx->key.len > NGX_HTTP_MALL_SHM_KEY_MAX) {
        ctx->key.len = 0;
        ctx->state = NGX_HTTP_MALL_CACHE_BYPASS;
        (void) ngx_atomic_fetch_add(&ctx->czone->stats->bypass, 1);
        return NGX_DECLINED;
    }

    ctx->base = ctx->key;

    return ngx_http_mall_cache_lookup(r, ctx);
}


static ngx_int_t
ngx_http_mall_cache_lookup(ngx_http_request_t *r,
    ngx_http_mall_cache_ctx_t *ctx)
{
    u_char                       *v, *buf, fkey[NGX_HTTP_MALL_SHM_KEY_MAX];
    size_t                        len;
    uint64_t                      now;
    ngx_int_t                     rc, variant;
    ngx_str_t                     ce;
    ngx_uint_t                    gzip, refresh, forced, every_use;
    ngx_shm_zone_t               *zone;
    ngx_http_mall_shm_node_t     *sn;
    ngx_http_mall_cache_cc_t      rcc;
    ngx_http_mall_cache_resp_t    resp;
    ngx_http_mall_cache_stats_t  *stats;
    ngx_http_mall_cache_entry_t   e;

    zone = ctx->czone->zone;
    stats = ctx->czone->stats;
    now = ngx_http_mall_now_ms();
    gzip = ngx_http_mall_cache_accepts(r, (u_char *) "gzip", 4);
    ngx_http_mall_cache_request_cc(r, &rcc);
    refresh = 0;
    every_use = 0;
    buf = NULL;
    len = 0;

    ngx_http_mall_shm_lock(zone);

    sn = ngx_http_mall_shm_find_locked(zone, ctx->key.data, ctx->key.len, now);

    if (sn && sn->value_len >= sizeof(ngx_http_mall_cache_entry_t)) {
        v = ngx_http_mall_shm_value(sn);
        ngx_memcpy(&e, v, sizeof(ngx_http_mall_cache_entry_t));

        if ((e.flags & NGX_HTTP_MALL_CACHE_F_VARY)
            && e.magic == NGX_HTTP_MALL_CACHE_MAGIC)
        {
            /* a variant list: on to the request's variant */

            if (ngx_http_mall_cache_vary_select_locked(r, ctx, v, now)
                != NGX_OK)
            {
                ngx_http_mall_shm_unlock(zone);
                ctx->key.len = 0;
                ctx->state = NGX_HTTP_MALL_CACHE_BYPASS;
                (void) ngx_atomic_fetch_add(&stats->bypass, 1);
                return NGX_DECLINED;
            }

            sn = ngx_http_mall_shm_find_locked(zone, ctx->key.data,
                                               ctx->key.len, now);
            if (sn == NULL
                || sn->value_len < sizeof(ngx_http_mall_cache_entry_t))
            {
                goto absent;
            }

            v = ngx_http_mall_shm_value(sn);
            ngx_memcpy(&e, v, sizeof(ngx_http_mall_cache_entry_t));

            if (e.flags & NGX_HTTP_MALL_CACHE_F_VARY) {
                goto absent;
            }
        }

        if (e.magic != NGX_HTTP_MALL_CACHE_MAGIC) {
            /* written by another layout: a miss, replaced by the fill */
            goto absent;
        }

        if (r->headers_in.authorization
            && !(e.flags & NGX_HTTP_MALL_CACHE_F_SHARED))
        {
            /* §3.5: not for a request with credentials */
            ngx_http_mall_shm_unlock(zone);
            ctx->key.len = 0;
            ctx->state = NGX_HTTP_MALL_CACHE_BYPASS;
            (void) ngx_atomic_fetch_add(&stats->bypass, 1);
            return NGX_DECLINED;
        }

        if (e.flags & NGX_HTTP_MALL_CACHE_F_ENCODED) {
            /* stored content-encoded: only for a client that accepts it */
            ngx_http_mall_cache_parse(v, &resp, 0, 0);

            if (ngx_http_mall_cache_header_find(&resp.headers,
                                                "Content-Encoding", 16, &ce)
                != NGX_OK
                || !ngx_http_mall_cache_accepts(r, ce.data, ce.len))
            {
                goto absent;
            }
        }

        variant = (gzip && e.gzip_len) ? 1 : 0;

        /* the client's no-cache, max-age or min-fresh send it on */
        forced = !ngx_http_mall_cache_request_fits(&rcc, &e, now);

        if (now < e.fresh && !forced
            && !(e.flags & NGX_HTTP_MALL_CACHE_F_NOCACHE))
        {
            ctx->state = NGX_HTTP_MALL_CACHE_HIT;

        } else if (ctx->waiting
                   && e.stored >= (uint64_t) r->start_sec * 1000
                                  + r->start_msec)
        {
            /* collapsed: validated by the origin after this request came */
            ctx->state = NGX_HTTP_MALL_CACHE_REVALIDATED;

        } else if (now < e.swr && !forced) {

            if (e.updating > now) {
                ctx->state = NGX_HTTP_MALL_CACHE_UPDATING;

            } else {
                /* one refresh per key; its flag expires on its own */
                e.updating = now + ctx->lock_timeout;
                ngx_memcpy(v + offsetof(ngx_http_mall_cache_entry_t,
                                        updating),
                           &e.updating, sizeof(uint64_t));

                ctx->state = NGX_HTTP_MALL_CACHE_STALE;
                ctx->seq = stats->purge_seq;
                refresh = 1;

                /* the whole entry: the refresh revalidates it */
                variant = 2;
            }

        } else if (!forced
                   && ngx_http_mall_cache_request_stale_ok(&rcc, &e, now))
        {
            /* the client's max-stale takes it as it is (§4.2.4) */
            ctx->state = NGX_HTTP_MALL_CACHE_STALE;

        } else if (r->method == NGX_HTTP_GET && ctx->stale == NULL
                   && ((e.flags & NGX_HTTP_MALL_CACHE_F_VALIDATORS)
                       || now < e.sie))
        {
            /*
             * kept to be revalidated (a 304 serves it), or in case the
             * workers fail (stale-if-error): the whole entry
             */
            ctx->stale = ngx_http_mall_cache_copy(r->pool, v, &e, 2,
                                                  &ctx->stale_len);
            ctx->stale_sie = e.sie;
            ctx->revalidate = (e.flags & NGX_HTTP_MALL_CACHE_F_VALIDATORS)
                              ? 1 : 0;
            variant = -1;

            /*
             * no-cache: validated on every use, so a waiter would have to
             * revalidate again after the one in flight: no fill lock
             */
            every_use = ctx->revalidate
                        && (e.flags & NGX_HTTP_MALL_CACHE_F_NOCACHE);

            if (ctx->stale == NULL) {
                ngx_http_mall_shm_unlock(zone);
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

        } else {
            variant = -1;
        }

        if (variant >= 0) {
            buf = ngx_http_mall_cache_copy(r->pool, v, &e, variant, &len);
        }
    }

absent:

    if (ctx->state != NGX_HTTP_MALL_CACHE_NONE) {
        ngx_http_mall_shm_unlock(zone);

        if (buf == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        switch (ctx->state) {

        case NGX_HTTP_MALL_CACHE_HIT:
        case NGX_HTTP_MALL_CACHE_REVALIDATED:
            (void) ngx_atomic_fetch_add(&stats->hits, 1);
            break;

        case NGX_HTTP_MALL_CACHE_UPDATING:
            (void) ngx_atomic_fetch_add(&stats->updating, 1);
            break;

        default:
            (void) ngx_atomic_fetch_add(&stats->stale, 1);
        }

        ctx->waiting = 0;
        ctx->served = 1;

        if (refresh && ngx_http_mall_cache_refresh(r, ctx, buf) != NGX_OK) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "mall_cache: cannot start a background refresh");
        }

        ngx_http_mall_cache_parse(buf, &resp, variant == 2, gzip);

        rc = ngx_http_mall_cache_send(r, ctx, &resp);
        ngx_http_finalize_request(r, rc);

        return NGX_DONE;
    }

    if (rcc.only_if_cached) {
        /* §5.2.1.7: nothing stored that may answer it */
        ngx_http_mall_shm_unlock(zone);
        ctx->key.len = 0;
        return ngx_http_mall_deny(r, NGX_HTTP_GATEWAY_TIME_OUT,
                                  "UPSTREAM_TIMEOUT",
                                  "not in the cache (only-if-cached)");
    }

    if (r->method == NGX_HTTP_HEAD) {
        /* a HEAD answer has no body to store: proxy it */
        ngx_http_mall_shm_unlock(zone);
        goto miss;
    }

    if (every_use) {
        ctx->seq = stats->purge_seq;
        ngx_http_mall_shm_unlock(zone);
        goto origin;
    }

    /* a miss: the first one fills, the others wait (proxy_cache_lock) */

    fkey[0] = 'f';
    ngx_memcpy(fkey + 1, ctx->key.data + 1, ctx->key.len - 1);

    rc = ngx_http_mall_shm_set_locked(zone, fkey, ctx->key.len, NULL, 0,
                                      now + ctx->lock_timeout, now,
                                      NGX_HTTP_MALL_SHM_ADD_ONLY
                                      |NGX_HTTP_MALL_SHM_SOFT);

    if (rc == NGX_BUSY
        && (!ctx->waiting
            || (ngx_msec_int_t) (ngx_current_msec - ctx->deadline) < 0))
    {
        ngx_http_mall_shm_unlock(zone);
        return ngx_http_mall_cache_wait(r, ctx);
    }

    if (rc == NGX_OK) {
        ctx->filler = 1;
    }

    ctx->seq = stats->purge_seq;

    ngx_http_mall_shm_unlock(zone);

origin:

    /*
     * the origin is asked for a full answer to store, or, for an entry
     * with validators, whether the stored one is still current
     */

    if (ctx->stale) {
        ngx_http_mall_cache_parse(ctx->stale, &resp, 1, 0);
    }

    if (ngx_http_mall_cache_origin_headers(r, &r->headers_in.headers,
                                           ctx->revalidate ? &resp : NULL)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

miss:

    ctx->waiting = 0;
    ctx->state = NGX_HTTP_MALL_CACHE_MISS;
    (void) ngx_atomic_fetch_add(&stats->misses, 1);

    return NGX_DECLINED;
}


/*
 * POST, PUT, DELETE, PATCH or an unknown method: the key of its URI is
 * kept, and the header filter invalidates it if the origin succeeds.
 */

static ngx_int_t
ngx_http_mall_cache_invalidating(ngx_http_request_t *r,
    ngx_http_mall_cache_ctx_t *ctx)
{
    ngx_int_t  rc;
    ngx_str_t  key;

    if (ctx->conf->key) {
        if (ngx_http_complex_value(r, ctx->conf->key, &key) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        rc = ngx_http_mall_cache_key(r->pool, ctx->conf, &key, &key,
                                     &ctx->key);
        if (rc == NGX_OK) {
            ctx->key.len = 1 + key.len;
            ngx_memcpy(ctx->key.data + 1, key.data, key.len);
        }

    } else {
        rc = ngx_http_mall_cache_key(r->pool, ctx->conf, &r->uri, &r->args,
                                     &ctx->key);
    }

    if (rc != NGX_OK || ctx->key.len > NGX_HTTP_MALL_SHM_KEY_MAX) {
        ctx->key.len = 0;
        return NGX_DECLINED;
    }

    ctx->invalidate = 1;

    return NGX_DECLINED;
}


/* Waits NGX_HTTP_MALL_CACHE_POLL ms, then re-runs the phase (limit_req). */

static ngx_int_t
ngx_http_mall_cache_wait(ngx_http_request_t *r, ngx_http_mall_cache_ctx_t *ctx)
{
    if (!ctx->waiting) {
        ctx->waiting = 1;
        ctx->deadline = ngx_current_msec + ctx->lock_timeout;
    }

    r->read_event_handler = ngx_http_test_reading;
    r->write_event_handler = ngx_http_mall_cache_wait_handler;

    r->connection->write->delayed = 1;
    ngx_add_timer(r->connection->write, NGX_HTTP_MALL_CACHE_POLL);

    return NGX_AGAIN;
}


static void
ngx_http_mall_cache_wait_handler(ngx_http_request_t *r)
{
    ngx_event_t  *wev;

    wev = r->connection->write;

    if (wev->delayed) {
        if (ngx_handle_write_event(wev, 0) != NGX_OK) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        }

        return;
    }

    if (ngx_handle_read_event(r->connection->read, 0) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    r->read_event_handler = ngx_http_block_reading;
    r->write_event_handler = ngx_http_core_run_phases;

    ngx_http_core_run_phases(r);
}


/*
 * Copies an entry value v into pool memory; the zone is locked. variant 0:
 * header, content type, headers and the plain body; 1: the same with the
 * gzip body; 2: the whole value. Returns NULL on no memory.
 */


static ngx_int_t
ngx_http_mall_cache_refresh(ngx_http_request_t *r,
    ngx_http_mall_cache_ctx_t *ctx, u_char *stored)
{
    ngx_http_mall_cache_resp_t   resp;
    ngx_http_request_t          *sr;
    ngx_http_mall_ctx_t         *mctx;
    ngx_http_variable_value_t   *vv;
    ngx_http_mall_cache_ctx_t   *sctx;
    ngx_http_mall_main_conf_t   *mmcf;

    mctx = ngx_pcalloc(r->pool, sizeof(ngx_http_mall_ctx_t));
    sctx = ngx_palloc(r->pool, sizeof(ngx_http_mall_cache_ctx_t));

    if (mctx == NULL || sctx == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_subrequest(r, &r->uri, &r->args, &sr, NULL,
                            NGX_HTTP_SUBREQUEST_CLONE
                            |NGX_HTTP_SUBREQUEST_BACKGROUND)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    sr->method = NGX_HTTP_GET;
    ngx_str_set(&sr->method_name, "GET");

    *sctx = *ctx;
    sctx->request = sr;
    sctx->state = NGX_HTTP_MALL_CACHE_NONE;
    sctx->stale = NULL;
    sctx->revalidate = 0;

    /* conditional when the entry has validators: a 304 refreshes it */

    ngx_http_mall_cache_parse(stored, &resp, 1, 0);

    if (resp.e.flags & NGX_HTTP_MALL_CACHE_F_VALIDATORS) {
        sctx->stale = stored;
        sctx->stale_sie = 0;
        sctx->revalidate = 1;
    }

    if (ngx_http_mall_cache_origin_headers(r, &sr->headers_in.headers,
                                           sctx->revalidate ? &resp : NULL)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    sctx->filler = 0;
    sctx->served = 0;
    sctx->waiting = 0;
    sctx->refresh = 1;

    mctx->cache = sctx;
    mctx->subrequest = 1;
    ngx_http_set_ctx(sr, mctx, ngx_http_mall_module);

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_mall_module);

    vv = ngx_http_get_indexed_variable(r, mmcf->request_id_index);
    if (vv && !vv->not_found) {
        sr->variables[mmcf->request_id_index] = *vv;
    }

    (void) ngx_atomic_fetch_add(&ctx->czone->stats->refreshes, 1);

    return NGX_OK;
}


/* Accept-Encoding names gzip with a non-zero q. */


void
ngx_http_mall_cache_unlock_fill(ngx_http_mall_cache_ctx_t *ctx,
    ngx_uint_t locked)
{
    u_char  fkey[NGX_HTTP_MALL_SHM_KEY_MAX];

    if (!ctx->filler) {
        return;
    }

    ctx->filler = 0;

    fkey[0] = 'f';
    ngx_memcpy(fkey + 1, ctx->key.data + 1, ctx->key.len - 1);

    if (locked) {
        (void) ngx_http_mall_shm_delete_locked(ctx->czone->zone, fkey,
                                               ctx->key.len);
        return;
    }

    (void) ngx_http_mall_shm_delete(ctx->czone->zone, fkey, ctx->key.len);
}


/* The fill lock never outlives its request (aborted, 5xx, redirected). */

static void
ngx_http_mall_cache_cleanup(void *data)
{
    ngx_http_mall_cache_ctx_t *ctx = data;

    ngx_http_mall_cache_unlock_fill(ctx, 0);
}


/* The cache state owned by r (not a parent's or a sibling's). */

ngx_http_mall_cache_ctx_t *
ngx_http_mall_cache_get_ctx(ngx_http_request_t *r)
{
    ngx_http_mall_ctx_t  *mctx;

    mctx = ngx_http_mall_get_ctx(r);

    if (mctx == NULL || mctx->cache == NULL || mctx->cache->request != r) {
        return NULL;
    }

    return mctx->cache;
}
