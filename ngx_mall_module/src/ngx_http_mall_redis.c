
/*
 * The Redis client and the stream follower: see ngx_http_mall_redis.h.
 *
 * The hiredis async context is bound to nginx's event loop by an adapter
 * (the shape of hiredis's adapters/libevent.h): its socket is wrapped in an
 * ngx_connection_t and hiredis switches read/write interest through
 * addRead/delRead/addWrite/delWrite, level-triggered. hiredis 0.14 has no
 * async timeouts, so nginx timers bound the connect and every batch of
 * replies. All state is per process: only worker 0 runs this.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_http.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "ngx_http_mall_module.h"


#define NGX_HTTP_MALL_REDIS_MAX_STREAMS  16
#define NGX_HTTP_MALL_REDIS_BACKOFF_MIN  250      /* ms */
#define NGX_HTTP_MALL_REDIS_BACKOFF_MAX  10000    /* ms */


static void ngx_http_mall_redis_xread(ngx_http_mall_redis_client_t *cl);
static void ngx_http_mall_redis_reply_cb(redisAsyncContext *ac, void *r,
    void *privdata);
static ngx_uint_t ngx_http_mall_redis_stream(ngx_http_mall_redis_client_t *cl,
    redisReply *reply);
static void ngx_http_mall_redis_save_id(ngx_http_mall_stream_t *s);

static void ngx_http_mall_redis_timer_handler(ngx_event_t *ev);
static void ngx_http_mall_redis_deadline_handler(ngx_event_t *ev);
static void ngx_http_mall_redis_connect_cb(const redisAsyncContext *ac,
    int status);
static void ngx_http_mall_redis_disconnect_cb(const redisAsyncContext *ac,
    int status);

static void ngx_http_mall_redis_add_read(void *privdata);
static void ngx_http_mall_redis_del_read(void *privdata);
static void ngx_http_mall_redis_add_write(void *privdata);
static void ngx_http_mall_redis_del_write(void *privdata);
static void ngx_http_mall_redis_cleanup(void *privdata);
static void ngx_http_mall_redis_read_handler(ngx_event_t *ev);
static void ngx_http_mall_redis_write_handler(ngx_event_t *ev);


static ngx_http_mall_redis_client_t  ngx_http_mall_redis_follower;


/* ------------------------------ configuration ---------------------------- */


/*
 * mall_redis <host>:<port> [interval=500ms] [timeout=3s] [count=512]
 *            [sentinel=<host>:<port>[,<host>:<port>...] [master=mall]]
 */

char *
ngx_http_mall_redis(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mall_main_conf_t *mmcf = conf;

    u_char      *p;
    ngx_str_t   *value, s;
    ngx_int_t    n;
    ngx_uint_t   i;
    ngx_msec_t   ms;

    if (mmcf->redis.port) {
        return "is duplicate";
    }

    value = cf->args->elts;

    p = ngx_strlchr(value[1].data, value[1].data + value[1].len, ':');

    if (p == NULL || p == value[1].data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "mall_redis: expected \"host:port\", got \"%V\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    n = ngx_atoi(p + 1, value[1].data + value[1].len - p - 1);

    if (n < 1 || n > 65535) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "mall_redis: invalid port in \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    mmcf->redis.port = n;
    mmcf->redis.host.len = p - value[1].data;
    mmcf->redis.host.data = ngx_pnalloc(cf->pool, mmcf->redis.host.len + 1);
    if (mmcf->redis.host.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_cpystrn(mmcf->redis.host.data, value[1].data,
                mmcf->redis.host.len + 1);

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "interval=", 9) == 0) {
            s.data = value[i].data + 9;
            s.len = value[i].len - 9;

            ms = ngx_parse_time(&s, 0);
            if (ms == (ngx_msec_t) NGX_ERROR || ms == 0) {
                goto invalid;
            }

            mmcf->redis.interval = ms;
            continue;
        }

        if (ngx_strncmp(value[i].data, "timeout=", 8) == 0) {
            s.data = value[i].data + 8;
            s.len = value[i].len - 8;

            ms = ngx_parse_time(&s, 0);
            if (ms == (ngx_msec_t) NGX_ERROR || ms == 0) {
                goto invalid;
            }

            mmcf->redis.timeout = ms;
            continue;
        }

        if (ngx_strncmp(value[i].data, "sentinel=", 9) == 0
            || ngx_strncmp(value[i].data, "master=", 7) == 0)
        {
            if (ngx_http_mall_redis_sentinel_conf(cf, &mmcf->redis,
                                                  &value[i])
                != NGX_CONF_OK)
            {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "count=", 6) == 0) {
            n = ngx_atoi(value[i].data + 6, value[i].len - 6);
            if (n < 1 || n > 10000) {
                goto invalid;
            }

            mmcf->redis.count = n;
            continue;
        }

        goto invalid;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "mall_redis: invalid parameter \"%V\"", &value[i]);

    return NGX_CONF_ERROR;
}


