/*
 * The order lifecycle in one table: (from, event, actor) -> to. Every
 * status change of an order goes through order_state_next(); a row that
 * is not in the table is an illegal transition (409 with the current
 * status). Pure code, unit-tested in tests/unit/test_order_state.c.
 *
 *   unpaid --pay/system--> paid --ship/admin--> shipped
 *   shipped --receive/user|system--> received --complete/system--> completed
 *   unpaid --cancel/user|admin, expire/system, void/system--> cancelled
 *   paid|shipped|received --refund_request/user--> refund_requested
 *   refund_requested --refund_done/system--> refunded (all of it paid back)
 *   paid|shipped|received --refund_done/system--> refunded (a full refund
 *       completed at WeChat)
 *   refund_requested --refund_reject/admin, refund_withdraw/user,
 *       refund_partial/system (a partial refund paid)--> the status the
 *       request was made from (kept in the order's refund_from)
 *
 * "void" cancels an unpaid order whose stock hold turned out short: it
 * lost the race for the last units and its creator died before giving
 * them back (docs/orders.md); it is found on a retry, a read or a payment.
 */
#ifndef ORDER_STATE_H
#define ORDER_STATE_H

typedef enum {
    ORDER_ST_NONE = 0,            /* unknown / no such status */
    ORDER_ST_UNPAID,
    ORDER_ST_PAID,
    ORDER_ST_SHIPPED,
    ORDER_ST_RECEIVED,
    ORDER_ST_COMPLETED,
    ORDER_ST_CANCELLED,
    ORDER_ST_REFUND_REQUESTED,
    ORDER_ST_REFUNDED,
    ORDER_ST_PREVIOUS,            /* table only: back to refund_from */
    ORDER_ST_COUNT
} order_status_e;

typedef enum {
    ORDER_EV_NONE = 0,
    ORDER_EV_PAY,
    ORDER_EV_CANCEL,
    ORDER_EV_EXPIRE,
    ORDER_EV_SHIP,
    ORDER_EV_RECEIVE,
    ORDER_EV_COMPLETE,
    ORDER_EV_REFUND_REQUEST,
    ORDER_EV_REFUND_PARTIAL,      /* an after-sale refunded in part */
    ORDER_EV_REFUND_DONE,
    ORDER_EV_REFUND_REJECT,
    ORDER_EV_REFUND_WITHDRAW,
    ORDER_EV_VOID,                /* its stock hold was short (system) */
    ORDER_EV_COUNT
} order_event_e;

typedef enum {
    ORDER_ACTOR_NONE = 0,
    ORDER_ACTOR_USER,             /* the buyer who owns the order */
    ORDER_ACTOR_ADMIN,            /* merchant back office */
    ORDER_ACTOR_SYSTEM,           /* timers, payment notifications */
    ORDER_ACTOR_COUNT
} order_actor_e;

typedef struct {
    order_status_e  from;
    order_event_e   event;
    order_actor_e   actor;
    order_status_e  to;
} order_transition_t;

extern const order_transition_t  order_transitions[];
extern const unsigned            order_transitions_n;

/*
 * The status event by actor leads to from "from", or ORDER_ST_NONE when
 * the table has no such row (illegal). ORDER_ST_PREVIOUS is resolved
 * with refund_from (the status before the refund request); it yields
 * ORDER_ST_NONE when refund_from is not paid, shipped or received.
 */
order_status_e order_state_next(order_status_e from, order_event_e event,
    order_actor_e actor, order_status_e refund_from);

/* Names as stored and sent ("unpaid", ...); "" for out-of-range values. */
const char *order_status_name(order_status_e s);
const char *order_event_name(order_event_e e);
const char *order_actor_name(order_actor_e a);

/* Parses a status name; ORDER_ST_NONE when unknown. */
order_status_e order_status_parse(const char *s);

/* 1 when stock reserved by the order goes back on entering to from from. */
int order_state_releases_stock(order_status_e from, order_status_e to);

#endif
