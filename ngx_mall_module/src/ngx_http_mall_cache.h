
/*
 * Catalog cache, and a shared HTTP cache (RFC 9111) for any proxied
 * location: GET/HEAD responses kept in a shm zone (the generic keyed store
 * of ngx_http_mall_shm.h) and served in PRECONTENT without touching the
 * origin. A miss falls through to proxy_pass; a header + body filter store
 * the answer as it streams to the client (the srcache model). Freshness
 * comes from the response (ngx_http_mall_cache_fresh.c); stale entries
 * are revalidated with their validators, served while one background
 * subrequest refreshes them, or while the origin fails. Entries carry
 * Surrogate-Key tags; a purge (Redis stream mall:purge, or POST
 * /cache/purge) deletes every entry of a tag.
 *
 * Files: _cache.c lookup, _conf.c directives, _serve.c sending an entry,
 * _fill.c filters, _policy.c what is stored, _fresh.c freshness, _cond.c
 * conditional requests, _vary.c variants, _invalidate.c unsafe methods,
 * _key.c keys, _purge.c tags and purge.
 *
 * Keys inside a cache zone, by first byte:
 *   'e' + cache key  -> ngx_http_mall_cache_entry_t + content type + headers
 *                       + body + gzip body; expires when no stale use is
 *                       left (kept mall_cache_keep to revalidate when it
 *                       has validators); or, with F_VARY, a variant list
 *   'e' + cache key + 0 + gen + md5 -> one variant (ngx_http_mall_cache_vary.c)
 *   'f' + cache key  -> (empty) a request is filling the key: others wait
 *   't' + tag        -> ngx_http_mall_cache_tag_t + ('e' keys, u16 length
 *                       prefixed); pinned, expires with its last entry
 *   'c'              -> ngx_http_mall_cache_stats_t (pinned, never expires)
 *   's' + stream key -> last mall:purge id read (ngx_http_mall_redis.c)
 */


#ifndef _NGX_HTTP_MALL_CACHE_H_INCLUDED_
#define _NGX_HTTP_MALL_CACHE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <mall_http_cache_parse.h>
#include <mall_http_cache_key.h>


/* X-Mall-Cache values */
#define NGX_HTTP_MALL_CACHE_NONE      0
#define NGX_HTTP_MALL_CACHE_MISS      1
#define NGX_HTTP_MALL_CACHE_HIT       2
#define NGX_HTTP_MALL_CACHE_STALE     3
#define NGX_HTTP_MALL_CACHE_UPDATING  4
#define NGX_HTTP_MALL_CACHE_BYPASS    5
#define NGX_HTTP_MALL_CACHE_REVALIDATED  6

#define NGX_HTTP_MALL_CACHE_TAG_MAX   65536   /* bytes of keys per tag */
#define NGX_HTTP_MALL_CACHE_TAGS_MAX  64      /* tags per entry */
#define NGX_HTTP_MALL_CACHE_POLL      5       /* ms between lock polls */


/* Counters of one zone, in the zone: events since the zone was created. */
typedef struct {
    ngx_atomic_t                   hits;
    ngx_atomic_t                   misses;
    ngx_atomic_t                   stale;      /* stale served (SWR, SIE) */
    ngx_atomic_t                   updating;   /* stale, refresh under way */
    ngx_atomic_t                   bypass;
    ngx_atomic_t                   stores;     /* entries written */
    ngx_atomic_t                   refreshes;  /* background refreshes */
    ngx_atomic_t                   purges;     /* purge requests/events */
    ngx_atomic_t                   purged;     /* entries deleted by purge */
    ngx_atomic_t                   purge_seq;  /* bumped under the lock */
} ngx_http_mall_cache_stats_t;


/* The value of an 'e' node (copied with memcpy: not aligned in shm). */
typedef struct {
    uint64_t                       fresh;      /* unix ms: HIT until */
    uint64_t                       swr;        /* unix ms: STALE + refresh */
    uint64_t                       sie;        /* unix ms: STALE on error */
    uint64_t                       updating;   /* unix ms; 0: no refresh */
    uint64_t                       stored;     /* unix ms: response time */
    uint32_t                       age;        /* ms: corrected initial age */
    uint32_t                       status;
    uint32_t                       flags;      /* NGX_HTTP_MALL_CACHE_F_* */
    uint32_t                       ctype_len;  /* bytes */
    uint32_t                       headers_len;
    uint32_t                       body_len;
    uint32_t                       gzip_len;   /* 0: no gzip copy */
    uint32_t                       magic;      /* this layout */
} ngx_http_mall_cache_entry_t;

