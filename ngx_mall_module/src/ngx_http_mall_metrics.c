
/*
 * mall_metrics: every counter of the module in the Prometheus text
 * exposition format (version 0.0.4), for the loopback admin port.
 *
 * Metric families (counters end in _total; the rest are gauges):
 *
 *   mall_requests_total{decision="passed"}       requests the module checked
 *   mall_requests_total{decision="rejected",code="429"}  ... and refused
 *   mall_auth_verified_total{source="cache"|"full"}  tokens accepted
 *   mall_auth_rejected_total{reason="expired"...}    tokens refused
 *   mall_auth_revocations_applied_total          mall:revoked entries applied
 *   mall_sign_accepted_total                     request signatures accepted
 *   mall_sign_rejected_total{reason="replay"...} request signatures refused
 *   mall_limit_requests_total{zone,result}       result: passed, rejected,
 *                                                dry_run, exempt
 *   mall_cc_banned_requests_total{zone}          refused by a CC ban
 *   mall_cc_bans_total{zone}                     bans issued
 *   mall_cc_active_bans{zone}                    bans in force now
 *   mall_limit_sync_dropped_total                keys not queued: ring full
 *   mall_cache_{hits,misses,stale,updating,bypass,stores,refreshes,purges,
 *     purged,evictions,expired}_total{zone}      catalog cache events
 *   mall_cache_entries{zone}, mall_cache_bytes_used{zone},
 *     mall_cache_bytes_size{zone}                catalog cache occupancy
 *   mall_shm_size_bytes{zone}, mall_shm_used_bytes{zone}   every mall zone
 *   mall_shm_entries{zone}, mall_shm_{evictions,expired,failures}_total{zone}
 *                                                keyed-store zones
 *   mall_nonce_{inserts,replays,full,user_limited}_total{zone}  replay cache
 *   mall_redis_connected                         1: follower connected
 *   mall_redis_errors_total                      connection failures
 *   mall_redis_last_error_timestamp_seconds      unix time; 0: none
 *   mall_redis_stream_entries_total{stream}      stream entries applied
 *
 * Counters kept here live in the zone "ngx_http_mall_metrics", created for
 * every configuration and reused by a reload (same name, size and tag).
 * mall_cache_status is the same handler.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_mall_module.h"
#include "ngx_http_mall_nonce.h"
#include "ngx_http_mall_metrics.h"


#define NGX_HTTP_MALL_METRICS_SIZE     (64 * 1024)
#define NGX_HTTP_MALL_METRICS_CODE_MIN  400
#define NGX_HTTP_MALL_METRICS_CODES     200     /* 400..599 */
#define NGX_HTTP_MALL_METRICS_STREAMS   16
#define NGX_HTTP_MALL_METRICS_NAME_MAX  64


typedef struct {
    ngx_atomic_t                   state;     /* 0 free, 1 naming, 2 named */
    ngx_atomic_t                   applied;
    size_t                         len;
    u_char                         name[NGX_HTTP_MALL_METRICS_NAME_MAX];
} ngx_http_mall_metrics_stream_t;


typedef struct {
    ngx_atomic_t                   passed;
    ngx_atomic_t                   rejected[NGX_HTTP_MALL_METRICS_CODES];
    ngx_atomic_t                   auth[NGX_HTTP_MALL_M_AUTH_N];
    ngx_atomic_t                   sign[NGX_HTTP_MALL_M_SIGN_N];
    ngx_atomic_t                   redis_connected;
    ngx_atomic_t                   redis_errors;
    ngx_atomic_t                   redis_last_error;  /* unix s */
    ngx_http_mall_metrics_stream_t streams[NGX_HTTP_MALL_METRICS_STREAMS];
} ngx_http_mall_metrics_sh_t;




typedef struct {
    u_char                        *pos;
    u_char                        *last;
} ngx_http_mall_metrics_out_t;


static ngx_int_t ngx_http_mall_metrics_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_int_t ngx_http_mall_metrics_log_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_mall_metrics_add_zone(ngx_array_t *zones,
    ngx_shm_zone_t *zone, ngx_uint_t store);
static void ngx_http_mall_metrics_family(ngx_http_mall_metrics_out_t *o,
    char *name, char *type, char *help);
