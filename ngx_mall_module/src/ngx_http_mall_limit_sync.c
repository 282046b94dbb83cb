
/*
 * Cluster-wide limits (mall_limit ... sync=redis): the request-path hook
 * and the syncer. See lib/mall_rlsync.h for the math and README "Rate
 * limiting" for the accuracy bound.
 *
 * Request path (any worker, shm only): a sync=redis limit checks its key
 * like any limit, counts an admit as "pending" in the key's entry and, once
 * per sync, appends the key to a ring of keys to sync in a small shm zone
 * of its own. No Redis call.
 *
 * Syncer (nginx worker 0, its own Redis client of ngx_http_mall_redis.c on
 * nginx's event loop, like the stream follower): every interval
 * it takes up to batch keys from the ring and pipelines, per key,
 *     HINCRBY mall:rl:<limit>:<key>:<window> <node> <pending>
 *     PEXPIRE mall:rl:<limit>:<key>:<window> <2 windows + 10 s>
 *     HGETALL mall:rl:<limit>:<key>:<previous window>   (at a boundary)
 *     HGETALL mall:rl:<limit>:<key>:<window>
 * then charges the other nodes' new admits (the sum of the other fields,
 * less what was read last) to the key's GCRA state. While Redis is away
 * the limits are simply local; the outage is logged once.
 *
 * Lock order: a limit zone, then the ring. The syncer never holds both.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_http.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "ngx_http_mall_module.h"


#define NGX_HTTP_MALL_SYNC_INTERVAL     200       /* ms */
#define NGX_HTTP_MALL_SYNC_BATCH        1024
#define NGX_HTTP_MALL_SYNC_BACKOFF_MAX  2000      /* ms */

/* a ring record: limit index, key length, key (name NUL value) */
#define NGX_HTTP_MALL_SYNC_KEY_MAX      (64 + 1 + 256)
#define NGX_HTTP_MALL_SYNC_REC_MAX      (4 + NGX_HTTP_MALL_SYNC_KEY_MAX)

/* "mall:rl:" name ":" value ":" window seconds */
#define NGX_HTTP_MALL_SYNC_RKEY_MAX                                           \
    (sizeof("mall:rl:::") + NGX_HTTP_MALL_SYNC_KEY_MAX + NGX_INT64_LEN)


/* the ring, in its own shm zone: records appended, taken from the front */
typedef struct {
    uint64_t                       gen;       /* stamps queued keys */
    size_t                         size;      /* bytes of data[] */
    size_t                         used;
    ngx_atomic_t                   dropped;   /* ring full: key not queued */
    u_char                         data[1];
} ngx_http_mall_sync_ring_t;


typedef struct {
    ngx_http_mall_sync_ring_t     *ring;
    ngx_slab_pool_t               *shpool;
} ngx_http_mall_sync_ring_ctx_t;


/* one key of the batch in flight */
typedef struct {
    ngx_http_mall_limit_sync_limit_t  *limit;
    u_char                            *key;       /* store key */
    size_t                             klen;
    uint64_t                           win;       /* window start, ms */
    uint64_t                           pending;   /* sent with HINCRBY */
    uint64_t                           prev;      /* others, prev window */
    unsigned                           have_prev:1;
} ngx_http_mall_sync_item_t;


typedef struct {
    ngx_http_mall_redis_client_t       client;    /* client.data: this */
    ngx_http_mall_limit_sync_conf_t   *conf;

    ngx_http_mall_sync_item_t         *items;     /* conf->batch */
    ngx_uint_t                         nitems;
    u_char                            *keys;      /* batch records */
} ngx_http_mall_sync_t;


static ngx_int_t ngx_http_mall_sync_ring_init(ngx_shm_zone_t *shm_zone,
    void *data);
static void ngx_http_mall_sync_ring_push(ngx_shm_zone_t *zone,
    ngx_http_mall_limit_sync_state_t *ss, ngx_uint_t index, u_char *key,
    size_t len);

static void ngx_http_mall_sync_tick(ngx_http_mall_redis_client_t *cl);
static ngx_uint_t ngx_http_mall_sync_take(ngx_http_mall_sync_t *st);
static ngx_int_t ngx_http_mall_sync_prepare(ngx_http_mall_sync_t *st,
    ngx_http_mall_sync_item_t *it, uint64_t now);
