/*
 * Order creation: the decision from round trip 1 (see order_create.h).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "catalog.h"
#include "mall_reply.h"
#include "order_create.h"


/* ---- decide ----------------------------------------------------------- */

/* SKUs: they exist, are on sale; their price (the catalog's). MALL_OK,
 * or MALL_ERR once replied. */
static int
create_check_skus(mall_ctx_t *ctx, create_t *c)
{
    const redisReply  *s;
    create_sku_t      *k;
    char               msg[96];
    size_t             i;

    for (i = 0; i < c->req.nlines; i++) {
        s = c->read[READ_SKU + i];
        k = &c->sku[i];
        if (s->type != REDIS_REPLY_ARRAY || s->elements != READ_SKU_FIELDS
            || catalog_reply_int(s->element[0], &k->product_id) != MALL_OK
            || s->element[1]->type != REDIS_REPLY_STRING)
        {
            snprintf(msg, sizeof(msg), "sku %lld does not exist",
                     (long long) c->req.lines[i].sku_id);
            sf_reply_invalid(ctx, "items", msg);
            return MALL_ERR;
        }
        if (s->element[7]->type == REDIS_REPLY_STRING
            && strcmp(s->element[7]->str, "on_sale") != 0)
        {
            snprintf(msg, sizeof(msg), "sku %lld is not on sale",
                     (long long) c->req.lines[i].sku_id);
            sf_reply_invalid(ctx, "items", msg);
            return MALL_ERR;
        }
        c->req.lines[i].price_fen = order_reply_int(s->element[1], -1);
        k->stock = order_reply_int(s->element[2], 0);
        k->threshold = order_reply_int(s->element[3], -1);
        k->attrs = s->element[4]->type == REDIS_REPLY_STRING
                   ? s->element[4]->str : NULL;
        k->name = s->element[5]->type == REDIS_REPLY_STRING
                  ? s->element[5]->str : "";
        k->image = s->element[6]->type == REDIS_REPLY_STRING
                   ? s->element[6]->str : "";
        k->categories = s->element[8]->type == REDIS_REPLY_STRING
                        ? s->element[8]->str : NULL;
    }
    return MALL_OK;
}


/*
 * The shipping address: the caller's address-book record, copied sealed
 * as it is (AES-256-GCM under the book's AAD mall:addr:{uid}:{aid}, which
 * the order's user_id and address_id rebuild). Its presence in the
 * caller's own book is the ownership check. MALL_OK, or MALL_ERR once
 * replied (422).
 */
static int
create_address(mall_ctx_t *ctx, create_t *c)
{
    const redisReply  *rec = c->read[READ_ADDR];

    if (rec->type != REDIS_REPLY_STRING || rec->len == 0) {
        sf_reply_invalid(ctx, "address_id", "no such address of yours");
        return MALL_ERR;
    }
    c->address = rec->str;
    return MALL_OK;
}


/* The purchase limit: units held in open orders plus these. MALL_OK, or
 * MALL_ERR once replied. */
static int
create_check_limit(mall_ctx_t *ctx, create_t *c)
{
    const redisReply  *bought = c->read[c->at_bought];
    int64_t            have;
    char               msg[128];
    size_t             i;
    int                limit = ctx->conf->order.purchase_limit;

    for (i = 0; c->limit && i < c->req.nlines; i++) {
        have = bought->type == REDIS_REPLY_ARRAY && i < bought->elements
               ? order_reply_int(bought->element[i], 0) : 0;
        if (have + c->req.lines[i].quantity > limit) {
            snprintf(msg, sizeof(msg), "at most %d of sku %lld per customer "
                     "(you have %lld in open orders)", limit,
                     (long long) c->req.lines[i].sku_id, (long long) have);
            sf_reply_invalid(ctx, "items", msg);
            return MALL_ERR;
        }
    }
    return MALL_OK;
}


/*
 * The coupons: the buyer's list checked, or the best combination, taking
 * off at most the goods less one fen (WeChat Pay takes no zero amount).
 * Sets c->coupons and the order's coupon fields. MALL_OK, or MALL_ERR
 * once replied (422 COUPON_INVALID) or out of memory (err).
 */
