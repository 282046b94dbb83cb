/*
 * Order changes under WATCH (see order_store.h): the generic read-plan-
 * EXEC loop every change of an order goes through, the commands of a
 * status change, and stock going back with its derived state.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "catalog_keys.h"
#include "coupon_keys.h"
#include "mall_json.h"
#include "mall_log.h"
#include "order_store.h"


void
order_batch_status(mall_batch_t *b, const order_head_t *h,
    order_status_e to, order_event_e ev, order_actor_e actor,
    const char *actor_id, time_t now)
{
    char    key[ORDER_KEY_MAX], from_k[ORDER_KEY_MAX], to_k[ORDER_KEY_MAX];
    char    ekey[ORDER_KEY_MAX], ts[24], score[24], *ej;
    cJSON  *e;

    order_key(key, sizeof(key), ORDER_KEY_ORDER, h->id, NULL);
    order_key(ekey, sizeof(ekey), ORDER_KEY_EVENTS, h->id, NULL);
    order_key(from_k, sizeof(from_k), ORDER_KEY_USER_STATUS, h->uid,
              order_status_name(h->status));
    order_key(to_k, sizeof(to_k), ORDER_KEY_USER_STATUS, h->uid,
              order_status_name(to));
    snprintf(ts, sizeof(ts), "%lld", (long long) now);
    snprintf(score, sizeof(score), "%lld", (long long) h->created_ms);

    mall_batch_addl(b, 6, "HSET", key, "status", order_status_name(to),
                    "updated_at", ts);
    if (to == ORDER_ST_REFUND_REQUESTED) {
        mall_batch_addl(b, 4, "HSET", key, "refund_from",
                        order_status_name(h->status));
    }
    mall_batch_addl(b, 3, "ZREM", from_k, h->id);
    mall_batch_addl(b, 4, "ZADD", to_k, score, h->id);
    /* the merchant's indexes: orders that moved once (paid, cancelled) */
    order_key(from_k, sizeof(from_k), ORDER_KEY_STATUS,
              order_status_name(h->status), NULL);
    order_key(to_k, sizeof(to_k), ORDER_KEY_STATUS, order_status_name(to),
              NULL);
    mall_batch_addl(b, 3, "ZREM", from_k, h->id);
    mall_batch_addl(b, 4, "ZADD", to_k, score, h->id);
    mall_batch_addl(b, 4, "ZADD", ORDER_KEY_ALL, score, h->id);

    e = cJSON_CreateObject();
    if (e == NULL || mall_json_add_int(e, "at", (int64_t) now) != MALL_OK
        || mall_json_add_str(e, "actor", order_actor_name(actor)) != MALL_OK
        || mall_json_add_str(e, "actor_id", actor_id != NULL ? actor_id
                                                              : "")
           != MALL_OK
        || mall_json_add_str(e, "event", order_event_name(ev)) != MALL_OK
        || mall_json_add_str(e, "from", order_status_name(h->status))
           != MALL_OK
        || mall_json_add_str(e, "to", order_status_name(to)) != MALL_OK
        || (ej = cJSON_PrintUnformatted(e)) == NULL)
    {
        cJSON_Delete(e);
        b->oom = 1;
        return;
    }
    cJSON_Delete(e);
    mall_batch_addl(b, 3, "RPUSH", ekey, ej);
    cJSON_free(ej);
}


void
order_batch_release(mall_batch_t *b, const order_head_t *h)
{
    char    q[24], bkey[ORDER_KEY_MAX], sid[24];
    size_t  i;

    for (i = 0; i < h->nitems; i++) {
        stock_batch_give(b, h->items[i].sku_id, h->items[i].quantity, h->id);
    }
    order_key(bkey, sizeof(bkey), ORDER_KEY_BOUGHT, h->uid, NULL);
    for (i = 0; h->counted && i < h->nitems; i++) {
        snprintf(sid, sizeof(sid), "%lld", (long long) h->items[i].sku_id);
        snprintf(q, sizeof(q), "-%lld", (long long) h->items[i].quantity);
        mall_batch_addl(b, 4, "HINCRBY", bkey, sid, q);
    }
}


void
order_batch_coupons_back(mall_batch_t *b, const order_head_t *h)
{
    const char  *argv[2 + ORDER_COUPONS_MAX];
    char         key[ORDER_KEY_MAX], ids[ORDER_COUPONS_MAX][24];
    size_t       i;

    if (h->ncoupons == 0) {
        return;
    }
    /* safe unconditionally: an order that exists holds its marks (its
     * creation EXEC ran under WATCH of this hash) */
    order_key(key, sizeof(key), COUPON_KEY_USED, h->uid, NULL);
    argv[0] = "HDEL";
    argv[1] = key;
    for (i = 0; i < h->ncoupons; i++) {
        snprintf(ids[i], sizeof(ids[i]), "%lld", (long long) h->coupons[i]);
        argv[2 + i] = ids[i];
    }
    mall_batch_add(b, (int) (2 + h->ncoupons), argv);
}


void
order_batch_thresholds(mall_batch_t *b, const order_head_t *h)
{
    char    key[48];
    size_t  i;

    for (i = 0; i < h->nitems; i++) {
        snprintf(key, sizeof(key), CATALOG_KEY_SKU_FMT,
                 (long long) h->items[i].sku_id);
        mall_batch_addl(b, 3, "HGET", key, "low_stock_threshold");
    }
}


