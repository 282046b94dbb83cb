
/*
 * Redis on nginx's event loop, in one nginx worker (ngx_worker == 0).
 *
 * The client: a hiredis async context driven by an ngx_connection_t around
 * its socket, with the connect and reply deadlines on nginx timers (hiredis
 * 0.14 has no async timeouts), reconnect with backoff, an outage logged
 * once and a notice when it ends. Its owner sends one batch of commands per
 * tick; the next tick comes once every reply of the batch is in.
 *
 * The stream follower, one such client: polls the followed streams with a
 * non-blocking "XREAD COUNT n STREAMS key... id..." every interval and
 * hands each entry to the follower's handler. The last id read is kept in
 * a shm zone so a reload resumes where the old worker stopped. The rate
 * limit syncer (ngx_http_mall_limit_sync.c) is the other client.
 *
 * With "sentinel=h:p[,h:p] master=NAME" every connect first asks a
 * Sentinel (round robin) for the primary, on the same loop and under the
 * same deadline (ngx_http_mall_redis_sentinel.c); the first batch on a
 * new connection, and one a second after, is a ROLE check, so a client
 * left on an old primary that came back as a replica moves on within a
 * second. A failure of any kind asks the Sentinels again.
 */


#ifndef _NGX_HTTP_MALL_REDIS_H_INCLUDED_
#define _NGX_HTTP_MALL_REDIS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


#define NGX_HTTP_MALL_STREAM_ID_MAX   48     /* "ms-seq" of a stream id */
#define NGX_HTTP_MALL_STREAM_FIELDS   32     /* fields (pairs) per entry */


/* One stream entry: fields[2 * i] is a name, fields[2 * i + 1] its value. */
typedef void (*ngx_http_mall_stream_handler_pt)(void *data, ngx_str_t *id,
    ngx_str_t *fields, ngx_uint_t nfields, ngx_log_t *log);


typedef struct {
    ngx_str_t                          key;       /* stream key */
    ngx_http_mall_stream_handler_pt    handler;
    void                              *data;
    ngx_shm_zone_t                    *zone;      /* keeps the last id */
    u_char                             last_id[NGX_HTTP_MALL_STREAM_ID_MAX];
    size_t                             last_id_len;
} ngx_http_mall_stream_t;


#define NGX_HTTP_MALL_REDIS_HOST_MAX  64


typedef struct {
    ngx_str_t                      host;      /* NUL-terminated */
    ngx_int_t                      port;
} ngx_http_mall_redis_addr_t;


typedef struct {
    ngx_str_t                      host;      /* NUL-terminated */
    ngx_int_t                      port;      /* 0: no mall_redis */
    ngx_array_t                   *sentinels; /* _addr_t; NULL: none */
    ngx_str_t                      master;    /* NUL-terminated */
    ngx_msec_t                     interval;  /* poll period, ms */
    ngx_msec_t                     timeout;   /* connect / reply, ms */
    ngx_uint_t                     count;     /* XREAD COUNT */
    ngx_array_t                   *streams;   /* ngx_http_mall_stream_t */
} ngx_http_mall_redis_conf_t;


struct redisAsyncContext;

typedef struct ngx_http_mall_redis_client_s  ngx_http_mall_redis_client_t;

/* connected and idle: send the tick's batch with _client_command() */
typedef void (*ngx_http_mall_redis_tick_pt)(ngx_http_mall_redis_client_t *cl);

/* hiredis's redisCallbackFn; ac->data is the client */
typedef void (*ngx_http_mall_redis_reply_pt)(struct redisAsyncContext *ac,
    void *reply, void *privdata);


struct ngx_http_mall_redis_client_s {
    struct redisAsyncContext      *ac;        /* NULL: not connected */
    ngx_http_mall_redis_conf_t    *conf;      /* host, port, timeout */
    ngx_log_t                     *log;
    ngx_http_mall_redis_tick_pt    tick;
    void                          *data;      /* the owner */

    /* set by the owner after _client_init(): how the log speaks of it */
    const char                    *name;      /* "mall_redis" */
    const char                    *peer;      /* before host:port, or "" */
    const char                    *outage;    /* what an outage means */
    ngx_str_t                      detail;    /* after "connected to ..." */
    ngx_msec_t                     backoff_max;

    ngx_event_t                    timer;     /* next tick or reconnect */
    ngx_event_t                    deadline;  /* connect or replies */
    ngx_msec_t                     backoff;
    ngx_msec_t                     next;      /* idle time after a batch */
    ngx_uint_t                     pending;   /* replies due */

    /* the server in use: conf's, or the primary a Sentinel named */
    u_char                         host[NGX_HTTP_MALL_REDIS_HOST_MAX];
    ngx_int_t                      port;
    struct redisAsyncContext      *sac;       /* Sentinel query */
    ngx_uint_t                     sentinel_next;
    ngx_msec_t                     role_at;   /* next ROLE check due */
    unsigned                       primary_known:1;
    unsigned                       primary_logged:1;
    unsigned                       checking:1; /* sac: a check only */

    unsigned                       active:1;
    unsigned                       connected:1;
    unsigned                       down_logged:1;
    unsigned                       exiting:1;
    unsigned                       metrics:1; /* feeds mall_metrics */
};


char *ngx_http_mall_redis(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);

ngx_int_t ngx_http_mall_redis_follow(ngx_conf_t *cf,
    ngx_http_mall_redis_conf_t *rcf, ngx_str_t *key,
    ngx_http_mall_stream_handler_pt handler, void *data,
    ngx_shm_zone_t *zone);

ngx_int_t ngx_http_mall_redis_init_process(ngx_cycle_t *cycle,
    ngx_http_mall_redis_conf_t *rcf);
void ngx_http_mall_redis_exit_process(ngx_cycle_t *cycle);

void ngx_http_mall_redis_client_init(ngx_http_mall_redis_client_t *cl,
    ngx_cycle_t *cycle, ngx_http_mall_redis_conf_t *conf, const char *name,
    ngx_http_mall_redis_tick_pt tick, void *data);
ngx_int_t ngx_http_mall_redis_client_command(ngx_http_mall_redis_client_t *cl,
    ngx_http_mall_redis_reply_pt handler, void *privdata, int argc,
    const char **argv, const size_t *argvlen);
ngx_int_t ngx_http_mall_redis_client_reply(ngx_http_mall_redis_client_t *cl,
    struct redisAsyncContext *ac);
void ngx_http_mall_redis_client_fail(ngx_http_mall_redis_client_t *cl,
    const char *why);
void ngx_http_mall_redis_client_exit(ngx_http_mall_redis_client_t *cl);

/* the client's own connect step, after a Sentinel named the primary */
void ngx_http_mall_redis_connect(ngx_http_mall_redis_client_t *cl);
ngx_int_t ngx_http_mall_redis_attach(struct redisAsyncContext *ac,
    ngx_log_t *log);

/* ngx_http_mall_redis_sentinel.c */
char *ngx_http_mall_redis_sentinel_conf(ngx_conf_t *cf,
    ngx_http_mall_redis_conf_t *rcf, ngx_str_t *value);
void ngx_http_mall_redis_sentinel_query(ngx_http_mall_redis_client_t *cl);
void ngx_http_mall_redis_sentinel_drop(ngx_http_mall_redis_client_t *cl);
ngx_int_t ngx_http_mall_redis_role_due(ngx_http_mall_redis_client_t *cl);


#endif /* _NGX_HTTP_MALL_REDIS_H_INCLUDED_ */
