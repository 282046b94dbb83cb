/*
 * Redis client, its connections (see mall_redis.h): opening on the loop,
 * backoff, dropping, and the exclusive connections WATCH transactions
 * hold. The batches that run over them are in mall_redis.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>
#include <event2/event_struct.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libevent.h>

#include "mall_fiber.h"
#include "mall_log.h"
#include "mall_redis_internal.h"

#define REDIS_BACKOFF_MIN_MS  50
#define REDIS_BACKOFF_MAX_MS  2000

/* A fiber waiting for an exclusive connection. */
typedef struct redis_txn_wait_s {
    mall_fiber_t              *fiber;
    mall_redis_conn_t         *granted;
    struct redis_txn_wait_s   *next;
} redis_txn_wait_t;

static void                        *redis_stolen;
static const char                  *client_setname[] = {
    "CLIENT", "SETNAME", "mall-worker"
};
static redisReplyObjectFunctions    redis_fns;
static int                          redis_fns_ready;


/* ---- reply ownership -------------------------------------------------- */

void
redis_reply_steal(void *reply)
{
    redis_stolen = reply;
}


static void
redis_free_object(void *obj)
{
    if (obj == redis_stolen) {
        redis_stolen = NULL;             /* the fiber owns it now */
        return;
    }
    freeReplyObject(obj);
}


/* ---- connections ------------------------------------------------------ */

/*
 * After a failure: the first retry is at once (a blip, a timed-out batch
 * on a Redis that is alive), the next ones back off 50 ms .. 2 s; until a
 * retry is due, calls fail at once instead of queueing.
 */
static void
conn_backoff(mall_redis_conn_t *c, const char *why)
{
    struct timeval  tv;

    c->backoff_ms = c->failures++ == 0 ? 0
                    : c->backoff_ms == 0 ? REDIS_BACKOFF_MIN_MS
                    : c->backoff_ms * 2;
    if (c->backoff_ms > REDIS_BACKOFF_MAX_MS) {
        c->backoff_ms = REDIS_BACKOFF_MAX_MS;
    }
    c->next_attempt_ms = mall_mono_ms() + c->backoff_ms;
    mall_log(MALL_LOG_WARN, "redis", "%s:%d%s: %s (next attempt in %d ms)",
             c->r->host, c->r->port, c->exclusive ? " (txn)" : "", why,
             c->backoff_ms);

    /* the shared connections come back by themselves; txn ones on demand */
    if (c->retry != NULL) {
        tv.tv_sec = c->backoff_ms / 1000;
        tv.tv_usec = (c->backoff_ms % 1000) * 1000;
        evtimer_add(c->retry, &tv);
    }
}


static void
conn_connect_cb(const redisAsyncContext *ac, int status)
{
    mall_redis_conn_t  *c = ac->data;

    if (status != REDIS_OK) {
        c->ac = NULL;                    /* hiredis frees it after us */
        c->up = 0;
        conn_backoff(c, ac->errstr);
        redis_primary_lost(c->r, ac->errstr);
        return;
    }
    c->up = 1;
    c->backoff_ms = 0;
    c->failures = 0;
    c->r->stats.connects++;
    mall_log(MALL_LOG_INFO, "redis", "connected to %s:%d%s", c->r->host,
             c->r->port, c->exclusive ? " (txn)" : "");
}


static void
conn_disconnect_cb(const redisAsyncContext *ac, int status)
{
    mall_redis_conn_t  *c = ac->data;

    c->ac = NULL;
    c->up = 0;
    c->watching = 0;
    c->in_multi = 0;
    c->txn_lost = c->holder != NULL;
    if (status != REDIS_OK) {
        conn_backoff(c, ac->errstr[0] ? ac->errstr : "connection lost");
        redis_primary_lost(c->r, "connection lost");
    }
}


