/*
 * POST /api/v1/orders/preview: the checkout page's price breakdown for
 * the body an order would be created with (no Idempotency-Key, nothing
 * written). It runs the creation's own read and decision (order_create.h),
 * so the create answers the same total for the same cart and coupons.
 *
 *   {"lines": [{sku_id, product_id, name, image, attrs, price_fen,
 *               promotion_price_fen, quantity, subtotal_fen}],
 *    "items_fen", "promotion_discount_fen", "member_discount_fen",
 *    "coupons": [{coupon_id, template_id, name, discount_fen}] (picked),
 *    "coupon_discount_fen", "shipping_fen", "discount_fen", "total_fen",
 *    "usable_coupons": [{coupon_id, template_id, name, discount_fen,
 *                        valid_until}]}
 *
 * Promotions and member prices come with the marketing features; until
 * then a line's promotion price is its price and those discounts are 0.
 */
#include <stdlib.h>
#include <string.h>

#include "mall_json.h"
#include "mall_reply.h"
#include "order_create.h"


static int order_preview(mall_ctx_t *ctx);

const mall_route_t  mall_order_preview_routes[] = {
    { "POST", "/api/v1/orders/preview", order_preview, 0 },
    { NULL, NULL, NULL, 0 }
};


static int
preview_lines(cJSON *root, const create_t *c)
{
    cJSON   *arr, *it, *attrs;
    size_t   i;

    arr = cJSON_AddArrayToObject(root, "lines");
    for (i = 0; arr != NULL && i < c->req.nlines; i++) {
        const order_line_t  *l = &c->req.lines[i];

        it = cJSON_CreateObject();
        if (it == NULL || !cJSON_AddItemToArray(arr, it)) {
            cJSON_Delete(it);
            return MALL_ERR;
        }
        attrs = c->sku[i].attrs != NULL ? cJSON_Parse(c->sku[i].attrs)
                                        : cJSON_CreateObject();
        if (attrs == NULL || !cJSON_AddItemToObject(it, "attrs", attrs)) {
            cJSON_Delete(attrs);
            return MALL_ERR;
        }
        if (mall_json_add_int(it, "sku_id", l->sku_id) != MALL_OK
            || mall_json_add_int(it, "product_id", c->sku[i].product_id)
               != MALL_OK
            || mall_json_add_str(it, "name", c->sku[i].name) != MALL_OK
            || mall_json_add_str(it, "image", c->sku[i].image) != MALL_OK
            || mall_json_add_int(it, "price_fen", l->price_fen) != MALL_OK
            || mall_json_add_int(it, "promotion_price_fen", l->price_fen)
               != MALL_OK
            || mall_json_add_int(it, "quantity", l->quantity) != MALL_OK
            || mall_json_add_int(it, "subtotal_fen", l->subtotal_fen)
               != MALL_OK)
        {
            return MALL_ERR;
        }
    }
    return arr != NULL ? MALL_OK : MALL_ERR;
}


/* Every coupon of the buyer that applies, with its own discount. */
static int
preview_usable(cJSON *root, const coupon_choice_t *ch)
{
    cJSON   *arr, *o;
    size_t   i;

    arr = cJSON_AddArrayToObject(root, "usable_coupons");
    for (i = 0; arr != NULL && i < ch->n; i++) {
        o = cJSON_CreateObject();
        if (o == NULL || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            return MALL_ERR;
        }
        if (mall_json_add_int(o, "coupon_id", ch->c[i].id) != MALL_OK
            || mall_json_add_int(o, "template_id", ch->c[i].template_id)
               != MALL_OK
            || mall_json_add_str(o, "name", ch->name[i]) != MALL_OK
            || mall_json_add_int(o, "discount_fen", ch->d[i]) != MALL_OK
            || mall_json_add_int(o, "valid_until", ch->c[i].valid_until)
               != MALL_OK)
        {
            return MALL_ERR;
        }
    }
    return arr != NULL ? MALL_OK : MALL_ERR;
}


static int
preview_reply(mall_ctx_t *ctx, const create_t *c)
{
    const order_amounts_t  *a = &c->amounts;
    cJSON                  *root, *picked;
    int                     rc;

    root = cJSON_CreateObject();
    picked = coupon_order_json(&c->coupons);
    if (root == NULL || picked == NULL
        || !cJSON_AddItemToObject(root, "coupons", picked))
    {
        cJSON_Delete(picked);
        cJSON_Delete(root);
        return MALL_ERR;
    }
    if (preview_lines(root, c) != MALL_OK
        || mall_json_add_int(root, "items_fen", a->items_fen) != MALL_OK
        || mall_json_add_int(root, "promotion_discount_fen", 0) != MALL_OK
        || mall_json_add_int(root, "member_discount_fen", 0) != MALL_OK
        || mall_json_add_int(root, "coupon_discount_fen",
                             c->coupons.pick.discount) != MALL_OK
        || mall_json_add_int(root, "shipping_fen", a->shipping_fen)
           != MALL_OK
        || mall_json_add_int(root, "discount_fen", a->discount_fen)
           != MALL_OK
        || mall_json_add_int(root, "total_fen", a->total_fen) != MALL_OK
        || preview_usable(root, &c->coupons) != MALL_OK)
    {
        cJSON_Delete(root);
        return MALL_ERR;
    }
    rc = sf_reply(ctx, 200, root);
    cJSON_Delete(root);
    return rc;
}


static int
order_preview(mall_ctx_t *ctx)
{
    create_t    *c;
    const char  *field;
    cJSON       *body;
    mall_err_t   err;
    int          rc;

    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return MALL_ERR;
    }
    rc = MALL_OK;
    if (sf_require_user(ctx, c->uid) != MALL_OK
        || sf_body(ctx, &body) != MALL_OK)
    {
        goto done;
    }
    err.code = 0;
    err.msg[0] = '\0';
    if (order_req_parse(body, &ctx->conf->order, 0, &c->req, &field, &err)
        != MALL_OK)
    {
        cJSON_Delete(body);
        sf_reply_invalid(ctx, field, err.msg);
        goto done;
    }
    cJSON_Delete(body);
    c->preview = 1;
    c->wallet = 1;
    c->limit = ctx->conf->order.purchase_limit > 0;
    order_key(c->bought, sizeof(c->bought), ORDER_KEY_BOUGHT, c->uid, NULL);

    rc = create_read(ctx, c, &err);
    if (rc == MALL_OK) {
        rc = create_check(ctx, c, &err) == MALL_OK ? preview_reply(ctx, c)
                                                    : MALL_ERR;
    }
    if (rc != MALL_OK) {
        rc = sf_fail(ctx, rc, "order preview", &err);
    }

done:
    create_reset(c);
    free(c);
    return rc;
}
