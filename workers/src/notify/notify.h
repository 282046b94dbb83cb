/*
 * Order notifications (小程序订阅消息, docs/notifications.md). A status
 * change enqueues "{event}:{order}" in the durable outbox
 * (NOTIFY_KEY_OUTBOX, a zset scored by the next attempt in ms) inside
 * its own MULTI, so the order never waits for WeChat; a job in every
 * worker process claims due entries (MULTI { ZREM outbox; ZADD inflight
 * }, the ZREM decides), spends one of the buyer's one-time subscriptions
 * of the event's template, and sends through auth_wx_call (the access
 * token refreshed on 40001). 43101 (refused), 40037 (bad template) and a
 * missing subscription end the message; other failures are retried
 * with exponential backoff up to notify_retry_max attempts. Each message
 * keeps its outcome in NOTIFY_KEY_MSG (30 days).
 */
#ifndef NOTIFY_H
#define NOTIFY_H

#include "mall_batch.h"
#include "mall_conf.h"
#include "mall_redis.h"
#include "notify_conf.h"

#define NOTIFY_KEY_OUTBOX    "mall:notify:outbox"
#define NOTIFY_KEY_INFLIGHT  "mall:notify:inflight"
#define NOTIFY_KEY_MSG       "mall:notify:msg:%s"     /* {event}:{order} */
#define NOTIFY_KEY_SUBS      "mall:user:%s:subscriptions"  /* tpl -> n */

/* Appends the enqueue of event ev of order oid to b (inside a MULTI). */
void notify_batch_event(mall_batch_t *b, notify_event_e ev,
    const char *oid);

typedef struct notify_job_s  notify_job_t;

notify_job_t *notify_job_start(struct event_base *base,
    const mall_conf_t *conf, mall_redis_t *redis);
void notify_job_stop(notify_job_t *j);

#endif
