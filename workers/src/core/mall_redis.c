/*
 * Redis client: batches and the public calls (see mall_redis.h); the
 * connections are in mall_redis_conn.c, the blocking mode used by tools
 * in mall_redis_blocking.c.
 *
 * A batch is a small struct on the waiting fiber's stack: the reply slots,
 * a count, the timer. hiredis calls reply_cb once per command, in order
 * (replies of one connection arrive in the order the commands were
 * written), with NULL when the context is freed first; the fiber is woken
 * when the last one is in. hiredis 0.14 frees a reply as soon as the
 * callback returns, so the callback "steals" it: the reader's freeObject
 * hook skips exactly the reply the callback just took, and the fiber frees
 * it later with freeReplyObject like any reply.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>
#include <event2/event_struct.h>
#include <hiredis/async.h>

#include "mall_fiber.h"
#include "mall_log.h"
#include "mall_metrics.h"
#include "mall_redis.h"
#include "mall_resp.h"
#include "mall_redis_internal.h"


/* One batch in flight (on the waiting fiber's stack). */
typedef struct {
    mall_fiber_t        *fiber;
    mall_redis_conn_t   *conn;
    redisReply         **replies;
    size_t               n, got;
    int                  lost;
    int                  timed_out;
    struct event         timer;
} redis_batch_t;



/* ---- batches ---------------------------------------------------------- */

static void
reply_cb(redisAsyncContext *ac, void *reply, void *privdata)
{
    redis_batch_t  *b = privdata;

    (void) ac;
    if (reply != NULL) {
        redis_reply_steal(reply);
        b->replies[b->got] = reply;
    } else {
        b->lost = 1;
    }
    if (++b->got == b->n) {
        mall_fiber_wake(b->fiber);
    }
}


static void
batch_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    redis_batch_t  *b = arg;

    (void) fd;
    (void) what;
    b->conn->r->stats.timeouts++;
    b->timed_out = 1;
    mall_log(MALL_LOG_WARN, "redis", "no answer within %d ms: dropping the "
             "connection (every request waiting on it fails)",
             b->conn->r->timeout_ms);
    redis_conn_drop(b->conn, "timeout");
    redis_primary_lost(b->conn->r, "no answer in time");
}


/* The connection the running fiber's batch goes on; NULL on failure. */
static mall_redis_conn_t *
batch_conn(mall_redis_t *r, mall_fiber_t *self, const mall_redis_cmd_t *cmds,
    size_t n, mall_err_t *err)
{
    mall_redis_conn_t  *c = *mall_fiber_redis_slot(self);
    unsigned            watching = 0, in_multi = 0;
    size_t              i;

    if (c != NULL && c->txn_lost) {
        /* its WATCH went with the connection: the transaction is void */
        c->txn_lost = 0;
        redis_txn_release(c);
        mall_err_set(err, 503, "redis transaction connection lost");
        return NULL;
    }
    if (c == NULL && r->ntxn > 0
        && redis_batch_leaves_txn(cmds, n, &watching, &in_multi))
    {
        c = redis_txn_acquire(r, self, err);
        if (c == NULL) {
            return NULL;
        }
    }
    if (c != NULL) {
        if (redis_conn_ready(c, err) != MALL_OK) {
            redis_txn_release(c);
            return NULL;
        }
        return c;
    }
    /* the next shared connection that can take it */
    for (i = 0; i < r->nshared; i++) {
        c = &r->shared[r->next_shared++ % r->nshared];
        if (redis_conn_ready(c, err) == MALL_OK) {
            return c;
        }
    }
    return NULL;
}


/* After a batch on an exclusive connection: keep it while a transaction
 * is open, else hand it on. */
static void
batch_txn_after(mall_redis_conn_t *c, const mall_redis_cmd_t *cmds,
    size_t n, int lost)
{
    unsigned  watching, in_multi;

    if (!c->exclusive) {
        return;
    }
    watching = c->watching;
    in_multi = c->in_multi;
    if (!lost && redis_batch_leaves_txn(cmds, n, &watching, &in_multi)) {
        c->watching = watching;
        c->in_multi = in_multi;
        return;
    }
    c->watching = 0;
    c->in_multi = 0;
    redis_txn_release(c);
}


/* 1 when an error reply means "try later" (AOF replay, script, failover). */
static int
reply_is_transient(const redisReply *rep)
{
    return rep != NULL && rep->type == REDIS_REPLY_ERROR
           && (strncmp(rep->str, "LOADING", 7) == 0
               || strncmp(rep->str, "BUSY", 4) == 0
               || strncmp(rep->str, "MASTERDOWN", 10) == 0
               || strncmp(rep->str, "TRYAGAIN", 8) == 0
               || redis_reply_readonly(rep));
}


