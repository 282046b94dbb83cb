/*
 * GCRA (generic cell rate algorithm, the virtual-scheduling form of a token
 * bucket) in exact integer arithmetic. Pure C, no allocation, no clock: the
 * caller passes the time and stores the returned state.
 *
 * Units. Time comes in as unix milliseconds. Internally it is kept in
 * "ticks" of 1/count ms, so a rate of count requests per period_ms has an
 * emission interval of exactly period_ms ticks: 3r/s never rounds 333.3 ms
 * and nothing drifts. The state is one int64_t, the theoretical arrival time
 * (TAT) in ticks; 0 means "never seen" (a full bucket).
 *
 * Semantics match nginx limit_req with "nodelay": a full bucket admits
 * burst + 1 requests at once, then one every period_ms / count ms.
 */
#ifndef MALL_GCRA_H
#define MALL_GCRA_H

#include <stdint.h>

#define MALL_GCRA_MAX_COUNT      1000000       /* requests per period */
#define MALL_GCRA_MAX_PERIOD_MS  86400000      /* one day */
#define MALL_GCRA_MAX_BURST      1000000

typedef struct {
    uint64_t  count;        /* requests per period */
    uint64_t  period_ms;
    uint64_t  burst;        /* requests allowed beyond the steady rate */
    int64_t   emission;     /* T: ticks between requests (= period_ms) */
    int64_t   tolerance;    /* tau = burst * T, ticks */
} mall_gcra_t;

typedef struct {
    int       allowed;      /* 1: admit; 0: reject */
    int64_t   tat;          /* state to store (possibly clamped if rejected) */
    uint64_t  remaining;    /* requests that would still pass now */
    uint64_t  retry_ms;     /* rejected: ms until a request passes; else 0 */
    uint64_t  reset_ms;     /* ms until the bucket is full again */
    uint64_t  expire_ms;    /* unix ms from which the state equals "absent" */
} mall_gcra_result_t;

/*
 * Sets up a limit of count requests per period_ms with the given burst.
 * Returns 0, or -1 if a value is 0 (count, period) or above its maximum.
 */
int mall_gcra_init(mall_gcra_t *g, uint64_t count, uint64_t period_ms,
    uint64_t burst);

/*
 * Decides one request at now_ms against state tat (0 = new). Fills res; the
 * caller stores res->tat (an admitted request advances it; a rejected one
 * leaves it, except that a TAT further ahead than a drained bucket allows,
 * which only a clock stepping backwards produces, is clamped so such a step
 * never locks a key out longer than one emission interval).
 */
void mall_gcra_check(const mall_gcra_t *g, int64_t tat, uint64_t now_ms,
    mall_gcra_result_t *res);

/*
 * Converts a state kept for a limit of from_count requests per period to
 * one of to_count (a reload changed the rate): the same time in ms.
 */
int64_t mall_gcra_rescale(int64_t tat, uint64_t from_count,
    uint64_t to_count);

/* Whole seconds for Retry-After: ms rounded up, at least 1. */
uint64_t mall_gcra_retry_after_s(uint64_t retry_ms);

/*
 * Parses "20r/s", "300r/m", "1000r/h", "5r/d" into count and period_ms.
 * Returns 0, or -1 on anything else or a value out of range.
 */
int mall_gcra_parse_rate(const char *s, uint64_t len, uint64_t *count,
    uint64_t *period_ms);

#endif
