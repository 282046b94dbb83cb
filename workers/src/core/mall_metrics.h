/*
 * Worker metrics in shared memory.
 *
 * The master maps one anonymous MAP_SHARED region before it forks any
 * child. It holds a slot per entry of the master's child table; a child
 * writes only its own slot (single writer: plain relaxed atomic stores, no
 * lock, no read-modify-write shared with anyone) and the admin listener
 * (mall_admin.h), served by any child, sums the slots ever used. A slot is
 * never cleared when its child exits: the next child of that slot keeps
 * adding to it, so every sum only grows (Prometheus counters). Memory is
 * bounded: fixed route, status, reason and bucket tables.
 *
 * The region also carries what /status shows about the master: its pid,
 * binary, start time, the config's path, SHA-256 and load time, and the
 * delay-queue lag the order timer measures.
 */
#ifndef MALL_METRICS_H
#define MALL_METRICS_H

#include <stdint.h>
#include <sys/types.h>

#include "mall_common.h"
#include "mall_router.h"

struct evbuffer;

#define MALL_METRICS_SLOTS     256     /* = the master's child table */
#define MALL_METRICS_ROUTES    160     /* routes + 1 for "unmatched" */
#define MALL_METRICS_STATUSES  17      /* 16 listed codes + other */
#define MALL_METRICS_LAT_BUCKETS   12
#define MALL_METRICS_RTT_BUCKETS   11

/* order refusal reasons (error codes of the order create route) */
typedef enum {
    MM_REASON_VALIDATION = 0, MM_REASON_UNAUTHORIZED, MM_REASON_FROZEN,
    MM_REASON_OUT_OF_STOCK, MM_REASON_COUPON, MM_REASON_CONFLICT,
    MM_REASON_NOT_FOUND, MM_REASON_TOO_LARGE, MM_REASON_UNAVAILABLE,
    MM_REASON_INTERNAL, MM_REASON_OTHER, MM_REASONS
} mall_metrics_reason_e;

/* outcomes of a WeChat Pay transaction applied (pay_order.h) */
typedef enum {
    MM_PAY_APPLIED = 0, MM_PAY_DUPLICATE, MM_PAY_LATE, MM_PAY_REJECTED,
    MM_PAY_ERROR, MM_PAY_RESULTS
} mall_metrics_pay_e;

/* notification signature checks: the wxpay_sig_e values, in order */
#define MM_VERIFY_RESULTS  6

typedef enum {
    MM_REDIS_TIMEOUT = 0,        /* a batch hit redis_timeout_ms */
    MM_REDIS_LOST,               /* no connection, dropped, refused */
    MM_REDIS_TRANSIENT,          /* LOADING, BUSY, MASTERDOWN, ... */
    MM_REDIS_ERR_KINDS
} mall_metrics_redis_e;

/*
 * Initialises the region (master, before the first fork): binary is the
 * path the master was started from. MALL_OK or MALL_ERR.
 */
int mall_metrics_init(const char *binary, const char *conf_path);

/* Master: records the config just loaded (its file's SHA-256, now). */
void mall_metrics_config_loaded(const char *conf_path);

/* Master: slot is about to get a new child / lost its child. */
void mall_metrics_slot_start(int slot, pid_t pid);
void mall_metrics_slot_end(int slot);

/* Child, right after fork: its slot (counts reset: own requests, ...). */
void mall_metrics_child(int slot);

/* Child: it serves now. Master: whether the child of slot said so. */
void mall_metrics_child_ready(void);
int mall_metrics_slot_ready(int slot);

/* Route index for counting: ctx->route - routes, or -1 (unmatched). */
void mall_metrics_request(int route, int status, int64_t latency_us);
void mall_metrics_inflight(int n);
void mall_metrics_shed(void);
void mall_metrics_order_created(void);
void mall_metrics_order_refused(const char *code);
void mall_metrics_payment(mall_metrics_pay_e result);
void mall_metrics_verification(int sig_result);
void mall_metrics_redis_batch(int64_t rtt_us);
void mall_metrics_redis_error(mall_metrics_redis_e kind);
void mall_metrics_redis_primary_change(void);
void mall_metrics_redis_wait_short(void);
void mall_metrics_delay_lag(int64_t lag_ms);

/* Admin listener: Prometheus text of every family, into out. */
int mall_metrics_render(struct evbuffer *out, const mall_route_t *routes,
    size_t nroutes);

/* Admin listener: the master and children facts of /status. */
typedef struct {
    pid_t         master;
    const char   *binary;
    int64_t       started_at;            /* unix seconds */
    const char   *conf_path;
    const char   *conf_sha256;           /* hex */
    int64_t       conf_loaded_at;
    int64_t       delay_lag_ms;          /* -1: not measured yet */
} mall_metrics_info_t;

void mall_metrics_info(mall_metrics_info_t *info);

/* Calls fn for every live child slot: pid, in flight, own requests. */
void mall_metrics_children(void (*fn)(void *arg, pid_t pid, int in_flight,
    uint64_t requests), void *arg);

#endif
