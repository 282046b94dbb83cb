/*
 * Worker child: evhttp server loop (see mall_server.h).
 *
 * Handlers run synchronously inside the evhttp callback (Redis is
 * blocking), so a request is "in flight" from the callback until evhttp has
 * written the whole response (the on-complete callback). Graceful stop
 * closes this child's copy of the listen socket and leaves the loop when
 * nothing is in flight.
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
#include "mall_log.h"
#include "mall_reply.h"
#include "mall_routes.h"
#include "mall_server.h"
#include "order_expiry.h"

#define SERVER_MAX_HEADERS_SIZE  (16 * 1024)
#define SERVER_IDLE_TIMEOUT      60        /* seconds, keep-alive idle */

typedef struct {
    const mall_conf_t            *conf;
    struct event_base            *base;
    struct evhttp                *http;
    struct evhttp_bound_socket   *bound;
    mall_redis_t                  redis;
    const mall_route_t           *routes;
    size_t                        nroutes;
    int                           inflight;
    int                           stopping;
    struct event                 *sig_events[3];
    struct event                 *stop_timer;
    order_expiry_t               *order_timer;   /* order_expiry.h */
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


static double
server_now_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
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


static void
server_maybe_exit(mall_server_t *srv)
{
    if (srv->stopping && srv->inflight == 0) {
        event_base_loopexit(srv->base, NULL);
    }
}


static void
server_request_done(struct evhttp_request *req, void *arg)
{
    mall_server_t  *srv = arg;

    (void) req;
    srv->inflight--;
    server_maybe_exit(srv);
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
    e.request_id = evhttp_find_header(in, "X-Request-Id");
    e.client_ip = evhttp_find_header(in, "X-Mall-Client-Ip");
    e.user = evhttp_find_header(in, "X-Mall-User");
    e.role = evhttp_find_header(in, "X-Mall-Role");
    e.token_id = evhttp_find_header(in, "X-Mall-Token-Id");
    e.token_exp = evhttp_find_header(in, "X-Mall-Token-Exp");
    e.ts = evhttp_find_header(in, "X-Mall-Edge-Ts");
    e.kid = evhttp_find_header(in, "X-Mall-Edge-Kid");
    e.signature = evhttp_find_header(in, "X-Mall-Edge-Signature");
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

    rc = ctx->route->handler(ctx);

    if (ctx->replied) {
        return;
    }
    if (rc == MALL_RETRY) {
        mall_reply_error(ctx, 503, "UNAVAILABLE",
                         "storage temporarily unavailable, retry later");
        return;
    }
    mall_log_req(MALL_LOG_ERROR, "server", ctx->request_id, ctx->ident.user,
                 "handler for %s %s returned %d without a reply",
                 ctx->method, ctx->path, rc);
    mall_reply_error(ctx, 500, "INTERNAL", "internal error");
}


static void
server_request_cb(struct evhttp_request *req, void *arg)
{
    mall_server_t      *srv = arg;
    struct evkeyvalq   *in;
    mall_ctx_t         *ctx;
    static mall_ctx_t   ctx_storage;   /* one request at a time per child */
    double              t0;

    t0 = server_now_ms();
    srv->inflight++;
    evhttp_request_set_on_complete_cb(req, server_request_done, srv);

    ctx = &ctx_storage;
    memset(ctx, 0, sizeof(*ctx));
    ctx->req = req;
    ctx->conf = srv->conf;
    ctx->redis = &srv->redis;
    ctx->method = server_method_name(evhttp_request_get_command(req));
    ctx->uri = evhttp_request_get_uri(req);

    in = evhttp_request_get_input_headers(req);
    server_request_id(evhttp_find_header(in, "X-Request-Id"),
                      ctx->request_id, sizeof(ctx->request_id));

    mall_reply_header(ctx, "X-Request-Id", ctx->request_id);
    if (srv->stopping) {
        mall_reply_header(ctx, "Connection", "close");
    }

    server_dispatch(srv, ctx, in);

    mall_log_req(MALL_LOG_INFO, "access", ctx->request_id, ctx->ident.user,
                 "%s %s %d %.3fms ip=%s", ctx->method, ctx->uri,
                 ctx->status, server_now_ms() - t0,
                 ctx->ident.client_ip[0] ? ctx->ident.client_ip : "-");
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


/* SIGTERM, SIGINT, SIGQUIT: stop accepting, drain, exit. */
static void
server_signal_cb(evutil_socket_t sig, short what, void *arg)
{
    mall_server_t   *srv = arg;
    struct timeval   tv;

    (void) what;
    if (srv->stopping) {
        return;
    }
    srv->stopping = 1;
    mall_log(MALL_LOG_NOTICE, "server", "signal %d: stopping gracefully, "
             "%d request(s) in flight", (int) sig, srv->inflight);

    if (srv->bound != NULL) {
        /* closes this child's copy only; siblings keep accepting */
        evhttp_del_accept_socket(srv->http, srv->bound);
        srv->bound = NULL;
    }

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


int
mall_server_run(const mall_conf_t *conf, int listen_fd)
{
    static const int  sigs[3] = { SIGTERM, SIGINT, SIGQUIT };
    mall_server_t     srv;
    mall_err_t        err;
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

    srv.base = event_base_new();
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

    mall_redis_init(&srv.redis, conf->redis_host, conf->redis_port,
                    conf->redis_timeout_ms);
    if (mall_redis_connect(&srv.redis, &err) != MALL_OK) {
        /* not fatal: requests get 503 until Redis comes back */
        mall_log(MALL_LOG_WARN, "server", "starting without redis: %s",
                 err.msg);
    }

    /* unpaid-order expiry and reservation repair, in every child */
    srv.order_timer = order_expiry_start(srv.base, conf, &srv.redis);

    mall_log(MALL_LOG_INFO, "server", "accepting on %s:%d (%zu routes)",
             conf->listen_host, conf->listen_port, srv.nroutes);

    if (event_base_dispatch(srv.base) == -1) {
        mall_log(MALL_LOG_ERROR, "server", "event loop failed");
        goto done;
    }

    mall_log(MALL_LOG_NOTICE, "server", "stopped");
    rc = 0;

done:
    order_expiry_stop(srv.order_timer);
    mall_redis_close(&srv.redis);
    for (i = 0; i < MALL_ARRAY_LEN(sigs); i++) {
        if (srv.sig_events[i] != NULL) {
            event_free(srv.sig_events[i]);
        }
    }
    if (srv.stop_timer != NULL) {
        event_free(srv.stop_timer);
    }
    if (srv.http != NULL) {
        evhttp_free(srv.http);
    }
    if (srv.base != NULL) {
        event_base_free(srv.base);
    }
    return rc;
}
