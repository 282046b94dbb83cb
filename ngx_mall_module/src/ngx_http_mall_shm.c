
/*
 * Generic shm keyed store: see ngx_http_mall_shm.h.
 *
 * All work under the zone mutex is O(log n) (rbtree) or O(1) (LRU queue,
 * bounded eviction); values are copied out to the caller's buffer so the
 * lock is never held while a response is sent.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_mall_shm.h"


static ngx_int_t ngx_http_mall_shm_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void ngx_http_mall_shm_rbtree_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static ngx_http_mall_shm_node_t *ngx_http_mall_shm_lookup(
    ngx_http_mall_shm_t *ctx, u_char *key, size_t klen, uint32_t hash);
static ngx_http_mall_shm_node_t *ngx_http_mall_shm_lookup_live(
    ngx_http_mall_shm_t *ctx, u_char *key, size_t klen, uint32_t hash,
    uint64_t now);
static void ngx_http_mall_shm_free_node(ngx_http_mall_shm_t *ctx,
    ngx_http_mall_shm_node_t *sn);
static ngx_uint_t ngx_http_mall_shm_evict_tail(ngx_http_mall_shm_t *ctx,
    uint64_t now, ngx_uint_t expired_only);
static ngx_http_mall_shm_node_t *ngx_http_mall_shm_alloc_node(
    ngx_http_mall_shm_t *ctx, u_char *key, size_t klen, size_t vlen,
    uint32_t hash, uint64_t now, ngx_uint_t flags);


/*
 * Parses "name:size" and registers the zone (limit_req_zone's zone=) with
 * its init handler and shm_zone->data. Returns the zone, or NULL after
 * logging a config error. A zone declared twice under the same name is
 * refused. Every mall zone is declared through here.
 */

ngx_shm_zone_t *
ngx_http_mall_shm_zone_declare(ngx_conf_t *cf, ngx_str_t *value, void *tag,
    ngx_shm_zone_init_pt init, void *data)
{
    u_char          *p;
    ssize_t          size;
    ngx_str_t        name, s;
    ngx_shm_zone_t  *shm_zone;

    p = (u_char *) ngx_strlchr(value->data, value->data + value->len, ':');

    if (p == NULL || p == value->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone \"%V\", expected \"name:size\"",
                           value);
        return NULL;
    }

    name.data = value->data;
    name.len = p - value->data;

    s.data = p + 1;
    s.len = value->data + value->len - s.data;

    size = ngx_parse_size(&s);

    if (size == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone size \"%V\"", value);
        return NULL;
    }

    if (size < (ssize_t) (8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is too small", value);
        return NULL;
    }

    shm_zone = ngx_shared_memory_add(cf, &name, size, tag);
    if (shm_zone == NULL) {
        return NULL;
    }

    if (shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate zone \"%V\"", &name);
        return NULL;
    }

    shm_zone->init = init;
    shm_zone->data = data;

    return shm_zone;
}


/*
 * The common start of a zone's init handler. The header (shpool->data) of
 * a zone kept across a reload (data: the old cycle's ctx; nginx reuses a
 * zone only when its size is unchanged) or of one that already exists is
 * reused as it is: *fresh = 0. Otherwise a zeroed header of size bytes is
 * slab-allocated and the slab's log context is set ("in <what> \"name\""):
 * *fresh = 1, and the caller initialises the header. Returns the slab
 * pool, or NULL on no memory.
 */

ngx_slab_pool_t *
ngx_http_mall_shm_zone_pool(ngx_shm_zone_t *shm_zone, void *data,
    size_t size, char *what, ngx_uint_t *fresh)
{
    size_t            len;
    ngx_slab_pool_t  *shpool;

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (data || shm_zone->shm.exists) {
        *fresh = 0;
        return shpool;
    }

    *fresh = 1;

    shpool->data = ngx_slab_calloc(shpool, size);
    if (shpool->data == NULL) {
        return NULL;
    }

    len = sizeof(" in  \"\"") + ngx_strlen(what) + shm_zone->shm.name.len;

    shpool->log_ctx = ngx_slab_alloc(shpool, len);
    if (shpool->log_ctx == NULL) {
        return NULL;
    }

    ngx_sprintf(shpool->log_ctx, " in %s \"%V\"%Z", what,
                &shm_zone->shm.name);

    /* a full slab is normal in mall zones: callers evict and log */
    shpool->log_nomem = 0;

    return shpool;
}


/* Declares a zone of the generic store: see ngx_http_mall_shm_zone_declare */

