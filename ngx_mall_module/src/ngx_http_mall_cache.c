
/*
 * Catalog cache: see ngx_http_mall_cache.h.
 *
 * Request path, per main GET/HEAD in a location with mall_cache:
 *   PRECONTENT  lock, find 'e' + key, copy what is served into r->pool,
 *               unlock, send. Fresh: HIT. Stale within the SWR window:
 *               STALE (and one background refresh) or UPDATING. Otherwise
 *               a miss: the first GET takes the 'f' lock and proxies; later
 *               ones poll every few ms until the entry appears, the lock
 *               goes, or mall_cache_lock_timeout passes (proxy_cache_lock).
 *   header      decide whether the worker's answer may be stored (status,
 *   filter      Cache-Control, Set-Cookie, size); on a 5xx with a stale
 *               copy within stale-if-error, replace the answer by it.
 *   body filter copy the body (up to max_entry) and store it at the end,
 *               gzip-compressed once next to the plain copy.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <zlib.h>

#include "ngx_http_mall_module.h"


#define NGX_HTTP_MALL_CACHE_GZIP_MIN  256      /* bytes */


typedef struct {
    ngx_http_mall_cache_entry_t    e;
    ngx_str_t                      ctype;
    ngx_str_t                      headers;
    ngx_str_t                      body;
    ngx_uint_t                     gzip;
} ngx_http_mall_cache_resp_t;


static ngx_int_t ngx_http_mall_cache_lookup(ngx_http_request_t *r,
    ngx_http_mall_cache_ctx_t *ctx);
static ngx_int_t ngx_http_mall_cache_wait(ngx_http_request_t *r,
    ngx_http_mall_cache_ctx_t *ctx);
static void ngx_http_mall_cache_wait_handler(ngx_http_request_t *r);
static u_char *ngx_http_mall_cache_copy(ngx_pool_t *pool, u_char *v,
    ngx_http_mall_cache_entry_t *e, ngx_int_t variant, size_t *len);
static void ngx_http_mall_cache_parse(u_char *p,
    ngx_http_mall_cache_resp_t *resp, ngx_uint_t full, ngx_uint_t gzip);
static ngx_int_t ngx_http_mall_cache_send(ngx_http_request_t *r,
    ngx_http_mall_cache_ctx_t *ctx, ngx_http_mall_cache_resp_t *resp);
static ngx_int_t ngx_http_mall_cache_state_header(ngx_http_request_t *r,
    ngx_uint_t state);
static ngx_int_t ngx_http_mall_cache_set_headers(ngx_http_request_t *r,
    ngx_http_mall_cache_ctx_t *ctx, ngx_http_mall_cache_resp_t *resp);
static ngx_int_t ngx_http_mall_cache_refresh(ngx_http_request_t *r,
    ngx_http_mall_cache_ctx_t *ctx);
static ngx_uint_t ngx_http_mall_cache_accepts_gzip(ngx_http_request_t *r);
static void ngx_http_mall_cache_unlock_fill(ngx_http_mall_cache_ctx_t *ctx,
    ngx_uint_t locked);
static void ngx_http_mall_cache_cleanup(void *data);
static ngx_http_mall_cache_ctx_t *ngx_http_mall_cache_get_ctx(
    ngx_http_request_t *r);

static ngx_int_t ngx_http_mall_cache_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_mall_cache_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_int_t ngx_http_mall_cache_swap(ngx_http_request_t *r,
    ngx_http_mall_cache_ctx_t *ctx);
static ngx_int_t ngx_http_mall_cache_policy(ngx_http_request_t *r,
    ngx_http_mall_cache_ctx_t *ctx);
static ngx_int_t ngx_http_mall_cache_capture(ngx_http_request_t *r,
    ngx_http_mall_cache_ctx_t *ctx, ngx_chain_t *in);
static void ngx_http_mall_cache_store(ngx_http_request_t *r,
    ngx_http_mall_cache_ctx_t *ctx);
