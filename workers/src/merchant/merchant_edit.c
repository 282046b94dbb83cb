/*
 * The edit protocol of the merchant back office (see merchant.h): load
 * under WATCH, change a copy, commit through the catalog writer, audit,
 * answer with the product; plus the role check and id sequences.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "catalog_keys.h"
#include "mall_audit.h"
#include "mall_json.h"
#include "mall_log.h"
#include "mall_reply.h"
#include "merchant.h"
#include "stock.h"

#define MERCH_TRIES  8


/*
 * MALL_OK when the caller is staff (admin, or operator unless admin_only);
 * otherwise replies 403 (audited as denied) and returns MALL_ERR.
 */
int
merch_role(mall_ctx_t *ctx, int admin_only, const char *action)
{
    const char  *role = ctx->ident.role;
    int          ok;

    ok = ctx->ident.verified && ctx->ident.user[0] != '\0'
         && (strcmp(role, "admin") == 0
             || (!admin_only && strcmp(role, "operator") == 0));
    if (ok) {
        return MALL_OK;
    }
    if (ctx->ident.user[0] != '\0') {
        mall_audit_ctx(ctx, ctx->ident.user, action, "denied", NULL, 0);
    }
    mall_reply_error(ctx, 403, "FORBIDDEN", "%s requires the %s role",
                     action, admin_only ? "admin" : "admin or operator");
    return MALL_ERR;
}


int
merch_next_id(mall_ctx_t *ctx, const char *seq, int64_t *id, mall_err_t *err)
{
    redisReply  *r;
    char         key[48];
    int          rc;

    snprintf(key, sizeof(key), CATALOG_KEY_SEQ_FMT, seq);
    rc = mall_cmd(ctx->redis, &r, err, 2, "INCR", key);
    if (rc != MALL_OK) {
        return rc;
    }
    *id = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
    freeReplyObject(r);
    return *id > 0 ? MALL_OK : mall_err_set(err, 500, "bad sequence");
}


/* A SKU's id, price and stock, appended to skus; NULL when out of memory. */
cJSON *
merch_sku_json(cJSON *skus, const catalog_sku_t *k)
{
    cJSON  *s;

    s = cJSON_CreateObject();
    if (s == NULL || !cJSON_AddItemToArray(skus, s)) {
        cJSON_Delete(s);
        return NULL;
    }
    mall_json_add_int(s, "sku_id", k->id);
    mall_json_add_int(s, "price_fen", k->price);
    mall_json_add_int(s, "stock", k->stock);
    return s;
}


/* Compact summary for the audit log; caller frees with cJSON_free. */
char *
merch_summary(const catalog_product_t *p)
{
    cJSON   *o, *skus, *s;
    char    *out;
    size_t   i;

    if (p == NULL || !p->exists) {
        o = cJSON_CreateNull();
        out = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        return out;
    }
    o = cJSON_CreateObject();
    if (o == NULL) {
        return NULL;
    }
    mall_json_add_int(o, "id", p->id);
    mall_json_add_str(o, "name", p->name);
    mall_json_add_str(o, "brand", p->brand);
    mall_json_add_int(o, "category_id", p->category_id);
    mall_json_add_str(o, "status", p->on_sale ? "on_sale" : "delisted");
    skus = cJSON_AddArrayToObject(o, "skus");
    for (i = 0; skus != NULL && i < p->nskus; i++) {
        s = merch_sku_json(skus, &p->skus[i]);
        if (s == NULL) {
            break;
        }
    }
    out = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return out;
}


void
merch_audit(mall_ctx_t *ctx, const char *action,
    const catalog_product_t *before,
    const catalog_product_t *after)
{
    mall_audit_field_t  f[3];
    char                id[24], *b, *a;

    snprintf(id, sizeof(id), "%lld", (long long) after->id);
    b = merch_summary(before);
    a = merch_summary(after);
    f[0].name = "product_id"; f[0].value = id;
    f[1].name = "before"; f[1].value = b != NULL ? b : "?";
    f[2].name = "after"; f[2].value = a != NULL ? a : "?";
    mall_audit_ctx(ctx, ctx->ident.user, action, "ok", f, 3);
    cJSON_free(b);
    cJSON_free(a);
}


