/*
 * Redis side of abnormal-order detection (docs/orders.md "Abnormal
 * orders"). Keys, the hour h = unix time / 3600:
 *
 *   mall:risk:{h}          hash: u:{uid}, d:{device}, a:{address fp} ->
 *                          orders this hour; f:{uid} -> failed payments
 *   mall:risk:{h}:pairs    zset, every score 0 (read by lex prefix):
 *                          ua:{uid}:{fp} and ds:{device}:{sku}:{uid},
 *                          the distinct addresses of a user and accounts
 *                          of a device on a SKU
 *   (both expire at the end of hour h + 1)
 *   mall:risk:alerts       stream (capped ~100000): user_id, rule, value,
 *                          limit, order_id, device, edge_score, reasons,
 *                          total_fen, ts
 *   mall:risk:alerts:resolved  hash: alert id -> JSON {at, by, reason}
 *   mall:risk:user:{uid}:alerts  set: the user's unresolved alert ids
 *
 * The freeze itself is the user record's status (mall:user:{uid} status
 * frozen, auth_store.h) and a mall:revoked event, as an admin's freeze.
 */
#ifndef RISK_STORE_H
#define RISK_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "mall_batch.h"
#include "mall_ctx.h"
#include "risk_rules.h"

#define RISK_KEY_ALERTS        "mall:risk:alerts"
#define RISK_KEY_RESOLVED      "mall:risk:alerts:resolved"
#define RISK_KEY_USER_ALERTS   "mall:risk:user:%s:alerts"
#define RISK_ALERTS_MAXLEN     "100000"
#define RISK_LINES_MAX         50

/* One order as the counters see it; the at_* are set by risk_batch_order
 * (offsets of the replies from its first command, -1: not asked). */
typedef struct {
    const char     *uid;
    const char     *device;          /* NULL: none (no device rules) */
    const char     *fp;              /* address fingerprint, NULL: none */
    const int64_t  *skus;
    size_t          nskus;
    int64_t         now;
    int             at_user, at_device, at_address, at_addresses;
    int             at_sku[RISK_LINES_MAX];
} risk_order_t;

/* What an alert records beside its rule. */
typedef struct {
    const char  *uid;
    const char  *order_id;           /* NULL: none */
    const char  *device;
    const char  *reasons;            /* the edge's, NULL: none */
    int          edge_score;
    int64_t      total_fen;          /* RISK_UNKNOWN: no order */
} risk_alert_t;

/*
 * Appends the order's counters to a MULTI (rules whose threshold is 0 add
 * nothing): HINCRBY per count, one ZADD of the pairs, a ZLEXCOUNT per
 * distinct count, and about once a minute per process the EXPIREATs of
 * the hour's keys. Returns how many commands it added.
 */
size_t risk_batch_order(mall_batch_t *b, const risk_conf_t *conf,
    risk_order_t *o);

/*
 * Reads the counts from the EXEC reply, whose element first is the first
 * command risk_batch_order added. MALL_OK, MALL_ERR (not the shape).
 */
int risk_order_counts(const redisReply *exec, size_t first,
    const risk_order_t *o, risk_counters_t *k);

/*
 * Freezes the user for hit: the record's status (one MULTI with the
 * alert), the alert in the user's open set, then the edge revocation of
 * every token issued before the next second and the refresh families;
 * audited as actor "risk". MALL_OK, MALL_ERR, MALL_RETRY. Blocks on Redis
 * (the request's fiber).
 */
int risk_freeze(mall_ctx_t *ctx, const risk_hit_t *hit,
    const risk_alert_t *a, mall_err_t *err);

/*
 * Counts one failed payment of uid and freezes the user when that breaks
 * risk_pay_failures: 1 when it froze the account, else 0. Best effort:
 * failures are logged.
 */
int risk_pay_failed(mall_ctx_t *ctx, const char *uid, const char *oid);

/*
 * Before a shopper's write: 403 ACCOUNT_FROZEN when the user's record is
 * frozen. MALL_OK (go on), MALL_ERR (replied), MALL_RETRY.
 */
int risk_guard_write(mall_ctx_t *ctx);

/* The contract's answer to a frozen user's write. */
int risk_reply_frozen(mall_ctx_t *ctx);

/* Appends what clears uid's own counters of the hour (orders, failed
 * payments, distinct addresses), after a review. */
void risk_batch_forget_user(mall_batch_t *b, const char *uid, int64_t now);

/*
 * Resolves every open alert of uid (by, reason), after an unfreeze, and
 * clears the user's counters of the hour. *n = how many alerts. MALL_OK,
 * MALL_ERR, MALL_RETRY.
 */
int risk_resolve_user(mall_redis_t *r, const char *uid, const char *by,
    const char *reason, int64_t now, size_t *n, mall_err_t *err);

#endif
