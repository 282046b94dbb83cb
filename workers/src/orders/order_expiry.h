/*
 * The order timer of a worker process (a job on a fiber every second,
 * bounded batches), run in every process; Redis decides who does what:
 *   - unpaid orders past pay_deadline (mall:orders:expiry) are claimed
 *     one by one with MULTI { ZREM expiry; ZADD expiry:claimed } (only the
 *     child whose ZREM removed the id proceeds) and cancelled through the
 *     state table (event "expire", actor "system"), stock given back in
 *     the same MULTI; a claim older than 30 s (its child died) is taken
 *     over the same way;
 *   - SKUs whose derived stock state could not be updated at once
 *     (mall:stock:resync) are synced again (stock_resync_run).
 */
#ifndef ORDER_EXPIRY_H
#define ORDER_EXPIRY_H

#include "mall_conf.h"
#include "mall_redis.h"

struct event_base;

typedef struct order_expiry_s  order_expiry_t;

/* Starts the timer on base; NULL when it cannot (logged). */
order_expiry_t *order_expiry_start(struct event_base *base,
    const mall_conf_t *conf, mall_redis_t *redis);

/* Stops and frees it (NULL is fine). */
void order_expiry_stop(order_expiry_t *x);

/*
 * One pass of the timer (also what the tests drive): MALL_OK, or
 * MALL_RETRY while Redis is down.
 */
int order_expiry_run(order_expiry_t *x);

#endif