static void ngx_http_mall_metrics_write(ngx_http_request_t *r,
    ngx_http_mall_metrics_out_t *o, ngx_array_t *zones);
static void ngx_http_mall_metrics_write_limits(ngx_http_request_t *r,
    ngx_http_mall_metrics_out_t *o);
static void ngx_http_mall_metrics_write_cache(ngx_http_request_t *r,
    ngx_http_mall_metrics_out_t *o);
static void ngx_http_mall_metrics_write_shm(ngx_http_mall_metrics_out_t *o,
    ngx_array_t *zones, ngx_shm_zone_t *sign);
static void ngx_http_mall_metrics_write_redis(ngx_http_mall_metrics_out_t *o);


static ngx_str_t  ngx_http_mall_metrics_zone_name =
    ngx_string("ngx_http_mall_metrics");

/* set in the master by init_zone, inherited by the workers */
static ngx_http_mall_metrics_sh_t  *ngx_http_mall_metrics_sh;


/* label values, in NGX_HTTP_MALL_M_AUTH_* order from _MISSING on */
static char  *ngx_http_mall_auth_reasons[] = {
    "missing", "bad_scheme", "too_long", "malformed", "bad_alg",
    "unknown_kid", "bad_signature", "expired", "not_yet_valid",
    "bad_issuer", "bad_audience", "missing_claim", "revoked", "other"
};

/* in NGX_HTTP_MALL_M_SIGN_* order from _MISSING on */
static char  *ngx_http_mall_sign_reasons[] = {
    "missing", "no_token", "bad_timestamp", "expired", "bad_nonce",
    "unknown_key", "bad_query", "bad_signature", "too_large", "replay",
    "unavailable", "user_limited"
};


/* ------------------------------ configuration ---------------------------- */


/* Postconfiguration: the counters' zone and the log-phase handler. */

ngx_int_t
ngx_http_mall_metrics_init(ngx_conf_t *cf)
{
    ngx_shm_zone_t             *zone;
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    zone = ngx_shared_memory_add(cf, &ngx_http_mall_metrics_zone_name,
                                 NGX_HTTP_MALL_METRICS_SIZE,
                                 &ngx_http_mall_module);
    if (zone == NULL) {
        return NGX_ERROR;
    }

    zone->init = ngx_http_mall_metrics_init_zone;
    zone->data = &ngx_http_mall_metrics_sh;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_mall_metrics_log_handler;

    return NGX_OK;
}


static ngx_int_t
ngx_http_mall_metrics_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_slab_pool_t  *shpool;

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (data || shm_zone->shm.exists) {
        /* a reload (or a Windows re-attach): the counters go on */
        ngx_http_mall_metrics_sh = shpool->data;
        return NGX_OK;
    }

    ngx_http_mall_metrics_sh = ngx_slab_calloc(shpool,
                                          sizeof(ngx_http_mall_metrics_sh_t));
    if (ngx_http_mall_metrics_sh == NULL) {
        return NGX_ERROR;
    }

    shpool->data = ngx_http_mall_metrics_sh;

    return NGX_OK;
}


/* mall_metrics; (a content handler) */

char *
ngx_http_mall_metrics(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_mall_metrics_handler;

    return NGX_CONF_OK;
}


/* ------------------------------ counting --------------------------------- */


/* A phase handler refused r with status (ngx_http_mall_deny and limits). */

void
ngx_http_mall_metrics_denied(ngx_http_request_t *r, ngx_uint_t status)
{
    ngx_http_mall_ctx_t  *ctx;

    if (ngx_http_mall_metrics_sh == NULL) {
        return;
    }

    ctx = ngx_http_mall_get_ctx(r->main);

    if (ctx) {
        if (ctx->denied) {
            return;
        }

        ctx->denied = 1;
    }

    if (status >= NGX_HTTP_MALL_METRICS_CODE_MIN
        && status < NGX_HTTP_MALL_METRICS_CODE_MIN
                    + NGX_HTTP_MALL_METRICS_CODES)
    {
        (void) ngx_atomic_fetch_add(&ngx_http_mall_metrics_sh->rejected[
                                    status - NGX_HTTP_MALL_METRICS_CODE_MIN],
                                    1);
    }
}


/* LOG: a request the module looked at and did not refuse has passed. */

