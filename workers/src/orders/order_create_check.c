/*
 * Order creation: the decision from round trip 1 (see order_create.h).
 */
#include <stdio.h>
#include <string.h>

#include "catalog.h"
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
        if (s->type != REDIS_REPLY_ARRAY || s->elements != 8
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
    const redisReply  *bought = c->read[c->nread - 1];
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
 * The decision from round trip 1. MALL_OK to write; MALL_ERR once a
 * reply is sent (or for an internal error: err).
 */
int
create_check(mall_ctx_t *ctx, create_t *c, mall_err_t *err)
{
    size_t  i;

    if (create_check_skus(ctx, c) != MALL_OK) {
        return MALL_ERR;
    }
    if (order_new_id(c->oid) != MALL_OK) {
        return mall_err_set(err, 500, "no randomness for the order id");
    }
    if (create_address(ctx, c) != MALL_OK) {
        return MALL_ERR;
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
    /* coupons do not exist yet: "auto" finds none */
    if (order_price(c->req.lines, c->req.nlines, &ctx->conf->order, 0,
                    &c->amounts, err) != MALL_OK)
    {
        if (err->code == 422) {
            sf_reply_invalid(ctx, "items", err->msg);
        }
        return MALL_ERR;
    }
    return MALL_OK;
}


