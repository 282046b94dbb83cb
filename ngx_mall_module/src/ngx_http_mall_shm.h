
/*
 * A generic keyed store in a shared memory zone: slab + rbtree + LRU queue
 * with a per-entry expiry (the limit_req / lua shdict model). Every feature
 * (token cache, revocation deny set, nonce cache, later limits and catalog
 * cache) uses it with its own key prefix.
 */


#ifndef _NGX_HTTP_MALL_SHM_H_INCLUDED_
#define _NGX_HTTP_MALL_SHM_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


#define NGX_HTTP_MALL_SHM_KEY_MAX  512       /* bytes */

/* how many LRU tail entries one insert may evict to find room */
#define NGX_HTTP_MALL_SHM_EVICT_MAX  32

/* ngx_http_mall_shm_set_locked() flags */
#define NGX_HTTP_MALL_SHM_ADD_ONLY   0x01  /* keep a live entry: NGX_BUSY */
#define NGX_HTTP_MALL_SHM_PINNED     0x02  /* never evicted, only expired */
#define NGX_HTTP_MALL_SHM_SOFT       0x04  /* no room is normal: log info */


typedef struct {
    ngx_rbtree_node_t              node;      /* node.key: murmur2 of key */
    ngx_queue_t                    queue;     /* LRU: head = most recent */
    uint64_t                       expire;    /* unix time in ms; 0: never */
    uint32_t                       value_len; /* bytes */
    u_short                        key_len;   /* bytes */
    u_char                         pinned;    /* not evicted by LRU */
    u_char                         data[1];   /* key, then value */
} ngx_http_mall_shm_node_t;


typedef struct {
    ngx_rbtree_t                   rbtree;
    ngx_rbtree_node_t              sentinel;
    ngx_queue_t                    lru;

    /* counters for metrics; updated under the zone mutex */
    ngx_atomic_t                   entries;   /* live nodes */
    ngx_atomic_t                   evictions; /* LRU evictions (not expiry) */
    ngx_atomic_t                   expired;   /* nodes dropped as expired */
    ngx_atomic_t                   failures;  /* inserts that found no room */
    ngx_atomic_t                   pinned;    /* live pinned nodes */
} ngx_http_mall_shm_sh_t;


/* shm_zone->data; one per declaring directive and cycle */
typedef struct {
    ngx_http_mall_shm_sh_t        *sh;
    ngx_slab_pool_t               *shpool;
    ngx_str_t                      name;
} ngx_http_mall_shm_t;


/* a node's value: vlen bytes after the key (not aligned; see upsert) */
#define ngx_http_mall_shm_value(sn)  ((sn)->data + (sn)->key_len)


typedef ngx_int_t (*ngx_http_mall_shm_walk_pt)(ngx_http_mall_shm_node_t *sn,
    void *data);


ngx_shm_zone_t *ngx_http_mall_shm_zone_declare(ngx_conf_t *cf,
    ngx_str_t *value, void *tag, ngx_shm_zone_init_pt init, void *data);
ngx_slab_pool_t *ngx_http_mall_shm_zone_pool(ngx_shm_zone_t *shm_zone,
    void *data, size_t size, char *what, ngx_uint_t *fresh);
ngx_shm_zone_t *ngx_http_mall_shm_zone_add(ngx_conf_t *cf, ngx_str_t *value,
    void *tag);

void ngx_http_mall_shm_lock(ngx_shm_zone_t *zone);
void ngx_http_mall_shm_unlock(ngx_shm_zone_t *zone);

ngx_int_t ngx_http_mall_shm_get_locked(ngx_shm_zone_t *zone, u_char *key,
    size_t klen, uint64_t now, u_char *out, size_t *outlen);
ngx_int_t ngx_http_mall_shm_set_locked(ngx_shm_zone_t *zone, u_char *key,
    size_t klen, u_char *value, size_t vlen, uint64_t expire, uint64_t now,
    ngx_uint_t flags);
ngx_int_t ngx_http_mall_shm_delete_locked(ngx_shm_zone_t *zone, u_char *key,
    size_t klen);
ngx_http_mall_shm_node_t *ngx_http_mall_shm_find_locked(ngx_shm_zone_t *zone,
    u_char *key, size_t klen, uint64_t now);
ngx_http_mall_shm_node_t *ngx_http_mall_shm_upsert_locked(
    ngx_shm_zone_t *zone, u_char *key, size_t klen, size_t vlen,
    uint64_t now, ngx_uint_t flags, ngx_uint_t *created);
void ngx_http_mall_shm_walk_locked(ngx_shm_zone_t *zone, uint64_t now,
    ngx_http_mall_shm_walk_pt handler, void *data);

ngx_int_t ngx_http_mall_shm_get(ngx_shm_zone_t *zone, u_char *key,
    size_t klen, uint64_t now, u_char *out, size_t *outlen);
ngx_int_t ngx_http_mall_shm_set(ngx_shm_zone_t *zone, u_char *key,
    size_t klen, u_char *value, size_t vlen, uint64_t expire, uint64_t now);
ngx_int_t ngx_http_mall_shm_add(ngx_shm_zone_t *zone, u_char *key,
    size_t klen, u_char *value, size_t vlen, uint64_t expire, uint64_t now);
ngx_int_t ngx_http_mall_shm_delete(ngx_shm_zone_t *zone, u_char *key,
    size_t klen);


#endif /* _NGX_HTTP_MALL_SHM_H_INCLUDED_ */
