/*
 * GET /healthz: liveness of this worker and its Redis connection. Served
 * without an edge signature so load balancers and mallctl can probe it.
 */
#include <unistd.h>

#include "mall_json.h"
#include "mall_reply.h"
#include "mall_routes.h"

static int health_get(mall_ctx_t *ctx);

const mall_route_t  mall_health_routes[] = {
    { "GET", "/healthz", health_get, MALL_ROUTE_NO_EDGE_SIG },
    { NULL, NULL, NULL, 0 }
};


static int
health_get(mall_ctx_t *ctx)
{
    cJSON       *root;
    mall_err_t   err;
    int          rc, redis_ok;

    rc = MALL_ERR;
    redis_ok = mall_redis_ping(ctx->redis, &err) == MALL_OK;

    root = cJSON_CreateObject();
    if (root == NULL
        || mall_json_add_str(root, "status", "ok") != MALL_OK
        || mall_json_add_str(root, "redis", redis_ok ? "ok" : "down")
           != MALL_OK
        || mall_json_add_int(root, "pid", (int64_t) getpid()) != MALL_OK)
    {
        goto done;
    }

    rc = mall_reply_json_nostore(ctx, 200, root);

done:
    cJSON_Delete(root);
    return rc;
}
