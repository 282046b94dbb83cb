
/*
 * The request-signature replay cache: a fixed hash table of nonce
 * fingerprints in a shm zone (mall_sign_zone name:size [per_user=N|N%|off]).
 *
 * Why not the generic store (ngx_http_mall_shm.h): every signed request
 * inserts a new, never re-read key, so a zone sized for a replay window
 * holds millions of them; an rbtree of that size costs ~20 cache misses per
 * insert plus an LRU eviction, which made the nonce insert the largest part
 * of a signed request. Here an insert touches two 64-byte buckets, whatever
 * the zone size, and an entry takes 16 bytes instead of ~128.
 *
 * A nonce is remembered until its timestamp leaves the window
 * (expire = timestamp + window + 1) and is never dropped before: replay
 * protection is exact. The zone must hold every nonce accepted in
 * 2 * window + 1 seconds:
 *
 *     size >= peak signed requests/s * (2 * window + 1) * 16 bytes * 1.3
 *
 * e.g. 1,000 signed requests/s with the default 300 s window need ~13 MB
 * (1/16 of the zone is the per-user table below).
 *
 * Where a nonce goes is a keyed hash: SHA-256(seed || sign key || nonce)
 * picks its slice (NGX_HTTP_MALL_NONCE_SLICE_PAGES pages), a bucket in it,
 * and a second bucket in the same page; the seed is random per zone
 * creation and lives in the zone, so it survives reloads and nobody
 * outside can aim nonces at another client's buckets. (Slices used to be
 * chosen by the timestamp's second, which the client picks: a few accounts
 * signing with a victim's timestamp filled the victim's slice and evicted
 * its live nonce, and the captured request replayed; issue 20, finding 4.)
 * The bucket loads are prefetched by ngx_http_mall_nonce_prepare() while
 * the body is hashed.
 *
 * When both buckets of a new nonce hold live nonces only, the request is
 * refused (fail closed: the caller answers 503 UNAVAILABLE with Retry-After,
 * the time until the first of them expires), counted in full and logged at
 * warn once a minute with the size the zone needs.
 *
 * So that one user cannot fill the zone and lock everyone else out, each
 * user (the token's sub) may hold at most per_user live nonces (default 1%
 * of the zone's capacity; "off" for none): a small keyed table of counters
 * counts the nonces a user got recorded in the current and the previous
 * period of 2 * window + 1 seconds (a superset of the user's live nonces;
 * conservative by at most one period). Over it the caller answers 429
 * RATE_LIMITED. Since placement is keyed, a user's share of any slice is
 * its share of the zone, give or take chance.
 */


#ifndef _NGX_HTTP_MALL_NONCE_H_INCLUDED_
#define _NGX_HTTP_MALL_NONCE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


#define NGX_HTTP_MALL_NONCE_SLOTS  4          /* per 64-byte bucket */
#define NGX_HTTP_MALL_NONCE_SLICE_PAGES  64   /* 256 KB slices of 4 KB pages */
#define NGX_HTTP_MALL_NONCE_USER_SLOTS  4     /* per 64-byte bucket */
#define NGX_HTTP_MALL_NONCE_USER_SHARE  16    /* 1 page in 16: user table */
#define NGX_HTTP_MALL_NONCE_PER_USER_PCT  1   /* default per_user: 1% */


typedef struct {
    u_char                         fp[12];    /* 96 bits of the digest */
    uint32_t                       expire;    /* unix seconds; 0: free */
} ngx_http_mall_nonce_slot_t;


typedef struct {
    ngx_http_mall_nonce_slot_t     slot[NGX_HTTP_MALL_NONCE_SLOTS];
} ngx_http_mall_nonce_bucket_t;


/* a user's recent nonces: in periods of 2 * window + 1 seconds */
typedef struct {
    uint32_t                       tag;       /* 32 bits of the user hash */
    uint32_t                       period;    /* now / period length */
    uint32_t                       cur;       /* recorded in period */
    uint32_t                       prev;      /* recorded in period - 1 */
} ngx_http_mall_nonce_user_t;


typedef struct {
    ngx_http_mall_nonce_user_t     user[NGX_HTTP_MALL_NONCE_USER_SLOTS];
} ngx_http_mall_nonce_ubucket_t;


typedef struct {
    u_char                         seed[16];  /* keys every hash */
    ngx_uint_t                     nbuckets;  /* page_buckets * pages */
    ngx_uint_t                     page_buckets; /* a power of two */
    ngx_uint_t                     nslices;   /* by keyed hash */
    ngx_uint_t                     slice_buckets;
    ngx_uint_t                     nubuckets; /* the per-user table */
    ngx_http_mall_nonce_bucket_t  *buckets;
    ngx_http_mall_nonce_ubucket_t *ubuckets;

    /* counters for metrics; updated under the zone mutex */
    ngx_atomic_t                   inserts;   /* nonces recorded */
    ngx_atomic_t                   replays;   /* live nonces seen again */
    ngx_atomic_t                   full;      /* refused: buckets full */
    ngx_atomic_t                   user_limited; /* refused: per_user */
    time_t                         warned;    /* last "too small" warning */
} ngx_http_mall_nonce_sh_t;


/* shm_zone->data */
typedef struct {
    ngx_http_mall_nonce_sh_t      *sh;
    ngx_slab_pool_t               *shpool;
    ngx_str_t                      name;
    size_t                         size;
    ngx_int_t                      per_user_conf; /* -1 default, 0 off */
    ngx_uint_t                     per_user_pct;  /* per_user_conf is % */
    ngx_uint_t                     per_user;  /* resolved; 0: unbounded */
} ngx_http_mall_nonce_t;


/*
 * A nonce looked up in two steps: prepare hashes it and prefetches its two
 * buckets, so the memory loads overlap the caller's other work (the body
 * digest, the signature); add then checks and records it.
 */
typedef struct {
    u_char                         digest[32];
    ngx_uint_t                     idx[2];
    ngx_uint_t                     uidx;      /* the user's counter bucket */
    uint32_t                       utag;
    time_t                         retry;     /* seconds, when refused */
} ngx_http_mall_nonce_ticket_t;


ngx_shm_zone_t *ngx_http_mall_nonce_zone_add(ngx_conf_t *cf,
    ngx_str_t *value, ngx_str_t *per_user, void *tag);
void ngx_http_mall_nonce_prepare(ngx_shm_zone_t *zone, u_char *key,
    size_t klen, u_char *nonce, size_t nlen, u_char *user, size_t ulen,
    ngx_http_mall_nonce_ticket_t *t);

/*
 * Records a prepared nonce until expire; lifetime is the longest a nonce
 * lives (2 * window + 1). NGX_OK: recorded; NGX_BUSY: a live nonce, a
 * replay; NGX_DECLINED: the user holds per_user live nonces already;
 * NGX_AGAIN: both buckets hold live nonces only (the zone is too small or
 * flooded); t->retry then says when to retry. NGX_ERROR otherwise.
 */
ngx_int_t ngx_http_mall_nonce_add(ngx_shm_zone_t *zone,
    ngx_http_mall_nonce_ticket_t *t, time_t expire, time_t now,
    time_t lifetime);


#endif /* _NGX_HTTP_MALL_NONCE_H_INCLUDED_ */
