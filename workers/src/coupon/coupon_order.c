/*
 * The coupons of one order (see coupon_order.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coupon_order.h"
#include "mall_json.h"
#include "mall_redis.h"


/* 1 when the wallet's coupon id (decimal text) is among ids. */
static int
wanted(int64_t id, const int64_t *ids, size_t nids)
{
    size_t  i;

    for (i = 0; i < nids; i++) {
        if (ids[i] == id) {
            return 1;
        }
    }
    return 0;
}


/*
 * The slot a candidate worth d (expiring at until) takes among the
 * kept ones when they are full: the weakest one, if weaker than it.
 */
static long
weakest_below(const coupon_choice_t *ch, int64_t d, int64_t until)
{
    size_t  i, w = 0;

    for (i = 1; i < ch->n; i++) {
        if (ch->d[i] < ch->d[w]
            || (ch->d[i] == ch->d[w]
                && ch->c[i].valid_until > ch->c[w].valid_until))
        {
            w = i;
        }
    }
    if (ch->d[w] < d || (ch->d[w] == d && ch->c[w].valid_until > until)) {
        return (long) w;
    }
    return -1;
}


/* Keeps candidate c worth d: the most valuable COUPON_PICK_MAX. */
static void
keep(coupon_choice_t *ch, const coupon_t *c, const char *name, int64_t d)
{
    long  at;

    if (ch->n < COUPON_PICK_MAX) {
        at = (long) ch->n++;
    } else if ((at = weakest_below(ch, d, c->valid_until)) < 0) {
        return;
    }
    ch->c[at] = *c;
    ch->d[at] = d;
    snprintf(ch->name[at], COUPON_NAME_BYTES, "%s", name);
}


/* Coupon ids in ascending order keep the search's tie-breaks stable. */
static void
sort_by_id(coupon_choice_t *ch)
{
    size_t  i, j;

    for (i = 1; i < ch->n; i++) {
        for (j = i; j > 0 && ch->c[j - 1].id > ch->c[j].id; j--) {
            coupon_t  tc = ch->c[j];
            int64_t   td = ch->d[j];
            char      tn[COUPON_NAME_BYTES];

            memcpy(tn, ch->name[j], sizeof(tn));
            ch->c[j] = ch->c[j - 1];
            ch->d[j] = ch->d[j - 1];
            memcpy(ch->name[j], ch->name[j - 1], sizeof(tn));
            ch->c[j - 1] = tc;
            ch->d[j - 1] = td;
            memcpy(ch->name[j - 1], tn, sizeof(tn));
        }
    }
}


/* Splits the capped total over the picked coupons, in pick order. */
static void
share_out(coupon_choice_t *ch)
{
    int64_t  left = ch->pick.discount;
    size_t   i;

    for (i = 0; i < ch->pick.n; i++) {
        int64_t  d = ch->d[ch->pick.idx[i]];

        ch->share[i] = d < left ? d : left;
        left -= ch->share[i];
    }
}


int
coupon_order_choose(const redisReply *wallet, const redisReply *used,
    const coupon_line_t *lines, size_t n, int64_t now, const int64_t *ids,
    size_t nids, int64_t cap, coupon_choice_t *ch, int64_t *bad)
{
    size_t  i, j, set[COUPON_ORDER_IDS_MAX];
    char    name[COUPON_NAME_BYTES];

    memset(ch, 0, sizeof(*ch));
    *bad = 0;
    for (i = 0; wallet != NULL && wallet->type == REDIS_REPLY_ARRAY
                && i + 1 < wallet->elements; i += 2)
    {
        const redisReply  *k = wallet->element[i], *v = wallet->element[i + 1];
        coupon_t           c;
        int64_t            d;

        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING
            || mall_redis_hash_field(used, k->str) != NULL
            || coupon_from_json(v->str, v->len, &c, name) != MALL_OK
            || (nids > 0 && !wanted(c.id, ids, nids)))
        {
            continue;
        }
        d = coupon_discount(&c, lines, n, now);
        if (d > 0) {
            keep(ch, &c, name, d);
        }
    }
    sort_by_id(ch);

    if (nids == 0) {
        coupon_best(ch->c, ch->d, ch->n, cap, &ch->pick);
        share_out(ch);
        return MALL_OK;
    }
    /* the buyer's list: every one must have been found usable */
    for (i = 0; i < nids; i++) {
        for (j = 0; j < ch->n && ch->c[j].id != ids[i]; j++) {
            /* find it */
        }
        if (j == ch->n) {
            *bad = ids[i];
            return MALL_ERR;
        }
        set[i] = j;
    }
    if (coupon_chosen(ch->c, ch->d, set, nids, cap, &ch->pick) != MALL_OK) {
        return MALL_ERR;
    }
    share_out(ch);
    return MALL_OK;
}


cJSON *
coupon_order_json(const coupon_choice_t *ch)
{
    cJSON   *arr, *o;
    size_t   i;

    arr = cJSON_CreateArray();
    for (i = 0; arr != NULL && i < ch->pick.n; i++) {
        const coupon_t  *c = &ch->c[ch->pick.idx[i]];

        o = cJSON_CreateObject();
        if (o == NULL || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            goto fail;
        }
        if (mall_json_add_int(o, "coupon_id", c->id) != MALL_OK
            || mall_json_add_int(o, "template_id", c->template_id) != MALL_OK
            || mall_json_add_str(o, "name", ch->name[ch->pick.idx[i]])
               != MALL_OK
            || mall_json_add_int(o, "discount_fen", ch->share[i]) != MALL_OK)
        {
            goto fail;
        }
    }
    return arr;

fail:
    cJSON_Delete(arr);
    return NULL;
}


void
coupon_order_ids(const coupon_choice_t *ch, char *buf, size_t sz)
{
    size_t  i, len = 0;

    buf[0] = '\0';
    for (i = 0; i < ch->pick.n && len < sz; i++) {
        len += (size_t) snprintf(buf + len, sz - len, i ? " %lld" : "%lld",
                                 (long long) ch->c[ch->pick.idx[i]].id);
    }
}