/*
 * Queues the commands on b->conn, formatted here into one block
 * (mall_resp.h), each with its reply callback; b->n counts those queued.
 * MALL_ERR (and b->lost) only when the block cannot be allocated: then
 * nothing is queued and the connection is left as it was.
 */
static int
redis_queue_batch(redis_batch_t *b, const mall_redis_cmd_t *cmds, size_t n)
{
    char    *buf;
    size_t   i, total, len, at;

    if (n == 0) {
        return MALL_OK;
    }
    total = 0;
    for (i = 0; i < n; i++) {
        total += mall_resp_size(cmds[i].argc, cmds[i].argv,
                                cmds[i].argvlen);
    }
    buf = malloc(total);
    if (buf == NULL) {
        b->lost = 1;
        return MALL_ERR;
    }
    for (i = 0, at = 0; i < n; i++, at += len) {
        len = mall_resp_write(buf + at, cmds[i].argc, cmds[i].argv,
                              cmds[i].argvlen);
        if (redisAsyncFormattedCommand(b->conn->ac, reply_cb, b, buf + at,
                                       len)
            != REDIS_OK)
        {
            b->lost = 1;
            break;
        }
        b->n++;
    }
    free(buf);     /* hiredis has copied each command to its output buffer */
    return MALL_OK;
}


static int
redis_async_pipeline(mall_redis_t *r, size_t n, const mall_redis_cmd_t *cmds,
    redisReply **replies, mall_err_t *err)
{
    mall_fiber_t    *self = mall_fiber_self();
    redis_batch_t    b;
    struct timeval   tv;
    int64_t          t0;
    size_t           i;
    int              transient, readonly, queued;

    if (self == NULL) {
        mall_log(MALL_LOG_ERROR, "redis", "redis call outside a fiber "
                 "refused (it would block the event loop)");
        return mall_err_set(err, 500, "redis call outside a fiber");
    }

    memset(&b, 0, sizeof(b));
    b.fiber = self;
    b.replies = replies;
    b.conn = batch_conn(r, self, cmds, n, err);
    if (b.conn == NULL) {
        r->stats.failed++;
        mall_metrics_redis_error(MM_REDIS_LOST);
        return MALL_RETRY;
    }

    t0 = mall_mono_us();
    queued = redis_queue_batch(&b, cmds, n);

    if (b.n > 0) {
        evtimer_assign(&b.timer, r->base, batch_timeout_cb, &b);
        tv.tv_sec = r->timeout_ms / 1000;
        tv.tv_usec = (r->timeout_ms % 1000) * 1000;
        evtimer_add(&b.timer, &tv);
        while (b.got < b.n) {
            mall_fiber_park();
        }
        evtimer_del(&b.timer);
    }
    if (queued == MALL_OK && b.n < n && b.conn->ac != NULL) {
        redis_conn_drop(b.conn, "cannot queue a command");
    }

    r->stats.batches++;
    r->stats.commands += n;
    r->stats.rtt_us += (uint64_t) (mall_mono_us() - t0);
    mall_metrics_redis_batch(mall_mono_us() - t0);

    transient = readonly = 0;
    for (i = 0; i < n && !b.lost; i++) {
        if (reply_is_transient(replies[i])) {
            mall_err_set(err, 503, "redis: %.100s", replies[i]->str);
            readonly = redis_reply_readonly(replies[i]);
            transient = 1;
            b.lost = 1;
        }
    }
    batch_txn_after(b.conn, cmds, n, b.lost);
    if (readonly && r->ha.nsentinels > 0) {
        /* the server turned replica under us: find the new primary */
        redis_primary_lost(r, "READONLY: it is a replica now");
        redis_conn_drop(b.conn, "READONLY");
    }

    if (b.lost) {
        r->stats.failed++;
        mall_metrics_redis_error(transient ? MM_REDIS_TRANSIENT
                                 : b.timed_out ? MM_REDIS_TIMEOUT
                                 : MM_REDIS_LOST);
        if (!transient) {
            mall_err_set(err, 503, "redis connection lost or timed out");
        }
        mall_redis_free_replies(replies, n);
        return MALL_RETRY;
    }
    return MALL_OK;
}


/* ---- public ----------------------------------------------------------- */

void
mall_redis_init(mall_redis_t *r, const char *host, int port, int timeout_ms)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->host, sizeof(r->host), "%s", host);
    r->port = port;
    r->timeout_ms = timeout_ms;
}


