/*
 * Between the parts of order creation (order_create.c: the handler, read
 * and replay; order_create_check.c: the decision; order_create_write.c:
 * the record, the MULTI/EXEC and its verdict). Not for other callers.
 */
#ifndef ORDER_CREATE_H
#define ORDER_CREATE_H

#include <stdint.h>

#include "coupon_order.h"
#include "mall_buf.h"
#include "mall_ctx.h"
#include "order_request.h"
#include "order_store.h"

/* What one line needs beyond order_line_t (strings point into c->read). */
typedef struct {
    int64_t      product_id;
    int64_t      stock;
    int64_t      threshold;
    const char  *attrs;
    const char  *name;
    const char  *image;
    const char  *categories;    /* ",leaf,...,root," */
} create_sku_t;

typedef struct {
    char              uid[SF_UID_MAX];
    char              idem[ORDER_KEY_MAX];
    char              bought[ORDER_KEY_MAX];
    char              digest[ORDER_DIGEST_HEX];
    char              oid[ORDER_ID_MAX];
    order_req_t       req;
    create_sku_t      sku[ORDER_LINES_MAX];
    order_amounts_t   amounts;
    int64_t           created_ms;
    int               limit;            /* purchase limit in force */
    int               preview;          /* price only: nothing written */
    int               wallet;           /* the buyer's coupons are read */
    redisReply       *read[ORDER_LINES_MAX + 5];
    size_t            nread;
    size_t            at_bought;        /* in read: purchase counters */
    size_t            at_wallet;        /* coupons, then their marks */
    coupon_choice_t   coupons;
    char             *coupon_json;      /* picked ones (cJSON_free) */
    char              coupon_ids[ORDER_COUPONS_MAX * 21 + 1];
    const char       *address;          /* sealed record, in c->read */
    char             *items;            /* items JSON (cJSON_free) */
    mall_buf_t        idem_val;         /* "v1 digest oid answer" */
    size_t            answer_at;        /* where the answer starts in it */
} create_t;

/* c->read: the key's record (NULL in a preview), the address, the SKUs,
 * [purchase counters], [the buyer's coupons and their marks] */
#define READ_IDEM   0
#define READ_ADDR   1
#define READ_SKU    2
#define READ_SKU_FIELDS  9

/*
 * Round trip 1 (create and preview): everything the decision needs, in
 * one pipeline; with coupons it WATCHes the buyer's coupon marks first,
 * so an order's EXEC fails when another order took or gave back a coupon
 * meanwhile. MALL_OK, MALL_ERR, MALL_RETRY.
 */
int create_read(mall_ctx_t *ctx, create_t *c, mall_err_t *err);

/* Releases one attempt's buffers (the request is kept for a retry). */
void create_reset(create_t *c);


/*
 * The decision from round trip 1 (prices, SKUs on sale, the address, stock
 * and limits, the coupons). MALL_OK to write (or, in a preview, to
 * answer); MALL_ERR once a reply is sent (or for an internal error: err).
 */
int create_check(mall_ctx_t *ctx, create_t *c, mall_err_t *err);

/*
 * Round trip 2 and the answer from its verdict. MALL_OK (replied),
 * MALL_BATCH_ABORTED (the key was taken first: replay it), MALL_ERR,
 * MALL_RETRY (outcome unknown: the client retries with its key).
 */
int create_commit(mall_ctx_t *ctx, create_t *c, mall_err_t *err);

#endif
