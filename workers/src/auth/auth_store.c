/*
 * Users and revocation events in Redis (auth_store.h); refresh families
 * are in auth_session.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "auth_store.h"
#include "mall_batch.h"
#include "mall_log.h"
#include "mall_query.h"

int
auth_redis(mall_redis_t *r, redisReply **reply, mall_err_t *err, int argc,
    const char **argv)
{
    size_t  argvlen[16];
    int     i;

    if (argc > (int) MALL_ARRAY_LEN(argvlen)) {
        return mall_err_set(err, 0, "too many arguments");
    }
    for (i = 0; i < argc; i++) {
        argvlen[i] = strlen(argv[i]);
    }
    return mall_redis_command(r, reply, err, argc, argv, argvlen);
}


int
auth_uid_valid(const char *s)
{
    size_t  i, len;

    len = strlen(s);
    if (len == 0 || len > 18 || s[0] == '0') {
        return 0;
    }
    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
    }
    return 1;
}


/* A string reply copied into out, or "" for nil. MALL_OK or MALL_ERR. */
int
auth_store_copy_str(const redisReply *rep, char *out, size_t outsz)
{
    if (rep->type == REDIS_REPLY_NIL) {
        out[0] = '\0';
        return MALL_OK;
    }
    if (rep->type != REDIS_REPLY_STRING || rep->len >= outsz) {
        return MALL_ERR;
    }
    memcpy(out, rep->str, rep->len + 1);
    return MALL_OK;
}


/*
 * GET key into out ("" for nil). Returns the Redis error, else MALL_OK
 * with *valid 0 when the value is not a string that fits.
 */
int
auth_store_get_str(mall_redis_t *r, const char *key, char *out, size_t outsz,
    int *valid, mall_err_t *err)
{
    const char  *argv[2];
    redisReply  *reply;
    int          rc;

    argv[0] = "GET"; argv[1] = key;
    rc = auth_redis(r, &reply, err, 2, argv);
    if (rc != MALL_OK) {
        return rc;
    }
    *valid = auth_store_copy_str(reply, out, outsz) == MALL_OK;
    freeReplyObject(reply);
    return MALL_OK;
}


/* ---- revocation events ------------------------------------------------ */

static int
store_xadd_revoked(mall_redis_t *r, const auth_conf_t *a, const char *type,
    const char *idname, const char *id, const char *whenname, int64_t when,
    mall_err_t *err)
{
    const char  *argv[12];
    redisReply  *reply;
    char         minid[32], ts[24];
    int64_t      now_ms;
    int          rc;

    /* entries older than the longest access token (plus the edge's
     * leeway) concern expired tokens only: trim them */
    now_ms = (int64_t) time(NULL) * 1000;
    snprintf(minid, sizeof(minid), "%lld",
             (long long) (now_ms - (auth_conf_max_access_ttl(a) + 120)
                                   * 1000));
    snprintf(ts, sizeof(ts), "%lld", (long long) when);

    argv[0] = "XADD"; argv[1] = "mall:revoked"; argv[2] = "MINID";
    argv[3] = "~"; argv[4] = minid; argv[5] = "*";
    argv[6] = "type"; argv[7] = type; argv[8] = idname; argv[9] = id;
    argv[10] = whenname; argv[11] = ts;

    rc = auth_redis(r, &reply, err, 12, argv);
    if (rc == MALL_OK) {
        freeReplyObject(reply);
    }
    return rc;
}


int
auth_revoke_jti(mall_redis_t *r, const auth_conf_t *a, const char *jti,
    int64_t exp, mall_err_t *err)
{
    return store_xadd_revoked(r, a, "jti", "jti", jti, "exp", exp, err);
}


int
auth_revoke_user(mall_redis_t *r, const auth_conf_t *a, const char *sub,
    int64_t until, mall_err_t *err)
{
    return store_xadd_revoked(r, a, "user", "sub", sub, "until", until, err);
}


/* ---- users -------------------------------------------------------------- */

