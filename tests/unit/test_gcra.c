/*
 * Unit tests of lib/mall_gcra.c: exact pass/reject sequences at given
 * timestamps, burst, refill, Retry-After, long idle, the clock stepping
 * backwards, rate parsing and rescaling.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "mall_gcra.h"

#define T0  1700000000000ULL      /* a realistic unix time in ms */


/* One request at now_ms; updates *tat like the module does. */
static int
hit(const mall_gcra_t *g, int64_t *tat, uint64_t now_ms,
    mall_gcra_result_t *res)
{
    mall_gcra_result_t  r;

    if (res == NULL) {
        res = &r;
    }

    mall_gcra_check(g, *tat, now_ms, res);
    *tat = res->tat;

    return res->allowed;
}


static void
test_init_bounds(void **state)
{
    mall_gcra_t  g;

    (void) state;
    assert_int_equal(mall_gcra_init(&g, 20, 1000, 40), 0);
    assert_int_equal(g.emission, 1000);
    assert_int_equal(g.tolerance, 40000);
    assert_int_equal(mall_gcra_init(&g, 0, 1000, 1), -1);
    assert_int_equal(mall_gcra_init(&g, 1, 0, 1), -1);
    assert_int_equal(mall_gcra_init(&g, MALL_GCRA_MAX_COUNT + 1, 1000, 1),
                     -1);
    assert_int_equal(mall_gcra_init(&g, 1, MALL_GCRA_MAX_PERIOD_MS + 1, 1),
                     -1);
    assert_int_equal(mall_gcra_init(&g, 1, 1000, MALL_GCRA_MAX_BURST + 1),
                     -1);
    assert_int_equal(mall_gcra_init(&g, 1, 1000, 0), 0);
}


/* 10r/s burst 0: one every 100 ms, exactly. */
static void
test_steady_rate_no_burst(void **state)
{
    int                 i;
    int64_t             tat = 0;
    mall_gcra_t         g;
    mall_gcra_result_t  r;

    (void) state;
    assert_int_equal(mall_gcra_init(&g, 10, 1000, 0), 0);

    assert_true(hit(&g, &tat, T0, &r));
    assert_int_equal(r.remaining, 0);
    assert_int_equal(r.reset_ms, 100);

    assert_false(hit(&g, &tat, T0, &r));
    assert_int_equal(r.retry_ms, 100);
    assert_false(hit(&g, &tat, T0 + 99, &r));
    assert_int_equal(r.retry_ms, 1);
    assert_true(hit(&g, &tat, T0 + 100, &r));

    for (i = 2; i < 12; i++) {
        assert_false(hit(&g, &tat, T0 + i * 100 - 1, NULL));
        assert_true(hit(&g, &tat, T0 + i * 100, NULL));
    }
}


/* 20r/s burst 40: 41 at once, then one per 50 ms. */
static void
test_burst_then_refill(void **state)
{
    int                 i;
    int64_t             tat = 0;
    mall_gcra_t         g;
    mall_gcra_result_t  r;

    (void) state;
    assert_int_equal(mall_gcra_init(&g, 20, 1000, 40), 0);

    for (i = 0; i < 41; i++) {
        assert_true(hit(&g, &tat, T0, &r));
        assert_int_equal(r.remaining, (uint64_t) (40 - i));
    }

    assert_int_equal(r.reset_ms, 41 * 50);
    assert_false(hit(&g, &tat, T0, &r));
    assert_int_equal(r.remaining, 0);
    assert_int_equal(r.retry_ms, 50);
    assert_int_equal(mall_gcra_retry_after_s(r.retry_ms), 1);

    /* rejected requests do not consume anything */
    for (i = 0; i < 100; i++) {
        assert_false(hit(&g, &tat, T0 + 49, NULL));
    }

    assert_true(hit(&g, &tat, T0 + 50, &r));
    assert_int_equal(r.remaining, 0);
    assert_false(hit(&g, &tat, T0 + 50, NULL));

    /* one second later 20 more have refilled, no more */
    for (i = 0; i < 20; i++) {
        assert_true(hit(&g, &tat, T0 + 1050, NULL));
    }
    assert_false(hit(&g, &tat, T0 + 1050, NULL));
}


/*
 * 3r/s has a 333.33 ms interval: ticks keep it exact, no drift. (A burst of
 * at least 1 lets the fraction of a ms carry over; with burst 0 and a ms
 * clock, GCRA, like limit_req, admits at most one per ceil(interval).)
 */
