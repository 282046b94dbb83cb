
/*
 * CC-attack guard and the status endpoint.
 *
 * mall_cc_guard counts every request of a client IP (after real_ip) in one
 * GCRA bucket across all locations; a client that exceeds it is banned for
 * the ban time. A ban is a pinned entry of the limit zone, so LRU churn by
 * other keys never pushes it out before it expires; at most max_bans of them
 * are pinned (beyond that a ban is an ordinary, evictable entry), so the
 * zone cannot fill with bans. mall_status lists zones, counters and bans as
 * JSON, and lifts a ban on DELETE ?ip=.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_mall_module.h"


struct ngx_http_mall_cc_s {
    ngx_http_mall_limit_zone_t    *zone;
    mall_gcra_t                    gcra;
    ngx_msec_t                     ban;        /* ms */
    ngx_uint_t                     max_bans;   /* 0: zone size / 512 */
};


/* entries of the guard: "#ban" NUL ip -> until (ms); "#cc" NUL ip -> GCRA */
#define NGX_HTTP_MALL_BAN_PREFIX     "#ban"
#define NGX_HTTP_MALL_CC_PREFIX      "#cc"
#define NGX_HTTP_MALL_BAN_KEY_MAX    (8 + NGX_SOCKADDR_STRLEN)
#define NGX_HTTP_MALL_STATUS_BANS    1000      /* listed at most */


typedef struct {
    int64_t                        tat;
    uint64_t                       count;
} ngx_http_mall_cc_state_t;


typedef struct {
    ngx_str_t                      zone;
    ngx_str_t                      ip;
    uint64_t                       until;      /* unix ms */
} ngx_http_mall_ban_item_t;


typedef struct {
    ngx_array_t                   *bans;       /* ngx_http_mall_ban_item_t */
    ngx_str_t                      zone;
    ngx_pool_t                    *pool;
} ngx_http_mall_ban_walk_t;


static size_t ngx_http_mall_ban_key(u_char *buf, char *prefix, ngx_str_t *ip);
static ngx_int_t ngx_http_mall_status_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_mall_status_get(ngx_http_request_t *r);
static ngx_int_t ngx_http_mall_status_delete(ngx_http_request_t *r);
static ngx_uint_t ngx_http_mall_status_admin(ngx_http_request_t *r);
static ngx_int_t ngx_http_mall_ban_collect(ngx_http_mall_shm_node_t *sn,
    void *data);
static ngx_int_t ngx_http_mall_ban_count(ngx_http_mall_shm_node_t *sn,
    void *data);


/* ------------------------------ configuration ---------------------------- */


/* mall_cc_guard zone=NAME rate=Nr/s burst=N ban=TIME [max_bans=N] */