static ngx_int_t ngx_http_mall_cache_gzip(ngx_pool_t *pool, u_char *in,
    size_t len, ngx_str_t *out);


static ngx_str_t  ngx_http_mall_cache_states[] = {
    ngx_null_string,
    ngx_string("MISS"),
    ngx_string("HIT"),
    ngx_string("STALE"),
    ngx_string("UPDATING"),
    ngx_string("BYPASS")
};

static ngx_str_t  ngx_http_mall_purge_stream = ngx_string("mall:purge");

static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


/* ------------------------------ configuration ---------------------------- */


/* mall_cache_zone name=NAME:SIZE [max_entry=256k] */

char *
ngx_http_mall_cache_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mall_main_conf_t *mmcf = conf;

    ssize_t                      size;
    ngx_str_t                   *value, s;
    ngx_uint_t                   i;
    ngx_http_mall_cache_zone_t  *czone;

    value = cf->args->elts;

    if (mmcf->cache.zones == NULL) {
        mmcf->cache.zones = ngx_array_create(cf->pool, 2,
                                       sizeof(ngx_http_mall_cache_zone_t));
        if (mmcf->cache.zones == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    czone = ngx_array_push(mmcf->cache.zones);
    if (czone == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(czone, sizeof(ngx_http_mall_cache_zone_t));
    czone->max_entry = 256 * 1024;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "name=", 5) == 0) {
            s.data = value[i].data + 5;
            s.len = value[i].len - 5;

            czone->zone = ngx_http_mall_shm_zone_add(cf, &s,
                                                     &ngx_http_mall_module);
            if (czone->zone == NULL) {
                return NGX_CONF_ERROR;
            }

            czone->name = czone->zone->shm.name;
            continue;
        }

        if (ngx_strncmp(value[i].data, "max_entry=", 10) == 0) {
            s.data = value[i].data + 10;
            s.len = value[i].len - 10;

            size = ngx_parse_size(&s);
            if (size == NGX_ERROR || size == 0) {
                goto invalid;
            }

            czone->max_entry = size;
            continue;
        }

        goto invalid;
    }

    if (czone->zone == NULL) {
        return "requires name=NAME:SIZE";
    }

    /* eviction frees room for an entry only if entries are small */

    if (czone->max_entry > czone->zone->shm.size / 8) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "mall_cache_zone: max_entry must be at most "
                           "1/8 of the zone size in \"%V\"", &czone->name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "mall_cache_zone: invalid parameter \"%V\"",
                       &value[i]);

    return NGX_CONF_ERROR;
}


static ngx_http_mall_cache_zone_t *
ngx_http_mall_cache_find_zone(ngx_conf_t *cf, ngx_str_t *value)
{
    ngx_str_t                    name;
    ngx_uint_t                   i;
    ngx_http_mall_main_conf_t   *mmcf;
    ngx_http_mall_cache_zone_t  *czone;

    if (ngx_strncmp(value->data, "zone=", 5) != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "mall_cache: expected \"zone=NAME\", got \"%V\"",
                           value);
        return NULL;
    }

    name.data = value->data + 5;
    name.len = value->len - 5;

    mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_mall_module);

    if (mmcf->cache.zones) {
        czone = mmcf->cache.zones->elts;

        for (i = 0; i < mmcf->cache.zones->nelts; i++) {
            if (czone[i].name.len == name.len
                && ngx_strncmp(czone[i].name.data, name.data, name.len) == 0)
            {
                return &czone[i];
            }
        }
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "mall_cache: unknown zone \"%V\" (declare it with "
                       "mall_cache_zone first)", &name);

    return NULL;
}


/* mall_cache zone=NAME | off */