static ngx_int_t
ngx_http_mall_metrics_log_handler(ngx_http_request_t *r)
{
    ngx_http_mall_ctx_t  *ctx;

    if (ngx_http_mall_metrics_sh == NULL || r != r->main) {
        return NGX_OK;
    }

    ctx = ngx_http_mall_get_ctx(r);

    if (ctx && !ctx->denied) {
        (void) ngx_atomic_fetch_add(&ngx_http_mall_metrics_sh->passed, 1);
    }

    return NGX_OK;
}


void
ngx_http_mall_metrics_auth(ngx_uint_t event)
{
    if (ngx_http_mall_metrics_sh && event < NGX_HTTP_MALL_M_AUTH_N) {
        (void) ngx_atomic_fetch_add(&ngx_http_mall_metrics_sh->auth[event],
                                    1);
    }
}


/* A token refused by lib/mall_jwt (a mall_jwt_rc_e). */

void
ngx_http_mall_metrics_auth_jwt(ngx_uint_t jwt_rc)
{
    static ngx_uint_t  map[] = {
        NGX_HTTP_MALL_M_AUTH_OTHER,          /* MALL_JWT_OK: not a refusal */
        NGX_HTTP_MALL_M_AUTH_TOO_LONG,
        NGX_HTTP_MALL_M_AUTH_MALFORMED,
        NGX_HTTP_MALL_M_AUTH_BAD_ALG,
        NGX_HTTP_MALL_M_AUTH_UNKNOWN_KID,
        NGX_HTTP_MALL_M_AUTH_BAD_SIGNATURE,
        NGX_HTTP_MALL_M_AUTH_EXPIRED,
        NGX_HTTP_MALL_M_AUTH_NOT_YET_VALID,
        NGX_HTTP_MALL_M_AUTH_BAD_ISSUER,
        NGX_HTTP_MALL_M_AUTH_BAD_AUDIENCE,
        NGX_HTTP_MALL_M_AUTH_MISSING_CLAIM
    };

    ngx_http_mall_metrics_auth(jwt_rc < sizeof(map) / sizeof(map[0])
                               ? map[jwt_rc] : NGX_HTTP_MALL_M_AUTH_OTHER);
}


void
ngx_http_mall_metrics_sign(ngx_uint_t event)
{
    if (ngx_http_mall_metrics_sh && event < NGX_HTTP_MALL_M_SIGN_N) {
        (void) ngx_atomic_fetch_add(&ngx_http_mall_metrics_sh->sign[event],
                                    1);
    }
}


/* The Redis follower connected (1) or failed / lost its connection (0). */

void
ngx_http_mall_metrics_redis(ngx_uint_t connected)
{
    ngx_http_mall_metrics_sh_t  *sh;

    sh = ngx_http_mall_metrics_sh;

    if (sh == NULL) {
        return;
    }

    sh->redis_connected = connected ? 1 : 0;

    if (!connected) {
        (void) ngx_atomic_fetch_add(&sh->redis_errors, 1);
        sh->redis_last_error = (ngx_atomic_uint_t) ngx_time();
    }
}


/*
 * One entry of stream key applied. Slots are found by name, so a reload
 * that reorders the streams keeps each one's count; a slot is claimed with
 * a compare-and-set and published once its name is written.
 */

void
ngx_http_mall_metrics_stream(ngx_str_t *key)
{
    ngx_uint_t                       i;
    ngx_http_mall_metrics_stream_t  *s;

    if (ngx_http_mall_metrics_sh == NULL
        || key->len > NGX_HTTP_MALL_METRICS_NAME_MAX)
    {
        return;
    }

    s = ngx_http_mall_metrics_sh->streams;

    for (i = 0; i < NGX_HTTP_MALL_METRICS_STREAMS; i++) {

        if (s[i].state == 0 && ngx_atomic_cmp_set(&s[i].state, 0, 1)) {
            ngx_memcpy(s[i].name, key->data, key->len);
            s[i].len = key->len;
            ngx_memory_barrier();
            s[i].state = 2;
        }

        if (s[i].state == 2 && s[i].len == key->len
            && ngx_memcmp(s[i].name, key->data, key->len) == 0)
        {
            (void) ngx_atomic_fetch_add(&s[i].applied, 1);
            return;
        }
    }
}