void
mall_redis_set_ha(mall_redis_t *r, const redis_ha_conf_t *ha)
{
    r->ha = *ha;
    r->primary_known = ha->nsentinels == 0;
}


int
mall_redis_attach(mall_redis_t *r, struct event_base *base, int shared_conns,
    int txn_conns)
{
    size_t  i;

    r->base = base;
    r->shared = calloc((size_t) shared_conns, sizeof(*r->shared));
    r->txn = calloc((size_t) txn_conns, sizeof(*r->txn));
    if (r->shared == NULL || r->txn == NULL) {
        return MALL_ERR;
    }
    r->nshared = (size_t) shared_conns;
    r->ntxn = (size_t) txn_conns;
    for (i = 0; i < r->nshared; i++) {
        r->shared[i].r = r;
        r->shared[i].retry = evtimer_new(base, redis_conn_retry_cb,
                                         &r->shared[i]);
        if (r->shared[i].retry == NULL) {
            return MALL_ERR;
        }
    }
    for (i = 0; i < r->ntxn; i++) {
        r->txn[i].r = r;
        r->txn[i].exclusive = 1;
    }
    mall_fiber_on_exit(redis_fiber_exit);
    if (redis_sentinel_attach(r) != MALL_OK) {
        return MALL_ERR;
    }
    for (i = 0; i < r->nshared; i++) {
        redis_conn_open(&r->shared[i]);
    }
    return MALL_OK;
}


void
mall_redis_close(mall_redis_t *r)
{
    size_t  i;

    mall_redis_blocking_close(r);
    redis_sentinel_close(r);
    for (i = 0; r->shared != NULL && i < r->nshared; i++) {
        redis_conn_close(&r->shared[i]);
    }
    for (i = 0; r->txn != NULL && i < r->ntxn; i++) {
        redis_conn_close(&r->txn[i]);
    }
    free(r->shared);
    free(r->txn);
    r->shared = r->txn = NULL;
    r->nshared = r->ntxn = 0;
    r->base = NULL;
}


int
mall_redis_pipeline(mall_redis_t *r, size_t n, const mall_redis_cmd_t *cmds,
    redisReply **replies, mall_err_t *err)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        replies[i] = NULL;
    }
    if (n == 0) {
        return MALL_OK;
    }
    if (r->base == NULL) {
        return mall_redis_blocking_pipeline(r, n, cmds, replies, err);
    }
    return redis_async_pipeline(r, n, cmds, replies, err);
}


int
mall_redis_command(mall_redis_t *r, redisReply **reply, mall_err_t *err,
    int argc, const char **argv, const size_t *argvlen)
{
    mall_redis_cmd_t  cmd;
    int               rc;

    cmd.argc = argc;
    cmd.argv = argv;
    cmd.argvlen = argvlen;
    rc = mall_redis_pipeline(r, 1, &cmd, reply, err);
    if (rc != MALL_OK) {
        *reply = NULL;
        return rc;
    }
    if ((*reply)->type == REDIS_REPLY_ERROR) {
        mall_err_set(err, 500, "redis %s: %s", argv[0], (*reply)->str);
        freeReplyObject(*reply);
        *reply = NULL;
        return MALL_ERR;
    }
    return MALL_OK;
}


void
mall_redis_free_replies(redisReply **replies, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (replies[i] != NULL) {
            freeReplyObject(replies[i]);
            replies[i] = NULL;
        }
    }
}


const redisReply *
mall_redis_hash_field(const redisReply *arr, const char *name)
{
    size_t  i;

    if (arr->type != REDIS_REPLY_ARRAY) {
        return NULL;
    }
    for (i = 0; i + 1 < arr->elements; i += 2) {
        if (arr->element[i]->type == REDIS_REPLY_STRING
            && strcmp(arr->element[i]->str, name) == 0)
        {
            return arr->element[i + 1];
        }
    }
    return NULL;
}


int
mall_redis_ping(mall_redis_t *r, mall_err_t *err)
{
    static const char  *argv[] = { "PING" };
    redisReply         *rep;
    int                 rc;

    rc = mall_redis_command(r, &rep, err, 1, argv, NULL);
    if (rc != MALL_OK) {
        return rc;
    }
    rc = (rep->type == REDIS_REPLY_STATUS && strcmp(rep->str, "PONG") == 0)
         ? MALL_OK : mall_err_set(err, 500, "unexpected PING reply");
    freeReplyObject(rep);
    return rc;
}


int
mall_redis_connected(const mall_redis_t *r)
{
    size_t  i;

    for (i = 0; r->shared != NULL && i < r->nshared; i++) {
        if (r->shared[i].up) {
            return 1;
        }
    }
    return 0;
}
