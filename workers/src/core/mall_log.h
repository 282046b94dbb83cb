/*
 * JSON lines, one object per event:
 *   {"ts":"2026-01-02T03:04:05.678Z","level":"info","pid":123,
 *    "comp":"server","request_id":null,"msg":"..."}
 * Request-scoped lines (mall_log_req) carry the request id (the edge's
 * X-Request-Id) and "user_id"; access lines (mall_log_access) add
 * "method", "route" (the route pattern), "path" (no query string: it may
 * carry codes or tokens), "status", "latency_ms", "client_ip", "risk".
 * Lines are written whole (one write(2) of one or more lines), so lines
 * from the master and the worker processes do not interleave. A worker
 * process buffers them (mall_log_buffer): at most flush_ms late, warnings
 * and errors at once. Never pass a secret or token to a log call.
 *
 * mall_log() is level-gated like Redis' serverLog: when the level is
 * filtered out, the arguments are not evaluated.
 */
#ifndef MALL_LOG_H
#define MALL_LOG_H

#include "mall_common.h"

struct event_base;

typedef enum {
    MALL_LOG_ERROR = 0,
    MALL_LOG_WARN,
    MALL_LOG_NOTICE,
    MALL_LOG_INFO,
    MALL_LOG_DEBUG
} mall_log_level_e;

extern int  mall_log_level;

#define mall_log(level, comp, ...)                                          \
    do {                                                                    \
        if ((int) (level) <= mall_log_level) {                              \
            mall_log_write(level, comp, NULL, NULL, __VA_ARGS__);           \
        }                                                                   \
    } while (0)

/* Request-scoped line: "request_id": rid, "user_id": user. */
#define mall_log_req(level, comp, rid, user, ...)                           \
    do {                                                                    \
        if ((int) (level) <= mall_log_level) {                              \
            mall_log_write(level, comp, rid, user, __VA_ARGS__);            \
        }                                                                   \
    } while (0)

void mall_log_write(int level, const char *comp, const char *rid,
    const char *user, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/*
 * Opens path for appending (NULL or "stderr" means stderr) and makes it
 * the log target, and a file also stderr (dup2); the previous file is
 * closed. MALL_OK or MALL_ERR.
 */
int mall_log_open(const char *path, mall_err_t *err);

/* Opens the file of the last mall_log_open again (log rotation). */
int mall_log_reopen(mall_err_t *err);

/* The stderr the process was started with, before the log file replaced
 * it (-1: never replaced): where a new binary started by an upgrade prints
 * until it opens its own log, so the JSON log only gets JSON lines. */
int mall_log_early_fd(void);

/* The access line of one request (info level). */
typedef struct {
    const char  *request_id;
    const char  *user_id;          /* NULL or "": null */
    const char  *method;
    const char  *route;            /* pattern, or "unmatched" */
    const char  *path;
    int          status;
    double       latency_ms;
    const char  *client_ip;        /* optional */
    const char  *risk;             /* optional: the edge's risk line */
    const char  *error_code;       /* optional */
} mall_log_access_t;

void mall_log_access(const mall_log_access_t *a);

/* Level name to value; -1 for an unknown name. */
int mall_log_level_parse(const char *name);

/*
 * Buffers lines in this process (a worker: one event loop), flushed every
 * flush_ms on base, when full, at a warning or worse, and by
 * mall_log_flush / mall_log_unbuffer. MALL_OK or MALL_ERR.
 */
int mall_log_buffer(struct event_base *base, int flush_ms);
void mall_log_flush(void);
void mall_log_unbuffer(void);

/* Call after fork: lines carry this process's pid (cached). */
void mall_log_process(void);

/* Async-signal-safe: writes a fixed message with write(2) only. */
void mall_log_raw_from_handler(const char *msg);

#endif