static ngx_int_t ngx_http_mall_sync_send(ngx_http_mall_sync_t *st,
    ngx_http_mall_sync_item_t *it);
static size_t ngx_http_mall_sync_rkey(ngx_http_mall_sync_item_t *it,
    uint64_t win, u_char *buf);
static void ngx_http_mall_sync_incr_cb(redisAsyncContext *ac, void *r,
    void *privdata);
static void ngx_http_mall_sync_expire_cb(redisAsyncContext *ac, void *r,
    void *privdata);
static void ngx_http_mall_sync_prev_cb(redisAsyncContext *ac, void *r,
    void *privdata);
static void ngx_http_mall_sync_cur_cb(redisAsyncContext *ac, void *r,
    void *privdata);
static ngx_int_t ngx_http_mall_sync_others(ngx_http_mall_sync_t *st,
    redisReply *reply, uint64_t *total);
static void ngx_http_mall_sync_apply(ngx_http_mall_sync_t *st,
    ngx_http_mall_sync_item_t *it, uint64_t remote);
static void ngx_http_mall_sync_restore(ngx_http_mall_sync_item_t *it);


static ngx_http_mall_sync_t  ngx_http_mall_sync_state;
static ngx_uint_t            ngx_http_mall_sync_ring_tag;


/* ------------------------------ configuration ---------------------------- */


/* mall_limit_sync [interval=200ms] [batch=1024] [node=<id>] */

char *
ngx_http_mall_limit_sync(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mall_main_conf_t *mmcf = conf;

    u_char                           *p;
    ngx_str_t                        *value, s;
    ngx_int_t                         n;
    ngx_uint_t                        i;
    ngx_msec_t                        ms;
    ngx_http_mall_limit_sync_conf_t  *scf;

    scf = &mmcf->limit.sync;

    if (scf->interval || scf->batch || scf->node.len) {
        return "is duplicate";
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "interval=", 9) == 0) {
            s.data = value[i].data + 9;
            s.len = value[i].len - 9;

            ms = ngx_parse_time(&s, 0);
            if (ms == (ngx_msec_t) NGX_ERROR || ms < 10 || ms > 60000) {
                goto invalid;
            }

            scf->interval = ms;
            continue;
        }

        if (ngx_strncmp(value[i].data, "batch=", 6) == 0) {
            n = ngx_atoi(value[i].data + 6, value[i].len - 6);
            if (n < 1 || n > 65536) {
                goto invalid;
            }

            scf->batch = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "node=", 5) == 0) {
            scf->node.data = value[i].data + 5;
            scf->node.len = value[i].len - 5;

            for (p = scf->node.data; p < scf->node.data + scf->node.len; p++)
            {
                if (!(ngx_http_mall_isalnum(*p) || *p == '_' || *p == '-'
                      || *p == '.' || *p == ':'))
                {
                    break;
                }
            }

            if (scf->node.len == 0 || scf->node.len > 128
                || p != scf->node.data + scf->node.len)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "mall_limit_sync: node \"%V\" must be 1 "
                                   "to 128 of [A-Za-z0-9_.:-]", &scf->node);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        goto invalid;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "mall_limit_sync: invalid parameter \"%V\"",
                       &value[i]);

    return NGX_CONF_ERROR;
}


/*
 * Adds a sync=redis limit to the registry, once per name: the Redis keys
 * carry the name, so two limits that share it must share their zone and
 * rate (they share the buckets too).
 */

