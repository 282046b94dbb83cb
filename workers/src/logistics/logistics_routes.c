/*
 * The merchant's manual tracking entries (admin role):
 *
 *   POST /admin/api/v1/orders/{id}/tracking {"time", "context",
 *        "location"?}
 *        201 with the order (its "logistics" has the merged timeline);
 *        404 NOT_FOUND; 409 CONFLICT with current_status when the order
 *        was never shipped; 422 VALIDATION_FAILED for a bad body
 *
 * Entries live beside the carrier's cache (logistics.h) and are merged
 * with its events by time on every detail read.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "logistics.h"
#include "mall_audit.h"
#include "mall_batch.h"
#include "mall_json.h"
#include "mall_reply.h"
#include "merchant.h"
#include "order_store.h"
#include "order_view.h"

static int tracking_add(mall_ctx_t *ctx);

const mall_route_t  mall_logistics_routes[] = {
    { "POST", "/admin/api/v1/orders/{id}/tracking", tracking_add, 0 },
    { NULL, NULL, NULL, 0 }
};


/* The stored text of entry m by actor (cJSON_free it), or NULL. */
static char *
manual_record(const logistics_manual_t *m, const char *actor)
{
    cJSON  *o;
    char   *text;

    o = cJSON_CreateObject();
    if (o == NULL || mall_json_add_int(o, "at", m->at) != MALL_OK
        || mall_json_add_str(o, "context", m->context) != MALL_OK
        || mall_json_add_str(o, "location", m->location) != MALL_OK
        || mall_json_add_str(o, "by", actor) != MALL_OK)
    {
        cJSON_Delete(o);
        return NULL;
    }
    text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}


/*
 * Stores entry m of order oid after checking it was shipped (its record
 * has logistics): MALL_OK, ORDER_NOT_FOUND, ORDER_ILLEGAL (*cur set),
 * MALL_ERR, MALL_RETRY.
 */
static int
tracking_store(mall_ctx_t *ctx, const char *oid, const logistics_manual_t *m,
    order_status_e *cur, mall_err_t *err)
{
    static const char *const  fields[] = { "status", "logistics" };
    redisReply               *r;
    mall_batch_t              b;
    char                      key[ORDER_KEY_MAX], mkey[LOGISTICS_KEY_MAX];
    char                      max[16], *text;
    int                       rc, shipped;

    *cur = ORDER_ST_NONE;
    order_key(key, sizeof(key), ORDER_KEY_ORDER, oid, NULL);
    rc = mall_hmget(ctx->redis, key, 0, fields, 2, &r, err);
    if (rc != MALL_OK) {
        return rc;
    }
    *cur = r->element[0]->type == REDIS_REPLY_STRING
           ? order_status_parse(r->element[0]->str) : ORDER_ST_NONE;
    shipped = r->element[1]->type == REDIS_REPLY_STRING;
    freeReplyObject(r);
    if (*cur == ORDER_ST_NONE) {
        return ORDER_NOT_FOUND;
    }
    if (!shipped) {
        return ORDER_ILLEGAL;
    }
    text = manual_record(m, ctx->ident.user);
    if (text == NULL) {
        return mall_err_set(err, 500, "out of memory");
    }
    snprintf(mkey, sizeof(mkey), LOGISTICS_KEY_MANUAL, oid);
    snprintf(max, sizeof(max), "-%d", LOGISTICS_MANUAL_MAX);
    mall_batch_init(&b);
    mall_batch_addl(&b, 3, "RPUSH", mkey, text);
    mall_batch_addl(&b, 4, "LTRIM", mkey, max, "-1");
    rc = mall_batch_exec(&b, ctx->redis, 1, NULL, err);
    mall_batch_free(&b);
    cJSON_free(text);
    return rc;
}


static int
tracking_add(mall_ctx_t *ctx)
{
    mall_audit_field_t   f[1];
    logistics_manual_t   m;
    order_status_e       cur;
    const char          *oid, *field;
    mall_err_t           err;
    cJSON               *body;
    int                  rc;

    if (merch_role(ctx, 1, "order.tracking") != MALL_OK) {
        return MALL_OK;
    }
    oid = mall_route_param(&ctx->params, "id");
    if (oid == NULL || !order_id_valid(oid)) {
        return mall_reply_error(ctx, 404, "NOT_FOUND", "no such order");
    }
    if (sf_body(ctx, &body) != MALL_OK) {
        return MALL_OK;
    }
    err.msg[0] = '\0';
    rc = logistics_manual_parse(body, (int64_t) time(NULL), &m, &field, &err);
    cJSON_Delete(body);
    if (rc != MALL_OK) {
        return sf_reply_invalid(ctx, field, err.msg);
    }
    rc = tracking_store(ctx, oid, &m, &cur, &err);
    switch (rc) {
    case MALL_OK:
        f[0].name = "order_id";
        f[0].value = oid;
        mall_audit_ctx(ctx, ctx->ident.user, "order.tracking", "ok", f, 1);
        rc = order_reply_stored(ctx, oid, 201, &err);
        return rc == MALL_OK ? MALL_OK
                             : sf_fail(ctx, rc, "order tracking", &err);
    case ORDER_NOT_FOUND:
        return mall_reply_error(ctx, 404, "NOT_FOUND", "no such order");
    case ORDER_ILLEGAL:
        return order_reply_conflict(ctx, cur, "only a shipped order has a "
                                    "tracking timeline");
    default:
        return sf_fail(ctx, rc, "order tracking", &err);
    }
}
