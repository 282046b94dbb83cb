/*
 * Shipping addresses: /api/v1/addresses[/{id}].
 *
 *   mall:seq:address            string  address ids (INCR)
 *   mall:addr:{uid}             hash    address id -> sealed record
 *   mall:addr:{uid}:ids         zset    address id -> id (creation order)
 *   mall:addr:{uid}:default     string  the default address id
 *
 * The whole record (name, phone, province, city, district, detail,
 * created_at) is one JSON document sealed with mall_seal (AES-256-GCM,
 * random nonce, key id in the value) under aad "mall:addr:{uid}:{id}", so
 * Redis never holds a phone number or an address in clear and a record
 * copied to another user or id does not open. Responses mask the phone
 * unless the owner asks GET /addresses/{id}?reveal=phone.
 *
 * Invariant: when a user has addresses, exactly one is the default (the
 * first one is; deleting or un-defaulting it promotes the oldest other).
 * Writes WATCH the id set and the default key, then MULTI/EXEC.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "address_record.h"
#include "address_rules.h"
#include "catalog.h"
#include "mall_batch.h"
#include "mall_json.h"
#include "mall_reply.h"
#include "mall_seal.h"
#include "storefront.h"

#define ADDR_MAX         20
#define ADDR_TRIES       5

static int addr_create(mall_ctx_t *ctx);
static int addr_list(mall_ctx_t *ctx);
static int addr_get(mall_ctx_t *ctx);
static int addr_patch(mall_ctx_t *ctx);
static int addr_delete(mall_ctx_t *ctx);

const mall_route_t  mall_address_routes[] = {
    { "POST", "/api/v1/addresses", addr_create, 0 },
    { "GET", "/api/v1/addresses", addr_list, 0 },
    { "GET", "/api/v1/addresses/{id}", addr_get, 0 },
    { "PATCH", "/api/v1/addresses/{id}", addr_patch, 0 },
    { "DELETE", "/api/v1/addresses/{id}", addr_delete, 0 },
    { NULL, NULL, NULL, 0 }
};

static int
addr_watch(mall_ctx_t *ctx, const addr_keys_t *k, mall_err_t *err)
{
    redisReply  *r;
    int          rc;

    rc = mall_cmd(ctx->redis, &r, err, 4, "WATCH", k->ids, k->def, k->hash);
    if (rc == MALL_OK) {
        freeReplyObject(r);
    }
    return rc;
}


/* GET of a string key holding an id; 0 when absent. */
static int
addr_get_id(mall_ctx_t *ctx, const char *key, int64_t *id, mall_err_t *err)
{
    redisReply  *r;
    int          rc;

    rc = mall_cmd(ctx->redis, &r, err, 2, "GET", key);
    if (rc != MALL_OK) {
        return rc;
    }
    *id = 0;
    catalog_reply_int(r, id);
    freeReplyObject(r);
    return MALL_OK;
}


/*
 * Ends a write whose WATCH loop stopped with rc (MALL_BATCH_ABORTED: every
 * try lost a race). Replies 409 or hands the failure to sf_fail.
 */
static int
addr_end(mall_ctx_t *ctx, int rc, const char *what, mall_err_t *err)
{
    mall_unwatch(ctx->redis);
    if (ctx->replied) {
        return MALL_OK;
    }
    if (rc == MALL_BATCH_ABORTED) {
        return mall_reply_error(ctx, 409, "CONFLICT", "addresses changed "
                                "concurrently; try again");
    }
    return sf_fail(ctx, rc, what, err);
}


static int
addr_reply_one(mall_ctx_t *ctx, int status, const cJSON *rec, int64_t id,
    int is_default, int reveal)
{
    cJSON  *o;
    int     rc;

    o = addr_view(rec, id, is_default, reveal);
    if (o == NULL) {
        return MALL_ERR;
    }
    rc = sf_reply(ctx, status, o);
    cJSON_Delete(o);
    return rc;
}


