/*
 * Audit stream writer and reader (see mall_audit.h).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mall_audit.h"
#include "mall_ctx.h"
#include "mall_json.h"
#include "mall_log.h"
#include "mall_query.h"


int
mall_audit_append(mall_redis_t *r, const char *actor, const char *action,
    const char *result, const char *ip, const char *request_id,
    const mall_audit_field_t *extra, size_t nextra, mall_err_t *err)
{
    const char  *argv[6 + 12 + 2 * MALL_AUDIT_EXTRA];
    size_t       argvlen[MALL_ARRAY_LEN(argv)];
    redisReply  *reply;
    char         ts[24];
    size_t       i;
    int          argc, rc;

    if (nextra > MALL_AUDIT_EXTRA) {
        return mall_err_set(err, 0, "too many audit fields");
    }
    snprintf(ts, sizeof(ts), "%lld", (long long) time(NULL));

    argc = 0;
    argv[argc++] = "XADD";
    argv[argc++] = MALL_AUDIT_STREAM;
    argv[argc++] = "MAXLEN";
    argv[argc++] = "~";
    argv[argc++] = MALL_AUDIT_MAXLEN;
    argv[argc++] = "*";
    argv[argc++] = "ts";
    argv[argc++] = ts;
    argv[argc++] = "actor";
    argv[argc++] = actor != NULL && actor[0] ? actor : "-";
    argv[argc++] = "action";
    argv[argc++] = action;
    argv[argc++] = "result";
    argv[argc++] = result;
    argv[argc++] = "ip";
    argv[argc++] = ip != NULL && ip[0] ? ip : "-";
    argv[argc++] = "request_id";
    argv[argc++] = request_id != NULL && request_id[0] ? request_id : "-";
    for (i = 0; i < nextra; i++) {
        argv[argc++] = extra[i].name;
        argv[argc++] = extra[i].value != NULL ? extra[i].value : "";
    }
    for (i = 0; i < (size_t) argc; i++) {
        argvlen[i] = strlen(argv[i]);
    }

    rc = mall_redis_command(r, &reply, err, argc, argv, argvlen);
    if (rc == MALL_OK) {
        freeReplyObject(reply);
    }
    return rc;
}


int
mall_audit_ctx(struct mall_ctx_s *ctx, const char *actor, const char *action,
    const char *result, const mall_audit_field_t *extra, size_t nextra)
{
    mall_err_t  err;
    int         rc;

    rc = mall_audit_append(ctx->redis, actor, action, result,
                           ctx->ident.client_ip, ctx->request_id, extra,
                           nextra, &err);
    if (rc != MALL_OK) {
        mall_log_req(MALL_LOG_ERROR, "audit", ctx->request_id,
                     ctx->ident.user, "cannot audit %s by %s: %s", action,
                     actor, err.msg);
    }
    return rc;
}


/* One XREVRANGE entry [id, [k, v, ...]] as an object; NULL on failure. */
static cJSON *
audit_entry_json(const redisReply *e)
{
    const redisReply  *kv;
    cJSON             *o;
    long long          v;
    size_t             i;

    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2
        || e->element[0]->type != REDIS_REPLY_STRING
        || e->element[1]->type != REDIS_REPLY_ARRAY)
    {
        return NULL;
    }
    o = cJSON_CreateObject();
    if (o == NULL || mall_json_add_str(o, "id", e->element[0]->str)
                     != MALL_OK)
    {
        cJSON_Delete(o);
        return NULL;
    }

    kv = e->element[1];
    for (i = 0; i + 1 < kv->elements; i += 2) {
        if (kv->element[i]->type != REDIS_REPLY_STRING
            || kv->element[i + 1]->type != REDIS_REPLY_STRING
            || cJSON_GetObjectItemCaseSensitive(o, kv->element[i]->str)
               != NULL)
        {
            continue;
        }
        if (strcmp(kv->element[i]->str, "ts") == 0
            && mall_parse_int(kv->element[i + 1]->str, 0, 1LL << 40, &v)
               == MALL_OK)
        {
            if (mall_json_add_int(o, "ts", v) != MALL_OK) {
                cJSON_Delete(o);
                return NULL;
            }
            continue;
        }
        if (mall_json_add_str(o, kv->element[i]->str,
                              kv->element[i + 1]->str) != MALL_OK)
        {
            cJSON_Delete(o);
            return NULL;
        }
    }
    return o;
}


int
mall_audit_list(mall_redis_t *r, long count, cJSON **out, mall_err_t *err)
{
    return mall_stream_recent(r, MALL_AUDIT_STREAM, count, out, err);
}


int
mall_stream_recent(mall_redis_t *r, const char *stream, long count,
    cJSON **out, mall_err_t *err)
{
    return mall_stream_range(r, stream, "+", count, out, err);
}


int
mall_stream_range(mall_redis_t *r, const char *stream, const char *start,
    long count, cJSON **out, mall_err_t *err)
{
    const char  *argv[6];
    size_t       argvlen[6], i;
    redisReply  *reply;
    cJSON       *arr, *o;
    char         n[24];
    int          rc;

    *out = NULL;
    snprintf(n, sizeof(n), "%ld", count);
    argv[0] = "XREVRANGE"; argv[1] = stream;
    argv[2] = start; argv[3] = "-"; argv[4] = "COUNT"; argv[5] = n;
    for (i = 0; i < 6; i++) {
        argvlen[i] = strlen(argv[i]);
    }

    rc = mall_redis_command(r, &reply, err, 6, argv, argvlen);
    if (rc != MALL_OK) {
        return rc;
    }

    rc = MALL_ERR;
    arr = cJSON_CreateArray();
    if (arr == NULL || reply->type != REDIS_REPLY_ARRAY) {
        mall_err_set(err, 0, "unexpected XREVRANGE reply");
        goto done;
    }
    for (i = 0; i < reply->elements; i++) {
        o = audit_entry_json(reply->element[i]);
        if (o == NULL || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            mall_err_set(err, 0, "out of memory");
            goto done;
        }
    }
    *out = arr;
    arr = NULL;
    rc = MALL_OK;

done:
    cJSON_Delete(arr);
    freeReplyObject(reply);
    return rc;
}
