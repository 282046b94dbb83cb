/*
 * The order state table (see order_state.h).
 */
#include <stddef.h>
#include <string.h>

#include "order_state.h"

const order_transition_t  order_transitions[] = {
    { ORDER_ST_UNPAID, ORDER_EV_PAY, ORDER_ACTOR_SYSTEM, ORDER_ST_PAID },
    { ORDER_ST_UNPAID, ORDER_EV_CANCEL, ORDER_ACTOR_USER,
      ORDER_ST_CANCELLED },
    { ORDER_ST_UNPAID, ORDER_EV_CANCEL, ORDER_ACTOR_ADMIN,
      ORDER_ST_CANCELLED },
    { ORDER_ST_UNPAID, ORDER_EV_EXPIRE, ORDER_ACTOR_SYSTEM,
      ORDER_ST_CANCELLED },
    { ORDER_ST_UNPAID, ORDER_EV_VOID, ORDER_ACTOR_SYSTEM,
      ORDER_ST_CANCELLED },                     /* hold found short */

    { ORDER_ST_PAID, ORDER_EV_SHIP, ORDER_ACTOR_ADMIN, ORDER_ST_SHIPPED },
    { ORDER_ST_SHIPPED, ORDER_EV_RECEIVE, ORDER_ACTOR_USER,
      ORDER_ST_RECEIVED },
    { ORDER_ST_SHIPPED, ORDER_EV_RECEIVE, ORDER_ACTOR_SYSTEM,
      ORDER_ST_RECEIVED },                      /* auto after N days */
    { ORDER_ST_RECEIVED, ORDER_EV_COMPLETE, ORDER_ACTOR_SYSTEM,
      ORDER_ST_COMPLETED },                     /* after-sales window over */

    { ORDER_ST_PAID, ORDER_EV_REFUND_REQUEST, ORDER_ACTOR_USER,
      ORDER_ST_REFUND_REQUESTED },
    { ORDER_ST_SHIPPED, ORDER_EV_REFUND_REQUEST, ORDER_ACTOR_USER,
      ORDER_ST_REFUND_REQUESTED },
    { ORDER_ST_RECEIVED, ORDER_EV_REFUND_REQUEST, ORDER_ACTOR_USER,
      ORDER_ST_REFUND_REQUESTED },              /* within the window */
    { ORDER_ST_REFUND_REQUESTED, ORDER_EV_REFUND_DONE, ORDER_ACTOR_SYSTEM,
      ORDER_ST_REFUNDED },                      /* WeChat refund success */
    /* a full refund completed at WeChat (the merchant refunded it) */
    { ORDER_ST_PAID, ORDER_EV_REFUND_DONE, ORDER_ACTOR_SYSTEM,
      ORDER_ST_REFUNDED },
    { ORDER_ST_SHIPPED, ORDER_EV_REFUND_DONE, ORDER_ACTOR_SYSTEM,
      ORDER_ST_REFUNDED },
    { ORDER_ST_RECEIVED, ORDER_EV_REFUND_DONE, ORDER_ACTOR_SYSTEM,
      ORDER_ST_REFUNDED },
    { ORDER_ST_REFUND_REQUESTED, ORDER_EV_REFUND_REJECT, ORDER_ACTOR_ADMIN,
      ORDER_ST_PREVIOUS },
    { ORDER_ST_REFUND_REQUESTED, ORDER_EV_REFUND_WITHDRAW, ORDER_ACTOR_USER,
      ORDER_ST_PREVIOUS },
    /* the after-sale's partial refund paid: the order goes on as before */
    { ORDER_ST_REFUND_REQUESTED, ORDER_EV_REFUND_PARTIAL, ORDER_ACTOR_SYSTEM,
      ORDER_ST_PREVIOUS },
};

const unsigned  order_transitions_n =
    sizeof(order_transitions) / sizeof(order_transitions[0]);

static const char  *status_names[ORDER_ST_COUNT] = {
    "", "unpaid", "paid", "shipped", "received", "completed",
    "cancelled", "refund_requested", "refunded", ""
};

static const char  *event_names[ORDER_EV_COUNT] = {
    "", "pay", "cancel", "expire", "ship", "receive", "complete",
    "refund_request", "refund_partial", "refund_done", "refund_reject",
    "refund_withdraw", "void"
};

static const char  *actor_names[ORDER_ACTOR_COUNT] = {
    "", "user", "admin", "system"
};


order_status_e
order_state_next(order_status_e from, order_event_e event,
    order_actor_e actor, order_status_e refund_from)
{
    unsigned  i;

    for (i = 0; i < order_transitions_n; i++) {
        const order_transition_t  *t = &order_transitions[i];

        if (t->from != from || t->event != event || t->actor != actor) {
            continue;
        }
        if (t->to != ORDER_ST_PREVIOUS) {
            return t->to;
        }
        /* only the statuses a refund request can come from */
        return refund_from == ORDER_ST_PAID || refund_from == ORDER_ST_SHIPPED
               || refund_from == ORDER_ST_RECEIVED
               ? refund_from : ORDER_ST_NONE;
    }
    return ORDER_ST_NONE;
}


const char *
order_status_name(order_status_e s)
{
    return (unsigned) s < ORDER_ST_COUNT ? status_names[s] : "";
}


const char *
order_event_name(order_event_e e)
{
    return (unsigned) e < ORDER_EV_COUNT ? event_names[e] : "";
}


const char *
order_actor_name(order_actor_e a)
{
    return (unsigned) a < ORDER_ACTOR_COUNT ? actor_names[a] : "";
}


order_status_e
order_status_parse(const char *s)
{
    unsigned  i;

    if (s == NULL || s[0] == '\0') {
        return ORDER_ST_NONE;
    }
    for (i = ORDER_ST_UNPAID; i < ORDER_ST_PREVIOUS; i++) {
        if (strcmp(s, status_names[i]) == 0) {
            return (order_status_e) i;
        }
    }
    return ORDER_ST_NONE;
}


int
order_state_releases_stock(order_status_e from, order_status_e to)
{
    /* stock is reserved at creation and kept once paid; an unpaid order
     * that ends gives it back (refunds return goods through after-sales) */
    return from == ORDER_ST_UNPAID && to == ORDER_ST_CANCELLED;
}
