/*
 * Worker metrics in shared memory (see mall_metrics.h).
 *
 * Writers: one process per slot, so an update is a relaxed load + store of
 * its own word (no bus-locked read-modify-write); readers in other
 * processes use relaxed loads. A torn sum across slots at most lags by the
 * increments in flight, which Prometheus tolerates.
 */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE              /* MAP_ANONYMOUS without -D */
#endif

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "mall_b64.h"
#include "mall_crypto.h"
#include "mall_log.h"
#include "mall_metrics.h"

#define MM_UNMATCHED  (MALL_METRICS_ROUTES - 1)

typedef struct {
    uint64_t  requests[MALL_METRICS_ROUTES][MALL_METRICS_STATUSES];
    uint64_t  lat[MALL_METRICS_ROUTES][MALL_METRICS_LAT_BUCKETS + 1];
    uint64_t  lat_sum_us[MALL_METRICS_ROUTES];
    uint64_t  shed;
    uint64_t  orders_created;
    uint64_t  orders_refused[MM_REASONS];
    uint64_t  payments[MM_PAY_RESULTS];
    uint64_t  verifications[MM_VERIFY_RESULTS];
    uint64_t  redis_errors[MM_REDIS_ERR_KINDS];
    uint64_t  redis_primary_changes;
    uint64_t  redis_wait_short;
    uint64_t  rtt[MALL_METRICS_RTT_BUCKETS + 1];
    uint64_t  rtt_sum_us;
} mm_counters_t;

typedef struct {
    int32_t        used;            /* ever had a child: summed */
    int32_t        pid;             /* 0: no live child */
    int32_t        ready;           /* the child serves (upgrade check) */
    int64_t        in_flight;
    uint64_t       own_requests;    /* this child's, reset at spawn */
    mm_counters_t  c;
} mm_slot_t;

typedef struct {
    int32_t    master;
    int64_t    started_at;
    int64_t    conf_loaded_at;
    int64_t    delay_lag_ms;
    char       binary[512];
    char       conf_path[512];
    char       conf_sha256[MALL_SHA256_HEX_LEN + 1];
    mm_slot_t  slots[MALL_METRICS_SLOTS];
} mm_shm_t;

static mm_shm_t   *mm;
static mm_slot_t  *mine;             /* the child's own slot */

/* status codes with a series of their own; the rest count as "other" */
static const int  mm_statuses[MALL_METRICS_STATUSES - 1] = {
    200, 201, 204, 301, 304, 400, 401, 403, 404, 405, 409, 413, 422, 429,
    500, 503
};

/* upper bounds in ms (le labels) */
static const char  *mm_lat_le[MALL_METRICS_LAT_BUCKETS] = {
    "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
    "0.5", "1", "2.5", "5"
};
static const int64_t  mm_lat_us[MALL_METRICS_LAT_BUCKETS] = {
    1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
    1000000, 2500000, 5000000
};
static const char  *mm_rtt_le[MALL_METRICS_RTT_BUCKETS] = {
    "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025",
    "0.05", "0.1", "0.25", "1"
};
static const int64_t  mm_rtt_us[MALL_METRICS_RTT_BUCKETS] = {
    250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000,
    1000000
};

static const char  *mm_reason_codes[MM_REASONS] = {
    "VALIDATION_FAILED", "UNAUTHORIZED", "ACCOUNT_FROZEN", "OUT_OF_STOCK",
    "COUPON", "CONFLICT", "NOT_FOUND", "PAYLOAD_TOO_LARGE", "UNAVAILABLE",
    "INTERNAL", "other"
};
static const char  *mm_pay_names[MM_PAY_RESULTS] = {
    "applied", "duplicate", "late", "rejected", "error"
};
static const char  *mm_verify_names[MM_VERIFY_RESULTS] = {
    "ok", "missing", "signtest", "unknown_key", "stale", "bad_signature"
};
static const char  *mm_redis_err_names[MM_REDIS_ERR_KINDS] = {
    "timeout", "connection", "transient"
};

#define MM_LOAD(p)      __atomic_load_n((p), __ATOMIC_RELAXED)
#define MM_STORE(p, v)  __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define MM_INC(p, n)    MM_STORE((p), MM_LOAD(p) + (n))


