/*
 * The freeze of an account an abnormal order tripped, the guard that
 * refuses a frozen user's writes, and failed payments (see risk_store.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth_store.h"
#include "mall_audit.h"
#include "mall_log.h"
#include "mall_reply.h"
#include "risk_store.h"


int
risk_reply_frozen(mall_ctx_t *ctx)
{
    return mall_reply_error(ctx, 403, "ACCOUNT_FROZEN", "this account is "
                            "frozen for review; contact customer service");
}


/* The alert's XADD and the record's status, in one MULTI; *id the
 * alert's stream id. */
static int
risk_freeze_record(mall_ctx_t *ctx, const risk_hit_t *hit,
    const risk_alert_t *a, int64_t now, char *id, size_t idsz,
    mall_err_t *err)
{
    const char    *argv[32];
    char           ukey[96], ts[24], val[24], lim[24], score[8], total[24];
    char           by[64];
    redisReply    *exec;
    mall_batch_t   b;
    int            argc, rc;

    snprintf(ukey, sizeof(ukey), "mall:user:%s", a->uid);
    snprintf(ts, sizeof(ts), "%lld", (long long) now);
    snprintf(val, sizeof(val), "%lld", (long long) hit->value);
    snprintf(lim, sizeof(lim), "%lld", (long long) hit->limit);
    snprintf(score, sizeof(score), "%d", a->edge_score);
    snprintf(total, sizeof(total), "%lld", (long long) a->total_fen);
    snprintf(by, sizeof(by), "risk:%s", hit->rule);

    mall_batch_init(&b);
    mall_batch_addl(&b, 8, "HSET", ukey, "status", "frozen", "frozen_at", ts,
                    "frozen_by", by);
    argc = 0;
    argv[argc++] = "XADD";
    argv[argc++] = RISK_KEY_ALERTS;
    argv[argc++] = "MAXLEN";
    argv[argc++] = "~";
    argv[argc++] = RISK_ALERTS_MAXLEN;
    argv[argc++] = "*";
    argv[argc++] = "user_id";    argv[argc++] = a->uid;
    argv[argc++] = "rule";       argv[argc++] = hit->rule;
    argv[argc++] = "value";      argv[argc++] = val;
    argv[argc++] = "limit";      argv[argc++] = lim;
    argv[argc++] = "order_id";   argv[argc++] = a->order_id ? a->order_id : "";
    argv[argc++] = "device";     argv[argc++] = a->device ? a->device : "";
    argv[argc++] = "edge_score"; argv[argc++] = score;
    argv[argc++] = "reasons";    argv[argc++] = a->reasons ? a->reasons : "";
    argv[argc++] = "total_fen";
    argv[argc++] = a->total_fen == RISK_UNKNOWN ? "" : total;
    argv[argc++] = "ts";         argv[argc++] = ts;
    mall_batch_add(&b, argc, argv);

    rc = mall_batch_exec(&b, ctx->redis, 1, &exec, err);
    mall_batch_free(&b);
    if (rc != MALL_OK) {
        return rc == MALL_BATCH_ABORTED ? MALL_ERR : rc;
    }
    if (exec == NULL || exec->type != REDIS_REPLY_ARRAY || exec->elements != 2
        || exec->element[1]->type != REDIS_REPLY_STRING
        || exec->element[1]->len >= idsz)
    {
        freeReplyObject(exec);
        return mall_err_set(err, 500, "unexpected freeze EXEC reply");
    }
    memcpy(id, exec->element[1]->str, exec->element[1]->len + 1);
    freeReplyObject(exec);
    return MALL_OK;
}


