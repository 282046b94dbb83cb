/*
 * Abnormal orders in Redis: the hour's counters, the freeze, the alert
 * and its resolution (see risk_store.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/http.h>

#include "auth_store.h"
#include "mall_audit.h"
#include "mall_log.h"
#include "mall_reply.h"
#include "risk_store.h"

#define RISK_KEY_MAX    192
#define RISK_TTL_EVERY  60           /* s between one process's EXPIREATs */

/* When this process last set the TTLs of the hour's keys. */
static int64_t  risk_ttl_at;


static void
risk_keys(int64_t now, char counts[RISK_KEY_MAX], char pairs[RISK_KEY_MAX])
{
    snprintf(counts, RISK_KEY_MAX, "mall:risk:%lld", (long long) (now / 3600));
    snprintf(pairs, RISK_KEY_MAX, "mall:risk:%lld:pairs",
             (long long) (now / 3600));
}


/*
 * EXPIREAT of the hour's two keys (at the end of the next hour), and of
 * the previous hour's (a key recreated after this process last set its
 * TTL), about once a minute per process and at its first order of each
 * hour. Returns how many commands it added.
 */
static size_t
risk_batch_ttl(mall_batch_t *b, int64_t now)
{
    char     counts[RISK_KEY_MAX], pairs[RISK_KEY_MAX], at[24];
    int64_t  h;

    if (now - risk_ttl_at < RISK_TTL_EVERY && now / 3600 == risk_ttl_at / 3600)
    {
        return 0;
    }
    risk_ttl_at = now;
    for (h = now; h >= now - 3600; h -= 3600) {
        risk_keys(h, counts, pairs);
        snprintf(at, sizeof(at), "%lld",
                 (long long) ((h / 3600 + 2) * 3600));
        mall_batch_addl(b, 3, "EXPIREAT", counts, at);
        mall_batch_addl(b, 3, "EXPIREAT", pairs, at);
    }
    return 4;
}


size_t
risk_batch_order(mall_batch_t *b, const risk_conf_t *conf, risk_order_t *o)
{
    const char  *argv[2 + 2 * (RISK_LINES_MAX + 1)];
    char         counts[RISK_KEY_MAX], pairs[RISK_KEY_MAX], f[RISK_KEY_MAX];
    char         lo[RISK_KEY_MAX], hi[RISK_KEY_MAX];
    char         members[RISK_LINES_MAX + 1][RISK_KEY_MAX];
    size_t       i, n, m;
    int          per_sku, addrs;

    risk_keys(o->now, counts, pairs);
    o->at_user = o->at_device = o->at_address = o->at_addresses = -1;
    for (i = 0; i < RISK_LINES_MAX; i++) {
        o->at_sku[i] = -1;
    }
    n = 0;
    if (conf->orders_per_user > 0) {
        snprintf(f, sizeof(f), "u:%s", o->uid);
        mall_batch_addl(b, 4, "HINCRBY", counts, f, "1");
        o->at_user = (int) n++;
    }
    if (conf->orders_per_device > 0 && o->device != NULL) {
        snprintf(f, sizeof(f), "d:%s", o->device);
        mall_batch_addl(b, 4, "HINCRBY", counts, f, "1");
        o->at_device = (int) n++;
    }
    if (conf->orders_per_address > 0 && o->fp != NULL) {
        snprintf(f, sizeof(f), "a:%s", o->fp);
        mall_batch_addl(b, 4, "HINCRBY", counts, f, "1");
        o->at_address = (int) n++;
    }

    /* the pairs: one ZADD, then a ZLEXCOUNT per distinct count */
    addrs = conf->addresses_per_user > 0 && o->fp != NULL;
    per_sku = conf->device_accounts_per_sku > 0 && o->device != NULL;
    m = 0;
    argv[0] = "ZADD";
    argv[1] = pairs;
    if (addrs) {
        snprintf(members[m], RISK_KEY_MAX, "ua:%s:%s", o->uid, o->fp);
        m++;
    }
    for (i = 0; per_sku && i < o->nskus && i < RISK_LINES_MAX; i++) {
        snprintf(members[m], RISK_KEY_MAX, "ds:%s:%lld:%s", o->device,
                 (long long) o->skus[i], o->uid);
        m++;
    }
    for (i = 0; i < m; i++) {
        argv[2 + 2 * i] = "0";
        argv[3 + 2 * i] = members[i];
    }
    if (m > 0) {
        mall_batch_add(b, (int) (2 + 2 * m), argv);
        n++;
    }
    if (addrs) {
        snprintf(lo, sizeof(lo), "[ua:%s:", o->uid);
        snprintf(hi, sizeof(hi), "(ua:%s;", o->uid);    /* ';' follows ':' */
        mall_batch_addl(b, 4, "ZLEXCOUNT", pairs, lo, hi);
        o->at_addresses = (int) n++;
    }
    for (i = 0; per_sku && i < o->nskus && i < RISK_LINES_MAX; i++) {
        snprintf(lo, sizeof(lo), "[ds:%s:%lld:", o->device,
                 (long long) o->skus[i]);
        snprintf(hi, sizeof(hi), "(ds:%s:%lld;", o->device,
                 (long long) o->skus[i]);
        mall_batch_addl(b, 4, "ZLEXCOUNT", pairs, lo, hi);
        o->at_sku[i] = (int) n++;
    }
    return n + risk_batch_ttl(b, o->now);
}