static int
addr_create(mall_ctx_t *ctx)
{
    char          uid[SF_UID_MAX], sealed[ADDR_SEALED_MAX], sid[24];
    addr_keys_t   k;
    cJSON        *body, *rec;
    redisReply   *r;
    mall_batch_t  b;
    mall_err_t    err;
    int64_t       id, def;
    long long     count;
    int           rc, tries, is_default, make_default;

    if (sf_require_user(ctx, uid) != MALL_OK || sf_body(ctx, &body)
                                                != MALL_OK)
    {
        return MALL_OK;
    }
    rec = cJSON_CreateObject();
    if (rec == NULL) {
        cJSON_Delete(body);
        return MALL_ERR;
    }
    rc = addr_validate(ctx, body, rec, 1, &is_default);
    cJSON_Delete(body);
    if (rc != MALL_OK) {
        cJSON_Delete(rec);
        return MALL_OK;
    }
    if (mall_json_add_int(rec, "created_at", (int64_t) time(NULL))
        != MALL_OK)
    {
        cJSON_Delete(rec);
        return MALL_ERR;
    }

    addr_keys(uid, &k);
    err.msg[0] = '\0';

    rc = mall_cmd(ctx->redis, &r, &err, 2, "INCR", "mall:seq:address");
    if (rc != MALL_OK) {
        cJSON_Delete(rec);
        return sf_fail(ctx, rc, "address id", &err);
    }
    id = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
    freeReplyObject(r);
    snprintf(sid, sizeof(sid), "%lld", (long long) id);

    rc = addr_seal(ctx, uid, id, rec, sealed, sizeof(sealed), &err);
    if (rc != MALL_OK) {
        cJSON_Delete(rec);
        return sf_fail(ctx, rc, "address seal", &err);
    }

    for (tries = 0; tries < ADDR_TRIES; tries++) {
        if ((rc = addr_watch(ctx, &k, &err)) != MALL_OK) {
            break;
        }
        rc = mall_cmd(ctx->redis, &r, &err, 2, "ZCARD", k.ids);
        if (rc != MALL_OK) {
            break;
        }
        count = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
        freeReplyObject(r);
        if (count >= ADDR_MAX) {
            mall_unwatch(ctx->redis);
            cJSON_Delete(rec);
            return mall_reply_error(ctx, 409, "CONFLICT", "at most %d "
                                    "addresses per user", ADDR_MAX);
        }
        if ((rc = addr_get_id(ctx, k.def, &def, &err)) != MALL_OK) {
            break;
        }
        make_default = is_default == 1 || count == 0 || def == 0;

        mall_batch_init(&b);
        mall_batch_addl(&b, 4, "HSET", k.hash, sid, sealed);
        mall_batch_addl(&b, 4, "ZADD", k.ids, sid, sid);
        if (make_default) {
            mall_batch_addl(&b, 3, "SET", k.def, sid);
        }
        rc = mall_batch_exec(&b, ctx->redis, 1, NULL, &err);
        mall_batch_free(&b);
        if (rc == MALL_OK) {
            rc = addr_reply_one(ctx, 201, rec, id, make_default, 0);
            cJSON_Delete(rec);
            return rc;
        }
        if (rc != MALL_BATCH_ABORTED) {
            break;
        }
    }
    cJSON_Delete(rec);
    return addr_end(ctx, rc, "address create", &err);
}


static int
addr_list(mall_ctx_t *ctx)
{
    char               uid[SF_UID_MAX];
    addr_keys_t        k;
    mall_redis_cmd_t   cmds[3];
    redisReply        *reps[3];
    const char        *argv[3][5];
    cJSON             *root, *items, *rec, *o;
    mall_err_t         err;
    int64_t            id, def;
    size_t             i;
    int                rc;

    if (sf_require_user(ctx, uid) != MALL_OK) {
        return MALL_OK;
    }
    addr_keys(uid, &k);
    memset(reps, 0, sizeof(reps));
    root = NULL;
    err.msg[0] = '\0';

    argv[0][0] = "ZRANGE"; argv[0][1] = k.ids; argv[0][2] = "0";
    argv[0][3] = "-1";
    argv[1][0] = "HGETALL"; argv[1][1] = k.hash;
    argv[2][0] = "GET"; argv[2][1] = k.def;
    cmds[0].argc = 4;
    cmds[1].argc = 2;
    cmds[2].argc = 2;
    for (i = 0; i < 3; i++) {
        cmds[i].argv = argv[i];
        cmds[i].argvlen = NULL;
    }
    rc = mall_redis_pipeline(ctx->redis, 3, cmds, reps, &err);
    if (rc != MALL_OK) {
        goto done;
    }
    rc = MALL_ERR;
    if (reps[0]->type != REDIS_REPLY_ARRAY
        || reps[1]->type != REDIS_REPLY_ARRAY)
    {
        goto done;
    }
    def = 0;
    catalog_reply_int(reps[2], &def);

    root = cJSON_CreateObject();
    items = root != NULL ? cJSON_AddArrayToObject(root, "items") : NULL;
    if (items == NULL) {
        goto done;
    }
    for (i = 0; i < reps[0]->elements; i++) {
        const redisReply  *sealed;

        if (catalog_reply_int(reps[0]->element[i], &id) != MALL_OK) {
            continue;
        }
        sealed = mall_redis_hash_field(reps[1], reps[0]->element[i]->str);
        rec = sealed != NULL && sealed->type == REDIS_REPLY_STRING
              ? addr_open(ctx, uid, id, sealed->str, sealed->len) : NULL;
        if (rec == NULL) {
            continue;   /* unreadable (key retired?): not shown */
        }
        o = addr_view(rec, id, id == def, 0);
        cJSON_Delete(rec);
        if (o == NULL || !cJSON_AddItemToArray(items, o)) {
            cJSON_Delete(o);
            goto done;
        }
    }
    if (mall_json_add_int(root, "total", cJSON_GetArraySize(items))
        != MALL_OK)
    {
        goto done;
    }
    rc = sf_reply(ctx, 200, root);

done:
    if (rc == MALL_ERR && !ctx->replied) {
        sf_log_fail(ctx, "address list", &err);
    }
    cJSON_Delete(root);
    mall_redis_free_replies(reps, 3);
    return rc;
}