int
mall_metrics_init(const char *binary, const char *conf_path)
{
    void  *p;

    p = mmap(NULL, sizeof(mm_shm_t), PROT_READ | PROT_WRITE,
             MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        mall_log(MALL_LOG_ERROR, "metrics", "mmap %zu bytes: %s",
                 sizeof(mm_shm_t), strerror(errno));
        return MALL_ERR;
    }
    mm = p;
    mm->master = (int32_t) getpid();
    mm->started_at = (int64_t) time(NULL);
    mm->delay_lag_ms = -1;
    snprintf(mm->binary, sizeof(mm->binary), "%s", binary);
    mall_metrics_config_loaded(conf_path);
    return MALL_OK;
}


void
mall_metrics_config_loaded(const char *conf_path)
{
    mall_sha256_ctx_t  sha;
    uint8_t            buf[8192], md[MALL_SHA256_LEN];
    size_t             n;
    FILE              *f;

    if (mm == NULL) {
        return;
    }
    /* the master reads its own config file: never on a child's loop */
    mall_sha256_init(&sha);
    f = fopen(conf_path, "re");
    if (f != NULL) {
        while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
            mall_sha256_update(&sha, buf, n);
        }
        fclose(f);
    }
    mall_sha256_final(&sha, md);
    mall_hex_encode(md, sizeof(md), mm->conf_sha256);
    mm->conf_sha256[MALL_SHA256_HEX_LEN] = '\0';
    snprintf(mm->conf_path, sizeof(mm->conf_path), "%s", conf_path);
    MM_STORE(&mm->conf_loaded_at, (int64_t) time(NULL));
}


void
mall_metrics_slot_start(int slot, pid_t pid)
{
    if (mm == NULL || slot < 0 || slot >= MALL_METRICS_SLOTS) {
        return;
    }
    MM_STORE(&mm->slots[slot].pid, (int32_t) pid);
    MM_STORE(&mm->slots[slot].used, 1);
}


void
mall_metrics_slot_end(int slot)
{
    if (mm == NULL || slot < 0 || slot >= MALL_METRICS_SLOTS) {
        return;
    }
    MM_STORE(&mm->slots[slot].pid, 0);
    MM_STORE(&mm->slots[slot].ready, 0);
    MM_STORE(&mm->slots[slot].in_flight, 0);
}


void
mall_metrics_child(int slot)
{
    if (mm != NULL && slot >= 0 && slot < MALL_METRICS_SLOTS) {
        mine = &mm->slots[slot];
        MM_STORE(&mine->ready, 0);
        MM_STORE(&mine->in_flight, 0);
        MM_STORE(&mine->own_requests, 0);
        MM_STORE(&mine->pid, (int32_t) getpid());
        MM_STORE(&mine->used, 1);
    }
}


void
mall_metrics_child_ready(void)
{
    if (mine != NULL) {
        MM_STORE(&mine->ready, 1);
    }
}


int
mall_metrics_slot_ready(int slot)
{
    return mm != NULL && slot >= 0 && slot < MALL_METRICS_SLOTS
           && MM_LOAD(&mm->slots[slot].ready);
}


static int
mm_status_index(int status)
{
    int  i;

    for (i = 0; i < MALL_METRICS_STATUSES - 1; i++) {
        if (mm_statuses[i] == status) {
            return i;
        }
    }
    return MALL_METRICS_STATUSES - 1;
}


void
mall_metrics_request(int route, int status, int64_t latency_us)
{
    int  r, b;

    if (mine == NULL) {
        return;
    }
    r = route >= 0 && route < MM_UNMATCHED ? route : MM_UNMATCHED;
    MM_INC(&mine->c.requests[r][mm_status_index(status)], 1);
    for (b = 0; b < MALL_METRICS_LAT_BUCKETS; b++) {
        if (latency_us <= mm_lat_us[b]) {
            break;
        }
    }
    MM_INC(&mine->c.lat[r][b], 1);          /* b == N: above the last */
    MM_INC(&mine->c.lat_sum_us[r], (uint64_t) (latency_us > 0 ? latency_us
                                                               : 0));
    MM_INC(&mine->own_requests, 1);
}


void
mall_metrics_inflight(int n)
{
    if (mine != NULL) {
        MM_STORE(&mine->in_flight, (int64_t) n);
    }
}


void
mall_metrics_shed(void)
{
    if (mine != NULL) {
        MM_INC(&mine->c.shed, 1);
    }
}


void
mall_metrics_order_created(void)
{
    if (mine != NULL) {
        MM_INC(&mine->c.orders_created, 1);
    }
}


