/*
 * The order timer (see order_expiry.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "mall_batch.h"
#include "mall_job.h"
#include "mall_log.h"
#include "mall_metrics.h"
#include "mall_query.h"
#include "stock.h"
#include "order_expiry.h"
#include "order_store.h"
#include "pay_close.h"

#define EXPIRY_BATCH       50
#define EXPIRY_CLAIM_MS    30000      /* a claim this old is taken over */
#define EXPIRY_RESYNC      10

struct order_expiry_s {
    mall_job_t    *job;
    mall_ctx_t     ctx;               /* conf + redis; no request */
};


/* ZRANGEBYSCORE key -inf max LIMIT 0 n into *r (caller frees). */
static int
due(order_expiry_t *x, const char *key, int64_t max, int n, redisReply **r,
    mall_err_t *err)
{
    char  smax[24], sn[16];

    snprintf(smax, sizeof(smax), "%lld", (long long) max);
    snprintf(sn, sizeof(sn), "%d", n);
    return mall_cmd(x->ctx.redis, r, err, 7, "ZRANGEBYSCORE", key, "-inf",
                    smax, "LIMIT", "0", sn);
}


/*
 * Claims ids (from src) for expiry: MULTI { ZREM src id; ZADD claimed now
 * id } each, one round trip. won[i] = 1 where this child removed the id.
 */
static int
claim(order_expiry_t *x, const char *src, const redisReply *ids, int *won,
    mall_err_t *err)
{
    mall_batch_t   b;
    redisReply    *exec;
    char           now[24];
    size_t         i;
    int            rc;

    snprintf(now, sizeof(now), "%lld", (long long) mall_wall_ms());
    for (i = 0; i < ids->elements; i++) {
        won[i] = 0;
        mall_batch_init(&b);
        mall_batch_addl(&b, 3, "ZREM", src, ids->element[i]->str);
        mall_batch_addl(&b, 4, "ZADD", ORDER_KEY_CLAIMED, now,
                        ids->element[i]->str);
        rc = mall_batch_exec(&b, x->ctx.redis, 1, &exec, err);
        mall_batch_free(&b);
        if (rc != MALL_OK) {
            return rc;
        }
        won[i] = exec->elements > 0
                 && exec->element[0]->type == REDIS_REPLY_INTEGER
                 && exec->element[0]->integer == 1;
        freeReplyObject(exec);
    }
    return MALL_OK;
}


/* Cancels the claimed orders of ids (won[i] set). */
static int
expire(order_expiry_t *x, const redisReply *ids, const int *won)
{
    order_status_e  cur;
    redisReply     *r;
    mall_err_t      err;
    size_t          i;
    int             rc;

    for (i = 0; i < ids->elements; i++) {
        const char  *oid = ids->element[i]->str;

        if (!won[i]) {
            continue;
        }
        err.msg[0] = '\0';
        rc = order_id_valid(oid)
             ? pay_cancel_order(&x->ctx, oid, NULL, ORDER_EV_EXPIRE,
                                ORDER_ACTOR_SYSTEM, "expiry", &cur, &err)
             : ORDER_NOT_FOUND;
        if (rc == MALL_OK) {
            mall_log(MALL_LOG_INFO, "order", "order %s expired unpaid", oid);
            continue;
        }
        if (rc == MALL_RETRY) {
            return rc;              /* the claim stays; taken over later */
        }
        if (rc == ORDER_NOT_FOUND || rc == ORDER_ILLEGAL) {
            /* paid or cancelled meanwhile: nothing to expire */
            if (mall_cmd(x->ctx.redis, &r, &err, 3, "ZREM",
                         ORDER_KEY_CLAIMED, oid) == MALL_OK)
            {
                freeReplyObject(r);
            }
            continue;
        }
        mall_log(MALL_LOG_WARN, "order", "order %s: expiry failed (%s); "
                 "retried later", oid, rc == MALL_BATCH_ABORTED
                 ? "contended" : err.msg);
    }
    return MALL_OK;
}


static int
run_expiry(order_expiry_t *x, const char *src, int64_t max, mall_err_t *err)
{
    redisReply  *ids;
    int          won[EXPIRY_BATCH];
    int          rc;

    rc = due(x, src, max, EXPIRY_BATCH, &ids, err);
    if (rc != MALL_OK) {
        return rc;
    }
    if (ids->type != REDIS_REPLY_ARRAY || ids->elements == 0) {
        freeReplyObject(ids);
        return MALL_OK;
    }
    rc = claim(x, src, ids, won, err);
    if (rc == MALL_OK) {
        rc = expire(x, ids, won);
    }
    freeReplyObject(ids);
    return rc;
}


/*
 * The delay-queue lag: how far past its deadline the oldest unpaid order
 * still waiting is (0 when none is overdue), for the metrics.
 */
static void
measure_lag(order_expiry_t *x)
{
    redisReply  *r;
    mall_err_t   err;
    double       deadline;
    int64_t      now_ms;

    if (mall_cmd(x->ctx.redis, &r, &err, 5, "ZRANGE", ORDER_KEY_EXPIRY, "0",
                 "0", "WITHSCORES") != MALL_OK)
    {
        return;
    }
    now_ms = mall_wall_ms();
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2
        && r->element[1]->type == REDIS_REPLY_STRING)
    {
        deadline = strtod(r->element[1]->str, NULL) * 1000.0;
        mall_metrics_delay_lag(deadline < (double) now_ms
                               ? now_ms - (int64_t) deadline : 0);
    } else {
        mall_metrics_delay_lag(0);
    }
    freeReplyObject(r);
}


int
order_expiry_run(order_expiry_t *x)
{
    mall_err_t  err;
    int         rc;

    err.msg[0] = '\0';
    rc = run_expiry(x, ORDER_KEY_EXPIRY, (int64_t) time(NULL), &err);
    if (rc == MALL_OK) {
        /* claims whose child died before finishing */
        rc = run_expiry(x, ORDER_KEY_CLAIMED, mall_wall_ms() - EXPIRY_CLAIM_MS,
                        &err);
    }
    if (rc == MALL_OK) {
        /* SKUs whose derived stock state could not follow at once */
        rc = stock_resync_run(&x->ctx, EXPIRY_RESYNC, &err);
    }
    if (rc == MALL_OK) {
        measure_lag(x);
    }
    if (rc == MALL_ERR) {
        mall_log(MALL_LOG_WARN, "order", "order timer: %s", err.msg);
    }
    return rc;
}


static void
order_expiry_job(void *arg)
{
    order_expiry_run(arg);
}


order_expiry_t *
order_expiry_start(struct event_base *base, const mall_conf_t *conf,
    mall_redis_t *redis)
{
    order_expiry_t  *x;

    x = calloc(1, sizeof(*x));
    if (x == NULL) {
        mall_log(MALL_LOG_ERROR, "order", "no memory for the order timer");
        return NULL;
    }
    mall_ctx_background(&x->ctx, conf, redis, "order-timer");
    x->job = mall_job_every(base, 1000, "order timer", order_expiry_job, x);
    if (x->job == NULL) {
        free(x);
        return NULL;
    }
    return x;
}


void
order_expiry_stop(order_expiry_t *x)
{
    if (x == NULL) {
        return;
    }
    mall_job_stop(x->job);
    free(x);
}
