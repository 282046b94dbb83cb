/*
 * The worker's Redis client.
 *
 * In a worker process (after mall_redis_attach) every call is made from a
 * fiber (mall_fiber.h) and never blocks the process: the commands go out
 * on a hiredis *async* context bound to the process's libevent loop
 * (hiredis's own libevent adapter), the fiber parks, and it resumes when
 * the last reply of its batch is in. Many requests share one pipelined
 * connection, so Redis sees their commands interleaved batch by batch; a
 * batch is appended in one go, so a MULTI ... EXEC inside one batch stays
 * contiguous and atomic.
 *
 * WATCH is per connection, so a fiber whose batch leaves a WATCH (or a
 * MULTI) open is given one of a few exclusive connections until its
 * transaction ends (EXEC, DISCARD, UNWATCH, an error, or the fiber's end).
 *
 * hiredis 0.14 has no async timeouts: every batch arms its own timer. A
 * batch still unanswered at redis_timeout_ms, a dropped connection or a
 * refused connect fails every batch in flight on that connection with
 * MALL_RETRY (the handler answers 503; the outcome of a write in flight is
 * unknown, which is what idempotency records are for). The connection is
 * then re-opened at once, and after further failures with exponential
 * backoff (50 ms .. 2 s); until the next attempt is due, calls fail at
 * once instead of queueing.
 *
 * Without mall_redis_attach (tools: mall-seed, start-up checks) the same
 * calls use one blocking connection with the same timeout and backoff.
 * Replies are owned by the caller in both modes (freeReplyObject).
 *
 * With Sentinels (mall_redis_set_ha, mall_redis_sentinel.c) host:port is
 * not fixed: the primary is asked of the Sentinels ("SENTINEL
 * get-master-addr-by-name", asynchronously on the loop), checked with
 * ROLE on every new connection, and asked again whenever a connection
 * fails or a reply says READONLY (the old primary came back as a
 * replica). While no connection is up the Sentinels are asked every
 * 250 ms, so the workers follow a failover within that of its end, and
 * every second while one is (a planned switch-over leaves the old
 * primary up, still saying "master").
 */
#ifndef MALL_REDIS_H
#define MALL_REDIS_H

#include <stddef.h>
#include <stdint.h>
#include <hiredis/hiredis.h>

#include "mall_common.h"
#include "redis_ha_conf.h"

struct event;
struct event_base;
struct mall_redis_conn_s;
struct redisAsyncContext;

/* Counters of one process's client (metrics). */
typedef struct {
    uint64_t  batches;          /* round trips completed or failed */
    uint64_t  commands;
    uint64_t  failed;           /* batches failed: lost, timeout, refused */
    uint64_t  timeouts;         /* batches that hit redis_timeout_ms */
    uint64_t  connects;         /* connections established */
    uint64_t  rtt_us;           /* sum of batch round-trip times */
    uint64_t  primary_changes;  /* Sentinel named another primary */
    uint64_t  wait_short;       /* WAIT found too few replicas */
} mall_redis_stats_t;

typedef struct mall_redis_s {
    char                        host[256];
    int                         port;
    int                         timeout_ms;
    /* blocking mode */
    redisContext               *c;
    int64_t                     next_attempt_ms;   /* monotonic; 0 = now */
    int                         backoff_ms;
    /* async mode (set by mall_redis_attach) */
    struct event_base          *base;
    struct mall_redis_conn_s   *shared;            /* the pipelined ones */
    size_t                      nshared;
    size_t                      next_shared;       /* round robin */
    struct mall_redis_conn_s   *txn;               /* exclusive ones */
    size_t                      ntxn;
    struct redis_txn_wait_s    *txn_waiters;       /* FIFO */
    mall_redis_stats_t          stats;
    /* Sentinel and WAIT (mall_redis_set_ha; nsentinels 0: host fixed) */
    redis_ha_conf_t             ha;
    int                         primary_known;
    struct redisAsyncContext   *sentinel_ac;       /* query in flight */
    struct event               *sentinel_timer;    /* deadline / poll */
    size_t                      sentinel_next;     /* round robin */
    int64_t                     sentinel_after_ms; /* next query due */
} mall_redis_t;

/* One command of a pipeline: argc arguments with explicit lengths. */
typedef struct {
    int            argc;
    const char   **argv;
    const size_t  *argvlen;    /* NULL: strlen of each argument */
} mall_redis_cmd_t;

void mall_redis_init(mall_redis_t *r, const char *host, int port,
    int timeout_ms);

/*
 * Sentinels and WAIT (copied): call after mall_redis_init, before
 * attach. Without Sentinels in ha, host:port stays the one server.
 */
void mall_redis_set_ha(mall_redis_t *r, const redis_ha_conf_t *ha);

/*
 * Makes what was acknowledged by Redis so far durable on replicas: with
 * redis_wait_replicas > 0, a no-op write (PUBLISH, which replicates) and
 * WAIT n timeout in one round trip. WAIT counts the replication offset
 * of its own connection's last write, hence the PUBLISH: it orders after
 * every write already answered, whichever connection made it. MALL_OK
 * (enough replicas, or WAIT off), MALL_RETRY (too few replicas within
 * the timeout, or Redis down: the change is on the primary but may not
 * survive a failover; the client retries with the same Idempotency-Key).
 */
int mall_redis_durable(mall_redis_t *r, mall_err_t *err);

/*
 * Switches r to async mode on base with shared_conns pipelined
 * connections (batches go round robin: Redis reads a bounded amount per
 * connection and loop turn, so a few connections let one fsync of the AOF
 * cover more requests) and txn_conns exclusive ones for WATCH
 * transactions (1..64 each), and opens the shared ones (a failure is not
 * fatal: retried with backoff). MALL_OK / MALL_ERR.
 */
int mall_redis_attach(mall_redis_t *r, struct event_base *base,
    int shared_conns, int txn_conns);

/* Closes every connection (in-flight batches fail). */
void mall_redis_close(mall_redis_t *r);

/* Blocking mode only: connects unless connected; MALL_OK or MALL_RETRY. */
int mall_redis_connect(mall_redis_t *r, mall_err_t *err);

/*
 * Runs one command. MALL_OK: *reply is set (never an error reply) and the
 * caller frees it with freeReplyObject. MALL_ERR: Redis answered an error
 * (message in err). MALL_RETRY: Redis is unreachable, too slow or still
 * loading its data.
 */
int mall_redis_command(mall_redis_t *r, redisReply **reply, mall_err_t *err,
    int argc, const char **argv, const size_t *argvlen);

/*
 * Sends n commands in one round trip and reads n replies into replies[]
 * (each freed by the caller; error replies are kept as they are, so check
 * ->type). MALL_OK, or MALL_RETRY with every replies[i] NULL.
 */
int mall_redis_pipeline(mall_redis_t *r, size_t n,
    const mall_redis_cmd_t *cmds, redisReply **replies, mall_err_t *err);

/*
 * The value of field name in an HGETALL array reply (name, value, ...),
 * or NULL when absent or arr is not an array.
 */
const redisReply *mall_redis_hash_field(const redisReply *arr,
    const char *name);

/* Frees replies[0..n) (NULL entries skipped) and sets them to NULL. */
void mall_redis_free_replies(redisReply **replies, size_t n);

/* MALL_OK when PING answers PONG, else MALL_RETRY / MALL_ERR. */
int mall_redis_ping(mall_redis_t *r, mall_err_t *err);

/* 1 when a shared async connection is up (status, metrics). */
int mall_redis_connected(const mall_redis_t *r);

#endif