static void
test_no_drift_on_uneven_rates(void **state)
{
    int64_t      tat = 0;
    uint64_t     k, admitted, now;
    mall_gcra_t  g;

    (void) state;
    assert_int_equal(mall_gcra_init(&g, 3, 1000, 1), 0);

    /* a request every ms for 1000 s: 3 per second plus the burst of 2 */
    admitted = 0;
    for (k = 0; k < 1000000; k++) {
        now = T0 + k;
        admitted += hit(&g, &tat, now, NULL);
    }

    assert_int_equal(admitted, 3000 + 1);

    /* after the burst: at ceil(k * 1000 / 3) ms, exactly */
    tat = 0;
    assert_true(hit(&g, &tat, T0, NULL));
    assert_true(hit(&g, &tat, T0, NULL));
    assert_false(hit(&g, &tat, T0 + 333, NULL));
    assert_true(hit(&g, &tat, T0 + 334, NULL));
    assert_false(hit(&g, &tat, T0 + 666, NULL));
    assert_true(hit(&g, &tat, T0 + 667, NULL));
    assert_false(hit(&g, &tat, T0 + 999, NULL));
    assert_true(hit(&g, &tat, T0 + 1000, NULL));
    assert_false(hit(&g, &tat, T0 + 1333, NULL));
    assert_true(hit(&g, &tat, T0 + 1334, NULL));

    /* burst 0: the ms clock quantises the interval up to 334 ms */
    assert_int_equal(mall_gcra_init(&g, 3, 1000, 0), 0);
    tat = 0;
    assert_true(hit(&g, &tat, T0, NULL));
    assert_true(hit(&g, &tat, T0 + 334, NULL));
    assert_false(hit(&g, &tat, T0 + 667, NULL));
    assert_true(hit(&g, &tat, T0 + 668, NULL));
}


/* 5r/m burst 0: Retry-After rounds up to whole seconds. */
static void
test_retry_after_per_minute(void **state)
{
    int64_t             tat = 0;
    mall_gcra_t         g;
    mall_gcra_result_t  r;

    (void) state;
    assert_int_equal(mall_gcra_init(&g, 5, 60000, 0), 0);

    assert_true(hit(&g, &tat, T0, NULL));
    assert_false(hit(&g, &tat, T0 + 1, &r));
    assert_int_equal(r.retry_ms, 11999);
    assert_int_equal(mall_gcra_retry_after_s(r.retry_ms), 12);

    /* waiting exactly Retry-After always passes */
    assert_true(hit(&g, &tat, T0 + 1 + 12 * 1000, NULL));

    assert_int_equal(mall_gcra_retry_after_s(0), 1);
    assert_int_equal(mall_gcra_retry_after_s(1), 1);
    assert_int_equal(mall_gcra_retry_after_s(1000), 1);
    assert_int_equal(mall_gcra_retry_after_s(1001), 2);
}


static void
test_long_idle_is_a_full_bucket(void **state)
{
    int                 i;
    int64_t             tat = 0;
    mall_gcra_t         g;
    mall_gcra_result_t  r;

    (void) state;
    assert_int_equal(mall_gcra_init(&g, 1000000, 1000, 5), 0);

    for (i = 0; i < 6; i++) {
        assert_true(hit(&g, &tat, T0, NULL));
    }
    assert_false(hit(&g, &tat, T0, NULL));

    /* ten years later: exactly burst + 1 again, no overflow */
    for (i = 0; i < 6; i++) {
        assert_true(hit(&g, &tat, T0 + 315360000000ULL, &r));
    }
    assert_false(hit(&g, &tat, T0 + 315360000000ULL, &r));
    assert_int_equal(r.retry_ms, 1);
    assert_int_equal(r.expire_ms, T0 + 315360000000ULL + 1);
}


/* The clock steps back an hour: at most one interval of lock-out. */
static void
test_clock_backwards(void **state)
{
    int                 i;
    int64_t             tat = 0;
    mall_gcra_t         g;
    mall_gcra_result_t  r;

    (void) state;
    assert_int_equal(mall_gcra_init(&g, 2, 1000, 3), 0);

    for (i = 0; i < 4; i++) {
        assert_true(hit(&g, &tat, T0, NULL));
    }

    assert_false(hit(&g, &tat, T0 - 3600000, &r));
    assert_int_equal(r.retry_ms, 500);
    assert_int_equal(r.reset_ms, 2000);
    assert_true(hit(&g, &tat, T0 - 3600000 + 500, NULL));
    assert_false(hit(&g, &tat, T0 - 3600000 + 500, NULL));

    /* a small step back inside the bucket depth is honoured as it is */
    tat = 0;
    assert_true(hit(&g, &tat, T0, NULL));
    assert_true(hit(&g, &tat, T0 - 100, &r));
    assert_int_equal(r.remaining, 1);
}


