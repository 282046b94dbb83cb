/*
 * Worker process: evhttp server loop (see mall_server.h).
 *
 * The evhttp callback does the cheap part on the loop's stack (request id,
 * load shedding) and spawns a fiber for the rest: routing, the edge
 * signature, the handler with its Redis round trips, the reply, the
 * access log. A request is in flight from the callback until its fiber
 * ends. If the client goes away meanwhile, libevent detaches the request
 * from its connection and keeps it until our reply frees it, so a fiber
 * never touches freed memory.
 *
 * Graceful stop closes this process's copy of the listen socket; from then
 * on every answer carries Connection: close. The edge may already be
 * sending a request on a kept-alive connection that looks idle, so the
 * process never closes one itself (that request would be lost: nginx does
 * not retry a POST): it keeps serving for keepalive_drain seconds, longer
 * than the edge's upstream keepalive_timeout, by which time the edge has
 * closed every idle connection, and leaves once no request is in flight.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "mall_b64.h"
#include "mall_crypto.h"
#include "mall_ctx.h"
#include "mall_edge.h"
#include "mall_edge_headers.h"
#include "mall_fiber.h"
#include "mall_http_client.h"
#include "mall_admin.h"
#include "mall_log.h"
#include "mall_metrics.h"
#include "mall_reply.h"
#include "mall_routes.h"
#include "mall_server.h"
#include "order_expiry.h"
#include "pay_jobs.h"
#include "stock_check.h"
#include "order_lifecycle.h"
#include "notify.h"
#include "risk_store.h"

#define SERVER_MAX_HEADERS_SIZE  (16 * 1024)
#define SERVER_IDLE_TIMEOUT      60        /* seconds, keep-alive idle */
#define SERVER_FIBERS_KEPT       64        /* idle fiber stacks cached */
#define SERVER_LOG_FLUSH_MS      100       /* buffered log lines, at most */

typedef struct mall_server_s {
    const mall_conf_t            *conf;
    struct event_base            *base;
    struct evhttp                *http;
    struct evhttp_bound_socket   *bound;
    mall_redis_t                  redis;
    const mall_route_t           *routes;
    size_t                        nroutes;
    int                           inflight;
    uint64_t                      shed;
    int                           stopping;
    int64_t                       drain_until_ms;  /* mall_mono_ms() */
    mall_admin_t                 *admin;         /* mall_admin.h */
    struct event                 *sig_events[3];
    struct event                 *reopen_event;  /* SIGUSR1 */
    struct event                 *stop_timer;
    struct event                 *drain_timer;
    order_expiry_t               *order_timer;   /* order_expiry.h */
    stock_check_job_t            *stock_timer;   /* stock_check.h */
    order_lifecycle_t            *life_timer;    /* order_lifecycle.h */
    pay_jobs_t                   *pay_timer;     /* pay_jobs.h */
    notify_job_t                 *notify_timer;  /* notify.h */
} mall_server_t;


static const char *
server_method_name(enum evhttp_cmd_type cmd)
{
    switch (cmd) {
    case EVHTTP_REQ_GET:     return "GET";
    case EVHTTP_REQ_POST:    return "POST";
    case EVHTTP_REQ_HEAD:    return "HEAD";
    case EVHTTP_REQ_PUT:     return "PUT";
    case EVHTTP_REQ_DELETE:  return "DELETE";
    case EVHTTP_REQ_OPTIONS: return "OPTIONS";
    case EVHTTP_REQ_TRACE:   return "TRACE";
    case EVHTTP_REQ_CONNECT: return "CONNECT";
    case EVHTTP_REQ_PATCH:   return "PATCH";
    }
    return "UNKNOWN";
}