void
redis_conn_retry_cb(evutil_socket_t fd, short what, void *arg)
{
    mall_redis_conn_t  *c = arg;

    (void) fd;
    (void) what;
    if (c->ac == NULL) {
        redis_conn_open(c);
    }
}


void
redis_conn_open(mall_redis_conn_t *c)
{
    redisAsyncContext  *ac;
    int                 fd;

    if (!redis_primary_ready(c->r)) {
        return;                          /* opened once a Sentinel answers */
    }
    ac = redisAsyncConnect(c->r->host, c->r->port);
    if (ac == NULL) {
        conn_backoff(c, "out of memory");
        return;
    }
    if (ac->err) {
        conn_backoff(c, ac->errstr);
        redisAsyncFree(ac);
        return;
    }
    if (!redis_fns_ready) {
        redis_fns = *ac->c.reader->fn;
        redis_fns.freeObject = redis_free_object;
        redis_fns_ready = 1;
    }
    ac->c.reader->fn = &redis_fns;
    ac->data = c;
    fd = ac->c.fd;
    if (fd >= 0) {
        mall_set_cloexec(fd);
    }
    if (redisLibeventAttach(ac, c->r->base) != REDIS_OK) {
        conn_backoff(c, "cannot attach to the event loop");
        redisAsyncFree(ac);
        return;
    }
    redisAsyncSetConnectCallback(ac, conn_connect_cb);
    redisAsyncSetDisconnectCallback(ac, conn_disconnect_cb);
    c->ac = ac;
    c->up = 0;
    /* named, so CLIENT LIST (ops, tests) tells the workers' connections */
    redisAsyncCommandArgv(ac, NULL, NULL, 3, client_setname, NULL);
    redis_role_check(c);
}


/*
 * Frees c's context now: every batch in flight on it gets its NULL
 * replies (and its fiber is woken), and the connection backs off.
 */
void
redis_conn_drop(mall_redis_conn_t *c, const char *why)
{
    redisAsyncContext  *ac = c->ac;

    if (ac == NULL) {
        return;
    }
    c->ac = NULL;
    c->up = 0;
    c->watching = 0;
    c->in_multi = 0;
    c->txn_lost = c->holder != NULL;
    ac->onConnect = NULL;           /* we account for it here */
    ac->onDisconnect = NULL;
    redisAsyncFree(ac);
    conn_backoff(c, why);
}


/* MALL_OK when c can take commands now (opening it if due), MALL_RETRY. */
int
redis_conn_ready(mall_redis_conn_t *c, mall_err_t *err)
{
    int64_t  now;

    if (c->ac != NULL) {
        return MALL_OK;
    }
    now = mall_mono_ms();
    if (now < c->next_attempt_ms) {
        mall_err_set(err, 503, "redis down, retry in %d ms",
                     (int) (c->next_attempt_ms - now));
        return MALL_RETRY;
    }
    redis_conn_open(c);
    if (c->ac == NULL && !c->r->primary_known && c->r->ha.nsentinels > 0) {
        mall_err_set(err, 503, "redis primary unknown (asking the "
                     "sentinels)");
        return MALL_RETRY;
    }
    if (c->ac == NULL) {
        mall_err_set(err, 503, "redis %s:%d unreachable", c->r->host,
                     c->r->port);
        return MALL_RETRY;
    }
    return MALL_OK;
}


/* ---- exclusive connections for WATCH transactions ---------------------- */

static int
cmd_is(const mall_redis_cmd_t *cmd, const char *name)
{
    size_t  len = cmd->argvlen != NULL ? cmd->argvlen[0]
                                       : strlen(cmd->argv[0]);

    return len == strlen(name) && strncasecmp(cmd->argv[0], name, len) == 0;
}


/*
 * Replays the transaction state of a connection (watching, in_multi)
 * over the batch's commands; returns 1 when the batch leaves one open.
 */
