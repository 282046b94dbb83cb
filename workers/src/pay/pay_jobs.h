/*
 * The payment timer of a worker process (a job on a fiber every second,
 * bounded work per tick), run in every process with Redis deciding who
 * does what:
 *   - refunds that are due (mall:refunds:due): submitted again when they
 *     got no answer, queried when WeChat is still processing them; a SET NX
 *     claim gives each to one process at a time;
 *   - every 5 s, unpaid orders with a prepay within wxpay_query_lead of
 *     their deadline (mall:pay:watch) are queried at WeChat (at most once
 *     per wxpay_query_interval each), so a payment whose notification never
 *     came is found before the order would expire;
 *   - every minute, the daily reconciliation once it is due.
 */
#ifndef PAY_JOBS_H
#define PAY_JOBS_H

#include "mall_conf.h"
#include "mall_redis.h"

struct event_base;

typedef struct pay_jobs_s  pay_jobs_t;

/* Starts the timer on base when payments are configured; else NULL. */
pay_jobs_t *pay_jobs_start(struct event_base *base, const mall_conf_t *conf,
    mall_redis_t *redis);

/* Stops and frees it (NULL is fine). */
void pay_jobs_stop(pay_jobs_t *j);

#endif
