/*
 * Cluster-wide GCRA limits: window, delta and charge math (see
 * mall_rlsync.h). Times in ms; GCRA states in ticks of 1/count ms.
 */
#include <stddef.h>

#include "mall_rlsync.h"


static uint64_t
div_ceil(uint64_t a, uint64_t b)
{
    return a / b + (a % b != 0);
}


uint64_t
mall_rlsync_window_ms(const mall_gcra_t *g)
{
    uint64_t  w;

    /* 2 (burst + 1) period / count, without overflow: both <= 1e6, 1 day */
    w = div_ceil(2 * (g->burst + 1) * g->period_ms, g->count);

    if (w < MALL_RLSYNC_WINDOW_MIN_MS) {
        w = MALL_RLSYNC_WINDOW_MIN_MS;
    }

    w = div_ceil(w, 1000) * 1000;

    if (w > MALL_RLSYNC_WINDOW_MAX_MS) {
        w = MALL_RLSYNC_WINDOW_MAX_MS;
    }

    return w;
}


uint64_t
mall_rlsync_window_start(uint64_t now_ms, uint64_t window_ms)
{
    return now_ms - now_ms % window_ms;
}


uint64_t
mall_rlsync_remote_delta(uint64_t last_win, uint64_t last_remote,
    uint64_t win, uint64_t window_ms, int have_prev, uint64_t remote_prev,
    uint64_t remote_cur)
{
    uint64_t  d;

    if (last_win == win) {
        return remote_cur > last_remote ? remote_cur - last_remote : 0;
    }

    d = remote_cur;

    if (have_prev && last_win + window_ms == win && remote_prev > last_remote)
    {
        /* admits of the previous window's tail, after our last read */
        d += remote_prev - last_remote;
    }

    return d;
}


int64_t
mall_rlsync_charge(const mall_gcra_t *g, uint64_t window_ms, int64_t tat,
    uint64_t now_ms, uint64_t n)
{
    int64_t  now, cap, room;

    now = (int64_t) (now_ms * g->count);
    cap = now + g->tolerance + g->emission + (int64_t) (window_ms * g->count);

    if (tat < now) {
        tat = now;
    }

    if (tat >= cap) {
        return tat;     /* already beyond: a clock step; the check caps it */
    }

    room = (cap - tat) / g->emission;

    if (n >= (uint64_t) room) {
        return cap;
    }

    return tat + (int64_t) n * g->emission;
}


void
mall_rlsync_check(const mall_gcra_t *g, uint64_t window_ms, int64_t tat,
    uint64_t now_ms, mall_gcra_result_t *res)
{
    int64_t  now, depth, cap;

    now = (int64_t) (now_ms * g->count);
    depth = g->tolerance + g->emission;

    if (tat - now <= depth) {
        mall_gcra_check(g, tat, now_ms, res);
        return;
    }

    cap = now + depth + (int64_t) (window_ms * g->count);

    if (tat > cap) {
        tat = cap;                    /* the clock went back */
    }

    res->allowed = 0;
    res->tat = tat;
    res->remaining = 0;
    res->retry_ms = div_ceil((uint64_t) (tat - g->tolerance - now), g->count);
    res->reset_ms = div_ceil((uint64_t) (tat - now), g->count);
    res->expire_ms = div_ceil((uint64_t) tat, g->count);
}


uint64_t
mall_rlsync_bound(const mall_gcra_t *g, uint64_t nodes, uint64_t lag_ms,
    uint64_t span_ms)
{
    uint64_t  one, other;

    /* T = period / count ms: span / T = span * count / period */
    one = g->burst + 1 + span_ms * g->count / g->period_ms;
    other = g->burst + 1 + div_ceil(lag_ms * g->count, g->period_ms);

    return one + (nodes ? nodes - 1 : 0) * other;
}
