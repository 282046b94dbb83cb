/*
 * Redis client, finding the primary through Sentinel (see mall_redis.h).
 *
 * One query at a time per process: an async context to one Sentinel
 * (round robin over redis_sentinels), "SENTINEL get-master-addr-by-name
 * <name>", a deadline of redis_timeout_ms, then the context is freed. An
 * answer that names another primary than the one in use drops every
 * connection still open to the old one and opens the shared ones at once.
 * While no shared connection is up, the next query follows 250 ms later
 * (a failover ends on the Sentinels' side first: the old address keeps
 * refusing connections until they name the new one), and once a second
 * while they are up: a planned switch-over (SENTINEL FAILOVER) leaves the
 * old primary up and still calling itself primary until the Sentinels
 * turn it into a replica, 10..20 s later, so only they can tell. Queries
 * are spaced at least 100 ms apart however many connections fail at once.
 *
 * A Sentinel may name a server that is no longer the primary (its view
 * lags, or the old primary restarted before it was turned into a
 * replica): every new connection sends ROLE first, and one that is not
 * "master" is dropped and the Sentinels asked again; so is a connection
 * whose reply says READONLY.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libevent.h>

#include "mall_log.h"
#include "mall_metrics.h"
#include "mall_redis_internal.h"

#define SENTINEL_POLL_MS     250        /* while no connection is up */
#define SENTINEL_CHECK_MS    1000       /* while connected */
#define SENTINEL_SPACING_MS  100        /* between two queries */

static void sentinel_query(mall_redis_t *r);


static void
sentinel_arm(mall_redis_t *r, int ms)
{
    struct timeval  tv;

    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    evtimer_add(r->sentinel_timer, &tv);
}


/* Frees the query's context (its callback then runs with NULL). */
static void
sentinel_free(mall_redis_t *r)
{
    redisAsyncContext  *ac = r->sentinel_ac;

    if (ac != NULL) {
        r->sentinel_ac = NULL;
        ac->onConnect = NULL;
        ac->onDisconnect = NULL;
        redisAsyncFree(ac);
    }
}


/* The Sentinel named host:port: use it, and move over if it changed. */
static void
sentinel_found(mall_redis_t *r, const char *host, int port)
{
    size_t  i;
    int     changed;

    changed = strcmp(r->host, host) != 0 || r->port != port;
    if (changed) {
        mall_log(MALL_LOG_NOTICE, "redis", "sentinel: primary \"%s\" is "
                 "%s:%d (was %s:%d)", r->ha.master_name, host, port,
                 r->host[0] ? r->host : "-", r->port);
        snprintf(r->host, sizeof(r->host), "%s", host);
        r->port = port;
        r->stats.primary_changes++;
        mall_metrics_redis_primary_change();
    }
    r->primary_known = 1;

    /* moved: every connection goes there now; same: those that waited
     * for this answer open, those backing off keep their timer */
    for (i = 0; i < r->nshared; i++) {
        if (changed) {
            redis_conn_drop(&r->shared[i], "the primary moved");
            evtimer_del(r->shared[i].retry);
            r->shared[i].failures = 0;
            r->shared[i].next_attempt_ms = 0;
        }
        if (r->shared[i].ac == NULL
            && !evtimer_pending(r->shared[i].retry, NULL))
        {
            redis_conn_open(&r->shared[i]);
        }
    }
    for (i = 0; changed && i < r->ntxn; i++) {
        redis_conn_drop(&r->txn[i], "the primary moved");
        r->txn[i].failures = 0;
        r->txn[i].next_attempt_ms = 0;
    }
}


