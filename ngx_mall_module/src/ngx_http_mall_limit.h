
/*
 * Rate limits at the edge: GCRA (lib/mall_gcra.h) on state kept in the
 * generic shm store (ngx_http_mall_shm.h), shared by all workers, surviving
 * reloads, LRU-evicted when a zone fills. Limits keyed by anything that is
 * known before auth run in PREACCESS; limits keyed by $mall_* auth variables
 * (or phase=access) run in ACCESS right after the token check. The CC guard
 * (ngx_http_mall_ban.h) shares the zones and the counters.
 */


#ifndef _NGX_HTTP_MALL_LIMIT_H_INCLUDED_
#define _NGX_HTTP_MALL_LIMIT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <mall_gcra.h>
#include <mall_rlsync.h>


#define NGX_HTTP_MALL_LIMIT_PREACCESS  0
#define NGX_HTTP_MALL_LIMIT_ACCESS     1

/* $mall_limit_status, by increasing precedence */
#define NGX_HTTP_MALL_LIMIT_NONE       0
#define NGX_HTTP_MALL_LIMIT_PASSED     1
#define NGX_HTTP_MALL_LIMIT_DRY_RUN    2
#define NGX_HTTP_MALL_LIMIT_EXEMPT     3
#define NGX_HTTP_MALL_LIMIT_REJECTED   4


#define ngx_http_mall_isalnum(c)                                              \
    (((c) >= '0' && (c) <= '9') || (((c) | 0x20) >= 'a' && ((c) | 0x20) <= 'z'))


/*
 * Counters of a zone, resident in the zone itself (a pinned store entry)
 * so every worker, the status endpoint and a metrics exporter read the same
 * figures. Requests, not bytes; updated with ngx_atomic_fetch_add.
 */
typedef struct {
    ngx_atomic_t                   passed;     /* checks admitted */
    ngx_atomic_t                   rejected;   /* checks refused */
    ngx_atomic_t                   dry_run;    /* would have been refused */
    ngx_atomic_t                   exempt;     /* requests from exempt CIDRs */
    ngx_atomic_t                   banned;     /* requests refused by a ban */
    ngx_atomic_t                   bans;       /* bans issued */
} ngx_http_mall_limit_stats_t;


/* A mall_limit_zone, by name; referenced by limits and CC guards. */
typedef struct {
    ngx_str_t                      name;
    ngx_shm_zone_t                *shm_zone;
    ngx_http_mall_limit_stats_t   *stats;      /* in shm; found lazily */
    u_char                        *file;       /* first reference, for */
    ngx_uint_t                     line;       /* "unknown zone" errors */
} ngx_http_mall_limit_zone_t;


/* value of a limit's store entry (copied with memcpy: not aligned in shm) */
typedef struct {
    int64_t                        tat;       /* GCRA ticks, see mall_gcra.h */
    uint64_t                       count;     /* the rate's count: rescaling */
} ngx_http_mall_limit_state_t;


/* value of a sync=redis limit's entry; times are unix ms */
typedef struct {
    ngx_http_mall_limit_state_t    base;
    uint64_t                       pending;   /* own admits not yet sent */
    uint64_t                       pend_win;  /* window of the first one */
    uint64_t                       win;       /* window read last, 0: none */
    uint64_t                       remote;    /* others' total in win */
    uint64_t                       queued;    /* ring generation, 0: not */
} ngx_http_mall_limit_sync_state_t;


/* One mall_limit directive. */
typedef struct {
    ngx_str_t                      name;       /* key prefix, header item */
    ngx_http_mall_limit_zone_t    *zone;
    ngx_http_complex_value_t       key;
    ngx_int_t                      key_index;  /* key is one $var; or -1 */
    mall_gcra_t                    gcra;
    ngx_str_t                      policy;     /* "name";q=..;w=.. */
    ngx_str_t                      item;       /* "name";r= (RateLimit) */
    ngx_uint_t                     phase;
    ngx_flag_t                     dry_run;
    ngx_flag_t                     sync;       /* sync=redis */
    ngx_uint_t                     sync_index; /* in the sync registry */
    uint64_t                       window_ms;  /* sync: mall_rlsync.h */
} ngx_http_mall_limit_t;


/*
 * A sync=redis limit, once per name (the Redis keys use the name): what
 * the syncer in worker 0 needs. See ngx_http_mall_limit_sync.c.
 */
typedef struct {
    ngx_str_t                      name;
    ngx_str_t                      zone_name;
    ngx_shm_zone_t                *zone;      /* resolved at init_main_conf */
    mall_gcra_t                    gcra;
    uint64_t                       window_ms;
} ngx_http_mall_limit_sync_limit_t;


/* mall_limit_sync, and the registry of sync=redis limits */
typedef struct {
    ngx_msec_t                     interval;  /* 0: default */
    ngx_uint_t                     batch;     /* keys per tick; 0: default */
    ngx_str_t                      node;      /* field in the Redis hashes */
    ngx_array_t                   *limits;    /* _sync_limit_t */
    ngx_shm_zone_t                *ring;      /* keys waiting for a sync */
    u_char                        *file;      /* first sync=redis, for */
    ngx_uint_t                     line;      /* config errors */
} ngx_http_mall_limit_sync_conf_t;


