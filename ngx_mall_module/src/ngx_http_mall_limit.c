
/*
 * Rate limits: directives, the per-request check and the RateLimit header
 * fields. See ngx_http_mall_limit.h.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <ngx_md5.h>

#include "ngx_http_mall_module.h"


/* keys longer than this are replaced by their MD5 (bounded entries) */
#define NGX_HTTP_MALL_LIMIT_KEY_MAX  256


static ngx_int_t ngx_http_mall_limit_check(ngx_http_request_t *r,
    ngx_http_mall_limit_ctx_t *lctx, ngx_http_mall_limit_loc_conf_t *lcf,
    ngx_http_mall_limit_t *limit, ngx_str_t *key, uint64_t now,
    uint64_t *retry_ms);
static void ngx_http_mall_limit_refund(ngx_http_mall_limit_t *limit,
    u_char *key, size_t len, uint64_t now);
static size_t ngx_http_mall_limit_key(ngx_http_mall_limit_t *limit,
    ngx_str_t *value, u_char *buf);
static ngx_int_t ngx_http_mall_limit_key_value(ngx_http_request_t *r,
    ngx_http_mall_limit_t *limit, ngx_str_t *key);
static u_char *ngx_http_mall_limit_uint(u_char *p, uint64_t n);


static ngx_str_t  ngx_http_mall_limit_status_names[] = {
    ngx_null_string,
    ngx_string("PASSED"),
    ngx_string("DRY_RUN"),
    ngx_string("EXEMPT"),
    ngx_string("REJECTED")
};


ngx_conf_num_bounds_t  ngx_http_mall_limit_status_bounds = {
    ngx_conf_check_num_bounds, 400, 599
};


ngx_conf_enum_t  ngx_http_mall_limit_log_levels[] = {
    { ngx_string("info"), NGX_LOG_INFO },
    { ngx_string("notice"), NGX_LOG_NOTICE },
    { ngx_string("warn"), NGX_LOG_WARN },
    { ngx_string("error"), NGX_LOG_ERR },
    { ngx_null_string, 0 }
};


static ngx_uint_t  ngx_http_mall_limit_zone_tag;


/* ------------------------------ configuration ---------------------------- */


/*
 * Finds the zone called name, or adds a reference to it (mall_limit may
 * come before its mall_limit_zone, as limit_req allows). Returns NULL on
 * allocation failure or a name clash with another kind of zone.
 */

ngx_http_mall_limit_zone_t *
ngx_http_mall_limit_get_zone(ngx_conf_t *cf, ngx_str_t *name)
{
    ngx_uint_t                        i;
    ngx_http_mall_limit_zone_t       *lz;
    ngx_http_mall_main_conf_t        *mmcf;
    ngx_http_mall_limit_main_conf_t  *lmcf;

    mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_mall_module);
    lmcf = &mmcf->limit;

    if (lmcf->zones == NULL) {
        lmcf->zones = ngx_array_create(cf->pool, 4,
                                       sizeof(ngx_http_mall_limit_zone_t));
        if (lmcf->zones == NULL) {
            return NULL;
        }
    }

    lz = lmcf->zones->elts;

    for (i = 0; i < lmcf->zones->nelts; i++) {
        if (lz[i].name.len == name->len
            && ngx_strncmp(lz[i].name.data, name->data, name->len) == 0)
        {
            return &lz[i];
        }
    }

    lz = ngx_array_push(lmcf->zones);
    if (lz == NULL) {
        return NULL;
    }

    ngx_memzero(lz, sizeof(ngx_http_mall_limit_zone_t));

    lz->name = *name;
    lz->file = cf->conf_file->file.name.data;
    lz->line = cf->conf_file->line;

    lz->shm_zone = ngx_shared_memory_add(cf, name, 0,
                                         &ngx_http_mall_limit_zone_tag);
    if (lz->shm_zone == NULL) {
        return NULL;
    }

    return lz;
}


/* mall_limit_zone name=NAME:SIZE */

