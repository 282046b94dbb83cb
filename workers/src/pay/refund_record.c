/*
 * A refund's record as it is created (see refund.h): its number and the
 * commands that store it with the order's reservation.
 */
#include <stdio.h>
#include <time.h>

#include "pay_keys.h"
#include "refund.h"


void
refund_number(const char *oid, const char *tag, char out[REFUND_NO_MAX])
{
    snprintf(out, REFUND_NO_MAX, "%sR%s", oid, tag);
}


void
refund_batch_new(mall_batch_t *b, const order_head_t *h, const char *no,
    int64_t amount, const char *reason, const char *actor,
    const char *actor_id)
{
    char  okey[ORDER_KEY_MAX], rkey[ORDER_KEY_MAX], fen[24], total[24];
    char  now[24];

    order_key(okey, sizeof(okey), ORDER_KEY_ORDER, h->id, NULL);
    order_key(rkey, sizeof(rkey), PAY_KEY_REFUND, no, NULL);
    snprintf(fen, sizeof(fen), "%lld", (long long) amount);
    snprintf(total, sizeof(total), "%lld", (long long) h->pay_total);
    snprintf(now, sizeof(now), "%lld", (long long) time(NULL));
    mall_batch_addl(b, 4, "HINCRBY", okey, "refund_reserved_fen", fen);
    mall_batch_addl(b, 24, "HSET", rkey, "order_id", h->id, "amount", fen,
                    "total", total, "reason", reason, "status", "submitting",
                    "actor", actor, "actor_id", actor_id, "created_at", now,
                    "updated_at", now, "attempts", "0", "user_id", h->uid);
    order_key(rkey, sizeof(rkey), PAY_KEY_ORDER_REFUNDS, h->id, NULL);
    mall_batch_addl(b, 3, "RPUSH", rkey, no);
    mall_batch_addl(b, 4, "ZADD", PAY_KEY_REFUNDS_DUE, now, no);
}