static int
create_coupons(mall_ctx_t *ctx, create_t *c, int64_t items_fen,
    mall_err_t *err)
{
    coupon_line_t   lines[ORDER_LINES_MAX];
    cJSON          *picked;
    char            msg[160];
    int64_t         bad;
    size_t          i, nids;

    if (!c->wallet) {
        return MALL_OK;
    }
    for (i = 0; i < c->req.nlines; i++) {
        lines[i].product_id = c->sku[i].product_id;
        lines[i].categories = c->sku[i].categories;
        lines[i].subtotal_fen = c->req.lines[i].subtotal_fen;
    }
    nids = c->req.coupon == ORDER_COUPON_IDS ? c->req.ncoupons : 0;
    if (c->req.coupon_unknown) {
        mall_reply_error(ctx, 422, "COUPON_INVALID", "no such coupon");
        return MALL_ERR;
    }
    if (coupon_order_choose(c->read[c->at_wallet], c->read[c->at_wallet + 1],
                            lines, c->req.nlines, (int64_t) time(NULL),
                            c->req.coupon_ids, nids, items_fen - 1,
                            &c->coupons, &bad) != MALL_OK)
    {
        if (bad != 0) {
            snprintf(msg, sizeof(msg), "coupon %lld cannot be used on this "
                     "order (not yours, used, expired, out of scope or under "
                     "its threshold)", (long long) bad);
        } else {
            snprintf(msg, sizeof(msg), "these coupons cannot be used "
                     "together");
        }
        mall_reply_error(ctx, 422, "COUPON_INVALID", msg);
        return MALL_ERR;
    }
    if (c->req.coupon == ORDER_COUPON_NONE) {
        c->coupons.pick.n = 0;          /* a preview lists, picks none */
        c->coupons.pick.discount = 0;
    }
    picked = coupon_order_json(&c->coupons);
    c->coupon_json = picked != NULL ? cJSON_PrintUnformatted(picked) : NULL;
    cJSON_Delete(picked);
    if (c->coupon_json == NULL) {
        return mall_err_set(err, 500, "out of memory");
    }
    coupon_order_ids(&c->coupons, c->coupon_ids, sizeof(c->coupon_ids));
    return MALL_OK;
}


/* Prices the order: goods first, then the coupons on them. */
static int
create_price(mall_ctx_t *ctx, create_t *c, mall_err_t *err)
{
    const order_conf_t  *oc = &ctx->conf->order;

    if (order_price(c->req.lines, c->req.nlines, oc, 0, &c->amounts, err)
        != MALL_OK)
    {
        if (err->code == 422) {
            sf_reply_invalid(ctx, "items", err->msg);
        }
        return MALL_ERR;
    }
    if (create_coupons(ctx, c, c->amounts.items_fen, err) != MALL_OK) {
        return MALL_ERR;
    }
    return order_price(c->req.lines, c->req.nlines, oc,
                       c->coupons.pick.discount, &c->amounts, err);
}


/*
 * The decision from round trip 1. MALL_OK to write (or to answer a
 * preview); MALL_ERR once a reply is sent (or for an internal error:
 * err).
 */
int
create_check(mall_ctx_t *ctx, create_t *c, mall_err_t *err)
{
    size_t  i;

    if (create_check_skus(ctx, c) != MALL_OK) {
        return MALL_ERR;
    }
    if (!c->preview) {
        if (order_new_id(c->oid) != MALL_OK) {
            return mall_err_set(err, 500, "no randomness for the order id");
        }
        if (create_address(ctx, c) != MALL_OK) {
            return MALL_ERR;
        }
    }
    /* fast fail: nothing is written for an order that cannot be served */
    for (i = 0; i < c->req.nlines; i++) {
        if (c->sku[i].stock < c->req.lines[i].quantity) {
            order_reply_out_of_stock(ctx, c->req.lines[i].sku_id);
            return MALL_ERR;
        }
    }
    if (create_check_limit(ctx, c) != MALL_OK) {
        return MALL_ERR;
    }
    return create_price(ctx, c, err);
}