char *
ngx_http_mall_limit_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_str_t                   *value, s, name;
    ngx_shm_zone_t              *shm_zone;
    ngx_http_mall_limit_zone_t  *lz;

    value = cf->args->elts;

    if (ngx_strncmp(value[1].data, "name=", 5) != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "mall_limit_zone: expected \"name=NAME:SIZE\", "
                           "got \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    s.data = value[1].data + 5;
    s.len = value[1].len - 5;

    name.data = s.data;
    name.len = 0;

    while (name.len < s.len && s.data[name.len] != ':') {
        name.len++;
    }

    lz = ngx_http_mall_limit_get_zone(cf, &name);
    if (lz == NULL) {
        return NGX_CONF_ERROR;
    }

    shm_zone = ngx_http_mall_shm_zone_add(cf, &s,
                                          &ngx_http_mall_limit_zone_tag);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    lz->shm_zone = shm_zone;

    return NGX_CONF_OK;
}


/*
 * One "rate=" or "burst=" parameter of mall_limit or mall_cc_guard, with
 * the directive's own error messages (rate_hint follows the bad rate).
 * Returns NGX_OK (parsed), NGX_DECLINED (another parameter) or NGX_ERROR
 * (invalid, logged).
 */

ngx_int_t
ngx_http_mall_limit_parse_rate(ngx_conf_t *cf, ngx_str_t *value,
    char *directive, char *rate_hint, uint64_t *count, uint64_t *period,
    ngx_int_t *burst)
{
    if (ngx_strncmp(value->data, "rate=", 5) == 0) {
        if (mall_gcra_parse_rate((char *) value->data + 5, value->len - 5,
                                 count, period)
            != 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "%s: invalid rate \"%V\"%s",
                               directive, value, rate_hint);
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    if (ngx_strncmp(value->data, "burst=", 6) == 0) {
        *burst = ngx_atoi(value->data + 6, value->len - 6);

        if (*burst == NGX_ERROR || *burst > MALL_GCRA_MAX_BURST) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "%s: invalid burst \"%V\"", directive, value);
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    return NGX_DECLINED;
}


/*
 * mall_limit zone=NAME key=VALUE rate=Nr/s|m|h burst=N [name=NAME]
 *            [phase=preaccess|access] [dry_run]
 */

char *
ngx_http_mall_limit(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mall_limit_loc_conf_t  *lcf = (void *) ((char *) conf
                                                     + cmd->offset);

    u_char                            *p;
    uint64_t                           count, period;
    ngx_int_t                          rc, burst, phase;
    ngx_str_t                         *value, s, zone, key;
    ngx_uint_t                         i;
    ngx_http_mall_limit_t             *limit;
    ngx_http_compile_complex_value_t   ccv;

    value = cf->args->elts;

    ngx_str_null(&zone);
    ngx_str_null(&key);
    count = 0;
    period = 0;
    burst = 0;
    phase = -1;

    if (lcf->limits == NULL) {
        lcf->limits = ngx_array_create(cf->pool, 2,
                                       sizeof(ngx_http_mall_limit_t));
        if (lcf->limits == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    limit = ngx_array_push(lcf->limits);
    if (limit == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(limit, sizeof(ngx_http_mall_limit_t));

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "zone=", 5) == 0) {
            zone.data = value[i].data + 5;
            zone.len = value[i].len - 5;
            continue;
        }

        if (ngx_strncmp(value[i].data, "key=", 4) == 0) {
            key.data = value[i].data + 4;
            key.len = value[i].len - 4;
            continue;
        }

        rc = ngx_http_mall_limit_parse_rate(cf, &value[i], "mall_limit",
                                            ", expected e.g. 20r/s, 300r/m, "
                                            "1000r/h",
                                            &count, &period, &burst);
        if (rc == NGX_ERROR) {
            return NGX_CONF_ERROR;
        }

        if (rc == NGX_OK) {
            continue;
        }

        if (ngx_strncmp(value[i].data, "name=", 5) == 0) {
            limit->name.data = value[i].data + 5;
            limit->name.len = value[i].len - 5;
            continue;
        }

        if (ngx_strcmp(value[i].data, "phase=access") == 0) {
            phase = NGX_HTTP_MALL_LIMIT_ACCESS;
            continue;
        }

        if (ngx_strcmp(value[i].data, "phase=preaccess") == 0) {
            phase = NGX_HTTP_MALL_LIMIT_PREACCESS;
            continue;
        }

        if (ngx_strcmp(value[i].data, "dry_run") == 0) {
            limit->dry_run = 1;
            continue;
        }

        if (ngx_strcmp(value[i].data, "sync=redis") == 0) {
            limit->sync = 1;
            continue;
        }

        if (ngx_strcmp(value[i].data, "sync=local") == 0) {
            limit->sync = 0;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "mall_limit: invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    if (zone.len == 0 || key.len == 0 || count == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "mall_limit: \"zone=\", \"key=\" and \"rate=\" "
                           "are required");
        return NGX_CONF_ERROR;
    }

    if (limit->name.len == 0) {
        limit->name = zone;
    }

    for (i = 0; i < limit->name.len; i++) {
        p = &limit->name.data[i];

        if (!(ngx_http_mall_isalnum(*p) || *p == '_' || *p == '-' || *p == '.')
            || limit->name.len > 64)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "mall_limit: name \"%V\" must be 1 to 64 of "
                               "[A-Za-z0-9_.-]", &limit->name);
            return NGX_CONF_ERROR;
        }
    }

    if (mall_gcra_init(&limit->gcra, count, period, (uint64_t) burst) != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "mall_limit: rate or burst out of range");
        return NGX_CONF_ERROR;
    }

    limit->zone = ngx_http_mall_limit_get_zone(cf, &zone);
    if (limit->zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (limit->sync
        && ngx_http_mall_limit_sync_register(cf, limit, &zone) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = &key;
    ccv.complex_value = &limit->key;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    /* a key that is one plain variable is read directly per request */

    limit->key_index = NGX_ERROR;

    if (key.len > 1 && key.data[0] == '$'
        && !(key.data[1] >= '0' && key.data[1] <= '9'))   /* not $1 */
    {
        for (i = 1; i < key.len; i++) {
            if (!(ngx_http_mall_isalnum(key.data[i]) || key.data[i] == '_')) {
                break;
            }
        }

        if (i == key.len) {
            s.data = key.data + 1;
            s.len = key.len - 1;

            limit->key_index = ngx_http_get_variable_index(cf, &s);
            if (limit->key_index == NGX_ERROR) {
                return NGX_CONF_ERROR;
            }
        }
    }

    /* auth variables are known only after ACCESS has checked the token */

    if (phase == -1) {
        s.data = (u_char *) "$mall_";
        s.len = sizeof("$mall_") - 1;

        phase = (ngx_strlcasestrn(key.data, key.data + key.len, s.data,
                                  s.len - 1)
                 || ngx_strlcasestrn(key.data, key.data + key.len,
                                     (u_char *) "${mall_",
                                     sizeof("${mall_") - 2))
                ? NGX_HTTP_MALL_LIMIT_ACCESS : NGX_HTTP_MALL_LIMIT_PREACCESS;
    }

    limit->phase = phase;
    lcf->nphase[phase]++;

    /* RFC 9651 string item: the name is plain, no escaping needed */

    limit->policy.data = ngx_pnalloc(cf->pool, limit->name.len
                                     + sizeof("\"\";q=;w=") - 1
                                     + 2 * NGX_INT64_LEN);
    if (limit->policy.data == NULL) {
        return NGX_CONF_ERROR;
    }

    limit->policy.len = ngx_sprintf(limit->policy.data, "\"%V\";q=%uL;w=%uL",
                                    &limit->name, count, period / 1000)
                        - limit->policy.data;

    /* the constant head of its RateLimit member */

    limit->item.len = limit->name.len + sizeof("\"\";r=") - 1;
    limit->item.data = ngx_pnalloc(cf->pool, limit->item.len);
    if (limit->item.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_sprintf(limit->item.data, "\"%V\";r=", &limit->name);

    return NGX_CONF_OK;
}


/* mall_limit_exempt CIDR (repeatable) */

char *
ngx_http_mall_limit_exempt(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mall_limit_loc_conf_t  *lcf = (void *) ((char *) conf
                                                     + cmd->offset);

    ngx_int_t    rc;
    ngx_str_t   *value;
    ngx_cidr_t  *cidr;

    value = cf->args->elts;

    if (lcf->exempt == NULL) {
        lcf->exempt = ngx_array_create(cf->pool, 2, sizeof(ngx_cidr_t));
        if (lcf->exempt == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    cidr = ngx_array_push(lcf->exempt);
    if (cidr == NULL) {
        return NGX_CONF_ERROR;
    }

    rc = ngx_ptocidr(&value[1], cidr);

    if (rc == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "mall_limit_exempt: invalid CIDR \"%V\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    if (rc == NGX_DONE) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "mall_limit_exempt: low address bits of \"%V\" "
                           "are meaningless", &value[1]);
    }

    return NGX_CONF_OK;
}


void
ngx_http_mall_limit_create_loc_conf(ngx_http_mall_limit_loc_conf_t *conf)
{
    /*
     * set by ngx_pcalloc():
     *
     *     conf->limits = NULL;
     *     conf->exempt = NULL;
     *     conf->cc = NULL;
     *     conf->nphase = { 0, 0 };
     */

    conf->dry_run = NGX_CONF_UNSET;
    conf->headers = NGX_CONF_UNSET;
    conf->status = NGX_CONF_UNSET;
    conf->log_level = NGX_CONF_UNSET_UINT;
}


char *
ngx_http_mall_limit_merge_loc_conf(ngx_conf_t *cf,
    ngx_http_mall_limit_loc_conf_t *prev, ngx_http_mall_limit_loc_conf_t *conf)
{
    /* like limit_req: a level that defines limits does not inherit any */

    if (conf->limits == NULL) {
        conf->limits = prev->limits;
        conf->nphase[0] = prev->nphase[0];
        conf->nphase[1] = prev->nphase[1];
    }

    if (conf->exempt == NULL) {
        conf->exempt = prev->exempt;
    }

    if (conf->cc == NULL) {
        conf->cc = prev->cc;
    }

    ngx_conf_merge_value(conf->dry_run, prev->dry_run, 0);
    ngx_conf_merge_value(conf->headers, prev->headers, 1);
    ngx_conf_merge_value(conf->status, prev->status,
                         NGX_HTTP_TOO_MANY_REQUESTS);
    ngx_conf_merge_uint_value(conf->log_level, prev->log_level, NGX_LOG_ERR);

    return NGX_CONF_OK;
}


/* Every zone a limit or guard names must be declared by mall_limit_zone. */

char *
ngx_http_mall_limit_init_main_conf(ngx_conf_t *cf,
    ngx_http_mall_limit_main_conf_t *lmcf)
{
    ngx_uint_t                   i;
    ngx_http_mall_limit_zone_t  *lz;

    if (lmcf->zones == NULL) {
        return NGX_CONF_OK;
    }

    lz = lmcf->zones->elts;

    for (i = 0; i < lmcf->zones->nelts; i++) {
        if (lz[i].shm_zone->data == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "mall_limit: unknown zone \"%V\" (no "
                          "mall_limit_zone) in %s:%ui",
                          &lz[i].name, lz[i].file, lz[i].line);
            return NGX_CONF_ERROR;
        }
    }

    return ngx_http_mall_limit_sync_init_main_conf(cf, lmcf);
}


/* ------------------------------ shm ------------------------------------- */


/*
 * The zone's counters: a pinned store entry created on first use. Its key
 * is padded so the value starts 8-byte aligned (atomics). The zone must be
 * locked. Pinned and without expiry, the node never moves in memory, so the
 * pointer is cached per process.
 */

ngx_http_mall_limit_stats_t *
ngx_http_mall_limit_stats_locked(ngx_http_mall_limit_zone_t *lz)
{
    u_char                     key[16];
    size_t                     klen;
    ngx_uint_t                 created;
    ngx_http_mall_shm_node_t  *sn;

    if (lz->stats) {
        return lz->stats;
    }

    klen = sizeof("#stats") - 1;
    ngx_memcpy(key, "#stats", klen);

    while ((offsetof(ngx_http_mall_shm_node_t, data) + klen) % 8) {
        key[klen++] = '.';
    }

    sn = ngx_http_mall_shm_upsert_locked(lz->shm_zone, key, klen,
                                         sizeof(ngx_http_mall_limit_stats_t),
                                         ngx_http_mall_now_ms(),
                                         NGX_HTTP_MALL_SHM_PINNED, &created);
    if (sn == NULL) {
        return NULL;
    }

    sn->expire = 0;
    lz->stats = (ngx_http_mall_limit_stats_t *) ngx_http_mall_shm_value(sn);

    return lz->stats;
}


#define ngx_http_mall_limit_count(lz, field)                                  \
    if ((lz)->stats) {                                                        \
        (void) ngx_atomic_fetch_add(&(lz)->stats->field, 1);                  \
    }


/* ------------------------------ request ---------------------------------- */


/*
 * Runs the limits of one phase (PREACCESS first runs the exemption check
 * and the CC guard). Returns NGX_DECLINED to go on, or NGX_DONE after
 * sending the 429 (the caller returns it).
 */

ngx_int_t
ngx_http_mall_limit_handler(ngx_http_request_t *r, ngx_http_mall_ctx_t *ctx,
    ngx_uint_t phase)
{
    uint64_t                         now, retry_ms, retry;
    ngx_int_t                        rc;
    ngx_str_t                        key;
    ngx_uint_t                       i, j, rejected;
    ngx_http_mall_limit_t           *limit;
    ngx_http_mall_loc_conf_t        *mlcf;
    ngx_http_mall_limit_ctx_t       *lctx;
    ngx_http_mall_limit_result_t    *res;
    ngx_http_mall_limit_loc_conf_t  *lcf;

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_mall_module);
    lcf = &mlcf->limit;
    lctx = &ctx->limit;

    if (phase == NGX_HTTP_MALL_LIMIT_PREACCESS) {
        if (lctx->preaccess_done) {
            return NGX_DECLINED;
        }

        lctx->preaccess_done = 1;

        if (lcf->exempt
            && ngx_cidr_match(r->connection->sockaddr, lcf->exempt) == NGX_OK)
        {
            lctx->status = NGX_HTTP_MALL_LIMIT_EXEMPT;
            lctx->access_done = 1;

            if (lcf->cc) {
                ngx_http_mall_cc_count_exempt(lcf->cc);

            } else if (lcf->limits) {
                limit = lcf->limits->elts;
                ngx_http_mall_limit_count(limit[0].zone, exempt);
            }

            return NGX_DECLINED;
        }

        if (lcf->cc) {
            rc = ngx_http_mall_cc_handler(r, lcf);
            if (rc != NGX_DECLINED) {
                return rc;
            }
        }

    } else {
        if (lctx->access_done) {
            return NGX_DECLINED;
        }

        lctx->access_done = 1;
    }

    if (lcf->limits == NULL || lcf->nphase[phase] == 0) {
        return NGX_DECLINED;
    }

    /* room for this location's limits (a redirect may change location) */

    if (lctx->nalloc < lctx->nresults + lcf->limits->nelts) {
        res = ngx_palloc(r->pool, (lctx->nresults + lcf->limits->nelts)
                                  * sizeof(ngx_http_mall_limit_result_t));
        if (res == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (lctx->nresults) {
            ngx_memcpy(res, lctx->results, lctx->nresults
                       * sizeof(ngx_http_mall_limit_result_t));
        }

        lctx->results = res;
        lctx->nalloc = lctx->nresults + lcf->limits->nelts;
    }

    now = ngx_http_mall_now_ms();
    limit = lcf->limits->elts;
    rejected = 0;
    retry_ms = 0;
    j = lctx->nresults;

    for (i = 0; i < lcf->limits->nelts; i++) {

        if (limit[i].phase != phase) {
            continue;
        }

        if (ngx_http_mall_limit_key_value(r, &limit[i], &key) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (key.len == 0) {
            continue;               /* like limit_req: no key, no limit */
        }

        rc = ngx_http_mall_limit_check(r, lctx, lcf, &limit[i], &key, now,
                                       &retry);
        if (rc == NGX_ERROR) {
            continue;               /* no room: logged; fail open */
        }

        if (rc == NGX_BUSY) {
            rejected = 1;
            retry_ms = ngx_max(retry_ms, retry);

            /* the strictest decides: later limits need not be charged */
            break;
        }
    }

    if (!rejected) {
        return NGX_DECLINED;
    }

    /* give back what the limits checked before the rejection charged */

    for ( /* void */ ; j < lctx->nresults - 1; j++) {
        limit = lctx->results[j].limit;

        if (!lctx->results[j].charged
            || ngx_http_mall_limit_key_value(r, limit, &key) != NGX_OK)
        {
            continue;
        }

        ngx_http_mall_limit_refund(limit, key.data, key.len, now);
    }

    return ngx_http_mall_limit_reject(r, lcf->status, retry_ms);
}


/*
 * Checks and charges one limit for key under the zone lock. Records the
 * outcome in lctx. Returns NGX_OK (admitted, or dry run), NGX_BUSY
 * (rejected; *retry_ms set) or NGX_ERROR (no room in the zone).
 */

static ngx_int_t
ngx_http_mall_limit_check(ngx_http_request_t *r,
    ngx_http_mall_limit_ctx_t *lctx, ngx_http_mall_limit_loc_conf_t *lcf,
    ngx_http_mall_limit_t *limit, ngx_str_t *key, uint64_t now,
    uint64_t *retry_ms)
{
    u_char                             buf[64 + 1
                                           + NGX_HTTP_MALL_LIMIT_KEY_MAX];
    size_t                             len, vlen;
    ngx_uint_t                         created, dry;
    mall_gcra_result_t                 res;
    ngx_http_mall_shm_node_t          *sn;
    ngx_http_mall_main_conf_t         *mmcf;
    ngx_http_mall_limit_zone_t        *lz;
    ngx_http_mall_limit_state_t       *st;
    ngx_http_mall_limit_result_t      *out;
    ngx_http_mall_limit_sync_state_t   ss;

    lz = limit->zone;
    len = ngx_http_mall_limit_key(limit, key, buf);
    vlen = ngx_http_mall_limit_state_size(limit);
    st = &ss.base;

    ngx_http_mall_shm_lock(lz->shm_zone);

    (void) ngx_http_mall_limit_stats_locked(lz);

    sn = ngx_http_mall_shm_upsert_locked(lz->shm_zone, buf, len, vlen, now,
                                         0, &created);
    if (sn == NULL) {
        ngx_http_mall_shm_unlock(lz->shm_zone);
        return NGX_ERROR;
    }

    ngx_memcpy(&ss, ngx_http_mall_shm_value(sn), vlen);

    if (!created && st->count != limit->gcra.count) {
        /* a reload changed the rate of this limit: same time, new ticks */
        st->tat = mall_gcra_rescale(st->tat, st->count, limit->gcra.count);
    }

    if (limit->sync) {
        /* a TAT beyond a drained bucket is other nodes' admits: kept */
        mall_rlsync_check(&limit->gcra, limit->window_ms,
                          created ? 0 : st->tat, now, &res);

    } else {
        mall_gcra_check(&limit->gcra, created ? 0 : st->tat, now, &res);
    }

    dry = !res.allowed && (limit->dry_run || lcf->dry_run);

    if (res.allowed || !dry) {
        st->tat = res.tat;
        st->count = limit->gcra.count;
        sn->expire = res.expire_ms;
    }

    if (limit->sync) {
        mmcf = ngx_http_get_module_main_conf(r, ngx_http_mall_module);
        ngx_http_mall_limit_sync_mark(&mmcf->limit.sync, limit, &ss, buf, len,
                                      now, res.allowed);

        /* remember the window read last, and pending admits, a while */
        sn->expire = ngx_max(sn->expire, ss.win + 2 * limit->window_ms);
        sn->expire = ngx_max(sn->expire, now + 2 * limit->window_ms);
    }

    ngx_memcpy(ngx_http_mall_shm_value(sn), &ss, vlen);

    if (res.allowed) {
        ngx_http_mall_limit_count(lz, passed);

    } else if (dry) {
        ngx_http_mall_limit_count(lz, dry_run);

    } else {
        ngx_http_mall_limit_count(lz, rejected);
    }

    ngx_http_mall_shm_unlock(lz->shm_zone);

    /* decided where the limit applied, not where an error page answers */
    lctx->quiet = !lcf->headers;

    out = &lctx->results[lctx->nresults++];
    out->limit = limit;
    out->remaining = res.remaining;
    out->reset_s = (res.reset_ms + 999) / 1000;
    out->charged = res.allowed;

    if (res.allowed) {
        if (lctx->status < NGX_HTTP_MALL_LIMIT_PASSED) {
            lctx->status = NGX_HTTP_MALL_LIMIT_PASSED;
        }

        return NGX_OK;
    }

    if (dry) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "mall_limit: limiting requests, dry run, by \"%V\" "
                      "in zone \"%V\", key \"%V\"",
                      &limit->name, &lz->name, key);

        if (lctx->status < NGX_HTTP_MALL_LIMIT_DRY_RUN) {
            lctx->status = NGX_HTTP_MALL_LIMIT_DRY_RUN;
        }

        return NGX_OK;
    }

    ngx_log_error(lcf->log_level, r->connection->log, 0,
                  "mall_limit: limiting requests by \"%V\" in zone \"%V\", "
                  "key \"%V\", retry in %uL ms",
                  &limit->name, &lz->name, key, res.retry_ms);

    lctx->status = NGX_HTTP_MALL_LIMIT_REJECTED;
    *retry_ms = res.retry_ms;

    return NGX_BUSY;
}


/* Undoes one admitted charge of limit for key (a later limit refused). */

static void
ngx_http_mall_limit_refund(ngx_http_mall_limit_t *limit, u_char *key,
    size_t len, uint64_t now)
{
    u_char                             buf[64 + 1
                                           + NGX_HTTP_MALL_LIMIT_KEY_MAX];
    size_t                             n, vlen;
    ngx_str_t                          value;
    ngx_uint_t                         created;
    ngx_http_mall_shm_node_t          *sn;
    ngx_http_mall_limit_zone_t        *lz;
    ngx_http_mall_limit_sync_state_t   ss;

    lz = limit->zone;
    value.data = key;
    value.len = len;
    n = ngx_http_mall_limit_key(limit, &value, buf);
    vlen = ngx_http_mall_limit_state_size(limit);

    ngx_http_mall_shm_lock(lz->shm_zone);

    sn = ngx_http_mall_shm_upsert_locked(lz->shm_zone, buf, n, vlen, now, 0,
                                         &created);

    if (sn && !created) {
        ngx_memcpy(&ss, ngx_http_mall_shm_value(sn), vlen);

        if (ss.base.count == limit->gcra.count) {
            ss.base.tat -= limit->gcra.emission;

            if (limit->sync && ss.pending) {
                ss.pending--;
            }

            ngx_memcpy(ngx_http_mall_shm_value(sn), &ss, vlen);
        }
    }

    if (sn && created) {
        /* evicted meanwhile: a new entry is a full bucket, expire it now */
        sn->expire = now;
    }

    ngx_http_mall_shm_unlock(lz->shm_zone);
}


/* Bytes of a limit's store entry value: sync=redis ones carry more. */

size_t
ngx_http_mall_limit_state_size(ngx_http_mall_limit_t *limit)
{
    return limit->sync ? sizeof(ngx_http_mall_limit_sync_state_t)
                       : sizeof(ngx_http_mall_limit_state_t);
}


/*
 * The value of a limit's key for r: a key that is one variable is read by
 * its index (no complex-value length pass); "" when the variable is not
 * found, as the complex value would give.
 */

static ngx_int_t
ngx_http_mall_limit_key_value(ngx_http_request_t *r,
    ngx_http_mall_limit_t *limit, ngx_str_t *key)
{
    ngx_http_variable_value_t  *vv;

    if (limit->key_index == NGX_ERROR) {
        return ngx_http_complex_value(r, &limit->key, key);
    }

    vv = ngx_http_get_flushed_variable(r, limit->key_index);
    if (vv == NULL) {
        return NGX_ERROR;
    }

    if (vv->not_found) {
        key->len = 0;
        key->data = NULL;
        return NGX_OK;
    }

    key->len = vv->len;
    key->data = vv->data;

    return NGX_OK;
}


/*
 * The store key of a limit: "name" NUL value, the value replaced by its
 * MD5 when longer than NGX_HTTP_MALL_LIMIT_KEY_MAX (bounded entries; a
 * collision only makes two clients share a bucket). Returns the length.
 */

static size_t
ngx_http_mall_limit_key(ngx_http_mall_limit_t *limit, ngx_str_t *value,
    u_char *buf)
{
    u_char     *p;
    ngx_md5_t   md5;

    p = ngx_cpymem(buf, limit->name.data, limit->name.len);
    *p++ = '\0';

    if (value->len <= NGX_HTTP_MALL_LIMIT_KEY_MAX) {
        return ngx_cpymem(p, value->data, value->len) - buf;
    }

    ngx_md5_init(&md5);
    ngx_md5_update(&md5, value->data, value->len);
    ngx_md5_final(p, &md5);

    return p + 16 - buf;
}


/*
 * Sends the rate-limit refusal: status (429 by default) with the contract's
 * RATE_LIMITED body and Retry-After in whole seconds, rounded up, at least
 * 1. Finalizes the request; returns NGX_DONE.
 */

ngx_int_t
ngx_http_mall_limit_reject(ngx_http_request_t *r, ngx_uint_t status,
    uint64_t retry_ms)
{
    ngx_int_t  rc;
    ngx_str_t  code = ngx_string("RATE_LIMITED");
    ngx_str_t  message = ngx_string("too many requests");

    ngx_http_mall_metrics_denied(r, status);

    rc = ngx_http_mall_send_error(r, status, &code, &message,
                                  (time_t) mall_gcra_retry_after_s(retry_ms));

    ngx_http_finalize_request(r, rc);

    return NGX_DONE;
}


/* ------------------------------ headers ---------------------------------- */


/*
 * Adds the IETF RateLimit-Policy and RateLimit fields
 * (draft-ietf-httpapi-ratelimit-headers) for the limits applied to this
 * request: one list member per limit, e.g.
 *     RateLimit-Policy: "ip";q=20;w=1
 *     RateLimit: "ip";r=39;t=1
 * From the header filter, on every response (429 included), unless the
 * location that applied the limits says mall_limit_headers off.
 */

ngx_int_t
ngx_http_mall_limit_headers(ngx_http_request_t *r)
{
    u_char                        *p, *q;
    size_t                         plen, rlen;
    ngx_uint_t                     i;
    ngx_table_elt_t               *h;
    ngx_http_mall_ctx_t           *ctx;
    ngx_http_mall_limit_ctx_t     *lctx;
    ngx_http_mall_limit_result_t  *res;

    ctx = ngx_http_mall_get_ctx(r);

    if (ctx == NULL || ctx->limit.nresults == 0 || ctx->limit.quiet) {
        return NGX_OK;
    }

    lctx = &ctx->limit;
    res = lctx->results;

    plen = 0;
    rlen = 0;

    for (i = 0; i < lctx->nresults; i++) {
        plen += res[i].limit->policy.len + 2;
        rlen += res[i].limit->item.len + sizeof(";t=, ") - 1
                + 2 * NGX_INT64_LEN;
    }

    p = ngx_pnalloc(r->pool, plen + rlen);
    if (p == NULL) {
        return NGX_ERROR;
    }

    q = p + plen;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "RateLimit-Policy");
    h->value.data = p;
    h->lowcase_key = NULL;

    for (i = 0; i < lctx->nresults; i++) {
        if (i) {
            *p++ = ',';
            *p++ = ' ';
        }

        p = ngx_cpymem(p, res[i].limit->policy.data, res[i].limit->policy.len);
    }

    h->value.len = p - h->value.data;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "RateLimit");
    h->value.data = q;
    h->lowcase_key = NULL;

    for (i = 0; i < lctx->nresults; i++) {
        if (i) {
            *q++ = ',';
            *q++ = ' ';
        }

        q = ngx_cpymem(q, res[i].limit->item.data, res[i].limit->item.len);
        q = ngx_http_mall_limit_uint(q, res[i].remaining);
        *q++ = ';';
        *q++ = 't';
        *q++ = '=';
        q = ngx_http_mall_limit_uint(q, res[i].reset_s);
    }

    h->value.len = q - h->value.data;

    return NGX_OK;
}


/* Writes n in decimal (ngx_sprintf's format parsing costs more). */

static u_char *
ngx_http_mall_limit_uint(u_char *p, uint64_t n)
{
    u_char    *end;
    uint64_t   m;

    end = p + 1;

    for (m = n; m >= 10; m /= 10) {
        end++;
    }

    p = end;

    do {
        *--p = (u_char) (n % 10 + '0');
        n /= 10;
    } while (n);

    return end;
}


/* $mall_limit_status: PASSED, REJECTED, DRY_RUN, EXEMPT; "" if no limit. */

ngx_int_t
ngx_http_mall_limit_status_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_mall_ctx_t  *ctx;

    ctx = ngx_http_mall_get_ctx(r->main);

    if (ctx == NULL || ctx->limit.status == NGX_HTTP_MALL_LIMIT_NONE) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = ngx_http_mall_limit_status_names[ctx->limit.status].len;
    v->data = ngx_http_mall_limit_status_names[ctx->limit.status].data;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}
