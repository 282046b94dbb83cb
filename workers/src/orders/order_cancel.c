/*
 * POST /api/v1/orders/{id}/cancel: the buyer cancels an unpaid order.
 * The status change and the stock give-back are one MULTI/EXEC under
 * WATCH of the order (order_transition), so a concurrent payment and
 * cancel cannot both win; an order with a prepay is closed at WeChat
 * first (pay_cancel_order), and one the close finds paid stays paid. Another user's order is 404; an order that is
 * not unpaid is 409 CONFLICT with "current_status".
 */
#include "mall_reply.h"
#include "order_store.h"
#include "pay_close.h"
#include "order_view.h"

static int order_cancel(mall_ctx_t *ctx);

const mall_route_t  mall_order_cancel_routes[] = {
    { "POST", "/api/v1/orders/{id}/cancel", order_cancel, 0 },
    { NULL, NULL, NULL, 0 }
};


static int
order_cancel(mall_ctx_t *ctx)
{
    char             uid[SF_UID_MAX];
    const char      *oid;
    order_status_e   cur;
    mall_err_t       err;
    int              rc;

    if (order_route_oid(ctx, uid, &oid) != MALL_OK) {
        return MALL_OK;
    }
    err.msg[0] = '\0';
    rc = pay_cancel_order(ctx, oid, uid, ORDER_EV_CANCEL, ORDER_ACTOR_USER,
                          uid, &cur, &err);
    switch (rc) {
    case MALL_OK:
        rc = order_reply_stored(ctx, oid, 200, &err);
        return rc == MALL_OK ? MALL_OK : sf_fail(ctx, rc, "order cancel", &err);
    case ORDER_NOT_FOUND:
        return mall_reply_error(ctx, 404, "NOT_FOUND", "no such order");
    case ORDER_ILLEGAL:
        return order_reply_conflict(ctx, cur, "only an unpaid order can be "
                                    "cancelled");
    case MALL_BATCH_ABORTED:
        return mall_reply_error(ctx, 409, "CONFLICT", "the order changed "
                                "concurrently; try again");
    default:
        return sf_fail(ctx, rc, "order cancel", &err);
    }
}
