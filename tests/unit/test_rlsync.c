/*
 * Unit tests of lib/mall_rlsync.c: windows, remote deltas across window
 * boundaries, charging and the debt check, and a simulation of several
 * edge nodes syncing through an in-memory "Redis" that checks the accuracy
 * bound the README documents (mall_rlsync_bound) and the long-run rate.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "mall_gcra.h"
#include "mall_rlsync.h"

#define T0  1700000000000ULL      /* a realistic unix time in ms */


static void
test_window_length(void **state)
{
    mall_gcra_t  g;

    (void) state;

    /* 10r/m burst 9: 2 * 10 * 6 s */
    assert_int_equal(mall_gcra_init(&g, 10, 60000, 9), 0);
    assert_int_equal(mall_rlsync_window_ms(&g), 120000);

    /* 50r/s burst 100: 2 * 101 * 20 ms = 4.04 s, rounded up to 5 s */
    assert_int_equal(mall_gcra_init(&g, 50, 1000, 100), 0);
    assert_int_equal(mall_rlsync_window_ms(&g), 5000);

    /* fast rates: at least 2 s */
    assert_int_equal(mall_gcra_init(&g, 1000, 1000, 0), 0);
    assert_int_equal(mall_rlsync_window_ms(&g), 2000);

    /* 5r/d burst 1000000: a day at most */
    assert_int_equal(mall_gcra_init(&g, 5, 86400000, 1000000), 0);
    assert_int_equal(mall_rlsync_window_ms(&g), 86400000);

    assert_int_equal(mall_rlsync_window_start(T0 + 12345, 5000),
                     T0 + 10000);
    assert_int_equal(mall_rlsync_window_start(T0, 5000), T0);
}


static void
test_remote_delta(void **state)
{
    uint64_t  w = 10000;

    (void) state;

    /* same window: what the others added since */
    assert_int_equal(mall_rlsync_remote_delta(T0, 4, T0, w, 0, 0, 9), 5);
    assert_int_equal(mall_rlsync_remote_delta(T0, 9, T0, w, 0, 0, 9), 0);
    /* Redis lost the key: nothing negative */
    assert_int_equal(mall_rlsync_remote_delta(T0, 9, T0, w, 0, 0, 2), 0);
    /* next window, previous one read again: its tail, then the new one */
    assert_int_equal(mall_rlsync_remote_delta(T0, 4, T0 + w, w, 1, 7, 3), 6);
    assert_int_equal(mall_rlsync_remote_delta(T0, 4, T0 + w, w, 1, 2, 3), 3);
    /* first read, or idle for more than a window: this window only */
    assert_int_equal(mall_rlsync_remote_delta(0, 0, T0, w, 0, 0, 8), 8);
    assert_int_equal(mall_rlsync_remote_delta(T0, 4, T0 + 3 * w, w, 1, 50,
                                              8), 8);
}


static void
test_charge_and_debt(void **state)
{
    int64_t             tat;
    mall_gcra_t         g;
    mall_gcra_result_t  res;
    uint64_t            w;

    (void) state;

    /* 10r/m burst 9: T = 6 s, a full bucket admits 10 */
    assert_int_equal(mall_gcra_init(&g, 10, 60000, 9), 0);
    w = mall_rlsync_window_ms(&g);

    /* 4 remote admits on a fresh key: 6 local ones remain */
    tat = mall_rlsync_charge(&g, w, 0, T0, 4);
    assert_int_equal(tat, (int64_t) ((T0 + 4 * 6000) * 10));
    mall_rlsync_check(&g, w, tat, T0, &res);
    assert_int_equal(res.allowed, 1);
    assert_int_equal(res.remaining, 5);

    /* 25 remote admits: a debt of 15 beyond a drained bucket is kept */
    tat = mall_rlsync_charge(&g, w, 0, T0, 25);
    assert_int_equal(tat, (int64_t) ((T0 + 25 * 6000) * 10));
    mall_rlsync_check(&g, w, tat, T0, &res);
    assert_int_equal(res.allowed, 0);
    assert_int_equal(res.tat, tat);
    assert_int_equal(res.retry_ms, 16 * 6000);
    /* mall_gcra_check alone would forgive it: retry after one T */
    mall_gcra_check(&g, tat, T0, &res);
    assert_int_equal(res.retry_ms, 6000);
    /* paid off with time: one passes after 16 T */
    mall_rlsync_check(&g, w, tat, T0 + 16 * 6000, &res);
    assert_int_equal(res.allowed, 1);

    /* capped at a drained bucket plus a window */
    tat = mall_rlsync_charge(&g, w, 0, T0, 1000000);
    assert_int_equal(tat, (int64_t) ((T0 + 10 * 6000 + w) * 10));
    assert_int_equal(mall_rlsync_charge(&g, w, tat, T0, 5), tat);

    /* the clock stepped back a day: capped in the check */
    mall_rlsync_check(&g, w, tat, T0 - 86400000, &res);
    assert_int_equal(res.allowed, 0);
    assert_int_equal(res.retry_ms, 6000 + w);

    /* charging an idle key starts from now, not from its old TAT */
    tat = mall_rlsync_charge(&g, w, (int64_t) (T0 * 10), T0 + 3600000, 1);
    assert_int_equal(tat, (int64_t) ((T0 + 3600000 + 6000) * 10));
}


