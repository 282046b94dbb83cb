/*
 * Refresh-token families in Redis (auth_store.h): a login starts a family,
 * each refresh rotates it under WATCH (the used token marked, a new pair
 * recorded, all in one MULTI/EXEC), a reused token revokes the family.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth_store.h"
#include "mall_batch.h"
#include "mall_log.h"
#include "mall_query.h"

/* ---- sessions ------------------------------------------------------------ */

/* Family keys live as long as a refresh token plus its last access token */
static int64_t
store_family_ttl(const auth_conf_t *a)
{
    return a->refresh_ttl + a->access_ttl + 120;
}


/*
 * Mints a pair in family fam and queues the commands that record it.
 * MALL_OK or MALL_ERR.
 */
static int
store_queue_pair(mall_batch_t *b, const auth_conf_t *a, const char *uid,
    const char *fam, int64_t now, auth_pair_t *out, mall_err_t *err)
{
    char  hash[MALL_SHA256_HEX_LEN + 1], rt[80], famkey[64], jtis[80];
    char  ufams[80], jkey[80], ttl[24], rexp[24], created[24], aexp[24];
    char  jexp[24];

    if (auth_token_mint(a, uid, a->token_audience, "", a->access_ttl, now,
                        &out->access, err) != MALL_OK)
    {
        return MALL_ERR;
    }
    if (auth_token_random(AUTH_REFRESH_BYTES, out->refresh,
                          sizeof(out->refresh)) != MALL_OK)
    {
        return mall_err_set(err, 0, "no randomness for refresh token");
    }
    out->refresh_exp = now + a->refresh_ttl;
    snprintf(out->family, sizeof(out->family), "%s", fam);
    snprintf(out->uid, sizeof(out->uid), "%s", uid);
    auth_token_refresh_hash(out->refresh, strlen(out->refresh), hash);

    snprintf(rt, sizeof(rt), "mall:rt:%s", hash);
    snprintf(famkey, sizeof(famkey), "mall:rfam:%s", fam);
    snprintf(jtis, sizeof(jtis), "mall:rfam:%s:jtis", fam);
    snprintf(ufams, sizeof(ufams), "mall:user:%s:rfams", uid);
    snprintf(jkey, sizeof(jkey), "mall:jti:%s", out->access.jti);
    snprintf(ttl, sizeof(ttl), "%lld", (long long) store_family_ttl(a));
    snprintf(rexp, sizeof(rexp), "%lld", (long long) out->refresh_exp);
    snprintf(created, sizeof(created), "%lld", (long long) now);
    snprintf(aexp, sizeof(aexp), "%lld", (long long) out->access.exp);
    snprintf(jexp, sizeof(jexp), "%lld", (long long) out->access.exp + 120);

    mall_batch_addl(b, 12, "HSET", rt, "uid", uid, "fam", fam, "state",
                    "active", "exp", rexp, "created", created);
    mall_batch_addl(b, 3, "EXPIREAT", rt, rexp);
    mall_batch_addl(b, 3, "EXPIRE", famkey, ttl);
    mall_batch_addl(b, 4, "ZADD", jtis, aexp, out->access.jti);
    mall_batch_addl(b, 3, "EXPIRE", jtis, ttl);
    mall_batch_addl(b, 5, "SET", jkey, fam, "EXAT", jexp);
    mall_batch_addl(b, 3, "SADD", ufams, fam);
    mall_batch_addl(b, 3, "EXPIRE", ufams, ttl);
    return b->oom ? mall_err_set(err, 0, "out of memory") : MALL_OK;
}


int
auth_session_start(mall_redis_t *r, const auth_conf_t *a, const char *uid,
    int64_t now, auth_pair_t *out, mall_err_t *err)
{
    mall_batch_t  b;
    char          fam[AUTH_FAMILY_LEN + 1], famkey[64], created[24];
    int           rc;

    memset(out, 0, sizeof(*out));
    if (auth_token_random(AUTH_FAMILY_BYTES, fam, sizeof(fam)) != MALL_OK) {
        return mall_err_set(err, 0, "no randomness for family id");
    }

    snprintf(famkey, sizeof(famkey), "mall:rfam:%s", fam);
    snprintf(created, sizeof(created), "%lld", (long long) now);
    mall_batch_init(&b);
    mall_batch_addl(&b, 8, "HSET", famkey, "uid", uid, "state", "active",
                    "created", created);
    rc = store_queue_pair(&b, a, uid, fam, now, out, err);
    if (rc == MALL_OK) {
        rc = mall_batch_exec(&b, r, 1, NULL, err);
        if (rc == MALL_BATCH_ABORTED) {
            rc = mall_err_set(err, 0, "session transaction aborted");
        }
    }
    mall_batch_free(&b);
    return rc;
}


/* Reads name from an HGETALL-style array reply into out ("" if absent) */
static void
store_field(const redisReply *arr, const char *name, char *out,
    size_t outsz)
{
    const redisReply  *v = mall_redis_hash_field(arr, name);

    if (v == NULL || auth_store_copy_str(v, out, outsz) != MALL_OK) {
        out[0] = '\0';
    }
}