/*
 * Registers a follower of stream key: handler(data, ...) runs in worker 0
 * for every entry, in order. The last id read is kept in zone under
 * 's' + key.
 */

ngx_int_t
ngx_http_mall_redis_follow(ngx_conf_t *cf, ngx_http_mall_redis_conf_t *rcf,
    ngx_str_t *key, ngx_http_mall_stream_handler_pt handler, void *data,
    ngx_shm_zone_t *zone)
{
    ngx_http_mall_stream_t  *s;

    if (rcf->streams == NULL) {
        rcf->streams = ngx_array_create(cf->pool, 4,
                                        sizeof(ngx_http_mall_stream_t));
        if (rcf->streams == NULL) {
            return NGX_ERROR;
        }
    }

    if (rcf->streams->nelts == NGX_HTTP_MALL_REDIS_MAX_STREAMS
        || key->len + 1 > NGX_HTTP_MALL_SHM_KEY_MAX)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "mall_redis: cannot follow stream \"%V\"", key);
        return NGX_ERROR;
    }

    s = ngx_array_push(rcf->streams);
    if (s == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(s, sizeof(ngx_http_mall_stream_t));

    s->key = *key;
    s->handler = handler;
    s->data = data;
    s->zone = zone;

    return NGX_OK;
}


/* ------------------------------ process ---------------------------------- */


ngx_int_t
ngx_http_mall_redis_init_process(ngx_cycle_t *cycle,
    ngx_http_mall_redis_conf_t *rcf)
{
    u_char                         key[NGX_HTTP_MALL_SHM_KEY_MAX];
    size_t                         len;
    ngx_uint_t                     i;
    ngx_http_mall_stream_t        *s;
    ngx_http_mall_redis_client_t  *cl;

    if (rcf->port == 0 || rcf->streams == NULL || rcf->streams->nelts == 0) {
        return NGX_OK;
    }

    /* resume where the previous worker 0 stopped (survives a reload) */

    s = rcf->streams->elts;

    for (i = 0; i < rcf->streams->nelts; i++) {
        key[0] = 's';
        ngx_memcpy(key + 1, s[i].key.data, s[i].key.len);

        len = NGX_HTTP_MALL_STREAM_ID_MAX;

        if (ngx_http_mall_shm_get(s[i].zone, key, 1 + s[i].key.len,
                                  ngx_http_mall_now_ms(), s[i].last_id, &len)
            == NGX_OK)
        {
            s[i].last_id_len = len;

        } else {
            s[i].last_id_len = ngx_cpymem(s[i].last_id, "0-0", 3)
                               - s[i].last_id;
        }
    }

    cl = &ngx_http_mall_redis_follower;

    ngx_http_mall_redis_client_init(cl, cycle, rcf, "mall_redis",
                                    ngx_http_mall_redis_xread, NULL);

    cl->outage = "revocations already loaded stay in force";
    cl->metrics = 1;

    return NGX_OK;
}


void
ngx_http_mall_redis_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_mall_redis_client_exit(&ngx_http_mall_redis_follower);
}


/* ------------------------------ follower --------------------------------- */


/* The tick: one XREAD for all followed streams. */

