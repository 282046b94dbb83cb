/*
 * The worker admin listener (see mall_admin.h). /metrics renders from
 * shared memory on the loop; /status asks Redis (PING for the round trip,
 * ROLE) on a fiber, the way a request does, so the loop never blocks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "mall_admin.h"
#include "mall_fiber.h"
#include "mall_json.h"
#include "mall_log.h"
#include "mall_metrics.h"

#define ADMIN_MAX_INFLIGHT  8         /* scrapes at once per process */

struct mall_admin_s {
    struct evhttp                *http;
    struct evhttp_bound_socket   *bound;
    mall_redis_t                 *redis;
    const mall_route_t           *routes;
    size_t                        nroutes;
    int                           inflight;
    void                        (*idle)(void *arg);
    void                         *idle_arg;
};

typedef struct {
    mall_admin_t           *admin;
    struct evhttp_request  *req;
} admin_req_t;


static void
admin_send(struct evhttp_request *req, int status, const char *type,
    struct evbuffer *body)
{
    struct evkeyvalq  *out = evhttp_request_get_output_headers(req);

    evhttp_add_header(out, "Content-Type", type);
    evhttp_add_header(out, "Cache-Control", "no-store");
    evhttp_send_reply(req, status, status == 200 ? "OK"
                      : status == 404 ? "Not Found"
                      : status == 405 ? "Method Not Allowed"
                      : "Service Unavailable", body);
}


static void
admin_send_text(struct evhttp_request *req, int status, const char *text)
{
    struct evbuffer  *b = evbuffer_new();

    if (b != NULL) {
        evbuffer_add_printf(b, "%s\n", text);
    }
    admin_send(req, status, "text/plain; charset=utf-8", b);
    if (b != NULL) {
        evbuffer_free(b);
    }
}


static void
admin_metrics(mall_admin_t *a, struct evhttp_request *req)
{
    struct evbuffer  *b = evbuffer_new();

    if (b == NULL || mall_metrics_render(b, a->routes, a->nroutes)
                     != MALL_OK)
    {
        if (b != NULL) {
            evbuffer_free(b);
        }
        admin_send_text(req, 503, "metrics unavailable");
        return;
    }
    admin_send(req, 200, "text/plain; version=0.0.4; charset=utf-8", b);
    evbuffer_free(b);
}


static void
admin_child_cb(void *arg, pid_t pid, int in_flight, uint64_t requests)
{
    cJSON  *arr = arg, *o;

    o = cJSON_CreateObject();
    if (o == NULL || !cJSON_AddItemToArray(arr, o)) {
        cJSON_Delete(o);
        return;
    }
    mall_json_add_int(o, "pid", (int64_t) pid);
    mall_json_add_int(o, "in_flight", in_flight);
    mall_json_add_int(o, "requests_total", (int64_t) requests);
}


/* "redis": reachable, role (master / slave / ...), rtt_ms of a PING. */
static cJSON *
admin_redis(mall_admin_t *a)
{
    static const char  *role_argv[] = { "ROLE" };
    redisReply         *rep;
    mall_err_t          err;
    cJSON              *o;
    int64_t             t0;
    double              rtt;
    int                 ok;

    o = cJSON_CreateObject();
    if (o == NULL) {
        return NULL;
    }
    t0 = mall_mono_us();
    ok = mall_redis_ping(a->redis, &err) == MALL_OK;
    rtt = (double) (mall_mono_us() - t0) / 1000.0;
    cJSON_AddBoolToObject(o, "reachable", ok);
    if (!ok) {
        cJSON_AddNullToObject(o, "role");
        cJSON_AddNullToObject(o, "rtt_ms");
        return o;
    }
    if (mall_redis_command(a->redis, &rep, &err, 1, role_argv, NULL)
        == MALL_OK)
    {
        if (rep->type == REDIS_REPLY_ARRAY && rep->elements > 0
            && rep->element[0]->type == REDIS_REPLY_STRING)
        {
            cJSON_AddStringToObject(o, "role", rep->element[0]->str);
        } else {
            cJSON_AddNullToObject(o, "role");
        }
        freeReplyObject(rep);
    } else {
        cJSON_AddNullToObject(o, "role");
    }
    cJSON_AddNumberToObject(o, "rtt_ms", (double) ((int64_t) (rtt * 1000))
                                         / 1000.0);
    return o;
}


