/*
 * Redis client, blocking mode (see mall_redis.h): one redisContext with a
 * connect and command timeout, reconnect with backoff. Only for processes
 * without an event loop (mall-seed) and checks before the loop starts;
 * a worker process never reaches it once mall_redis_attach has run.
 */
#include <stdio.h>
#include <string.h>

#include "mall_log.h"
#include "mall_redis_internal.h"

#define REDIS_BACKOFF_MIN_MS  50
#define REDIS_BACKOFF_MAX_MS  2000


void
mall_redis_blocking_close(mall_redis_t *r)
{
    if (r->c != NULL) {
        redisFree(r->c);
        r->c = NULL;
    }
}


/* Drops a dead context; the next call reconnects right away. */
static void
redis_drop(mall_redis_t *r, const char *why)
{
    mall_log(MALL_LOG_WARN, "redis", "connection to %s:%d lost: %s",
             r->host, r->port, why);
    mall_redis_blocking_close(r);
    r->primary_known = r->ha.nsentinels == 0;     /* ask again */
}


int
mall_redis_connect(mall_redis_t *r, mall_err_t *err)
{
    struct timeval  tv;
    int64_t         now;

    if (r->c != NULL) {
        return MALL_OK;
    }

    now = mall_mono_ms();
    if (now < r->next_attempt_ms) {
        mall_err_set(err, 503, "redis down, retry in %d ms",
                     (int) (r->next_attempt_ms - now));
        return MALL_RETRY;
    }

    if (redis_sentinel_blocking(r, err) != MALL_OK) {
        r->next_attempt_ms = now + REDIS_BACKOFF_MIN_MS;
        return MALL_RETRY;
    }

    tv.tv_sec = r->timeout_ms / 1000;
    tv.tv_usec = (r->timeout_ms % 1000) * 1000;

    r->c = redisConnectWithTimeout(r->host, r->port, tv);
    if (r->c == NULL || r->c->err) {
        mall_err_set(err, 503, "connect %s:%d: %s", r->host, r->port,
                     r->c != NULL ? r->c->errstr : "out of memory");
        mall_redis_blocking_close(r);
        r->primary_known = r->ha.nsentinels == 0;

        r->backoff_ms = r->backoff_ms == 0 ? REDIS_BACKOFF_MIN_MS
                                           : r->backoff_ms * 2;
        if (r->backoff_ms > REDIS_BACKOFF_MAX_MS) {
            r->backoff_ms = REDIS_BACKOFF_MAX_MS;
        }
        r->next_attempt_ms = now + r->backoff_ms;
        mall_log(MALL_LOG_WARN, "redis", "%s (next attempt in %d ms)",
                 err != NULL ? err->msg : "connect failed", r->backoff_ms);
        return MALL_RETRY;
    }

    if (redisSetTimeout(r->c, tv) != REDIS_OK) {
        mall_err_set(err, 503, "redis set timeout failed");
        mall_redis_blocking_close(r);
        return MALL_RETRY;
    }
    mall_set_cloexec(r->c->fd);

    r->backoff_ms = 0;
    r->next_attempt_ms = 0;
    mall_log(MALL_LOG_INFO, "redis", "connected to %s:%d", r->host,
             r->port);
    return MALL_OK;
}


int
mall_redis_blocking_pipeline(mall_redis_t *r, size_t n,
    const mall_redis_cmd_t *cmds, redisReply **replies, mall_err_t *err)
{
    size_t  i;
    void   *rep;

    if (mall_redis_connect(r, err) != MALL_OK) {
        return MALL_RETRY;
    }

    for (i = 0; i < n; i++) {
        if (redisAppendCommandArgv(r->c, cmds[i].argc, cmds[i].argv,
                                   cmds[i].argvlen) != REDIS_OK)
        {
            goto dead;
        }
    }

    for (i = 0; i < n; i++) {
        rep = NULL;
        if (redisGetReply(r->c, &rep) != REDIS_OK || rep == NULL) {
            goto dead;
        }
        replies[i] = rep;
    }

    return MALL_OK;

dead:
    mall_err_set(err, 503, "redis: %s", r->c->errstr);
    redis_drop(r, r->c->errstr);
    mall_redis_free_replies(replies, n);
    return MALL_RETRY;
}
