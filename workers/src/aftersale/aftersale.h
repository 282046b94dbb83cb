/*
 * After-sales (售后): a buyer's refund request on a paid, shipped or
 * received order, and what the merchant does with it. docs/orders.md,
 * "After-sales", has the flows.
 *
 *   type refund_only:  requested --approve--> refunding --WeChat--> refunded
 *   type return:       requested --approve--> awaiting_return
 *                      --buyer ships it back--> returning
 *                      --merchant receives it (stock back)--> refunding
 *                      --WeChat--> refunded
 *   requested | awaiting_return --reject (merchant) / withdraw (buyer)-->
 *                      rejected / withdrawn, the order back where it was
 *
 * The order is refund_requested while its after-sale is open; a full
 * refund makes it refunded (coupons back), a partial one returns it to
 * the status it had. Every change of an after-sale is an order_update
 * plan (the order's WATCH covers it: each change also writes the order's
 * aftersale_status), so an after-sale and its order never disagree.
 *
 * Keys:
 *   mall:aftersale:{id}              hash  id, order_id, user_id, type,
 *                                          status, reason, amount_fen, items
 *                                          (JSON [{sku_id, quantity}]),
 *                                          images (JSON), reject_reason,
 *                                          note, return_carrier,
 *                                          return_tracking_no,
 *                                          out_refund_no, created_at,
 *                                          updated_at
 *   mall:aftersales                  zset  id -> id (all, by age)
 *   mall:aftersales:status:{status}  zset  id -> id
 *   mall:seq:aftersale               the id sequence
 * and on the order: aftersale_id, aftersale_status.
 */
#ifndef AFTERSALE_H
#define AFTERSALE_H

#include <stdint.h>
#include <hiredis/hiredis.h>
#include <cjson/cJSON.h>

#include "mall_batch.h"
#include "mall_ctx.h"
#include "order_store.h"

#define AS_KEY            "mall:aftersale:%s"
#define AS_KEY_ALL        "mall:aftersales"
#define AS_KEY_STATUS     "mall:aftersales:status:%s"
#define AS_SEQ            "aftersale"
#define AS_LIST_MAX       100

typedef struct {
    int64_t         id;
    char            oid[ORDER_ID_MAX];
    char            uid[SF_UID_MAX];
    char            type[16];           /* refund_only | return */
    char            status[20];
    int64_t         amount;
    int64_t         created_at;
    order_item_ref_t items[ORDER_LINES_MAX];    /* returned goods */
    size_t          nitems;             /* 0: the whole order */
} aftersale_t;

/*
 * Reads after-sale id (not watched: call it inside an order_update plan
 * of its order, whose WATCH covers it). a->id is 0 when there is none.
 */
int aftersale_load(mall_ctx_t *ctx, int64_t id, aftersale_t *a,
    mall_err_t *err);

/*
 * Appends the commands moving a to status to (record, status indexes, the
 * order's aftersale_status) with extra field/value pairs (n pairs).
 */
void aftersale_batch_status(mall_batch_t *b, const aftersale_t *a,
    const char *to, const char *const *extra, size_t n);

/* From refund.c: the after-sale id's refund was paid (status refunded). */
void aftersale_batch_refunded(mall_batch_t *b, const order_head_t *h,
    int64_t id);

/* The after-sale id as the API shows it; NULL when there is none. */
cJSON *aftersale_view(mall_ctx_t *ctx, int64_t id, mall_err_t *err);

/* Replies with after-sale id (status), or 500. */
int aftersale_reply(mall_ctx_t *ctx, int status, int64_t id);

#endif
