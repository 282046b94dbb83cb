/*
 * The order state table: every legal row, and every other (from, event,
 * actor) combination refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "order_state.h"

typedef struct {
    order_status_e  from;
    order_event_e   event;
    order_actor_e   actor;
    order_status_e  to;
} row_t;

/* written out independently of order_state.c */
static const row_t  legal[] = {
    { ORDER_ST_UNPAID, ORDER_EV_PAY, ORDER_ACTOR_SYSTEM, ORDER_ST_PAID },
    { ORDER_ST_UNPAID, ORDER_EV_CANCEL, ORDER_ACTOR_USER, ORDER_ST_CANCELLED },
    { ORDER_ST_UNPAID, ORDER_EV_CANCEL, ORDER_ACTOR_ADMIN,
      ORDER_ST_CANCELLED },
    { ORDER_ST_UNPAID, ORDER_EV_EXPIRE, ORDER_ACTOR_SYSTEM,
      ORDER_ST_CANCELLED },
    { ORDER_ST_UNPAID, ORDER_EV_VOID, ORDER_ACTOR_SYSTEM,
      ORDER_ST_CANCELLED },
    { ORDER_ST_PAID, ORDER_EV_SHIP, ORDER_ACTOR_ADMIN, ORDER_ST_SHIPPED },
    { ORDER_ST_SHIPPED, ORDER_EV_RECEIVE, ORDER_ACTOR_USER,
      ORDER_ST_RECEIVED },
    { ORDER_ST_SHIPPED, ORDER_EV_RECEIVE, ORDER_ACTOR_SYSTEM,
      ORDER_ST_RECEIVED },
    { ORDER_ST_RECEIVED, ORDER_EV_COMPLETE, ORDER_ACTOR_SYSTEM,
      ORDER_ST_COMPLETED },
    { ORDER_ST_PAID, ORDER_EV_REFUND_REQUEST, ORDER_ACTOR_USER,
      ORDER_ST_REFUND_REQUESTED },
    { ORDER_ST_SHIPPED, ORDER_EV_REFUND_REQUEST, ORDER_ACTOR_USER,
      ORDER_ST_REFUND_REQUESTED },
    { ORDER_ST_RECEIVED, ORDER_EV_REFUND_REQUEST, ORDER_ACTOR_USER,
      ORDER_ST_REFUND_REQUESTED },
    { ORDER_ST_REFUND_REQUESTED, ORDER_EV_REFUND_DONE, ORDER_ACTOR_SYSTEM,
      ORDER_ST_REFUNDED },
    { ORDER_ST_PAID, ORDER_EV_REFUND_DONE, ORDER_ACTOR_SYSTEM,
      ORDER_ST_REFUNDED },
    { ORDER_ST_SHIPPED, ORDER_EV_REFUND_DONE, ORDER_ACTOR_SYSTEM,
      ORDER_ST_REFUNDED },
    { ORDER_ST_RECEIVED, ORDER_EV_REFUND_DONE, ORDER_ACTOR_SYSTEM,
      ORDER_ST_REFUNDED },
};


static const row_t *
find(order_status_e from, order_event_e ev, order_actor_e actor)
{
    size_t  i;

    for (i = 0; i < sizeof(legal) / sizeof(legal[0]); i++) {
        if (legal[i].from == from && legal[i].event == ev
            && legal[i].actor == actor)
        {
            return &legal[i];
        }
    }
    return NULL;
}


static int
is_back_to_previous(order_status_e from, order_event_e ev,
    order_actor_e actor)
{
    return from == ORDER_ST_REFUND_REQUESTED
           && ((ev == ORDER_EV_REFUND_REJECT && actor == ORDER_ACTOR_ADMIN)
               || (ev == ORDER_EV_REFUND_WITHDRAW
                   && actor == ORDER_ACTOR_USER)
               || (ev == ORDER_EV_REFUND_PARTIAL
                   && actor == ORDER_ACTOR_SYSTEM));
}


/* Every combination: legal rows lead where they should, the rest fail. */
static void
test_exhaustive(void **state)
{
    const row_t  *r;
    int           s, e, a, legal_n, refused;

    (void) state;
    legal_n = refused = 0;
    for (s = ORDER_ST_NONE; s < ORDER_ST_COUNT; s++) {
        for (e = ORDER_EV_NONE; e < ORDER_EV_COUNT; e++) {
            for (a = ORDER_ACTOR_NONE; a < ORDER_ACTOR_COUNT; a++) {
                order_status_e  to;

                to = order_state_next(s, e, a, ORDER_ST_PAID);
                r = find(s, e, a);
                if (r != NULL) {
                    assert_int_equal(to, r->to);
                    legal_n++;
                } else if (is_back_to_previous(s, e, a)) {
                    assert_int_equal(to, ORDER_ST_PAID);
                    legal_n++;
                } else {
                    assert_int_equal(to, ORDER_ST_NONE);
                    refused++;
                }
            }
        }
    }
    assert_int_equal(legal_n, 19);
    assert_int_equal((unsigned) legal_n, order_transitions_n);
    assert_true(refused > 500);
}


