/*
 * After payment: paid -> shipped (merchant) -> received (buyer, or the
 * timer auto_receive seconds after shipping) -> completed (the timer,
 * after_sales seconds after receipt). Each move is one order_update()
 * plan: the state table decides, and the same MULTI moves the order
 * between the delay queues mall:orders:shipped / mall:orders:received
 * (scored by shipped_at / received_at), so a queue entry exists exactly
 * while the order waits in that status.
 */
#ifndef ORDER_LIFECYCLE_H
#define ORDER_LIFECYCLE_H

#include <cjson/cJSON.h>

#include "mall_conf.h"
#include "mall_redis.h"
#include "order_store.h"

#define ORDER_CARRIER_MAX   33      /* carrier code + NUL */
#define ORDER_TRACKING_MAX  41      /* tracking number + NUL */

typedef struct {
    char  carrier[ORDER_CARRIER_MAX];       /* [a-z0-9_], Kuaidi100 code */
    char  tracking_no[ORDER_TRACKING_MAX];  /* [A-Za-z0-9-] */
} order_ship_t;

/*
 * Reads a ship body {"carrier", "tracking_no"} (pure; fuzzed). MALL_OK,
 * or MALL_ERR with *field naming the bad member and err the reason.
 */
int order_ship_parse(const cJSON *body, order_ship_t *s, const char **field,
    mall_err_t *err);

/*
 * Moves order oid by ev/actor (ship needs s). owner, when not NULL, must
 * own it. *cur: the status after (MALL_OK) or the current one
 * (ORDER_ILLEGAL). MALL_OK, ORDER_NOT_FOUND, ORDER_ILLEGAL,
 * MALL_BATCH_ABORTED, MALL_ERR, MALL_RETRY.
 */
int order_lifecycle_move(mall_ctx_t *ctx, const char *oid, const char *owner,
    order_event_e ev, order_actor_e actor, const char *actor_id,
    const order_ship_t *s, order_status_e *cur, mall_err_t *err);

typedef struct order_lifecycle_s  order_lifecycle_t;

/* The auto-receive / auto-complete timer of a worker process (1 s). */
order_lifecycle_t *order_lifecycle_start(struct event_base *base,
    const mall_conf_t *conf, mall_redis_t *redis);
void order_lifecycle_stop(order_lifecycle_t *t);

#endif
