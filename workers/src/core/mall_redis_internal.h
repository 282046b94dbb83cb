/*
 * Between the parts of the Redis client: batches and the public calls
 * (mall_redis.c), connections (mall_redis_conn.c), blocking mode for tools
 * (mall_redis_blocking.c). Not for other callers.
 */
#ifndef MALL_REDIS_INTERNAL_H
#define MALL_REDIS_INTERNAL_H

#include <event2/util.h>
#include <hiredis/async.h>

#include "mall_fiber.h"
#include "mall_redis.h"

/* One connection to Redis: shared (pipelined) or exclusive (WATCH). */
typedef struct mall_redis_conn_s {
    mall_redis_t        *r;
    redisAsyncContext   *ac;
    struct event        *retry;          /* reconnect timer */
    int64_t              next_attempt_ms;
    int                  backoff_ms;
    int                  failures;       /* in a row, since last up */
    int                  up;             /* connect callback said OK */
    int                  exclusive;
    mall_fiber_t        *holder;         /* exclusive: who has it */
    unsigned             watching:1;
    unsigned             in_multi:1;
    unsigned             txn_lost:1;     /* dropped under its holder */
} mall_redis_conn_t;

/* mall_redis_conn.c */
void redis_conn_open(mall_redis_conn_t *c);
void redis_conn_drop(mall_redis_conn_t *c, const char *why);
void redis_conn_close(mall_redis_conn_t *c);
int redis_conn_ready(mall_redis_conn_t *c, mall_err_t *err);
void redis_conn_retry_cb(evutil_socket_t fd, short what, void *arg);
int redis_batch_leaves_txn(const mall_redis_cmd_t *cmds, size_t n,
    unsigned *watching, unsigned *in_multi);
mall_redis_conn_t *redis_txn_acquire(mall_redis_t *r, mall_fiber_t *self,
    mall_err_t *err);
void redis_txn_release(mall_redis_conn_t *c);
void redis_fiber_exit(mall_fiber_t *f);
/* hiredis frees a reply once its callback returns: keep this one */
void redis_reply_steal(void *reply);


/* mall_redis_sentinel.c */
int redis_primary_ready(mall_redis_t *r);
void redis_primary_lost(mall_redis_t *r, const char *why);
void redis_role_check(mall_redis_conn_t *c);
int redis_sentinel_blocking(mall_redis_t *r, mall_err_t *err);
int redis_sentinel_attach(mall_redis_t *r);
void redis_sentinel_close(mall_redis_t *r);
int redis_reply_readonly(const redisReply *rep);

int mall_redis_blocking_pipeline(mall_redis_t *r, size_t n,
    const mall_redis_cmd_t *cmds, redisReply **replies, mall_err_t *err);
void mall_redis_blocking_close(mall_redis_t *r);

#endif
