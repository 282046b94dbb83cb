/*
 * The merchant's orders (admin role to ship, staff to read):
 *
 *   POST /admin/api/v1/orders/{id}/ship {"carrier","tracking_no"}
 *        paid -> shipped; 409 CONFLICT with current_status otherwise
 *   POST /admin/api/v1/orders/ship {"orders":[{"order_id","carrier",
 *        "tracking_no"}]}  up to 100, each on its own: per-order results
 *   GET  /admin/api/v1/orders?status=&page=&size=   newest first
 *   GET  /admin/api/v1/orders/{id}
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logistics.h"
#include "mall_audit.h"
#include "mall_json.h"
#include "mall_query.h"
#include "mall_reply.h"
#include "merchant.h"
#include "order_lifecycle.h"
#include "order_view.h"

#define SHIP_BULK_MAX  100

static int ship_one(mall_ctx_t *ctx);
static int ship_bulk(mall_ctx_t *ctx);
static int admin_list(mall_ctx_t *ctx);
static int admin_get(mall_ctx_t *ctx);

const mall_route_t  mall_order_ship_routes[] = {
    { "POST", "/admin/api/v1/orders/ship", ship_bulk, 0 },
    { "POST", "/admin/api/v1/orders/{id}/ship", ship_one, 0 },
    { "GET", "/admin/api/v1/orders", admin_list, 0 },
    { "GET", "/admin/api/v1/orders/{id}", admin_get, 0 },
    { NULL, NULL, NULL, 0 }
};


/* Ships oid: rc of order_lifecycle_move, *cur the status after/now. */
static int
ship(mall_ctx_t *ctx, const char *oid, const order_ship_t *s,
    order_status_e *cur, mall_err_t *err)
{
    mall_audit_field_t  f[2] = { { "order_id", oid },
                                 { "tracking_no", s->tracking_no } };
    int                 rc;

    *cur = ORDER_ST_NONE;
    if (!order_id_valid(oid)) {
        return ORDER_NOT_FOUND;
    }
    rc = order_lifecycle_move(ctx, oid, NULL, ORDER_EV_SHIP,
                              ORDER_ACTOR_ADMIN, ctx->ident.user, s, cur,
                              err);
    if (rc == MALL_OK) {
        mall_audit_ctx(ctx, ctx->ident.user, "order.ship", "ok", f, 2);
    }
    return rc;
}


static int
ship_one(mall_ctx_t *ctx)
{
    const char      *oid, *field;
    order_ship_t     s;
    order_status_e   cur;
    cJSON           *body;
    mall_err_t       err;
    int              rc;

    if (merch_role(ctx, 1, "order.ship") != MALL_OK) {
        return MALL_OK;
    }
    oid = mall_route_param(&ctx->params, "id");
    if (sf_body(ctx, &body) != MALL_OK) {
        return MALL_OK;
    }
    err.msg[0] = '\0';
    rc = order_ship_parse(body, &s, &field, &err);
    cJSON_Delete(body);
    if (rc != MALL_OK) {
        return sf_reply_invalid(ctx, field, err.msg);
    }
    rc = ship(ctx, oid != NULL ? oid : "", &s, &cur, &err);
    switch (rc) {
    case MALL_OK:
        rc = order_reply_stored(ctx, oid, 200, &err);
        return rc == MALL_OK ? MALL_OK : sf_fail(ctx, rc, "order ship", &err);
    case ORDER_NOT_FOUND:
        return mall_reply_error(ctx, 404, "NOT_FOUND", "no such order");
    case ORDER_ILLEGAL:
        return order_reply_conflict(ctx, cur, "only a paid order can be "
                                    "shipped");
    default:
        return sf_fail(ctx, rc == MALL_BATCH_ABORTED ? MALL_RETRY : rc,
                       "order ship", &err);
    }
}


/* One entry of a bulk answer. */
static int
bulk_result(cJSON *results, const char *oid, int rc, order_status_e cur,
    const char *msg)
{
    static const struct { int rc; const char *code, *msg; } errs[] = {
        { ORDER_NOT_FOUND, "NOT_FOUND", "no such order" },
        { ORDER_ILLEGAL, "CONFLICT", "only a paid order can be shipped" },
        { MALL_BATCH_ABORTED, "CONFLICT", "changed concurrently; try again" },
    };
    cJSON   *o, *e;
    size_t   i;

    o = cJSON_CreateObject();
    if (o == NULL || !cJSON_AddItemToArray(results, o)
        || mall_json_add_str(o, "order_id", oid) != MALL_OK
        || cJSON_AddBoolToObject(o, "ok", rc == MALL_OK) == NULL)
    {
        return MALL_ERR;
    }
    if (rc == MALL_OK) {
        return mall_json_add_str(o, "status", order_status_name(cur));
    }
    e = cJSON_AddObjectToObject(o, "error");
    for (i = 0; i < MALL_ARRAY_LEN(errs) && errs[i].rc != rc; i++) {
    }
    if (e == NULL
        || mall_json_add_str(e, "code", i < MALL_ARRAY_LEN(errs)
                             ? errs[i].code : "VALIDATION_FAILED") != MALL_OK
        || mall_json_add_str(e, "message", i < MALL_ARRAY_LEN(errs)
                             ? errs[i].msg : msg) != MALL_OK)
    {
        return MALL_ERR;
    }
    if (rc == ORDER_ILLEGAL) {
        return mall_json_add_str(e, "current_status", order_status_name(cur));
    }
    return MALL_OK;
}


