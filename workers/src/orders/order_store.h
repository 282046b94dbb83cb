/*
 * Orders in Redis (keys: order_keys.h): ids, loading, the building blocks
 * of the MULTI/EXEC transactions (status change, stock give-back), status
 * transitions guarded by WATCH, and the clean-up of an order whose stock
 * hold turned out short. Shared by order_create.c, order_query.c,
 * order_cancel.c and the expiry timer (order_expiry.c). Every call that
 * reaches Redis parks the calling fiber until the answer is in.
 */
#ifndef ORDER_STORE_H
#define ORDER_STORE_H

#include <stdint.h>
#include <time.h>
#include <cjson/cJSON.h>

#include "mall_batch.h"
#include "mall_ctx.h"
#include "order_conf.h"
#include "order_keys.h"
#include "order_state.h"
#include "stock.h"
#include "storefront.h"

#define ORDER_NOT_FOUND   3     /* no such order (or not the caller's) */
#define ORDER_ILLEGAL     4     /* the table has no such transition */
#define ORDER_NEEDS_CLOSE 5     /* cancel/expire: close its prepay first */
#define ORDER_PLAN_NONE   6     /* a plan found nothing to write */
#define ORDER_TRIES       8     /* WATCH retries of one transition */

typedef struct {
    int64_t  sku_id;
    int64_t  product_id;
    int64_t  quantity;
    int64_t  threshold;         /* low-stock threshold; -1 = config's */
} order_item_ref_t;

#define ORDER_PREPAY_MAX  72        /* prepay_id + NUL */
#define ORDER_TXN_MAX     40        /* WeChat transaction_id + NUL */

/* What the transactions need of an order (not its display fields). */
typedef struct {
    char              id[ORDER_ID_MAX];
    char              uid[SF_UID_MAX];
    char              idem_key[ORDER_KEY_MAX];
    order_status_e    status;
    order_status_e    refund_from;
    int64_t           created_ms;
    int               counted;      /* its units are in the limit counters */
    int64_t           total_fen;
    int64_t           pay_deadline; /* s */
    /* payment (pay_keys.h): all zero / "" until there is one */
    char              prepay_id[ORDER_PREPAY_MAX];
    int64_t           prepay_expires;   /* s */
    int               pay_closed;       /* closed at WeChat */
    char              transaction_id[ORDER_TXN_MAX];
    int64_t           pay_total;        /* fen WeChat took */
    int               pay_late;         /* paid after it was cancelled */
    int64_t           refund_reserved;  /* fen of live or done refunds */
    int64_t           refunded;         /* fen refunded for good */
    order_item_ref_t  items[ORDER_LINES_MAX];
    size_t            nitems;
    int64_t           coupons[ORDER_COUPONS_MAX];  /* the coupons it uses */
    size_t            ncoupons;
} order_head_t;

/* 1 when s looks like an order id (so it is safe inside a key). */
int order_id_valid(const char *s);

/* A fresh order id: UTC date YYYYMMDD + 16 CSPRNG chars [0-9A-Za-z]. */
int order_new_id(char out[ORDER_ID_MAX]);

/* snprintf of a key format with one or two string arguments. */
void order_key(char *buf, size_t sz, const char *fmt, const char *a,
    const char *b);

/* A Redis string reply as an integer, def when absent or not a number. */
int64_t order_reply_int(const redisReply *r, int64_t def);

/*
 * Reads the head of order oid (WATCHing it first, in the same round trip,
 * when watch is set). MALL_OK with h->status ORDER_ST_NONE when there is
 * no such order; MALL_ERR, MALL_RETRY.
 */
int order_load_head(mall_ctx_t *ctx, const char *oid, int watch,
    order_head_t *h, mall_err_t *err);

/* Parses the stored items JSON into h->items. MALL_OK or MALL_ERR. */
int order_items_parse(const char *json, size_t len, order_head_t *h);

/*
 * Commands of a status change: the status field, updated_at, the per-
 * status index and the event record.
 */
void order_batch_status(mall_batch_t *b, const order_head_t *h,
    order_status_e to, order_event_e ev, order_actor_e actor,
    const char *actor_id, time_t now);

/* Gives the order's stock back (one HINCRBY per item, first in the batch)
 * with its hold records, and its units off the purchase-limit counters
 * when it was counted there. */
void order_batch_release(mall_batch_t *b, const order_head_t *h);

/* Gives the order's coupons back to its buyer (HDEL of their marks in
 * mall:user:{uid}:coupons:used; coupon_keys.h). */
void order_batch_coupons_back(mall_batch_t *b, const order_head_t *h);