int
auth_user_login(mall_redis_t *r, const char *openid, const char *unionid,
    int64_t now, char uid[AUTH_UID_MAX], mall_err_t *err)
{
    const char   *argv[6];
    redisReply   *reply;
    mall_batch_t  b;
    char          okey[300], ukey[300], hkey[64], id[AUTH_UID_MAX];
    char          created[24];
    int           rc, won, fresh, valid;

    fresh = 0;
    snprintf(okey, sizeof(okey), "mall:user:openid:%s", openid);
    snprintf(ukey, sizeof(ukey), "mall:user:unionid:%s", unionid);

    /* known openid, or (another app of the same account) known unionid */
    rc = auth_store_get_str(r, okey, uid, AUTH_UID_MAX, &valid, err);
    if (rc != MALL_OK) {
        return rc;
    }
    if (!valid) {
        return mall_err_set(err, 0, "bad openid mapping");
    }
    if (uid[0] != '\0') {
        return MALL_OK;
    }

    if (unionid[0] != '\0') {
        rc = auth_store_get_str(r, ukey, id, sizeof(id), &valid, err);
        if (rc != MALL_OK) {
            return rc;
        }
        if (!valid) {
            return mall_err_set(err, 0, "bad unionid mapping");
        }
    } else {
        id[0] = '\0';
    }

    if (id[0] == '\0') {
        /* a new user: write the record first, then publish the openid
         * mapping with SET NX; the loser of a race drops its record */
        argv[0] = "INCR"; argv[1] = "mall:seq:user";
        rc = auth_redis(r, &reply, err, 2, argv);
        if (rc != MALL_OK) {
            return rc;
        }
        if (reply->type != REDIS_REPLY_INTEGER) {
            freeReplyObject(reply);
            return mall_err_set(err, 0, "INCR mall:seq:user failed");
        }
        snprintf(id, sizeof(id), "%lld", reply->integer);
        freeReplyObject(reply);

        mall_batch_init(&b);
        snprintf(hkey, sizeof(hkey), "mall:user:%s", id);
        snprintf(created, sizeof(created), "%lld", (long long) now);
        mall_batch_addl(&b, 16, "HSET", hkey, "id", id, "openid", openid,
                        "unionid", unionid, "nickname", AUTH_DEFAULT_NICK,
                        "avatar_url", "", "created_at", created, "status",
                        "active");
        rc = mall_batch_exec(&b, r, 0, NULL, err);
        mall_batch_free(&b);
        if (rc != MALL_OK) {
            return rc;
        }
        fresh = 1;
    }

    argv[0] = "SET"; argv[1] = okey; argv[2] = id; argv[3] = "NX";
    rc = auth_redis(r, &reply, err, 4, argv);
    if (rc != MALL_OK) {
        return rc;
    }
    won = reply->type == REDIS_REPLY_STATUS;
    freeReplyObject(reply);

    if (!won) {
        /* someone else published this openid first: use theirs and drop
         * the record we created for nothing */
        rc = auth_store_get_str(r, okey, uid, AUTH_UID_MAX, &valid, err);
        if (rc != MALL_OK) {
            return rc;
        }
        if (!valid || uid[0] == '\0') {
            return mall_err_set(err, 0, "openid mapping vanished");
        }
        if (fresh && strcmp(uid, id) != 0) {
            snprintf(hkey, sizeof(hkey), "mall:user:%s", id);
            argv[0] = "DEL"; argv[1] = hkey;
            if (auth_redis(r, &reply, err, 2, argv) == MALL_OK) {
                freeReplyObject(reply);
            }
        }
        return MALL_OK;
    }

    if (unionid[0] != '\0') {
        argv[0] = "SET"; argv[1] = ukey; argv[2] = id; argv[3] = "NX";
        rc = auth_redis(r, &reply, err, 4, argv);
        if (rc != MALL_OK) {
            return rc;
        }
        freeReplyObject(reply);
    }

    memcpy(uid, id, strlen(id) + 1);
    return MALL_OK;
}


