/*
 * The request context a handler receives. It carries everything a handler
 * may use; handlers never see sockets or processes. It lives on the heap
 * for the life of the request's fiber; a handler's own state lives on the
 * fiber's stack.
 */
#ifndef MALL_CTX_H
#define MALL_CTX_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mall_conf.h"
#include "mall_edge.h"
#include "mall_query.h"
#include "mall_redis.h"
#include "mall_router.h"

#define MALL_REQUEST_ID_MAX  129

struct evhttp_request;

typedef struct mall_ctx_s {
    struct evhttp_request  *req;          /* for mall_reply_* only; NULL
                                             once the reply is sent */
    struct mall_server_s   *server;       /* the process serving it */
    const mall_conf_t      *conf;
    mall_redis_t           *redis;
    const mall_route_t     *route;
    const char             *method;       /* "GET", ... */
    const char             *uri;          /* raw request target (until the
                                             reply: libevent frees it once
                                             the reply is written) */
    char                    log_uri[256]; /* its start, for the access log */
    const char             *path;         /* raw path, no query */
    mall_route_params_t     params;       /* {name} segments */
    mall_query_t            query;        /* decoded query parameters */
    const unsigned char    *body;         /* not NUL-terminated */
    size_t                  body_len;
    mall_identity_t         ident;        /* verified == 1 or all empty */
    char                    request_id[MALL_REQUEST_ID_MAX];
    int                     status;       /* set by the reply helpers */
    int                     replied;
    const char             *error_code;   /* of an error reply (a literal),
                                             for the metrics */
    int64_t                 start_us;     /* monotonic, for the access log */
} mall_ctx_t;

/*
 * A context for work that is no request (timers, tools): config and Redis,
 * no reply; name shows in its logs as the method and request id.
 */
static inline void
mall_ctx_background(mall_ctx_t *ctx, const mall_conf_t *conf,
    mall_redis_t *redis, const char *name)
{
    ctx->conf = conf;
    ctx->redis = redis;
    ctx->method = "TIMER";
    ctx->uri = ctx->path = name;
    snprintf(ctx->request_id, sizeof(ctx->request_id), "%s", name);
}

#endif