/* Request ids from the edge are kept when short and plain; else new. */
static void
server_request_id(const char *edge_rid, char *out, size_t outsz)
{
    uint8_t  rnd[16];
    size_t   i, len;

    if (edge_rid != NULL) {
        len = strlen(edge_rid);
        if (len > 0 && len < outsz) {
            for (i = 0; i < len; i++) {
                char c = edge_rid[i];
                if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
                      || (c >= 'A' && c <= 'Z') || c == '-' || c == '_'
                      || c == '.' || c == ':'))
                {
                    break;
                }
            }
            if (i == len) {
                memcpy(out, edge_rid, len + 1);
                return;
            }
        }
    }

    if (mall_random(rnd, sizeof(rnd)) != 0) {
        memset(rnd, 0, sizeof(rnd));
    }
    mall_hex_encode(rnd, sizeof(rnd), out);
    out[32] = '\0';
}


/* set at a stop signal: answers from then on close their connection */
static int  server_stopping;


int
mall_server_stopping(void)
{
    return server_stopping;
}


static void
server_maybe_exit(mall_server_t *srv)
{
    struct timeval  flush = { 0, 200000 };   /* the last replies' writes */

    if (srv->stopping && srv->inflight == 0
        && mall_admin_busy(srv->admin) == 0
        && mall_mono_ms() >= srv->drain_until_ms)
    {
        event_base_loopexit(srv->base, &flush);
    }
}


/*
 * Edge signature check for one request; fills ctx->ident on success.
 * MALL_OK or MALL_ERR (err says why, for the log).
 */
static int
server_check_edge(mall_server_t *srv, mall_ctx_t *ctx,
    struct evkeyvalq *in, mall_err_t *err)
{
    mall_edge_input_t  e;

    e.method = ctx->method;
    e.uri = ctx->uri;
    mall_edge_headers(in, &e);
    e.body = ctx->body;
    e.body_len = ctx->body_len;

    return mall_edge_check(srv->conf, &e, time(NULL), &ctx->ident, err);
}


/* Routes, checks and dispatches one request; always sends one reply. */
static void
server_dispatch(mall_server_t *srv, mall_ctx_t *ctx, struct evkeyvalq *in)
{
    const struct evhttp_uri  *uri;
    struct evbuffer          *body;
    const char               *query;
    char                      allow[128];
    mall_route_rc_e           rrc;
    mall_err_t                err;
    int                       rc;

    uri = evhttp_request_get_evhttp_uri(ctx->req);
    ctx->path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
    if (ctx->path == NULL || ctx->path[0] != '/') {
        mall_reply_error(ctx, 400, "VALIDATION_FAILED",
                         "malformed request target");
        return;
    }

    body = evhttp_request_get_input_buffer(ctx->req);
    ctx->body_len = evbuffer_get_length(body);
    ctx->body = ctx->body_len > 0 ? evbuffer_pullup(body, -1) : NULL;

    rrc = mall_router_match(srv->routes, srv->nroutes, ctx->method,
                            ctx->path, &ctx->params, &ctx->route, allow,
                            sizeof(allow));

    if (rrc != MALL_ROUTE_FOUND
        || !(ctx->route->flags & MALL_ROUTE_NO_EDGE_SIG))
    {
        if (server_check_edge(srv, ctx, in, &err) != MALL_OK) {
            mall_log_req(MALL_LOG_WARN, "edge", ctx->request_id, "-",
                         "refused %s %s: %s", ctx->method, ctx->uri,
                         err.msg);
            mall_reply_error(ctx, 401, "UNAUTHORIZED",
                             "missing or invalid edge signature");
            return;
        }
    }

    if (rrc == MALL_ROUTE_NOT_FOUND) {
        mall_reply_error(ctx, 404, "NOT_FOUND", "no such endpoint");
        return;
    }
    if (rrc == MALL_ROUTE_METHOD_NOT_ALLOWED) {
        mall_reply_header(ctx, "Allow", allow);
        mall_reply_error(ctx, 405, "METHOD_NOT_ALLOWED",
                         "method %s not allowed here", ctx->method);
        return;
    }

    if (ctx->body_len > srv->conf->max_body_size) {
        mall_reply_error(ctx, 413, "PAYLOAD_TOO_LARGE",
                         "request body larger than %zu bytes",
                         srv->conf->max_body_size);
        return;
    }

    query = evhttp_uri_get_query(uri);
    if (mall_query_parse(query, query != NULL ? strlen(query) : 0,
                         &ctx->query, &err) != MALL_OK)
    {
        mall_reply_error(ctx, 400, "VALIDATION_FAILED", "%s", err.msg);
        return;
    }

    /* a frozen account's writes stop here (order creation checks in its
     * own read) */
    rc = risk_guard_write(ctx);
    if (rc == MALL_OK) {
        rc = ctx->route->handler(ctx);
    }

    if (ctx->replied) {
        return;
    }
    if (rc == MALL_RETRY) {
        mall_reply_header(ctx, "Retry-After", "1");
        mall_reply_error(ctx, 503, "UNAVAILABLE",
                         "storage temporarily unavailable, retry later");
        return;
    }
    mall_log_req(MALL_LOG_ERROR, "server", ctx->request_id, ctx->ident.user,
                 "handler for %s %s returned %d without a reply",
                 ctx->method, ctx->path, rc);
    mall_reply_error(ctx, 500, "INTERNAL", "internal error");
}