void
order_release_follow_up(mall_ctx_t *ctx, const order_head_t *h,
    const redisReply *exec)
{
    stock_change_t  ch[ORDER_LINES_MAX];
    size_t          i, n;

    n = h->nitems;
    if (exec == NULL || exec->type != REDIS_REPLY_ARRAY
        || exec->elements < 3 * n)
    {
        return;
    }
    for (i = 0; i < n; i++) {
        if (exec->element[2 * i]->type != REDIS_REPLY_INTEGER) {
            return;
        }
        memset(&ch[i], 0, sizeof(ch[i]));
        ch[i].sku_id = h->items[i].sku_id;
        ch[i].product_id = h->items[i].product_id;
        ch[i].after = exec->element[2 * i]->integer;
        ch[i].before = ch[i].after - h->items[i].quantity;
        ch[i].threshold = order_reply_int(
                              exec->element[exec->elements - n + i], -1);
        ch[i].before_threshold = ch[i].threshold;
        ch[i].on_sale = ch[i].was_on_sale = 1;
    }
    stock_follow_up(ctx, ch, n);
}


int
order_update(mall_ctx_t *ctx, const char *oid, order_plan_t plan, void *arg,
    order_head_t *h, redisReply **exec, mall_err_t *err)
{
    mall_batch_t   b;
    redisReply    *rep;
    int            rc, tries;

    if (exec != NULL) {
        *exec = NULL;
    }
    rc = MALL_BATCH_ABORTED;
    for (tries = 0; tries < ORDER_TRIES; tries++) {
        rc = order_load_head(ctx, oid, 1, h, err);
        if (rc != MALL_OK) {
            break;
        }
        mall_batch_init(&b);
        rc = plan(ctx, h, &b, arg);
        if (rc != MALL_OK) {
            mall_batch_free(&b);
            mall_unwatch(ctx->redis);
            return rc;
        }
        rep = NULL;
        rc = mall_batch_exec(&b, ctx->redis, 1, &rep, err);
        mall_batch_free(&b);
        if (rc == MALL_BATCH_ABORTED) {
            continue;               /* a concurrent change won: re-read */
        }
        if (rc == MALL_OK && mall_redis_durable(ctx->redis, err) != MALL_OK) {
            /* applied on the primary only: not acknowledged; a retry
             * finds the new state and answers from it */
            rc = MALL_RETRY;
        }
        if (rc == MALL_OK && exec != NULL) {
            *exec = rep;
        } else if (rep != NULL) {
            freeReplyObject(rep);
        }
        break;
    }
    if (rc == MALL_ERR) {
        mall_unwatch(ctx->redis);
    }
    return rc;
}


int
order_batch_transition(mall_batch_t *b, const order_head_t *h,
    order_status_e to, order_event_e ev, order_actor_e actor,
    const char *actor_id)
{
    int  release;

    release = order_state_releases_stock(h->status, to);
    if (release) {
        order_batch_release(b, h);          /* first: see follow-up */
    }
    order_batch_status(b, h, to, ev, actor, actor_id, time(NULL));
    if (h->status == ORDER_ST_UNPAID) {
        /* no longer waiting for payment */
        mall_batch_addl(b, 3, "ZREM", ORDER_KEY_EXPIRY, h->id);
        mall_batch_addl(b, 3, "ZREM", ORDER_KEY_PAY_WATCH, h->id);
    }
    mall_batch_addl(b, 3, "ZREM", ORDER_KEY_CLAIMED, h->id);
    if (to == ORDER_ST_CANCELLED || to == ORDER_ST_REFUNDED) {
        order_batch_coupons_back(b, h);     /* cancel, timeout, full refund */
    }
    if (release) {
        order_batch_thresholds(b, h);       /* last: see follow-up */
    }
    return release;
}


typedef struct {
    const char      *owner;
    order_event_e    ev;
    order_actor_e    actor;
    const char      *actor_id;
    order_status_e   to;
    int              release;
} transition_t;


static int
transition_plan(mall_ctx_t *ctx, const order_head_t *h, mall_batch_t *b,
    void *arg)
{
    transition_t  *t = arg;

    (void) ctx;
    if (h->status == ORDER_ST_NONE
        || (t->owner != NULL && strcmp(t->owner, h->uid) != 0))
    {
        return ORDER_NOT_FOUND;
    }
    t->to = order_state_next(h->status, t->ev, t->actor, h->refund_from);
    if (t->to == ORDER_ST_NONE) {
        return ORDER_ILLEGAL;
    }
    if ((t->ev == ORDER_EV_CANCEL || t->ev == ORDER_EV_EXPIRE)
        && h->prepay_id[0] != '\0' && !h->pay_closed)
    {
        return ORDER_NEEDS_CLOSE;
    }
    t->release = order_batch_transition(b, h, t->to, t->ev, t->actor,
                                        t->actor_id);
    return MALL_OK;
}


int
order_transition(mall_ctx_t *ctx, const char *oid, const char *owner,
    order_event_e ev, order_actor_e actor, const char *actor_id,
    order_status_e *cur, mall_err_t *err)
{
    transition_t   t;
    order_head_t   h;
    redisReply    *exec;
    int            rc;

    memset(&t, 0, sizeof(t));
    t.owner = owner;
    t.ev = ev;
    t.actor = actor;
    t.actor_id = actor_id;
    rc = order_update(ctx, oid, transition_plan, &t, &h, &exec, err);
    *cur = h.status;
    if (rc != MALL_OK) {
        return rc;
    }
    *cur = t.to;
    if (t.release) {
        order_release_follow_up(ctx, &h, exec);
    }
    freeReplyObject(exec);
    return MALL_OK;
}
