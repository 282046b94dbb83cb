/*
 * The payment timer (see pay_jobs.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mall_batch.h"
#include "mall_job.h"
#include "mall_log.h"
#include "order_store.h"
#include "pay_jobs.h"
#include "pay_query.h"
#include "reconcile.h"
#include "refund.h"

#define JOB_REFUNDS       10          /* refunds per tick */
#define JOB_WATCHED       20          /* orders queried per pass */
#define WATCH_EVERY_MS    5000
#define RECONCILE_EVERY_MS 60000

struct pay_jobs_s {
    mall_job_t  *job;
    mall_ctx_t   ctx;                 /* conf + redis; no request */
    int64_t      next_watch_ms;
    int64_t      next_reconcile_ms;
};


/* Queries the watched orders near their deadline. */
static int
run_watch(pay_jobs_t *j, mall_err_t *err)
{
    char           max[24], n[16];
    redisReply    *ids, *r;
    order_head_t   h;
    size_t         i;
    int            rc, asked;

    snprintf(max, sizeof(max), "%lld", (long long) time(NULL)
             + j->ctx.conf->pay.query_lead);
    snprintf(n, sizeof(n), "%d", JOB_WATCHED);
    rc = mall_cmd(j->ctx.redis, &ids, err, 7, "ZRANGEBYSCORE",
                  ORDER_KEY_PAY_WATCH, "-inf", max, "LIMIT", "0", n);
    if (rc != MALL_OK) {
        return rc;
    }
    for (i = 0; ids->type == REDIS_REPLY_ARRAY && i < ids->elements; i++) {
        const char  *oid = ids->element[i]->str;

        rc = order_id_valid(oid) ? order_load_head(&j->ctx, oid, 0, &h, err)
                                 : MALL_OK;
        if (rc != MALL_OK) {
            break;
        }
        if (!order_id_valid(oid) || h.status != ORDER_ST_UNPAID) {
            /* settled some other way */
            if (mall_cmd(j->ctx.redis, &r, err, 3, "ZREM",
                         ORDER_KEY_PAY_WATCH, oid) == MALL_OK)
            {
                freeReplyObject(r);
            }
            continue;
        }
        if (pay_query_throttled(&j->ctx, oid, "query", &asked, err)
            == MALL_RETRY)
        {
            mall_log(MALL_LOG_WARN, "pay", "query of order %s: %s", oid,
                     err->msg);
        }
    }
    freeReplyObject(ids);
    return rc;
}


static void
pay_jobs_run(void *arg)
{
    pay_jobs_t  *j = arg;
    mall_err_t   err;
    int64_t      now;

    err.msg[0] = '\0';
    if (refund_run_due(&j->ctx, JOB_REFUNDS, &err) == MALL_RETRY) {
        return;                             /* Redis is down: next tick */
    }
    now = mall_mono_ms();
    if (now >= j->next_watch_ms) {
        j->next_watch_ms = now + WATCH_EVERY_MS;
        (void) run_watch(j, &err);
    }
    if (now >= j->next_reconcile_ms) {
        j->next_reconcile_ms = now + RECONCILE_EVERY_MS;
        (void) reconcile_daily(&j->ctx, &err);
    }
}


pay_jobs_t *
pay_jobs_start(struct event_base *base, const mall_conf_t *conf,
    mall_redis_t *redis)
{
    pay_jobs_t  *j;

    if (!wxpay_conf_enabled(&conf->pay)) {
        return NULL;
    }
    j = calloc(1, sizeof(*j));
    if (j == NULL) {
        mall_log(MALL_LOG_ERROR, "pay", "no memory for the payment timer");
        return NULL;
    }
    mall_ctx_background(&j->ctx, conf, redis, "pay-timer");
    j->job = mall_job_every(base, 1000, "payment timer", pay_jobs_run, j);
    if (j->job == NULL) {
        free(j);
        return NULL;
    }
    return j;
}


void
pay_jobs_stop(pay_jobs_t *j)
{
    if (j == NULL) {
        return;
    }
    mall_job_stop(j->job);
    free(j);
}