ngx_shm_zone_t *
ngx_http_mall_shm_zone_add(ngx_conf_t *cf, ngx_str_t *value, void *tag)
{
    ngx_shm_zone_t       *shm_zone;
    ngx_http_mall_shm_t  *ctx;

    ctx = ngx_pcalloc(cf->pool, sizeof(ngx_http_mall_shm_t));
    if (ctx == NULL) {
        return NULL;
    }

    shm_zone = ngx_http_mall_shm_zone_declare(cf, value, tag,
                                              ngx_http_mall_shm_init_zone,
                                              ctx);
    if (shm_zone == NULL) {
        return NULL;
    }

    ctx->name = shm_zone->shm.name;

    return shm_zone;
}


static ngx_int_t
ngx_http_mall_shm_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_uint_t            fresh;
    ngx_http_mall_shm_t  *ctx;

    ctx = shm_zone->data;

    /* on reload with the same size: the state of the old cycle is kept */

    ctx->shpool = ngx_http_mall_shm_zone_pool(shm_zone, data,
                                              sizeof(ngx_http_mall_shm_sh_t),
                                              "mall zone", &fresh);
    if (ctx->shpool == NULL) {
        return NGX_ERROR;
    }

    ctx->sh = ctx->shpool->data;

    if (fresh) {
        ngx_rbtree_init(&ctx->sh->rbtree, &ctx->sh->sentinel,
                        ngx_http_mall_shm_rbtree_insert_value);

        ngx_queue_init(&ctx->sh->lru);
    }

    return NGX_OK;
}


