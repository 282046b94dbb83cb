
/*
 * Nonce replay cache: see ngx_http_mall_nonce.h.
 *
 * A nonce is identified by SHA-256(zone seed || sign key || nonce): the
 * seed is random per zone, so nobody can aim nonces at one slice or bucket
 * to fill it. Bytes 0-11 of the digest pick the slice and two buckets in
 * one page of it (two choices keep the table usable to ~90% full), bytes
 * 12-23 are stored. A live nonce is never overwritten.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <mall_crypto.h>

#include "ngx_http_mall_module.h"
#include "ngx_http_mall_nonce.h"


#define NGX_HTTP_MALL_NONCE_WARN_EVERY  60     /* seconds */


static ngx_int_t ngx_http_mall_nonce_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_int_t ngx_http_mall_nonce_user(ngx_http_mall_nonce_t *ctx,
    ngx_http_mall_nonce_ticket_t *t, time_t now, time_t lifetime,
    ngx_http_mall_nonce_user_t **user);


/*
 * Parses "name:size" and the optional "per_user=N", "per_user=N%" or
 * "per_user=off" (per_user may be NULL), and registers the zone; NULL
 * after a config error.
 */

ngx_shm_zone_t *
ngx_http_mall_nonce_zone_add(ngx_conf_t *cf, ngx_str_t *value,
    ngx_str_t *per_user, void *tag)
{
    ngx_str_t               v;
    ngx_shm_zone_t         *shm_zone;
    ngx_http_mall_nonce_t  *ctx;

    ctx = ngx_pcalloc(cf->pool, sizeof(ngx_http_mall_nonce_t));
    if (ctx == NULL) {
        return NULL;
    }

    ctx->per_user_conf = -1;

    if (per_user) {
        if (per_user->len <= sizeof("per_user=") - 1
            || ngx_strncmp(per_user->data, "per_user=",
                           sizeof("per_user=") - 1) != 0)
        {
            goto invalid;
        }

        v.data = per_user->data + sizeof("per_user=") - 1;
        v.len = per_user->len - (sizeof("per_user=") - 1);

        if (v.len == 3 && ngx_strncmp(v.data, "off", 3) == 0) {
            ctx->per_user_conf = 0;

        } else {
            if (v.data[v.len - 1] == '%') {
                ctx->per_user_pct = 1;
                v.len--;
            }

            ctx->per_user_conf = ngx_atoi(v.data, v.len);

            if (ctx->per_user_conf <= 0
                || (ctx->per_user_pct && ctx->per_user_conf > 100))
            {
                goto invalid;
            }
        }
    }

    shm_zone = ngx_http_mall_shm_zone_declare(cf, value, tag,
                                              ngx_http_mall_nonce_init_zone,
                                              ctx);
    if (shm_zone == NULL) {
        return NULL;
    }

    ctx->name = shm_zone->shm.name;
    ctx->size = shm_zone->shm.size;

    return shm_zone;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid \"%V\", expected \"per_user=N\", "
                       "\"per_user=N%%\" (1-100) or \"per_user=off\"",
                       per_user);
    return NULL;
}


/*
 * The header in a slab page, then every other free page: one page in
 * NGX_HTTP_MALL_NONCE_USER_SHARE for the per-user counters, the rest for
 * the nonces.
 */

