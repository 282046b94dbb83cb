
/*
 * Redis stream followers: see ngx_http_mall_redis.h.
 *
 * The hiredis async context is bound to nginx's event loop by an adapter
 * (the shape of hiredis's adapters/libevent.h): its socket is wrapped in an
 * ngx_connection_t and hiredis switches read/write interest through
 * addRead/delRead/addWrite/delWrite, level-triggered. hiredis 0.14 has no
 * async timeouts, so nginx timers bound the connect and every reply. All
 * state is per process: only worker 0 runs this.
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


typedef struct {
    redisAsyncContext             *ac;
    ngx_http_mall_redis_conf_t    *conf;
    ngx_log_t                     *log;
    ngx_event_t                    timer;     /* next poll or reconnect */
    ngx_event_t                    deadline;  /* connect or reply timeout */
    ngx_msec_t                     backoff;   /* ms */

    unsigned                       active:1;
    unsigned                       connected:1;
    unsigned                       in_flight:1;
    unsigned                       down_logged:1;
    unsigned                       exiting:1;
} ngx_http_mall_redis_t;


static void ngx_http_mall_redis_timer_handler(ngx_event_t *ev);
static void ngx_http_mall_redis_deadline_handler(ngx_event_t *ev);
static void ngx_http_mall_redis_connect(ngx_http_mall_redis_t *st);
static void ngx_http_mall_redis_retry(ngx_http_mall_redis_t *st,
    const char *why);
static void ngx_http_mall_redis_connect_cb(const redisAsyncContext *ac,
    int status);
static void ngx_http_mall_redis_disconnect_cb(const redisAsyncContext *ac,
    int status);
static void ngx_http_mall_redis_xread(ngx_http_mall_redis_t *st);
static void ngx_http_mall_redis_reply_cb(redisAsyncContext *ac, void *r,
    void *privdata);
static ngx_uint_t ngx_http_mall_redis_stream(ngx_http_mall_redis_t *st,
    redisReply *reply);
static void ngx_http_mall_redis_save_id(ngx_http_mall_stream_t *s);

static void ngx_http_mall_redis_add_read(void *privdata);
static void ngx_http_mall_redis_del_read(void *privdata);
static void ngx_http_mall_redis_add_write(void *privdata);
static void ngx_http_mall_redis_del_write(void *privdata);
static void ngx_http_mall_redis_cleanup(void *privdata);
static void ngx_http_mall_redis_read_handler(ngx_event_t *ev);
static void ngx_http_mall_redis_write_handler(ngx_event_t *ev);


static ngx_http_mall_redis_t  ngx_http_mall_redis_state;


/* ------------------------------ configuration ---------------------------- */


/* mall_redis <host>:<port> [interval=500ms] [timeout=3s] [count=512] */

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
    u_char                   key[NGX_HTTP_MALL_SHM_KEY_MAX];
    size_t                   len;
    ngx_uint_t               i;
    ngx_http_mall_stream_t  *s;
    ngx_http_mall_redis_t   *st;

    if (rcf->port == 0 || rcf->streams == NULL || rcf->streams->nelts == 0) {
        return NGX_OK;
    }

    st = &ngx_http_mall_redis_state;

    ngx_memzero(st, sizeof(ngx_http_mall_redis_t));

    st->conf = rcf;
    st->log = cycle->log;
    st->backoff = NGX_HTTP_MALL_REDIS_BACKOFF_MIN;
    st->active = 1;

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

    st->timer.handler = ngx_http_mall_redis_timer_handler;
    st->timer.data = st;
    st->timer.log = cycle->log;
    st->timer.cancelable = 1;

    st->deadline.handler = ngx_http_mall_redis_deadline_handler;
    st->deadline.data = st;
    st->deadline.log = cycle->log;
    st->deadline.cancelable = 1;

    ngx_add_timer(&st->timer, 1);

    return NGX_OK;
}


void
ngx_http_mall_redis_exit_process(ngx_cycle_t *cycle)
{
    redisAsyncContext      *ac;
    ngx_http_mall_redis_t  *st;

    st = &ngx_http_mall_redis_state;

    if (!st->active) {
        return;
    }

    st->exiting = 1;

    if (st->timer.timer_set) {
        ngx_del_timer(&st->timer);
    }

    if (st->deadline.timer_set) {
        ngx_del_timer(&st->deadline);
    }

    ac = st->ac;
    st->ac = NULL;

    if (ac) {
        redisAsyncFree(ac);
    }
}