/* an entry of another layout (a module upgraded by reload) is a miss */
#define NGX_HTTP_MALL_CACHE_MAGIC      0x4d433032  /* "MC02" */

#define NGX_HTTP_MALL_CACHE_F_NOCACHE  0x01  /* revalidate every use */
#define NGX_HTTP_MALL_CACHE_F_MUST     0x02  /* never served stale */
#define NGX_HTTP_MALL_CACHE_F_SHARED   0x04  /* reusable with Authorization */
#define NGX_HTTP_MALL_CACHE_F_ETAG     0x08
#define NGX_HTTP_MALL_CACHE_F_LASTMOD  0x10
#define NGX_HTTP_MALL_CACHE_F_ENCODED  0x20  /* stored content-encoded */
#define NGX_HTTP_MALL_CACHE_F_VARY     0x40  /* a variant list, no body */
#define NGX_HTTP_MALL_CACHE_F_SMAXAGE  0x80  /* s-maxage: no client max-stale */

#define NGX_HTTP_MALL_CACHE_F_VALIDATORS                                     \
    (NGX_HTTP_MALL_CACHE_F_ETAG|NGX_HTTP_MALL_CACHE_F_LASTMOD)


/* The cache-control directives for this cache (lib/mall_http_cache_parse.h). */
typedef mall_http_cache_cc_t  ngx_http_mall_cache_cc_t;


/* An entry copied out of the zone, split into its parts. */
typedef struct {
    ngx_http_mall_cache_entry_t    e;
    ngx_str_t                      ctype;
    ngx_str_t                      headers;
    ngx_str_t                      body;
    ngx_uint_t                     gzip;
    ngx_uint_t                     not_modified;  /* answer 304 */
} ngx_http_mall_cache_resp_t;


typedef struct {
    ngx_str_t                      name;
    ngx_shm_zone_t                *zone;
    size_t                         max_entry;  /* bytes of body */
    ngx_http_mall_cache_stats_t   *stats;      /* in the zone; per process */
} ngx_http_mall_cache_zone_t;


typedef struct ngx_http_mall_cache_loc_conf_s  ngx_http_mall_cache_loc_conf_t;


typedef struct {
    ngx_array_t                      *zones;   /* cache zones */
    ngx_http_mall_cache_loc_conf_t   *keys;    /* http{} key rules */
} ngx_http_mall_cache_main_conf_t;


struct ngx_http_mall_cache_loc_conf_s {
    ngx_http_mall_cache_zone_t    *zone;       /* NULL: off */
    ngx_http_mall_cache_zone_t    *purge;      /* mall_cache_purge handler */
    ngx_http_complex_value_t      *key;        /* NULL: normalized URI */
    ngx_array_t                   *ignore_args;  /* ngx_str_t, '*' suffix */
    ngx_array_t                   *default_args; /* ngx_keyval_t */
    time_t                         valid;      /* seconds */
    time_t                         swr;        /* seconds */
    time_t                         sie;        /* seconds */
    ngx_msec_t                     lock_timeout;
    ngx_flag_t                     status_header;
    ngx_uint_t                     heuristic;  /* percent; 0: off */
    time_t                         heuristic_max;
    ngx_array_t                   *targeted;   /* ngx_str_t; NULL: off */
    ngx_uint_t                     set_cookie; /* 1: store */
    ngx_uint_t                     max_variants;
    ngx_flag_t                     ranges;
    time_t                         keep;       /* s: stale kept to revalidate */
};


/*
 * Per-request cache state (ngx_http_mall_ctx_t.cache). A background
 * refresh subrequest has its own, with refresh set.
 */