static ngx_int_t
ngx_http_mall_nonce_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_uint_t                 pages, upages, fresh, capacity;
    ngx_http_mall_nonce_t     *ctx;
    ngx_http_mall_nonce_sh_t  *sh;

    ctx = shm_zone->data;

    /* on reload with the same size: the nonces of the old cycle are kept */

    ctx->shpool = ngx_http_mall_shm_zone_pool(shm_zone, data,
                                              sizeof(ngx_http_mall_nonce_sh_t),
                                              "mall nonce zone", &fresh);
    if (ctx->shpool == NULL) {
        return NGX_ERROR;
    }

    ctx->sh = ctx->shpool->data;
    sh = ctx->sh;

    if (fresh) {
        if (mall_random(sh->seed, sizeof(sh->seed)) != 0) {
            return NGX_ERROR;
        }

        /*
         * The free pages are one run after the header's slab page. They
         * come from a fresh shared mapping, hence zero (free slots): not
         * touching them here keeps the zone out of the master's RSS.
         */

        for (pages = ctx->shpool->pfree; pages > 1; pages--) {
            sh->ubuckets = ngx_slab_alloc(ctx->shpool, pages * ngx_pagesize);
            if (sh->ubuckets) {
                break;
            }
        }

        if (sh->ubuckets == NULL) {
            ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                          "mall_sign_zone \"%V\" is too small",
                          &shm_zone->shm.name);
            return NGX_ERROR;
        }

        upages = pages / NGX_HTTP_MALL_NONCE_USER_SHARE;

        if (upages == 0) {
            upages = 1;
        }

        pages -= upages;

        sh->nubuckets = upages * ngx_pagesize
                        / sizeof(ngx_http_mall_nonce_ubucket_t);
        sh->buckets = (ngx_http_mall_nonce_bucket_t *)
                          ((u_char *) sh->ubuckets + upages * ngx_pagesize);

        sh->page_buckets = ngx_pagesize
                           / sizeof(ngx_http_mall_nonce_bucket_t);

        /* whole slices of whole pages; the few pages left over stay unused */

        sh->nslices = pages / NGX_HTTP_MALL_NONCE_SLICE_PAGES;

        if (sh->nslices == 0) {
            sh->nslices = 1;
        }

        sh->slice_buckets = (pages / sh->nslices) * sh->page_buckets;
        sh->nbuckets = sh->nslices * sh->slice_buckets;
    }

    capacity = sh->nbuckets * NGX_HTTP_MALL_NONCE_SLOTS;

    switch (ctx->per_user_conf) {

    case -1:
        ctx->per_user = capacity * NGX_HTTP_MALL_NONCE_PER_USER_PCT / 100;
        break;

    case 0:
        ctx->per_user = 0;
        break;

    default:
        ctx->per_user = ctx->per_user_pct
                        ? capacity * ctx->per_user_conf / 100
                        : (ngx_uint_t) ctx->per_user_conf;
    }

    if (ctx->per_user_conf != 0 && ctx->per_user == 0) {
        ctx->per_user = 1;
    }

    ngx_log_error(NGX_LOG_INFO, shm_zone->shm.log, 0,
                  "mall_sign_zone \"%V\": room for %ui nonces, %ui a user "
                  "(0: unbounded)", &shm_zone->shm.name, capacity,
                  ctx->per_user);

    return NGX_OK;
}


/*
 * Fingerprint SHA-256(seed || key || nonce), its slice and its two
 * buckets, the second in the first one's page; and the user's counter
 * bucket from SHA-256(seed || "\0" || user). The seed and the geometry
 * never change after init, so no lock is needed.
 */

void
ngx_http_mall_nonce_prepare(ngx_shm_zone_t *zone, u_char *key, size_t klen,
    u_char *nonce, size_t nlen, u_char *user, size_t ulen,
    ngx_http_mall_nonce_ticket_t *t)
{
    uint32_t                   h[3];
    u_char                     ud[32];
    ngx_uint_t                 base;
    mall_sha256_ctx_t          md;
    ngx_http_mall_nonce_t     *ctx;
    ngx_http_mall_nonce_sh_t  *sh;

    ctx = zone->data;
    sh = ctx->sh;

    mall_sha256_init(&md);
    mall_sha256_update(&md, sh->seed, sizeof(sh->seed));
    mall_sha256_update(&md, key, klen);
    mall_sha256_update(&md, nonce, nlen);
    mall_sha256_final(&md, t->digest);

    ngx_memcpy(h, t->digest, sizeof(h));

    base = (((uint64_t) h[0] * sh->nslices) >> 32) * sh->slice_buckets;

    t->idx[0] = base + (((uint64_t) h[1] * sh->slice_buckets) >> 32);
    t->idx[1] = (t->idx[0] & ~(sh->page_buckets - 1))
                | (h[2] & (sh->page_buckets - 1));
    t->retry = 0;

    __builtin_prefetch(&sh->buckets[t->idx[0]], 1);
    __builtin_prefetch(&sh->buckets[t->idx[1]], 1);

    if (ctx->per_user == 0) {
        t->uidx = 0;
        t->utag = 0;
        return;
    }

    mall_sha256_init(&md);
    mall_sha256_update(&md, sh->seed, sizeof(sh->seed));
    mall_sha256_update(&md, (u_char *) "", 1);
    mall_sha256_update(&md, user, ulen);
    mall_sha256_final(&md, ud);

    ngx_memcpy(h, ud, 2 * sizeof(uint32_t));

    t->utag = h[0];
    t->uidx = ((uint64_t) h[1] * sh->nubuckets) >> 32;

    __builtin_prefetch(&sh->ubuckets[t->uidx], 1);
}


/*
 * Records a prepared nonce (see ngx_http_mall_nonce.h). O(1): two buckets
 * and a user's counter bucket are read under the zone mutex. A live nonce
 * is never dropped: with both buckets full the request is refused.
 */