static void
test_expire_and_reset(void **state)
{
    int64_t             tat = 0;
    mall_gcra_t         g;
    mall_gcra_result_t  r;

    (void) state;
    assert_int_equal(mall_gcra_init(&g, 4, 1000, 2), 0);

    assert_true(hit(&g, &tat, T0, &r));
    assert_int_equal(r.expire_ms, T0 + 250);
    assert_int_equal(r.reset_ms, 250);
    assert_true(hit(&g, &tat, T0, &r));
    assert_true(hit(&g, &tat, T0, &r));
    assert_int_equal(r.expire_ms, T0 + 750);
    assert_int_equal(r.remaining, 0);

    /* at expire the state is the same as absent */
    mall_gcra_check(&g, tat, T0 + 750, &r);
    assert_true(r.allowed);
    assert_int_equal(r.remaining, 2);
    mall_gcra_check(&g, 0, T0 + 750, &r);
    assert_int_equal(r.remaining, 2);
}


static void
test_parse_rate(void **state)
{
    uint64_t  c, p;

    (void) state;
    assert_int_equal(mall_gcra_parse_rate("20r/s", 5, &c, &p), 0);
    assert_true(c == 20 && p == 1000);
    assert_int_equal(mall_gcra_parse_rate("300r/m", 6, &c, &p), 0);
    assert_true(c == 300 && p == 60000);
    assert_int_equal(mall_gcra_parse_rate("1000r/h", 7, &c, &p), 0);
    assert_true(c == 1000 && p == 3600000);
    assert_int_equal(mall_gcra_parse_rate("7r/d", 4, &c, &p), 0);
    assert_true(c == 7 && p == 86400000);

    assert_int_equal(mall_gcra_parse_rate("0r/s", 4, &c, &p), -1);
    assert_int_equal(mall_gcra_parse_rate("r/s", 3, &c, &p), -1);
    assert_int_equal(mall_gcra_parse_rate("10r/x", 5, &c, &p), -1);
    assert_int_equal(mall_gcra_parse_rate("10r/ss", 6, &c, &p), -1);
    assert_int_equal(mall_gcra_parse_rate("10/s", 4, &c, &p), -1);
    assert_int_equal(mall_gcra_parse_rate("1.5r/s", 6, &c, &p), -1);
    assert_int_equal(mall_gcra_parse_rate("1000001r/s", 10, &c, &p), -1);
    assert_int_equal(mall_gcra_parse_rate("99999999999999999999r/s", 23,
                                          &c, &p), -1);
}


static void
test_rescale(void **state)
{
    int64_t             tat = 0;
    mall_gcra_t         g, g2;
    mall_gcra_result_t  r;

    (void) state;
    assert_int_equal(mall_gcra_init(&g, 10, 1000, 0), 0);
    assert_int_equal(mall_gcra_init(&g2, 20, 1000, 0), 0);

    assert_true(hit(&g, &tat, T0, NULL));              /* TAT = T0 + 100 */
    tat = mall_gcra_rescale(tat, 10, 20);
    mall_gcra_check(&g2, tat, T0 + 99, &r);
    assert_false(r.allowed);
    assert_int_equal(r.retry_ms, 1);
    mall_gcra_check(&g2, tat, T0 + 100, &r);
    assert_true(r.allowed);

    assert_int_equal(mall_gcra_rescale(0, 10, 20), 0);
    assert_int_equal(mall_gcra_rescale(77, 5, 5), 77);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_bounds),
        cmocka_unit_test(test_steady_rate_no_burst),
        cmocka_unit_test(test_burst_then_refill),
        cmocka_unit_test(test_no_drift_on_uneven_rates),
        cmocka_unit_test(test_retry_after_per_minute),
        cmocka_unit_test(test_long_idle_is_a_full_bucket),
        cmocka_unit_test(test_clock_backwards),
        cmocka_unit_test(test_expire_and_reset),
        cmocka_unit_test(test_parse_rate),
        cmocka_unit_test(test_rescale),
    };

    return cmocka_run_group_tests_name("mall_gcra", tests, NULL, NULL);
}