static void
ngx_http_mall_redis_xread(ngx_http_mall_redis_client_t *cl)
{
    int                      argc;
    u_char                   count[NGX_INT_T_LEN];
    size_t                   argvlen[4 + 2 * NGX_HTTP_MALL_REDIS_MAX_STREAMS];
    ngx_uint_t               i, n;
    const char              *argv[4 + 2 * NGX_HTTP_MALL_REDIS_MAX_STREAMS];
    ngx_http_mall_stream_t  *s;

    s = cl->conf->streams->elts;
    n = cl->conf->streams->nelts;

    argv[0] = "XREAD";
    argvlen[0] = 5;
    argv[1] = "COUNT";
    argvlen[1] = 5;
    argv[2] = (const char *) count;
    argvlen[2] = ngx_sprintf(count, "%ui", cl->conf->count) - count;
    argv[3] = "STREAMS";
    argvlen[3] = 7;

    for (i = 0; i < n; i++) {
        argv[4 + i] = (const char *) s[i].key.data;
        argvlen[4 + i] = s[i].key.len;
        argv[4 + n + i] = (const char *) s[i].last_id;
        argvlen[4 + n + i] = s[i].last_id_len;
    }

    argc = (int) (4 + 2 * n);

    cl->next = cl->conf->interval;

    /* refused only while the context is torn down; its callbacks reconnect */
    (void) ngx_http_mall_redis_client_command(cl, ngx_http_mall_redis_reply_cb,
                                              NULL, argc, argv, argvlen);
}


static void
ngx_http_mall_redis_reply_cb(redisAsyncContext *ac, void *r, void *privdata)
{
    redisReply *reply = r;

    ngx_uint_t                     i, full;
    ngx_http_mall_redis_client_t  *cl;

    cl = ac->data;

    if (cl->ac != ac) {
        return;
    }

    /* NULL: the connection is going away, the disconnect callback retries */

    full = 0;

    if (reply && reply->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_ERR, cl->log, 0,
                      "mall_redis: XREAD failed: %*s",
                      (size_t) reply->len, reply->str);

    } else if (reply && reply->type == REDIS_REPLY_ARRAY) {

        for (i = 0; i < reply->elements; i++) {
            full |= ngx_http_mall_redis_stream(cl, reply->element[i]);
        }
    }

    /* a full batch means more may be waiting: read again right away */

    cl->next = full ? 1 : cl->conf->interval;

    (void) ngx_http_mall_redis_client_reply(cl, ac);
}


/*
 * Applies one stream's entries ([key, [[id, [f, v, ...]], ...]]) to its
 * follower and records the last id. Returns 1 if the batch was full.
 */

static ngx_uint_t
ngx_http_mall_redis_stream(ngx_http_mall_redis_client_t *cl,
    redisReply *reply)
{
    ngx_str_t                id, fields[2 * NGX_HTTP_MALL_STREAM_FIELDS];
    ngx_uint_t               i, j, k, nf;
    redisReply              *entries, *e, *f;
    ngx_http_mall_stream_t  *s;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2
        || reply->element[0]->type != REDIS_REPLY_STRING
        || reply->element[1]->type != REDIS_REPLY_ARRAY)
    {
        return 0;
    }

    s = cl->conf->streams->elts;

    for (k = 0; k < cl->conf->streams->nelts; k++) {
        if (s[k].key.len == (size_t) reply->element[0]->len
            && ngx_memcmp(s[k].key.data, reply->element[0]->str,
                          s[k].key.len) == 0)
        {
            break;
        }
    }

    if (k == cl->conf->streams->nelts) {
        return 0;
    }

    entries = reply->element[1];

    for (i = 0; i < entries->elements; i++) {
        e = entries->element[i];

        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2
            || e->element[0]->type != REDIS_REPLY_STRING
            || e->element[0]->len == 0
            || e->element[0]->len >= NGX_HTTP_MALL_STREAM_ID_MAX)
        {
            continue;
        }

        id.data = (u_char *) e->element[0]->str;
        id.len = e->element[0]->len;

        f = e->element[1];
        nf = 0;

        if (f->type == REDIS_REPLY_ARRAY) {
            for (j = 0;
                 j + 1 < f->elements && nf < NGX_HTTP_MALL_STREAM_FIELDS;
                 j += 2)
            {
                if (f->element[j]->type != REDIS_REPLY_STRING
                    || f->element[j + 1]->type != REDIS_REPLY_STRING)
                {
                    continue;
                }

                fields[2 * nf].data = (u_char *) f->element[j]->str;
                fields[2 * nf].len = f->element[j]->len;
                fields[2 * nf + 1].data = (u_char *) f->element[j + 1]->str;
                fields[2 * nf + 1].len = f->element[j + 1]->len;
                nf++;
            }
        }

        s[k].handler(s[k].data, &id, fields, nf, cl->log);
        ngx_http_mall_metrics_stream(&s[k].key);

        ngx_memcpy(s[k].last_id, id.data, id.len);
        s[k].last_id_len = id.len;
    }

    if (entries->elements) {
        ngx_http_mall_redis_save_id(&s[k]);
    }

    return entries->elements >= cl->conf->count;
}