static void
sentinel_reply_cb(redisAsyncContext *ac, void *reply, void *privdata)
{
    mall_redis_t  *r = privdata;
    redisReply    *rep = reply;
    long           port;

    if (r->sentinel_ac != ac) {
        return;                          /* freed by us: deadline, close */
    }
    if (rep != NULL && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2
        && rep->element[0]->type == REDIS_REPLY_STRING
        && rep->element[1]->type == REDIS_REPLY_STRING
        && rep->element[0]->len < sizeof(r->host))
    {
        port = strtol(rep->element[1]->str, NULL, 10);
        if (port > 0 && port < 65536) {
            sentinel_found(r, rep->element[0]->str, (int) port);
        }
    } else {
        mall_log(MALL_LOG_WARN, "redis", "sentinel %s:%d does not know "
                 "\"%s\"%s%s",
                 r->ha.sentinels[(r->sentinel_next - 1) % r->ha.nsentinels]
                     .host,
                 r->ha.sentinels[(r->sentinel_next - 1) % r->ha.nsentinels]
                     .port, r->ha.master_name,
                 rep != NULL && rep->type == REDIS_REPLY_ERROR ? ": " : "",
                 rep != NULL && rep->type == REDIS_REPLY_ERROR ? rep->str
                                                               : "");
    }
    /* done with this Sentinel; hiredis frees the context after us */
    r->sentinel_ac = NULL;
    redisAsyncDisconnect(ac);
    evtimer_del(r->sentinel_timer);
    sentinel_arm(r, mall_redis_connected(r) ? SENTINEL_CHECK_MS
                                           : SENTINEL_POLL_MS);
}


static void
sentinel_disconnect_cb(const redisAsyncContext *ac, int status)
{
    mall_redis_t  *r = ac->data;

    (void) status;
    if (r->sentinel_ac == ac) {
        r->sentinel_ac = NULL;           /* refused or lost: next one */
        evtimer_del(r->sentinel_timer);
        sentinel_arm(r, SENTINEL_SPACING_MS);
    }
}


static void
sentinel_connect_cb(const redisAsyncContext *ac, int status)
{
    mall_redis_t  *r = ac->data;

    if (status != REDIS_OK && r->sentinel_ac == ac) {
        mall_log(MALL_LOG_WARN, "redis", "sentinel unreachable: %s",
                 ac->errstr);
        r->sentinel_ac = NULL;           /* hiredis frees it after us */
        evtimer_del(r->sentinel_timer);
        sentinel_arm(r, SENTINEL_SPACING_MS);
    }
}


/* Deadline of a query, or the next poll or check. */
static void
sentinel_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    mall_redis_t  *r = arg;

    (void) fd;
    (void) what;
    if (r->sentinel_ac != NULL) {
        mall_log(MALL_LOG_WARN, "redis", "sentinel: no answer within %d ms",
                 r->timeout_ms);
        sentinel_free(r);
    }
    sentinel_query(r);
}


static void
sentinel_query(mall_redis_t *r)
{
    const redis_ha_addr_t  *s;
    redisAsyncContext      *ac;
    const char             *argv[3];
    int64_t                 now = mall_mono_ms();

    if (r->sentinel_ac != NULL || r->base == NULL) {
        return;
    }
    if (now < r->sentinel_after_ms) {
        if (!evtimer_pending(r->sentinel_timer, NULL)) {
            sentinel_arm(r, (int) (r->sentinel_after_ms - now));
        }
        return;
    }
    r->sentinel_after_ms = now + SENTINEL_SPACING_MS;
    s = &r->ha.sentinels[r->sentinel_next++ % r->ha.nsentinels];

    ac = redisAsyncConnect(s->host, s->port);
    if (ac == NULL || ac->err) {
        if (ac != NULL) {
            redisAsyncFree(ac);
        }
        sentinel_arm(r, SENTINEL_SPACING_MS);
        return;
    }
    mall_set_cloexec(ac->c.fd);
    ac->data = r;
    if (redisLibeventAttach(ac, r->base) != REDIS_OK) {
        redisAsyncFree(ac);
        sentinel_arm(r, SENTINEL_SPACING_MS);
        return;
    }
    redisAsyncSetConnectCallback(ac, sentinel_connect_cb);
    redisAsyncSetDisconnectCallback(ac, sentinel_disconnect_cb);
    argv[0] = "SENTINEL";
    argv[1] = "get-master-addr-by-name";
    argv[2] = r->ha.master_name;
    r->sentinel_ac = ac;
    redisAsyncCommandArgv(ac, sentinel_reply_cb, r, 3, argv, NULL);
    evtimer_del(r->sentinel_timer);
    sentinel_arm(r, r->timeout_ms);
}


/* ---- used by the connections ------------------------------------------ */