static void
test_bound(void **state)
{
    mall_gcra_t  g;

    (void) state;

    /* 10r/m burst 9, 3 nodes, lag 500 ms, one minute: 20 + 2 * 11 */
    assert_int_equal(mall_gcra_init(&g, 10, 60000, 9), 0);
    assert_int_equal(mall_rlsync_bound(&g, 3, 500, 60000), 42);
    assert_int_equal(mall_rlsync_bound(&g, 1, 500, 60000), 20);

    /* 100r/s burst 0, 4 nodes, lag 400 ms, 1 s: 101 + 3 * 41 */
    assert_int_equal(mall_gcra_init(&g, 100, 1000, 0), 0);
    assert_int_equal(mall_rlsync_bound(&g, 4, 400, 1000), 224);
}


/* ------------------------------ simulation ------------------------------ */


#define SIM_NODES    4
#define SIM_WINDOWS  4096
#define SIM_ADMITS   200000


typedef struct {
    int64_t   tat;
    uint64_t  pending;
    uint64_t  last_win;
    uint64_t  last_remote;
    unsigned  dirty:1;
} sim_node_t;


typedef struct {
    mall_gcra_t  g;
    uint64_t     window;
    uint64_t     counts[SIM_WINDOWS][SIM_NODES];   /* Redis: field/node */
    uint64_t     admits[SIM_ADMITS];               /* times, all nodes */
    size_t       nadmits;
    size_t       max_span;                          /* most in one span */
    int          no_sync;                           /* the control case */
    sim_node_t   node[SIM_NODES];
} sim_t;


static sim_t  sim;


static uint64_t *
sim_window(uint64_t win)
{
    return sim.counts[((win - T0) / sim.window) % SIM_WINDOWS];
}


static uint64_t
sim_others(uint64_t win, int self)
{
    int        i;
    uint64_t   n, *c;

    c = sim_window(win);
    n = 0;

    for (i = 0; i < SIM_NODES; i++) {
        n += (i == self) ? 0 : c[i];
    }

    return n;
}


/* one sync tick of node i, as the module's batch does it for one key */
static void
sim_sync(int i, uint64_t now)
{
    int          have_prev;
    uint64_t     win, prev, cur, d;
    sim_node_t  *n;

    n = &sim.node[i];

    if (!n->dirty || sim.no_sync) {
        return;
    }

    n->dirty = 0;
    win = mall_rlsync_window_start(now, sim.window);

    sim_window(win)[i] += n->pending;           /* HINCRBY */
    n->pending = 0;

    have_prev = (n->last_win + sim.window == win);
    prev = have_prev ? sim_others(n->last_win, i) : 0;
    cur = sim_others(win, i);

    d = mall_rlsync_remote_delta(n->last_win, n->last_remote, win,
                                 sim.window, have_prev, prev, cur);
    n->tat = mall_rlsync_charge(&sim.g, sim.window, n->tat, now, d);
    n->last_win = win;
    n->last_remote = cur;
}


static int
sim_request(int i, uint64_t now)
{
    sim_node_t          *n;
    mall_gcra_result_t   res;

    n = &sim.node[i];
    n->dirty = 1;

    mall_rlsync_check(&sim.g, sim.window, n->tat, now, &res);
    n->tat = res.tat;

    if (res.allowed) {
        n->pending++;
        assert_true(sim.nadmits < SIM_ADMITS);
        sim.admits[sim.nadmits++] = now;
    }

    return res.allowed;
}


/*
 * nodes edge nodes, each hit every gap ms (phase-shifted) from start_ms on,
 * syncing every interval ms (each with its own phase), for duration ms.
 * Sets sim.max_span to the most admits within any span of span ms and
 * returns the number of admits; unless no_sync, asserts max_span is within
 * mall_rlsync_bound() for a lag of 2 intervals.
 */
