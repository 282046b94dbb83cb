/*
 * Merchant category routes: create, rename / re-sort, delete (see
 * merchant.h). A rename re-saves the products under the category through
 * the catalog writer (their detail paths and search terms carry it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "catalog_keys.h"
#include "mall_audit.h"
#include "mall_json.h"
#include "mall_reply.h"
#include "merchant.h"
#include "storefront.h"

#define MERCH_TRIES  8

static int merch_cat_create(mall_ctx_t *ctx);
static int merch_cat_patch(mall_ctx_t *ctx);
static int merch_cat_delete(mall_ctx_t *ctx);

const mall_route_t  mall_merchant_category_routes[] = {
    { "POST", "/admin/api/v1/categories", merch_cat_create, 0 },
    { "PATCH", "/admin/api/v1/categories/{id}", merch_cat_patch, 0 },
    { "DELETE", "/admin/api/v1/categories/{id}", merch_cat_delete, 0 },
    { NULL, NULL, NULL, 0 }
};


static int
cat_purge_audit(mall_ctx_t *ctx, const char *action, int64_t id,
    const char *before, const char *after, mall_batch_t *b, mall_err_t *err)
{
    mall_audit_field_t  f[3];
    char                tags[64], sid[24];
    int                 rc;

    snprintf(tags, sizeof(tags), "category:%lld categories list search",
             (long long) id);
    mall_batch_addl(b, 8, "XADD", CATALOG_KEY_PURGE, "MAXLEN", "~", "10000",
                    "*", "tags", tags);
    rc = mall_batch_exec(b, ctx->redis, 1, NULL, err);
    if (rc != MALL_OK) {
        return rc;
    }
    snprintf(sid, sizeof(sid), "%lld", (long long) id);
    f[0].name = "category_id"; f[0].value = sid;
    f[1].name = "before"; f[1].value = before;
    f[2].name = "after"; f[2].value = after;
    mall_audit_ctx(ctx, ctx->ident.user, action, "ok", f, 3);
    return MALL_OK;
}


static cJSON *
cat_json(int64_t id, int64_t parent, int64_t level, const char *name,
    const char *name_en, int64_t sort)
{
    cJSON  *o = cJSON_CreateObject();

    if (o == NULL || mall_json_add_int(o, "id", id) != MALL_OK
        || mall_json_add_int(o, "parent_id", parent) != MALL_OK
        || mall_json_add_int(o, "level", level) != MALL_OK
        || mall_json_add_str(o, "name", name) != MALL_OK
        || mall_json_add_str(o, "name_en", name_en) != MALL_OK
        || mall_json_add_int(o, "sort", sort) != MALL_OK)
    {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}


static int
merch_cat_create(mall_ctx_t *ctx)
{
    char          name[CATALOG_TEXT_MAX], name_en[CATALOG_TEXT_MAX];
    char          key[48], sid[24];
    char          sp[24], sl[24], ss[24], *after;
    cJSON        *body, *o;
    catalog_product_t          chain;
    mall_batch_t  b;
    mall_err_t    err;
    int64_t       id, parent, sort, level;
    int           rc;

    if (merch_role(ctx, 1, "category.create") != MALL_OK
        || sf_body(ctx, &body) != MALL_OK)
    {
        return MALL_OK;
    }
    name_en[0] = '\0';
    err.code = 0;
    parent = 0;
    sort = 1000;
    if (merch_body_text(body, "name", name, sizeof(name), 1, &err) != MALL_OK
        || merch_body_text(body, "name_en", name_en, sizeof(name_en), 0, &err)
           != MALL_OK
        || (cJSON_GetObjectItemCaseSensitive(body, "parent_id") != NULL
            && mall_json_get_int(cJSON_GetObjectItemCaseSensitive(body,
                   "parent_id"), 0, CATALOG_ID_MAX, &parent) != MALL_OK)
        || (cJSON_GetObjectItemCaseSensitive(body, "sort") != NULL
            && mall_json_get_int(cJSON_GetObjectItemCaseSensitive(body,
                   "sort"), 0, 1000000000, &sort) != MALL_OK))
    {
        cJSON_Delete(body);
        return mall_reply_error(ctx, 422, "VALIDATION_FAILED", "%s",
                                err.code ? err.msg
                                : "parent_id and sort must be integers");
    }
    cJSON_Delete(body);
    if (name_en[0] == '\0') {
        memcpy(name_en, name, sizeof(name_en));
    }
    memset(&chain, 0, sizeof(chain));
    rc = catalog_product_load_chain(ctx, parent, &chain, &err);
    if (rc != MALL_OK) {
        return rc == MALL_RETRY ? MALL_RETRY
               : mall_reply_error(ctx, 422, "VALIDATION_FAILED",
                                  "unknown parent_id");
    }
    level = (int64_t) chain.nchain + 1;
    if (level > CATALOG_MAX_DEPTH - 1) {
        return mall_reply_error(ctx, 422, "VALIDATION_FAILED",
                                "categories nest at most %d levels",
                                CATALOG_MAX_DEPTH - 1);
    }
    rc = merch_next_id(ctx, "category", &id, &err);
    if (rc != MALL_OK) {
        return rc == MALL_RETRY ? MALL_RETRY : MALL_ERR;
    }
    snprintf(key, sizeof(key), CATALOG_KEY_CAT_FMT, (long long) id);
    snprintf(sid, sizeof(sid), "%lld", (long long) id);
    snprintf(sp, sizeof(sp), "%lld", (long long) parent);
    snprintf(sl, sizeof(sl), "%lld", (long long) level);
    snprintf(ss, sizeof(ss), "%lld", (long long) sort);
    mall_batch_init(&b);
    mall_batch_addl(&b, 14, "HSET", key, "id", sid, "parent_id", sp,
                    "level", sl, "name_zh", name, "name_en", name_en,
                    "sort", ss);
    mall_batch_addl(&b, 4, "ZADD", CATALOG_KEY_CATS, ss, sid);
    o = cat_json(id, parent, level, name, name_en, sort);
    after = o != NULL ? cJSON_PrintUnformatted(o) : NULL;
    rc = cat_purge_audit(ctx, "category.create", id, "null",
                         after != NULL ? after : "?", &b, &err);
    cJSON_free(after);
    mall_batch_free(&b);
    if (rc != MALL_OK) {
        cJSON_Delete(o);
        return rc == MALL_RETRY ? MALL_RETRY : MALL_ERR;
    }
    return mall_reply_json_drop(ctx, 201, o);
}


/* Re-saves every product of category id (names changed in its path). */
static void
cat_reindex(mall_ctx_t *ctx, int64_t id)
{
    redisReply  *r;
    mall_err_t   err;
    char         key[48];
    int64_t      pid;
    size_t       i;
    catalog_product_t         before, after;
    int          rc, tries;

    snprintf(key, sizeof(key), CATALOG_KEY_CAT_PRODUCTS, (long long) id);
    if (mall_cmd(ctx->redis, &r, &err, 2, "SMEMBERS", key) != MALL_OK) {
        return;
    }
    for (i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        if (catalog_reply_int(r->element[i], &pid) != MALL_OK) {
            continue;
        }
        for (tries = 0; tries < MERCH_TRIES; tries++) {
            rc = catalog_product_load(ctx, pid, &before, &err);
            if (rc == MALL_OK && before.exists
                && catalog_product_copy(&before, &after) == MALL_OK)
            {
                rc = merch_commit(ctx, &before, &after, &err);
                catalog_product_free(&after);
            }
            catalog_product_free(&before);
            if (rc != MALL_BATCH_ABORTED) {
                break;
            }
        }
        mall_unwatch(ctx->redis);
    }
    freeReplyObject(r);
}