/*
 * Loads address id of uid: *rec (caller deletes) and *def (the default
 * id). MALL_OK, MALL_ERR after a 404 reply (*rec NULL), MALL_RETRY.
 */
static int
addr_load(mall_ctx_t *ctx, const char *uid, const addr_keys_t *k,
    int64_t id, cJSON **rec, int64_t *def, mall_err_t *err)
{
    redisReply  *r;
    char         sid[24];
    int          rc;

    *rec = NULL;
    snprintf(sid, sizeof(sid), "%lld", (long long) id);
    rc = mall_cmd(ctx->redis, &r, err, 3, "HGET", k->hash, sid);
    if (rc != MALL_OK) {
        return rc;
    }
    if (r->type == REDIS_REPLY_STRING) {
        *rec = addr_open(ctx, uid, id, r->str, r->len);
    }
    freeReplyObject(r);
    if (*rec == NULL) {
        mall_reply_error(ctx, 404, "NOT_FOUND", "no such address");
        return MALL_ERR;
    }
    rc = addr_get_id(ctx, k->def, def, err);
    if (rc != MALL_OK) {
        cJSON_Delete(*rec);
        *rec = NULL;
    }
    return rc;
}


static int
addr_get(mall_ctx_t *ctx)
{
    char          uid[SF_UID_MAX];
    const char   *reveal;
    addr_keys_t   k;
    cJSON        *rec;
    mall_err_t    err;
    int64_t       id, def;
    int           rc;

    if (sf_require_user(ctx, uid) != MALL_OK
        || sf_target(ctx, "id", "no such address", &id, NULL) != MALL_OK)
    {
        return MALL_OK;
    }
    reveal = mall_query_get(&ctx->query, "reveal");
    if (reveal != NULL && strcmp(reveal, "phone") != 0) {
        return mall_reply_error(ctx, 400, "VALIDATION_FAILED",
                                "reveal must be \"phone\"");
    }
    addr_keys(uid, &k);
    err.msg[0] = '\0';
    rc = addr_load(ctx, uid, &k, id, &rec, &def, &err);
    if (rc != MALL_OK) {
        return sf_fail(ctx, rc, "address get", &err);
    }
    rc = addr_reply_one(ctx, 200, rec, id, id == def, reveal != NULL);
    cJSON_Delete(rec);
    return rc;
}


/* The oldest address other than id; 0 when none. */
static int
addr_oldest_other(mall_ctx_t *ctx, const addr_keys_t *k, int64_t id,
    int64_t *other, mall_err_t *err)
{
    redisReply  *r;
    size_t       i;
    int64_t      v;
    int          rc;

    rc = mall_cmd(ctx->redis, &r, err, 4, "ZRANGE", k->ids, "0", "1");
    if (rc != MALL_OK) {
        return rc;
    }
    *other = 0;
    for (i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        if (catalog_reply_int(r->element[i], &v) == MALL_OK && v != id) {
            *other = v;
            break;
        }
    }
    freeReplyObject(r);
    return MALL_OK;
}


