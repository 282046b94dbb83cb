/*
 * Order notifications (小程序订阅消息, docs/orders.md "Notifications").
 *
 * A status change enqueues a message in the durable outbox inside the
 * transition's own MULTI, so the order never waits for WeChat:
 *
 *   mall:notify:outbox        zset  message -> due time (ms)
 *   mall:notify:claim:{m}     string, PX lease: the process sending m
 *   mall:notify:msg:{m}       hash  status, errcode, attempts, consumed,
 *                                   at, detail (kept 30 days)
 *   mall:user:{uid}:notify_subs  hash  template id -> messages allowed
 *
 * A message is "paid:{order}", "shipped:{order}" or
 * "refund:{order}:{out_refund_no}". A job in every worker process takes
 * due messages (SET NX of the claim, then a check that the message is
 * still due, then its due time pushed past the lease), spends one of the
 * buyer's one-time subscriptions of the event's template (once per
 * message, kept in its record), and sends it through auth_wx_call (the
 * access token refreshed once on 40001/42001). 43101 (the buyer refused),
 * 40037/47003 (the conf is wrong) and a missing subscription end the
 * message; other failures are retried with exponential backoff up to
 * notify_retry_max attempts. A process that dies mid-send loses its
 * lease, and another process takes the message over.
 */
#ifndef NOTIFY_H
#define NOTIFY_H

#include "mall_batch.h"
#include "mall_conf.h"
#include "mall_redis.h"
#include "notify_conf.h"

#define NOTIFY_KEY_OUTBOX    "mall:notify:outbox"
#define NOTIFY_KEY_CLAIM     "mall:notify:claim:%s"   /* message */
#define NOTIFY_KEY_MSG       "mall:notify:msg:%s"     /* message */
#define NOTIFY_KEY_SUBS      "mall:user:%s:notify_subs"  /* tpl -> n */
#define NOTIFY_MSG_MAX       96
#define NOTIFY_SUBS_MAX      50        /* acceptances kept per template */

struct event_base;

/*
 * Appends the enqueue of event ev of order oid to b (inside the MULTI of
 * the transition); ref is the out_refund_no of a refund result, else
 * NULL.
 */
void notify_batch_event(mall_batch_t *b, notify_event_e ev,
    const char *oid, const char *ref);

typedef struct notify_job_s  notify_job_t;

/* The outbox job (every 500 ms, in every worker process). */
notify_job_t *notify_job_start(struct event_base *base,
    const mall_conf_t *conf, mall_redis_t *redis);
void notify_job_stop(notify_job_t *j);

#endif