typedef struct {
    ngx_http_request_t            *request;    /* the owner */
    ngx_http_mall_cache_zone_t    *czone;
    ngx_str_t                      key;        /* 'e' + cache key [+ variant] */
    ngx_str_t                      base;       /* 'e' + cache key */
    ngx_uint_t                     state;      /* NGX_HTTP_MALL_CACHE_* */
    ngx_atomic_uint_t              seq;        /* purge_seq at fill start */
    ngx_msec_t                     deadline;   /* end of the lock wait */

    /* location settings, kept for error_page locations */
    ngx_http_mall_cache_loc_conf_t *conf;
    time_t                         valid;
    time_t                         swr;
    time_t                         sie;
    ngx_msec_t                     lock_timeout;
    ngx_flag_t                     status_header;

    /*
     * an entry copy: served if the workers fail (stale-if-error), or after
     * a 304 to the conditional request made to revalidate it
     */
    u_char                        *stale;
    size_t                         stale_len;
    uint64_t                       stale_sie;  /* unix ms: usable on error */
    ngx_str_t                      swap_body;  /* the stale body sent */

    /* the response being stored */
    ngx_str_t                      tags;
    ngx_str_t                      vary_names; /* "" : no variants */
    ngx_str_t                      ctype;
    ngx_str_t                      headers;
    ngx_http_mall_cache_entry_t    entry;      /* freshness, status, flags */
    int64_t                        origin_age; /* s: its Age; -1: invalid */
    uint64_t                       expire;     /* unix ms: node expiry */
    ngx_chain_t                   *body;
    ngx_chain_t                  **last;
    size_t                         body_len;

    unsigned                       filler:1;   /* holds the 'f' lock */
    unsigned                       storing:1;
    unsigned                       refresh:1;  /* background subrequest */
    unsigned                       swap:1;     /* 5xx replaced by stale */
    unsigned                       swap_sent:1;
    unsigned                       served:1;   /* answered from the zone */
    unsigned                       waiting:1;
    unsigned                       revalidate:1; /* conditional sent */
    unsigned                       invalidate:1; /* unsafe method */
} ngx_http_mall_cache_ctx_t;


