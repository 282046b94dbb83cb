/*
 * Abnormal-order alerts for the merchant (docs/api.md):
 *
 *   GET /admin/api/v1/risk/alerts?status=open|resolved&limit=&cursor=
 *
 * newest first, from the stream mall:risk:alerts; an alert is open until
 * the unfreeze of its user resolves it (mall:risk:alerts:resolved). Staff
 * may read them; unfreezing is admin_auth.c's (role admin).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mall_audit.h"
#include "mall_batch.h"
#include "mall_json.h"
#include "mall_query.h"
#include "mall_reply.h"
#include "merchant.h"
#include "risk_store.h"
#include "storefront.h"

#define ALERTS_LIMIT_DEFAULT  50
#define ALERTS_LIMIT_MAX      200
#define ALERTS_PAGES_MAX      10         /* stream pages one listing reads */

static int risk_alerts_list(mall_ctx_t *ctx);

const mall_route_t  mall_risk_routes[] = {
    { "GET", "/admin/api/v1/risk/alerts", risk_alerts_list, 0 },
    { NULL, NULL, NULL, 0 }
};


/* A stream id "ms-seq". */
static int
alert_id_valid(const char *s)
{
    size_t  i, dash = 0, digits = 0;

    for (i = 0; s[i] != '\0'; i++) {
        if (s[i] == '-' && digits > 0 && dash == 0) {
            dash = i;
            digits = 0;
        } else if (s[i] >= '0' && s[i] <= '9' && i < 40) {
            digits++;
        } else {
            return 0;
        }
    }
    return dash > 0 && digits > 0;
}


/* The numeric members of an alert as numbers (they are stored as text). */
static void
alert_numbers(cJSON *o)
{
    static const char  *names[] = { "user_id", "value", "limit", "edge_score",
                                    "total_fen" };
    cJSON              *v;
    long long           n;
    size_t              i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        v = cJSON_GetObjectItemCaseSensitive(o, names[i]);
        if (!cJSON_IsString(v)) {
            continue;
        }
        if (v->valuestring[0] == '\0') {
            cJSON_ReplaceItemInObjectCaseSensitive(o, names[i],
                                                   cJSON_CreateNull());
        } else if (mall_parse_int(v->valuestring, -(1LL << 53), 1LL << 53,
                                  &n) == MALL_OK)
        {
            cJSON_ReplaceItemInObjectCaseSensitive(o, names[i],
                                                   cJSON_CreateNumber(
                                                       (double) n));
        }
    }
}


/*
 * Marks each alert of page open or resolved (one HMGET), moving those
 * that pass the filter (want: NULL for all) into out until it holds limit.
 * *last = the id of the last alert looked at. MALL_OK/ERR/RETRY.
 */
static int
alerts_filter(mall_ctx_t *ctx, cJSON *page, const char *want, int limit,
    cJSON *out, char *last, size_t lastsz, mall_err_t *err)
{
    const char  *argv[2 + ALERTS_LIMIT_MAX];
    redisReply  *res;
    cJSON       *o, *next, *id, *r;
    int          i, n, rc;

    n = cJSON_GetArraySize(page);
    if (n == 0) {
        return MALL_OK;
    }
    argv[0] = "HMGET";
    argv[1] = RISK_KEY_RESOLVED;
    for (i = 0; i < n; i++) {
        id = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(page, i),
                                              "id");
        argv[2 + i] = cJSON_IsString(id) ? id->valuestring : "-";
    }
    {
        size_t  lens[2 + ALERTS_LIMIT_MAX];

        for (i = 0; i < 2 + n; i++) {
            lens[i] = strlen(argv[i]);
        }
        rc = mall_redis_command(ctx->redis, &res, err, 2 + n, argv, lens);
    }
    if (rc != MALL_OK) {
        return rc;
    }
    if (res->type != REDIS_REPLY_ARRAY || (int) res->elements != n) {
        freeReplyObject(res);
        return mall_err_set(err, 500, "unexpected HMGET reply");
    }
    o = page->child;
    for (i = 0; o != NULL && i < n && cJSON_GetArraySize(out) < limit; i++) {
        next = o->next;
        snprintf(last, lastsz, "%s", argv[2 + i]);
        r = res->element[i]->type == REDIS_REPLY_STRING
            ? cJSON_Parse(res->element[i]->str) : NULL;
        if (want != NULL
            && strcmp(want, r != NULL ? "resolved" : "open") != 0)
        {
            cJSON_Delete(r);
            o = next;
            continue;
        }
        alert_numbers(o);
        if (mall_json_add_str(o, "status", r != NULL ? "resolved" : "open")
            != MALL_OK
            || !cJSON_AddItemToObject(o, "resolution",
                                      r != NULL ? r : cJSON_CreateNull()))
        {
            freeReplyObject(res);
            return mall_err_set(err, 500, "out of memory");
        }
        cJSON_AddItemToArray(out, cJSON_DetachItemViaPointer(page, o));
        o = next;
    }
    freeReplyObject(res);
    return MALL_OK;
}


