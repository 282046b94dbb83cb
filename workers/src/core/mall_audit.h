/*
 * Audit log of admin actions: one entry per attempt in the Redis stream
 * mall:audit (capped near MALL_AUDIT_MAXLEN entries), fields
 *
 *     ts <unix s> actor <who> action <what> result ok|fail|denied
 *     ip <client ip> request_id <id> [name value]...
 *
 * Callers put before/after states or a target in the extra fields; never
 * a password, token or key.
 */
#ifndef MALL_AUDIT_H
#define MALL_AUDIT_H

#include <stddef.h>
#include <cjson/cJSON.h>

#include "mall_common.h"
#include "mall_redis.h"

#define MALL_AUDIT_STREAM   "mall:audit"
#define MALL_AUDIT_MAXLEN   "100000"
#define MALL_AUDIT_EXTRA    8

struct mall_ctx_s;

typedef struct {
    const char  *name;
    const char  *value;
} mall_audit_field_t;

/*
 * Appends one entry. ip and request_id may be NULL ("-"). MALL_OK,
 * MALL_ERR or MALL_RETRY (Redis down). Blocks on Redis.
 */
int mall_audit_append(mall_redis_t *r, const char *actor,
    const char *action, const char *result, const char *ip,
    const char *request_id, const mall_audit_field_t *extra, size_t nextra,
    mall_err_t *err);

/*
 * mall_audit_append() with the request's client ip and id; failures are
 * logged (the audited action has happened either way) and returned.
 */
int mall_audit_ctx(struct mall_ctx_s *ctx, const char *actor,
    const char *action, const char *result, const mall_audit_field_t *extra,
    size_t nextra);

/*
 * The newest count entries, newest first, as a JSON array of objects
 * {"id", <field>: <value>...} (ts as a number). *out is the caller's to
 * cJSON_Delete. MALL_OK, MALL_ERR or MALL_RETRY.
 */
int mall_audit_list(mall_redis_t *r, long count, cJSON **out,
    mall_err_t *err);

/* The same for any stream of flat entries (payment anomalies, ...). */
int mall_stream_recent(mall_redis_t *r, const char *stream, long count,
    cJSON **out, mall_err_t *err);

/*
 * The same from start ("+", an id, or "(id" for the entries older than
 * id), newest first, at most count.
 */
int mall_stream_range(mall_redis_t *r, const char *stream, const char *start,
    long count, cJSON **out, mall_err_t *err);

#endif