char *
ngx_http_mall_cc_guard(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mall_limit_loc_conf_t  *lcf = (void *) ((char *) conf
                                                     + cmd->offset);

    uint64_t             count, period;
    ngx_int_t            rc, burst, max;
    ngx_str_t           *value, zone, s;
    ngx_uint_t           i;
    ngx_msec_t           ban;
    ngx_http_mall_cc_t  *cc;

    if (lcf->cc) {
        return "is duplicate";
    }

    value = cf->args->elts;

    ngx_str_null(&zone);
    count = 0;
    period = 0;
    burst = 0;
    max = 0;
    ban = 0;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "zone=", 5) == 0) {
            zone.data = value[i].data + 5;
            zone.len = value[i].len - 5;
            continue;
        }

        rc = ngx_http_mall_limit_parse_rate(cf, &value[i], "mall_cc_guard",
                                            "", &count, &period, &burst);
        if (rc == NGX_ERROR) {
            return NGX_CONF_ERROR;
        }

        if (rc == NGX_OK) {
            continue;
        }

        if (ngx_strncmp(value[i].data, "ban=", 4) == 0) {
            s.data = value[i].data + 4;
            s.len = value[i].len - 4;

            ban = ngx_parse_time(&s, 0);

            if (ban == (ngx_msec_t) NGX_ERROR || ban < 1000
                || ban > 7 * 86400 * 1000)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "mall_cc_guard: invalid ban time \"%V\", "
                                   "expected 1s to 7d", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "max_bans=", 9) == 0) {
            max = ngx_atoi(value[i].data + 9, value[i].len - 9);

            if (max == NGX_ERROR || max == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "mall_cc_guard: invalid max_bans \"%V\"",
                                   &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "mall_cc_guard: invalid parameter \"%V\"",
                           &value[i]);
        return NGX_CONF_ERROR;
    }

    if (zone.len == 0 || count == 0 || ban == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "mall_cc_guard: \"zone=\", \"rate=\" and "
                           "\"ban=\" are required");
        return NGX_CONF_ERROR;
    }

    cc = ngx_pcalloc(cf->pool, sizeof(ngx_http_mall_cc_t));
    if (cc == NULL) {
        return NGX_CONF_ERROR;
    }

    if (mall_gcra_init(&cc->gcra, count, period, (uint64_t) burst) != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "mall_cc_guard: rate or burst out of range");
        return NGX_CONF_ERROR;
    }

    cc->zone = ngx_http_mall_limit_get_zone(cf, &zone);
    if (cc->zone == NULL) {
        return NGX_CONF_ERROR;
    }

    cc->ban = ban;
    cc->max_bans = (ngx_uint_t) max;

    lcf->cc = cc;

    return NGX_CONF_OK;
}


/* mall_status: this location answers with the limits' status (admin). */

char *
ngx_http_mall_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_mall_status_handler;

    return NGX_CONF_OK;
}


/* ------------------------------ request ---------------------------------- */


static size_t
ngx_http_mall_ban_key(u_char *buf, char *prefix, ngx_str_t *ip)
{
    u_char  *p;
    size_t   len;

    len = ngx_min(ip->len, NGX_SOCKADDR_STRLEN);

    p = ngx_cpymem(buf, prefix, ngx_strlen(prefix));
    *p++ = '\0';

    return ngx_cpymem(p, ip->data, len) - buf;
}


/*
 * PREACCESS, before the limits: refuses a banned client (Retry-After: the
 * rest of the ban), else counts the request in the client's guard bucket
 * and bans the client when it overflows. One zone lock; two lookups.
 * Returns NGX_DECLINED or NGX_DONE (refused, response sent).
 */

