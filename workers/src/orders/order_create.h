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
#include "risk_store.h"

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
    redisReply       *read[ORDER_LINES_MAX + 6];
    size_t            nread;
    size_t            at_bought;        /* in read: purchase counters */
    size_t            at_wallet;        /* coupons, then their marks */
    size_t            at_user;          /* the buyer's status, created_at */
    char              device[65];       /* X-Mall-Device, "" when none */
    char              fp[RISK_FP_HEX];  /* address fingerprint, "" none */
    char              reasons[RISK_REASONS_MAX];   /* the edge's */
    int               edge_score;       /* X-Mall-Risk, 0 when absent */
    int64_t           skus[ORDER_LINES_MAX];
    risk_order_t      risk;             /* the MULTI's risk counters */
    size_t            nrisk;            /* how many commands they are */
    coupon_choice_t   coupons;
    char             *coupon_json;      /* picked ones (cJSON_free) */
    char              coupon_ids[ORDER_COUPONS_MAX * 21 + 1];
    const char       *address;          /* sealed record, in c->read */
    char             *items;            /* items JSON (cJSON_free) */
    mall_buf_t        idem_val;         /* "v1 digest oid answer" */
    size_t            answer_at;        /* where the answer starts in it */
} create_t;

/* c->read: the key's record (NULL in a preview), the address, the SKUs,
 * [purchase counters], [the buyer's coupons and their marks], [the
 * buyer's record: status, created_at (not in a preview)] */
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

/* Line i as the order keeps and shows it (attrs, sku_id, product_id,
 * name, image, price_fen, quantity, subtotal_fen); NULL on OOM. */
cJSON *create_line_json(const create_t *c, size_t i);

/* Releases one attempt's buffers (the request is kept for a retry). */
void create_reset(create_t *c);


/*
 * The decision from round trip 1 (prices, SKUs on sale, the address, stock
 * and limits, the coupons). MALL_OK to write (or, in a preview, to
 * answer); MALL_ERR once a reply is sent (or for an internal error: err).
 */
int create_check(mall_ctx_t *ctx, create_t *c, mall_err_t *err);

/*
 * The abnormal-order rules that the read decides (edge risk, a high value
 * on a new account; docs/orders.md "Abnormal orders"): on a hit the
 * account is frozen and the order refused with 403 ACCOUNT_FROZEN,
 * nothing of it written. MALL_OK to write, MALL_ERR once replied (or
 * err).
 */
int create_check_risk(mall_ctx_t *ctx, create_t *c, mall_err_t *err);

/* Freezes the buyer for hit (the order's alert) and answers 403
 * ACCOUNT_FROZEN. MALL_OK (replied) or what the freeze returned. */
int create_freeze(mall_ctx_t *ctx, const create_t *c, const risk_hit_t *hit,
    mall_err_t *err);

/*
 * Round trip 2 and the answer from its verdict. MALL_OK (replied),
 * MALL_BATCH_ABORTED (the key was taken first: replay it), MALL_ERR,
 * MALL_RETRY (outcome unknown: the client retries with its key).
 */
int create_commit(mall_ctx_t *ctx, create_t *c, mall_err_t *err);

/* 503 for an order stored but not confirmed by enough replicas (WAIT):
 * kept as it is, a retry with the key replays it. MALL_OK (replied). */
int create_reply_unreplicated(mall_ctx_t *ctx, const mall_err_t *err);

#endif