char *ngx_http_mall_cache_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_mall_cache(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_http_mall_cache_purge(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_mall_cache_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_mall_cache_args(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_mall_cache_defaults(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_mall_cache_heuristic(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_mall_cache_targeted(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

void ngx_http_mall_cache_create_loc_conf(
    ngx_http_mall_cache_loc_conf_t *conf);
char *ngx_http_mall_cache_merge_loc_conf(ngx_conf_t *cf,
    ngx_http_mall_cache_loc_conf_t *prev,
    ngx_http_mall_cache_loc_conf_t *conf);
ngx_int_t ngx_http_mall_cache_init(ngx_conf_t *cf);

ngx_int_t ngx_http_mall_cache_handler(ngx_http_request_t *r);

/* ngx_http_mall_cache.c */
void ngx_http_mall_cache_unlock_fill(ngx_http_mall_cache_ctx_t *ctx,
    ngx_uint_t locked);
ngx_http_mall_cache_ctx_t *ngx_http_mall_cache_get_ctx(
    ngx_http_request_t *r);

/* ngx_http_mall_cache_serve.c */
u_char *ngx_http_mall_cache_copy(ngx_pool_t *pool, u_char *v,
    ngx_http_mall_cache_entry_t *e, ngx_int_t variant, size_t *len);
void ngx_http_mall_cache_parse(u_char *p, ngx_http_mall_cache_resp_t *resp,
    ngx_uint_t full, ngx_uint_t gzip);
ngx_int_t ngx_http_mall_cache_send(ngx_http_request_t *r,
    ngx_http_mall_cache_ctx_t *ctx, ngx_http_mall_cache_resp_t *resp);
ngx_int_t ngx_http_mall_cache_set_headers(ngx_http_request_t *r,
    ngx_http_mall_cache_ctx_t *ctx, ngx_http_mall_cache_resp_t *resp);
ngx_uint_t ngx_http_mall_cache_accepts(ngx_http_request_t *r,
    u_char *coding, size_t len);
ngx_int_t ngx_http_mall_cache_state_header(ngx_http_request_t *r,
    ngx_uint_t state);

/* ngx_http_mall_cache_invalidate.c */
void ngx_http_mall_cache_invalidate(ngx_http_request_t *r,
    ngx_http_mall_cache_ctx_t *ctx);

/* ngx_http_mall_cache_vary.c */
ngx_int_t ngx_http_mall_cache_vary_names(ngx_pool_t *pool, ngx_str_t *headers,
    ngx_str_t *names);
ngx_int_t ngx_http_mall_cache_vary_select_locked(ngx_http_request_t *r,
    ngx_http_mall_cache_ctx_t *ctx, u_char *v, uint64_t now);
ngx_int_t ngx_http_mall_cache_vary_store_locked(ngx_http_request_t *r,
    ngx_http_mall_cache_ctx_t *ctx, u_char *v, size_t vlen, uint64_t now,
    ngx_str_t *key);

/* ngx_http_mall_cache_fill.c */
void ngx_http_mall_cache_filter_init(void);

/* ngx_http_mall_cache_policy.c */
ngx_int_t ngx_http_mall_cache_policy(ngx_http_request_t *r,
    ngx_http_mall_cache_ctx_t *ctx);
ngx_int_t ngx_http_mall_cache_merge_304(ngx_http_request_t *r,
    ngx_http_mall_cache_ctx_t *ctx, ngx_http_mall_cache_resp_t *stored);
ngx_int_t ngx_http_mall_cache_header_next(u_char **p, u_char *last,
    ngx_str_t *key, ngx_str_t *value);
ngx_int_t ngx_http_mall_cache_header_find(ngx_str_t *headers, char *name,
    size_t len, ngx_str_t *value);

/* ngx_http_mall_cache_fresh.c */
void ngx_http_mall_cache_cc_read(ngx_http_mall_cache_loc_conf_t *conf,
    ngx_str_t *headers, ngx_http_mall_cache_cc_t *cc);
ngx_int_t ngx_http_mall_cache_freshness(ngx_http_request_t *r,
    ngx_http_mall_cache_ctx_t *ctx, ngx_http_mall_cache_cc_t *cc,
    ngx_str_t *headers, ngx_uint_t status, ngx_http_mall_cache_entry_t *e,
    uint64_t *expire);
void ngx_http_mall_cache_request_cc(ngx_http_request_t *r,
    ngx_http_mall_cache_cc_t *cc);
ngx_uint_t ngx_http_mall_cache_request_fits(ngx_http_mall_cache_cc_t *cc,
    ngx_http_mall_cache_entry_t *e, uint64_t now);
ngx_uint_t ngx_http_mall_cache_request_stale_ok(ngx_http_mall_cache_cc_t *cc,
    ngx_http_mall_cache_entry_t *e, uint64_t now);
int64_t ngx_http_mall_cache_origin_age(ngx_http_request_t *r);
uint64_t ngx_http_mall_cache_current_age(ngx_http_mall_cache_entry_t *e,
    uint64_t now);

/* ngx_http_mall_cache_cond.c */
ngx_int_t ngx_http_mall_cache_not_modified(ngx_http_request_t *r,
    ngx_http_mall_cache_resp_t *resp);
ngx_int_t ngx_http_mall_cache_origin_headers(ngx_http_request_t *r,
    ngx_list_t *out, ngx_http_mall_cache_resp_t *stored);

/* ngx_http_mall_cache_key.c */
ngx_int_t ngx_http_mall_cache_key(ngx_pool_t *pool,
    ngx_http_mall_cache_loc_conf_t *conf, ngx_str_t *path, ngx_str_t *args,
    ngx_str_t *key);

/* ngx_http_mall_cache_purge.c */
ngx_http_mall_cache_stats_t *ngx_http_mall_cache_stats(
    ngx_http_mall_cache_zone_t *czone);
ngx_int_t ngx_http_mall_cache_index_locked(ngx_http_mall_cache_zone_t *czone,
    ngx_pool_t *pool, ngx_str_t *key, ngx_str_t *tags, uint64_t expire,
    uint64_t now);
ngx_uint_t ngx_http_mall_cache_purge_tag_locked(
    ngx_http_mall_cache_zone_t *czone, ngx_pool_t *pool, u_char *tag,
    size_t len, uint64_t now);
void ngx_http_mall_cache_purge_event(void *data, ngx_str_t *id,
    ngx_str_t *fields, ngx_uint_t nfields, ngx_log_t *log);
ngx_int_t ngx_http_mall_cache_purge_handler(ngx_http_request_t *r);


#endif /* _NGX_HTTP_MALL_CACHE_H_INCLUDED_ */