ngx_int_t
ngx_http_mall_cc_handler(ngx_http_request_t *r,
    ngx_http_mall_limit_loc_conf_t *lcf)
{
    u_char                        ban_key[NGX_HTTP_MALL_BAN_KEY_MAX];
    u_char                        cc_key[NGX_HTTP_MALL_BAN_KEY_MAX];
    size_t                        blen, clen, len;
    uint64_t                      now, until;
    ngx_int_t                     rc;
    ngx_str_t                    *ip;
    ngx_uint_t                    created, flags, max;
    mall_gcra_result_t            res;
    ngx_http_mall_cc_t           *cc;
    ngx_http_mall_shm_t          *shm;
    ngx_http_mall_shm_node_t     *sn;
    ngx_http_mall_limit_zone_t   *lz;
    ngx_http_mall_cc_state_t      st;
    ngx_http_mall_limit_stats_t  *stats;

    cc = lcf->cc;
    lz = cc->zone;
    ip = &r->connection->addr_text;

    if (ip->len == 0) {
        return NGX_DECLINED;
    }

    blen = ngx_http_mall_ban_key(ban_key, NGX_HTTP_MALL_BAN_PREFIX, ip);
    now = ngx_http_mall_now_ms();

    ngx_http_mall_shm_lock(lz->shm_zone);

    stats = ngx_http_mall_limit_stats_locked(lz);

    len = sizeof(uint64_t);
    rc = ngx_http_mall_shm_get_locked(lz->shm_zone, ban_key, blen, now,
                                      (u_char *) &until, &len);

    if (rc == NGX_OK && len == sizeof(uint64_t) && until > now) {
        ngx_http_mall_shm_unlock(lz->shm_zone);

        if (stats) {
            (void) ngx_atomic_fetch_add(&stats->banned, 1);
        }

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "mall_cc_guard: client is banned for %uL ms more",
                      until - now);

        return ngx_http_mall_limit_reject(r, lcf->status, until - now);
    }

    clen = ngx_http_mall_ban_key(cc_key, NGX_HTTP_MALL_CC_PREFIX, ip);

    sn = ngx_http_mall_shm_upsert_locked(lz->shm_zone, cc_key, clen,
                                         sizeof(ngx_http_mall_cc_state_t),
                                         now, 0, &created);
    if (sn == NULL) {
        ngx_http_mall_shm_unlock(lz->shm_zone);
        return NGX_DECLINED;         /* no room: logged; fail open */
    }

    ngx_memcpy(&st, ngx_http_mall_shm_value(sn), sizeof(st));

    if (!created && st.count != cc->gcra.count) {
        st.tat = mall_gcra_rescale(st.tat, st.count, cc->gcra.count);
    }

    mall_gcra_check(&cc->gcra, created ? 0 : st.tat, now, &res);

    if (res.allowed) {
        st.tat = res.tat;
        st.count = cc->gcra.count;
        ngx_memcpy(ngx_http_mall_shm_value(sn), &st, sizeof(st));
        sn->expire = res.expire_ms;

        ngx_http_mall_shm_unlock(lz->shm_zone);

        return NGX_DECLINED;
    }

    /* overflow: ban; the bucket starts afresh once the ban ends */

    sn->expire = now;
    until = now + cc->ban;

    shm = lz->shm_zone->data;
    max = cc->max_bans ? cc->max_bans : lz->shm_zone->shm.size / 512;
    flags = (shm->sh->pinned < max) ? NGX_HTTP_MALL_SHM_PINNED : 0;

    rc = ngx_http_mall_shm_set_locked(lz->shm_zone, ban_key, blen,
                                      (u_char *) &until, sizeof(uint64_t),
                                      until, now, flags);

    ngx_http_mall_shm_unlock(lz->shm_zone);

    if (stats) {
        (void) ngx_atomic_fetch_add(&stats->bans, 1);
        (void) ngx_atomic_fetch_add(&stats->banned, 1);
    }

    ngx_log_error(lcf->log_level, r->connection->log, 0,
                  "mall_cc_guard: banning client \"%V\" for %M ms in zone "
                  "\"%V\"%s", ip, cc->ban, &lz->name,
                  flags ? "" : ", ban table full: ban is evictable");

    if (rc != NGX_OK) {
        return NGX_DECLINED;
    }

    return ngx_http_mall_limit_reject(r, lcf->status, cc->ban);
}


void
ngx_http_mall_cc_count_exempt(ngx_http_mall_cc_t *cc)
{
    ngx_http_mall_limit_zone_t  *lz;

    lz = cc->zone;

    if (lz->stats == NULL) {
        ngx_http_mall_shm_lock(lz->shm_zone);
        (void) ngx_http_mall_limit_stats_locked(lz);
        ngx_http_mall_shm_unlock(lz->shm_zone);
    }

    if (lz->stats) {
        (void) ngx_atomic_fetch_add(&lz->stats->exempt, 1);
    }
}


/* Live bans of a zone, for mall_metrics; the zone must be locked. */

ngx_uint_t
ngx_http_mall_cc_bans_locked(ngx_http_mall_limit_zone_t *lz, uint64_t now)
{
    ngx_uint_t  n;

    n = 0;

    ngx_http_mall_shm_walk_locked(lz->shm_zone, now, ngx_http_mall_ban_count,
                                  &n);

    return n;
}


static ngx_int_t
ngx_http_mall_ban_count(ngx_http_mall_shm_node_t *sn, void *data)
{
    ngx_uint_t *n = data;

    if (sn->key_len > sizeof(NGX_HTTP_MALL_BAN_PREFIX)
        && ngx_memcmp(sn->data, NGX_HTTP_MALL_BAN_PREFIX,
                      sizeof(NGX_HTTP_MALL_BAN_PREFIX)) == 0
        && sn->value_len == sizeof(uint64_t))
    {
        (*n)++;
    }

    return NGX_OK;
}