/* ------------------------------ exposition ------------------------------- */


ngx_int_t
ngx_http_mall_metrics_handler(ngx_http_request_t *r)
{
    size_t                        size;
    ngx_int_t                     rc;
    ngx_buf_t                    *b;
    ngx_chain_t                   out;
    ngx_array_t                   zones;
    ngx_http_mall_metrics_out_t   o;
    ngx_http_mall_main_conf_t    *mmcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_mall_module);

    if (ngx_array_init(&zones, r->pool, 8,
                       sizeof(ngx_http_mall_metrics_zone_t))
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_mall_metrics_zones(r, &zones) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* generous: ngx_slprintf() stops at the end rather than overflow */

    size = 32768
           + NGX_HTTP_MALL_METRICS_CODES * 64
           + NGX_HTTP_MALL_METRICS_STREAMS * 160
           + zones.nelts * 1024
           + (mmcf->limit.zones ? mmcf->limit.zones->nelts * 1536 : 0)
           + (mmcf->cache.zones ? mmcf->cache.zones->nelts * 2048 : 0);

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    o.pos = b->pos;
    o.last = b->end;

    ngx_http_mall_metrics_write(r, &o, &zones);

    b->last = o.pos;
    b->last_buf = 1;
    b->last_in_chain = 1;

    r->headers_out.status = NGX_HTTP_OK;
    ngx_str_set(&r->headers_out.content_type,
                "text/plain; version=0.0.4; charset=utf-8");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.content_length_n = b->last - b->pos;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/* The module's zones, each once, with their size and store figures. */

ngx_int_t
ngx_http_mall_metrics_zones(ngx_http_request_t *r, ngx_array_t *zones)
{
    ngx_uint_t                    i;
    ngx_http_mall_limit_zone_t   *lz;
    ngx_http_mall_cache_zone_t   *cz;
    ngx_http_mall_main_conf_t    *mmcf;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_mall_module);

    if (ngx_http_mall_metrics_add_zone(zones, mmcf->auth.zone, 1) != NGX_OK
        || ngx_http_mall_metrics_add_zone(zones, mmcf->sign.zone, 0)
           != NGX_OK
        || ngx_http_mall_metrics_add_zone(zones, mmcf->limit.sync.ring, 0)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    lz = mmcf->limit.zones ? mmcf->limit.zones->elts : NULL;

    for (i = 0; lz && i < mmcf->limit.zones->nelts; i++) {
        if (ngx_http_mall_metrics_add_zone(zones, lz[i].shm_zone, 1)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    cz = mmcf->cache.zones ? mmcf->cache.zones->elts : NULL;

    for (i = 0; cz && i < mmcf->cache.zones->nelts; i++) {
        if (ngx_http_mall_metrics_add_zone(zones, cz[i].zone, 1) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* 1 while the Redis follower is connected (mall_redis_connected) */

ngx_uint_t
ngx_http_mall_metrics_redis_up(void)
{
    return ngx_http_mall_metrics_sh
           && ngx_http_mall_metrics_sh->redis_connected;
}


/* store: the zone is a keyed store (ngx_http_mall_shm.h) */

static ngx_int_t
ngx_http_mall_metrics_add_zone(ngx_array_t *zones, ngx_shm_zone_t *zone,
    ngx_uint_t store)
{
    ngx_uint_t                     i, total;
    ngx_slab_pool_t               *shpool;
    ngx_http_mall_shm_t           *shm;
    ngx_http_mall_metrics_zone_t  *z;

    if (zone == NULL || zone->shm.addr == NULL) {
        return NGX_OK;
    }

    z = zones->elts;

    for (i = 0; i < zones->nelts; i++) {
        if (z[i].zone == zone) {
            return NGX_OK;
        }
    }

    z = ngx_array_push(zones);
    if (z == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(z, sizeof(ngx_http_mall_metrics_zone_t));

    z->name = zone->shm.name;
    z->zone = zone;
    z->size = zone->shm.size;
    z->store = store;

    shpool = (ngx_slab_pool_t *) zone->shm.addr;

    ngx_shmtx_lock(&shpool->mutex);

    total = (shpool->end - shpool->start) / ngx_pagesize;
    z->used = (uint64_t) (total - shpool->pfree) * ngx_pagesize;

    if (store) {
        shm = zone->data;
        z->c[0] = shm->sh->entries;
        z->c[1] = shm->sh->evictions;
        z->c[2] = shm->sh->expired;
        z->c[3] = shm->sh->failures;
    }

    ngx_shmtx_unlock(&shpool->mutex);

    return NGX_OK;
}


static void
ngx_http_mall_metrics_family(ngx_http_mall_metrics_out_t *o, char *name,
    char *type, char *help)
{
    o->pos = ngx_slprintf(o->pos, o->last, "# HELP %s %s\n# TYPE %s %s\n",
                          name, help, name, type);
}


#define ngx_http_mall_metrics_sample(o, fmt, ...)                             \
    (o)->pos = ngx_slprintf((o)->pos, (o)->last, fmt, __VA_ARGS__)


static void
ngx_http_mall_metrics_write(ngx_http_request_t *r,
    ngx_http_mall_metrics_out_t *o, ngx_array_t *zones)
{
    ngx_uint_t                   i;
    ngx_http_mall_metrics_sh_t  *sh;
    ngx_http_mall_main_conf_t   *mmcf;

    sh = ngx_http_mall_metrics_sh;

    if (sh) {
        ngx_http_mall_metrics_family(o, "mall_requests_total", "counter",
            "Requests the module checked, by decision and refusal status.");
        ngx_http_mall_metrics_sample(o,
            "mall_requests_total{decision=\"passed\"} %uA\n", sh->passed);

        for (i = 0; i < NGX_HTTP_MALL_METRICS_CODES; i++) {
            if (sh->rejected[i]) {
                ngx_http_mall_metrics_sample(o,
                    "mall_requests_total{decision=\"rejected\",code=\"%ui\"}"
                    " %uA\n", i + NGX_HTTP_MALL_METRICS_CODE_MIN,
                    sh->rejected[i]);
            }
        }

        ngx_http_mall_metrics_family(o, "mall_auth_verified_total",
            "counter", "Bearer tokens accepted, from the token cache or by "
            "a full signature check.");
        ngx_http_mall_metrics_sample(o,
            "mall_auth_verified_total{source=\"cache\"} %uA\n"
            "mall_auth_verified_total{source=\"full\"} %uA\n",
            sh->auth[NGX_HTTP_MALL_M_AUTH_CACHE],
            sh->auth[NGX_HTTP_MALL_M_AUTH_FULL]);

        ngx_http_mall_metrics_family(o, "mall_auth_rejected_total",
            "counter", "Bearer tokens refused, by reason.");

        for (i = NGX_HTTP_MALL_M_AUTH_MISSING;
             i <= NGX_HTTP_MALL_M_AUTH_OTHER;
             i++)
        {
            ngx_http_mall_metrics_sample(o,
                "mall_auth_rejected_total{reason=\"%s\"} %uA\n",
                ngx_http_mall_auth_reasons[i - NGX_HTTP_MALL_M_AUTH_MISSING],
                sh->auth[i]);
        }

        ngx_http_mall_metrics_family(o,
            "mall_auth_revocations_applied_total", "counter",
            "Revocations read from the mall:revoked stream and applied.");
        ngx_http_mall_metrics_sample(o,
            "mall_auth_revocations_applied_total %uA\n",
            sh->auth[NGX_HTTP_MALL_M_AUTH_REVOCATION]);

        ngx_http_mall_metrics_family(o, "mall_sign_accepted_total",
            "counter", "Request signatures accepted.");
        ngx_http_mall_metrics_sample(o, "mall_sign_accepted_total %uA\n",
            sh->sign[NGX_HTTP_MALL_M_SIGN_ACCEPTED]);

        ngx_http_mall_metrics_family(o, "mall_sign_rejected_total",
            "counter", "Request signatures refused, by reason (replay: "
            "nonce already used).");

        for (i = NGX_HTTP_MALL_M_SIGN_MISSING;
             i < NGX_HTTP_MALL_M_SIGN_N;
             i++)
        {
            ngx_http_mall_metrics_sample(o,
                "mall_sign_rejected_total{reason=\"%s\"} %uA\n",
                ngx_http_mall_sign_reasons[i - NGX_HTTP_MALL_M_SIGN_MISSING],
                sh->sign[i]);
        }
    }

    ngx_http_mall_metrics_write_limits(r, o);
    ngx_http_mall_metrics_write_cache(r, o);
    mmcf = ngx_http_get_module_main_conf(r, ngx_http_mall_module);

    ngx_http_mall_metrics_write_shm(o, zones, mmcf->sign.zone);
    ngx_http_mall_metrics_write_redis(o);
}


static void
ngx_http_mall_metrics_write_limits(ngx_http_request_t *r,
    ngx_http_mall_metrics_out_t *o)
{
    uint64_t                     now, *c;
    ngx_uint_t                   i, k, n;
    ngx_http_mall_limit_zone_t  *lz;
    ngx_http_mall_main_conf_t   *mmcf;
    ngx_http_mall_limit_stats_t *st;

    static char  *results[] = { "passed", "rejected", "dry_run", "exempt" };

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_mall_module);

    n = mmcf->limit.zones ? mmcf->limit.zones->nelts : 0;
    lz = n ? mmcf->limit.zones->elts : NULL;

    /* per zone: passed, rejected, dry_run, exempt, banned, bans, active */

    c = ngx_pcalloc(r->pool, (n + 1) * 7 * sizeof(uint64_t));
    if (c == NULL) {
        return;
    }

    now = ngx_http_mall_now_ms();

    for (i = 0; i < n; i++) {
        ngx_http_mall_shm_lock(lz[i].shm_zone);

        st = ngx_http_mall_limit_stats_locked(&lz[i]);

        if (st) {
            c[i * 7 + 0] = st->passed;
            c[i * 7 + 1] = st->rejected;
            c[i * 7 + 2] = st->dry_run;
            c[i * 7 + 3] = st->exempt;
            c[i * 7 + 4] = st->banned;
            c[i * 7 + 5] = st->bans;
        }

        c[i * 7 + 6] = ngx_http_mall_cc_bans_locked(&lz[i], now);

        ngx_http_mall_shm_unlock(lz[i].shm_zone);
    }

    ngx_http_mall_metrics_family(o, "mall_limit_requests_total", "counter",
        "Rate limit checks per zone, by result.");

    for (i = 0; i < n; i++) {
        for (k = 0; k < 4; k++) {
            ngx_http_mall_metrics_sample(o,
                "mall_limit_requests_total{zone=\"%V\",result=\"%s\"} %uL\n",
                &lz[i].name, results[k], c[i * 7 + k]);
        }
    }

    ngx_http_mall_metrics_family(o, "mall_cc_banned_requests_total",
        "counter", "Requests refused because the client IP is banned.");

    for (i = 0; i < n; i++) {
        ngx_http_mall_metrics_sample(o,
            "mall_cc_banned_requests_total{zone=\"%V\"} %uL\n",
            &lz[i].name, c[i * 7 + 4]);
    }

    ngx_http_mall_metrics_family(o, "mall_cc_bans_total", "counter",
        "CC guard bans issued.");

    for (i = 0; i < n; i++) {
        ngx_http_mall_metrics_sample(o,
            "mall_cc_bans_total{zone=\"%V\"} %uL\n",
            &lz[i].name, c[i * 7 + 5]);
    }

    ngx_http_mall_metrics_family(o, "mall_cc_active_bans", "gauge",
        "CC guard bans in force now.");

    for (i = 0; i < n; i++) {
        ngx_http_mall_metrics_sample(o,
            "mall_cc_active_bans{zone=\"%V\"} %uL\n",
            &lz[i].name, c[i * 7 + 6]);
    }

    ngx_http_mall_metrics_family(o, "mall_limit_sync_dropped_total",
        "counter", "sync=redis keys not queued because the ring was full.");
    ngx_http_mall_metrics_sample(o, "mall_limit_sync_dropped_total %uA\n",
        ngx_http_mall_limit_sync_dropped(&mmcf->limit.sync));
}


static void
ngx_http_mall_metrics_write_cache(ngx_http_request_t *r,
    ngx_http_mall_metrics_out_t *o)
{
    uint64_t                      *c;
    ngx_uint_t                     i, k, n, total;
    ngx_slab_pool_t               *shpool;
    ngx_http_mall_shm_t           *shm;
    ngx_http_mall_cache_zone_t    *cz;
    ngx_http_mall_cache_stats_t   *st;
    ngx_http_mall_main_conf_t     *mmcf;

    /* name, help; the first 9 from the zone's stats, then its store */
    static char  *names[][2] = {
        { "mall_cache_hits_total", "Fresh entries served." },
        { "mall_cache_misses_total", "Lookups passed to the workers." },
        { "mall_cache_stale_total", "Stale entries served." },
        { "mall_cache_updating_total",
          "Stale entries served while a refresh runs." },
        { "mall_cache_bypass_total", "Requests that bypassed the cache." },
        { "mall_cache_stores_total", "Entries written." },
        { "mall_cache_refreshes_total", "Background refreshes." },
        { "mall_cache_purges_total", "Purge requests and events." },
        { "mall_cache_purged_total", "Entries deleted by purges." },
        { "mall_cache_evictions_total", "Nodes evicted to make room (LRU)." },
        { "mall_cache_expired_total", "Nodes dropped as expired." },
        { "mall_cache_entries", "Nodes in the zone (entries, tags)." },
        { "mall_cache_bytes_used", "Bytes of the zone's used pages." },
        { "mall_cache_bytes_size", "Bytes of the zone's pages." }
    };

#define NGX_HTTP_MALL_METRICS_CACHE_N  14

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_mall_module);

    n = mmcf->cache.zones ? mmcf->cache.zones->nelts : 0;
    cz = n ? mmcf->cache.zones->elts : NULL;

    c = ngx_pcalloc(r->pool,
                    (n + 1) * NGX_HTTP_MALL_METRICS_CACHE_N * sizeof(uint64_t));
    if (c == NULL) {
        return;
    }

    for (i = 0; i < n; i++) {
        uint64_t  *v = c + i * NGX_HTTP_MALL_METRICS_CACHE_N;

        st = ngx_http_mall_cache_stats(&cz[i]);

        if (st) {
            v[0] = st->hits;
            v[1] = st->misses;
            v[2] = st->stale;
            v[3] = st->updating;
            v[4] = st->bypass;
            v[5] = st->stores;
            v[6] = st->refreshes;
            v[7] = st->purges;
            v[8] = st->purged;
        }

        shm = cz[i].zone->data;
        shpool = shm->shpool;

        ngx_shmtx_lock(&shpool->mutex);

        total = (shpool->end - shpool->start) / ngx_pagesize;

        v[9] = shm->sh->evictions;
        v[10] = shm->sh->expired;
        v[11] = shm->sh->entries;
        v[12] = (uint64_t) (total - shpool->pfree) * ngx_pagesize;
        v[13] = (uint64_t) total * ngx_pagesize;

        ngx_shmtx_unlock(&shpool->mutex);
    }

    for (k = 0; k < NGX_HTTP_MALL_METRICS_CACHE_N; k++) {
        ngx_http_mall_metrics_family(o, names[k][0],
                                     k < 11 ? "counter" : "gauge",
                                     names[k][1]);

        for (i = 0; i < n; i++) {
            ngx_http_mall_metrics_sample(o, "%s{zone=\"%V\"} %uL\n",
                names[k][0], &cz[i].name,
                c[i * NGX_HTTP_MALL_METRICS_CACHE_N + k]);
        }
    }

#undef NGX_HTTP_MALL_METRICS_CACHE_N
}


static void
ngx_http_mall_metrics_write_shm(ngx_http_mall_metrics_out_t *o,
    ngx_array_t *zones, ngx_shm_zone_t *sign)
{
    ngx_uint_t                     i, k;
    ngx_http_mall_nonce_t         *nz;
    ngx_http_mall_metrics_zone_t  *z;

    static char  *store[][3] = {
        { "mall_shm_entries", "gauge", "Live entries of a keyed store." },
        { "mall_shm_evictions_total", "counter",
          "Entries evicted to make room (LRU)." },
        { "mall_shm_expired_total", "counter", "Entries dropped as expired." },
        { "mall_shm_failures_total", "counter",
          "Inserts that found no room." }
    };

    z = zones->elts;

    ngx_http_mall_metrics_family(o, "mall_shm_size_bytes", "gauge",
        "Size of each shared memory zone of the module.");

    for (i = 0; i < zones->nelts; i++) {
        ngx_http_mall_metrics_sample(o,
            "mall_shm_size_bytes{zone=\"%V\"} %uL\n", &z[i].name, z[i].size);
    }

    ngx_http_mall_metrics_family(o, "mall_shm_used_bytes", "gauge",
        "Bytes of the used slab pages of each zone.");

    for (i = 0; i < zones->nelts; i++) {
        ngx_http_mall_metrics_sample(o,
            "mall_shm_used_bytes{zone=\"%V\"} %uL\n", &z[i].name, z[i].used);
    }

    for (k = 0; k < 4; k++) {
        ngx_http_mall_metrics_family(o, store[k][0], store[k][1],
                                     store[k][2]);

        for (i = 0; i < zones->nelts; i++) {
            if (z[i].store) {
                ngx_http_mall_metrics_sample(o, "%s{zone=\"%V\"} %uL\n",
                    store[k][0], &z[i].name, z[i].c[k]);
            }
        }
    }

    /* the replay cache: the mall_sign_zone, if any (not a keyed store) */

    nz = NULL;

    if (sign && sign->shm.addr) {
        nz = sign->data;

        if (nz->sh == NULL) {
            nz = NULL;
        }
    }

    ngx_http_mall_metrics_family(o, "mall_nonce_inserts_total", "counter",
        "Nonces of accepted signatures recorded.");

    if (nz) {
        ngx_http_mall_metrics_sample(o,
            "mall_nonce_inserts_total{zone=\"%V\"} %uA\n",
            &nz->name, nz->sh->inserts);
    }

    ngx_http_mall_metrics_family(o, "mall_nonce_replays_total", "counter",
        "Live nonces seen again (replays refused).");

    if (nz) {
        ngx_http_mall_metrics_sample(o,
            "mall_nonce_replays_total{zone=\"%V\"} %uA\n",
            &nz->name, nz->sh->replays);
    }

    ngx_http_mall_metrics_family(o, "mall_nonce_full_total", "counter",
        "Signed requests refused (503) because their buckets held live "
        "nonces only.");

    if (nz) {
        ngx_http_mall_metrics_sample(o,
            "mall_nonce_full_total{zone=\"%V\"} %uA\n",
            &nz->name, nz->sh->full);
    }

    ngx_http_mall_metrics_family(o, "mall_nonce_user_limited_total",
        "counter", "Signed requests refused (429) because the user held its "
        "per_user share of the zone.");

    if (nz) {
        ngx_http_mall_metrics_sample(o,
            "mall_nonce_user_limited_total{zone=\"%V\"} %uA\n",
            &nz->name, nz->sh->user_limited);
    }
}


static void
ngx_http_mall_metrics_write_redis(ngx_http_mall_metrics_out_t *o)
{
    ngx_uint_t                       i;
    ngx_http_mall_metrics_sh_t      *sh;
    ngx_http_mall_metrics_stream_t  *s;

    sh = ngx_http_mall_metrics_sh;

    if (sh == NULL) {
        return;
    }

    ngx_http_mall_metrics_family(o, "mall_redis_connected", "gauge",
        "1 while the Redis stream follower (worker 0) is connected.");
    ngx_http_mall_metrics_sample(o, "mall_redis_connected %uA\n",
        sh->redis_connected);

    ngx_http_mall_metrics_family(o, "mall_redis_errors_total", "counter",
        "Redis follower connection failures and losses.");
    ngx_http_mall_metrics_sample(o, "mall_redis_errors_total %uA\n",
        sh->redis_errors);

    ngx_http_mall_metrics_family(o,
        "mall_redis_last_error_timestamp_seconds", "gauge",
        "Unix time of the last Redis follower failure; 0: none.");
    ngx_http_mall_metrics_sample(o,
        "mall_redis_last_error_timestamp_seconds %uA\n",
        sh->redis_last_error);

    ngx_http_mall_metrics_family(o, "mall_redis_stream_entries_total",
        "counter", "Stream entries applied, per followed stream.");

    s = sh->streams;

    for (i = 0; i < NGX_HTTP_MALL_METRICS_STREAMS; i++) {
        if (s[i].state == 2) {
            ngx_http_mall_metrics_sample(o,
                "mall_redis_stream_entries_total{stream=\"%*s\"} %uA\n",
                s[i].len, s[i].name, s[i].applied);
        }
    }
}
