
/*
 * The request-signature replay cache: a fixed hash table of nonce
 * fingerprints in a shm zone (mall_sign_zone name:size).
 *
 * Why not the generic store (ngx_http_mall_shm.h): every signed request
 * inserts a new, never re-read key, so a zone sized for a replay window
 * holds millions of them; an rbtree of that size costs ~20 cache misses per
 * insert plus an LRU eviction, which made the nonce insert the largest part
 * of a signed request. Here an insert touches two 64-byte buckets, whatever
 * the zone size, and an entry takes 16 bytes instead of ~128.
 *
 * A nonce is remembered until its timestamp leaves the window
 * (expire = timestamp + window + 1), so replay protection is exact as long
 * as the zone can hold every nonce accepted in 2 * window + 1 seconds:
 *
 *     size >= peak signed requests/s * (2 * window + 1) * 16 bytes * 1.25
 *
 * e.g. 1,000 signed requests/s with the default 300 s window need ~12 MB.
 * The table is cut in slices of NGX_HTTP_MALL_NONCE_SLICE_PAGES pages and a
 * nonce goes to the slice of its timestamp's second (modulo their number):
 * the nonces of one second, which is almost every request arriving in that
 * second, share a few hundred KB that stay in cache and in the TLB, instead
 * of a random page of the whole zone per request (a TLB miss, costly under
 * virtualisation). A replay carries the same signed timestamp, hence lands
 * in the same slice. A slice then holds the seconds that map to it, so the
 * rule above reads per second: peak rather than average rate.
 *
 * A smaller zone still works: when both buckets of a new nonce are full of
 * live entries, the one closest to expiry is dropped (O(1)), counted in
 * evictions and logged at warn once a minute with the size it needs.
 */


#ifndef _NGX_HTTP_MALL_NONCE_H_INCLUDED_
#define _NGX_HTTP_MALL_NONCE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


#define NGX_HTTP_MALL_NONCE_SLOTS  4          /* per 64-byte bucket */
#define NGX_HTTP_MALL_NONCE_SLICE_PAGES  64   /* 256 KB slices of 4 KB pages */


typedef struct {
    u_char                         fp[12];    /* 96 bits of the digest */
    uint32_t                       expire;    /* unix seconds; 0: free */
} ngx_http_mall_nonce_slot_t;


typedef struct {
    ngx_http_mall_nonce_slot_t     slot[NGX_HTTP_MALL_NONCE_SLOTS];
} ngx_http_mall_nonce_bucket_t;


typedef struct {
    u_char                         seed[16];  /* keys the fingerprints */
    ngx_uint_t                     nbuckets;  /* page_buckets * pages */
    ngx_uint_t                     page_buckets; /* a power of two */
    ngx_uint_t                     nslices;   /* by timestamp second */
    ngx_uint_t                     slice_buckets;
    ngx_http_mall_nonce_bucket_t  *buckets;

    /* counters for metrics; updated under the zone mutex */
    ngx_atomic_t                   inserts;   /* nonces recorded */
    ngx_atomic_t                   replays;   /* live nonces seen again */
    ngx_atomic_t                   evictions; /* live nonces dropped */
    time_t                         warned;    /* last "too small" warning */
} ngx_http_mall_nonce_sh_t;


/* shm_zone->data */
typedef struct {
    ngx_http_mall_nonce_sh_t      *sh;
    ngx_slab_pool_t               *shpool;
    ngx_str_t                      name;
    size_t                         size;
} ngx_http_mall_nonce_t;


/*
 * A nonce looked up in two steps: prepare hashes it and prefetches its two
 * buckets, so the memory loads overlap the caller's other work (the body
 * digest, the signature); add then checks and records it.
 */
typedef struct {
    u_char                         digest[32];
    ngx_uint_t                     idx[2];
} ngx_http_mall_nonce_ticket_t;


ngx_shm_zone_t *ngx_http_mall_nonce_zone_add(ngx_conf_t *cf,
    ngx_str_t *value, void *tag);
void ngx_http_mall_nonce_prepare(ngx_shm_zone_t *zone, u_char *key,
    size_t klen, u_char *nonce, size_t nlen, time_t when,
    ngx_http_mall_nonce_ticket_t *t);
ngx_int_t ngx_http_mall_nonce_add(ngx_shm_zone_t *zone,
    ngx_http_mall_nonce_ticket_t *t, time_t expire, time_t now);


#endif /* _NGX_HTTP_MALL_NONCE_H_INCLUDED_ */