void
mall_metrics_order_refused(const char *code)
{
    int  i;

    if (mine == NULL) {
        return;
    }
    i = MM_REASON_OTHER;
    if (code != NULL) {
        if (strncmp(code, "COUPON_", 7) == 0) {
            i = MM_REASON_COUPON;
        } else {
            for (i = 0; i < MM_REASON_OTHER; i++) {
                if (strcmp(code, mm_reason_codes[i]) == 0) {
                    break;
                }
            }
        }
    }
    MM_INC(&mine->c.orders_refused[i], 1);
}


void
mall_metrics_payment(mall_metrics_pay_e result)
{
    if (mine != NULL && (int) result >= 0 && result < MM_PAY_RESULTS) {
        MM_INC(&mine->c.payments[result], 1);
    }
}


void
mall_metrics_verification(int sig_result)
{
    if (mine != NULL && sig_result >= 0 && sig_result < MM_VERIFY_RESULTS) {
        MM_INC(&mine->c.verifications[sig_result], 1);
    }
}


void
mall_metrics_redis_batch(int64_t rtt_us)
{
    int  b;

    if (mine == NULL) {
        return;
    }
    for (b = 0; b < MALL_METRICS_RTT_BUCKETS; b++) {
        if (rtt_us <= mm_rtt_us[b]) {
            break;
        }
    }
    MM_INC(&mine->c.rtt[b], 1);
    MM_INC(&mine->c.rtt_sum_us, (uint64_t) (rtt_us > 0 ? rtt_us : 0));
}


void
mall_metrics_redis_error(mall_metrics_redis_e kind)
{
    if (mine != NULL && (int) kind >= 0 && kind < MM_REDIS_ERR_KINDS) {
        MM_INC(&mine->c.redis_errors[kind], 1);
    }
}


void
mall_metrics_redis_primary_change(void)
{
    if (mine != NULL) {
        MM_INC(&mine->c.redis_primary_changes, 1);
    }
}


void
mall_metrics_redis_wait_short(void)
{
    if (mine != NULL) {
        MM_INC(&mine->c.redis_wait_short, 1);
    }
}


void
mall_metrics_delay_lag(int64_t lag_ms)
{
    /* any child's order timer: the last measurement wins */
    if (mm != NULL) {
        MM_STORE(&mm->delay_lag_ms, lag_ms);
    }
}


/* ---- reading ---------------------------------------------------------- */

/* Sum of the uint64 at byte offset off of every used slot's counters. */
static uint64_t
mm_sum(size_t off)
{
    uint64_t  s;
    int       i;

    s = 0;
    for (i = 0; i < MALL_METRICS_SLOTS; i++) {
        if (MM_LOAD(&mm->slots[i].used)) {
            s += MM_LOAD((uint64_t *) ((char *) &mm->slots[i].c + off));
        }
    }
    return s;
}

#define MM_SUM(field)  mm_sum(offsetof(mm_counters_t, field))


static void
mm_family(struct evbuffer *out, const char *name, const char *type,
    const char *help)
{
    evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help,
                        name, type);
}


/* Route label values: the pattern has no quote or backslash. */
static void
mm_route_label(const mall_route_t *routes, size_t nroutes, int r,
    const char **method, const char **pattern)
{
    if (r < (int) nroutes && r != MM_UNMATCHED) {
        *method = routes[r].method;
        *pattern = routes[r].pattern;
    } else {
        *method = "-";
        *pattern = "unmatched";
    }
}