/* Answers at once, without a fiber or Redis: the process is full. */
static void
server_shed(mall_server_t *srv, struct evhttp_request *req,
    const char *request_id)
{
    static const char   fmt[] = "{\"error\":{\"code\":\"UNAVAILABLE\","
        "\"message\":\"worker at capacity, retry shortly\","
        "\"request_id\":\"%s\"}}";
    struct evkeyvalq   *out;
    struct evbuffer    *buf;
    mall_log_access_t   a;
    const struct evhttp_uri  *uri;

    srv->shed++;
    mall_metrics_shed();
    out = evhttp_request_get_output_headers(req);
    evhttp_add_header(out, "X-Request-Id", request_id);
    evhttp_add_header(out, "Content-Type", "application/json; charset=utf-8");
    evhttp_add_header(out, "Cache-Control", "no-store");
    evhttp_add_header(out, "Retry-After", "1");
    if (server_stopping) {
        evhttp_add_header(out, "Connection", "close");
    }
    buf = evbuffer_new();
    if (buf != NULL) {
        evbuffer_add_printf(buf, fmt, request_id);
    }
    evhttp_send_reply(req, 503, "Service Unavailable", buf);
    if (buf != NULL) {
        evbuffer_free(buf);
    }
    memset(&a, 0, sizeof(a));
    a.request_id = request_id;
    a.method = server_method_name(evhttp_request_get_command(req));
    uri = evhttp_request_get_evhttp_uri(req);
    a.path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
    a.path = a.path != NULL ? a.path : "-";
    a.status = 503;
    a.error_code = "UNAVAILABLE";         /* shed: never routed */
    mall_log_access(&a);
}


/* Metrics and the access line of a request that has been answered. */
static void
server_account(mall_server_t *srv, mall_ctx_t *ctx)
{
    mall_log_access_t  a;
    int64_t            us;
    char               path[256], *q;

    us = mall_mono_us() - ctx->start_us;
    mall_metrics_request(ctx->route != NULL ? (int) (ctx->route - srv->routes)
                                            : -1, ctx->status, us);
    if (ctx->route != NULL && (ctx->route->flags & MALL_ROUTE_ORDER_CREATE)) {
        if (ctx->status == 201) {
            mall_metrics_order_created();
        } else if (ctx->status >= 400) {
            mall_metrics_order_refused(ctx->error_code);
        }
    }

    /* the path only: a query string may carry codes or tokens */
    snprintf(path, sizeof(path), "%s", ctx->log_uri);
    q = strchr(path, '?');
    if (q != NULL) {
        *q = '\0';
    }
    memset(&a, 0, sizeof(a));
    a.request_id = ctx->request_id;
    a.user_id = ctx->ident.user;
    a.method = ctx->method;
    a.route = ctx->route != NULL ? ctx->route->pattern : "unmatched";
    a.path = path;
    a.status = ctx->status;
    a.latency_ms = (double) us / 1000.0;
    a.client_ip = ctx->ident.client_ip;
    a.risk = ctx->ident.risk;
    a.error_code = ctx->error_code;
    mall_log_access(&a);
}


