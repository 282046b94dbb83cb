/*
 * Coupon templates in Redis (see coupon_store.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coupon_keys.h"
#include "coupon_store.h"
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