static void
ngx_http_mall_redis_save_id(ngx_http_mall_stream_t *s)
{
    u_char  key[NGX_HTTP_MALL_SHM_KEY_MAX];

    key[0] = 's';
    ngx_memcpy(key + 1, s->key.data, s->key.len);

    (void) ngx_http_mall_shm_set(s->zone, key, 1 + s->key.len, s->last_id,
                                 s->last_id_len, 0, ngx_http_mall_now_ms());
}




/* ------------------------------ client ----------------------------------- */


/*
 * Starts client cl in this process: the first tick connects. Before the
 * event loop runs, the owner may change the log wording (peer, outage,
 * detail), backoff_max and metrics.
 */

void
ngx_http_mall_redis_client_init(ngx_http_mall_redis_client_t *cl,
    ngx_cycle_t *cycle, ngx_http_mall_redis_conf_t *conf, const char *name,
    ngx_http_mall_redis_tick_pt tick, void *data)
{
    ngx_memzero(cl, sizeof(ngx_http_mall_redis_client_t));

    cl->conf = conf;
    cl->log = cycle->log;
    cl->tick = tick;
    cl->data = data;
    cl->name = name;
    cl->peer = "";
    cl->outage = "";
    cl->backoff = NGX_HTTP_MALL_REDIS_BACKOFF_MIN;
    cl->backoff_max = NGX_HTTP_MALL_REDIS_BACKOFF_MAX;
    cl->active = 1;

    ngx_cpystrn(cl->host, conf->host.data, NGX_HTTP_MALL_REDIS_HOST_MAX);
    cl->port = conf->port;
    cl->primary_known = conf->sentinels == NULL;

    cl->timer.handler = ngx_http_mall_redis_timer_handler;
    cl->timer.data = cl;
    cl->timer.log = cycle->log;
    cl->timer.cancelable = 1;

    cl->deadline.handler = ngx_http_mall_redis_deadline_handler;
    cl->deadline.data = cl;
    cl->deadline.log = cycle->log;
    cl->deadline.cancelable = 1;

    ngx_add_timer(&cl->timer, 1);
}


/*
 * Queues one command of the tick's batch; handler runs with its reply, or
 * with NULL when the context goes away first, and must then call
 * _client_reply(). NGX_ERROR if hiredis refused it (the context is being
 * torn down).
 */

ngx_int_t
ngx_http_mall_redis_client_command(ngx_http_mall_redis_client_t *cl,
    ngx_http_mall_redis_reply_pt handler, void *privdata, int argc,
    const char **argv, const size_t *argvlen)
{
    if (redisAsyncCommandArgv(cl->ac, handler, privdata, argc, argv, argvlen)
        != REDIS_OK)
    {
        return NGX_ERROR;
    }

    cl->pending++;

    return NGX_OK;
}


/*
 * One reply of the batch is in. NGX_DECLINED if it belongs to a context
 * already dropped, NGX_AGAIN while more are due, NGX_OK for the last one:
 * the deadline is cleared and the next tick comes after cl->next ms.
 */

ngx_int_t
ngx_http_mall_redis_client_reply(ngx_http_mall_redis_client_t *cl,
    redisAsyncContext *ac)
{
    if (cl->ac != ac || cl->pending == 0) {
        return NGX_DECLINED;
    }

    if (--cl->pending) {
        return NGX_AGAIN;
    }

    if (cl->deadline.timer_set) {
        ngx_del_timer(&cl->deadline);
    }

    if (!cl->exiting && !cl->timer.timer_set) {
        ngx_add_timer(&cl->timer, cl->next);
    }

    return NGX_OK;
}


/*
 * Drops the context, if any (replies still due run with NULL), and
 * schedules the next connection attempt with exponential backoff. The
 * outage is logged once, at error; later attempts only at debug level.
 */

