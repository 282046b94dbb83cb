/*
 * The buyer's one-time subscriptions (see notify.h):
 *
 *   POST /api/v1/notifications/subscribe {"template_ids": [...]}
 *       the templates the buyer accepted in wx.requestSubscribeMessage;
 *       each acceptance allows one message of that template
 *   GET  /api/v1/notifications/subscriptions
 *       the configured templates (the ids to ask for) and what is left
 *
 * Both answer {"templates": [{"event", "template_id", "remaining"}]}.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mall_batch.h"
#include "mall_json.h"
#include "mall_reply.h"
#include "notify.h"
#include "order_store.h"
#include "storefront.h"

#define SUBSCRIBE_IDS_MAX  10

static int notify_subscribe(mall_ctx_t *ctx);
static int notify_subscriptions(mall_ctx_t *ctx);

const mall_route_t  mall_notify_routes[] = {
    { "POST", "/api/v1/notifications/subscribe", notify_subscribe, 0 },
    { "GET", "/api/v1/notifications/subscriptions", notify_subscriptions, 0 },
    { NULL, NULL, NULL, 0 }
};


/* Replies with the configured templates and uid's remaining counts. */
static int
reply_templates(mall_ctx_t *ctx, const char *uid)
{
    const notify_conf_t  *c = &ctx->conf->notify;
    redisReply           *r;
    mall_err_t            err;
    cJSON                *root, *arr, *o;
    char                  key[ORDER_KEY_MAX + 32];
    const char           *n;
    unsigned              i;
    int                   rc;

    err.msg[0] = '\0';
    order_key(key, sizeof(key), NOTIFY_KEY_SUBS, uid, NULL);
    rc = mall_cmd(ctx->redis, &r, &err, 2, "HGETALL", key);
    if (rc != MALL_OK) {
        return sf_fail(ctx, rc, "notify subscriptions", &err);
    }
    root = cJSON_CreateObject();
    arr = root != NULL ? cJSON_AddArrayToObject(root, "templates") : NULL;
    for (i = 0; arr != NULL && i < NOTIFY_EV_COUNT; i++) {
        if (c->tpl[i].template_id[0] == '\0') {
            continue;
        }
        n = NULL;
        if (mall_redis_hash_field(r, c->tpl[i].template_id) != NULL) {
            n = mall_redis_hash_field(r, c->tpl[i].template_id)->str;
        }
        o = cJSON_CreateObject();
        if (o == NULL || !cJSON_AddItemToArray(arr, o)
            || mall_json_add_str(o, "event", notify_event_name(i)) != MALL_OK
            || mall_json_add_str(o, "template_id", c->tpl[i].template_id)
               != MALL_OK
            || mall_json_add_int(o, "remaining",
                                 n != NULL && n[0] != '-'
                                 ? strtoll(n, NULL, 10) : 0) != MALL_OK)
        {
            arr = NULL;
        }
    }
    freeReplyObject(r);
    if (arr == NULL) {
        cJSON_Delete(root);
        return mall_reply_error(ctx, 500, "INTERNAL", "out of memory");
    }
    return mall_reply_json_drop(ctx, 200, root);
}


static int
notify_subscriptions(mall_ctx_t *ctx)
{
    char  uid[SF_UID_MAX];

    if (sf_require_user(ctx, uid) != MALL_OK) {
        return MALL_OK;
    }
    return reply_templates(ctx, uid);
}


static int
notify_subscribe(mall_ctx_t *ctx)
{
    const notify_conf_t  *c = &ctx->conf->notify;
    const cJSON          *ids, *id;
    mall_batch_t          b;
    redisReply           *exec;
    mall_err_t            err;
    cJSON                *body;
    char                  uid[SF_UID_MAX], key[ORDER_KEY_MAX + 32], cap[24];
    size_t                i, n;
    int                   rc;

    if (sf_require_user(ctx, uid) != MALL_OK || sf_body(ctx, &body) != MALL_OK)
    {
        return MALL_OK;
    }
    ids = cJSON_GetObjectItemCaseSensitive(body, "template_ids");
    n = cJSON_IsArray(ids) ? (size_t) cJSON_GetArraySize(ids) : 0;
    if (n == 0 || n > SUBSCRIBE_IDS_MAX) {
        cJSON_Delete(body);
        return sf_reply_invalid(ctx, "template_ids", "template_ids is an "
                                "array of 1 to 10 template ids");
    }
    cJSON_ArrayForEach(id, ids) {
        if (!cJSON_IsString(id)
            || !notify_conf_has_template(c, id->valuestring))
        {
            cJSON_Delete(body);
            return sf_reply_invalid(ctx, "template_ids", "not a template "
                                    "of this mall's notifications");
        }
    }

    err.msg[0] = '\0';
    order_key(key, sizeof(key), NOTIFY_KEY_SUBS, uid, NULL);
    mall_batch_init(&b);
    cJSON_ArrayForEach(id, ids) {
        mall_batch_addl(&b, 4, "HINCRBY", key, id->valuestring, "1");
    }
    rc = mall_batch_exec(&b, ctx->redis, 1, &exec, &err);
    mall_batch_free(&b);
    if (rc != MALL_OK) {
        cJSON_Delete(body);
        return sf_fail(ctx, rc, "notify subscribe", &err);
    }
    /* acceptances pile up in WeChat too; ours stop at NOTIFY_SUBS_MAX */
    mall_batch_init(&b);
    i = 0;
    cJSON_ArrayForEach(id, ids) {
        if (exec->type == REDIS_REPLY_ARRAY && i < exec->elements
            && exec->element[i]->type == REDIS_REPLY_INTEGER
            && exec->element[i]->integer > NOTIFY_SUBS_MAX)
        {
            snprintf(cap, sizeof(cap), "%d", NOTIFY_SUBS_MAX);
            mall_batch_addl(&b, 4, "HSET", key, id->valuestring, cap);
        }
        i++;
    }
    freeReplyObject(exec);
    cJSON_Delete(body);
    if (b.n > 0 && mall_batch_exec(&b, ctx->redis, 0, NULL, &err) != MALL_OK)
    {
        mall_batch_free(&b);
        return sf_fail(ctx, MALL_RETRY, "notify subscribe cap", &err);
    }
    mall_batch_free(&b);
    return reply_templates(ctx, uid);
}
