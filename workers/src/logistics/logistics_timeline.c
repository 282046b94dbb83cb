/*
 * The tracking timeline of an order detail (see logistics.h): cache in
 * Redis, one refresh at a time, stale on error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "carrier.h"
#include "logistics.h"
#include "mall_batch.h"
#include "mall_json.h"
#include "mall_log.h"

typedef struct {
    const char  *oid;
    const char  *carrier;
    const char  *tracking_no;
    char         phone[5];                     /* last 4 digits, or "" */
    char         key[LOGISTICS_KEY_MAX];       /* the cache */
    char         fkey[LOGISTICS_KEY_MAX];      /* its freshness */
    cJSON       *cache;                        /* last good answer, or NULL */
    const char  *status;                       /* timeline_status */
    char         error[CARRIER_CODE_MAX + 8];  /* timeline_error, or "" */
} lg_read_t;


/* The stored answer when it is for this parcel (caller deletes), or NULL. */
static cJSON *
cache_parse(const redisReply *r, const lg_read_t *l)
{
    const cJSON  *c, *n;
    cJSON        *o;

    if (r == NULL || r->type != REDIS_REPLY_STRING) {
        return NULL;
    }
    o = mall_json_object(r->str, r->len);
    c = cJSON_GetObjectItemCaseSensitive(o, "carrier");
    n = cJSON_GetObjectItemCaseSensitive(o, "tracking_no");
    if (!cJSON_IsString(c) || !cJSON_IsString(n)
        || strcmp(c->valuestring, l->carrier) != 0
        || strcmp(n->valuestring, l->tracking_no) != 0
        || !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(o, "events")))
    {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}


/* The status a freshness marker stands for (the cache as it is). */
static void
status_of_fresh(lg_read_t *l, const char *fresh)
{
    if (strcmp(fresh, "ok") == 0) {
        l->status = "ok";
    } else if (strcmp(fresh, "none") == 0) {
        l->status = l->cache != NULL ? "ok" : "pending";
    } else if (strncmp(fresh, "error ", 6) == 0) {
        l->status = l->cache != NULL ? "stale" : "unavailable";
        snprintf(l->error, sizeof(l->error), "%s", fresh + 6);
    } else {                                        /* "busy" */
        l->status = l->cache != NULL ? "refreshing" : "pending";
    }
}


/* The cache record of a carrier answer (caller deletes), or NULL. */
static cJSON *
cache_record(const lg_read_t *l, carrier_result_t *res)
{
    cJSON  *o;

    o = cJSON_CreateObject();
    if (o == NULL || mall_json_add_str(o, "carrier", l->carrier) != MALL_OK
        || mall_json_add_str(o, "tracking_no", l->tracking_no) != MALL_OK
        || mall_json_add_int(o, "fetched_at", (int64_t) time(NULL))
           != MALL_OK
        || mall_json_add_int(o, "state", res->state) != MALL_OK
        || cJSON_AddBoolToObject(o, "delivered", res->delivered) == NULL
        || !cJSON_AddItemToObject(o, "events", res->events))
    {
        cJSON_Delete(o);
        return NULL;
    }
    res->events = NULL;                             /* o owns them now */
    return o;
}


/*
 * Asks the carrier (this read holds the "busy" marker) and stores what it
 * says: a new cache and "ok" for logistics_cache_ttl seconds (a day when
 * the parcel is delivered, if that is longer), or "none" (no record yet)
 * or "error <code>" for logistics_error_retry seconds.
 */
