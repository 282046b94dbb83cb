/*
 * Merchant coupon templates (/admin/api/v1/coupons):
 *
 *   POST  /admin/api/v1/coupons       create (admin): 201 the template
 *                                     with "template_id"
 *   GET   /admin/api/v1/coupons       the newest 200, with claimed counts
 *   GET   /admin/api/v1/coupons/{id}  one
 *   PATCH /admin/api/v1/coupons/{id}  {"enabled"} and/or {"total"} (not
 *                                     below what is claimed) (admin)
 *
 * A template's rule never changes once coupons are cut from it (a buyer's
 * coupon keeps the rule it was claimed with); enabling and the quantity
 * can. Reads are for admins and operators.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coupon_keys.h"
#include "coupon_store.h"
#include "mall_audit.h"
#include "mall_json.h"
#include "mall_reply.h"
#include "merchant.h"
#include "storefront.h"

#define PATCH_TRIES  16

static int coupon_create(mall_ctx_t *ctx);
static int coupon_list(mall_ctx_t *ctx);
static int coupon_get(mall_ctx_t *ctx);
static int coupon_patch(mall_ctx_t *ctx);

const mall_route_t  mall_coupon_admin_routes[] = {
    { "POST", "/admin/api/v1/coupons", coupon_create, 0 },
    { "GET", "/admin/api/v1/coupons", coupon_list, 0 },
    { "GET", "/admin/api/v1/coupons/{id}", coupon_get, 0 },
    { "PATCH", "/admin/api/v1/coupons/{id}", coupon_patch, 0 },
    { NULL, NULL, NULL, 0 }
};


static int
reply_view(mall_ctx_t *ctx, int status, const coupon_tpl_t *t,
    int64_t claimed)
{
    cJSON  *o = coupon_tpl_view(t, claimed);
    int     rc;

    if (o == NULL) {
        return MALL_ERR;
    }
    rc = mall_reply_json_nostore(ctx, status, o);
    cJSON_Delete(o);
    return rc;
}


static void
audit(mall_ctx_t *ctx, const char *action, int64_t id, const char *what)
{
    mall_audit_field_t  f[2];
    char                sid[24];

    snprintf(sid, sizeof(sid), "%lld", (long long) id);
    f[0].name = "template_id"; f[0].value = sid;
    f[1].name = "change"; f[1].value = what;
    mall_audit_ctx(ctx, ctx->ident.user, action, "ok", f, 2);
}


/* Writes template t (new, or its enabled/total changed) in one MULTI. */
static int
tpl_write(mall_ctx_t *ctx, const coupon_tpl_t *t, int create,
    mall_err_t *err)
{
    char          key[COUPON_KEY_BUF], sid[24], *json;
    cJSON        *o;
    mall_batch_t  b;
    int           rc;

    o = coupon_tpl_json(t);
    json = o != NULL ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (json == NULL) {
        return mall_err_set(err, 500, "out of memory");
    }
    coupon_key_id(key, sizeof(key), COUPON_KEY_TPL, t->id);
    snprintf(sid, sizeof(sid), "%lld", (long long) t->id);
    mall_batch_init(&b);
    mall_batch_addl(&b, 4, "HSET", key, "json", json);
    if (create) {
        mall_batch_addl(&b, 4, "HSETNX", key, "claimed", "0");
        mall_batch_addl(&b, 4, "ZADD", COUPON_KEY_TPLS, sid, sid);
    }
    rc = mall_batch_exec(&b, ctx->redis, 1, NULL, err);
    mall_batch_free(&b);
    cJSON_free(json);
    return rc;
}


static int
coupon_create(mall_ctx_t *ctx)
{
    coupon_tpl_t  t;
    const char   *field;
    cJSON        *body;
    mall_err_t    err;
    int           rc;

    if (merch_role(ctx, 1, "coupon.create") != MALL_OK
        || sf_body(ctx, &body) != MALL_OK)
    {
        return MALL_OK;
    }
    err.code = 0;
    err.msg[0] = '\0';
    rc = coupon_tpl_parse(body, &t, &field, &err);
    cJSON_Delete(body);
    if (rc != MALL_OK) {
        return sf_reply_invalid(ctx, field, err.msg);
    }
    rc = merch_next_id(ctx, COUPON_SEQ_TPL, &t.id, &err);
    if (rc == MALL_OK) {
        t.rule.id = t.rule.template_id = t.id;
        rc = tpl_write(ctx, &t, 1, &err);
    }
    if (rc != MALL_OK) {
        return sf_fail(ctx, rc, "coupon create", &err);
    }
    audit(ctx, "coupon.create", t.id, "created");
    return reply_view(ctx, 201, &t, 0);
}


static int
coupon_list(mall_ctx_t *ctx)
{
    redisReply    *ids, *reps[COUPON_TPLS_LISTED];
    coupon_tpl_t   t;
    mall_batch_t   b;
    mall_err_t     err;
    cJSON         *root, *arr, *o;
    int64_t        claimed;
    size_t         i, n;
    int            rc;

    if (merch_role(ctx, 0, "coupon.read") != MALL_OK) {
        return MALL_OK;
    }
    rc = mall_cmd(ctx->redis, &ids, &err, 4, "ZREVRANGE", COUPON_KEY_TPLS,
                  "0", "199");
    if (rc != MALL_OK) {
        return sf_fail(ctx, rc, "coupon list", &err);
    }
    n = ids->type == REDIS_REPLY_ARRAY ? ids->elements : 0;
    mall_batch_init(&b);
    for (i = 0; i < n; i++) {
        coupon_batch_tpl(&b, strtoll(ids->element[i]->str, NULL, 10));
    }
    freeReplyObject(ids);
    rc = n > 0 ? mall_batch_send(&b, ctx->redis, reps, &err) : MALL_OK;
    mall_batch_free(&b);
    if (rc != MALL_OK) {
        return sf_fail(ctx, rc, "coupon list", &err);
    }
    root = cJSON_CreateObject();
    arr = cJSON_AddArrayToObject(root, "templates");
    for (i = 0; arr != NULL && i < n; i++) {
        if (coupon_tpl_reply(reps[i], &t, &claimed) == MALL_OK
            && (o = coupon_tpl_view(&t, claimed)) != NULL)
        {
            cJSON_AddItemToArray(arr, o);
        }
    }
    mall_redis_free_replies(reps, n);
    rc = arr != NULL ? mall_reply_json_nostore(ctx, 200, root) : MALL_ERR;
    cJSON_Delete(root);
    return rc;
}