static int
risk_alerts_list(mall_ctx_t *ctx)
{
    const char  *status, *cursor;
    char         start[64], last[64];
    long long    limit;
    cJSON       *root, *out, *page;
    mall_err_t   err;
    int          rc, pages, got, more;

    if (merch_role(ctx, 0, "risk.alerts") != MALL_OK) {
        return MALL_OK;
    }
    status = mall_query_get(&ctx->query, "status");
    if (status != NULL && strcmp(status, "open") != 0
        && strcmp(status, "resolved") != 0)
    {
        return sf_reply_invalid(ctx, "status", "status is open or resolved");
    }
    err.msg[0] = '\0';
    if (mall_query_int(&ctx->query, "limit", 1, ALERTS_LIMIT_MAX,
                       ALERTS_LIMIT_DEFAULT, &limit, &err) != MALL_OK)
    {
        return sf_reply_invalid(ctx, "limit", err.msg);
    }
    cursor = mall_query_get(&ctx->query, "cursor");
    if (cursor != NULL && cursor[0] != '\0' && !alert_id_valid(cursor)) {
        return sf_reply_invalid(ctx, "cursor", "not a cursor of this list");
    }
    if (cursor != NULL && cursor[0] != '\0') {
        snprintf(start, sizeof(start), "(%s", cursor);
    } else {
        snprintf(start, sizeof(start), "+");
    }

    out = cJSON_CreateArray();
    if (out == NULL) {
        return mall_reply_error(ctx, 500, "INTERNAL", "out of memory");
    }
    last[0] = '\0';
    more = 1;
    rc = MALL_OK;
    for (pages = 0; more && pages < ALERTS_PAGES_MAX
                    && cJSON_GetArraySize(out) < (int) limit; pages++)
    {
        rc = mall_stream_range(ctx->redis, RISK_KEY_ALERTS, start,
                               ALERTS_LIMIT_MAX, &page, &err);
        if (rc != MALL_OK) {
            break;
        }
        got = cJSON_GetArraySize(page);
        more = got == ALERTS_LIMIT_MAX;
        rc = alerts_filter(ctx, page, status, (int) limit, out, last,
                           sizeof(last), &err);
        cJSON_Delete(page);
        if (rc != MALL_OK || got == 0) {
            break;
        }
        snprintf(start, sizeof(start), "(%s", last);
    }
    if (rc != MALL_OK) {
        cJSON_Delete(out);
        return sf_fail(ctx, rc, "risk alerts", &err);
    }

    root = cJSON_CreateObject();
    if (root == NULL || !cJSON_AddItemToObject(root, "alerts", out)) {
        cJSON_Delete(root);
        cJSON_Delete(out);
        return mall_reply_error(ctx, 500, "INTERNAL", "out of memory");
    }
    /* more to read after the last one looked at: the next page's cursor */
    if ((more || cJSON_GetArraySize(out) == (int) limit) && last[0] != '\0') {
        rc = mall_json_add_str(root, "next_cursor", last);
    } else {
        rc = cJSON_AddNullToObject(root, "next_cursor") != NULL
             ? MALL_OK : MALL_ERR;
    }
    if (rc != MALL_OK) {
        cJSON_Delete(root);
        return mall_reply_error(ctx, 500, "INTERNAL", "out of memory");
    }
    rc = mall_reply_json_nostore(ctx, 200, root);
    cJSON_Delete(root);
    return rc;
}


int
risk_resolve_user(mall_redis_t *r, const char *uid, const char *by,
    const char *reason, int64_t now, size_t *n, mall_err_t *err)
{
    const char    **argv;
    redisReply     *ids;
    mall_batch_t    b;
    cJSON          *res;
    char            key[128], *json;
    size_t          i, k;
    int             rc;

    *n = 0;
    snprintf(key, sizeof(key), RISK_KEY_USER_ALERTS, uid);
    rc = mall_cmd(r, &ids, err, 2, "SMEMBERS", key);
    if (rc != MALL_OK) {
        return rc;
    }
    if (ids->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(ids);
        return mall_err_set(err, 500, "unexpected SMEMBERS reply");
    }
    res = cJSON_CreateObject();
    json = NULL;
    if (res != NULL && mall_json_add_int(res, "at", now) == MALL_OK
        && mall_json_add_str(res, "by", by) == MALL_OK
        && mall_json_add_str(res, "reason", reason) == MALL_OK)
    {
        json = cJSON_PrintUnformatted(res);
    }
    cJSON_Delete(res);
    argv = calloc(2 + 2 * ids->elements, sizeof(*argv));
    if (json == NULL || argv == NULL) {
        cJSON_free(json);
        free(argv);
        freeReplyObject(ids);
        return mall_err_set(err, 500, "out of memory");
    }

    /* the resolutions and the ids read leave the open set in one MULTI
     * (an alert added meanwhile stays open) */
    mall_batch_init(&b);
    argv[0] = "HSET";
    argv[1] = RISK_KEY_RESOLVED;
    for (i = 0, k = 0; i < ids->elements; i++) {
        if (ids->element[i]->type == REDIS_REPLY_STRING) {
            argv[2 + 2 * k] = ids->element[i]->str;
            argv[3 + 2 * k] = json;
            k++;
        }
    }
    if (k > 0) {
        mall_batch_add(&b, (int) (2 + 2 * k), argv);
        argv[0] = "SREM";
        argv[1] = key;
        for (i = 0; i < k; i++) {
            argv[2 + i] = argv[2 + 2 * i];
        }
        mall_batch_add(&b, (int) (2 + k), argv);
    }
    /* the reviewed user starts the hour afresh */
    risk_batch_forget_user(&b, uid, now);
    rc = mall_batch_exec(&b, r, 1, NULL, err);
    mall_batch_free(&b);
    free(argv);
    cJSON_free(json);
    freeReplyObject(ids);
    if (rc == MALL_OK) {
        *n = k;
    }
    return rc == MALL_BATCH_ABORTED ? MALL_ERR : rc;
}