static void
fetch(mall_ctx_t *ctx, const carrier_client_t *cl, lg_read_t *l)
{
    const logistics_conf_t  *c = &ctx->conf->logistics;
    carrier_query_t          q = { l->carrier, l->tracking_no, l->phone };
    carrier_result_t         res;
    mall_batch_t             b;
    mall_err_t               err;
    char                     ttl[16], fresh[CARRIER_CODE_MAX + 8];
    char                    *text;
    cJSON                   *rec;
    int                      rc, secs;

    err.msg[0] = '\0';
    rc = cl->query(c, &q, &res, &err);
    rec = NULL;
    text = NULL;
    /* no record yet: it may appear soon, so ask again like after a failure */
    secs = c->error_retry;
    if (rc == MALL_OK && res.events != NULL) {
        /* a parcel signed for hardly changes: look again daily at most */
        secs = res.delivered && c->cache_ttl < LOGISTICS_DELIVERED_TTL
               ? LOGISTICS_DELIVERED_TTL : c->cache_ttl;
        rec = cache_record(l, &res);
        text = rec != NULL ? cJSON_PrintUnformatted(rec) : NULL;
        snprintf(fresh, sizeof(fresh), "ok");
    } else if (rc == MALL_OK
               && strcmp(res.code, CARRIER_CODE_NO_RESULT) == 0)
    {
        snprintf(fresh, sizeof(fresh), "none");
    } else {
        snprintf(fresh, sizeof(fresh), "error %s",
                 rc == MALL_OK ? res.code : "network");
        mall_log_req(MALL_LOG_WARN, "logistics", ctx->request_id, "",
                     "order %s: %s query failed: %s %s", l->oid, cl->name,
                     rc == MALL_OK ? "returnCode" : "no answer:",
                     rc == MALL_OK ? res.code : err.msg);
    }
    carrier_result_free(&res);
    if (rec != NULL && text == NULL) {
        cJSON_Delete(rec);
        rec = NULL;
    }
    snprintf(ttl, sizeof(ttl), "%d", secs);
    mall_batch_init(&b);
    if (text != NULL) {
        mall_batch_addl(&b, 5, "SET", l->key, text, "EX", LOGISTICS_KEEP);
    }
    mall_batch_addl(&b, 5, "SET", l->fkey, fresh, "EX", ttl);
    if (mall_batch_exec(&b, ctx->redis, 1, NULL, &err) != MALL_OK) {
        mall_log_req(MALL_LOG_WARN, "logistics", ctx->request_id, "",
                     "order %s: cannot cache the timeline: %s", l->oid,
                     err.msg);
    }
    mall_batch_free(&b);
    cJSON_free(text);
    if (rec != NULL) {
        cJSON_Delete(l->cache);
        l->cache = rec;
    }
    status_of_fresh(l, fresh);
}


/* SET fresh busy NX: 1 when this read won the right to ask the carrier. */
static int
elect(mall_ctx_t *ctx, const lg_read_t *l)
{
    redisReply  *r;
    mall_err_t   err;
    char         ttl[16];
    int          won;

    snprintf(ttl, sizeof(ttl), "%d",
             ctx->conf->logistics.timeout_ms / 1000 + 2);
    if (mall_cmd(ctx->redis, &r, &err, 6, "SET", l->fkey, "busy", "NX",
                 "EX", ttl) != MALL_OK)
    {
        return 0;
    }
    won = r->type == REDIS_REPLY_STATUS;
    freeReplyObject(r);
    return won;
}


/* Adds the members of the answer to lg; MALL_ERR when memory runs out. */
static int
attach_members(cJSON *lg, const lg_read_t *l, const redisReply *manual)
{
    const cJSON  *ev, *st, *dl, *at;
    int64_t       state, fetched;
    cJSON        *tl;

    ev = cJSON_GetObjectItemCaseSensitive(l->cache, "events");
    st = cJSON_GetObjectItemCaseSensitive(l->cache, "state");
    dl = cJSON_GetObjectItemCaseSensitive(l->cache, "delivered");
    at = cJSON_GetObjectItemCaseSensitive(l->cache, "fetched_at");
    if (mall_json_get_int(st, -1, 14, &state) != MALL_OK) {
        state = -1;
    }
    if (mall_json_get_int(at, 0, INT64_C(1) << 40, &fetched) != MALL_OK) {
        fetched = 0;
    }
    tl = logistics_merge(ev, manual);
    if (tl == NULL || !cJSON_AddItemToObject(lg, "timeline", tl)) {
        cJSON_Delete(tl);
        return MALL_ERR;
    }
    if ((state >= 0 ? mall_json_add_int(lg, "state", state)
                    : (cJSON_AddNullToObject(lg, "state") != NULL
                       ? MALL_OK : MALL_ERR)) != MALL_OK
        || mall_json_add_str(lg, "state_name", state >= 0
                             ? carrier_state_name((int) state) : "unknown")
           != MALL_OK
        || cJSON_AddBoolToObject(lg, "delivered", cJSON_IsTrue(dl)) == NULL
        || mall_json_add_str(lg, "timeline_status", l->status) != MALL_OK
        || mall_json_add_int(lg, "timeline_updated_at", fetched) != MALL_OK
        || (l->error[0] != '\0'
            && mall_json_add_str(lg, "timeline_error", l->error) != MALL_OK))
    {
        return MALL_ERR;
    }
    return MALL_OK;
}