/* The fiber of one request: dispatch, reply, metrics, access log. */
static void
server_request_fiber(void *arg)
{
    mall_ctx_t     *ctx = arg;
    mall_server_t  *srv = ctx->server;

    server_dispatch(srv, ctx, evhttp_request_get_input_headers(ctx->req));
    server_account(srv, ctx);
    free(ctx);
    srv->inflight--;
    mall_metrics_inflight(srv->inflight);
    server_maybe_exit(srv);
}


static void
server_request_cb(struct evhttp_request *req, void *arg)
{
    mall_server_t      *srv = arg;
    struct evkeyvalq   *in;
    mall_ctx_t         *ctx;
    char                rid[MALL_REQUEST_ID_MAX];

    in = evhttp_request_get_input_headers(req);
    server_request_id(evhttp_find_header(in, "X-Request-Id"), rid,
                      sizeof(rid));

    if (srv->inflight >= srv->conf->max_inflight
        || (ctx = calloc(1, sizeof(*ctx))) == NULL)
    {
        server_shed(srv, req, rid);
        return;
    }

    ctx->start_us = mall_mono_us();
    ctx->req = req;
    ctx->server = srv;
    ctx->conf = srv->conf;
    ctx->redis = &srv->redis;
    ctx->method = server_method_name(evhttp_request_get_command(req));
    ctx->uri = evhttp_request_get_uri(req);
    snprintf(ctx->log_uri, sizeof(ctx->log_uri), "%s", ctx->uri);
    memcpy(ctx->request_id, rid, sizeof(rid));
    mall_reply_header(ctx, "X-Request-Id", ctx->request_id);

    srv->inflight++;
    mall_metrics_inflight(srv->inflight);
    if (mall_fiber_spawn(server_request_fiber, ctx) != MALL_OK) {
        srv->inflight--;
        mall_metrics_inflight(srv->inflight);
        free(ctx);
        server_shed(srv, req, rid);
    }
}


static void
server_stop_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    mall_server_t  *srv = arg;

    (void) fd;
    (void) what;
    mall_log(MALL_LOG_WARN, "server", "drain timeout with %d request(s) "
             "in flight, exiting", srv->inflight);
    event_base_loopexit(srv->base, NULL);
}


/* The keep-alive drain is over: leave once nothing is in flight. */
static void
server_drain_done_cb(evutil_socket_t fd, short what, void *arg)
{
    (void) fd;
    (void) what;
    server_maybe_exit(arg);
}


/* SIGTERM, SIGINT, SIGQUIT: stop accepting, drain, exit. */
static void
server_signal_cb(evutil_socket_t sig, short what, void *arg)
{
    mall_server_t   *srv = arg;
    struct timeval   tv;
    int              drain;

    (void) what;
    if (srv->stopping) {
        return;
    }
    srv->stopping = 1;
    server_stopping = 1;
    /* within the stop deadline below, which the master enforces */
    drain = srv->conf->keepalive_drain;
    if (drain > srv->conf->shutdown_timeout - 1) {
        drain = srv->conf->shutdown_timeout > 1
                ? srv->conf->shutdown_timeout - 1 : 0;
    }
    srv->drain_until_ms = mall_mono_ms() + (int64_t) drain * 1000;
    tv.tv_sec = drain;
    tv.tv_usec = 0;
    srv->drain_timer = evtimer_new(srv->base, server_drain_done_cb, srv);
    if (srv->drain_timer == NULL || evtimer_add(srv->drain_timer, &tv) != 0) {
        srv->drain_until_ms = 0;           /* no timer: do not wait for it */
    }
    mall_log(MALL_LOG_NOTICE, "server", "signal %d: stopping gracefully, "
             "%d request(s) in flight", (int) sig, srv->inflight);

    if (srv->bound != NULL) {
        /* closes this child's copy only; siblings keep accepting */
        evhttp_del_accept_socket(srv->http, srv->bound);
        srv->bound = NULL;
    }
    mall_admin_close(srv->admin);

    /* the master kills us at shutdown_timeout; leave a little earlier */
    tv.tv_sec = srv->conf->shutdown_timeout > 1
                ? srv->conf->shutdown_timeout - 1 : 0;
    tv.tv_usec = 500000;
    srv->stop_timer = evtimer_new(srv->base, server_stop_timeout_cb, srv);
    if (srv->stop_timer != NULL) {
        evtimer_add(srv->stop_timer, &tv);
    }

    server_maybe_exit(srv);
}


