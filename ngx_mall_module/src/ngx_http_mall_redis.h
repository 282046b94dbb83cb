
/*
 * Redis stream followers on nginx's event loop. In one nginx worker
 * (ngx_worker == 0) a hiredis async context, driven by an ngx_connection_t
 * around its socket, polls the followed streams with a non-blocking
 * "XREAD COUNT n STREAMS key... id..." every interval (one command in
 * flight) and hands each entry to the follower's handler. The last id read
 * is kept in a shm zone so a reload resumes where the old worker stopped.
 * Reconnects with backoff; logs an outage once.
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


typedef struct {
    ngx_str_t                      host;      /* NUL-terminated */
    ngx_int_t                      port;      /* 0: no mall_redis */
    ngx_msec_t                     interval;  /* poll period, ms */
    ngx_msec_t                     timeout;   /* connect / reply, ms */
    ngx_uint_t                     count;     /* XREAD COUNT */
    ngx_array_t                   *streams;   /* ngx_http_mall_stream_t */
} ngx_http_mall_redis_conf_t;


char *ngx_http_mall_redis(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);

ngx_int_t ngx_http_mall_redis_follow(ngx_conf_t *cf,
    ngx_http_mall_redis_conf_t *rcf, ngx_str_t *key,
    ngx_http_mall_stream_handler_pt handler, void *data,
    ngx_shm_zone_t *zone);

ngx_int_t ngx_http_mall_redis_init_process(ngx_cycle_t *cycle,
    ngx_http_mall_redis_conf_t *rcf);
void ngx_http_mall_redis_exit_process(ngx_cycle_t *cycle);

/* binds a hiredis redisAsyncContext * to nginx's event loop */
ngx_int_t ngx_http_mall_redis_attach(void *ac, ngx_log_t *log);


#endif /* _NGX_HTTP_MALL_REDIS_H_INCLUDED_ */
