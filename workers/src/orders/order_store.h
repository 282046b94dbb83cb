/*
 * Orders in Redis (keys: order_keys.h): loading, the building blocks of
 * the MULTI/EXEC transactions (confirm, discard, status change, stock
 * release), status transitions guarded by WATCH, the resolution of an
 * unconfirmed reservation, stock-state follow-up and the client's view.
 * Shared by order_create.c, order_query.c, order_cancel.c and the
 * expiry timer (order_expiry.c). All calls block on Redis.
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
#include "storefront.h"

#define ORDER_NOT_FOUND   3     /* no such order (or not the caller's) */
#define ORDER_ILLEGAL     4     /* the table has no such transition */
#define ORDER_TRIES       8     /* WATCH retries of one transition */
#define ORDER_RESOLVE_MS  5000  /* a reservation older than this is stuck */

typedef struct {
    int64_t  sku_id;
    int64_t  product_id;
    int64_t  quantity;
    int64_t  threshold;         /* low-stock threshold; -1 = config's */
} order_item_ref_t;

/* What the transactions need of an order (not its display fields). */
typedef struct {
    char              id[ORDER_ID_MAX];
    char              uid[SF_UID_MAX];
    char              idem_key[ORDER_KEY_MAX];
    order_status_e    status;
    order_status_e    refund_from;
    int64_t           created_ms;
    order_item_ref_t  items[ORDER_LINES_MAX];
    size_t            nitems;
} order_head_t;

/* 1 when s looks like an order id (so it is safe inside a key). */
int order_id_valid(const char *s);

/* A fresh order id: UTC date YYYYMMDD + 16 CSPRNG chars [0-9A-Za-z]. */
int order_new_id(char out[ORDER_ID_MAX]);

/* snprintf of a key format with one or two string arguments. */
void order_key(char *buf, size_t sz, const char *fmt, const char *a,
    const char *b);

/*
 * Reads the head of order oid (WATCHing it first when watch is set).
 * MALL_OK with h->status ORDER_ST_NONE when there is no such order;
 * MALL_ERR, MALL_RETRY.
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

/* Gives the order's stock back (one HINCRBY per item, first) and its
 * units off the purchase-limit counters. */
void order_batch_release(mall_batch_t *b, const order_head_t *h);

/* Confirms a reservation: reserving -> unpaid. */
void order_batch_confirm(mall_batch_t *b, const order_head_t *h, time_t now);

/* Removes an unconfirmed order entirely, stock back first (HINCRBYs). */
void order_batch_discard(mall_batch_t *b, const order_head_t *h);

/*
 * Follows up a stock change of the order's items (new_stock[i] after the
 * change of delta[i]): when a SKU crossed zero or its low-stock threshold,
 * the product's derived stock state is brought in line (merchant.c);
 * when that keeps losing races the SKU is queued for the expiry timer.
 */
void order_stock_after(mall_ctx_t *ctx, const order_head_t *h,
    const int64_t *new_stock, const int64_t *delta);

/* Reads the low-stock thresholds of h's SKUs (one round trip). */
int order_load_thresholds(mall_ctx_t *ctx, order_head_t *h, mall_err_t *err);

/*
 * Moves order oid by event/actor under WATCH (retried ORDER_TRIES times).
 * owner, when not NULL, must own the order (else ORDER_NOT_FOUND). On
 * ORDER_ILLEGAL *cur is the current status. Stock goes back in the same
 * MULTI when the table says so. MALL_OK, ORDER_NOT_FOUND, ORDER_ILLEGAL,
 * MALL_BATCH_ABORTED, MALL_ERR, MALL_RETRY.
 */
int order_transition(mall_ctx_t *ctx, const char *oid, const char *owner,
    order_event_e ev, order_actor_e actor, const char *actor_id,
    order_status_e *cur, mall_err_t *err);

/*
 * Settles an order still "reserving" (its creator died between the stock
 * MULTI and the confirmation, or is slow): confirmed when every SKU's
 * stock is >= 0, discarded (stock back) otherwise. *cur: the status
 * after (ORDER_ST_NONE when discarded or absent). MALL_OK, MALL_ERR,
 * MALL_RETRY, MALL_BATCH_ABORTED.
 */
int order_resolve(mall_ctx_t *ctx, const char *oid, order_status_e *cur,
    mall_err_t *err);

/*
 * The client's view of an order from its HGETALL reply (and, for the
 * detail, its events LRANGE reply; NULL otherwise). address: include the
 * unsealed address snapshot (phone masked). NULL on OOM / bad record.
 */
cJSON *order_view(mall_ctx_t *ctx, const redisReply *hash,
    const redisReply *events, int address);

/* HGETALL of order oid and LRANGE of its events into reps (caller frees). */
int order_load_full(mall_ctx_t *ctx, const char *oid, redisReply *reps[2],
    mall_err_t *err);

/*
 * The caller's user id and the route's {id} when it is a valid order id:
 * MALL_OK to go on; MALL_ERR when the request has been answered (401/404)
 * and the handler returns MALL_OK.
 */
int order_route_oid(mall_ctx_t *ctx, char uid[SF_UID_MAX], const char **oid);

/* A Redis string reply as an integer, def when absent or not a number. */
int64_t order_reply_int(const redisReply *r, int64_t def);

/*
 * Reads order oid (hash and events) and replies with its full view and
 * status. MALL_OK once replied, MALL_ERR, MALL_RETRY.
 */
int order_reply_stored(mall_ctx_t *ctx, const char *oid, int status,
    mall_err_t *err);

/* 409 CONFLICT with "current_status" in the error object. */
int order_reply_conflict(mall_ctx_t *ctx, order_status_e cur,
    const char *msg);

#endif