char *
ngx_http_mall_cache(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mall_loc_conf_t *mlcf = conf;

    ngx_str_t  *value;

    if (mlcf->cache.zone != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        mlcf->cache.zone = NULL;
        return NGX_CONF_OK;
    }

    mlcf->cache.zone = ngx_http_mall_cache_find_zone(cf, &value[1]);
    if (mlcf->cache.zone == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* mall_cache_purge zone=NAME: the admin purge content handler */

char *
ngx_http_mall_cache_purge(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mall_loc_conf_t *mlcf = conf;

    ngx_str_t                 *value;
    ngx_http_core_loc_conf_t  *clcf;

    if (mlcf->cache.purge) {
        return "is duplicate";
    }

    value = cf->args->elts;

    mlcf->cache.purge = ngx_http_mall_cache_find_zone(cf, &value[1]);
    if (mlcf->cache.purge == NULL) {
        return NGX_CONF_ERROR;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_mall_cache_purge_handler;

    return NGX_CONF_OK;
}


/* mall_cache_status: an alias of mall_metrics (its cache_* families) */

char *
ngx_http_mall_cache_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_mall_metrics_handler;

    return NGX_CONF_OK;
}


/* mall_cache_ignore_args name|prefix* ... */

char *
ngx_http_mall_cache_args(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mall_loc_conf_t *mlcf = conf;

    ngx_str_t   *value, *s;
    ngx_uint_t   i;

    if (mlcf->cache.ignore_args != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    mlcf->cache.ignore_args = ngx_array_create(cf->pool, cf->args->nelts,
                                               sizeof(ngx_str_t));
    if (mlcf->cache.ignore_args == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 1; i < cf->args->nelts; i++) {
        if (value[i].len == 0 || ngx_strlchr(value[i].data, value[i].data
                                             + value[i].len - 1, '*'))
        {
            return "takes names, or prefixes ending with \"*\"";
        }

        s = ngx_array_push(mlcf->cache.ignore_args);
        if (s == NULL) {
            return NGX_CONF_ERROR;
        }

        *s = value[i];
    }

    return NGX_CONF_OK;
}


/* mall_cache_default_args name=value ... */

char *
ngx_http_mall_cache_defaults(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mall_loc_conf_t *mlcf = conf;

    u_char        *eq;
    ngx_str_t     *value;
    ngx_uint_t     i;
    ngx_keyval_t  *kv;

    if (mlcf->cache.default_args != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    mlcf->cache.default_args = ngx_array_create(cf->pool, cf->args->nelts,
                                                sizeof(ngx_keyval_t));
    if (mlcf->cache.default_args == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 1; i < cf->args->nelts; i++) {
        eq = ngx_strlchr(value[i].data, value[i].data + value[i].len, '=');

        if (eq == NULL || eq == value[i].data) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "mall_cache_default_args: expected "
                               "\"name=value\", got \"%V\"", &value[i]);
            return NGX_CONF_ERROR;
        }

        kv = ngx_array_push(mlcf->cache.default_args);
        if (kv == NULL) {
            return NGX_CONF_ERROR;
        }

        kv->key.data = value[i].data;
        kv->key.len = eq - value[i].data;
        kv->value.data = eq + 1;
        kv->value.len = value[i].data + value[i].len - eq - 1;
    }

    return NGX_CONF_OK;
}


void
ngx_http_mall_cache_create_loc_conf(ngx_http_mall_cache_loc_conf_t *conf)
{
    /*
     * set by ngx_pcalloc():
     *
     *     conf->purge = NULL;
     */

    conf->zone = NGX_CONF_UNSET_PTR;
    conf->key = NGX_CONF_UNSET_PTR;
    conf->ignore_args = NGX_CONF_UNSET_PTR;
    conf->default_args = NGX_CONF_UNSET_PTR;
    conf->valid = NGX_CONF_UNSET;
    conf->swr = NGX_CONF_UNSET;
    conf->sie = NGX_CONF_UNSET;
    conf->lock_timeout = NGX_CONF_UNSET_MSEC;
    conf->status_header = NGX_CONF_UNSET;
}


char *
ngx_http_mall_cache_merge_loc_conf(ngx_conf_t *cf,
    ngx_http_mall_cache_loc_conf_t *prev, ngx_http_mall_cache_loc_conf_t *conf)
{
    ngx_conf_merge_ptr_value(conf->zone, prev->zone, NULL);
    ngx_conf_merge_ptr_value(conf->key, prev->key, NULL);
    ngx_conf_merge_ptr_value(conf->ignore_args, prev->ignore_args, NULL);
    ngx_conf_merge_ptr_value(conf->default_args, prev->default_args, NULL);
    ngx_conf_merge_sec_value(conf->valid, prev->valid, 0);
    ngx_conf_merge_sec_value(conf->swr, prev->swr, 0);
    ngx_conf_merge_sec_value(conf->sie, prev->sie, 0);
    ngx_conf_merge_msec_value(conf->lock_timeout, prev->lock_timeout, 3000);
    ngx_conf_merge_value(conf->status_header, prev->status_header, 1);

    return NGX_CONF_OK;
}


/* postconfiguration: the store filters, and the purge stream follower */

ngx_int_t
ngx_http_mall_cache_init(ngx_conf_t *cf)
{
    ngx_http_mall_loc_conf_t        *mlcf;
    ngx_http_mall_main_conf_t       *mmcf;
    ngx_http_mall_cache_zone_t      *czone;
    ngx_http_mall_cache_loc_conf_t  *keys;

    mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_mall_module);

    if (mmcf->cache.zones == NULL) {
        return NGX_OK;
    }

    /* purge events name keys with the http{} level argument rules */

    mlcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_mall_module);

    keys = ngx_pcalloc(cf->pool, sizeof(ngx_http_mall_cache_loc_conf_t));
    if (keys == NULL) {
        return NGX_ERROR;
    }

    if (mlcf->cache.ignore_args != NGX_CONF_UNSET_PTR) {
        keys->ignore_args = mlcf->cache.ignore_args;
    }

    if (mlcf->cache.default_args != NGX_CONF_UNSET_PTR) {
        keys->default_args = mlcf->cache.default_args;
    }

    mmcf->cache.keys = keys;

    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_mall_cache_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_mall_cache_body_filter;

    if (mmcf->redis.port == 0) {
        return NGX_OK;
    }

    czone = mmcf->cache.zones->elts;

    return ngx_http_mall_redis_follow(cf, &mmcf->redis,
                                      &ngx_http_mall_purge_stream,
                                      ngx_http_mall_cache_purge_event,
                                      &mmcf->cache, czone[0].zone);
}


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
        || !(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD)))
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
    ngx_uint_t                    gzip, refresh;
    ngx_shm_zone_t               *zone;
    ngx_http_mall_shm_node_t     *sn;
    ngx_http_mall_cache_resp_t    resp;
    ngx_http_mall_cache_stats_t  *stats;
    ngx_http_mall_cache_entry_t   e;

    zone = ctx->czone->zone;
    stats = ctx->czone->stats;
    now = ngx_http_mall_now_ms();
    gzip = ngx_http_mall_cache_accepts_gzip(r);
    refresh = 0;
    buf = NULL;
    len = 0;

    ngx_http_mall_shm_lock(zone);

    sn = ngx_http_mall_shm_find_locked(zone, ctx->key.data, ctx->key.len, now);

    if (sn) {
        v = ngx_http_mall_shm_value(sn);
        ngx_memcpy(&e, v, sizeof(ngx_http_mall_cache_entry_t));

        variant = (gzip && e.gzip_len) ? 1 : 0;

        if (now < e.fresh) {
            ctx->state = NGX_HTTP_MALL_CACHE_HIT;

        } else if (now < e.swr) {

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
            }

        } else if (now < e.sie && r->method == NGX_HTTP_GET
                   && ctx->stale == NULL)
        {
            /* kept in case the workers fail: the whole entry */
            ctx->stale = ngx_http_mall_cache_copy(r->pool, v, &e, 2,
                                                  &ctx->stale_len);
            variant = -1;

        } else {
            variant = -1;
        }

        if (variant >= 0) {
            buf = ngx_http_mall_cache_copy(r->pool, v, &e, variant, &len);
        }
    }

    if (ctx->state != NGX_HTTP_MALL_CACHE_NONE) {
        ngx_http_mall_shm_unlock(zone);

        if (buf == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        switch (ctx->state) {

        case NGX_HTTP_MALL_CACHE_HIT:
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

        if (refresh && ngx_http_mall_cache_refresh(r, ctx) != NGX_OK) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "mall_cache: cannot start a background refresh");
        }

        ngx_http_mall_cache_parse(buf, &resp, 0, variant);

        rc = ngx_http_mall_cache_send(r, ctx, &resp);
        ngx_http_finalize_request(r, rc);

        return NGX_DONE;
    }

    if (r->method == NGX_HTTP_HEAD) {
        /* a HEAD answer has no body to store: proxy it */
        ngx_http_mall_shm_unlock(zone);
        goto miss;
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

miss:

    ctx->waiting = 0;
    ctx->state = NGX_HTTP_MALL_CACHE_MISS;
    (void) ngx_atomic_fetch_add(&stats->misses, 1);

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

static u_char *
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

static void
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


static ngx_int_t
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

static ngx_int_t
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

static ngx_int_t
ngx_http_mall_cache_refresh(ngx_http_request_t *r,
    ngx_http_mall_cache_ctx_t *ctx)
{
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

static ngx_uint_t
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


static void
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

static ngx_http_mall_cache_ctx_t *
ngx_http_mall_cache_get_ctx(ngx_http_request_t *r)
{
    ngx_http_mall_ctx_t  *mctx;

    mctx = ngx_http_mall_get_ctx(r);

    if (mctx == NULL || mctx->cache == NULL || mctx->cache->request != r) {
        return NULL;
    }

    return mctx->cache;
}


/* "X-Mall-Cache: <state>", for mall_cache_status_header. */

static ngx_int_t
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


/* ------------------------------ filters ---------------------------------- */


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

    if (ctx->stale && !ctx->refresh
        && (r->headers_out.status >= NGX_HTTP_INTERNAL_SERVER_ERROR
            || r->headers_out.status == 0))
    {
        return ngx_http_mall_cache_swap(r, ctx);
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
 * stale-if-error: the workers answered 5xx, timed out or are down (nginx's
 * own 502/504, possibly through error_page), and a copy younger than its
 * stale-if-error window exists: its headers replace the error's here, and
 * the body filter sends its body instead of the error's.
 */

static ngx_int_t
ngx_http_mall_cache_swap(ngx_http_request_t *r, ngx_http_mall_cache_ctx_t *ctx)
{
    ngx_http_mall_cache_resp_t  resp;

    ngx_http_mall_cache_unlock_fill(ctx, 0);

    ngx_http_mall_cache_parse(ctx->stale, &resp, 1,
                              ngx_http_mall_cache_accepts_gzip(r));

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

    ctx->state = NGX_HTTP_MALL_CACHE_STALE;
    ctx->swap = 1;

    (void) ngx_atomic_fetch_add(&ctx->czone->stats->stale, 1);

    if (ngx_http_mall_cache_set_headers(r, ctx, &resp) != NGX_OK) {
        return NGX_ERROR;
    }

    /* the body to send, kept for the body filter */
    ctx->swap_body = resp.body;

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "mall_cache: workers failed, serving a stale copy");

    return ngx_http_next_header_filter(r);
}


/* Response headers an entry does not keep (hop-by-hop, per response). */

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

static ngx_int_t
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


/*
 * Writes the entry and indexes its tags, unless a purge ran since the
 * request started (its answer may predate the change: never store it).
 */

static void
ngx_http_mall_cache_store(ngx_http_request_t *r, ngx_http_mall_cache_ctx_t *ctx)
{
    u_char                       *v, *p, *body;
    size_t                        vlen;
    uint64_t                      now, expire;
    ngx_int_t                     rc;
    ngx_str_t                     gz;
    ngx_shm_zone_t               *zone;
    ngx_http_mall_cache_stats_t  *stats;
    ngx_http_mall_cache_entry_t   e;

    zone = ctx->czone->zone;
    stats = ctx->czone->stats;

    if (ctx->body && ctx->body->next == NULL) {
        body = ctx->body->buf->pos;

    } else {
        body = ngx_pnalloc(r->pool, ctx->body_len + 1);
        if (body == NULL) {
            goto failed;
        }

        (void) ngx_http_mall_chain_copy(body, ctx->body);
    }

    /* compressed once per fill, never per hit */

    ngx_str_null(&gz);

    if (ctx->body_len >= NGX_HTTP_MALL_CACHE_GZIP_MIN
        && ngx_http_mall_cache_gzip(r->pool, body, ctx->body_len, &gz)
           != NGX_OK)
    {
        ngx_str_null(&gz);
    }

    if (gz.len >= ctx->body_len) {
        ngx_str_null(&gz);
    }

    now = ngx_http_mall_now_ms();

    ngx_memzero(&e, sizeof(ngx_http_mall_cache_entry_t));
    e.fresh = now + ctx->ttl;
    e.swr = e.fresh + ctx->ttl_swr;
    e.sie = e.fresh + ctx->ttl_sie;
    e.status = (uint32_t) ctx->http_status;
    e.ctype_len = (uint32_t) ctx->ctype.len;
    e.headers_len = (uint32_t) ctx->headers.len;
    e.body_len = (uint32_t) ctx->body_len;
    e.gzip_len = (uint32_t) gz.len;

    expire = ngx_max(e.swr, e.sie);

    vlen = sizeof(ngx_http_mall_cache_entry_t) + ctx->ctype.len
           + ctx->headers.len + ctx->body_len + gz.len;

    v = ngx_pnalloc(r->pool, vlen);
    if (v == NULL) {
        goto failed;
    }

    p = ngx_cpymem(v, &e, sizeof(ngx_http_mall_cache_entry_t));
    p = ngx_cpymem(p, ctx->ctype.data, ctx->ctype.len);
    p = ngx_cpymem(p, ctx->headers.data, ctx->headers.len);
    p = ngx_cpymem(p, body, ctx->body_len);

    if (gz.len) {
        ngx_memcpy(p, gz.data, gz.len);
    }

    ngx_http_mall_shm_lock(zone);

    if (stats->purge_seq != ctx->seq) {
        rc = NGX_DECLINED;

    } else {
        rc = ngx_http_mall_shm_set_locked(zone, ctx->key.data, ctx->key.len,
                                          v, vlen, expire, now,
                                          NGX_HTTP_MALL_SHM_SOFT);

        if (rc == NGX_OK
            && ngx_http_mall_cache_index_locked(ctx->czone, r->pool,
                                                &ctx->key, &ctx->tags,
                                                expire, now)
               != NGX_OK)
        {
            /* an entry that a tag purge could miss is not kept */
            (void) ngx_http_mall_shm_delete_locked(zone, ctx->key.data,
                                                   ctx->key.len);
            rc = NGX_ERROR;
        }
    }

    ngx_http_mall_cache_unlock_fill(ctx, 1);

    ngx_http_mall_shm_unlock(zone);

    if (rc == NGX_OK) {
        (void) ngx_atomic_fetch_add(&stats->stores, 1);
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "mall_cache: not stored (%i)", rc);

    return;

failed:

    ngx_http_mall_cache_unlock_fill(ctx, 0);
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