static void
test_specific_refusals(void **state)
{
    (void) state;
    /* a buyer cannot pay, ship or expire; paid orders cannot be cancelled */
    assert_int_equal(order_state_next(ORDER_ST_UNPAID, ORDER_EV_PAY,
                                      ORDER_ACTOR_USER, 0), ORDER_ST_NONE);
    assert_int_equal(order_state_next(ORDER_ST_PAID, ORDER_EV_CANCEL,
                                      ORDER_ACTOR_USER, 0), ORDER_ST_NONE);
    assert_int_equal(order_state_next(ORDER_ST_CANCELLED, ORDER_EV_CANCEL,
                                      ORDER_ACTOR_USER, 0), ORDER_ST_NONE);
    assert_int_equal(order_state_next(ORDER_ST_UNPAID, ORDER_EV_EXPIRE,
                                      ORDER_ACTOR_USER, 0), ORDER_ST_NONE);
    assert_int_equal(order_state_next(ORDER_ST_PAID, ORDER_EV_SHIP,
                                      ORDER_ACTOR_USER, 0), ORDER_ST_NONE);
    assert_int_equal(order_state_next(ORDER_ST_COMPLETED,
                                      ORDER_EV_REFUND_REQUEST,
                                      ORDER_ACTOR_USER, 0), ORDER_ST_NONE);
    assert_int_equal(order_state_next(ORDER_ST_UNPAID, ORDER_EV_VOID,
                                      ORDER_ACTOR_USER, 0), ORDER_ST_NONE);
}


static void
test_refund_goes_back(void **state)
{
    (void) state;
    assert_int_equal(order_state_next(ORDER_ST_REFUND_REQUESTED,
                                      ORDER_EV_REFUND_REJECT,
                                      ORDER_ACTOR_ADMIN, ORDER_ST_SHIPPED),
                     ORDER_ST_SHIPPED);
    assert_int_equal(order_state_next(ORDER_ST_REFUND_REQUESTED,
                                      ORDER_EV_REFUND_WITHDRAW,
                                      ORDER_ACTOR_USER, ORDER_ST_PAID),
                     ORDER_ST_PAID);
    /* a refund cannot go back to a status it could not come from */
    assert_int_equal(order_state_next(ORDER_ST_REFUND_REQUESTED,
                                      ORDER_EV_REFUND_REJECT,
                                      ORDER_ACTOR_ADMIN, ORDER_ST_UNPAID),
                     ORDER_ST_NONE);
    assert_int_equal(order_state_next(ORDER_ST_REFUND_REQUESTED,
                                      ORDER_EV_REFUND_REJECT,
                                      ORDER_ACTOR_ADMIN, ORDER_ST_NONE),
                     ORDER_ST_NONE);
}


static void
test_names_and_stock(void **state)
{
    int  s;

    (void) state;
    for (s = ORDER_ST_UNPAID; s < ORDER_ST_PREVIOUS; s++) {
        assert_int_equal(order_status_parse(order_status_name(s)), s);
    }
    assert_int_equal(order_status_parse("reserving"), ORDER_ST_NONE);
    assert_int_equal(order_status_parse("unpaid"), ORDER_ST_UNPAID);
    assert_int_equal(order_status_parse("Unpaid"), ORDER_ST_NONE);
    assert_int_equal(order_status_parse(""), ORDER_ST_NONE);
    assert_int_equal(order_status_parse(NULL), ORDER_ST_NONE);
    assert_string_equal(order_status_name(ORDER_ST_REFUND_REQUESTED),
                        "refund_requested");
    assert_string_equal(order_status_name(ORDER_ST_COUNT), "");
    assert_string_equal(order_event_name(ORDER_EV_EXPIRE), "expire");
    assert_string_equal(order_actor_name(ORDER_ACTOR_SYSTEM), "system");

    assert_true(order_state_releases_stock(ORDER_ST_UNPAID,
                                           ORDER_ST_CANCELLED));
    assert_false(order_state_releases_stock(ORDER_ST_UNPAID,
                                            ORDER_ST_PAID));
    assert_false(order_state_releases_stock(ORDER_ST_REFUND_REQUESTED,
                                            ORDER_ST_REFUNDED));
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_exhaustive),
        cmocka_unit_test(test_specific_refusals),
        cmocka_unit_test(test_refund_goes_back),
        cmocka_unit_test(test_names_and_stock),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
