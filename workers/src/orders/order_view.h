/*
 * The client's view of an order, built from its fields: a HGETALL reply
 * of the stored record, or the fields creation is about to write (so the
 * 201 answer needs no read-back).
 */
#ifndef ORDER_VIEW_H
#define ORDER_VIEW_H

#include <stddef.h>
#include <hiredis/hiredis.h>
#include <cjson/cJSON.h>

#include "mall_ctx.h"
#include "order_state.h"

#define ORDER_VIEW_ADDRESS  0x01    /* the address snapshot, phone masked */
#define ORDER_VIEW_EVENTS   0x02    /* the history, creation first */

/* Name/value pairs of an order record. */
typedef struct {
    const char  **kv;               /* name, value, name, value, ... */
    size_t        n;                /* pairs */
} order_fields_t;

/* The value of name, or NULL. */
const char *order_field(const order_fields_t *f, const char *name);

/*
 * Points f at the pairs of a HGETALL reply (kv has room for
 * hash->elements pointers). MALL_OK, or MALL_ERR when it is not a hash
 * reply.
 */
int order_fields_of_hash(const redisReply *hash, const char **kv,
    order_fields_t *f);

/*
 * The view (caller deletes): order_id, status, items, amounts, deadline,
 * remark, coupon, logistics, plus what flags ask for; events is the
 * LRANGE reply of the stored transitions (NULL: none yet). NULL when the
 * record is unreadable or memory runs out.
 */
cJSON *order_view(mall_ctx_t *ctx, const order_fields_t *f,
    const redisReply *events, unsigned flags);

/* HGETALL of order oid and LRANGE of its events into reps (caller frees). */
int order_load_full(mall_ctx_t *ctx, const char *oid, redisReply *reps[2],
    mall_err_t *err);

/*
 * Reads order oid and replies with its full view (the logistics timeline
 * included: logistics.h) and status. MALL_OK once replied, MALL_ERR,
 * MALL_RETRY.
 */
int order_reply_stored(mall_ctx_t *ctx, const char *oid, int status,
    mall_err_t *err);

/*
 * The list's ?status= (ORDER_ST_NONE when absent): MALL_OK, or MALL_ERR
 * once it answered 400 VALIDATION_FAILED for an unknown status.
 */
int order_query_status(mall_ctx_t *ctx, order_status_e *st);

/*
 * Replies with page/size of the orders of index key (a zset, newest
 * first) whose record is still in status st (ORDER_ST_NONE: any), with
 * their user_id when with_user (the merchant's list). MALL_OK once
 * replied, MALL_ERR, MALL_RETRY.
 */
int order_list_page(mall_ctx_t *ctx, const char *key, order_status_e st,
    long long page, long long size, int with_user);

#endif