static void
ngx_http_mall_shm_rbtree_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_int_t                  rc;
    ngx_rbtree_node_t        **p;
    ngx_http_mall_shm_node_t  *sn, *snt;

    for ( ;; ) {

        if (node->key < temp->key) {
            p = &temp->left;

        } else if (node->key > temp->key) {
            p = &temp->right;

        } else { /* node->key == temp->key */

            sn = (ngx_http_mall_shm_node_t *) node;
            snt = (ngx_http_mall_shm_node_t *) temp;

            rc = ngx_memn2cmp(sn->data, snt->data, sn->key_len,
                              snt->key_len);

            p = (rc < 0) ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


static ngx_http_mall_shm_node_t *
ngx_http_mall_shm_lookup(ngx_http_mall_shm_t *ctx, u_char *key, size_t klen,
    uint32_t hash)
{
    ngx_int_t                  rc;
    ngx_rbtree_node_t         *node, *sentinel;
    ngx_http_mall_shm_node_t  *sn;

    node = ctx->sh->rbtree.root;
    sentinel = ctx->sh->rbtree.sentinel;

    while (node != sentinel) {

        if (hash < node->key) {
            node = node->left;
            continue;
        }

        if (hash > node->key) {
            node = node->right;
            continue;
        }

        /* hash == node->key */

        sn = (ngx_http_mall_shm_node_t *) node;

        rc = ngx_memn2cmp(key, sn->data, klen, (size_t) sn->key_len);

        if (rc == 0) {
            return sn;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


/* lookup() for a live entry: an expired one is freed (and counted). */

static ngx_http_mall_shm_node_t *
ngx_http_mall_shm_lookup_live(ngx_http_mall_shm_t *ctx, u_char *key,
    size_t klen, uint32_t hash, uint64_t now)
{
    ngx_http_mall_shm_node_t  *sn;

    sn = ngx_http_mall_shm_lookup(ctx, key, klen, hash);

    if (sn && sn->expire && sn->expire <= now) {
        ctx->sh->expired++;
        ngx_http_mall_shm_free_node(ctx, sn);
        return NULL;
    }

    return sn;
}


static void
ngx_http_mall_shm_free_node(ngx_http_mall_shm_t *ctx,
    ngx_http_mall_shm_node_t *sn)
{
    ngx_queue_remove(&sn->queue);
    ngx_rbtree_delete(&ctx->sh->rbtree, &sn->node);
    ngx_slab_free_locked(ctx->shpool, sn);

    ctx->sh->entries--;

    if (sn->pinned) {
        ctx->sh->pinned--;
    }
}


/*
 * Frees the least recently used node. With expired_only set, frees it only
 * if it has expired. A pinned live node (a revocation) is not freed but
 * moved to the head, so cache churn cannot push a revocation out. Returns
 * 1 if the queue was worked on (a node freed or moved), 0 otherwise.
 */

static ngx_uint_t
ngx_http_mall_shm_evict_tail(ngx_http_mall_shm_t *ctx, uint64_t now,
    ngx_uint_t expired_only)
{
    ngx_queue_t               *q;
    ngx_http_mall_shm_node_t  *sn;

    if (ngx_queue_empty(&ctx->sh->lru)) {
        return 0;
    }

    q = ngx_queue_last(&ctx->sh->lru);
    sn = ngx_queue_data(q, ngx_http_mall_shm_node_t, queue);

    if (sn->expire && sn->expire <= now) {
        ctx->sh->expired++;

    } else if (expired_only) {
        return 0;

    } else if (sn->pinned) {
        ngx_queue_remove(&sn->queue);
        ngx_queue_insert_head(&ctx->sh->lru, &sn->queue);
        return 1;

    } else {
        ctx->sh->evictions++;
    }

    ngx_http_mall_shm_free_node(ctx, sn);

    return 1;
}


void
ngx_http_mall_shm_lock(ngx_shm_zone_t *zone)
{
    ngx_http_mall_shm_t  *ctx = zone->data;

    ngx_shmtx_lock(&ctx->shpool->mutex);
}


void
ngx_http_mall_shm_unlock(ngx_shm_zone_t *zone)
{
    ngx_http_mall_shm_t  *ctx = zone->data;

    ngx_shmtx_unlock(&ctx->shpool->mutex);
}


/*
 * Looks key up; the zone must be locked. An expired entry is freed and
 * reported absent. On a hit the entry moves to the LRU head and, if out is
 * not NULL, its value is copied to out (*outlen: in, the buffer size; out,
 * the value length). Returns NGX_OK, NGX_DECLINED (absent) or NGX_ERROR
 * (value larger than the buffer; *outlen is then the length needed).
 */

ngx_int_t
ngx_http_mall_shm_get_locked(ngx_shm_zone_t *zone, u_char *key, size_t klen,
    uint64_t now, u_char *out, size_t *outlen)
{
    uint32_t                   hash;
    ngx_http_mall_shm_t       *ctx;
    ngx_http_mall_shm_node_t  *sn;

    ctx = zone->data;
    hash = ngx_murmur_hash2(key, klen);

    sn = ngx_http_mall_shm_lookup_live(ctx, key, klen, hash, now);

    if (sn == NULL) {
        return NGX_DECLINED;
    }

    ngx_queue_remove(&sn->queue);
    ngx_queue_insert_head(&ctx->sh->lru, &sn->queue);

    if (out == NULL) {
        return NGX_OK;
    }

    if (sn->value_len > *outlen) {
        *outlen = sn->value_len;
        return NGX_ERROR;
    }

    ngx_memcpy(out, sn->data + sn->key_len, sn->value_len);
    *outlen = sn->value_len;

    return NGX_OK;
}


/*
 * Inserts or replaces key with value, expiring at expire (unix ms, 0 for
 * never); the zone must be locked. With NGX_HTTP_MALL_SHM_ADD_ONLY, a live
 * entry is left as it is and NGX_BUSY returned; NGX_HTTP_MALL_SHM_PINNED
 * entries leave only by expiry or deletion. When the slab is full, expired
 * and then least recently used entries are evicted (at most
 * NGX_HTTP_MALL_SHM_EVICT_MAX) and the allocation retried. Returns NGX_OK,
 * NGX_BUSY, or NGX_ERROR when the entry cannot fit (logged at alert).
 */

ngx_int_t
ngx_http_mall_shm_set_locked(ngx_shm_zone_t *zone, u_char *key, size_t klen,
    u_char *value, size_t vlen, uint64_t expire, uint64_t now,
    ngx_uint_t flags)
{
    uint32_t                   hash;
    ngx_http_mall_shm_t       *ctx;
    ngx_http_mall_shm_node_t  *sn;

    ctx = zone->data;

    if (klen == 0 || klen > NGX_HTTP_MALL_SHM_KEY_MAX
        || vlen > NGX_MAX_UINT32_VALUE)
    {
        return NGX_ERROR;
    }

    hash = ngx_murmur_hash2(key, klen);

    sn = ngx_http_mall_shm_lookup_live(ctx, key, klen, hash, now);

    if (sn) {
        if (flags & NGX_HTTP_MALL_SHM_ADD_ONLY) {
            return NGX_BUSY;
        }

        if (sn->value_len == vlen) {
            /* value may be NULL when vlen is 0 (memcpy must not see it) */
            if (vlen) {
                ngx_memcpy(sn->data + sn->key_len, value, vlen);
            }

            sn->expire = expire;
            ctx->sh->pinned -= sn->pinned;
            sn->pinned = (flags & NGX_HTTP_MALL_SHM_PINNED) ? 1 : 0;
            ctx->sh->pinned += sn->pinned;
            ngx_queue_remove(&sn->queue);
            ngx_queue_insert_head(&ctx->sh->lru, &sn->queue);
            return NGX_OK;
        }

        ngx_http_mall_shm_free_node(ctx, sn);
    }

    sn = ngx_http_mall_shm_alloc_node(ctx, key, klen, vlen, hash, now, flags);

    if (sn == NULL) {
        return NGX_ERROR;
    }

    sn->expire = expire;

    if (vlen) {
        ngx_memcpy(sn->data + klen, value, vlen);
    }

    return NGX_OK;
}


/*
 * Allocates and links a node for key (absent from the tree) with vlen
 * uninitialised value bytes and no expiry; the zone must be locked. When
 * the slab is full, expired and then least recently used entries are
 * evicted (at most NGX_HTTP_MALL_SHM_EVICT_MAX) and the allocation retried.
 * Returns NULL (logged at alert) when the entry cannot fit.
 */

static ngx_http_mall_shm_node_t *
ngx_http_mall_shm_alloc_node(ngx_http_mall_shm_t *ctx, u_char *key,
    size_t klen, size_t vlen, uint32_t hash, uint64_t now, ngx_uint_t flags)
{
    size_t                     n;
    ngx_uint_t                 i, level;
    ngx_http_mall_shm_node_t  *sn;

    /* opportunistic, bounded cleanup so expired entries do not pile up */

    for (i = 0; i < 2; i++) {
        if (ngx_http_mall_shm_evict_tail(ctx, now, 1) == 0) {
            break;
        }
    }

    n = offsetof(ngx_http_mall_shm_node_t, data) + klen + vlen;

    sn = ngx_slab_alloc_locked(ctx->shpool, n);

    for (i = 0; sn == NULL && i < NGX_HTTP_MALL_SHM_EVICT_MAX; i++) {

        if (ngx_http_mall_shm_evict_tail(ctx, now, 0) == 0) {
            break;
        }

        sn = ngx_slab_alloc_locked(ctx->shpool, n);
    }

    if (sn == NULL) {
        ctx->sh->failures++;
        level = (flags & NGX_HTTP_MALL_SHM_SOFT) ? NGX_LOG_INFO
                                                 : NGX_LOG_ALERT;
        ngx_log_error(level, ngx_cycle->log, 0,
                      "mall_shm: no room for an entry of %uz bytes "
                      "in zone \"%V\"", n, &ctx->name);
        return NULL;
    }

    sn->node.key = hash;
    sn->key_len = (u_short) klen;
    sn->value_len = (uint32_t) vlen;
    sn->expire = 0;
    sn->pinned = (flags & NGX_HTTP_MALL_SHM_PINNED) ? 1 : 0;

    ngx_memcpy(sn->data, key, klen);

    ngx_rbtree_insert(&ctx->sh->rbtree, &sn->node);
    ngx_queue_insert_head(&ctx->sh->lru, &sn->queue);

    ctx->sh->entries++;
    ctx->sh->pinned += sn->pinned;

    return sn;
}


/*
 * Looks key up like get_locked but returns the node itself (value at
 * ngx_http_mall_shm_value(sn), not aligned), for callers that copy a value
 * of unknown size or update it in place; the zone must be locked and the
 * pointer is valid only until it is unlocked. NULL when absent or expired.
 */

ngx_http_mall_shm_node_t *
ngx_http_mall_shm_find_locked(ngx_shm_zone_t *zone, u_char *key, size_t klen,
    uint64_t now)
{
    ngx_http_mall_shm_t       *ctx;
    ngx_http_mall_shm_node_t  *sn;

    ctx = zone->data;

    sn = ngx_http_mall_shm_lookup_live(ctx, key, klen,
                                       ngx_murmur_hash2(key, klen), now);

    if (sn == NULL) {
        return NULL;
    }

    ngx_queue_remove(&sn->queue);
    ngx_queue_insert_head(&ctx->sh->lru, &sn->queue);

    return sn;
}


/* Removes key; the zone must be locked. NGX_OK or NGX_DECLINED (absent). */

ngx_int_t
ngx_http_mall_shm_delete_locked(ngx_shm_zone_t *zone, u_char *key,
    size_t klen)
{
    ngx_http_mall_shm_t       *ctx;
    ngx_http_mall_shm_node_t  *sn;

    ctx = zone->data;

    sn = ngx_http_mall_shm_lookup(ctx, key, klen, ngx_murmur_hash2(key, klen));

    if (sn == NULL) {
        return NGX_DECLINED;
    }

    ngx_http_mall_shm_free_node(ctx, sn);

    return NGX_OK;
}


/*
 * Finds key, or creates it with vlen zeroed bytes, hashing the key once;
 * the zone must be locked. An expired entry, or one of another value size,
 * is replaced. *created tells a new (zeroed) value from an existing one.
 * The caller reads and updates the value in place (memcpy: it is not
 * aligned) and sets sn->expire before unlocking. Returns NULL when the key
 * is invalid or the entry cannot fit (logged).
 */

ngx_http_mall_shm_node_t *
ngx_http_mall_shm_upsert_locked(ngx_shm_zone_t *zone, u_char *key,
    size_t klen, size_t vlen, uint64_t now, ngx_uint_t flags,
    ngx_uint_t *created)
{
    uint32_t                   hash;
    ngx_http_mall_shm_t       *ctx;
    ngx_http_mall_shm_node_t  *sn;

    ctx = zone->data;

    if (klen == 0 || klen > NGX_HTTP_MALL_SHM_KEY_MAX
        || vlen > NGX_MAX_UINT32_VALUE)
    {
        return NULL;
    }

    hash = ngx_murmur_hash2(key, klen);

    sn = ngx_http_mall_shm_lookup_live(ctx, key, klen, hash, now);

    if (sn) {
        if (sn->value_len == vlen) {
            ngx_queue_remove(&sn->queue);
            ngx_queue_insert_head(&ctx->sh->lru, &sn->queue);
            *created = 0;
            return sn;
        }

        ngx_http_mall_shm_free_node(ctx, sn);
    }

    sn = ngx_http_mall_shm_alloc_node(ctx, key, klen, vlen, hash, now, flags);

    if (sn == NULL) {
        return NULL;
    }

    ngx_memzero(ngx_http_mall_shm_value(sn), vlen);
    *created = 1;

    return sn;
}


/*
 * Calls handler for each live node, most recently used first, until it
 * returns anything but NGX_OK; the zone must be locked. O(entries): for
 * admin endpoints, never the request path.
 */

void
ngx_http_mall_shm_walk_locked(ngx_shm_zone_t *zone, uint64_t now,
    ngx_http_mall_shm_walk_pt handler, void *data)
{
    ngx_queue_t               *q;
    ngx_http_mall_shm_t       *ctx;
    ngx_http_mall_shm_node_t  *sn;

    ctx = zone->data;

    for (q = ngx_queue_head(&ctx->sh->lru);
         q != ngx_queue_sentinel(&ctx->sh->lru);
         q = ngx_queue_next(q))
    {
        sn = ngx_queue_data(q, ngx_http_mall_shm_node_t, queue);

        if (sn->expire && sn->expire <= now) {
            continue;
        }

        if (handler(sn, data) != NGX_OK) {
            return;
        }
    }
}


/* ------------------------- locking wrappers ------------------------------ */


ngx_int_t
ngx_http_mall_shm_get(ngx_shm_zone_t *zone, u_char *key, size_t klen,
    uint64_t now, u_char *out, size_t *outlen)
{
    ngx_int_t  rc;

    ngx_http_mall_shm_lock(zone);
    rc = ngx_http_mall_shm_get_locked(zone, key, klen, now, out, outlen);
    ngx_http_mall_shm_unlock(zone);

    return rc;
}


ngx_int_t
ngx_http_mall_shm_set(ngx_shm_zone_t *zone, u_char *key, size_t klen,
    u_char *value, size_t vlen, uint64_t expire, uint64_t now)
{
    ngx_int_t  rc;

    ngx_http_mall_shm_lock(zone);
    rc = ngx_http_mall_shm_set_locked(zone, key, klen, value, vlen, expire,
                                      now, 0);
    ngx_http_mall_shm_unlock(zone);

    return rc;
}


/* Inserts only if absent or expired: NGX_OK, NGX_BUSY (present), NGX_ERROR */

ngx_int_t
ngx_http_mall_shm_add(ngx_shm_zone_t *zone, u_char *key, size_t klen,
    u_char *value, size_t vlen, uint64_t expire, uint64_t now)
{
    ngx_int_t  rc;

    ngx_http_mall_shm_lock(zone);
    rc = ngx_http_mall_shm_set_locked(zone, key, klen, value, vlen, expire,
                                      now, NGX_HTTP_MALL_SHM_ADD_ONLY);
    ngx_http_mall_shm_unlock(zone);

    return rc;
}


ngx_int_t
ngx_http_mall_shm_delete(ngx_shm_zone_t *zone, u_char *key, size_t klen)
{
    ngx_int_t  rc;

    ngx_http_mall_shm_lock(zone);
    rc = ngx_http_mall_shm_delete_locked(zone, key, klen);
    ngx_http_mall_shm_unlock(zone);

    return rc;
}