static int
addr_patch(mall_ctx_t *ctx)
{
    char          uid[SF_UID_MAX], sealed[ADDR_SEALED_MAX], sid[24], so[24];
    addr_keys_t   k;
    cJSON        *body, *rec;
    mall_batch_t  b;
    mall_err_t    err;
    int64_t       id, def, other, new_def;
    int           rc, tries, is_default;

    if (sf_require_user(ctx, uid) != MALL_OK
        || sf_target(ctx, "id", "no such address", &id, &body) != MALL_OK)
    {
        return MALL_OK;
    }
    addr_keys(uid, &k);
    snprintf(sid, sizeof(sid), "%lld", (long long) id);
    err.msg[0] = '\0';
    rc = MALL_BATCH_ABORTED;

    for (tries = 0; tries < ADDR_TRIES; tries++) {
        if ((rc = addr_watch(ctx, &k, &err)) != MALL_OK) {
            break;
        }
        rc = addr_load(ctx, uid, &k, id, &rec, &def, &err);
        if (rc != MALL_OK) {
            mall_unwatch(ctx->redis);
            break;
        }
        if (addr_validate(ctx, body, rec, 0, &is_default) != MALL_OK) {
            mall_unwatch(ctx->redis);
            cJSON_Delete(rec);
            cJSON_Delete(body);
            return MALL_OK;
        }
        rc = addr_seal(ctx, uid, id, rec, sealed, sizeof(sealed), &err);
        if (rc != MALL_OK) {
            mall_unwatch(ctx->redis);
            cJSON_Delete(rec);
            break;
        }

        new_def = def;
        if (is_default == 1) {
            new_def = id;
        } else if (is_default == 0 && def == id) {
            rc = addr_oldest_other(ctx, &k, id, &other, &err);
            if (rc != MALL_OK) {
                cJSON_Delete(rec);
                break;
            }
            new_def = other != 0 ? other : id;   /* the only one stays */
        }

        mall_batch_init(&b);
        mall_batch_addl(&b, 4, "HSET", k.hash, sid, sealed);
        if (new_def != def) {
            snprintf(so, sizeof(so), "%lld", (long long) new_def);
            mall_batch_addl(&b, 3, "SET", k.def, so);
        }
        rc = mall_batch_exec(&b, ctx->redis, 1, NULL, &err);
        mall_batch_free(&b);
        if (rc == MALL_OK) {
            rc = addr_reply_one(ctx, 200, rec, id, new_def == id, 0);
            cJSON_Delete(rec);
            cJSON_Delete(body);
            return rc;
        }
        cJSON_Delete(rec);
        if (rc != MALL_BATCH_ABORTED) {
            break;
        }
    }
    cJSON_Delete(body);
    return addr_end(ctx, rc, "address patch", &err);
}


static int
addr_delete(mall_ctx_t *ctx)
{
    char          uid[SF_UID_MAX], sid[24], so[24];
    addr_keys_t   k;
    redisReply   *r;
    mall_batch_t  b;
    mall_err_t    err;
    int64_t       id, def, other;
    int           rc, tries, exists;

    if (sf_require_user(ctx, uid) != MALL_OK
        || sf_target(ctx, "id", "no such address", &id, NULL) != MALL_OK)
    {
        return MALL_OK;
    }
    addr_keys(uid, &k);
    snprintf(sid, sizeof(sid), "%lld", (long long) id);
    err.msg[0] = '\0';
    rc = MALL_BATCH_ABORTED;

    for (tries = 0; tries < ADDR_TRIES; tries++) {
        if ((rc = addr_watch(ctx, &k, &err)) != MALL_OK) {
            break;
        }
        rc = mall_cmd(ctx->redis, &r, &err, 3, "HEXISTS", k.hash, sid);
        if (rc != MALL_OK) {
            break;
        }
        exists = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
        freeReplyObject(r);
        if (!exists) {
            mall_unwatch(ctx->redis);
            return mall_reply_error(ctx, 404, "NOT_FOUND",
                                    "no such address");
        }
        if ((rc = addr_get_id(ctx, k.def, &def, &err)) != MALL_OK
            || (rc = addr_oldest_other(ctx, &k, id, &other, &err))
               != MALL_OK)
        {
            break;
        }

        mall_batch_init(&b);
        mall_batch_addl(&b, 3, "HDEL", k.hash, sid);
        mall_batch_addl(&b, 3, "ZREM", k.ids, sid);
        if (def == id || def == 0) {
            if (other != 0) {
                snprintf(so, sizeof(so), "%lld", (long long) other);
                mall_batch_addl(&b, 3, "SET", k.def, so);
            } else {
                mall_batch_addl(&b, 2, "DEL", k.def);
            }
        }
        rc = mall_batch_exec(&b, ctx->redis, 1, NULL, &err);
        mall_batch_free(&b);
        if (rc == MALL_OK) {
            return sf_reply_ack(ctx, 200, "address_id", id, "deleted");
        }
        if (rc != MALL_BATCH_ABORTED) {
            break;
        }
    }
    return addr_end(ctx, rc, "address delete", &err);
}