ngx_int_t
ngx_http_mall_limit_sync_register(ngx_conf_t *cf,
    ngx_http_mall_limit_t *limit, ngx_str_t *zone)
{
    ngx_uint_t                         i;
    ngx_http_mall_main_conf_t         *mmcf;
    ngx_http_mall_limit_sync_conf_t   *scf;
    ngx_http_mall_limit_sync_limit_t  *sl;

    mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_mall_module);
    scf = &mmcf->limit.sync;

    limit->window_ms = mall_rlsync_window_ms(&limit->gcra);

    if (scf->limits == NULL) {
        scf->file = cf->conf_file->file.name.data;
        scf->line = cf->conf_file->line;

        scf->limits = ngx_array_create(cf->pool, 4,
                                   sizeof(ngx_http_mall_limit_sync_limit_t));
        if (scf->limits == NULL) {
            return NGX_ERROR;
        }
    }

    sl = scf->limits->elts;

    for (i = 0; i < scf->limits->nelts; i++) {
        if (sl[i].name.len != limit->name.len
            || ngx_strncmp(sl[i].name.data, limit->name.data,
                           limit->name.len) != 0)
        {
            continue;
        }

        if (sl[i].zone_name.len != zone->len
            || ngx_strncmp(sl[i].zone_name.data, zone->data, zone->len) != 0
            || sl[i].gcra.count != limit->gcra.count
            || sl[i].gcra.period_ms != limit->gcra.period_ms
            || sl[i].gcra.burst != limit->gcra.burst)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "mall_limit: sync=redis limits named \"%V\" "
                               "must have the same zone, rate and burst",
                               &limit->name);
            return NGX_ERROR;
        }

        limit->sync_index = i;
        return NGX_OK;
    }

    if (scf->limits->nelts == 0xffff) {
        return NGX_ERROR;
    }

    sl = ngx_array_push(scf->limits);
    if (sl == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(sl, sizeof(ngx_http_mall_limit_sync_limit_t));

    sl->name = limit->name;
    sl->zone_name = *zone;
    sl->gcra = limit->gcra;
    sl->window_ms = limit->window_ms;

    limit->sync_index = scf->limits->nelts - 1;

    return NGX_OK;
}


/*
 * After the http block: sync=redis needs mall_redis; resolves the zones,
 * sets the defaults (the node id is the host name) and declares the ring.
 */