int
redis_batch_leaves_txn(const mall_redis_cmd_t *cmds, size_t n,
    unsigned *watching,
    unsigned *in_multi)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (cmd_is(&cmds[i], "WATCH")) {
            *watching = 1;
        } else if (cmd_is(&cmds[i], "MULTI")) {
            *in_multi = 1;
        } else if (cmd_is(&cmds[i], "EXEC") || cmd_is(&cmds[i], "DISCARD")) {
            *in_multi = 0;
            *watching = 0;
        } else if (cmd_is(&cmds[i], "UNWATCH")) {
            *watching = 0;
        }
    }
    return *watching || *in_multi;
}


void
redis_txn_release(mall_redis_conn_t *c)
{
    mall_redis_t      *r = c->r;
    redis_txn_wait_t  *w;

    *mall_fiber_redis_slot(c->holder) = NULL;
    c->holder = NULL;
    c->txn_lost = 0;

    w = r->txn_waiters;
    if (w != NULL) {
        r->txn_waiters = w->next;
        w->granted = c;
        c->holder = w->fiber;
        *mall_fiber_redis_slot(w->fiber) = c;
        mall_fiber_wake(w->fiber);
    }
}


static void
txn_wait_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    redis_txn_wait_t  *w = arg;

    (void) fd;
    (void) what;
    mall_fiber_wake(w->fiber);
}


/* An exclusive connection for the running fiber (parks while none is
 * free, up to the timeout). NULL with err set on timeout. */
mall_redis_conn_t *
redis_txn_acquire(mall_redis_t *r, mall_fiber_t *self, mall_err_t *err)
{
    redis_txn_wait_t   w, **pp;
    struct event       timer;
    struct timeval     tv;
    mall_redis_conn_t *c;
    size_t             i;

    for (i = 0; i < r->ntxn; i++) {
        c = &r->txn[i];
        if (c->holder == NULL) {
            c->holder = self;
            *mall_fiber_redis_slot(self) = c;
            return c;
        }
    }

    w.fiber = self;
    w.granted = NULL;
    w.next = NULL;
    for (pp = &r->txn_waiters; *pp != NULL; pp = &(*pp)->next) {
        /* FIFO */
    }
    *pp = &w;

    evtimer_assign(&timer, r->base, txn_wait_timeout_cb, &w);
    tv.tv_sec = r->timeout_ms / 1000;
    tv.tv_usec = (r->timeout_ms % 1000) * 1000;
    evtimer_add(&timer, &tv);
    while (w.granted == NULL && evtimer_pending(&timer, NULL)) {
        mall_fiber_park();
    }
    evtimer_del(&timer);

    if (w.granted == NULL) {
        for (pp = &r->txn_waiters; *pp != NULL; pp = &(*pp)->next) {
            if (*pp == &w) {
                *pp = w.next;
                break;
            }
        }
        mall_err_set(err, 503, "no redis transaction connection free");
        return NULL;
    }
    return w.granted;
}


/* Fiber exit: a transaction left open is abandoned on the server too. */
void
redis_fiber_exit(mall_fiber_t *f)
{
    mall_redis_conn_t  *c = *mall_fiber_redis_slot(f);
    static const char  *unwatch[] = { "UNWATCH" };

    if (c == NULL) {
        return;
    }
    if (c->ac != NULL && c->in_multi) {
        redis_conn_drop(c, "transaction abandoned inside MULTI");
    } else if (c->ac != NULL) {
        redisAsyncCommandArgv(c->ac, NULL, NULL, 1, unwatch, NULL);
        c->watching = 0;
    }
    redis_txn_release(c);
}


/* Frees one connection's context and its timer. */
void
redis_conn_close(mall_redis_conn_t *c)
{
    if (c->ac != NULL) {
        c->ac->onConnect = NULL;
        c->ac->onDisconnect = NULL;
        redisAsyncFree(c->ac);
        c->ac = NULL;
    }
    if (c->retry != NULL) {
        event_free(c->retry);
        c->retry = NULL;
    }
}