static void
admin_status_fiber(void *arg)
{
    admin_req_t          *ar = arg;
    mall_admin_t         *a = ar->admin;
    mall_metrics_info_t   info;
    struct evbuffer      *b;
    cJSON                *root, *conf, *children, *redis;
    char                 *text;

    mall_metrics_info(&info);
    root = cJSON_CreateObject();
    conf = cJSON_CreateObject();
    children = cJSON_CreateArray();
    text = NULL;
    if (root == NULL || conf == NULL || children == NULL) {
        cJSON_Delete(conf);
        cJSON_Delete(children);
        goto done;
    }
    mall_json_add_int(root, "pid", (int64_t) info.master);
    cJSON_AddStringToObject(root, "binary", info.binary);
    mall_json_add_int(root, "started_at", info.started_at);
    cJSON_AddStringToObject(conf, "path", info.conf_path);
    cJSON_AddStringToObject(conf, "sha256", info.conf_sha256);
    mall_json_add_int(conf, "loaded_at", info.conf_loaded_at);
    cJSON_AddItemToObject(root, "config", conf);
    mall_metrics_children(admin_child_cb, children);
    cJSON_AddItemToObject(root, "children", children);
    redis = admin_redis(a);
    if (redis != NULL) {
        cJSON_AddItemToObject(root, "redis", redis);
    }
    if (info.delay_lag_ms >= 0) {
        cJSON_AddNumberToObject(root, "delay_queue_lag_s",
                                (double) info.delay_lag_ms / 1000.0);
    } else {
        cJSON_AddNullToObject(root, "delay_queue_lag_s");
    }
    text = cJSON_PrintUnformatted(root);

done:
    b = text != NULL ? evbuffer_new() : NULL;
    if (b != NULL) {
        evbuffer_add_printf(b, "%s\n", text);
        admin_send(ar->req, 200, "application/json", b);
        evbuffer_free(b);
    } else {
        admin_send_text(ar->req, 503, "status unavailable");
    }
    cJSON_free(text);
    cJSON_Delete(root);
    free(ar);
    a->inflight--;
    if (a->idle != NULL) {
        a->idle(a->idle_arg);
    }
}


static void
admin_request_cb(struct evhttp_request *req, void *arg)
{
    mall_admin_t              *a = arg;
    const struct evhttp_uri   *uri;
    const char                *path;
    admin_req_t               *ar;

    uri = evhttp_request_get_evhttp_uri(req);
    path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
    if (path == NULL
        || (strcmp(path, "/metrics") != 0 && strcmp(path, "/status") != 0))
    {
        admin_send_text(req, 404, "admin endpoints: /metrics /status");
        return;
    }
    if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
                          "GET");
        admin_send_text(req, 405, "GET only");
        return;
    }
    if (path[1] == 'm') {
        admin_metrics(a, req);
        return;
    }

    ar = a->inflight < ADMIN_MAX_INFLIGHT ? calloc(1, sizeof(*ar)) : NULL;
    if (ar == NULL) {
        admin_send_text(req, 503, "busy");
        return;
    }
    ar->admin = a;
    ar->req = req;
    a->inflight++;
    if (mall_fiber_spawn(admin_status_fiber, ar) != MALL_OK) {
        a->inflight--;
        free(ar);
        admin_send_text(req, 503, "busy");
    }
}


mall_admin_t *
mall_admin_start(struct event_base *base, int fd, mall_redis_t *redis,
    const mall_route_t *routes, size_t nroutes, void (*idle)(void *arg),
    void *arg)
{
    mall_admin_t  *a;

    a = calloc(1, sizeof(*a));
    if (a == NULL) {
        return NULL;
    }
    a->redis = redis;
    a->routes = routes;
    a->nroutes = nroutes;
    a->idle = idle;
    a->idle_arg = arg;
    a->http = evhttp_new(base);
    if (a->http == NULL) {
        free(a);
        return NULL;
    }
    evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST
                               | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT
                               | EVHTTP_REQ_DELETE);
    evhttp_set_max_body_size(a->http, 4096);
    evhttp_set_timeout(a->http, 30);
    evhttp_set_gencb(a->http, admin_request_cb, a);
    a->bound = evhttp_accept_socket_with_handle(a->http, fd);
    if (a->bound == NULL) {
        mall_log(MALL_LOG_ERROR, "admin", "cannot accept on fd %d", fd);
        evhttp_free(a->http);
        free(a);
        return NULL;
    }
    return a;
}


void
mall_admin_close(mall_admin_t *a)
{
    if (a != NULL && a->bound != NULL) {
        /* this process's copy only; the others keep answering */
        evhttp_del_accept_socket(a->http, a->bound);
        a->bound = NULL;
    }
}


int
mall_admin_busy(const mall_admin_t *a)
{
    return a != NULL ? a->inflight : 0;
}


void
mall_admin_free(mall_admin_t *a)
{
    if (a == NULL) {
        return;
    }
    evhttp_free(a->http);
    free(a);
}