/* Reads template id (watched when watch). MALL_OK, COUPON_TPL_NONE, ... */
static int
tpl_load(mall_ctx_t *ctx, int64_t id, int watch, coupon_tpl_t *t,
    int64_t *claimed, mall_err_t *err)
{
    static const char *const  fields[] = { "json", "claimed" };
    char                      key[COUPON_KEY_BUF];
    redisReply               *r;
    int                       rc;

    coupon_key_id(key, sizeof(key), COUPON_KEY_TPL, id);
    rc = mall_hmget(ctx->redis, key, watch, fields, 2, &r, err);
    if (rc != MALL_OK) {
        return rc;
    }
    rc = coupon_tpl_reply(r, t, claimed);
    freeReplyObject(r);
    return rc == MALL_ERR ? mall_err_set(err, 500, "template %lld: corrupt",
                                         (long long) id)
                          : rc;
}


static int
coupon_get(mall_ctx_t *ctx)
{
    coupon_tpl_t  t;
    mall_err_t    err;
    int64_t       id, claimed;
    int           rc;

    if (merch_role(ctx, 0, "coupon.read") != MALL_OK
        || sf_target(ctx, "id", "no such coupon template", &id, NULL)
           != MALL_OK)
    {
        return MALL_OK;
    }
    rc = tpl_load(ctx, id, 0, &t, &claimed, &err);
    if (rc == COUPON_TPL_NONE) {
        return mall_reply_error(ctx, 404, "NOT_FOUND",
                                "no such coupon template");
    }
    if (rc != MALL_OK) {
        return sf_fail(ctx, rc, "coupon read", &err);
    }
    return reply_view(ctx, 200, &t, claimed);
}


/* The PATCH body onto t: enabled, total. MALL_OK or MALL_ERR (err). */
static int
patch_apply(const cJSON *body, coupon_tpl_t *t, int64_t claimed,
    mall_err_t *err)
{
    const cJSON  *en = cJSON_GetObjectItemCaseSensitive(body, "enabled");
    const cJSON  *tot = cJSON_GetObjectItemCaseSensitive(body, "total");
    int64_t       total;

    if (en == NULL && tot == NULL) {
        return mall_err_set(err, 422, "give enabled and/or total (a "
                            "template's rule does not change)");
    }
    if (en != NULL) {
        if (!cJSON_IsBool(en)) {
            return mall_err_set(err, 422, "enabled must be a boolean");
        }
        t->enabled = cJSON_IsTrue(en);
    }
    if (tot != NULL) {
        if (mall_json_get_int(tot, 1, COUPON_TOTAL_MAX, &total) != MALL_OK
            || total < claimed)
        {
            return mall_err_set(err, 422, "total must be 1..100000000 and "
                                "at least the %lld claimed",
                                (long long) claimed);
        }
        t->total = total;
    }
    return MALL_OK;
}


static int
coupon_patch(mall_ctx_t *ctx)
{
    coupon_tpl_t  t;
    cJSON        *body;
    mall_err_t    err;
    int64_t       id, claimed;
    int           rc, tries;

    if (merch_role(ctx, 1, "coupon.edit") != MALL_OK
        || sf_target(ctx, "id", "no such coupon template", &id, &body)
           != MALL_OK)
    {
        return MALL_OK;
    }
    err.code = 0;
    rc = MALL_BATCH_ABORTED;
    for (tries = 0; tries < PATCH_TRIES && rc == MALL_BATCH_ABORTED;
         tries++)
    {
        /* under WATCH: a claim moving "claimed" makes the EXEC retry */
        rc = tpl_load(ctx, id, 1, &t, &claimed, &err);
        if (rc == MALL_OK && patch_apply(body, &t, claimed, &err) != MALL_OK)
        {
            mall_unwatch(ctx->redis);
            rc = MALL_ERR;
            break;
        }
        if (rc == MALL_OK) {
            rc = tpl_write(ctx, &t, 0, &err);
        }
    }
    cJSON_Delete(body);
    if (rc == COUPON_TPL_NONE) {
        mall_unwatch(ctx->redis);
        return mall_reply_error(ctx, 404, "NOT_FOUND",
                                "no such coupon template");
    }
    if (rc == MALL_ERR && err.code == 422) {
        return sf_reply_invalid(ctx, "body", err.msg);
    }
    if (rc == MALL_BATCH_ABORTED) {
        return mall_reply_error(ctx, 409, "CONFLICT", "the template keeps "
                                "changing; retry");
    }
    if (rc != MALL_OK) {
        return sf_fail(ctx, rc, "coupon edit", &err);
    }
    audit(ctx, "coupon.edit", id, t.enabled ? "enabled" : "disabled");
    return reply_view(ctx, 200, &t, claimed);
}
