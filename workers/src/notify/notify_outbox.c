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
#define LEASE_MS         60000        /* a claim this old is taken over */
#define LEASE_PX         "60000"
#define BACKOFF_MAX_MS   3600000LL
#define MSG_TTL          "2592000"    /* 30 days */

struct notify_job_s {
    mall_job_t  *job;
    mall_ctx_t   ctx;
};


void
notify_batch_event(mall_batch_t *b, notify_event_e ev, const char *oid,
    const char *ref)
{
    char  m[NOTIFY_MSG_MAX], now[24];

    if (ref != NULL) {
        snprintf(m, sizeof(m), "%s:%s:%s", notify_event_name(ev), oid, ref);
    } else {
        snprintf(m, sizeof(m), "%s:%s", notify_event_name(ev), oid);
    }
    snprintf(now, sizeof(now), "%lld", (long long) mall_wall_ms());
    mall_batch_addl(b, 5, "ZADD", NOTIFY_KEY_OUTBOX, "NX", now, m);
}


/*
 * Takes message m for this process: the claim (SET NX with a lease), then
 * a check that m is still due (another process may have settled it just
 * before), then its due time pushed past the lease, so the next ticks do
 * not list it while it is being sent. 1 when taken, 0 when not, -1 when
 * Redis failed.
 */
static int
claim(mall_ctx_t *ctx, const char *m, int64_t now, mall_err_t *err)
{
    redisReply  *r;
    char         key[NOTIFY_MSG_MAX + 32], s[24];
    int          won;

    snprintf(key, sizeof(key), NOTIFY_KEY_CLAIM, m);
    if (mall_cmd(ctx->redis, &r, err, 6, "SET", key, "1", "NX", "PX",
                 LEASE_PX) != MALL_OK)
    {
        return -1;
    }
    won = r->type == REDIS_REPLY_STATUS;
    freeReplyObject(r);
    if (!won) {
        return 0;
    }
    if (mall_cmd(ctx->redis, &r, err, 3, "ZSCORE", NOTIFY_KEY_OUTBOX, m)
        != MALL_OK)
    {
        return -1;
    }
    won = r->type == REDIS_REPLY_STRING && strtoll(r->str, NULL, 10) <= now;
    freeReplyObject(r);
    if (won) {
        snprintf(s, sizeof(s), "%lld", (long long) (now + LEASE_MS));
        if (mall_cmd(ctx->redis, &r, err, 5, "ZADD", NOTIFY_KEY_OUTBOX, "XX",
                     s, m) != MALL_OK)
        {
            return -1;
        }
        freeReplyObject(r);
        return 1;
    }
    if (mall_cmd(ctx->redis, &r, err, 2, "DEL", key) == MALL_OK) {
        freeReplyObject(r);
    }
    return 0;
}


/* Ends message m (outcome recorded) or puts it back for a retry. */
static void
settle(notify_job_t *j, const char *m, const notify_result_t *res)
{
    const notify_conf_t  *c = &j->ctx.conf->notify;
    mall_batch_t          b;
    redisReply           *exec;
    mall_err_t            err;
    char                  key[NOTIFY_MSG_MAX + 32], code[24], att[24];
    char                  at[24], due[24];
    int64_t               delay;
    int                   shift;

    snprintf(key, sizeof(key), NOTIFY_KEY_MSG, m);
    snprintf(code, sizeof(code), "%ld", res->errcode);
    snprintf(att, sizeof(att), "%d", res->attempts);
    snprintf(at, sizeof(at), "%lld", (long long) time(NULL));
    mall_batch_init(&b);
    mall_batch_addl(&b, 12, "HSET", key, "status", res->status, "errcode",
                    code, "attempts", att, "at", at, "detail", res->detail);
    mall_batch_addl(&b, 3, "EXPIRE", key, MSG_TTL);
    if (strcmp(res->status, "retry") == 0) {
        shift = res->attempts > 1 ? res->attempts - 1 : 0;
        delay = (int64_t) c->retry_base_ms << (shift < 20 ? shift : 20);
        if (delay > BACKOFF_MAX_MS) {
            delay = BACKOFF_MAX_MS;
        }
        snprintf(due, sizeof(due), "%lld",
                 (long long) (mall_wall_ms() + delay));
        mall_batch_addl(&b, 4, "ZADD", NOTIFY_KEY_OUTBOX, due, m);
    } else {
        mall_batch_addl(&b, 3, "ZREM", NOTIFY_KEY_OUTBOX, m);
    }
    snprintf(key, sizeof(key), NOTIFY_KEY_CLAIM, m);
    mall_batch_addl(&b, 2, "DEL", key);
    if (mall_batch_exec(&b, j->ctx.redis, 1, &exec, &err) == MALL_OK) {
        freeReplyObject(exec);
    } else {
        /* the lease runs out and the message is sent again */
        mall_log(MALL_LOG_WARN, "notify", "%s: cannot settle: %s", m,
                 err.msg);
    }
    mall_batch_free(&b);
}


static void
notify_tick(void *arg)
{
    notify_job_t     *j = arg;
    notify_result_t   res;
    redisReply       *ids;
    mall_err_t        err;
    char              smax[24];
    int64_t           now;
    size_t            i;
    int               won;

    err.msg[0] = '\0';
    now = mall_wall_ms();
    snprintf(smax, sizeof(smax), "%lld", (long long) now);
    if (mall_cmd(j->ctx.redis, &ids, &err, 7, "ZRANGEBYSCORE",
                 NOTIFY_KEY_OUTBOX, "-inf", smax, "LIMIT", "0", OUTBOX_BATCH)
        != MALL_OK)
    {
        return;                         /* Redis down: the next tick */
    }
    for (i = 0; ids->type == REDIS_REPLY_ARRAY && i < ids->elements; i++) {
        const char  *m = ids->element[i]->str;

        if (ids->element[i]->type != REDIS_REPLY_STRING
            || strlen(m) >= NOTIFY_MSG_MAX)
        {
            continue;
        }
        won = claim(&j->ctx, m, now, &err);
        if (won < 0) {
            break;
        }
        if (!won) {
            continue;                   /* another process has it */
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
