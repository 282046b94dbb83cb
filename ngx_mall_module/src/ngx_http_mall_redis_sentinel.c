
/*
 * The Redis client's Sentinel step (see ngx_http_mall_redis.h): the
 * "sentinel=" and "master=" parameters of mall_redis, the query for the
 * primary's address, and the ROLE check of the connection in use.
 *
 * The query is a second hiredis async context on nginx's loop, bound by
 * the same adapter, under the client's deadline timer: connect to one
 * Sentinel, "SENTINEL get-master-addr-by-name <master>", free it, then
 * connect to the address it named. Any failure goes through the client's
 * _fail(): backoff (at most 1 s with Sentinels), and the next attempt
 * asks the next Sentinel. Nothing here blocks.
 *
 * While connected, a Sentinel is asked again every second, beside the ROLE
 * check: a planned switch-over (SENTINEL FAILOVER) leaves the old primary
 * up and still saying "master" until the Sentinels turn it into a
 * replica, 10..20 s later, so only they can tell that it moved. Such a
 * check fails quietly; an answer naming another server drops the
 * connection, and the next connect goes there.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_http.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "ngx_http_mall_module.h"


#define NGX_HTTP_MALL_REDIS_SENTINELS_MAX  8
#define NGX_HTTP_MALL_REDIS_ROLE_EVERY     1000     /* ms */


static void ngx_http_mall_redis_sentinel_reply(redisAsyncContext *ac,
    void *r, void *privdata);
static void ngx_http_mall_redis_sentinel_connected(
    const redisAsyncContext *ac, int status);
static void ngx_http_mall_redis_sentinel_closed(const redisAsyncContext *ac,
    int status);
static void ngx_http_mall_redis_role_reply(redisAsyncContext *ac, void *r,
    void *privdata);
static void ngx_http_mall_redis_sentinel_ask(ngx_http_mall_redis_client_t *cl,
    ngx_uint_t check);


/* ------------------------------ configuration ---------------------------- */


/* "sentinel=h:p[,h:p...]" or "master=NAME" of mall_redis. */