/* Appends HGET of every line's low-stock threshold (last in a MULTI that
 * gives stock back, for order_release_follow_up). */
void order_batch_thresholds(mall_batch_t *b, const order_head_t *h);

/*
 * After an EXEC that gave h's stock back (order_batch_release first,
 * order_batch_thresholds last): brings the derived stock state in line.
 */
void order_release_follow_up(mall_ctx_t *ctx, const order_head_t *h,
    const redisReply *exec);

/*
 * A change of one order: called with its head, read under WATCH, a plan
 * appends the commands of the change to b (they run inside MULTI/EXEC)
 * and returns MALL_OK, or any other code to write nothing.
 */
typedef int (*order_plan_t)(mall_ctx_t *ctx, const order_head_t *h,
    mall_batch_t *b, void *arg);

/*
 * The read-plan-EXEC loop of every change of an order: reads oid under
 * WATCH into *h (status ORDER_ST_NONE when there is no such order), lets
 * plan fill the MULTI and runs it; a concurrent change of the order
 * re-reads and plans again (ORDER_TRIES times). On MALL_OK *exec (when not
 * NULL) is the EXEC reply, for the caller to free. Returns MALL_OK, the
 * plan's own code, MALL_BATCH_ABORTED, MALL_ERR or MALL_RETRY.
 */
int order_update(mall_ctx_t *ctx, const char *oid, order_plan_t plan,
    void *arg, order_head_t *h, redisReply **exec, mall_err_t *err);

/*
 * Appends a status change of h to "to" with everything that goes with it:
 * stock given back (first) with its thresholds (last) when the table says
 * so, the record and indexes, the event, the timers' entries. Returns 1
 * when stock goes back (call order_release_follow_up after the EXEC).
 */
int order_batch_transition(mall_batch_t *b, const order_head_t *h,
    order_status_e to, order_event_e ev, order_actor_e actor,
    const char *actor_id);

/*
 * Moves order oid by event/actor under WATCH (retried ORDER_TRIES times).
 * owner, when not NULL, must own the order (else ORDER_NOT_FOUND). On
 * ORDER_ILLEGAL *cur is the current status. Stock goes back in the same
 * MULTI when the table says so, and its derived state follows. A cancel or
 * expiry of an order with a prepay not yet closed at WeChat is refused with
 * ORDER_NEEDS_CLOSE (pay_cancel_order() closes it first). MALL_OK,
 * ORDER_NOT_FOUND, ORDER_ILLEGAL, ORDER_NEEDS_CLOSE, MALL_BATCH_ABORTED,
 * MALL_ERR, MALL_RETRY.
 */
int order_transition(mall_ctx_t *ctx, const char *oid, const char *owner,
    order_event_e ev, order_actor_e actor, const char *actor_id,
    order_status_e *cur, mall_err_t *err);

/*
 * Whether unpaid order h found enough stock when it was created: reads
 * its hold records. *short_sku = the first SKU whose hold says the stock
 * went below zero, 0 when none. MALL_OK, MALL_ERR, MALL_RETRY.
 */
int order_holds_short(mall_ctx_t *ctx, const order_head_t *h,
    int64_t *short_sku, mall_err_t *err);

/*
 * Removes unpaid order oid entirely, giving its stock back, under WATCH:
 * an order that lost the race for the last units (its creator, or the
 * client's retry after the creator died), before anyone was told it
 * exists. drop_idem: also delete its Idempotency-Key record (it owns it).
 * MALL_OK (also when it is gone or no longer unpaid), MALL_ERR,
 * MALL_RETRY.
 */
int order_discard(mall_ctx_t *ctx, const char *oid, int drop_idem,
    mall_err_t *err);

/*
 * Cancels unpaid order h (event "void") when its hold turned out short,
 * so it can never be paid. *voided = 1 when it did. MALL_OK, MALL_ERR,
 * MALL_RETRY.
 */
int order_void_if_short(mall_ctx_t *ctx, const order_head_t *h, int *voided,
    mall_err_t *err);

/*
 * The caller's user id and the route's {id} when it is a valid order id:
 * MALL_OK to go on; MALL_ERR when the request has been answered (401/404)
 * and the handler returns MALL_OK.
 */
int order_route_oid(mall_ctx_t *ctx, char uid[SF_UID_MAX], const char **oid);

/* 409 CONFLICT with "current_status" in the error object. */
int order_reply_conflict(mall_ctx_t *ctx, order_status_e cur,
    const char *msg);

/* 409 OUT_OF_STOCK naming the SKU ("sku_id" in the error object). */
int order_reply_out_of_stock(mall_ctx_t *ctx, int64_t sku);

#endif