int
auth_user_load(mall_redis_t *r, const char *uid, auth_user_t *u,
    mall_err_t *err)
{
    const char  *argv[2];
    redisReply  *reply;
    const char  *k;
    char         key[64];
    long long    v;
    size_t       i;
    int          rc;

    memset(u, 0, sizeof(*u));
    snprintf(key, sizeof(key), "mall:user:%s", uid);
    argv[0] = "HGETALL"; argv[1] = key;
    rc = auth_redis(r, &reply, err, 2, argv);
    if (rc != MALL_OK) {
        return rc;
    }
    if (reply->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(reply);
        return mall_err_set(err, 0, "HGETALL %s: not an array", key);
    }

    rc = MALL_OK;
    for (i = 0; i + 1 < reply->elements; i += 2) {
        const redisReply *val = reply->element[i + 1];
        k = reply->element[i]->str;
        if (val->type != REDIS_REPLY_STRING) {
            continue;
        }
        if (strcmp(k, "id") == 0) {
            rc |= auth_store_copy_str(val, u->id, sizeof(u->id));
        } else if (strcmp(k, "nickname") == 0) {
            rc |= auth_store_copy_str(val, u->nickname, sizeof(u->nickname));
        } else if (strcmp(k, "avatar_url") == 0) {
            rc |= auth_store_copy_str(val, u->avatar_url,
                                      sizeof(u->avatar_url));
        } else if (strcmp(k, "phone") == 0) {
            rc |= auth_store_copy_str(val, u->phone, sizeof(u->phone));
        } else if (strcmp(k, "session_key") == 0) {
            rc |= auth_store_copy_str(val, u->session_key,
                                 sizeof(u->session_key));
        } else if (strcmp(k, "created_at") == 0) {
            if (mall_parse_int(val->str, 0, 1LL << 40, &v) == MALL_OK) {
                u->created_at = v;
            }
        } else if (strcmp(k, "status") == 0) {
            u->frozen = strcmp(val->str, "frozen") == 0;
        }
    }
    u->found = reply->elements > 0 && u->id[0] != '\0';
    freeReplyObject(reply);

    if (rc != MALL_OK) {
        return mall_err_set(err, 0, "user %s has an oversized field", uid);
    }
    return MALL_OK;
}


int
auth_user_update(mall_redis_t *r, const char *uid, const char **pairs,
    size_t n, mall_err_t *err)
{
    const char  *argv[2 + 2 * 6];
    redisReply  *reply;
    char         key[64];
    size_t       i;
    int          rc;

    if (n == 0 || n > 6) {
        return mall_err_set(err, 0, "bad user update");
    }
    snprintf(key, sizeof(key), "mall:user:%s", uid);
    argv[0] = "HSET";
    argv[1] = key;
    for (i = 0; i < 2 * n; i++) {
        argv[2 + i] = pairs[i];
    }
    rc = auth_redis(r, &reply, err, (int) (2 + 2 * n), argv);
    if (rc == MALL_OK) {
        freeReplyObject(reply);
    }
    return rc;
}


int
auth_user_store_sealed(mall_redis_t *r, const auth_conf_t *a,
    const char *uid, const char *field, const char *value, mall_err_t *err)
{
    const char  *pairs[2];
    char         aad[96], sealed[AUTH_SEALED_MAX];
    size_t       len;

    if (a->n_data_keys == 0) {
        return mall_err_set(err, 0, "no data_key configured");
    }
    snprintf(aad, sizeof(aad), "mall:user:%s:%s", uid, field);
    if (mall_seal(&a->data_keys[0], aad, value, strlen(value), sealed,
                  sizeof(sealed), &len, err) != MALL_OK)
    {
        return MALL_ERR;
    }
    pairs[0] = field;
    pairs[1] = sealed;
    return auth_user_update(r, uid, pairs, 1, err);
}


int
auth_user_open_sealed(const auth_conf_t *a, const char *uid,
    const char *field, const char *sealed, char *out, size_t outsz,
    mall_err_t *err)
{
    char    aad[96];
    size_t  len;

    snprintf(aad, sizeof(aad), "mall:user:%s:%s", uid, field);
    if (outsz == 0
        || mall_unseal(a->data_keys, a->n_data_keys, aad, sealed,
                       strlen(sealed), (uint8_t *) out, outsz - 1, &len, err)
           != MALL_OK)
    {
        return MALL_ERR;
    }
    out[len] = '\0';
    return MALL_OK;
}