/* ------------------------------ state machine ---------------------------- */


static void
ngx_http_mall_redis_timer_handler(ngx_event_t *ev)
{
    ngx_http_mall_redis_t *st = ev->data;

    if (st->exiting || ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    if (st->ac == NULL) {
        ngx_http_mall_redis_connect(st);
        return;
    }

    if (st->connected && !st->in_flight) {
        ngx_http_mall_redis_xread(st);
    }
}


/* No connect or reply in time: drop the context and start again. */

static void
ngx_http_mall_redis_deadline_handler(ngx_event_t *ev)
{
    ngx_http_mall_redis_t *st = ev->data;

    redisAsyncContext  *ac;

    ac = st->ac;

    if (ac == NULL) {
        return;
    }

    st->ac = NULL;
    st->connected = 0;
    st->in_flight = 0;

    /* runs pending callbacks with a NULL reply, then the cleanup */
    redisAsyncFree(ac);

    ngx_http_mall_redis_retry(st, "timed out");
}


static void
ngx_http_mall_redis_connect(ngx_http_mall_redis_t *st)
{
    redisAsyncContext  *ac;

    ac = redisAsyncConnect((char *) st->conf->host.data, (int) st->conf->port);

    if (ac == NULL) {
        ngx_http_mall_redis_retry(st, "out of memory");
        return;
    }

    if (ac->err) {
        ngx_http_mall_redis_retry(st, ac->errstr);
        redisAsyncFree(ac);
        return;
    }

    ac->data = st;

    if (ngx_http_mall_redis_attach(ac, st->log) != NGX_OK) {
        redisAsyncFree(ac);
        ngx_http_mall_redis_retry(st, "no free connection");
        return;
    }

    st->ac = ac;

    /* after the adapter: setting the callback arms the write event */
    redisAsyncSetConnectCallback(ac, ngx_http_mall_redis_connect_cb);
    redisAsyncSetDisconnectCallback(ac, ngx_http_mall_redis_disconnect_cb);

    ngx_add_timer(&st->deadline, st->conf->timeout);
}


/*
 * Schedules the next connection attempt with exponential backoff. The
 * outage is logged once, at error; later attempts only at debug level.
 */

static void
ngx_http_mall_redis_retry(ngx_http_mall_redis_t *st, const char *why)
{
    if (st->exiting) {
        return;
    }

    ngx_http_mall_metrics_redis(0);

    if (!st->down_logged) {
        ngx_log_error(NGX_LOG_ERR, st->log, 0,
                      "mall_redis: %s:%i unavailable (%s), retrying; "
                      "revocations already loaded stay in force",
                      st->conf->host.data, st->conf->port, why);
        st->down_logged = 1;

    } else {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, st->log, 0,
                       "mall_redis: still unavailable (%s)", why);
    }

    if (st->deadline.timer_set) {
        ngx_del_timer(&st->deadline);
    }

    ngx_add_timer(&st->timer, st->backoff);

    st->backoff *= 2;

    if (st->backoff > NGX_HTTP_MALL_REDIS_BACKOFF_MAX) {
        st->backoff = NGX_HTTP_MALL_REDIS_BACKOFF_MAX;
    }
}


static void
ngx_http_mall_redis_connect_cb(const redisAsyncContext *ac, int status)
{
    ngx_http_mall_redis_t *st = ac->data;

    ngx_uint_t  level;

    if (st->ac != ac) {
        return;
    }

    if (status != REDIS_OK) {
        /* hiredis frees the context after this callback */
        st->ac = NULL;
        ngx_http_mall_redis_retry(st, ac->errstr);
        return;
    }

    if (st->deadline.timer_set) {
        ngx_del_timer(&st->deadline);
    }

    st->connected = 1;
    st->backoff = NGX_HTTP_MALL_REDIS_BACKOFF_MIN;

    ngx_http_mall_metrics_redis(1);

    level = st->down_logged ? NGX_LOG_NOTICE : NGX_LOG_INFO;

    ngx_log_error(level, st->log, 0, "mall_redis: connected to %s:%i",
                  st->conf->host.data, st->conf->port);

    st->down_logged = 0;

    ngx_add_timer(&st->timer, 1);
}


static void
ngx_http_mall_redis_disconnect_cb(const redisAsyncContext *ac, int status)
{
    ngx_http_mall_redis_t *st = ac->data;

    if (st->ac != ac) {
        /* freed by us (deadline, exit): already handled */
        return;
    }

    st->ac = NULL;
    st->connected = 0;
    st->in_flight = 0;

    ngx_http_mall_redis_retry(st, status == REDIS_OK ? "connection closed"
                                                     : ac->errstr);
}


