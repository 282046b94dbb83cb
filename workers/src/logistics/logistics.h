/*
 * Logistics of an order: the carrier and tracking number the merchant
 * shipped with (the order record's "logistics" field, order_lifecycle.c),
 * and a tracking timeline merged from the carrier's events (carrier.h,
 * cached in Redis) and the merchant's manual entries (newest first).
 *
 * Redis (prefix "mall:"):
 *   mall:logistics:{oid}          string JSON {carrier, tracking_no,
 *                                 fetched_at, state, delivered, events}:
 *                                 the last good carrier answer, 90 days
 *   mall:logistics:{oid}:fresh    string "ok" | "none" | "error <code>" |
 *                                 "busy", EX logistics_cache_ttl (ok; a
 *                                 day at least once delivered),
 *                                 logistics_error_retry (none: the carrier
 *                                 has no record yet; error) or
 *                                 the query timeout (busy): while it
 *                                 exists nobody asks the carrier; SET NX
 *                                 of "busy" elects the one read that does
 *   mall:logistics:{oid}:manual   list JSON {at, context, location, by},
 *                                 oldest first, the newest 100 kept
 */
#ifndef LOGISTICS_H
#define LOGISTICS_H

#include <stdint.h>
#include <cjson/cJSON.h>
#include <hiredis/hiredis.h>

#include "mall_ctx.h"

#define LOGISTICS_KEY_CACHE    "mall:logistics:%s"
#define LOGISTICS_KEY_FRESH    "mall:logistics:%s:fresh"
#define LOGISTICS_KEY_MANUAL   "mall:logistics:%s:manual"
#define LOGISTICS_KEEP         "7776000"      /* s: 90 days */
#define LOGISTICS_DELIVERED_TTL  86400        /* s: fresh once delivered */
#define LOGISTICS_MANUAL_MAX   100
#define LOGISTICS_KEY_MAX      160

/*
 * Completes view's "logistics" object (when it is one: the order was
 * shipped) with "timeline", "state", "state_name", "delivered",
 * "timeline_status" (ok | pending | stale | unavailable | refreshing |
 * disabled), "timeline_updated_at" and, after a failure,
 * "timeline_error". A stale cache is refreshed from the carrier first,
 * by one read at a time (its fiber waits up to logistics_timeout_ms; the
 * process does not); the query carries the tail of view's "address"
 * phone where the carrier needs it. Never fails the read: Redis or
 * carrier trouble shows as timeline_status.
 */
void logistics_attach(mall_ctx_t *ctx, const char *oid, cJSON *view);

/* A manual entry of the merchant, checked. */
typedef struct {
    int64_t  at;                          /* unix seconds */
    char     context[1024];
    char     location[256];
} logistics_manual_t;

/*
 * Reads {"time", "context", "location"?} (pure; unit-tested): time is
 * unix seconds or "YYYY-MM-DD hh:mm:ss" in Beijing time, not before
 * 2000 nor more than a day after now. MALL_OK, or MALL_ERR with *field
 * naming the bad member and err the reason.
 */
int logistics_manual_parse(const cJSON *body, int64_t now,
    logistics_manual_t *m, const char **field, mall_err_t *err);

/*
 * The timeline of carrier events (array of {time, at, context,
 * location}, may be NULL) and manual ones (stored JSON texts of a LRANGE
 * reply, may be NULL), each tagged "source": carrier | merchant, newest
 * first (pure). NULL when memory runs out.
 */
cJSON *logistics_merge(const cJSON *carrier, const redisReply *manual);

#endif
