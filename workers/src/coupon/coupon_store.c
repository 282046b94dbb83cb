/*
 * Coupon templates in Redis (see coupon_store.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coupon_keys.h"
#include "coupon_store.h"
#include "mall_batch.h"
#include "mall_json.h"


void
coupon_key_id(char *buf, size_t sz, const char *fmt, int64_t id)
{
    char  s[24];

    snprintf(s, sizeof(s), "%lld", (long long) id);
    snprintf(buf, sz, fmt, s);
}


void
coupon_batch_tpl(mall_batch_t *b, int64_t id)
{
    char  key[COUPON_KEY_BUF];

    coupon_key_id(key, sizeof(key), COUPON_KEY_TPL, id);
    mall_batch_addl(b, 4, "HMGET", key, "json", "claimed");
}


int
coupon_tpl_reply(const redisReply *r, coupon_tpl_t *t, int64_t *claimed)
{
    const redisReply  *c;

    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2
        || r->element[0]->type != REDIS_REPLY_STRING)
    {
        return COUPON_TPL_NONE;
    }
    if (coupon_tpl_from_json(r->element[0]->str, r->element[0]->len, t)
        != MALL_OK)
    {
        return MALL_ERR;
    }
    c = r->element[1];
    *claimed = c->type == REDIS_REPLY_STRING ? strtoll(c->str, NULL, 10) : 0;
    return MALL_OK;
}


int
coupon_tpls_read(mall_ctx_t *ctx, const char *uid, redisReply **reps,
    size_t *n, mall_err_t *err)
{
    char           key[COUPON_KEY_BUF], last[16];
    redisReply    *ids;
    mall_batch_t   b;
    int64_t        id;
    size_t         i;
    int            rc;

    snprintf(last, sizeof(last), "%d", COUPON_TPLS_LISTED - 1);
    rc = mall_cmd(ctx->redis, &ids, err, 4, "ZREVRANGE", COUPON_KEY_TPLS,
                  "0", last);
    if (rc != MALL_OK) {
        return rc;
    }
    *n = ids->type == REDIS_REPLY_ARRAY ? ids->elements : 0;
    mall_batch_init(&b);
    for (i = 0; i < *n; i++) {
        id = strtoll(ids->element[i]->str, NULL, 10);
        coupon_batch_tpl(&b, id);
        if (uid != NULL) {
            coupon_key_id(key, sizeof(key), COUPON_KEY_TPL_USERS, id);
            mall_batch_addl(&b, 3, "HGET", key, uid);
        }
    }
    freeReplyObject(ids);
    rc = *n > 0 ? mall_batch_send(&b, ctx->redis, reps, err) : MALL_OK;
    mall_batch_free(&b);
    if (rc != MALL_OK) {
        *n = 0;
    }
    return rc;
}


cJSON *
coupon_tpl_view(const coupon_tpl_t *t, int64_t claimed)
{
    cJSON  *o = coupon_tpl_json(t);

    if (o == NULL || mall_json_add_int(o, "claimed", claimed) != MALL_OK
        || mall_json_add_int(o, "remaining",
                             claimed < t->total ? t->total - claimed : 0)
           != MALL_OK)
    {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}


int
coupon_tpl_open(const coupon_tpl_t *t, int64_t claimed, int64_t now)
{
    return t->enabled && claimed < t->total
           /* a fixed window's coupons may be claimed ahead of it */
           && (t->valid_days == 0 || t->starts_at <= now)
           && (t->ends_at == 0 || now < t->ends_at);
}