static void
mm_render_requests(struct evbuffer *out, const mall_route_t *routes,
    size_t nroutes)
{
    const char  *m, *p;
    uint64_t     v, cum, sum;
    int          r, s, b, last, seen;
    char         code[8];

    last = nroutes < MM_UNMATCHED ? (int) nroutes : MM_UNMATCHED;

    mm_family(out, "mall_worker_requests_total", "counter",
              "Requests answered by the workers, by route and status.");
    for (r = 0; r <= MM_UNMATCHED; r++) {
        if (r == last && r != MM_UNMATCHED) {
            r = MM_UNMATCHED - 1;          /* skip the unused routes */
            continue;
        }
        mm_route_label(routes, nroutes, r, &m, &p);
        for (s = 0; s < MALL_METRICS_STATUSES; s++) {
            v = MM_SUM(requests[r][s]);
            if (v == 0) {
                continue;
            }
            if (s < MALL_METRICS_STATUSES - 1) {
                snprintf(code, sizeof(code), "%d", mm_statuses[s]);
            } else {
                snprintf(code, sizeof(code), "other");
            }
            evbuffer_add_printf(out, "mall_worker_requests_total{method=\"%s\","
                                "route=\"%s\",status=\"%s\"} %llu\n", m, p,
                                code, (unsigned long long) v);
        }
    }

    mm_family(out, "mall_worker_request_duration_seconds", "histogram",
              "Time from a request's arrival to its reply, by route.");
    for (r = 0; r <= MM_UNMATCHED; r++) {
        if (r == last && r != MM_UNMATCHED) {
            r = MM_UNMATCHED - 1;
            continue;
        }
        seen = 0;
        for (b = 0; b <= MALL_METRICS_LAT_BUCKETS && !seen; b++) {
            seen = MM_SUM(lat[r][b]) != 0;
        }
        if (!seen) {
            continue;                        /* routes never called */
        }
        mm_route_label(routes, nroutes, r, &m, &p);
        cum = 0;
        for (b = 0; b <= MALL_METRICS_LAT_BUCKETS; b++) {
            cum += MM_SUM(lat[r][b]);
            evbuffer_add_printf(out, "mall_worker_request_duration_seconds_"
                                "bucket{method=\"%s\",route=\"%s\",le=\"%s\"}"
                                " %llu\n", m, p,
                                b < MALL_METRICS_LAT_BUCKETS ? mm_lat_le[b]
                                                             : "+Inf",
                                (unsigned long long) cum);
        }
        sum = MM_SUM(lat_sum_us[r]);
        evbuffer_add_printf(out, "mall_worker_request_duration_seconds_sum"
                            "{method=\"%s\",route=\"%s\"} %.6f\n"
                            "mall_worker_request_duration_seconds_count"
                            "{method=\"%s\",route=\"%s\"} %llu\n", m, p,
                            (double) sum / 1e6, m, p,
                            (unsigned long long) cum);
    }
}


/* One counter family with a label over a fixed name table. */
static void
mm_render_labelled(struct evbuffer *out, const char *name, const char *help,
    const char *label, const char *const *names, size_t n, size_t off)
{
    size_t  i;

    mm_family(out, name, "counter", help);
    for (i = 0; i < n; i++) {
        evbuffer_add_printf(out, "%s{%s=\"%s\"} %llu\n", name, label,
                            names[i], (unsigned long long)
                            mm_sum(off + i * sizeof(uint64_t)));
    }
}


static void
mm_render_redis(struct evbuffer *out)
{
    uint64_t  cum;
    int       b;

    mm_render_labelled(out, "mall_worker_redis_errors_total",
                       "Redis batches that failed, by kind.", "kind",
                       mm_redis_err_names, MM_REDIS_ERR_KINDS,
                       offsetof(mm_counters_t, redis_errors));

    mm_family(out, "mall_worker_redis_rtt_seconds", "histogram",
              "Round-trip time of one Redis command batch.");
    cum = 0;
    for (b = 0; b <= MALL_METRICS_RTT_BUCKETS; b++) {
        cum += MM_SUM(rtt[b]);
        evbuffer_add_printf(out, "mall_worker_redis_rtt_seconds_bucket"
                            "{le=\"%s\"} %llu\n",
                            b < MALL_METRICS_RTT_BUCKETS ? mm_rtt_le[b]
                                                         : "+Inf",
                            (unsigned long long) cum);
    }
    evbuffer_add_printf(out, "mall_worker_redis_rtt_seconds_sum %.6f\n"
                        "mall_worker_redis_rtt_seconds_count %llu\n",
                        (double) MM_SUM(rtt_sum_us) / 1e6,
                        (unsigned long long) cum);
}


