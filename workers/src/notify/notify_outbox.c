/*
 * The notification outbox and its job (see notify.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mall_job.h"
#include "mall_log.h"
#include "notify.h"
#include "notify_send.h"

#define OUTBOX_BATCH     "20"
#define INFLIGHT_MS      60000        /* a claim this old is taken over */
#define MSG_TTL          "2592000"    /* 30 days */

struct notify_job_s {
    mall_job_t  *job;
    mall_ctx_t   ctx;
};


void
notify_batch_event(mall_batch_t *b, notify_event_e ev, const char *oid)
{
    char  m[64], now[24];

    snprintf(m, sizeof(m), "%s:%s", notify_event_name(ev), oid);
    snprintf(now, sizeof(now), "%lld", (long long) mall_wall_ms());
    mall_batch_addl(b, 5, "ZADD", NOTIFY_KEY_OUTBOX, "NX", now, m);
}


/* MULTI { ZREM from m; ZADD to score m }: 1 when this process moved it. */
static int
move(mall_ctx_t *ctx, const char *from, const char *to, int64_t score,
    const char *m, mall_err_t *err)
{
    mall_batch_t   b;
    redisReply    *exec;
    char           s[24];
    int            rc, won;

    snprintf(s, sizeof(s), "%lld", (long long) score);
    mall_batch_init(&b);
    mall_batch_addl(&b, 3, "ZREM", from, m);
    mall_batch_addl(&b, 4, "ZADD", to, s, m);
    rc = mall_batch_exec(&b, ctx->redis, 1, &exec, err);
    mall_batch_free(&b);
    if (rc != MALL_OK) {
        return -1;
    }
    won = exec->elements > 0 && exec->element[0]->type == REDIS_REPLY_INTEGER
          && exec->element[0]->integer == 1;
    freeReplyObject(exec);
    return won;
}


/* Ends message m (outcome recorded) or puts it back for a retry. */
static void
settle(notify_job_t *j, const char *m, const notify_result_t *res)
{
    mall_batch_t   b;
    redisReply    *exec;
    mall_err_t     err;
    char           key[96], code[24], att[24], at[24], due[24];
    int64_t        delay;

    snprintf(key, sizeof(key), NOTIFY_KEY_MSG, m);
    snprintf(code, sizeof(code), "%ld", res->errcode);
    snprintf(att, sizeof(att), "%d", res->attempts);
    snprintf(at, sizeof(at), "%lld", (long long) time(NULL));
    mall_batch_init(&b);
    mall_batch_addl(&b, 3, "ZREM", NOTIFY_KEY_INFLIGHT, m);
    mall_batch_addl(&b, 12, "HSET", key, "status", res->status, "errcode",
                    code, "attempts", att, "at", at, "detail", res->detail);
    mall_batch_addl(&b, 3, "EXPIRE", key, MSG_TTL);
    if (strcmp(res->status, "retry") == 0) {
        delay = 1000LL << (res->attempts < 16 ? res->attempts : 16);
        snprintf(due, sizeof(due), "%lld",
                 (long long) (mall_wall_ms() + delay));
        mall_batch_addl(&b, 4, "ZADD", NOTIFY_KEY_OUTBOX, due, m);
    }
    if (mall_batch_exec(&b, j->ctx.redis, 1, &exec, &err) == MALL_OK) {
        freeReplyObject(exec);
    }
    mall_batch_free(&b);
}


static int
run_queue(notify_job_t *j, const char *src, int64_t max, mall_err_t *err)
{
    notify_result_t   res;
    redisReply       *ids;
    char              smax[24];
    size_t            i;
    int               rc, won;

    snprintf(smax, sizeof(smax), "%lld", (long long) max);
    rc = mall_cmd(j->ctx.redis, &ids, err, 7, "ZRANGEBYSCORE", src, "-inf",
                  smax, "LIMIT", "0", OUTBOX_BATCH);
    if (rc != MALL_OK) {
        return rc;
    }
    for (i = 0; ids->type == REDIS_REPLY_ARRAY && i < ids->elements; i++) {
        const char  *m = ids->element[i]->str;

        won = move(&j->ctx, src, NOTIFY_KEY_INFLIGHT, mall_wall_ms(), m, err);
        if (won < 0) {
            rc = MALL_RETRY;
            break;
        }
        if (!won) {
            continue;               /* another process has it */
        }
        notify_send(&j->ctx, m, &res);
        settle(j, m, &res);
        if (strcmp(res.status, "sent") == 0) {
            mall_log(MALL_LOG_INFO, "notify", "%s sent", m);
        } else {
            mall_log(MALL_LOG_WARN, "notify", "%s: %s (errcode %ld, %s)", m,
                     res.status, res.errcode, res.detail);
        }
    }
    freeReplyObject(ids);
    return rc;
}


static void
notify_tick(void *arg)
{
    notify_job_t  *j = arg;
    mall_err_t     err;
    int            rc;

    err.msg[0] = '\0';
    rc = run_queue(j, NOTIFY_KEY_OUTBOX, mall_wall_ms(), &err);
    if (rc == MALL_OK) {
        /* claims whose process died before settling */
        rc = run_queue(j, NOTIFY_KEY_INFLIGHT, mall_wall_ms() - INFLIGHT_MS,
                       &err);
    }
    if (rc == MALL_ERR) {
        mall_log(MALL_LOG_WARN, "notify", "outbox: %s", err.msg);
    }
}


notify_job_t *
notify_job_start(struct event_base *base, const mall_conf_t *conf,
    mall_redis_t *redis)
{
    notify_job_t  *j;

    j = calloc(1, sizeof(*j));
    if (j == NULL) {
        return NULL;
    }
    mall_ctx_background(&j->ctx, conf, redis, "notify");
    j->job = mall_job_every(base, 500, "notify outbox", notify_tick, j);
    if (j->job == NULL) {
        free(j);
        return NULL;
    }
    return j;
}


void
notify_job_stop(notify_job_t *j)
{
    if (j != NULL) {
        mall_job_stop(j->job);
        free(j);
    }
}