static int
ship_bulk(mall_ctx_t *ctx)
{
    const cJSON     *list, *it, *id;
    const char      *field;
    order_ship_t     s;
    order_status_e   cur;
    cJSON           *body, *root, *results;
    mall_err_t       err;
    int              rc, n;

    if (merch_role(ctx, 1, "order.ship") != MALL_OK
        || sf_body(ctx, &body) != MALL_OK)
    {
        return MALL_OK;
    }
    list = cJSON_GetObjectItemCaseSensitive(body, "orders");
    n = cJSON_GetArraySize(list);
    if (!cJSON_IsArray(list) || n < 1 || n > SHIP_BULK_MAX) {
        cJSON_Delete(body);
        return sf_reply_invalid(ctx, "orders", "orders must be an array of "
                                "1..100 {order_id, carrier, tracking_no}");
    }
    root = cJSON_CreateObject();
    results = root != NULL ? cJSON_AddArrayToObject(root, "results") : NULL;
    rc = results != NULL ? MALL_OK : MALL_ERR;
    cJSON_ArrayForEach(it, list) {
        if (rc != MALL_OK) {
            break;
        }
        err.msg[0] = '\0';
        id = cJSON_GetObjectItemCaseSensitive(it, "order_id");
        if (!cJSON_IsString(id)) {
            rc = bulk_result(results, "", MALL_ERR, cur,
                             "order_id must be a string");
            continue;
        }
        if (order_ship_parse(it, &s, &field, &err) != MALL_OK) {
            rc = bulk_result(results, id->valuestring, MALL_ERR, cur,
                             err.msg);
            continue;
        }
        rc = ship(ctx, id->valuestring, &s, &cur, &err);
        if (rc == MALL_RETRY || rc == MALL_ERR) {
            break;                  /* storage down: say so for all */
        }
        rc = bulk_result(results, id->valuestring, rc, cur, "");
    }
    cJSON_Delete(body);
    if (rc == MALL_OK) {
        rc = mall_reply_json_nostore(ctx, 200, root);
    } else {
        rc = sf_fail(ctx, rc, "bulk ship", &err);
    }
    cJSON_Delete(root);
    return rc;
}


static int
admin_get(mall_ctx_t *ctx)
{
    const char      *oid, *kv[128];
    redisReply      *reps[2];
    order_fields_t   f;
    mall_err_t       err;
    cJSON           *o;
    int              rc;

    if (merch_role(ctx, 0, "order.read") != MALL_OK) {
        return MALL_OK;
    }
    oid = mall_route_param(&ctx->params, "id");
    if (oid == NULL || !order_id_valid(oid)) {
        return mall_reply_error(ctx, 404, "NOT_FOUND", "no such order");
    }
    err.msg[0] = '\0';
    rc = order_load_full(ctx, oid, reps, &err);
    if (rc != MALL_OK) {
        return sf_fail(ctx, rc, "admin order get", &err);
    }
    o = NULL;
    if (reps[0]->type == REDIS_REPLY_ARRAY && reps[0]->elements > 0
        && reps[0]->elements <= 128
        && order_fields_of_hash(reps[0], kv, &f) == MALL_OK)
    {
        o = order_view(ctx, &f, reps[1],
                       ORDER_VIEW_ADDRESS | ORDER_VIEW_EVENTS);
        if (o != NULL && order_field(&f, "user_id") != NULL) {
            mall_json_add_str(o, "user_id", order_field(&f, "user_id"));
        }
    }
    mall_redis_free_replies(reps, 2);
    if (o == NULL) {
        return mall_reply_error(ctx, 404, "NOT_FOUND", "no such order");
    }
    logistics_attach(ctx, oid, o);
    rc = mall_reply_json_nostore(ctx, 200, o);
    cJSON_Delete(o);
    return rc;
}


static int
admin_list(mall_ctx_t *ctx)
{
    char             key[ORDER_KEY_MAX];
    order_status_e   st;
    long long        page, size;

    if (merch_role(ctx, 0, "order.read") != MALL_OK
        || sf_page(ctx, 20, 50, &page, &size) != MALL_OK)
    {
        return MALL_OK;
    }
    if (order_query_status(ctx, &st) != MALL_OK) {
        return MALL_OK;
    }
    if (st != ORDER_ST_NONE) {
        order_key(key, sizeof(key), ORDER_KEY_STATUS, order_status_name(st),
                  NULL);
    } else {
        snprintf(key, sizeof(key), "%s", ORDER_KEY_ALL);
    }
    return order_list_page(ctx, key, st, page, size, 1);
}