static size_t
simulate(uint64_t count, uint64_t period, uint64_t burst, int nodes,
    uint64_t gap, const uint64_t *start_ms, uint64_t interval,
    uint64_t duration, uint64_t span, int no_sync)
{
    int       i;
    size_t    a, b;
    uint64_t  t, bound;

    memset(&sim, 0, sizeof(sim));
    sim.no_sync = no_sync;
    assert_int_equal(mall_gcra_init(&sim.g, count, period, burst), 0);
    sim.window = mall_rlsync_window_ms(&sim.g);

    for (t = T0; t < T0 + duration; t++) {
        for (i = 0; i < nodes; i++) {
            if (t >= T0 + start_ms[i]
                && (t - T0 + (uint64_t) i * 7) % gap == 0)
            {
                (void) sim_request(i, t);
            }

            if ((t - T0 + (uint64_t) i * interval / nodes) % interval == 0) {
                sim_sync(i, t);
            }
        }
    }

    bound = mall_rlsync_bound(&sim.g, (uint64_t) nodes, 2 * interval, span);

    for (a = 0, b = 0; a < sim.nadmits; a++) {
        while (b < sim.nadmits && sim.admits[b] < sim.admits[a] + span) {
            b++;
        }

        if (b - a > sim.max_span) {
            sim.max_span = b - a;
        }

        if (b - a > bound && !no_sync) {
            fail_msg("%zu admits within %llu ms from t=%llu, bound %llu",
                     b - a, (unsigned long long) span,
                     (unsigned long long) (sim.admits[a] - T0),
                     (unsigned long long) bound);
        }
    }

    print_message("    %d node(s), %llur/%llums burst %llu, sync %llums: "
                  "%zu admits in %llu s, at most %zu in %llu ms "
                  "(bound %llu)\n", nodes, (unsigned long long) count,
                  (unsigned long long) period, (unsigned long long) burst,
                  (unsigned long long) interval, sim.nadmits,
                  (unsigned long long) (duration / 1000), sim.max_span,
                  (unsigned long long) span, (unsigned long long) bound);

    return sim.nadmits;
}


/* 4 nodes flooded together at 10r/s burst 5: bound holds, rate is kept */
static void
test_sim_flood_all_nodes(void **state)
{
    size_t          n;
    const uint64_t  start[SIM_NODES] = { 0, 0, 0, 0 };

    (void) state;

    n = simulate(10, 1000, 5, 4, 5, start, 200, 120000, 1000, 0);

    /* long run: 120 s at 10/s, plus at most the overshoot, never below */
    assert_true(n <= mall_rlsync_bound(&sim.g, 4, 400, 120000));
    assert_true(n >= 1200 * 9 / 10);
}


/* per-user order attempts, 10r/m burst 9: spans of a minute */
static void
test_sim_per_minute_two_nodes(void **state)
{
    size_t          n;
    const uint64_t  start[SIM_NODES] = { 0, 30000, 0, 0 };

    (void) state;

    n = simulate(10, 60000, 9, 2, 50, start, 200, 600000, 60000, 0);

    /* 10 minutes: 10 + 100 at most once both are known to each other */
    assert_true(n <= 10 + 100 + 2 * 10);
    assert_true(n >= 100);
}


/* node 1 idle until node 0 drained the bucket: it admits one bucket at most */
static void
test_sim_late_node(void **state)
{
    size_t          n;
    const uint64_t  start[SIM_NODES] = { 0, 20000, 20000, 20000 };

    (void) state;

    n = simulate(100, 1000, 0, 4, 2, start, 250, 60000, 1000, 0);
    assert_true(n <= mall_rlsync_bound(&sim.g, 4, 500, 60000));
    assert_true(n >= 6000 * 9 / 10);
}


/* the control: without the sync, 4 nodes admit 4 times the rate */
static void
test_sim_without_sync_overshoots(void **state)
{
    size_t          n;
    const uint64_t  start[SIM_NODES] = { 0, 0, 0, 0 };

    (void) state;

    n = simulate(10, 1000, 5, 4, 5, start, 200, 120000, 1000, 1);
    assert_true(n >= 4 * 1200);
    assert_true(sim.max_span > mall_rlsync_bound(&sim.g, 4, 400, 1000));
}


/* one node: exactly the plain GCRA */
static void
test_sim_single_node_is_plain_gcra(void **state)
{
    size_t          n;
    const uint64_t  start[SIM_NODES] = { 0, 0, 0, 0 };

    (void) state;

    n = simulate(10, 1000, 4, 1, 3, start, 200, 10000, 1000, 0);
    /* 5 at once, then one every 100 ms for 10 s (the last at 9.9 s) */
    assert_int_equal(n, 5 + 99);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_length),
        cmocka_unit_test(test_remote_delta),
        cmocka_unit_test(test_charge_and_debt),
        cmocka_unit_test(test_bound),
        cmocka_unit_test(test_sim_flood_all_nodes),
        cmocka_unit_test(test_sim_per_minute_two_nodes),
        cmocka_unit_test(test_sim_late_node),
        cmocka_unit_test(test_sim_without_sync_overshoots),
        cmocka_unit_test(test_sim_single_node_is_plain_gcra),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