/* The admin view of a product: the detail document plus status. */
int
merch_reply(mall_ctx_t *ctx, int status, catalog_product_t *p)
{
    cJSON   *o, *skus, *s;
    size_t   i;
    int64_t  min_price;
    int      in_stock, rc;

    if (catalog_product_doc_sync(p) != MALL_OK) {
        return MALL_ERR;
    }
    o = cJSON_Duplicate(p->doc, 1);
    if (o == NULL) {
        return MALL_ERR;
    }
    catalog_product_derived(p, &min_price, &in_stock);
    skus = cJSON_AddArrayToObject(o, "skus");
    for (i = 0; skus != NULL && i < p->nskus; i++) {
        s = merch_sku_json(skus, &p->skus[i]);
        if (s == NULL) {
            break;
        }
        mall_json_add_int(s, "low_stock_threshold",
                          stock_threshold(ctx->conf, p->skus[i].threshold));
        cJSON_AddItemToObject(s, "attrs", p->skus[i].attrs != NULL
                              ? cJSON_Duplicate(p->skus[i].attrs, 1)
                              : cJSON_CreateObject());
    }
    mall_json_add_int(o, "price_fen", min_price);
    cJSON_AddBoolToObject(o, "in_stock", in_stock);
    mall_json_add_str(o, "status", p->on_sale ? "on_sale" : "delisted");
    rc = mall_reply_json_nostore(ctx, status, o);
    cJSON_Delete(o);
    return rc;
}


/*
 * The MULTI/EXEC of an edit: the catalog writer's commands for before ->
 * after. MALL_OK, MALL_BATCH_ABORTED (a WATCHed key moved), MALL_ERR,
 * MALL_RETRY.
 */
int
merch_commit(mall_ctx_t *ctx, const catalog_product_t *before,
    catalog_product_t *after, mall_err_t *err)
{
    mall_batch_t  b;
    int           rc;

    mall_batch_init(&b);
    rc = catalog_product_write(ctx->conf, &b, before, after, err);
    if (rc == MALL_OK) {
        rc = mall_batch_exec(&b, ctx->redis, 1, NULL, err);
    }
    mall_batch_free(&b);
    return rc;
}


/*
 * Runs the edit protocol on product id with edit(); replies with the
 * product (status) or the error. create: the product must not exist yet.
 */
int
merch_run(mall_ctx_t *ctx, int64_t id, int create, const char *action,
    merch_edit_pt edit, void *arg, int status)
{
    catalog_product_t        before, after;
    mall_err_t  err;
    int         rc, tries;

    memset(&after, 0, sizeof(after));
    err.code = 0;
    err.msg[0] = '\0';
    rc = MALL_BATCH_ABORTED;

    for (tries = 0; tries < MERCH_TRIES; tries++) {
        rc = catalog_product_load(ctx, id, &before, &err);
        if (rc != MALL_OK) {
            catalog_product_free(&before);
            break;
        }
        if (!create && !before.exists) {
            catalog_product_free(&before);
            mall_unwatch(ctx->redis);
            return mall_reply_error(ctx, 404, "NOT_FOUND",
                                    "no such product");
        }
        if (catalog_product_copy(&before, &after) != MALL_OK) {
            catalog_product_free(&before);
            rc = mall_err_set(&err, 500, "out of memory");
            break;
        }
        if (create) {
            after.exists = 1;
            after.on_sale = 1;
            if (after.doc == NULL && (after.doc = cJSON_CreateObject())
                                     == NULL)
            {
                catalog_product_free(&before);
                rc = mall_err_set(&err, 500, "out of memory");
                break;
            }
        }
        rc = edit(ctx, &after, arg, &err);
        if (rc == MALL_OK) {
            rc = merch_commit(ctx, create ? NULL : &before, &after, &err);
        }
        if (rc == MALL_OK) {
            merch_audit(ctx, action, create ? NULL : &before, &after);
            rc = merch_reply(ctx, status, &after);
            catalog_product_free(&before);
            catalog_product_free(&after);
            return rc;
        }
        catalog_product_free(&before);
        catalog_product_free(&after);
        if (rc != MALL_BATCH_ABORTED) {
            break;
        }
    }
    mall_unwatch(ctx->redis);
    if (rc == MALL_RETRY) {
        return MALL_RETRY;
    }
    if (rc == MALL_BATCH_ABORTED) {
        return mall_reply_error(ctx, 409, "CONFLICT", "the product changed "
                                "concurrently; try again");
    }
    if (err.code == 422) {
        return mall_reply_error(ctx, 422, "VALIDATION_FAILED", "%s",
                                err.msg);
    }
    if (err.code == 403) {
        return mall_reply_error(ctx, 403, "FORBIDDEN", "%s", err.msg);
    }
    mall_log_req(MALL_LOG_ERROR, "merchant", ctx->request_id,
                 ctx->ident.user, "%s %lld: %s", action, (long long) id,
                 err.msg);
    return MALL_ERR;
}