int
risk_freeze(mall_ctx_t *ctx, const risk_hit_t *hit, const risk_alert_t *a,
    mall_err_t *err)
{
    mall_audit_field_t   f[3];
    redisReply          *reply;
    char                 id[64], key[128], target[96];
    int64_t              now = (int64_t) time(NULL);
    int                  rc;

    rc = risk_freeze_record(ctx, hit, a, now, id, sizeof(id), err);
    if (rc != MALL_OK) {
        return rc;
    }
    snprintf(key, sizeof(key), RISK_KEY_USER_ALERTS, a->uid);
    rc = mall_cmd(ctx->redis, &reply, err, 3, "SADD", key, id);
    if (rc == MALL_OK) {
        freeReplyObject(reply);
        /* tokens issued up to the end of this second are refused at every
         * edge; refresh tokens die with their families */
        rc = auth_revoke_user(ctx->redis, &ctx->conf->auth, a->uid, now + 1,
                              err);
    }
    if (rc == MALL_OK) {
        rc = auth_user_revoke_families(ctx->redis, &ctx->conf->auth, a->uid,
                                       now, err);
    }
    mall_log_req(MALL_LOG_WARN, "risk", ctx->request_id, a->uid,
                 "account frozen: %s %lld > %lld (alert %s, order %s)",
                 hit->rule, (long long) hit->value, (long long) hit->limit,
                 id, a->order_id != NULL ? a->order_id : "-");

    snprintf(target, sizeof(target), "user:%s", a->uid);
    f[0].name = "target";
    f[0].value = target;
    f[1].name = "rule";
    f[1].value = hit->rule;
    f[2].name = "alert";
    f[2].value = id;
    (void) mall_audit_ctx(ctx, "risk", "user.freeze", "ok", f, 3);
    return rc;
}


int
risk_guard_write(mall_ctx_t *ctx)
{
    const char  *u = ctx->ident.user;
    redisReply  *reply;
    mall_err_t   err;
    char         key[96];
    int          rc, frozen;

    if (!ctx->ident.verified || u[0] == '\0' || strncmp(u, "admin:", 6) == 0
        || strcmp(ctx->method, "GET") == 0 || strcmp(ctx->method, "HEAD") == 0
        || strncmp(ctx->path, "/api/v1/", 8) != 0
        || strncmp(ctx->path, "/api/v1/auth/", 13) == 0
        || (ctx->route->flags & MALL_ROUTE_FROZEN_OWN))
    {
        return MALL_OK;
    }
    snprintf(key, sizeof(key), "mall:user:%s", u);
    rc = mall_cmd(ctx->redis, &reply, &err, 3, "HGET", key, "status");
    if (rc != MALL_OK) {
        return rc;
    }
    frozen = reply->type == REDIS_REPLY_STRING
             && strcmp(reply->str, "frozen") == 0;
    freeReplyObject(reply);
    if (frozen) {
        risk_reply_frozen(ctx);
        return MALL_ERR;
    }
    return MALL_OK;
}


int
risk_pay_failed(mall_ctx_t *ctx, const char *uid, const char *oid)
{
    const risk_conf_t  *conf = &ctx->conf->risk;
    risk_counters_t     k;
    risk_alert_t        a;
    risk_hit_t          hit;
    redisReply         *reps[2];
    mall_batch_t        b;
    mall_err_t          err;
    char                key[64], field[96], at[24];
    int64_t             now = (int64_t) time(NULL);
    int                 rc;

    if (conf->pay_failures <= 0) {
        return 0;
    }
    snprintf(key, sizeof(key), "mall:risk:%lld", (long long) (now / 3600));
    snprintf(field, sizeof(field), "f:%s", uid);
    snprintf(at, sizeof(at), "%lld", (long long) ((now / 3600 + 2) * 3600));
    mall_batch_init(&b);
    mall_batch_addl(&b, 4, "HINCRBY", key, field, "1");
    mall_batch_addl(&b, 3, "EXPIREAT", key, at);
    err.msg[0] = '\0';
    rc = mall_batch_send(&b, ctx->redis, reps, &err);
    mall_batch_free(&b);
    if (rc != MALL_OK) {
        mall_log_req(MALL_LOG_WARN, "risk", ctx->request_id, uid,
                     "failed payment not counted: %s", err.msg);
        return 0;
    }
    risk_counters_init(&k, now);
    k.pay_failures = reps[0]->type == REDIS_REPLY_INTEGER
                     ? reps[0]->integer : RISK_UNKNOWN;
    mall_redis_free_replies(reps, 2);
    if (!risk_evaluate(conf, &k, &hit)) {
        return 0;
    }
    memset(&a, 0, sizeof(a));
    a.uid = uid;
    a.order_id = oid;
    a.total_fen = RISK_UNKNOWN;
    if (risk_freeze(ctx, &hit, &a, &err) != MALL_OK) {
        mall_log_req(MALL_LOG_ERROR, "risk", ctx->request_id, uid,
                     "freeze failed: %s", err.msg);
        return 0;
    }
    return 1;
}
