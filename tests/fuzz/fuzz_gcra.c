/*
 * lib/mall_gcra.h and lib/mall_rlsync.h: the rate text of mall_limit /
 * mall_cc_guard, and the limit arithmetic fed with what other edge nodes
 * wrote to Redis (sync=redis: totals and window ids read back by HGETALL
 * are not ours to trust).
 *
 * Input: a rate string ("20r/s"), '\0', burst (2 bytes), then records of
 * one op byte and 8 value bytes run against one key's state: time steps
 * (forward, or a clock stepping back), checks, remote charges with any
 * total, remote deltas with any window ids and totals, rescales. Oracles:
 * remaining never exceeds burst + 1, an admit never needs a retry, and
 * UBSan sees every overflow.
 */
#include "fuzz_common.h"
#include "mall_gcra.h"
#include "mall_rlsync.h"

#define NOW0  1700000000000ULL          /* unix ms */


static uint64_t
u64(fz_in_t *in)
{
    uint64_t  v;
    int       i;

    v = 0;
    for (i = 0; i < 8; i++) {
        v = (v << 8) | fz_byte(in);
    }
    return v;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char                *rate;
    uint8_t              op;
    int64_t              tat;
    uint64_t             count, period, burst, now, v, window, last_win;
    uint64_t             last_remote, win;
    fz_in_t              in;
    const uint8_t       *f;
    size_t               len;
    mall_gcra_t          g;
    mall_gcra_result_t   res;

    in.p = data;
    in.n = size;
    len = fz_field(&in, '\0', &f);
    rate = fz_dup(f, len);
    if (mall_gcra_parse_rate(rate, len, &count, &period) != 0) {
        count = 10;
        period = 1000;
    }
    free(rate);
    burst = (uint64_t) fz_byte(&in) << 8 | fz_byte(&in);
    if (mall_gcra_init(&g, count, period, burst) != 0) {
        return 0;
    }

    window = mall_rlsync_window_ms(&g);
    FZ_ASSERT(window >= MALL_RLSYNC_WINDOW_MIN_MS
              && window <= MALL_RLSYNC_WINDOW_MAX_MS);

    now = NOW0;
    tat = 0;
    last_win = 0;
    last_remote = 0;

    while (in.n > 0) {
        op = fz_byte(&in);
        v = u64(&in);

        switch (op % 8) {
        case 0:                         /* time passes, or steps back */
            if (op & 0x80) {
                now -= v % 3600000;
            } else {
                now += v % 86400000;
            }
            break;

        case 1:
            mall_gcra_check(&g, tat, now, &res);
            FZ_ASSERT(res.remaining <= burst + 1);
            if (res.allowed) {
                FZ_ASSERT(res.retry_ms == 0);
                tat = res.tat;
            } else {
                FZ_ASSERT(res.retry_ms > 0);
                tat = res.tat;
            }
            break;

        case 2:                         /* other nodes' admits, any count */
            tat = mall_rlsync_charge(&g, window, tat, now, v);
            break;

        case 3:
            mall_rlsync_check(&g, window, tat, now, &res);
            FZ_ASSERT(res.remaining <= burst + 1);
            if (res.allowed) {
                tat = res.tat;
            }
            break;

        case 4:                         /* a read-back from Redis */
            win = mall_rlsync_window_start(now, window);
            (void) mall_rlsync_remote_delta(last_win, last_remote, win,
                                            window, op & 0x10,
                                            v >> 32, v & 0xffffffff);
            (void) mall_rlsync_remote_delta(v, last_remote, win, window,
                                            op & 0x20, v, last_remote);
            last_win = (op & 0x40) ? v : win;
            last_remote = v;
            break;

        case 5:                         /* a reload changed the rate */
            tat = mall_gcra_rescale(tat, g.count,
                                    v % MALL_GCRA_MAX_COUNT + 1);
            tat = mall_gcra_rescale(tat, v % MALL_GCRA_MAX_COUNT + 1,
                                    g.count);
            break;

        case 6:
            FZ_ASSERT(mall_gcra_retry_after_s(v) >= 1);
            break;

        default:
            (void) mall_rlsync_bound(&g, v % 1000 + 1, v % 60000,
                                     (v >> 16) % 86400000);
            break;
        }
    }
    return 0;
}