int
auth_session_refresh(mall_redis_t *r, const auth_conf_t *a,
    const char *token, size_t len, int64_t now, auth_pair_t *out,
    auth_rt_result_e *res, mall_err_t *err)
{
    mall_batch_t b;
    redisReply  *rep[3];
    const char  *w1[] = { "WATCH", NULL }, *h1[] = { "HGETALL", NULL };
    const char  *w2[] = { "WATCH", NULL }, *g2[] = { "HGET", NULL, "state" };
    const char  *g3[] = { "HGET", NULL, "status" };
    size_t       l1[2], lh[2], l2[2], lg[3], l3[3];
    mall_redis_cmd_t cmds[3];
    char         hash[MALL_SHA256_HEX_LEN + 1], rtkey[80], famkey[64];
    char         ukey[64], uid[AUTH_UID_MAX], fam[AUTH_FAMILY_LEN + 8];
    char         state[16], expbuf[24], fstate[16], ustatus[16], nowbuf[24];
    long long    exp;
    int          rc;

    memset(out, 0, sizeof(*out));
    *res = AUTH_RT_INVALID;

    if (!auth_token_refresh_valid(token, len)) {
        return MALL_OK;
    }
    auth_token_refresh_hash(token, len, hash);
    snprintf(rtkey, sizeof(rtkey), "mall:rt:%s", hash);

    /* 1. watch and read the token's record */
    w1[1] = rtkey; h1[1] = rtkey;
    l1[0] = 5; l1[1] = strlen(rtkey);
    lh[0] = 7; lh[1] = l1[1];
    cmds[0] = (mall_redis_cmd_t) { 2, w1, l1 };
    cmds[1] = (mall_redis_cmd_t) { 2, h1, lh };
    rc = mall_redis_pipeline(r, 2, cmds, rep, err);
    if (rc != MALL_OK) {
        return rc;
    }
    if (rep[1]->type != REDIS_REPLY_ARRAY) {
        mall_redis_free_replies(rep, 2);
        mall_unwatch(r);
        return mall_err_set(err, 0, "HGETALL refresh token failed");
    }
    store_field(rep[1], "uid", uid, sizeof(uid));
    store_field(rep[1], "fam", fam, sizeof(fam));
    store_field(rep[1], "state", state, sizeof(state));
    store_field(rep[1], "exp", expbuf, sizeof(expbuf));
    mall_redis_free_replies(rep, 2);

    if (uid[0] == '\0' || fam[0] == '\0'
        || mall_parse_int(expbuf, 0, 1LL << 40, &exp) != MALL_OK)
    {
        mall_unwatch(r);
        *res = AUTH_RT_INVALID;
        return MALL_OK;
    }
    if (exp <= now) {
        mall_unwatch(r);
        *res = AUTH_RT_EXPIRED;
        return MALL_OK;
    }
    if (strcmp(state, "active") != 0) {
        mall_unwatch(r);
        if (strcmp(state, "used") == 0) {
            /* a rotated token came back: whoever holds it, the family is
             * compromised */
            *res = AUTH_RT_REUSED;
            return auth_family_revoke(r, a, fam, now, err);
        }
        *res = AUTH_RT_REVOKED;
        return MALL_OK;
    }

    /* 2. watch the family too, and read its state and the user's */
    snprintf(famkey, sizeof(famkey), "mall:rfam:%s", fam);
    snprintf(ukey, sizeof(ukey), "mall:user:%s", uid);
    w2[1] = famkey; g2[1] = famkey; g3[1] = ukey;
    l2[0] = 5; l2[1] = strlen(famkey);
    lg[0] = 4; lg[1] = l2[1]; lg[2] = 5;
    l3[0] = 4; l3[1] = strlen(ukey); l3[2] = 6;
    cmds[0] = (mall_redis_cmd_t) { 2, w2, l2 };
    cmds[1] = (mall_redis_cmd_t) { 3, g2, lg };
    cmds[2] = (mall_redis_cmd_t) { 3, g3, l3 };
    rc = mall_redis_pipeline(r, 3, cmds, rep, err);
    if (rc != MALL_OK) {
        return rc;
    }
    if (auth_store_copy_str(rep[1], fstate, sizeof(fstate)) != MALL_OK
        || auth_store_copy_str(rep[2], ustatus, sizeof(ustatus)) != MALL_OK)
    {
        mall_redis_free_replies(rep, 3);
        mall_unwatch(r);
        return mall_err_set(err, 0, "reading family/user state failed");
    }
    mall_redis_free_replies(rep, 3);

    if (strcmp(fstate, "active") != 0) {
        mall_unwatch(r);
        *res = AUTH_RT_REVOKED;
        return MALL_OK;
    }
    if (strcmp(ustatus, "frozen") == 0) {
        mall_unwatch(r);
        *res = AUTH_RT_FROZEN;
        return MALL_OK;
    }

    /* 3. rotate: old token used, new pair, all or nothing */
    mall_batch_init(&b);
    snprintf(nowbuf, sizeof(nowbuf), "%lld", (long long) now);
    mall_batch_addl(&b, 6, "HSET", rtkey, "state", "used", "used_at",
                    nowbuf);
    rc = store_queue_pair(&b, a, uid, fam, now, out, err);
    if (rc != MALL_OK) {
        mall_batch_free(&b);
        mall_unwatch(r);
        return rc;
    }
    rc = mall_batch_exec(&b, r, 1, NULL, err);
    mall_batch_free(&b);

    if (rc == MALL_BATCH_ABORTED) {
        /* a concurrent refresh (or a revocation) changed the token or the
         * family first: this one loses without revoking anything */
        memset(out, 0, sizeof(*out));
        *res = AUTH_RT_RACE;
        return MALL_OK;
    }
    if (rc != MALL_OK) {
        memset(out, 0, sizeof(*out));
        return rc;
    }
    *res = AUTH_RT_OK;
    return MALL_OK;
}


