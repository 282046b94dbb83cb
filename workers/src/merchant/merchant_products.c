/*
 * Merchant product routes: create, read, edit, delist (see merchant.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog.h"
#include "mall_audit.h"
#include "mall_json.h"
#include "mall_reply.h"
#include "merchant.h"
#include "storefront.h"

static int merch_product_create(mall_ctx_t *ctx);
static int merch_product_get(mall_ctx_t *ctx);
static int merch_product_patch(mall_ctx_t *ctx);
static int merch_product_delete(mall_ctx_t *ctx);

const mall_route_t  mall_merchant_product_routes[] = {
    { "POST", "/admin/api/v1/products", merch_product_create, 0 },
    { "GET", "/admin/api/v1/products/{id}", merch_product_get, 0 },
    { "PATCH", "/admin/api/v1/products/{id}", merch_product_patch, 0 },
    { "DELETE", "/admin/api/v1/products/{id}", merch_product_delete, 0 },
    { NULL, NULL, NULL, 0 }
};


/* Content fields shared by create and patch. */
static int
edit_content(mall_ctx_t *ctx, catalog_product_t *a, const cJSON *body,
    int create,
    mall_err_t *err)
{
    const cJSON  *cat;
    int64_t       cid;
    int           rc;

    if (merch_body_text(body, "name", a->name, sizeof(a->name), create, err)
        != MALL_OK
        || merch_body_text(body, "name_en", a->name_en, sizeof(a->name_en),
                           0, err)
           != MALL_OK
        || merch_body_text(body, "brand", a->brand, sizeof(a->brand),
                           create, err)
           != MALL_OK
        || merch_body_doc_item(body, a->doc, "description", 0, err) != MALL_OK
        || merch_body_doc_item(body, a->doc, "images", 1, err) != MALL_OK
        || merch_body_doc_item(body, a->doc, "params", 1, err) != MALL_OK)
    {
        return MALL_ERR;
    }
    if (create && a->name_en[0] == '\0') {
        memcpy(a->name_en, a->name, sizeof(a->name_en));
    }
    cat = cJSON_GetObjectItemCaseSensitive(body, "category_id");
    if (cat != NULL || create) {
        if (mall_json_get_int(cat, 1, CATALOG_ID_MAX, &cid) != MALL_OK) {
            return mall_err_set(err, 422, "category_id must be a category "
                                "id");
        }
        rc = catalog_product_load_chain(ctx, cid, a, err);
        if (rc != MALL_OK) {
            return rc;
        }
        a->category_id = cid;
    }
    return MALL_OK;
}


static int
edit_create(mall_ctx_t *ctx, catalog_product_t *a, void *arg, mall_err_t *err)
{
    const cJSON  *body = ((edit_arg_t *) arg)->body, *skus, *s;
    int           rc;

    if (!cJSON_GetObjectItemCaseSensitive(a->doc, "rating")) {
        cJSON  *rating = cJSON_AddObjectToObject(a->doc, "rating");

        if (rating == NULL || mall_json_add_int(rating, "average", 0)
                              != MALL_OK
            || mall_json_add_int(rating, "count", 0) != MALL_OK
            || cJSON_AddArrayToObject(a->doc, "reviews") == NULL
            || cJSON_AddArrayToObject(a->doc, "images") == NULL
            || cJSON_AddArrayToObject(a->doc, "params") == NULL
            || mall_json_add_str(a->doc, "description", "") != MALL_OK)
        {
            return mall_err_set(err, 500, "out of memory");
        }
    }
    rc = edit_content(ctx, a, body, 1, err);
    if (rc != MALL_OK) {
        return rc;
    }
    skus = cJSON_GetObjectItemCaseSensitive(body, "skus");
    if (!cJSON_IsArray(skus) || cJSON_GetArraySize(skus) < 1
        || cJSON_GetArraySize(skus) > CATALOG_MAX_SKUS)
    {
        return mall_err_set(err, 422, "skus must be an array of 1..%d skus",
                            CATALOG_MAX_SKUS);
    }
    cJSON_ArrayForEach(s, skus) {
        catalog_sku_t  *k = &a->skus[a->nskus];

        memset(k, 0, sizeof(*k));
        if (merch_body_sku(s, k, err) != MALL_OK) {
            return MALL_ERR;
        }
        a->nskus++;
        rc = merch_next_id(ctx, "sku", &k->id, err);
        if (rc != MALL_OK) {
            return rc;
        }
        k->is_new = 1;
    }
    a->created_at = (int64_t) time(NULL);
    a->sales = 0;
    return MALL_OK;
}