/* One XREAD for all followed streams; at most one command in flight. */

static void
ngx_http_mall_redis_xread(ngx_http_mall_redis_t *st)
{
    int                      argc;
    u_char                   count[NGX_INT_T_LEN];
    size_t                   argvlen[4 + 2 * NGX_HTTP_MALL_REDIS_MAX_STREAMS];
    ngx_uint_t               i, n;
    const char              *argv[4 + 2 * NGX_HTTP_MALL_REDIS_MAX_STREAMS];
    ngx_http_mall_stream_t  *s;

    s = st->conf->streams->elts;
    n = st->conf->streams->nelts;

    argv[0] = "XREAD";
    argvlen[0] = 5;
    argv[1] = "COUNT";
    argvlen[1] = 5;
    argv[2] = (const char *) count;
    argvlen[2] = ngx_sprintf(count, "%ui", st->conf->count) - count;
    argv[3] = "STREAMS";
    argvlen[3] = 7;

    for (i = 0; i < n; i++) {
        argv[4 + i] = (const char *) s[i].key.data;
        argvlen[4 + i] = s[i].key.len;
        argv[4 + n + i] = (const char *) s[i].last_id;
        argvlen[4 + n + i] = s[i].last_id_len;
    }

    argc = (int) (4 + 2 * n);

    if (redisAsyncCommandArgv(st->ac, ngx_http_mall_redis_reply_cb, NULL,
                              argc, argv, argvlen)
        != REDIS_OK)
    {
        /* the context is being torn down; its callbacks reconnect */
        return;
    }

    st->in_flight = 1;
    ngx_add_timer(&st->deadline, st->conf->timeout);
}


static void
ngx_http_mall_redis_reply_cb(redisAsyncContext *ac, void *r, void *privdata)
{
    redisReply *reply = r;

    ngx_uint_t              i, full;
    ngx_http_mall_redis_t  *st;

    st = ac->data;

    if (st->ac != ac) {
        return;
    }

    st->in_flight = 0;

    if (st->deadline.timer_set) {
        ngx_del_timer(&st->deadline);
    }

    if (reply == NULL) {
        /* the connection is going away: the disconnect callback retries */
        return;
    }

    full = 0;

    if (reply->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_ERR, st->log, 0,
                      "mall_redis: XREAD failed: %*s",
                      (size_t) reply->len, reply->str);

    } else if (reply->type == REDIS_REPLY_ARRAY) {

        for (i = 0; i < reply->elements; i++) {
            full |= ngx_http_mall_redis_stream(st, reply->element[i]);
        }
    }

    /* a full batch means more may be waiting: read again right away */

    if (!st->exiting) {
        ngx_add_timer(&st->timer, full ? 1 : st->conf->interval);
    }
}


/*
 * Applies one stream's entries ([key, [[id, [f, v, ...]], ...]]) to its
 * follower and records the last id. Returns 1 if the batch was full.
 */

static ngx_uint_t
ngx_http_mall_redis_stream(ngx_http_mall_redis_t *st, redisReply *reply)
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

    s = st->conf->streams->elts;

    for (k = 0; k < st->conf->streams->nelts; k++) {
        if (s[k].key.len == (size_t) reply->element[0]->len
            && ngx_memcmp(s[k].key.data, reply->element[0]->str,
                          s[k].key.len) == 0)
        {
            break;
        }
    }

    if (k == st->conf->streams->nelts) {
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

        s[k].handler(s[k].data, &id, fields, nf, st->log);
        ngx_http_mall_metrics_stream(&s[k].key);

        ngx_memcpy(s[k].last_id, id.data, id.len);
        s[k].last_id_len = id.len;
    }

    if (entries->elements) {
        ngx_http_mall_redis_save_id(&s[k]);
    }

    return entries->elements >= st->conf->count;
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


/* ------------------------------ adapter ---------------------------------- */


/*
 * Binds hiredis async context ac to nginx's event loop (also used by the
 * limit syncer, ngx_http_mall_limit_sync.c, for its own context). Returns
 * NGX_ERROR when no connection slot is free.
 */

ngx_int_t
ngx_http_mall_redis_attach(void *ac, ngx_log_t *log)
{
    redisAsyncContext  *rac = ac;
    ngx_connection_t   *c;

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