/* ------------------------------ status ----------------------------------- */


static ngx_int_t
ngx_http_mall_status_handler(ngx_http_request_t *r)
{
    ngx_str_t  code, message;

    if (r->method == NGX_HTTP_GET || r->method == NGX_HTTP_HEAD) {
        return ngx_http_mall_status_get(r);
    }

    if (r->method == NGX_HTTP_DELETE) {
        return ngx_http_mall_status_delete(r);
    }

    ngx_str_set(&code, "METHOD_NOT_ALLOWED");
    ngx_str_set(&message, "use GET, or DELETE ?ip= to lift a ban");

    return ngx_http_mall_send_error(r, NGX_HTTP_NOT_ALLOWED, &code, &message,
                                    0);
}


/*
 * Copies a live ban out of the zone (under its lock) into the pool; stops
 * at NGX_HTTP_MALL_STATUS_BANS.
 */

/*
 * A state change on the admin port: a token verified in the access phase
 * (mall_auth) and a role required of it (mall_auth_role, checked there).
 * Without both configured, nobody may lift a ban: the loopback bind alone
 * lets any local process in.
 */

static ngx_uint_t
ngx_http_mall_status_admin(ngx_http_request_t *r)
{
    ngx_http_mall_ctx_t       *ctx;
    ngx_http_mall_loc_conf_t  *mlcf;

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_mall_module);
    ctx = ngx_http_mall_get_ctx(r);

    return mlcf->auth.role.len
           && ctx != NULL
           && ctx->auth_state == NGX_HTTP_MALL_AUTH_VERIFIED;
}