static int
merch_cat_patch(mall_ctx_t *ctx)
{
    char          name[CATALOG_TEXT_MAX], name_en[CATALOG_TEXT_MAX];
    char          key[48], ss[24];
    char         *before, *after;
    cJSON        *body, *o, *ob;
    redisReply   *r;
    mall_batch_t  b;
    mall_err_t    err;
    int64_t       id, parent, level, sort;
    int           rc, renamed;

    if (merch_role(ctx, 1, "category.update") != MALL_OK) {
        return MALL_OK;
    }
    id = sf_param_id(ctx, "id");
    snprintf(key, sizeof(key), CATALOG_KEY_CAT_FMT, (long long) id);
    rc = mall_cmd(ctx->redis, &r, &err, 8, "HMGET", key, "id", "parent_id",
                  "level", "name_zh", "name_en", "sort");
    if (rc != MALL_OK) {
        return rc == MALL_RETRY ? MALL_RETRY : MALL_ERR;
    }
    if (id == 0 || r->type != REDIS_REPLY_ARRAY || r->elements != 6
        || r->element[0]->type != REDIS_REPLY_STRING)
    {
        freeReplyObject(r);
        return mall_reply_error(ctx, 404, "NOT_FOUND", "no such category");
    }
    parent = level = sort = 0;
    catalog_reply_int(r->element[1], &parent);
    catalog_reply_int(r->element[2], &level);
    merch_copy_str(name, sizeof(name), r->element[3]);
    merch_copy_str(name_en, sizeof(name_en), r->element[4]);
    catalog_reply_int(r->element[5], &sort);
    freeReplyObject(r);
    ob = cat_json(id, parent, level, name, name_en, sort);
    before = ob != NULL ? cJSON_PrintUnformatted(ob) : NULL;
    cJSON_Delete(ob);

    if (sf_body(ctx, &body) != MALL_OK) {
        cJSON_free(before);
        return MALL_OK;
    }
    err.code = 0;
    if (cJSON_GetObjectItemCaseSensitive(body, "parent_id") != NULL) {
        cJSON_Delete(body);
        cJSON_free(before);
        return sf_reply_invalid(ctx, "parent_id", "a category cannot move; "
                                "create a new one");
    }
    if (merch_body_text(body, "name", name, sizeof(name), 0, &err) != MALL_OK
        || merch_body_text(body, "name_en", name_en, sizeof(name_en), 0, &err)
           != MALL_OK
        || (cJSON_GetObjectItemCaseSensitive(body, "sort") != NULL
            && mall_json_get_int(cJSON_GetObjectItemCaseSensitive(body,
                   "sort"), 0, 1000000000, &sort) != MALL_OK))
    {
        cJSON_Delete(body);
        cJSON_free(before);
        return mall_reply_error(ctx, 422, "VALIDATION_FAILED", "%s",
                                err.code ? err.msg : "sort must be an "
                                "integer");
    }
    renamed = cJSON_GetObjectItemCaseSensitive(body, "name") != NULL
              || cJSON_GetObjectItemCaseSensitive(body, "name_en") != NULL;
    cJSON_Delete(body);

    snprintf(ss, sizeof(ss), "%lld", (long long) sort);
    mall_batch_init(&b);
    mall_batch_addl(&b, 8, "HSET", key, "name_zh", name, "name_en", name_en,
                    "sort", ss);
    {
        char  sid[24];

        snprintf(sid, sizeof(sid), "%lld", (long long) id);
        mall_batch_addl(&b, 4, "ZADD", CATALOG_KEY_CATS, ss, sid);
    }
    o = cat_json(id, parent, level, name, name_en, sort);
    after = o != NULL ? cJSON_PrintUnformatted(o) : NULL;
    rc = cat_purge_audit(ctx, "category.update", id,
                         before != NULL ? before : "?",
                         after != NULL ? after : "?", &b, &err);
    cJSON_free(before);
    cJSON_free(after);
    mall_batch_free(&b);
    if (rc != MALL_OK) {
        cJSON_Delete(o);
        return rc == MALL_RETRY ? MALL_RETRY : MALL_ERR;
    }
    if (renamed) {
        cat_reindex(ctx, id);   /* detail paths and search terms */
    }
    return mall_reply_json_drop(ctx, 200, o);
}


