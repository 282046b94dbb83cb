/*
 * hiredis wrapper (see mall_redis.h).
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "mall_log.h"
#include "mall_redis.h"

#define REDIS_BACKOFF_MIN_MS  50
#define REDIS_BACKOFF_MAX_MS  2000


void
mall_redis_init(mall_redis_t *r, const char *host, int port, int timeout_ms)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->host, sizeof(r->host), "%s", host);
    r->port = port;
    r->timeout_ms = timeout_ms;
}


void
mall_redis_close(mall_redis_t *r)
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
    mall_redis_close(r);
}


int
mall_redis_connect(mall_redis_t *r, mall_err_t *err)
{
    struct timeval  tv;
    int64_t         now;
    int             flags;

    if (r->c != NULL) {
        return MALL_OK;
    }

    now = mall_mono_ms();
    if (now < r->next_attempt_ms) {
        mall_err_set(err, 503, "redis down, retry in %d ms",
                     (int) (r->next_attempt_ms - now));
        return MALL_RETRY;
    }

    tv.tv_sec = r->timeout_ms / 1000;
    tv.tv_usec = (r->timeout_ms % 1000) * 1000;

    r->c = redisConnectWithTimeout(r->host, r->port, tv);
    if (r->c == NULL || r->c->err) {
        mall_err_set(err, 503, "connect %s:%d: %s", r->host, r->port,
                     r->c != NULL ? r->c->errstr : "out of memory");
        mall_redis_close(r);

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
        mall_redis_close(r);
        return MALL_RETRY;
    }

    /* children never exec, but keep the socket out of anything they run */
    flags = fcntl(r->c->fd, F_GETFD);
    if (flags != -1) {
        fcntl(r->c->fd, F_SETFD, flags | FD_CLOEXEC);
    }

    r->backoff_ms = 0;
    r->next_attempt_ms = 0;
    mall_log(MALL_LOG_INFO, "redis", "connected to %s:%d", r->host,
             r->port);
    return MALL_OK;
}


int
mall_redis_command(mall_redis_t *r, redisReply **reply, mall_err_t *err,
    int argc, const char **argv, const size_t *argvlen)
{
    redisReply  *rep;

    *reply = NULL;

    if (mall_redis_connect(r, err) != MALL_OK) {
        return MALL_RETRY;
    }

    rep = redisCommandArgv(r->c, argc, argv, argvlen);
    if (rep == NULL) {
        mall_err_set(err, 503, "redis: %s", r->c->errstr);
        redis_drop(r, r->c->errstr);
        return MALL_RETRY;
    }

    if (rep->type == REDIS_REPLY_ERROR) {
        mall_err_set(err, 500, "redis %s: %s", argv[0], rep->str);
        freeReplyObject(rep);
        return MALL_ERR;
    }

    *reply = rep;
    return MALL_OK;
}


int
mall_redis_pipeline(mall_redis_t *r, size_t n, const mall_redis_cmd_t *cmds,
    redisReply **replies, mall_err_t *err)
{
    size_t  i;
    void   *rep;

    for (i = 0; i < n; i++) {
        replies[i] = NULL;
    }

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


void
mall_redis_free_replies(redisReply **replies, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (replies[i] != NULL) {
            freeReplyObject(replies[i]);
            replies[i] = NULL;
        }
    }
}


const redisReply *
mall_redis_hash_field(const redisReply *arr, const char *name)
{
    size_t  i;

    if (arr->type != REDIS_REPLY_ARRAY) {
        return NULL;
    }
    for (i = 0; i + 1 < arr->elements; i += 2) {
        if (arr->element[i]->type == REDIS_REPLY_STRING
            && strcmp(arr->element[i]->str, name) == 0)
        {
            return arr->element[i + 1];
        }
    }
    return NULL;
}


int
mall_redis_ping(mall_redis_t *r, mall_err_t *err)
{
    static const char  *argv[] = { "PING" };
    static const size_t argvlen[] = { 4 };
    redisReply         *rep;
    int                 rc;

    rc = mall_redis_command(r, &rep, err, 1, argv, argvlen);
    if (rc != MALL_OK) {
        return rc;
    }

    rc = (rep->type == REDIS_REPLY_STATUS && strcmp(rep->str, "PONG") == 0)
         ? MALL_OK : mall_err_set(err, 500, "unexpected PING reply");
    freeReplyObject(rep);
    return rc;
}
