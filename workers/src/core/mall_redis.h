/*
 * One blocking hiredis connection per worker child, with reconnect and
 * backoff. A NULL reply means the context is dead (hiredis README): it is
 * freed and the next command reconnects; while reconnecting fails, calls
 * return MALL_RETRY at once until the backoff delay has passed.
 */
#ifndef MALL_REDIS_H
#define MALL_REDIS_H

#include <stddef.h>
#include <stdint.h>
#include <hiredis/hiredis.h>

#include "mall_common.h"

typedef struct {
    redisContext  *c;
    char           host[256];
    int            port;
    int            timeout_ms;
    int64_t        next_attempt_ms;   /* monotonic ms; 0 = now */
    int            backoff_ms;        /* next delay after a failure */
} mall_redis_t;

/* One command of a pipeline: argc arguments with explicit lengths. */
typedef struct {
    int            argc;
    const char   **argv;
    const size_t  *argvlen;
} mall_redis_cmd_t;

void mall_redis_init(mall_redis_t *r, const char *host, int port,
    int timeout_ms);
void mall_redis_close(mall_redis_t *r);

/* Connects unless connected; MALL_OK or MALL_RETRY. May block timeout_ms. */
int mall_redis_connect(mall_redis_t *r, mall_err_t *err);

/*
 * Runs one command. MALL_OK: *reply is set (never an error reply) and the
 * caller frees it with freeReplyObject. MALL_ERR: Redis answered an error
 * (message in err). MALL_RETRY: the connection is down.
 */
int mall_redis_command(mall_redis_t *r, redisReply **reply, mall_err_t *err,
    int argc, const char **argv, const size_t *argvlen);

/*
 * Sends n commands in one round trip and reads n replies into replies[]
 * (each freed by the caller; error replies are kept as they are, so check
 * ->type). MALL_OK, or MALL_RETRY with every replies[i] NULL.
 */
int mall_redis_pipeline(mall_redis_t *r, size_t n,
    const mall_redis_cmd_t *cmds, redisReply **replies, mall_err_t *err);

/*
 * The value of field name in an HGETALL array reply (name, value, ...),
 * or NULL when absent or arr is not an array.
 */
const redisReply *mall_redis_hash_field(const redisReply *arr,
    const char *name);

/* Frees replies[0..n) (NULL entries skipped) and sets them to NULL. */
void mall_redis_free_replies(redisReply **replies, size_t n);

/* MALL_OK when PING answers PONG, else MALL_RETRY / MALL_ERR. */
int mall_redis_ping(mall_redis_t *r, mall_err_t *err);

#endif
