/*
 * A buyer's view of coupons:
 *
 *   GET /api/v1/coupons/available   templates open for claiming now (the
 *                                   newest COUPON_TPLS_LISTED), each with
 *                                   "remaining", "claimed_by_me",
 *                                   "can_claim"
 *   GET /api/v1/coupons?status=unused|used|expired
 *                                   the buyer's coupons (default unused,
 *                                   soonest to expire first); used ones
 *                                   name their "order_id"
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coupon_keys.h"
#include "coupon_store.h"
#include "mall_json.h"
#include "mall_reply.h"
#include "order_store.h"
#include "storefront.h"

static int coupon_available(mall_ctx_t *ctx);
static int coupon_mine(mall_ctx_t *ctx);

const mall_route_t  mall_coupon_wallet_routes[] = {
    { "GET", "/api/v1/coupons/available", coupon_available, 0 },
    { "GET", "/api/v1/coupons", coupon_mine, 0 },
    { NULL, NULL, NULL, 0 }
};


/* One open template for the list; NULL when closed (or no memory). */
static cJSON *
available_item(const redisReply *tpl, const redisReply *mine, int64_t now)
{
    coupon_tpl_t  t;
    cJSON        *o;
    int64_t       claimed, n;

    if (coupon_tpl_reply(tpl, &t, &claimed) != MALL_OK
        || !coupon_tpl_open(&t, claimed, now))
    {
        return NULL;
    }
    n = order_reply_int(mine, 0);
    o = coupon_tpl_view(&t, claimed);
    if (o != NULL
        && (mall_json_add_int(o, "claimed_by_me", n) != MALL_OK
            || cJSON_AddBoolToObject(o, "can_claim", n < t.per_user)
               == NULL))
    {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}


static int
coupon_available(mall_ctx_t *ctx)
{
    char           uid[SF_UID_MAX], key[COUPON_KEY_BUF];
    redisReply    *ids, *reps[2 * COUPON_TPLS_LISTED];
    mall_batch_t   b;
    mall_err_t     err;
    cJSON         *root, *arr, *o;
    int64_t        id, now = (int64_t) time(NULL);
    size_t         i, n;
    int            rc;

    if (sf_require_user(ctx, uid) != MALL_OK) {
        return MALL_OK;
    }
    rc = mall_cmd(ctx->redis, &ids, &err, 4, "ZREVRANGE", COUPON_KEY_TPLS,
                  "0", "199");
    if (rc != MALL_OK) {
        return sf_fail(ctx, rc, "coupons available", &err);
    }
    n = ids->type == REDIS_REPLY_ARRAY ? ids->elements : 0;
    mall_batch_init(&b);
    for (i = 0; i < n; i++) {
        id = strtoll(ids->element[i]->str, NULL, 10);
        coupon_batch_tpl(&b, id);
        coupon_key_id(key, sizeof(key), COUPON_KEY_TPL_USERS, id);
        mall_batch_addl(&b, 3, "HGET", key, uid);
    }
    freeReplyObject(ids);
    rc = n > 0 ? mall_batch_send(&b, ctx->redis, reps, &err) : MALL_OK;
    mall_batch_free(&b);
    if (rc != MALL_OK) {
        return sf_fail(ctx, rc, "coupons available", &err);
    }
    root = cJSON_CreateObject();
    arr = cJSON_AddArrayToObject(root, "templates");
    for (i = 0; arr != NULL && i < n; i++) {
        if ((o = available_item(reps[2 * i], reps[2 * i + 1], now)) != NULL) {
            cJSON_AddItemToArray(arr, o);
        }
    }
    mall_redis_free_replies(reps, 2 * n);
    rc = arr != NULL ? sf_reply(ctx, 200, root) : MALL_ERR;
    cJSON_Delete(root);
    return rc;
}


typedef enum { MINE_UNUSED = 0, MINE_USED, MINE_EXPIRED } mine_e;

/* The status of a stored coupon at now; its order when used. */
static mine_e
mine_status(const cJSON *c, const redisReply *used, const char *cid,
    int64_t now, const char **oid)
{
    const redisReply  *u = mall_redis_hash_field(used, cid);
    int64_t            until;

    *oid = u != NULL && u->type == REDIS_REPLY_STRING ? u->str : NULL;
    if (*oid != NULL) {
        return MINE_USED;
    }
    if (mall_json_get_int(cJSON_GetObjectItemCaseSensitive(c, "valid_until"),
                          0, INT64_MAX / 2, &until) == MALL_OK
        && now >= until)
    {
        return MINE_EXPIRED;
    }
    return MINE_UNUSED;
}


static int
until_cmp(const void *a, const void *b)
{
    const cJSON  *x = cJSON_GetObjectItemCaseSensitive(*(cJSON *const *) a,
                                                       "valid_until");
    const cJSON  *y = cJSON_GetObjectItemCaseSensitive(*(cJSON *const *) b,
                                                       "valid_until");
    double        dx = cJSON_IsNumber(x) ? x->valuedouble : 0;
    double        dy = cJSON_IsNumber(y) ? y->valuedouble : 0;

    return dx < dy ? -1 : dx > dy;
}


/* The wallet's coupons of status want into arr, soonest expiry first. */
static int
mine_fill(cJSON *arr, const redisReply *wallet, const redisReply *used,
    mine_e want, int64_t now)
{
    static const char  *names[] = { "unused", "used", "expired" };
    cJSON              *sel[COUPON_WALLET_MAX * 2];
    const char         *oid;
    size_t              i, n = 0;

    for (i = 0; wallet->type == REDIS_REPLY_ARRAY && i + 1 < wallet->elements
                && n < MALL_ARRAY_LEN(sel); i += 2)
    {
        const redisReply  *v = wallet->element[i + 1];
        cJSON             *c = mall_json_object(v->str, v->len);

        if (c == NULL) {
            continue;
        }
        if (mine_status(c, used, wallet->element[i]->str, now, &oid) != want
            || mall_json_add_str(c, "status", names[want]) != MALL_OK
            || (oid != NULL && mall_json_add_str(c, "order_id", oid)
                               != MALL_OK))
        {
            cJSON_Delete(c);
            continue;
        }
        sel[n++] = c;
    }
    qsort(sel, n, sizeof(sel[0]), until_cmp);
    for (i = 0; i < n; i++) {
        cJSON_AddItemToArray(arr, sel[i]);
    }
    return MALL_OK;
}


static int
coupon_mine(mall_ctx_t *ctx)
{
    char           uid[SF_UID_MAX], wkey[ORDER_KEY_MAX], ukey[ORDER_KEY_MAX];
    const char    *s;
    redisReply    *reps[2];
    mall_batch_t   b;
    mall_err_t     err;
    cJSON         *root, *arr;
    mine_e         want;
    int            rc;

    if (sf_require_user(ctx, uid) != MALL_OK) {
        return MALL_OK;
    }
    s = mall_query_get(&ctx->query, "status");
    if (s == NULL || strcmp(s, "unused") == 0) {
        want = MINE_UNUSED;
    } else if (strcmp(s, "used") == 0) {
        want = MINE_USED;
    } else if (strcmp(s, "expired") == 0) {
        want = MINE_EXPIRED;
    } else {
        return mall_reply_error(ctx, 400, "VALIDATION_FAILED", "status must "
                                "be unused, used or expired");
    }
    order_key(wkey, sizeof(wkey), COUPON_KEY_WALLET, uid, NULL);
    order_key(ukey, sizeof(ukey), COUPON_KEY_USED, uid, NULL);
    mall_batch_init(&b);
    mall_batch_addl(&b, 2, "HGETALL", wkey);
    mall_batch_addl(&b, 2, "HGETALL", ukey);
    rc = mall_batch_send(&b, ctx->redis, reps, &err);
    mall_batch_free(&b);
    if (rc != MALL_OK) {
        return sf_fail(ctx, rc, "my coupons", &err);
    }
    root = cJSON_CreateObject();
    arr = cJSON_AddArrayToObject(root, "coupons");
    rc = arr != NULL
         ? mine_fill(arr, reps[0], reps[1], want, (int64_t) time(NULL))
         : MALL_ERR;
    mall_redis_free_replies(reps, 2);
    if (rc == MALL_OK) {
        rc = sf_reply(ctx, 200, root);
    }
    cJSON_Delete(root);
    return rc;
}