/* The integer reply at first + at, or RISK_UNKNOWN when not asked. */
static int
risk_reply_count(const redisReply *exec, size_t first, int at, int64_t *v)
{
    const redisReply  *e;

    if (at < 0) {
        *v = RISK_UNKNOWN;
        return MALL_OK;
    }
    if (first + (size_t) at >= exec->elements) {
        return MALL_ERR;
    }
    e = exec->element[first + (size_t) at];
    if (e->type != REDIS_REPLY_INTEGER) {
        return MALL_ERR;
    }
    *v = e->integer;
    return MALL_OK;
}


int
risk_order_counts(const redisReply *exec, size_t first,
    const risk_order_t *o, risk_counters_t *k)
{
    int64_t  v;
    size_t   i;

    if (risk_reply_count(exec, first, o->at_user, &k->user_orders) != MALL_OK
        || risk_reply_count(exec, first, o->at_device, &k->device_orders)
           != MALL_OK
        || risk_reply_count(exec, first, o->at_address, &k->address_orders)
           != MALL_OK
        || risk_reply_count(exec, first, o->at_addresses, &k->user_addresses)
           != MALL_OK)
    {
        return MALL_ERR;
    }
    k->device_sku_accounts = RISK_UNKNOWN;
    for (i = 0; i < o->nskus && i < RISK_LINES_MAX; i++) {
        if (risk_reply_count(exec, first, o->at_sku[i], &v) != MALL_OK) {
            return MALL_ERR;
        }
        if (v > k->device_sku_accounts) {
            k->device_sku_accounts = v;
        }
    }
    return MALL_OK;
}


void
risk_batch_forget_user(mall_batch_t *b, const char *uid, int64_t now)
{
    char  counts[RISK_KEY_MAX], pairs[RISK_KEY_MAX], fu[RISK_KEY_MAX];
    char  ff[RISK_KEY_MAX], lo[RISK_KEY_MAX], hi[RISK_KEY_MAX];

    risk_keys(now, counts, pairs);
    snprintf(fu, sizeof(fu), "u:%s", uid);
    snprintf(ff, sizeof(ff), "f:%s", uid);
    snprintf(lo, sizeof(lo), "[ua:%s:", uid);
    snprintf(hi, sizeof(hi), "(ua:%s;", uid);
    mall_batch_addl(b, 4, "HDEL", counts, fu, ff);
    mall_batch_addl(b, 4, "ZREMRANGEBYLEX", pairs, lo, hi);
}