/* SIGUSR1: the log file is opened again (rotation). */
static void
server_reopen_cb(evutil_socket_t sig, short what, void *arg)
{
    mall_err_t  err;

    (void) sig;
    (void) what;
    (void) arg;
    if (mall_log_reopen(&err) != MALL_OK) {
        mall_log(MALL_LOG_ERROR, "server", "log reopen: %s", err.msg);
        return;
    }
    mall_log(MALL_LOG_NOTICE, "server", "log file reopened");
}


/* The admin side ended a request: maybe the drain is complete. */
static void
server_admin_idle(void *arg)
{
    server_maybe_exit(arg);
}


/*
 * The event loop. With epoll, changes of interest (a Redis connection's
 * write event comes and goes with every batch) are queued and applied in
 * one go before each epoll_wait instead of one epoll_ctl call apiece.
 */
static struct event_base *
server_base_new(void)
{
    struct event_config  *cfg;
    struct event_base    *base;

    cfg = event_config_new();
    if (cfg == NULL) {
        return NULL;
    }
    event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    return base;
}


int
mall_server_run(const mall_conf_t *conf, int listen_fd, int admin_fd)
{
    static const int  sigs[3] = { SIGTERM, SIGINT, SIGQUIT };
    mall_server_t     srv;
    size_t            i;
    int               rc;

    memset(&srv, 0, sizeof(srv));
    srv.conf = conf;
    rc = EX_SOFTWARE;

    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN);

    srv.routes = mall_routes_all(&srv.nroutes);
    if (srv.routes == NULL) {
        mall_log(MALL_LOG_ERROR, "server", "out of memory for routes");
        goto done;
    }
    if (srv.nroutes >= MALL_METRICS_ROUTES) {
        /* the metrics count routes past the table as "unmatched" */
        mall_log(MALL_LOG_WARN, "server", "%zu routes: raise "
                 "MALL_METRICS_ROUTES", srv.nroutes);
    }

    srv.base = server_base_new();
    if (srv.base == NULL) {
        mall_log(MALL_LOG_ERROR, "server", "event_base_new failed");
        goto done;
    }

    srv.http = evhttp_new(srv.base);
    if (srv.http == NULL) {
        mall_log(MALL_LOG_ERROR, "server", "evhttp_new failed");
        goto done;
    }

    evhttp_set_allowed_methods(srv.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST
                               | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT
                               | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS
                               | EVHTTP_REQ_PATCH);
    /* evhttp answers oversized bodies itself (HTML); keep its limit well
     * above ours so clients normally get our JSON 413 */
    evhttp_set_max_body_size(srv.http,
                             (ev_ssize_t) conf->max_body_size * 2 + 65536);
    evhttp_set_max_headers_size(srv.http, SERVER_MAX_HEADERS_SIZE);
    evhttp_set_timeout(srv.http, SERVER_IDLE_TIMEOUT);
    evhttp_set_gencb(srv.http, server_request_cb, &srv);

    srv.bound = evhttp_accept_socket_with_handle(srv.http, listen_fd);
    if (srv.bound == NULL) {
        mall_log(MALL_LOG_ERROR, "server", "cannot accept on fd %d",
                 listen_fd);
        goto done;
    }

    for (i = 0; i < MALL_ARRAY_LEN(sigs); i++) {
        srv.sig_events[i] = evsignal_new(srv.base, sigs[i], server_signal_cb,
                                         &srv);
        if (srv.sig_events[i] == NULL
            || evsignal_add(srv.sig_events[i], NULL) != 0)
        {
            mall_log(MALL_LOG_ERROR, "server", "cannot watch signal %d",
                     sigs[i]);
            goto done;
        }
    }

    srv.reopen_event = evsignal_new(srv.base, SIGUSR1, server_reopen_cb,
                                    &srv);
    if (srv.reopen_event == NULL
        || evsignal_add(srv.reopen_event, NULL) != 0)
    {
        mall_log(MALL_LOG_ERROR, "server", "cannot watch SIGUSR1");
        goto done;
    }

    if (mall_fiber_init(srv.base, (size_t) conf->fiber_stack_kb * 1024,
                        SERVER_FIBERS_KEPT) != MALL_OK
        || mall_http_client_init(srv.base) != MALL_OK
        || mall_log_buffer(srv.base, SERVER_LOG_FLUSH_MS) != MALL_OK)
    {
        mall_log(MALL_LOG_ERROR, "server", "cannot set up fibers or the "
                 "http client");
        goto done;
    }

    /* a Redis that is down is not fatal: requests get 503 until it is back */
    mall_redis_init(&srv.redis, conf->redis_host, conf->redis_port,
                    conf->redis_timeout_ms);
    mall_redis_set_ha(&srv.redis, &conf->redis_ha);
    if (mall_redis_attach(&srv.redis, srv.base, conf->redis_connections,
                          conf->redis_txn_connections)
        != MALL_OK)
    {
        mall_log(MALL_LOG_ERROR, "server", "cannot set up the redis client");
        goto done;
    }

    if (admin_fd != -1) {
        srv.admin = mall_admin_start(srv.base, admin_fd, &srv.redis,
                                     srv.routes, srv.nroutes,
                                     server_admin_idle, &srv);
        if (srv.admin == NULL) {
            mall_log(MALL_LOG_ERROR, "server", "cannot serve the admin "
                     "listener");
            goto done;
        }
    }

    /* unpaid-order expiry and reservation repair, in every child */
    srv.order_timer = order_expiry_start(srv.base, conf, &srv.redis);
    srv.pay_timer = pay_jobs_start(srv.base, conf, &srv.redis);
    srv.stock_timer = stock_check_start(srv.base, conf, &srv.redis);
    srv.life_timer = order_lifecycle_start(srv.base, conf, &srv.redis);
    srv.notify_timer = notify_job_start(srv.base, conf, &srv.redis);

    mall_log(MALL_LOG_INFO, "server", "accepting on %s:%d (%zu routes, up "
             "to %d requests in flight)", conf->listen_host,
             conf->listen_port, srv.nroutes, conf->max_inflight);

    mall_metrics_child_ready();
    if (event_base_dispatch(srv.base) == -1) {
        mall_log(MALL_LOG_ERROR, "server", "event loop failed");
        goto done;
    }

    mall_log(MALL_LOG_NOTICE, "server", "stopped");
    rc = 0;

done:
    mall_log_unbuffer();
    order_expiry_stop(srv.order_timer);
    pay_jobs_stop(srv.pay_timer);
    stock_check_stop(srv.stock_timer);
    order_lifecycle_stop(srv.life_timer);
    notify_job_stop(srv.notify_timer);
    mall_redis_close(&srv.redis);
    mall_http_client_shutdown();
    mall_admin_free(srv.admin);
    if (srv.reopen_event != NULL) {
        event_free(srv.reopen_event);
    }
    for (i = 0; i < MALL_ARRAY_LEN(sigs); i++) {
        if (srv.sig_events[i] != NULL) {
            event_free(srv.sig_events[i]);
        }
    }
    if (srv.stop_timer != NULL) {
        event_free(srv.stop_timer);
    }
    if (srv.drain_timer != NULL) {
        event_free(srv.drain_timer);
    }
    if (srv.http != NULL) {
        evhttp_free(srv.http);
    }
    if (srv.base != NULL) {
        event_base_free(srv.base);
    }
    return rc;
}