char *
ngx_http_mall_redis_sentinel_conf(ngx_conf_t *cf,
    ngx_http_mall_redis_conf_t *rcf, ngx_str_t *value)
{
    u_char                      *p, *end, *comma, *colon;
    ngx_int_t                    port;
    ngx_http_mall_redis_addr_t  *a;

    if (ngx_strncmp(value->data, "master=", 7) == 0) {
        if (value->len == 7 || value->len - 7 >= 128) {
            goto invalid;
        }

        rcf->master.len = value->len - 7;
        rcf->master.data = ngx_pnalloc(cf->pool, rcf->master.len + 1);
        if (rcf->master.data == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_cpystrn(rcf->master.data, value->data + 7, rcf->master.len + 1);

        return NGX_CONF_OK;
    }

    if (rcf->sentinels != NULL) {
        goto invalid;                         /* given twice */
    }

    rcf->sentinels = ngx_array_create(cf->pool, 3,
                                      sizeof(ngx_http_mall_redis_addr_t));
    if (rcf->sentinels == NULL) {
        return NGX_CONF_ERROR;
    }

    p = value->data + 9;
    end = value->data + value->len;

    while (p < end) {
        comma = ngx_strlchr(p, end, ',');
        if (comma == NULL) {
            comma = end;
        }

        colon = ngx_strlchr(p, comma, ':');

        if (colon == NULL || colon == p
            || colon - p >= NGX_HTTP_MALL_REDIS_HOST_MAX
            || rcf->sentinels->nelts == NGX_HTTP_MALL_REDIS_SENTINELS_MAX)
        {
            goto invalid;
        }

        port = ngx_atoi(colon + 1, comma - colon - 1);
        if (port < 1 || port > 65535) {
            goto invalid;
        }

        a = ngx_array_push(rcf->sentinels);
        if (a == NULL) {
            return NGX_CONF_ERROR;
        }

        a->port = port;
        a->host.len = colon - p;
        a->host.data = ngx_pnalloc(cf->pool, a->host.len + 1);
        if (a->host.data == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_cpystrn(a->host.data, p, a->host.len + 1);

        p = comma + 1;
    }

    if (rcf->sentinels->nelts == 0) {
        goto invalid;
    }

    if (rcf->master.len == 0) {
        ngx_str_set(&rcf->master, "mall");
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "mall_redis: invalid parameter \"%V\"", value);

    return NGX_CONF_ERROR;
}


/* ------------------------------ the query -------------------------------- */


void
ngx_http_mall_redis_sentinel_query(ngx_http_mall_redis_client_t *cl)
{
    ngx_http_mall_redis_sentinel_ask(cl, 0);
}


/* Asks a Sentinel; check: connected already, only see if it moved. */

static void
ngx_http_mall_redis_sentinel_ask(ngx_http_mall_redis_client_t *cl,
    ngx_uint_t check)
{
    const char                  *argv[3];
    redisAsyncContext           *ac;
    ngx_http_mall_redis_addr_t  *a;

    a = cl->conf->sentinels->elts;
    a += cl->sentinel_next++ % cl->conf->sentinels->nelts;

    ac = redisAsyncConnect((char *) a->host.data, (int) a->port);

    if (ac == NULL || ac->err) {
        if (!check) {
            ngx_http_mall_redis_client_fail(cl, ac ? ac->errstr
                                                   : "out of memory");
        }

        if (ac) {
            redisAsyncFree(ac);
        }

        return;
    }

    ac->data = cl;

    if (ngx_http_mall_redis_attach(ac, cl->log) != NGX_OK) {
        redisAsyncFree(ac);

        if (!check) {
            ngx_http_mall_redis_client_fail(cl, "no free connection");
        }

        return;
    }

    cl->sac = ac;
    cl->checking = check;

    redisAsyncSetConnectCallback(ac, ngx_http_mall_redis_sentinel_connected);
    redisAsyncSetDisconnectCallback(ac, ngx_http_mall_redis_sentinel_closed);

    argv[0] = "SENTINEL";
    argv[1] = "get-master-addr-by-name";
    argv[2] = (const char *) cl->conf->master.data;

    if (redisAsyncCommandArgv(ac, ngx_http_mall_redis_sentinel_reply, cl, 3,
                              argv, NULL)
        != REDIS_OK)
    {
        if (check) {
            ngx_http_mall_redis_sentinel_drop(cl);

        } else {
            ngx_http_mall_redis_client_fail(cl, "sentinel query refused");
        }

        return;
    }

    if (check) {
        return;                   /* the next check drops it if still due */
    }

    if (cl->deadline.timer_set) {
        ngx_del_timer(&cl->deadline);
    }

    ngx_add_timer(&cl->deadline, cl->conf->timeout);
}


/* Frees a query in flight (client failure, deadline, exit). */

void
ngx_http_mall_redis_sentinel_drop(ngx_http_mall_redis_client_t *cl)
{
    redisAsyncContext  *ac;

    ac = cl->sac;

    if (ac) {
        cl->sac = NULL;
        cl->checking = 0;
        redisAsyncFree(ac);
    }
}


/* Finished or failed check: did the primary move? */

static void
ngx_http_mall_redis_sentinel_checked(ngx_http_mall_redis_client_t *cl,
    redisReply *reply)
{
    ngx_int_t  port;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || reply->elements != 2
        || reply->element[0]->type != REDIS_REPLY_STRING
        || reply->element[1]->type != REDIS_REPLY_STRING)
    {
        return;                               /* no news: keep going */
    }

    port = ngx_atoi((u_char *) reply->element[1]->str,
                    reply->element[1]->len);

    if (port == cl->port && ngx_strcmp(cl->host, reply->element[0]->str) == 0)
    {
        return;
    }

    /* the next connect asks again and logs the new address */
    ngx_http_mall_redis_client_fail(cl, "the sentinels name another primary");
}


static void
ngx_http_mall_redis_sentinel_reply(redisAsyncContext *ac, void *r,
    void *privdata)
{
    ngx_http_mall_redis_client_t *cl = privdata;

    redisReply  *reply = r;
    ngx_int_t    port;

    if (cl->sac != ac) {
        return;                               /* dropped by us */
    }

    /* hiredis frees the context once this callback returns */
    cl->sac = NULL;
    redisAsyncDisconnect(ac);

    if (cl->checking) {
        cl->checking = 0;
        ngx_http_mall_redis_sentinel_checked(cl, reply);
        return;
    }

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || reply->elements != 2
        || reply->element[0]->type != REDIS_REPLY_STRING
        || reply->element[1]->type != REDIS_REPLY_STRING
        || reply->element[0]->len >= NGX_HTTP_MALL_REDIS_HOST_MAX)
    {
        ngx_http_mall_redis_client_fail(cl, reply && reply->type
                                            == REDIS_REPLY_ERROR
                                            ? reply->str
                                            : "sentinel names no primary");
        return;
    }

    port = ngx_atoi((u_char *) reply->element[1]->str,
                    reply->element[1]->len);
    if (port < 1 || port > 65535) {
        ngx_http_mall_redis_client_fail(cl, "sentinel named a bad port");
        return;
    }

    if (ngx_strcmp(cl->host, reply->element[0]->str) != 0
        || cl->port != port || !cl->primary_logged)
    {
        ngx_log_error(NGX_LOG_NOTICE, cl->log, 0,
                      "%s: sentinel: primary \"%V\" is %s:%i (was %s:%i)",
                      cl->name, &cl->conf->master, reply->element[0]->str,
                      port, cl->host, cl->port);

        ngx_cpystrn(cl->host, (u_char *) reply->element[0]->str,
                    NGX_HTTP_MALL_REDIS_HOST_MAX);
        cl->port = port;
        cl->primary_logged = 1;
    }

    cl->primary_known = 1;

    if (cl->deadline.timer_set) {
        ngx_del_timer(&cl->deadline);
    }

    ngx_http_mall_redis_connect(cl);
}


