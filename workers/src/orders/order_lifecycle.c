/*
 * Ship, receive, complete (see order_lifecycle.h) and their timer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mall_job.h"
#include "mall_json.h"
#include "mall_log.h"
#include "mall_query.h"
#include "notify.h"
#include "order_lifecycle.h"

#define LIFE_BATCH     "50"         /* due orders per queue per tick */
#define LIFE_RECHECK   3600         /* s: an order in after-sales waits */

typedef struct {
    const char          *owner;
    order_event_e        ev;
    order_actor_e        actor;
    const char          *actor_id;
    const order_ship_t  *ship;
    order_status_e       to;
} life_t;


/* The order's logistics record at shipping (shown by the order view). */
static void
batch_shipped(mall_batch_t *b, const order_head_t *h, const life_t *l,
    const char *key, const char *ts)
{
    cJSON  *o;
    char   *j;

    o = cJSON_CreateObject();
    if (o == NULL
        || mall_json_add_str(o, "carrier", l->ship->carrier) != MALL_OK
        || mall_json_add_str(o, "tracking_no", l->ship->tracking_no)
           != MALL_OK
        || mall_json_add_int(o, "shipped_at", (int64_t) time(NULL))
           != MALL_OK
        || (j = cJSON_PrintUnformatted(o)) == NULL)
    {
        cJSON_Delete(o);
        b->oom = 1;
        return;
    }
    cJSON_Delete(o);
    mall_batch_addl(b, 10, "HSET", key, "logistics", j, "carrier",
                    l->ship->carrier, "tracking_no", l->ship->tracking_no,
                    "shipped_at", ts);
    cJSON_free(j);
    mall_batch_addl(b, 4, "ZADD", ORDER_KEY_SHIPPED, ts, h->id);
    notify_batch_event(b, NOTIFY_EV_SHIPPED, h->id, NULL);
}


static int
life_plan(mall_ctx_t *ctx, const order_head_t *h, mall_batch_t *b, void *arg)
{
    life_t  *l = arg;
    char     key[ORDER_KEY_MAX], ts[24];

    (void) ctx;
    if (h->status == ORDER_ST_NONE
        || (l->owner != NULL && strcmp(l->owner, h->uid) != 0))
    {
        return ORDER_NOT_FOUND;
    }
    l->to = order_state_next(h->status, l->ev, l->actor, h->refund_from);
    if (l->to == ORDER_ST_NONE) {
        return ORDER_ILLEGAL;
    }
    order_batch_transition(b, h, l->to, l->ev, l->actor, l->actor_id);
    order_key(key, sizeof(key), ORDER_KEY_ORDER, h->id, NULL);
    snprintf(ts, sizeof(ts), "%lld", (long long) time(NULL));
    switch (l->ev) {
    case ORDER_EV_SHIP:
        batch_shipped(b, h, l, key, ts);
        break;
    case ORDER_EV_RECEIVE:
        mall_batch_addl(b, 4, "HSET", key, "received_at", ts);
        mall_batch_addl(b, 3, "ZREM", ORDER_KEY_SHIPPED, h->id);
        mall_batch_addl(b, 4, "ZADD", ORDER_KEY_RECEIVED, ts, h->id);
        break;
    default:                                        /* complete */
        mall_batch_addl(b, 4, "HSET", key, "completed_at", ts);
        mall_batch_addl(b, 3, "ZREM", ORDER_KEY_RECEIVED, h->id);
        break;
    }
    return MALL_OK;
}


int
order_lifecycle_move(mall_ctx_t *ctx, const char *oid, const char *owner,
    order_event_e ev, order_actor_e actor, const char *actor_id,
    const order_ship_t *s, order_status_e *cur, mall_err_t *err)
{
    life_t         l;
    order_head_t   h;
    redisReply    *exec;
    int            rc;

    memset(&l, 0, sizeof(l));
    l.owner = owner;
    l.ev = ev;
    l.actor = actor;
    l.actor_id = actor_id;
    l.ship = s;
    rc = order_update(ctx, oid, life_plan, &l, &h, &exec, err);
    *cur = rc == MALL_OK ? l.to : h.status;
    if (rc == MALL_OK) {
        freeReplyObject(exec);
    }
    return rc;
}