/*
 * The last four digits of the receiver's phone from the view's address
 * (masked "138****5678": the tail is what the detail shows anyway).
 */
static void
phone_tail(const cJSON *view, char out[5])
{
    const cJSON  *a, *p;
    size_t        n;

    out[0] = '\0';
    a = cJSON_GetObjectItemCaseSensitive(view, "address");
    p = cJSON_GetObjectItemCaseSensitive(a, "phone");
    if (!cJSON_IsString(p) || (n = strlen(p->valuestring)) < 4
        || strspn(p->valuestring + n - 4, "0123456789") != 4)
    {
        return;
    }
    memcpy(out, p->valuestring + n - 4, 5);
}


void
logistics_attach(mall_ctx_t *ctx, const char *oid, cJSON *view)
{
    const carrier_client_t  *cl;
    const cJSON             *c, *n;
    redisReply              *reps[3];
    mall_batch_t             b;
    mall_err_t               err;
    lg_read_t                l;
    char                     mkey[LOGISTICS_KEY_MAX];
    cJSON                   *lg;
    int                      rc;

    lg = cJSON_GetObjectItemCaseSensitive(view, "logistics");
    c = cJSON_GetObjectItemCaseSensitive(lg, "carrier");
    n = cJSON_GetObjectItemCaseSensitive(lg, "tracking_no");
    if (!cJSON_IsObject(lg) || !cJSON_IsString(c) || !cJSON_IsString(n)) {
        return;                                     /* not shipped */
    }
    memset(&l, 0, sizeof(l));
    l.oid = oid;
    l.carrier = c->valuestring;
    l.tracking_no = n->valuestring;
    phone_tail(view, l.phone);
    snprintf(l.key, sizeof(l.key), LOGISTICS_KEY_CACHE, oid);
    snprintf(l.fkey, sizeof(l.fkey), LOGISTICS_KEY_FRESH, oid);
    snprintf(mkey, sizeof(mkey), LOGISTICS_KEY_MANUAL, oid);

    memset(reps, 0, sizeof(reps));
    mall_batch_init(&b);
    mall_batch_addl(&b, 2, "GET", l.key);
    mall_batch_addl(&b, 2, "GET", l.fkey);
    mall_batch_addl(&b, 4, "LRANGE", mkey, "0", "-1");
    err.msg[0] = '\0';
    rc = mall_batch_send(&b, ctx->redis, reps, &err);
    mall_batch_free(&b);
    cl = carrier_client(&ctx->conf->logistics);
    if (rc != MALL_OK) {
        l.status = "unavailable";
        snprintf(l.error, sizeof(l.error), "storage");
        mall_log_req(MALL_LOG_WARN, "logistics", ctx->request_id, "",
                     "order %s: timeline not read: %s", oid, err.msg);
    } else {
        l.cache = cache_parse(reps[0], &l);
        if (cl == NULL) {
            l.status = "disabled";
        } else if (reps[1]->type == REDIS_REPLY_STRING) {
            status_of_fresh(&l, reps[1]->str);
        } else if (elect(ctx, &l)) {
            fetch(ctx, cl, &l);
        } else {
            status_of_fresh(&l, "busy");
        }
    }
    if (attach_members(lg, &l, rc == MALL_OK ? reps[2] : NULL) != MALL_OK) {
        mall_log_req(MALL_LOG_WARN, "logistics", ctx->request_id, "",
                     "order %s: out of memory for the timeline", oid);
    }
    cJSON_Delete(l.cache);
    mall_redis_free_replies(reps, 3);
}