int
redis_primary_ready(mall_redis_t *r)
{
    if (r->ha.nsentinels == 0 || r->primary_known) {
        return 1;
    }
    sentinel_query(r);
    return 0;
}


void
redis_primary_lost(mall_redis_t *r, const char *why)
{
    if (r->ha.nsentinels == 0 || !r->primary_known) {
        return;
    }
    mall_log(MALL_LOG_WARN, "redis", "primary %s:%d: %s; asking the "
             "sentinels", r->host, r->port, why);
    r->primary_known = 0;
    sentinel_query(r);
}


int
redis_reply_readonly(const redisReply *rep)
{
    return rep != NULL && rep->type == REDIS_REPLY_ERROR
           && strncmp(rep->str, "READONLY", 8) == 0;
}


static void
role_cb(redisAsyncContext *ac, void *reply, void *privdata)
{
    mall_redis_conn_t  *c = privdata;
    redisReply         *rep = reply;

    if (rep == NULL || c->ac != ac) {
        return;
    }
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements > 0
        && rep->element[0]->type == REDIS_REPLY_STRING
        && strcmp(rep->element[0]->str, "master") == 0)
    {
        return;
    }
    redis_primary_lost(c->r, "ROLE says it is not the primary");
    redis_conn_drop(c, "not the primary");
}


/* A new connection in Sentinel mode checks it reached the primary. */
void
redis_role_check(mall_redis_conn_t *c)
{
    static const char  *role[] = { "ROLE" };

    if (c->r->ha.nsentinels > 0) {
        redisAsyncCommandArgv(c->ac, role_cb, c, 1, role, NULL);
    }
}


int
redis_sentinel_attach(mall_redis_t *r)
{
    if (r->ha.nsentinels == 0) {
        return MALL_OK;
    }
    r->sentinel_timer = evtimer_new(r->base, sentinel_timer_cb, r);
    if (r->sentinel_timer == NULL) {
        return MALL_ERR;
    }
    r->primary_known = 0;
    sentinel_query(r);
    return MALL_OK;
}


void
redis_sentinel_close(mall_redis_t *r)
{
    sentinel_free(r);
    if (r->sentinel_timer != NULL) {
        event_free(r->sentinel_timer);
        r->sentinel_timer = NULL;
    }
}


/* ---- blocking mode (tools) -------------------------------------------- */

int
redis_sentinel_blocking(mall_redis_t *r, mall_err_t *err)
{
    const redis_ha_addr_t  *s;
    redisContext           *c;
    redisReply             *rep;
    struct timeval          tv;
    size_t                  i;
    long                    port;

    if (r->ha.nsentinels == 0 || r->primary_known) {
        return MALL_OK;
    }
    tv.tv_sec = r->timeout_ms / 1000;
    tv.tv_usec = (r->timeout_ms % 1000) * 1000;
    for (i = 0; i < r->ha.nsentinels; i++) {
        s = &r->ha.sentinels[i];
        c = redisConnectWithTimeout(s->host, s->port, tv);
        if (c == NULL || c->err || redisSetTimeout(c, tv) != REDIS_OK) {
            if (c != NULL) {
                redisFree(c);
            }
            continue;
        }
        rep = redisCommand(c, "SENTINEL get-master-addr-by-name %s",
                           r->ha.master_name);
        if (rep != NULL && rep->type == REDIS_REPLY_ARRAY
            && rep->elements == 2
            && rep->element[0]->type == REDIS_REPLY_STRING
            && rep->element[1]->type == REDIS_REPLY_STRING
            && rep->element[0]->len < sizeof(r->host))
        {
            port = strtol(rep->element[1]->str, NULL, 10);
            if (port > 0 && port < 65536) {
                snprintf(r->host, sizeof(r->host), "%s",
                         rep->element[0]->str);
                r->port = (int) port;
                r->primary_known = 1;
            }
        }
        if (rep != NULL) {
            freeReplyObject(rep);
        }
        redisFree(c);
        if (r->primary_known) {
            return MALL_OK;
        }
    }
    return mall_err_set(err, 503, "no sentinel names the primary \"%s\"",
                        r->ha.master_name);
}
