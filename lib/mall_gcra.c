/*
 * GCRA in integer ticks of 1/count ms (see mall_gcra.h).
 *
 * With T the emission interval and tau = burst * T, a request at time now
 * against TAT passes iff now >= max(TAT, now) - tau; it then sets
 * TAT = max(TAT, now) + T. Everything below is that, plus the derived
 * figures for Retry-After and the RateLimit header fields.
 */
#include <stddef.h>

#include "mall_gcra.h"


static uint64_t
div_ceil(uint64_t a, uint64_t b)
{
    return a / b + (a % b != 0);
}


int
mall_gcra_init(mall_gcra_t *g, uint64_t count, uint64_t period_ms,
    uint64_t burst)
{
    if (count == 0 || count > MALL_GCRA_MAX_COUNT
        || period_ms == 0 || period_ms > MALL_GCRA_MAX_PERIOD_MS
        || burst > MALL_GCRA_MAX_BURST)
    {
        return -1;
    }

    g->count = count;
    g->period_ms = period_ms;
    g->burst = burst;
    g->emission = (int64_t) period_ms;
    g->tolerance = (int64_t) (burst * period_ms);

    return 0;
}


void
mall_gcra_check(const mall_gcra_t *g, int64_t tat, uint64_t now_ms,
    mall_gcra_result_t *res)
{
    int64_t  now, ntat, allow_at, depth;

    /* now_ms < 9.2e12 (year 2262) keeps now_ms * 1e6 inside int64_t */
    now = (int64_t) (now_ms * g->count);
    depth = g->tolerance + g->emission;

    if (tat < now) {
        tat = now;                    /* new key, or idle: a full bucket */

    } else if (tat - now > depth) {
        tat = now + depth;            /* the clock went back: drained */
    }

    allow_at = tat - g->tolerance;

    if (now < allow_at) {
        res->allowed = 0;
        res->tat = tat;
        res->remaining = 0;
        res->retry_ms = div_ceil((uint64_t) (allow_at - now), g->count);
        res->reset_ms = div_ceil((uint64_t) (tat - now), g->count);
        res->expire_ms = div_ceil((uint64_t) tat, g->count);
        return;
    }

    ntat = tat + g->emission;

    res->allowed = 1;
    res->tat = ntat;
    res->remaining = (uint64_t) ((now + depth - ntat) / g->emission);
    res->retry_ms = 0;
    res->reset_ms = div_ceil((uint64_t) (ntat - now), g->count);
    res->expire_ms = div_ceil((uint64_t) ntat, g->count);
}


int64_t
mall_gcra_rescale(int64_t tat, uint64_t from_count, uint64_t to_count)
{
    if (tat <= 0 || from_count == 0 || from_count == to_count) {
        return tat;
    }

    /* through ms, rounded up: never admits earlier than the old state */
    return (int64_t) (div_ceil((uint64_t) tat, from_count) * to_count);
}


uint64_t
mall_gcra_retry_after_s(uint64_t retry_ms)
{
    uint64_t  s;

    s = div_ceil(retry_ms, 1000);

    return s ? s : 1;
}


int
mall_gcra_parse_rate(const char *s, uint64_t len, uint64_t *count,
    uint64_t *period_ms)
{
    uint64_t  i, n;

    n = 0;

    for (i = 0; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
        n = n * 10 + (uint64_t) (s[i] - '0');

        if (n > MALL_GCRA_MAX_COUNT) {
            return -1;
        }
    }

    if (i == 0 || n == 0 || len - i != 3 || s[i] != 'r' || s[i + 1] != '/') {
        return -1;
    }

    switch (s[i + 2]) {
    case 's':
        *period_ms = 1000;
        break;
    case 'm':
        *period_ms = 60000;
        break;
    case 'h':
        *period_ms = 3600000;
        break;
    case 'd':
        *period_ms = 86400000;
        break;
    default:
        return -1;
    }

    *count = n;

    return 0;
}
