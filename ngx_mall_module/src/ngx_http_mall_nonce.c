
/*
 * Nonce replay cache: see ngx_http_mall_nonce.h.
 *
 * A nonce is identified by SHA-256(zone seed || sign key || nonce): the
 * seed is random per zone, so nobody can aim nonces at one bucket to push
 * another client's nonces out. The first 8 bytes pick two buckets in one
 * page (two choices keep the table usable to ~90% full), the next 12 are
 * stored.
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


/* Parses "name:size" and registers the zone; NULL after a config error. */

ngx_shm_zone_t *
ngx_http_mall_nonce_zone_add(ngx_conf_t *cf, ngx_str_t *value, void *tag)
{
    ngx_shm_zone_t         *shm_zone;
    ngx_http_mall_nonce_t  *ctx;

    ctx = ngx_pcalloc(cf->pool, sizeof(ngx_http_mall_nonce_t));
    if (ctx == NULL) {
        return NULL;
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
}


/* The header in a slab page, then every other free page as the table. */

static ngx_int_t
ngx_http_mall_nonce_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_uint_t              pages, fresh;
    ngx_http_mall_nonce_t  *ctx;

    ctx = shm_zone->data;

    /* on reload with the same size: the nonces of the old cycle are kept */

    ctx->shpool = ngx_http_mall_shm_zone_pool(shm_zone, data,
                                              sizeof(ngx_http_mall_nonce_sh_t),
                                              "mall nonce zone", &fresh);
    if (ctx->shpool == NULL) {
        return NGX_ERROR;
    }

    ctx->sh = ctx->shpool->data;

    if (!fresh) {
        return NGX_OK;
    }

    if (mall_random(ctx->sh->seed, sizeof(ctx->sh->seed)) != 0) {
        return NGX_ERROR;
    }

    /*
     * The free pages are one run after the header's slab page. They come
     * from a fresh shared mapping, hence zero (free slots): not touching
     * them here keeps the zone out of the master's RSS.
     */

    for (pages = ctx->shpool->pfree; pages > 0; pages--) {
        ctx->sh->buckets = ngx_slab_alloc(ctx->shpool, pages * ngx_pagesize);
        if (ctx->sh->buckets) {
            break;
        }
    }

    if (ctx->sh->buckets == NULL) {
        return NGX_ERROR;
    }

    ctx->sh->page_buckets = ngx_pagesize
                            / sizeof(ngx_http_mall_nonce_bucket_t);

    /* whole slices of whole pages; the few pages left over stay unused */

    ctx->sh->nslices = pages / NGX_HTTP_MALL_NONCE_SLICE_PAGES;

    if (ctx->sh->nslices == 0) {
        ctx->sh->nslices = 1;
    }

    ctx->sh->slice_buckets = (pages / ctx->sh->nslices)
                             * ctx->sh->page_buckets;
    ctx->sh->nbuckets = ctx->sh->nslices * ctx->sh->slice_buckets;

    ngx_log_error(NGX_LOG_INFO, shm_zone->shm.log, 0,
                  "mall_sign_zone \"%V\": room for %ui nonces",
                  &shm_zone->shm.name,
                  ctx->sh->nbuckets * NGX_HTTP_MALL_NONCE_SLOTS);

    return NGX_OK;
}


/*
 * Fingerprint SHA-256(seed || key || nonce) and its two buckets in the
 * slice of the timestamp's second; the second choice lies in the first
 * one's page. The seed and the geometry never change after init, so no
 * lock is needed.
 */

void
ngx_http_mall_nonce_prepare(ngx_shm_zone_t *zone, u_char *key, size_t klen,
    u_char *nonce, size_t nlen, time_t when, ngx_http_mall_nonce_ticket_t *t)
{
    uint32_t                   h[2];
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

    base = ((uint64_t) when % sh->nslices) * sh->slice_buckets;

    t->idx[0] = base + (((uint64_t) h[0] * sh->slice_buckets) >> 32);
    t->idx[1] = (t->idx[0] & ~(sh->page_buckets - 1))
                | (h[1] & (sh->page_buckets - 1));

    __builtin_prefetch(&sh->buckets[t->idx[0]], 1);
    __builtin_prefetch(&sh->buckets[t->idx[1]], 1);
}


/*
 * Records a prepared nonce until expire (unix seconds). Returns NGX_OK
 * (recorded), NGX_BUSY (a live entry: a replay) or NGX_ERROR. O(1): two
 * buckets are read under the zone mutex.
 */

ngx_int_t
ngx_http_mall_nonce_add(ngx_shm_zone_t *zone, ngx_http_mall_nonce_ticket_t *t,
    time_t expire, time_t now)
{
    u_char                       *fp;
    ngx_uint_t                    b, i, evicted, capacity, nfree[2];
    ngx_http_mall_nonce_t        *ctx;
    ngx_http_mall_nonce_sh_t     *sh;
    ngx_http_mall_nonce_slot_t   *s, *free, *victim, *slot[2];

    ctx = zone->data;
    sh = ctx->sh;
    fp = t->digest + 8;

    if (expire <= now) {
        /* the timestamp left the window meanwhile: so would any replay */
        return NGX_OK;
    }

    if (expire > (time_t) NGX_MAX_UINT32_VALUE) {
        return NGX_ERROR;
    }

    victim = NULL;
    evicted = 0;
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

            if (victim == NULL || s[i].expire < victim->expire) {
                victim = &s[i];
            }
        }
    }

    if (nfree[0] + nfree[1]) {
        /* into the emptier bucket of the two: the load stays even */
        free = (nfree[1] > nfree[0]) ? slot[1] : slot[0];

    } else {
        /* both buckets live: drop the nonce closest to its expiry */
        free = victim;
        evicted = ++sh->evictions;
    }

    ngx_memcpy(free->fp, fp, sizeof(free->fp));
    free->expire = (uint32_t) expire;
    sh->inserts++;

    if (evicted && sh->warned + NGX_HTTP_MALL_NONCE_WARN_EVERY <= now) {
        sh->warned = now;
        capacity = sh->nbuckets * NGX_HTTP_MALL_NONCE_SLOTS;

        ngx_shmtx_unlock(&ctx->shpool->mutex);

        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "mall_sign_zone \"%V\" is too small: %ui live nonces "
                      "evicted so far, it holds %ui; size it to at least "
                      "peak signed requests/s * (2 * window + 1) * 16 "
                      "bytes * 1.25", &ctx->name, evicted, capacity);
        return NGX_OK;
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return NGX_OK;
}