static int
merch_product_create(mall_ctx_t *ctx)
{
    edit_arg_t   arg;
    cJSON       *body;
    mall_err_t   err;
    int64_t      id;
    int          rc;

    if (merch_role(ctx, 1, "product.create") != MALL_OK
        || sf_body(ctx, &body) != MALL_OK)
    {
        return MALL_OK;
    }
    rc = merch_next_id(ctx, "product", &id, &err);
    if (rc != MALL_OK) {
        cJSON_Delete(body);
        return rc == MALL_RETRY ? MALL_RETRY : MALL_ERR;
    }
    arg.body = body;
    arg.admin = 1;
    rc = merch_run(ctx, id, 1, "product.create", edit_create, &arg, 201);
    cJSON_Delete(body);
    return rc;
}


static int
edit_patch(mall_ctx_t *ctx, catalog_product_t *a, void *arg, mall_err_t *err)
{
    edit_arg_t    *ea = arg;
    const cJSON   *st;
    int            rc;

    st = cJSON_GetObjectItemCaseSensitive(ea->body, "status");
    if (st != NULL) {
        if (!cJSON_IsString(st)
            || (strcmp(st->valuestring, "on_sale") != 0
                && strcmp(st->valuestring, "delisted") != 0))
        {
            return mall_err_set(err, 422, "status must be on_sale or "
                                "delisted");
        }
        if (!ea->admin) {
            return mall_err_set(err, 403, "changing status requires the "
                                "admin role");
        }
        a->on_sale = strcmp(st->valuestring, "on_sale") == 0;
    }
    rc = edit_content(ctx, a, ea->body, 0, err);
    return rc;
}


static int
merch_product_patch(mall_ctx_t *ctx)
{
    edit_arg_t   arg;
    cJSON       *body;
    int64_t      id;
    int          rc;

    if (merch_role(ctx, 0, "product.update") != MALL_OK
        || sf_target(ctx, "id", "no such product", &id, &body) != MALL_OK)
    {
        return MALL_OK;
    }
    arg.body = body;
    arg.admin = strcmp(ctx->ident.role, "admin") == 0;
    if (!arg.admin && cJSON_GetObjectItemCaseSensitive(body, "status")) {
        cJSON_Delete(body);
        mall_audit_ctx(ctx, ctx->ident.user, "product.status", "denied",
                       NULL, 0);
        return mall_reply_error(ctx, 403, "FORBIDDEN", "changing status "
                                "requires the admin role");
    }
    rc = merch_run(ctx, id, 0, "product.update", edit_patch, &arg, 200);
    cJSON_Delete(body);
    return rc;
}


static int
edit_delist(mall_ctx_t *ctx, catalog_product_t *a, void *arg, mall_err_t *err)
{
    (void) ctx;
    (void) arg;
    (void) err;
    a->on_sale = 0;
    return MALL_OK;
}


static int
merch_product_delete(mall_ctx_t *ctx)
{
    int64_t  id;

    if (merch_role(ctx, 1, "product.delist") != MALL_OK
        || sf_target(ctx, "id", "no such product", &id, NULL) != MALL_OK)
    {
        return MALL_OK;
    }
    return merch_run(ctx, id, 0, "product.delist", edit_delist, NULL, 200);
}


static int
merch_product_get(mall_ctx_t *ctx)
{
    catalog_product_t        p;
    mall_err_t  err;
    int64_t     id;
    int         rc;

    if (merch_role(ctx, 0, "product.read") != MALL_OK
        || sf_target(ctx, "id", "no such product", &id, NULL) != MALL_OK)
    {
        return MALL_OK;
    }
    rc = catalog_product_load(ctx, id, &p, &err);
    mall_unwatch(ctx->redis);
    if (rc == MALL_OK && !p.exists) {
        rc = mall_reply_error(ctx, 404, "NOT_FOUND", "no such product");
    } else if (rc == MALL_OK) {
        rc = merch_reply(ctx, 200, &p);
    }
    catalog_product_free(&p);
    return rc;
}
