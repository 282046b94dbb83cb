/*
 * After-sale records in Redis (see aftersale.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aftersale.h"
#include "mall_json.h"
#include "mall_reply.h"


static void
as_key(char *buf, size_t sz, const char *fmt, int64_t id)
{
    char  s[24];

    snprintf(s, sizeof(s), "%lld", (long long) id);
    snprintf(buf, sz, fmt, s);
}


/* The returned goods: [{sku_id, quantity}] into a->items. */
static void
load_items(aftersale_t *a, const char *json, size_t len)
{
    cJSON         *arr = cJSON_ParseWithLength(json, len);
    const cJSON   *it;
    int64_t        sku, q;

    a->nitems = 0;
    cJSON_ArrayForEach(it, arr) {
        if (a->nitems < ORDER_LINES_MAX
            && mall_json_get_int(cJSON_GetObjectItemCaseSensitive(it,
                                     "sku_id"), 1, INT64_MAX / 2, &sku)
               == MALL_OK
            && mall_json_get_int(cJSON_GetObjectItemCaseSensitive(it,
                                     "quantity"), 1, INT64_MAX / 2, &q)
               == MALL_OK)
        {
            a->items[a->nitems].sku_id = sku;
            a->items[a->nitems].quantity = q;
            a->nitems++;
        }
    }
    cJSON_Delete(arr);
}


int
aftersale_load(mall_ctx_t *ctx, int64_t id, aftersale_t *a, mall_err_t *err)
{
    static const char *const  fields[] = {
        "order_id", "user_id", "type", "status", "amount_fen", "created_at",
        "items"
    };
    char         key[64];
    redisReply  *r;
    int          rc;

    memset(a, 0, sizeof(*a));
    as_key(key, sizeof(key), AS_KEY, id);
    rc = mall_hmget(ctx->redis, key, 0, fields, MALL_ARRAY_LEN(fields), &r,
                    err);
    if (rc != MALL_OK) {
        return rc;
    }
    if (r->element[0]->type == REDIS_REPLY_STRING
        && r->element[3]->type == REDIS_REPLY_STRING)
    {
        a->id = id;
        snprintf(a->oid, sizeof(a->oid), "%s", r->element[0]->str);
        if (r->element[1]->type == REDIS_REPLY_STRING) {
            snprintf(a->uid, sizeof(a->uid), "%s", r->element[1]->str);
        }
        if (r->element[2]->type == REDIS_REPLY_STRING) {
            snprintf(a->type, sizeof(a->type), "%s", r->element[2]->str);
        }
        snprintf(a->status, sizeof(a->status), "%s", r->element[3]->str);
        a->amount = order_reply_int(r->element[4], 0);
        a->created_at = order_reply_int(r->element[5], 0);
        if (r->element[6]->type == REDIS_REPLY_STRING) {
            load_items(a, r->element[6]->str, r->element[6]->len);
        }
    }
    freeReplyObject(r);
    return MALL_OK;
}


void
aftersale_batch_status(mall_batch_t *b, const aftersale_t *a,
    const char *to, const char *const *extra, size_t n)
{
    const char  *argv[6 + 2 * 8];
    char         key[64], from_k[96], to_k[96], sid[24], ts[24];
    char         okey[ORDER_KEY_MAX];
    size_t       i;

    as_key(key, sizeof(key), AS_KEY, a->id);
    snprintf(sid, sizeof(sid), "%lld", (long long) a->id);
    snprintf(ts, sizeof(ts), "%lld", (long long) time(NULL));
    argv[0] = "HSET";
    argv[1] = key;
    argv[2] = "status";
    argv[3] = to;
    argv[4] = "updated_at";
    argv[5] = ts;
    for (i = 0; i < 2 * n && i < 2 * 8; i++) {
        argv[6 + i] = extra[i];
    }
    mall_batch_add(b, (int) (6 + i), argv);
    if (a->status[0] != '\0') {
        snprintf(from_k, sizeof(from_k), AS_KEY_STATUS, a->status);
        mall_batch_addl(b, 3, "ZREM", from_k, sid);
    }
    snprintf(to_k, sizeof(to_k), AS_KEY_STATUS, to);
    mall_batch_addl(b, 4, "ZADD", to_k, sid, sid);   /* by id: by age */
    order_key(okey, sizeof(okey), ORDER_KEY_ORDER, a->oid, NULL);
    mall_batch_addl(b, 6, "HSET", okey, "aftersale_id", sid,
                    "aftersale_status", to);
}


void
aftersale_batch_refunded(mall_batch_t *b, const order_head_t *h, int64_t id)
{
    aftersale_t  a;

    /* the refund is paid only from "refunding" (approve / receive) */
    memset(&a, 0, sizeof(a));
    a.id = id;
    snprintf(a.oid, sizeof(a.oid), "%s", h->id);
    snprintf(a.status, sizeof(a.status), "refunding");
    aftersale_batch_status(b, &a, "refunded", NULL, 0);
}


cJSON *
aftersale_view(mall_ctx_t *ctx, int64_t id, mall_err_t *err)
{
    static const char  *ints[] = { "amount_fen", "created_at", "updated_at" };
    static const char  *docs[] = { "items", "images" };
    char                key[64];
    redisReply         *r;
    cJSON              *o;
    size_t              i, j;

    as_key(key, sizeof(key), AS_KEY, id);
    if (mall_cmd(ctx->redis, &r, err, 2, "HGETALL", key) != MALL_OK) {
        return NULL;
    }
    o = r->type == REDIS_REPLY_ARRAY && r->elements > 0
        ? cJSON_CreateObject() : NULL;
    for (i = 0; o != NULL && i + 1 < r->elements; i += 2) {
        const char  *k = r->element[i]->str, *v = r->element[i + 1]->str;
        cJSON       *item = NULL;

        for (j = 0; j < MALL_ARRAY_LEN(ints) && strcmp(k, ints[j]); j++) {
        }
        if (j < MALL_ARRAY_LEN(ints) || strcmp(k, "id") == 0) {
            item = mall_json_int(strtoll(v, NULL, 10));
        } else {
            for (j = 0; j < MALL_ARRAY_LEN(docs) && strcmp(k, docs[j]); j++) {
            }
            item = j < MALL_ARRAY_LEN(docs) ? cJSON_Parse(v)
                                            : cJSON_CreateString(v);
        }
        if (item != NULL) {
            cJSON_AddItemToObject(o, strcmp(k, "id") == 0 ? "aftersale_id"
                                                         : k, item);
        }
    }
    freeReplyObject(r);
    return o;
}


int
aftersale_reply(mall_ctx_t *ctx, int status, int64_t id)
{
    mall_err_t   err;
    cJSON       *o = aftersale_view(ctx, id, &err);
    int          rc;

    if (o == NULL) {
        return MALL_ERR;
    }
    rc = mall_reply_json_nostore(ctx, status, o);
    cJSON_Delete(o);
    return rc;
}