int
auth_family_revoke(mall_redis_t *r, const auth_conf_t *a, const char *fam,
    int64_t now, mall_err_t *err)
{
    const char  *argv[7];
    redisReply  *reply;
    char         famkey[64], jtis[80], since[24], nowbuf[24];
    long long    exp;
    size_t       i;
    int          rc;

    snprintf(famkey, sizeof(famkey), "mall:rfam:%s", fam);
    snprintf(jtis, sizeof(jtis), "mall:rfam:%s:jtis", fam);
    snprintf(nowbuf, sizeof(nowbuf), "%lld", (long long) now);

    /* HSET only an existing family (HSET would create one without TTL);
     * refresh checks the family state, so this revokes every refresh
     * token of the family at once */
    argv[0] = "EXISTS"; argv[1] = famkey;
    rc = auth_redis(r, &reply, err, 2, argv);
    if (rc != MALL_OK) {
        return rc;
    }
    i = reply->type == REDIS_REPLY_INTEGER && reply->integer == 1;
    freeReplyObject(reply);
    if (i) {
        argv[0] = "HSET"; argv[1] = famkey; argv[2] = "state";
        argv[3] = "revoked"; argv[4] = "revoked_at"; argv[5] = nowbuf;
        rc = auth_redis(r, &reply, err, 6, argv);
        if (rc != MALL_OK) {
            return rc;
        }
        freeReplyObject(reply);
    }

    /* every access token of the family that may still be accepted */
    snprintf(since, sizeof(since), "%lld", (long long) now - 120);
    argv[0] = "ZRANGEBYSCORE"; argv[1] = jtis; argv[2] = since;
    argv[3] = "+inf"; argv[4] = "WITHSCORES";
    rc = auth_redis(r, &reply, err, 5, argv);
    if (rc != MALL_OK) {
        return rc;
    }
    if (reply->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(reply);
        return mall_err_set(err, 0, "ZRANGEBYSCORE %s failed", jtis);
    }

    for (i = 0; i + 1 < reply->elements; i += 2) {
        if (reply->element[i]->type != REDIS_REPLY_STRING
            || reply->element[i + 1]->type != REDIS_REPLY_STRING
            || mall_parse_int(reply->element[i + 1]->str, 0, 1LL << 40, &exp)
               != MALL_OK)
        {
            continue;
        }
        rc = auth_revoke_jti(r, a, reply->element[i]->str, exp, err);
        if (rc != MALL_OK) {
            break;
        }
    }
    freeReplyObject(reply);
    return rc;
}


int
auth_family_revoke_by_jti(mall_redis_t *r, const auth_conf_t *a,
    const char *jti, int64_t now, mall_err_t *err)
{
    char  key[96], fam[AUTH_FAMILY_LEN + 8];
    int   rc, valid;

    snprintf(key, sizeof(key), "mall:jti:%s", jti);
    rc = auth_store_get_str(r, key, fam, sizeof(fam), &valid, err);
    if (rc != MALL_OK) {
        return rc;
    }
    if (!valid || fam[0] == '\0') {
        return MALL_OK;                /* admin or foreign token: none */
    }
    return auth_family_revoke(r, a, fam, now, err);
}


int
auth_user_revoke_families(mall_redis_t *r, const auth_conf_t *a,
    const char *uid, int64_t now, mall_err_t *err)
{
    const char  *argv[2];
    redisReply  *reply;
    char         key[64];
    size_t       i;
    int          rc;

    snprintf(key, sizeof(key), "mall:user:%s:rfams", uid);
    argv[0] = "SMEMBERS"; argv[1] = key;
    rc = auth_redis(r, &reply, err, 2, argv);
    if (rc != MALL_OK) {
        return rc;
    }
    if (reply->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(reply);
        return mall_err_set(err, 0, "SMEMBERS %s failed", key);
    }
    for (i = 0; i < reply->elements; i++) {
        if (reply->element[i]->type == REDIS_REPLY_STRING
            && strlen(reply->element[i]->str) <= AUTH_FAMILY_LEN)
        {
            rc = auth_family_revoke(r, a, reply->element[i]->str, now, err);
            if (rc != MALL_OK) {
                break;
            }
        }
    }
    freeReplyObject(reply);
    return rc;
}
