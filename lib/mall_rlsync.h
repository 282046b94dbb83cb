/*
 * Cluster-wide GCRA limits (mall_limit ... sync=redis): the pure math.
 *
 * Every edge node keeps its own GCRA state (mall_gcra.h) and decides
 * locally. A periodic sync adds each node's admits to a per-node field of
 * a Redis hash per key and window, and reads back the other nodes' totals;
 * the other nodes' new admits are then charged to the local state as if
 * they had been admitted here just now (mall_rlsync_charge). So each node
 * runs the cluster's bucket, late by the sync lag, and the long-run rate of
 * the whole cluster is the limit's rate.
 *
 * Windows are fixed, aligned on unix time, and of a length that depends on
 * the limit only (every node computes the same window ids without talking
 * to the others). They bound how much history a node that has just seen
 * its first request for a key learns, and let Redis expire idle keys; the
 * sync reads the previous window too when it last read it, so no admit is
 * lost at a window boundary.
 *
 * Pure C, no allocation, no clock.
 */
#ifndef MALL_RLSYNC_H
#define MALL_RLSYNC_H

#include <stdint.h>

#include "mall_gcra.h"

#define MALL_RLSYNC_WINDOW_MIN_MS  2000
#define MALL_RLSYNC_WINDOW_MAX_MS  86400000

/*
 * Window length for limit g: twice the time a drained bucket takes to fill
 * again ((burst + 1) emission intervals), at least 2 s, rounded up to whole
 * seconds, at most a day.
 */
uint64_t mall_rlsync_window_ms(const mall_gcra_t *g);

/* Start (unix ms) of the window that holds now_ms. */
uint64_t mall_rlsync_window_start(uint64_t now_ms, uint64_t window_ms);

/*
 * Other nodes' admits not yet charged, from one sync's read-back:
 * last_win/last_remote are the window start and the other nodes' total
 * read at the previous sync (last_win 0: never); win is the window read
 * now, remote_cur the other nodes' total in it, and when have_prev is set
 * remote_prev is the other nodes' total in the previous window (read
 * because last_win was that window). A total that went down (Redis lost
 * the key) counts from zero.
 */
uint64_t mall_rlsync_remote_delta(uint64_t last_win, uint64_t last_remote,
    uint64_t win, uint64_t window_ms, int have_prev, uint64_t remote_prev,
    uint64_t remote_cur);

/*
 * Charges n admits of other nodes to state tat at now_ms: returns
 * max(tat, now) + n * T, capped at a drained bucket plus one window (so a
 * wrong total or a clock step cannot lock a key out for longer).
 */
int64_t mall_rlsync_charge(const mall_gcra_t *g, uint64_t window_ms,
    int64_t tat, uint64_t now_ms, uint64_t n);

/*
 * mall_gcra_check() for a synced state: a TAT beyond a drained bucket is
 * a debt of remote admits, kept (not clamped as mall_gcra_check does) up
 * to the cap of mall_rlsync_charge(), and refused until it is paid.
 */
void mall_rlsync_check(const mall_gcra_t *g, uint64_t window_ms,
    int64_t tat, uint64_t now_ms, mall_gcra_result_t *res);

/*
 * The documented accuracy bound: the most requests a cluster of nodes
 * edge nodes admits for one key within any span of span_ms, when every
 * admit is charged on every other node within lag_ms (2 x sync interval
 * + Redis round trip):
 *     (burst + 1 + floor(span / T)) + (nodes - 1) * (burst + 1 + ceil(lag / T))
 * with T = period / count. The first term is what one node (the ideal
 * shared bucket) admits; each other node adds at most a full bucket plus
 * what it admits during the lag.
 */
uint64_t mall_rlsync_bound(const mall_gcra_t *g, uint64_t nodes,
    uint64_t lag_ms, uint64_t span_ms);

#endif