/* --- the timer ---------------------------------------------------------- */

struct order_lifecycle_s {
    mall_job_t  *job;
    mall_ctx_t   ctx;
};


/*
 * Moves the orders of queue whose score is at most now - window by ev.
 * Every process runs it: the order's WATCH decides who moves an order
 * (the loser finds it moved: illegal). An order in after-sales is looked
 * at again later; one that left the status otherwise leaves the queue.
 */
static int
life_run_queue(order_lifecycle_t *t, const char *queue, int window,
    order_status_e waiting, order_event_e ev, mall_err_t *err)
{
    order_status_e   cur;
    redisReply      *ids, *r;
    char             max[24], later[24];
    time_t           now = time(NULL);
    size_t           i;
    int              rc;

    snprintf(max, sizeof(max), "%lld", (long long) now - window);
    rc = mall_cmd(t->ctx.redis, &ids, err, 7, "ZRANGEBYSCORE", queue, "-inf",
                  max, "LIMIT", "0", LIFE_BATCH);
    if (rc != MALL_OK) {
        return rc;
    }
    for (i = 0; ids->type == REDIS_REPLY_ARRAY && i < ids->elements; i++) {
        const char  *oid = ids->element[i]->str;

        rc = order_id_valid(oid)
             ? order_lifecycle_move(&t->ctx, oid, NULL, ev,
                                    ORDER_ACTOR_SYSTEM, ev == ORDER_EV_RECEIVE
                                    ? "auto_receive" : "after_sales_window",
                                    NULL, &cur, err)
             : ORDER_NOT_FOUND;
        if (rc == MALL_RETRY) {
            break;
        }
        if (rc == MALL_OK) {
            mall_log(MALL_LOG_INFO, "order", "order %s %s automatically",
                     oid, order_status_name(cur));
        } else if (rc == ORDER_ILLEGAL && cur == ORDER_ST_REFUND_REQUESTED) {
            snprintf(later, sizeof(later), "%lld", (long long) now - window
                     + (window < LIFE_RECHECK ? window : LIFE_RECHECK));
            if (mall_cmd(t->ctx.redis, &r, err, 5, "ZADD", queue, "XX",
                         later, oid) == MALL_OK)
            {
                freeReplyObject(r);
            }
        } else if ((rc == ORDER_ILLEGAL && cur != waiting)
                   || rc == ORDER_NOT_FOUND)
        {
            if (mall_cmd(t->ctx.redis, &r, err, 3, "ZREM", queue, oid)
                == MALL_OK)
            {
                freeReplyObject(r);
            }
        }
        rc = MALL_OK;
    }
    freeReplyObject(ids);
    return rc;
}


static void
life_job(void *arg)
{
    order_lifecycle_t  *t = arg;
    const order_conf_t *c = &t->ctx.conf->order;
    mall_err_t          err;
    int                 rc;

    err.msg[0] = '\0';
    rc = life_run_queue(t, ORDER_KEY_SHIPPED, c->auto_receive,
                        ORDER_ST_SHIPPED, ORDER_EV_RECEIVE, &err);
    if (rc == MALL_OK) {
        rc = life_run_queue(t, ORDER_KEY_RECEIVED, c->after_sales,
                            ORDER_ST_RECEIVED, ORDER_EV_COMPLETE, &err);
    }
    if (rc == MALL_ERR) {
        mall_log(MALL_LOG_WARN, "order", "lifecycle timer: %s", err.msg);
    }
}


order_lifecycle_t *
order_lifecycle_start(struct event_base *base, const mall_conf_t *conf,
    mall_redis_t *redis)
{
    order_lifecycle_t  *t;

    t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return NULL;
    }
    mall_ctx_background(&t->ctx, conf, redis, "order-lifecycle");
    t->job = mall_job_every(base, 1000, "order lifecycle", life_job, t);
    if (t->job == NULL) {
        free(t);
        return NULL;
    }
    return t;
}


void
order_lifecycle_stop(order_lifecycle_t *t)
{
    if (t != NULL) {
        mall_job_stop(t->job);
        free(t);
    }
}