ngx_int_t
ngx_http_mall_nonce_add(ngx_shm_zone_t *zone, ngx_http_mall_nonce_ticket_t *t,
    time_t expire, time_t now, time_t lifetime)
{
    u_char                       *fp;
    time_t                        first;
    ngx_int_t                     rc;
    ngx_uint_t                    b, i, full, capacity, nfree[2];
    ngx_http_mall_nonce_t        *ctx;
    ngx_http_mall_nonce_sh_t     *sh;
    ngx_http_mall_nonce_slot_t   *s, *free, *slot[2];
    ngx_http_mall_nonce_user_t   *user;

    ctx = zone->data;
    sh = ctx->sh;
    fp = t->digest + 12;

    if (expire <= now) {
        /* the timestamp left the window meanwhile: so would any replay */
        return NGX_OK;
    }

    if (expire > (time_t) NGX_MAX_UINT32_VALUE || lifetime <= 0) {
        return NGX_ERROR;
    }

    first = expire;
    nfree[0] = 0;
    nfree[1] = 0;
    slot[0] = NULL;
    slot[1] = NULL;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    for (b = 0; b < 2; b++) {
        s = sh->buckets[t->idx[b]].slot;

        for (i = 0; i < NGX_HTTP_MALL_NONCE_SLOTS; i++) {

            if ((time_t) s[i].expire <= now) {
                if (nfree[b]++ == 0) {
                    slot[b] = &s[i];
                }

                continue;
            }

            if (ngx_memcmp(s[i].fp, fp, sizeof(s[i].fp)) == 0) {
                sh->replays++;
                ngx_shmtx_unlock(&ctx->shpool->mutex);
                return NGX_BUSY;
            }

            if ((time_t) s[i].expire < first) {
                first = s[i].expire;
            }
        }
    }

    /* not a replay: the user's share, then room */

    user = NULL;

    if (ctx->per_user) {
        rc = ngx_http_mall_nonce_user(ctx, t, now, lifetime, &user);

        if (rc != NGX_OK) {
            sh->user_limited++;
            ngx_shmtx_unlock(&ctx->shpool->mutex);
            return rc;
        }
    }

    if (nfree[0] + nfree[1] == 0) {
        /* both buckets live: fail closed until the first nonce expires */
        full = ++sh->full;
        t->retry = first - now;

        if (sh->warned + NGX_HTTP_MALL_NONCE_WARN_EVERY > now) {
            ngx_shmtx_unlock(&ctx->shpool->mutex);
            return NGX_AGAIN;
        }

        sh->warned = now;
        capacity = sh->nbuckets * NGX_HTTP_MALL_NONCE_SLOTS;

        ngx_shmtx_unlock(&ctx->shpool->mutex);

        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "mall_sign_zone \"%V\" is full: %ui signed requests "
                      "refused so far, it holds %ui nonces; size it to at "
                      "least peak signed requests/s * (2 * window + 1) * 16 "
                      "bytes * 1.3", &ctx->name, full, capacity);
        return NGX_AGAIN;
    }

    /* into the emptier bucket of the two: the load stays even */
    free = (nfree[1] > nfree[0]) ? slot[1] : slot[0];

    ngx_memcpy(free->fp, fp, sizeof(free->fp));
    free->expire = (uint32_t) expire;
    sh->inserts++;

    if (user) {
        user->cur++;
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return NGX_OK;
}


/*
 * The user's counter, under the zone mutex: found by tag in its bucket, or
 * taken over (an idle one, else the one with the fewest nonces: losing a
 * count only loosens the bound, never the replay check). Rolls the periods
 * to now. NGX_OK with *user (to count the nonce once recorded), or
 * NGX_DECLINED with t->retry when the user holds per_user nonces already.
 */

static ngx_int_t
ngx_http_mall_nonce_user(ngx_http_mall_nonce_t *ctx,
    ngx_http_mall_nonce_ticket_t *t, time_t now, time_t lifetime,
    ngx_http_mall_nonce_user_t **user)
{
    uint32_t                     period;
    ngx_uint_t                   i;
    ngx_http_mall_nonce_user_t  *u, *e;

    period = (uint32_t) (now / lifetime);
    e = ctx->sh->ubuckets[t->uidx].user;
    u = NULL;

    for (i = 0; i < NGX_HTTP_MALL_NONCE_USER_SLOTS; i++) {

        if (e[i].tag == t->utag && (e[i].cur || e[i].prev)) {
            u = &e[i];
            break;
        }

        if (e[i].period + 1 < period) {
            /* idle for two periods: nothing of it is live any more */
            e[i].cur = 0;
            e[i].prev = 0;
        }

        if (u == NULL || e[i].cur + e[i].prev < u->cur + u->prev) {
            u = &e[i];
        }
    }

    if (u->tag != t->utag || (u->cur == 0 && u->prev == 0)) {
        u->tag = t->utag;
        u->period = period;
        u->cur = 0;
        u->prev = 0;
    }

    if (u->period != period) {
        u->prev = (u->period + 1 == period) ? u->cur : 0;
        u->cur = 0;
        u->period = period;
    }

    if (u->cur + u->prev >= ctx->per_user) {
        t->retry = (time_t) (period + 1) * lifetime - now;
        return NGX_DECLINED;
    }

    *user = u;

    return NGX_OK;
}