typedef struct ngx_http_mall_cc_s  ngx_http_mall_cc_t;


typedef struct {
    ngx_array_t                   *zones;      /* ngx_http_mall_limit_zone_t */
    ngx_http_mall_limit_sync_conf_t  sync;
} ngx_http_mall_limit_main_conf_t;


typedef struct {
    ngx_array_t                   *limits;     /* ngx_http_mall_limit_t */
    ngx_array_t                   *exempt;     /* ngx_cidr_t */
    ngx_http_mall_cc_t            *cc;         /* mall_cc_guard */
    ngx_flag_t                     dry_run;
    ngx_flag_t                     headers;    /* RateLimit fields */
    ngx_int_t                      status;     /* 400..599 */
    ngx_uint_t                     log_level;
    ngx_uint_t                     nphase[2];  /* limits per phase */
} ngx_http_mall_limit_loc_conf_t;


/* The outcome of one applied limit, for the RateLimit header fields. */
typedef struct {
    ngx_http_mall_limit_t         *limit;
    uint64_t                       remaining;
    uint64_t                       reset_s;
    ngx_uint_t                     charged;    /* state advanced */
} ngx_http_mall_limit_result_t;


/* Per-request state (inside ngx_http_mall_ctx_t). */
typedef struct {
    ngx_http_mall_limit_result_t  *results;
    ngx_uint_t                     nresults;
    ngx_uint_t                     nalloc;
    ngx_uint_t                     status;     /* NGX_HTTP_MALL_LIMIT_* */
    unsigned                       preaccess_done:1;
    unsigned                       access_done:1;
    unsigned                       quiet:1;    /* mall_limit_headers off */
} ngx_http_mall_limit_ctx_t;


typedef struct ngx_http_mall_ctx_s  ngx_http_mall_ctx_t;


char *ngx_http_mall_limit_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_mall_limit(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_http_mall_limit_exempt(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

extern ngx_conf_num_bounds_t  ngx_http_mall_limit_status_bounds;
extern ngx_conf_enum_t        ngx_http_mall_limit_log_levels[];

void ngx_http_mall_limit_create_loc_conf(
    ngx_http_mall_limit_loc_conf_t *conf);
char *ngx_http_mall_limit_merge_loc_conf(ngx_conf_t *cf,
    ngx_http_mall_limit_loc_conf_t *prev,
    ngx_http_mall_limit_loc_conf_t *conf);
char *ngx_http_mall_limit_init_main_conf(ngx_conf_t *cf,
    ngx_http_mall_limit_main_conf_t *lmcf);

ngx_http_mall_limit_zone_t *ngx_http_mall_limit_get_zone(ngx_conf_t *cf,
    ngx_str_t *name);
ngx_int_t ngx_http_mall_limit_parse_rate(ngx_conf_t *cf, ngx_str_t *value,
    char *directive, char *rate_hint, uint64_t *count, uint64_t *period,
    ngx_int_t *burst);
ngx_http_mall_limit_stats_t *ngx_http_mall_limit_stats_locked(
    ngx_http_mall_limit_zone_t *lz);

ngx_int_t ngx_http_mall_limit_handler(ngx_http_request_t *r,
    ngx_http_mall_ctx_t *ctx, ngx_uint_t phase);
ngx_int_t ngx_http_mall_limit_reject(ngx_http_request_t *r,
    ngx_uint_t status, uint64_t retry_ms);
ngx_int_t ngx_http_mall_limit_headers(ngx_http_request_t *r);

char *ngx_http_mall_cc_guard(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_http_mall_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
ngx_int_t ngx_http_mall_cc_handler(ngx_http_request_t *r,
    ngx_http_mall_limit_loc_conf_t *lcf);
void ngx_http_mall_cc_count_exempt(ngx_http_mall_cc_t *cc);
ngx_uint_t ngx_http_mall_cc_bans_locked(ngx_http_mall_limit_zone_t *lz,
    uint64_t now);

char *ngx_http_mall_limit_sync(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_mall_limit_sync_register(ngx_conf_t *cf,
    ngx_http_mall_limit_t *limit, ngx_str_t *zone);
char *ngx_http_mall_limit_sync_init_main_conf(ngx_conf_t *cf,
    ngx_http_mall_limit_main_conf_t *lmcf);
void ngx_http_mall_limit_sync_mark(ngx_http_mall_limit_sync_conf_t *scf,
    ngx_http_mall_limit_t *limit, void *state, u_char *key, size_t len,
    uint64_t now, ngx_uint_t admitted);
size_t ngx_http_mall_limit_state_size(ngx_http_mall_limit_t *limit);
ngx_int_t ngx_http_mall_limit_sync_init_process(ngx_cycle_t *cycle,
    ngx_http_mall_limit_sync_conf_t *scf, ngx_http_mall_redis_conf_t *rcf);
void ngx_http_mall_limit_sync_exit_process(ngx_cycle_t *cycle);
ngx_atomic_uint_t ngx_http_mall_limit_sync_dropped(
    ngx_http_mall_limit_sync_conf_t *scf);

ngx_int_t ngx_http_mall_limit_status_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


#endif /* _NGX_HTTP_MALL_LIMIT_H_INCLUDED_ */