static void
ngx_http_mall_redis_sentinel_connected(const redisAsyncContext *ac,
    int status)
{
    ngx_http_mall_redis_client_t *cl = ac->data;

    if (status != REDIS_OK && cl->sac == ac) {
        /* hiredis frees the context after this callback */
        cl->sac = NULL;

        if (cl->checking) {
            cl->checking = 0;
            return;
        }

        ngx_http_mall_redis_client_fail(cl, ac->errstr);
    }
}


static void
ngx_http_mall_redis_sentinel_closed(const redisAsyncContext *ac, int status)
{
    ngx_http_mall_redis_client_t *cl = ac->data;

    if (cl->sac == ac) {
        cl->sac = NULL;

        if (cl->checking) {
            cl->checking = 0;
            return;
        }

        ngx_http_mall_redis_client_fail(cl, status == REDIS_OK
                                            ? "sentinel closed"
                                            : ac->errstr);
    }
}


/* ------------------------------ ROLE ------------------------------------- */


/*
 * With Sentinels, NGX_OK when this tick is a ROLE check (sent: its reply
 * ends the batch), else NGX_DECLINED and the owner ticks.
 */

ngx_int_t
ngx_http_mall_redis_role_due(ngx_http_mall_redis_client_t *cl)
{
    static const char  *argv[] = { "ROLE" };

    if (cl->conf->sentinels == NULL || ngx_current_msec < cl->role_at) {
        return NGX_DECLINED;
    }

    cl->role_at = ngx_current_msec + NGX_HTTP_MALL_REDIS_ROLE_EVERY;

    /* and whether the Sentinels still name it (a check still unanswered
     * a second later is given up) */
    ngx_http_mall_redis_sentinel_drop(cl);
    ngx_http_mall_redis_sentinel_ask(cl, 1);

    if (ngx_http_mall_redis_client_command(cl, ngx_http_mall_redis_role_reply,
                                           NULL, 1, argv, NULL)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static void
ngx_http_mall_redis_role_reply(redisAsyncContext *ac, void *r,
    void *privdata)
{
    ngx_http_mall_redis_client_t *cl = ac->data;

    redisReply  *reply = r;

    if (reply == NULL || cl->ac != ac) {
        (void) ngx_http_mall_redis_client_reply(cl, ac);
        return;
    }

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0
        || reply->element[0]->type != REDIS_REPLY_STRING
        || ngx_strcmp(reply->element[0]->str, "master") != 0)
    {
        ngx_http_mall_redis_client_fail(cl, "not the primary (ROLE)");
        return;
    }

    if (ngx_http_mall_redis_client_reply(cl, ac) == NGX_OK
        && cl->timer.timer_set)
    {
        /* checked: the owner's tick comes at once */
        ngx_del_timer(&cl->timer);
        ngx_add_timer(&cl->timer, 1);
    }
}