static int
merch_cat_delete(mall_ctx_t *ctx)
{
    char          key[48], pkey[48], sid[24], *kid;
    redisReply   *r;
    mall_batch_t  b;
    mall_err_t    err;
    cJSON        *o;
    int64_t       id, parent;
    size_t        i;
    int           rc, busy;

    if (merch_role(ctx, 1, "category.delete") != MALL_OK) {
        return MALL_OK;
    }
    id = sf_param_id(ctx, "id");
    snprintf(key, sizeof(key), CATALOG_KEY_CAT_FMT, (long long) id);
    snprintf(pkey, sizeof(pkey), CATALOG_KEY_CAT_PRODUCTS, (long long) id);
    snprintf(sid, sizeof(sid), "%lld", (long long) id);
    rc = mall_cmd(ctx->redis, &r, &err, 3, "HGET", key, "id");
    if (rc != MALL_OK) {
        return rc == MALL_RETRY ? MALL_RETRY : MALL_ERR;
    }
    busy = r->type != REDIS_REPLY_STRING;
    freeReplyObject(r);
    if (id == 0 || busy) {
        return mall_reply_error(ctx, 404, "NOT_FOUND", "no such category");
    }

    /* refuse while products or children remain (a SCARD/scan, then the
     * delete; a product added in between keeps its own category hash) */
    rc = mall_cmd(ctx->redis, &r, &err, 2, "SCARD", pkey);
    if (rc != MALL_OK) {
        return rc == MALL_RETRY ? MALL_RETRY : MALL_ERR;
    }
    busy = r->type == REDIS_REPLY_INTEGER && r->integer > 0;
    freeReplyObject(r);
    if (!busy) {
        rc = mall_cmd(ctx->redis, &r, &err, 4, "ZRANGE", CATALOG_KEY_CATS,
                      "0", "-1");
        if (rc != MALL_OK) {
            return rc == MALL_RETRY ? MALL_RETRY : MALL_ERR;
        }
        for (i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements && !busy;
             i++)
        {
            redisReply  *c;
            char         ck[48];

            kid = r->element[i]->str;
            snprintf(ck, sizeof(ck), "mall:cat:%.30s", kid);
            if (mall_cmd(ctx->redis, &c, &err, 3, "HGET", ck, "parent_id")
                == MALL_OK)
            {
                busy = catalog_reply_int(c, &parent) == MALL_OK
                       && parent == id;
                freeReplyObject(c);
            }
        }
        freeReplyObject(r);
    }
    if (busy) {
        return mall_reply_error(ctx, 409, "CONFLICT", "the category still "
                                "has products or sub-categories");
    }
    mall_batch_init(&b);
    mall_batch_addl(&b, 2, "DEL", key);
    mall_batch_addl(&b, 2, "DEL", pkey);
    mall_batch_addl(&b, 3, "ZREM", CATALOG_KEY_CATS, sid);
    rc = cat_purge_audit(ctx, "category.delete", id, sid, "null", &b, &err);
    mall_batch_free(&b);
    if (rc != MALL_OK) {
        return rc == MALL_RETRY ? MALL_RETRY : MALL_ERR;
    }
    o = cJSON_CreateObject();
    if (o == NULL || mall_json_add_int(o, "id", id) != MALL_OK
        || cJSON_AddBoolToObject(o, "deleted", 1) == NULL)
    {
        cJSON_Delete(o);
        return MALL_ERR;
    }
    return mall_reply_json_drop(ctx, 200, o);
}