void
ngx_http_mall_redis_client_fail(ngx_http_mall_redis_client_t *cl,
    const char *why)
{
    redisAsyncContext  *ac;

    ac = cl->ac;

    cl->ac = NULL;
    cl->connected = 0;

    if (ac) {
        redisAsyncFree(ac);
    }

    ngx_http_mall_redis_sentinel_drop(cl);

    cl->pending = 0;

    if (cl->conf->sentinels) {
        /* whatever failed, the primary may have moved: ask again soon */
        cl->primary_known = 0;
    }

    if (cl->exiting) {
        return;
    }

    if (cl->metrics) {
        ngx_http_mall_metrics_redis(0);
    }

    if (!cl->down_logged) {
        ngx_log_error(NGX_LOG_ERR, cl->log, 0,
                      "%s: %s%s:%i unavailable (%s), retrying; %s",
                      cl->name, cl->peer, cl->host, cl->port, why,
                      cl->outage);
        cl->down_logged = 1;

    } else {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, cl->log, 0,
                       "%s: still unavailable (%s)", cl->name, why);
    }

    if (cl->deadline.timer_set) {
        ngx_del_timer(&cl->deadline);
    }

    if (cl->timer.timer_set) {
        ngx_del_timer(&cl->timer);
    }

    ngx_add_timer(&cl->timer, cl->backoff);

    cl->backoff *= 2;

    if (cl->backoff > cl->backoff_max) {
        cl->backoff = cl->backoff_max;
    }

    if (cl->conf->sentinels && cl->backoff > 1000) {
        cl->backoff = 1000;
    }
}


/* Worker exit or reload: no more ticks; replies still due run with NULL. */

void
ngx_http_mall_redis_client_exit(ngx_http_mall_redis_client_t *cl)
{
    redisAsyncContext  *ac;

    if (!cl->active) {
        return;
    }

    cl->exiting = 1;

    if (cl->timer.timer_set) {
        ngx_del_timer(&cl->timer);
    }

    if (cl->deadline.timer_set) {
        ngx_del_timer(&cl->deadline);
    }

    ac = cl->ac;
    cl->ac = NULL;

    if (ac) {
        redisAsyncFree(ac);
    }

    ngx_http_mall_redis_sentinel_drop(cl);
}