char *
ngx_http_mall_limit_sync_init_main_conf(ngx_conf_t *cf,
    ngx_http_mall_limit_main_conf_t *lmcf)
{
    size_t                             size;
    ngx_str_t                          name = ngx_string("mall_limit_sync");
    ngx_uint_t                         i, j;
    ngx_http_mall_main_conf_t         *mmcf;
    ngx_http_mall_limit_zone_t        *lz;
    ngx_http_mall_limit_sync_conf_t   *scf;
    ngx_http_mall_limit_sync_limit_t  *sl;

    scf = &lmcf->sync;

    if (scf->interval == 0) {
        scf->interval = NGX_HTTP_MALL_SYNC_INTERVAL;
    }

    if (scf->batch == 0) {
        scf->batch = NGX_HTTP_MALL_SYNC_BATCH;
    }

    if (scf->node.len == 0) {
        scf->node = cf->cycle->hostname;
    }

    if (scf->limits == NULL || scf->limits->nelts == 0) {
        return NGX_CONF_OK;
    }

    mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_mall_module);

    if (mmcf->redis.port == 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "mall_limit: sync=redis needs \"mall_redis\" in "
                      "%s:%ui", scf->file, scf->line);
        return NGX_CONF_ERROR;
    }

    sl = scf->limits->elts;
    lz = lmcf->zones->elts;

    for (i = 0; i < scf->limits->nelts; i++) {
        for (j = 0; j < lmcf->zones->nelts; j++) {
            if (lz[j].name.len == sl[i].zone_name.len
                && ngx_strncmp(lz[j].name.data, sl[i].zone_name.data,
                               sl[i].zone_name.len) == 0)
            {
                sl[i].zone = lz[j].shm_zone;
                break;
            }
        }

        if (sl[i].zone == NULL) {
            return NGX_CONF_ERROR;
        }

        if (2 * scf->interval > sl[i].window_ms) {
            ngx_log_error(NGX_LOG_WARN, cf->log, 0,
                          "mall_limit_sync: interval %Mms is long for the "
                          "%uLms windows of limit \"%V\"",
                          scf->interval, sl[i].window_ms, &sl[i].name);
        }
    }

    /* room for twice a batch of the longest records, and the slab's own */

    size = 8 * ngx_pagesize + 2 * scf->batch * NGX_HTTP_MALL_SYNC_REC_MAX;
    size = ngx_align(size, ngx_pagesize);

    scf->ring = ngx_shared_memory_add(cf, &name, size,
                                      &ngx_http_mall_sync_ring_tag);
    if (scf->ring == NULL) {
        return NGX_CONF_ERROR;
    }

    if (scf->ring->data == NULL) {
        scf->ring->data = ngx_pcalloc(cf->pool,
                                     sizeof(ngx_http_mall_sync_ring_ctx_t));
        if (scf->ring->data == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    scf->ring->init = ngx_http_mall_sync_ring_init;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_mall_sync_ring_init(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_mall_sync_ring_ctx_t  *octx = data;

    size_t                          size;
    ngx_http_mall_sync_ring_ctx_t  *ctx;

    ctx = shm_zone->data;

    if (octx) {
        /* reload with the same batch: keep the keys still queued */
        ctx->ring = octx->ring;
        ctx->shpool = octx->shpool;
        return NGX_OK;
    }

    ctx->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        ctx->ring = ctx->shpool->data;
        return NGX_OK;
    }

    size = shm_zone->shm.size - 8 * ngx_pagesize;

    ctx->ring = ngx_slab_alloc(ctx->shpool,
                               offsetof(ngx_http_mall_sync_ring_t, data)
                               + size);
    if (ctx->ring == NULL) {
        return NGX_ERROR;
    }

    ctx->ring->size = size;
    ctx->ring->used = 0;
    ctx->ring->dropped = 0;

    /* a new ring: keys marked queued in an older one are queued again */
    ctx->ring->gen = ngx_http_mall_now_ms() | 1;

    ctx->shpool->data = ctx->ring;

    return NGX_OK;
}


/* Keys the ring had no room for, since it was created (mall_metrics). */

ngx_atomic_uint_t
ngx_http_mall_limit_sync_dropped(ngx_http_mall_limit_sync_conf_t *scf)
{
    ngx_http_mall_sync_ring_ctx_t  *ctx;

    if (scf->ring == NULL || scf->ring->data == NULL) {
        return 0;
    }

    ctx = scf->ring->data;

    return ctx->ring ? ctx->ring->dropped : 0;
}


/* ------------------------------ request path ----------------------------- */


/*
 * Called with the limit's zone locked, on the key's entry value (state):
 * counts an admit as pending and queues the key for the next sync, once.
 * Never blocks beyond the ring's mutex; a full ring leaves the key for its
 * next request.
 */

void
ngx_http_mall_limit_sync_mark(ngx_http_mall_limit_sync_conf_t *scf,
    ngx_http_mall_limit_t *limit, void *state, u_char *key, size_t len,
    uint64_t now, ngx_uint_t admitted)
{
    ngx_http_mall_limit_sync_state_t *ss = state;

    ngx_http_mall_sync_ring_ctx_t  *ctx;

    if (admitted) {
        if (ss->pending == 0) {
            ss->pend_win = mall_rlsync_window_start(now, limit->window_ms);
        }

        ss->pending++;
    }

    if (scf->ring == NULL || len > NGX_HTTP_MALL_SYNC_KEY_MAX) {
        return;
    }

    ctx = scf->ring->data;

    if (ctx->ring == NULL || ss->queued == ctx->ring->gen) {
        return;
    }

    ngx_http_mall_sync_ring_push(scf->ring, ss, limit->sync_index, key, len);
}


static void
ngx_http_mall_sync_ring_push(ngx_shm_zone_t *zone,
    ngx_http_mall_limit_sync_state_t *ss, ngx_uint_t index, u_char *key,
    size_t len)
{
    u_char                         *p;
    ngx_http_mall_sync_ring_t      *ring;
    ngx_http_mall_sync_ring_ctx_t  *ctx;

    ctx = zone->data;
    ring = ctx->ring;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    if (ring->used + 4 + len > ring->size) {
        ngx_shmtx_unlock(&ctx->shpool->mutex);
        (void) ngx_atomic_fetch_add(&ring->dropped, 1);
        return;
    }

    p = ring->data + ring->used;
    *p++ = (u_char) (index >> 8);
    *p++ = (u_char) index;
    *p++ = (u_char) (len >> 8);
    *p++ = (u_char) len;
    ngx_memcpy(p, key, len);
    ring->used += 4 + len;

    ss->queued = ring->gen;

    ngx_shmtx_unlock(&ctx->shpool->mutex);
}


/* ------------------------------ process ---------------------------------- */


ngx_int_t
ngx_http_mall_limit_sync_init_process(ngx_cycle_t *cycle,
    ngx_http_mall_limit_sync_conf_t *scf, ngx_http_mall_redis_conf_t *rcf)
{
    u_char                        *p;
    ngx_http_mall_sync_t          *st;
    ngx_http_mall_redis_client_t  *cl;

    if (scf->ring == NULL || rcf->port == 0) {
        return NGX_OK;
    }

    st = &ngx_http_mall_sync_state;

    st->conf = scf;
    st->items = ngx_palloc(cycle->pool,
                           scf->batch * sizeof(ngx_http_mall_sync_item_t));
    st->keys = ngx_palloc(cycle->pool,
                          scf->batch * NGX_HTTP_MALL_SYNC_REC_MAX);
    p = ngx_pnalloc(cycle->pool, sizeof(" as node \"\"") - 1 + scf->node.len);

    if (st->items == NULL || st->keys == NULL || p == NULL) {
        return NGX_ERROR;
    }

    cl = &st->client;

    ngx_http_mall_redis_client_init(cl, cycle, rcf, "mall_limit_sync",
                                    ngx_http_mall_sync_tick, st);

    cl->peer = "redis ";
    cl->outage = "sync=redis limits are per node until it is back";
    cl->backoff_max = NGX_HTTP_MALL_SYNC_BACKOFF_MAX;
    cl->detail.data = p;
    cl->detail.len = ngx_sprintf(p, " as node \"%V\"", &scf->node) - p;

    return NGX_OK;
}


void
ngx_http_mall_limit_sync_exit_process(ngx_cycle_t *cycle)
{
    /* replies still due run with NULL: unsent pending goes back */
    ngx_http_mall_redis_client_exit(&ngx_http_mall_sync_state.client);
}


/* ------------------------------ sync ------------------------------------- */


/* One tick: take a batch of keys from the ring and pipeline their commands. */

static void
ngx_http_mall_sync_tick(ngx_http_mall_redis_client_t *cl)
{
    uint64_t                    now;
    ngx_uint_t                  i;
    ngx_http_mall_sync_t       *st;
    ngx_http_mall_sync_item_t  *it;

    st = cl->data;

    /* the next tick comes at once while the ring has more keys */
    cl->next = ngx_http_mall_sync_take(st) ? 1 : st->conf->interval;
    now = ngx_http_mall_now_ms();

    for (i = 0; i < st->nitems; i++) {
        it = &st->items[i];

        if (ngx_http_mall_sync_prepare(st, it, now) != NGX_OK) {
            continue;
        }

        if (ngx_http_mall_sync_send(st, it) != NGX_OK) {
            /* the context is going away; its callbacks reconnect */
            ngx_http_mall_sync_restore(it);
            break;
        }
    }
}


/*
 * Copies up to batch records from the front of the ring into st->keys and
 * st->items (limit resolved by index, or by name after a reload). Returns
 * 1 if records are left in the ring.
 */

static ngx_uint_t
ngx_http_mall_sync_take(ngx_http_mall_sync_t *st)
{
    u_char                            *p, *last, *out;
    size_t                             len, klen;
    ngx_uint_t                         idx, i, j, left;
    ngx_http_mall_sync_ring_t         *ring;
    ngx_http_mall_sync_item_t         *it;
    ngx_http_mall_sync_ring_ctx_t     *ctx;
    ngx_http_mall_limit_sync_limit_t  *sl, *limit;

    ctx = st->conf->ring->data;
    ring = ctx->ring;
    sl = st->conf->limits->elts;
    out = st->keys;
    st->nitems = 0;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    p = ring->data;
    last = ring->data + ring->used;

    while (p + 4 <= last && st->nitems < st->conf->batch) {
        idx = ((ngx_uint_t) p[0] << 8) | p[1];
        klen = ((size_t) p[2] << 8) | p[3];

        if (p + 4 + klen > last || klen > NGX_HTTP_MALL_SYNC_KEY_MAX) {
            p = last;                  /* cannot happen: drop the rest */
            break;
        }

        ngx_memcpy(out, p + 4, klen);
        p += 4 + klen;

        /* the key starts with the limit's name and a NUL */

        limit = NULL;

        for (i = 0; i <= st->conf->limits->nelts; i++) {
            j = (i == 0) ? idx : i - 1;     /* its index first */

            if (j >= st->conf->limits->nelts) {
                continue;
            }

            if (klen > sl[j].name.len
                && out[sl[j].name.len] == '\0'
                && ngx_memcmp(out, sl[j].name.data, sl[j].name.len) == 0)
            {
                limit = &sl[j];
                break;
            }
        }

        if (limit == NULL) {
            continue;                  /* a limit a reload removed */
        }

        it = &st->items[st->nitems++];
        ngx_memzero(it, sizeof(ngx_http_mall_sync_item_t));
        it->limit = limit;
        it->key = out;
        it->klen = klen;

        out += klen;
    }

    len = last - p;

    if (len) {
        ngx_memmove(ring->data, p, len);
    }

    ring->used = len;
    left = (len != 0);

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return left;
}


/*
 * Under the key's zone lock: takes its pending admits (dropped when older
 * than the previous window: history by then), unqueues it, and decides
 * whether the previous window must be read too. NGX_DECLINED if the entry
 * is gone (evicted, or no longer a sync entry).
 */

static ngx_int_t
ngx_http_mall_sync_prepare(ngx_http_mall_sync_t *st,
    ngx_http_mall_sync_item_t *it, uint64_t now)
{
    uint64_t                           w;
    ngx_http_mall_shm_node_t          *sn;
    ngx_http_mall_limit_sync_state_t   ss;

    w = it->limit->window_ms;
    it->win = mall_rlsync_window_start(now, w);

    ngx_http_mall_shm_lock(it->limit->zone);

    sn = ngx_http_mall_shm_find_locked(it->limit->zone, it->key, it->klen,
                                       now);

    if (sn == NULL || sn->value_len != sizeof(ss)) {
        ngx_http_mall_shm_unlock(it->limit->zone);
        return NGX_DECLINED;
    }

    ngx_memcpy(&ss, ngx_http_mall_shm_value(sn), sizeof(ss));

    if (ss.pending && ss.pend_win + w >= it->win) {
        it->pending = ss.pending;
    }

    it->have_prev = (ss.win && ss.win + w == it->win);

    ss.pending = 0;
    ss.queued = 0;

    ngx_memcpy(ngx_http_mall_shm_value(sn), &ss, sizeof(ss));

    ngx_http_mall_shm_unlock(it->limit->zone);

    return NGX_OK;
}


/* Pipelines the key's commands; NGX_ERROR if hiredis refused one. */

static ngx_int_t
ngx_http_mall_sync_send(ngx_http_mall_sync_t *st,
    ngx_http_mall_sync_item_t *it)
{
    u_char       rkey[NGX_HTTP_MALL_SYNC_RKEY_MAX], num[NGX_INT64_LEN],
                 ttl[NGX_INT64_LEN];
    size_t       argvlen[4];
    const char  *argv[4];

    argv[1] = (const char *) rkey;

    if (it->pending) {
        argv[0] = "HINCRBY";
        argvlen[0] = 7;
        argvlen[1] = ngx_http_mall_sync_rkey(it, it->win, rkey);
        argv[2] = (const char *) st->conf->node.data;
        argvlen[2] = st->conf->node.len;
        argv[3] = (const char *) num;
        argvlen[3] = ngx_sprintf(num, "%uL", it->pending) - num;

        if (ngx_http_mall_redis_client_command(&st->client,
                                               ngx_http_mall_sync_incr_cb, it,
                                               4, argv, argvlen)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        argv[0] = "PEXPIRE";
        argvlen[0] = 7;
        argv[2] = (const char *) ttl;
        argvlen[2] = ngx_sprintf(ttl, "%uL", 2 * it->limit->window_ms + 10000)
                     - ttl;

        if (ngx_http_mall_redis_client_command(&st->client,
                                               ngx_http_mall_sync_expire_cb,
                                               it, 3, argv, argvlen)
            != NGX_OK)
        {
            /* the HINCRBY's callback gives the pending back */
            return NGX_OK;
        }
    }

    argv[0] = "HGETALL";
    argvlen[0] = 7;

    if (it->have_prev) {
        argvlen[1] = ngx_http_mall_sync_rkey(it, it->win
                                                 - it->limit->window_ms,
                                             rkey);

        if (ngx_http_mall_redis_client_command(&st->client,
                                               ngx_http_mall_sync_prev_cb, it,
                                               2, argv, argvlen)
            != NGX_OK)
        {
            return it->pending ? NGX_OK : NGX_ERROR;
        }
    }

    argvlen[1] = ngx_http_mall_sync_rkey(it, it->win, rkey);

    if (ngx_http_mall_redis_client_command(&st->client,
                                           ngx_http_mall_sync_cur_cb, it, 2,
                                           argv, argvlen)
        != NGX_OK)
    {
        return it->pending ? NGX_OK : NGX_ERROR;
    }

    return NGX_OK;
}


/* "mall:rl:" name ":" value ":" window start in unix seconds */

static size_t
ngx_http_mall_sync_rkey(ngx_http_mall_sync_item_t *it, uint64_t win,
    u_char *buf)
{
    u_char     *p;
    ngx_str_t  *name;

    name = &it->limit->name;

    p = ngx_cpymem(buf, "mall:rl:", sizeof("mall:rl:") - 1);
    p = ngx_cpymem(p, name->data, name->len);
    *p++ = ':';
    p = ngx_cpymem(p, it->key + name->len + 1, it->klen - name->len - 1);
    p = ngx_sprintf(p, ":%uL", win / 1000);

    return p - buf;
}


static void
ngx_http_mall_sync_incr_cb(redisAsyncContext *ac, void *r, void *privdata)
{
    redisReply                 *reply = r;
    ngx_http_mall_sync_item_t  *it = privdata;

    ngx_http_mall_redis_client_t  *cl;

    cl = ac->data;

    if (reply == NULL || reply->type != REDIS_REPLY_INTEGER) {
        /* not counted in Redis: count it at the next sync instead */
        ngx_http_mall_sync_restore(it);

        if (reply && reply->type == REDIS_REPLY_ERROR) {
            ngx_log_error(NGX_LOG_ERR, cl->log, 0,
                          "mall_limit_sync: HINCRBY failed: %*s",
                          (size_t) reply->len, reply->str);
        }
    }

    (void) ngx_http_mall_redis_client_reply(cl, ac);
}


static void
ngx_http_mall_sync_expire_cb(redisAsyncContext *ac, void *r, void *privdata)
{
    (void) ngx_http_mall_redis_client_reply(ac->data, ac);
}


static void
ngx_http_mall_sync_prev_cb(redisAsyncContext *ac, void *r, void *privdata)
{
    redisReply                 *reply = r;
    ngx_http_mall_sync_item_t  *it = privdata;

    ngx_http_mall_redis_client_t  *cl;

    cl = ac->data;

    if (reply == NULL
        || ngx_http_mall_sync_others(cl->data, reply, &it->prev) != NGX_OK)
    {
        it->have_prev = 0;
    }

    (void) ngx_http_mall_redis_client_reply(cl, ac);
}


static void
ngx_http_mall_sync_cur_cb(redisAsyncContext *ac, void *r, void *privdata)
{
    redisReply                 *reply = r;
    ngx_http_mall_sync_item_t  *it = privdata;

    uint64_t                       remote;
    ngx_http_mall_redis_client_t  *cl;

    cl = ac->data;

    if (reply && cl->ac == ac
        && ngx_http_mall_sync_others(cl->data, reply, &remote) == NGX_OK)
    {
        ngx_http_mall_sync_apply(cl->data, it, remote);
    }

    (void) ngx_http_mall_redis_client_reply(cl, ac);
}


/* The sum of the HGETALL reply's fields other than our node's. */

static ngx_int_t
ngx_http_mall_sync_others(ngx_http_mall_sync_t *st, redisReply *reply,
    uint64_t *total)
{
    off_t        n;
    size_t       i;
    redisReply  *f, *v;

    if (reply->type != REDIS_REPLY_ARRAY) {
        if (reply->type == REDIS_REPLY_ERROR) {
            ngx_log_error(NGX_LOG_ERR, st->client.log, 0,
                          "mall_limit_sync: HGETALL failed: %*s",
                          (size_t) reply->len, reply->str);
        }

        return NGX_ERROR;
    }

    *total = 0;

    for (i = 0; i + 1 < reply->elements; i += 2) {
        f = reply->element[i];
        v = reply->element[i + 1];

        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) {
            continue;
        }

        if ((size_t) f->len == st->conf->node.len
            && ngx_memcmp(f->str, st->conf->node.data, f->len) == 0)
        {
            continue;
        }

        n = ngx_atoof((u_char *) v->str, v->len);

        if (n > 0) {
            *total += (uint64_t) n;
        }
    }

    return NGX_OK;
}


/*
 * Charges the other nodes' new admits to the key's state and records what
 * was read. The entry is left alone if it went away meanwhile, or if a
 * reload changed its rate (the next sync sees it again).
 */

static void
ngx_http_mall_sync_apply(ngx_http_mall_sync_t *st,
    ngx_http_mall_sync_item_t *it, uint64_t remote)
{
    uint64_t                           now, d, expire;
    ngx_http_mall_shm_node_t          *sn;
    ngx_http_mall_limit_sync_limit_t  *sl;
    ngx_http_mall_limit_sync_state_t   ss;

    sl = it->limit;
    now = ngx_http_mall_now_ms();

    ngx_http_mall_shm_lock(sl->zone);

    sn = ngx_http_mall_shm_find_locked(sl->zone, it->key, it->klen, now);

    if (sn == NULL || sn->value_len != sizeof(ss)) {
        ngx_http_mall_shm_unlock(sl->zone);
        return;
    }

    ngx_memcpy(&ss, ngx_http_mall_shm_value(sn), sizeof(ss));

    if (ss.base.count != sl->gcra.count || ss.win > it->win) {
        ngx_http_mall_shm_unlock(sl->zone);
        return;
    }

    d = mall_rlsync_remote_delta(ss.win, ss.remote, it->win, sl->window_ms,
                                 it->have_prev, it->prev, remote);

    if (d) {
        ss.base.tat = mall_rlsync_charge(&sl->gcra, sl->window_ms,
                                         ss.base.tat, now, d);

        ngx_log_debug3(NGX_LOG_DEBUG_HTTP, st->client.log, 0,
                       "mall_limit_sync: \"%V\" charged %uL remote admits, "
                       "others' total %uL", &sl->name, d, remote);
    }

    ss.win = it->win;
    ss.remote = remote;

    ngx_memcpy(ngx_http_mall_shm_value(sn), &ss, sizeof(ss));

    expire = (uint64_t) ss.base.tat / sl->gcra.count + 1;
    expire = ngx_max(expire, it->win + 2 * sl->window_ms);

    if (sn->expire && sn->expire < expire) {
        sn->expire = expire;
    }

    ngx_http_mall_shm_unlock(sl->zone);
}


/* Gives back pending admits Redis did not count (sent again next time). */

static void
ngx_http_mall_sync_restore(ngx_http_mall_sync_item_t *it)
{
    uint64_t                           now;
    ngx_http_mall_shm_node_t          *sn;
    ngx_http_mall_limit_sync_state_t   ss;

    if (it->pending == 0) {
        return;
    }

    now = ngx_http_mall_now_ms();

    ngx_http_mall_shm_lock(it->limit->zone);

    sn = ngx_http_mall_shm_find_locked(it->limit->zone, it->key, it->klen,
                                       now);

    if (sn && sn->value_len == sizeof(ss)) {
        ngx_memcpy(&ss, ngx_http_mall_shm_value(sn), sizeof(ss));

        if (ss.pending == 0) {
            ss.pend_win = it->win;
        }

        ss.pending += it->pending;
        ss.queued = 0;              /* queued again by its next request */

        ngx_memcpy(ngx_http_mall_shm_value(sn), &ss, sizeof(ss));
    }

    ngx_http_mall_shm_unlock(it->limit->zone);

    it->pending = 0;
}