static ngx_int_t
ngx_http_mall_ban_collect(ngx_http_mall_shm_node_t *sn, void *data)
{
    ngx_http_mall_ban_walk_t *w = data;

    ngx_http_mall_ban_item_t  *b;

    if (sn->key_len <= sizeof(NGX_HTTP_MALL_BAN_PREFIX)
        || ngx_memcmp(sn->data, NGX_HTTP_MALL_BAN_PREFIX,
                      sizeof(NGX_HTTP_MALL_BAN_PREFIX)) != 0
        || sn->value_len != sizeof(uint64_t))
    {
        return NGX_OK;
    }

    if (w->bans->nelts >= NGX_HTTP_MALL_STATUS_BANS) {
        return NGX_DONE;
    }

    b = ngx_array_push(w->bans);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->zone = w->zone;
    b->ip.len = sn->key_len - sizeof(NGX_HTTP_MALL_BAN_PREFIX);
    b->ip.data = ngx_pnalloc(w->pool, b->ip.len);
    if (b->ip.data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(b->ip.data, sn->data + sizeof(NGX_HTTP_MALL_BAN_PREFIX),
               b->ip.len);
    ngx_memcpy(&b->until, ngx_http_mall_shm_value(sn), sizeof(uint64_t));

    return NGX_OK;
}


/*
 * GET: {"zones":[{"name","size","entries","evictions","expired","failures",
 * "counters":{...}}],"counters":{totals},"bans":[{"zone","ip",
 * "seconds_left"}]}. Each zone's lock is held only to copy figures out.
 */

static ngx_int_t
ngx_http_mall_status_get(ngx_http_request_t *r)
{
    u_char                       *body, *p;
    size_t                        len;
    uint64_t                      now, *c, total[6];
    ngx_uint_t                    i, k, nzones;
    ngx_array_t                  *bans;
    ngx_http_mall_shm_t          *shm;
    ngx_http_mall_ban_walk_t      w;
    ngx_http_mall_ban_item_t     *b;
    ngx_http_mall_limit_zone_t   *lz;
    ngx_http_mall_main_conf_t    *mmcf;
    ngx_http_mall_limit_stats_t  *st;

    static char  *names[] = { "passed", "rejected", "dry_run", "exempt",
                              "banned", "bans" };

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_mall_module);

    nzones = mmcf->limit.zones ? mmcf->limit.zones->nelts : 0;
    lz = nzones ? mmcf->limit.zones->elts : NULL;

    bans = ngx_array_create(r->pool, 8, sizeof(ngx_http_mall_ban_item_t));
    if (bans == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* per zone: entries, evictions, expired, failures, then 6 counters */

    c = ngx_pcalloc(r->pool, (nzones + 1) * 10 * sizeof(uint64_t));
    if (c == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    now = ngx_http_mall_now_ms();

    for (i = 0; i < nzones; i++) {
        shm = lz[i].shm_zone->data;

        ngx_http_mall_shm_lock(lz[i].shm_zone);

        st = ngx_http_mall_limit_stats_locked(&lz[i]);

        c[i * 10 + 0] = shm->sh->entries;
        c[i * 10 + 1] = shm->sh->evictions;
        c[i * 10 + 2] = shm->sh->expired;
        c[i * 10 + 3] = shm->sh->failures;

        if (st) {
            c[i * 10 + 4] = st->passed;
            c[i * 10 + 5] = st->rejected;
            c[i * 10 + 6] = st->dry_run;
            c[i * 10 + 7] = st->exempt;
            c[i * 10 + 8] = st->banned;
            c[i * 10 + 9] = st->bans;
        }

        w.bans = bans;
        w.zone = lz[i].name;
        w.pool = r->pool;

        ngx_http_mall_shm_walk_locked(lz[i].shm_zone, now,
                                      ngx_http_mall_ban_collect, &w);

        ngx_http_mall_shm_unlock(lz[i].shm_zone);
    }

    len = sizeof("{\"zones\":[],\"counters\":{},\"bans\":[]}\n")
          + 6 * (sizeof("\"dry_run\":,") + NGX_INT64_LEN);

    for (i = 0; i < nzones; i++) {
        len += lz[i].name.len
               + sizeof("{\"name\":\"\",\"size\":,\"entries\":,"
                        "\"evictions\":,\"expired\":,\"failures\":,"
                        "\"counters\":{}},")
               + 5 * NGX_INT64_LEN
               + 6 * (sizeof("\"dry_run\":,") + NGX_INT64_LEN);
    }

    b = bans->elts;

    for (i = 0; i < bans->nelts; i++) {
        len += sizeof("{\"zone\":\"\",\"ip\":\"\",\"seconds_left\":},")
               + b[i].zone.len + b[i].ip.len + NGX_INT64_LEN;
    }

    body = ngx_pnalloc(r->pool, len);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memzero(total, sizeof(total));

    p = ngx_cpymem(body, "{\"zones\":[", sizeof("{\"zones\":[") - 1);

    for (i = 0; i < nzones; i++) {
        p = ngx_sprintf(p, "%s{\"name\":\"%V\",\"size\":%uz,\"entries\":%uL,"
                        "\"evictions\":%uL,\"expired\":%uL,\"failures\":%uL,"
                        "\"counters\":{",
                        i ? "," : "", &lz[i].name, lz[i].shm_zone->shm.size,
                        c[i * 10], c[i * 10 + 1], c[i * 10 + 2],
                        c[i * 10 + 3]);

        for (k = 0; k < 6; k++) {
            total[k] += c[i * 10 + 4 + k];
            p = ngx_sprintf(p, "%s\"%s\":%uL", k ? "," : "", names[k],
                            c[i * 10 + 4 + k]);
        }

        *p++ = '}';
        *p++ = '}';
    }

    p = ngx_cpymem(p, "],\"counters\":{", sizeof("],\"counters\":{") - 1);

    for (k = 0; k < 6; k++) {
        p = ngx_sprintf(p, "%s\"%s\":%uL", k ? "," : "", names[k], total[k]);
    }

    p = ngx_cpymem(p, "},\"bans\":[", sizeof("},\"bans\":[") - 1);

    /* zone names are conf tokens and addresses are digits, dots, colons */

    for (i = 0; i < bans->nelts; i++) {
        p = ngx_sprintf(p, "%s{\"zone\":\"%V\",\"ip\":\"%V\","
                        "\"seconds_left\":%uL}",
                        i ? "," : "", &b[i].zone, &b[i].ip,
                        b[i].until > now ? (b[i].until - now + 999) / 1000
                                         : (uint64_t) 0);
    }

    p = ngx_cpymem(p, "]}\n", 3);

    return ngx_http_mall_send_json(r, NGX_HTTP_OK, body, p - body);
}


/* DELETE ?ip=ADDR: lifts the ban (and resets the guard bucket) of ADDR. */

static ngx_int_t
ngx_http_mall_status_delete(ngx_http_request_t *r)
{
    u_char                       key[NGX_HTTP_MALL_BAN_KEY_MAX];
    u_char                      *body, *p;
    size_t                       len;
    ngx_str_t                    ip, code, message;
    ngx_uint_t                   i, lifted;
    ngx_http_mall_limit_zone_t  *lz;
    ngx_http_mall_main_conf_t   *mmcf;

    if (!ngx_http_mall_status_admin(r)) {
        ngx_str_set(&code, "UNAUTHORIZED");
        ngx_str_set(&message, "lifting a ban needs an admin token of the "
                              "role named by mall_auth_role");
        return ngx_http_mall_send_error(r, NGX_HTTP_UNAUTHORIZED, &code,
                                        &message, 0);
    }

    if (ngx_http_arg(r, (u_char *) "ip", 2, &ip) != NGX_OK
        || ip.len == 0 || ip.len > NGX_SOCKADDR_STRLEN
        || ngx_strlchr(ip.data, ip.data + ip.len, '%'))
    {
        ngx_str_set(&code, "VALIDATION_FAILED");
        ngx_str_set(&message, "expected ?ip=ADDRESS");
        return ngx_http_mall_send_error(r, NGX_HTTP_BAD_REQUEST, &code,
                                        &message, 0);
    }

    for (i = 0; i < ip.len; i++) {
        if (!(ngx_http_mall_isalnum(ip.data[i]) || ip.data[i] == '.'
              || ip.data[i] == ':'))
        {
            ngx_str_set(&code, "VALIDATION_FAILED");
            ngx_str_set(&message, "invalid address");
            return ngx_http_mall_send_error(r, NGX_HTTP_BAD_REQUEST, &code,
                                            &message, 0);
        }
    }

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_mall_module);

    lifted = 0;
    lz = mmcf->limit.zones ? mmcf->limit.zones->elts : NULL;

    for (i = 0; lz && i < mmcf->limit.zones->nelts; i++) {
        ngx_http_mall_shm_lock(lz[i].shm_zone);

        len = ngx_http_mall_ban_key(key, NGX_HTTP_MALL_BAN_PREFIX, &ip);

        if (ngx_http_mall_shm_delete_locked(lz[i].shm_zone, key, len)
            == NGX_OK)
        {
            lifted++;
        }

        len = ngx_http_mall_ban_key(key, NGX_HTTP_MALL_CC_PREFIX, &ip);
        (void) ngx_http_mall_shm_delete_locked(lz[i].shm_zone, key, len);

        ngx_http_mall_shm_unlock(lz[i].shm_zone);
    }

    if (lifted == 0) {
        ngx_str_set(&code, "NOT_FOUND");
        ngx_str_set(&message, "no ban for this address");
        return ngx_http_mall_send_error(r, NGX_HTTP_NOT_FOUND, &code,
                                        &message, 0);
    }

    ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                  "mall_cc_guard: ban of \"%V\" lifted", &ip);

    len = sizeof("{\"ip\":\"\",\"lifted\":true}\n") + ip.len;

    body = ngx_pnalloc(r->pool, len);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(body, "{\"ip\":\"%V\",\"lifted\":true}\n", &ip);

    return ngx_http_mall_send_json(r, NGX_HTTP_OK, body, p - body);
}