int
mall_metrics_render(struct evbuffer *out, const mall_route_t *routes,
    size_t nroutes)
{
    int64_t  inflight, lag;
    int      i, live;

    if (mm == NULL) {
        return MALL_ERR;
    }

    mm_render_requests(out, routes, nroutes);

    mm_family(out, "mall_worker_shed_total", "counter",
              "Requests answered 503 at once: the process was at "
              "max_inflight.");
    evbuffer_add_printf(out, "mall_worker_shed_total %llu\n",
                        (unsigned long long) MM_SUM(shed));

    mm_family(out, "mall_worker_redis_primary_changes_total", "counter",
              "Times Sentinel named another Redis primary (a failover).");
    evbuffer_add_printf(out, "mall_worker_redis_primary_changes_total %llu\n",
                        (unsigned long long) MM_SUM(redis_primary_changes));
    mm_family(out, "mall_worker_redis_wait_short_total", "counter",
              "Writes answered 503: WAIT saw fewer replicas than "
              "redis_wait_replicas in time.");
    evbuffer_add_printf(out, "mall_worker_redis_wait_short_total %llu\n",
                        (unsigned long long) MM_SUM(redis_wait_short));

    inflight = 0;
    live = 0;
    for (i = 0; i < MALL_METRICS_SLOTS; i++) {
        if (MM_LOAD(&mm->slots[i].pid) != 0) {
            inflight += MM_LOAD(&mm->slots[i].in_flight);
            live++;
        }
    }
    mm_family(out, "mall_worker_in_flight_requests", "gauge",
              "Requests being served now, over every worker process.");
    evbuffer_add_printf(out, "mall_worker_in_flight_requests %lld\n",
                        (long long) inflight);
    mm_family(out, "mall_worker_processes", "gauge",
              "Worker processes running (all generations).");
    evbuffer_add_printf(out, "mall_worker_processes %d\n", live);

    mm_family(out, "mall_worker_orders_created_total", "counter",
              "Orders created (201 from the order create route).");
    evbuffer_add_printf(out, "mall_worker_orders_created_total %llu\n",
                        (unsigned long long) MM_SUM(orders_created));
    mm_render_labelled(out, "mall_worker_orders_refused_total",
                       "Order creations refused, by error code.", "reason",
                       mm_reason_codes, MM_REASONS,
                       offsetof(mm_counters_t, orders_refused));
    mm_render_labelled(out, "mall_worker_payments_total",
                       "WeChat Pay transactions applied (notifications and "
                       "queries), by result.", "result", mm_pay_names,
                       MM_PAY_RESULTS, offsetof(mm_counters_t, payments));
    mm_render_labelled(out, "mall_worker_pay_notify_verifications_total",
                       "Signature checks of WeChat Pay notifications, by "
                       "result.", "result", mm_verify_names,
                       MM_VERIFY_RESULTS,
                       offsetof(mm_counters_t, verifications));

    mm_render_redis(out);

    lag = MM_LOAD(&mm->delay_lag_ms);
    mm_family(out, "mall_worker_delay_queue_lag_seconds", "gauge",
              "How far past its deadline the oldest unpaid order waiting "
              "for expiry is (0: none overdue).");
    evbuffer_add_printf(out, "mall_worker_delay_queue_lag_seconds %.3f\n",
                        lag > 0 ? (double) lag / 1000.0 : 0.0);

    mm_family(out, "mall_worker_master_start_time_seconds", "gauge",
              "Unix time the worker master started.");
    evbuffer_add_printf(out, "mall_worker_master_start_time_seconds %lld\n",
                        (long long) mm->started_at);
    mm_family(out, "mall_worker_config_load_time_seconds", "gauge",
              "Unix time the running worker config was loaded.");
    evbuffer_add_printf(out, "mall_worker_config_load_time_seconds %lld\n",
                        (long long) MM_LOAD(&mm->conf_loaded_at));
    return MALL_OK;
}


void
mall_metrics_info(mall_metrics_info_t *info)
{
    memset(info, 0, sizeof(*info));
    if (mm == NULL) {
        return;
    }
    info->master = (pid_t) mm->master;
    info->binary = mm->binary;
    info->started_at = mm->started_at;
    info->conf_path = mm->conf_path;
    info->conf_sha256 = mm->conf_sha256;
    info->conf_loaded_at = MM_LOAD(&mm->conf_loaded_at);
    info->delay_lag_ms = MM_LOAD(&mm->delay_lag_ms);
}


void
mall_metrics_children(void (*fn)(void *arg, pid_t pid, int in_flight,
    uint64_t requests), void *arg)
{
    int32_t  pid;
    int      i;

    if (mm == NULL) {
        return;
    }
    for (i = 0; i < MALL_METRICS_SLOTS; i++) {
        pid = MM_LOAD(&mm->slots[i].pid);
        if (pid != 0) {
            fn(arg, (pid_t) pid, (int) MM_LOAD(&mm->slots[i].in_flight),
               MM_LOAD(&mm->slots[i].own_requests));
        }
    }
}