static void
ngx_http_mall_redis_timer_handler(ngx_event_t *ev)
{
    ngx_http_mall_redis_client_t *cl = ev->data;

    if (cl->exiting || ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    if (cl->ac == NULL) {
        if (cl->sac == NULL) {
            ngx_http_mall_redis_connect(cl);
        }
        return;
    }

    if (!cl->connected || cl->pending) {
        return;
    }

    /* with Sentinels, a due ROLE check takes this tick */
    if (ngx_http_mall_redis_role_due(cl) != NGX_OK) {
        cl->tick(cl);
    }

    if (cl->pending) {
        ngx_add_timer(&cl->deadline, cl->conf->timeout);

    } else if (!cl->timer.timer_set) {
        ngx_add_timer(&cl->timer, cl->next);
    }
}


/* No connect or replies in time: drop the context and start again. */

static void
ngx_http_mall_redis_deadline_handler(ngx_event_t *ev)
{
    ngx_http_mall_redis_client_t *cl = ev->data;

    if (cl->ac || cl->sac) {
        ngx_http_mall_redis_client_fail(cl, "timed out");
    }
}


void
ngx_http_mall_redis_connect(ngx_http_mall_redis_client_t *cl)
{
    redisAsyncContext  *ac;

    if (!cl->primary_known) {
        ngx_http_mall_redis_sentinel_query(cl);
        return;
    }

    ac = redisAsyncConnect((char *) cl->host, (int) cl->port);

    if (ac == NULL) {
        ngx_http_mall_redis_client_fail(cl, "out of memory");
        return;
    }

    if (ac->err) {
        ngx_http_mall_redis_client_fail(cl, ac->errstr);
        redisAsyncFree(ac);
        return;
    }

    ac->data = cl;

    if (ngx_http_mall_redis_attach(ac, cl->log) != NGX_OK) {
        redisAsyncFree(ac);
        ngx_http_mall_redis_client_fail(cl, "no free connection");
        return;
    }

    cl->ac = ac;

    /* after the adapter: setting the callback arms the write event */
    redisAsyncSetConnectCallback(ac, ngx_http_mall_redis_connect_cb);
    redisAsyncSetDisconnectCallback(ac, ngx_http_mall_redis_disconnect_cb);

    ngx_add_timer(&cl->deadline, cl->conf->timeout);
}


static void
ngx_http_mall_redis_connect_cb(const redisAsyncContext *ac, int status)
{
    ngx_http_mall_redis_client_t *cl = ac->data;

    ngx_uint_t  level;

    if (cl->ac != ac) {
        return;
    }

    if (status != REDIS_OK) {
        /* hiredis frees the context after this callback */
        cl->ac = NULL;
        ngx_http_mall_redis_client_fail(cl, ac->errstr);
        return;
    }

    if (cl->deadline.timer_set) {
        ngx_del_timer(&cl->deadline);
    }

    cl->connected = 1;
    cl->backoff = NGX_HTTP_MALL_REDIS_BACKOFF_MIN;
    cl->role_at = 0;                      /* checked before the first tick */

    if (cl->metrics) {
        ngx_http_mall_metrics_redis(1);
    }

    level = cl->down_logged ? NGX_LOG_NOTICE : NGX_LOG_INFO;

    ngx_log_error(level, cl->log, 0, "%s: connected to %s:%i%V",
                  cl->name, cl->host, cl->port, &cl->detail);

    cl->down_logged = 0;

    if (cl->timer.timer_set) {
        ngx_del_timer(&cl->timer);
    }

    ngx_add_timer(&cl->timer, 1);
}


static void
ngx_http_mall_redis_disconnect_cb(const redisAsyncContext *ac, int status)
{
    ngx_http_mall_redis_client_t *cl = ac->data;

    if (cl->ac != ac) {
        /* freed by us (deadline, exit): already handled */
        return;
    }

    /* hiredis frees the context after this callback */
    cl->ac = NULL;

    ngx_http_mall_redis_client_fail(cl, status == REDIS_OK
                                        ? "connection closed" : ac->errstr);
}


/* ------------------------------ adapter ---------------------------------- */


/*
 * Binds hiredis async context rac to nginx's event loop. Returns NGX_ERROR
 * when no connection slot is free.
 */

ngx_int_t
ngx_http_mall_redis_attach(redisAsyncContext *rac, ngx_log_t *log)
{
    ngx_connection_t  *c;

    c = ngx_get_connection(rac->c.fd, log);
    if (c == NULL) {
        return NGX_ERROR;
    }

    c->data = rac;
    c->log = log;
    c->read->log = log;
    c->write->log = log;
    c->read->handler = ngx_http_mall_redis_read_handler;
    c->write->handler = ngx_http_mall_redis_write_handler;

    rac->ev.data = c;
    rac->ev.addRead = ngx_http_mall_redis_add_read;
    rac->ev.delRead = ngx_http_mall_redis_del_read;
    rac->ev.addWrite = ngx_http_mall_redis_add_write;
    rac->ev.delWrite = ngx_http_mall_redis_del_write;
    rac->ev.cleanup = ngx_http_mall_redis_cleanup;

    return NGX_OK;
}


static void
ngx_http_mall_redis_add_read(void *privdata)
{
    ngx_connection_t *c = privdata;

    if (!c->read->active) {
        (void) ngx_add_event(c->read, NGX_READ_EVENT, NGX_LEVEL_EVENT);
    }
}


static void
ngx_http_mall_redis_del_read(void *privdata)
{
    ngx_connection_t *c = privdata;

    if (c->read->active) {
        (void) ngx_del_event(c->read, NGX_READ_EVENT, 0);
    }
}


static void
ngx_http_mall_redis_add_write(void *privdata)
{
    ngx_connection_t *c = privdata;

    if (!c->write->active) {
        (void) ngx_add_event(c->write, NGX_WRITE_EVENT, NGX_LEVEL_EVENT);
    }
}


static void
ngx_http_mall_redis_del_write(void *privdata)
{
    ngx_connection_t *c = privdata;

    if (c->write->active) {
        (void) ngx_del_event(c->write, NGX_WRITE_EVENT, 0);
    }
}


/* hiredis is about to close the socket: forget the events and the slot. */

static void
ngx_http_mall_redis_cleanup(void *privdata)
{
    ngx_connection_t *c = privdata;

    ngx_http_mall_redis_del_read(c);
    ngx_http_mall_redis_del_write(c);

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    ngx_free_connection(c);

    c->fd = (ngx_socket_t) -1;
}


static void
ngx_http_mall_redis_read_handler(ngx_event_t *ev)
{
    ngx_connection_t *c = ev->data;

    redisAsyncHandleRead(c->data);
}


static void
ngx_http_mall_redis_write_handler(ngx_event_t *ev)
{
    ngx_connection_t *c = ev->data;

    redisAsyncHandleWrite(c->data);
}
