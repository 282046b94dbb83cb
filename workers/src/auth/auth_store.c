/*
 * Users, refresh families and revocation events in Redis (auth_store.h).
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

#define TX_MAX_CMDS   32
#define TX_MAX_ARGS   192
#define TX_POOL       8192
#define TX_ABORTED    1               /* EXEC answered nil (WATCH fired) */

/* A batch of commands, optionally inside MULTI/EXEC, with a string pool
 * for the keys and numbers it formats. */
typedef struct {
    mall_redis_cmd_t   cmds[TX_MAX_CMDS];
    const char        *argv[TX_MAX_ARGS];
    size_t             argvlen[TX_MAX_ARGS];
    char               pool[TX_POOL];
    size_t             ncmds, nargs, used;
    int                overflow;
} auth_tx_t;


static void
tx_init(auth_tx_t *tx)
{
    tx->ncmds = tx->nargs = tx->used = 0;
    tx->overflow = 0;
}


/* printf into the pool; never NULL (overflow is reported at exec). */
static const char *
tx_fmt(auth_tx_t *tx, const char *fmt, ...)
{
    va_list  ap;
    int      n;
    char    *p;

    p = tx->pool + tx->used;
    va_start(ap, fmt);
    n = vsnprintf(p, TX_POOL - tx->used, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t) n >= TX_POOL - tx->used) {
        tx->overflow = 1;
        return "";
    }
    tx->used += (size_t) n + 1;
    return p;
}


/* Queues one command; the arguments end with NULL. */
static void
tx_add(auth_tx_t *tx, const char *arg0, ...)
{
    va_list      ap;
    const char  *a;
    size_t       first;

    if (tx->ncmds == TX_MAX_CMDS) {
        tx->overflow = 1;
        return;
    }
    first = tx->nargs;
    va_start(ap, arg0);
    for (a = arg0; a != NULL; a = va_arg(ap, const char *)) {
        if (tx->nargs == TX_MAX_ARGS) {
            tx->overflow = 1;
            break;
        }
        tx->argv[tx->nargs] = a;
        tx->argvlen[tx->nargs] = strlen(a);
        tx->nargs++;
    }
    va_end(ap);

    tx->cmds[tx->ncmds].argc = (int) (tx->nargs - first);
    tx->cmds[tx->ncmds].argv = &tx->argv[first];
    tx->cmds[tx->ncmds].argvlen = &tx->argvlen[first];
    tx->ncmds++;
}


/*
 * Sends the batch in one round trip, wrapped in MULTI/EXEC when multi.
 * MALL_OK, TX_ABORTED, MALL_ERR (an error reply) or MALL_RETRY.
 */
static int
tx_exec(mall_redis_t *r, auth_tx_t *tx, int multi, mall_err_t *err)
{
    static const char  *m_argv[] = { "MULTI" }, *e_argv[] = { "EXEC" };
    static const size_t m_len[] = { 5 }, e_len[] = { 4 };
    mall_redis_cmd_t    cmds[TX_MAX_CMDS + 2];
    redisReply         *replies[TX_MAX_CMDS + 2];
    redisReply         *last;
    size_t              i, n;
    int                 rc;

    if (tx->overflow) {
        return mall_err_set(err, 0, "redis batch too large");
    }

    n = 0;
    if (multi) {
        cmds[n++] = (mall_redis_cmd_t) { 1, m_argv, m_len };
    }
    for (i = 0; i < tx->ncmds; i++) {
        cmds[n++] = tx->cmds[i];
    }
    if (multi) {
        cmds[n++] = (mall_redis_cmd_t) { 1, e_argv, e_len };
    }

    if (n == 0) {
        return MALL_OK;
    }
    rc = mall_redis_pipeline(r, n, cmds, replies, err);
    if (rc != MALL_OK) {
        return rc;
    }

    rc = MALL_OK;
    last = replies[n - 1];
    if (multi && last->type == REDIS_REPLY_NIL) {
        rc = TX_ABORTED;
    } else {
        for (i = 0; i < n; i++) {
            if (replies[i]->type == REDIS_REPLY_ERROR) {
                rc = mall_err_set(err, 0, "redis: %s", replies[i]->str);
                break;
            }
        }
        if (rc == MALL_OK && multi) {
            for (i = 0; i < last->elements; i++) {
                if (last->element[i]->type == REDIS_REPLY_ERROR) {
                    rc = mall_err_set(err, 0, "redis: %s",
                                      last->element[i]->str);
                    break;
                }
            }
        }
    }

    mall_redis_free_replies(replies, n);
    return rc;
}


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
static int
store_copy_str(const redisReply *rep, char *out, size_t outsz)
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
static int
store_get_str(mall_redis_t *r, const char *key, char *out, size_t outsz,
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
    *valid = store_copy_str(reply, out, outsz) == MALL_OK;
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
    const char  *argv[6];
    redisReply  *reply;
    auth_tx_t   *tx;
    char         okey[300], ukey[300], hkey[64], id[AUTH_UID_MAX];
    char         created[24];
    int          rc, won, fresh, valid;

    tx = NULL;
    fresh = 0;
    snprintf(okey, sizeof(okey), "mall:user:openid:%s", openid);
    snprintf(ukey, sizeof(ukey), "mall:user:unionid:%s", unionid);

    /* known openid, or (another app of the same account) known unionid */
    rc = store_get_str(r, okey, uid, AUTH_UID_MAX, &valid, err);
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
        rc = store_get_str(r, ukey, id, sizeof(id), &valid, err);
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

        tx = malloc(sizeof(*tx));
        if (tx == NULL) {
            return mall_err_set(err, 0, "out of memory");
        }
        tx_init(tx);
        snprintf(hkey, sizeof(hkey), "mall:user:%s", id);
        snprintf(created, sizeof(created), "%lld", (long long) now);
        tx_add(tx, "HSET", hkey, "id", id, "openid", openid, "unionid",
               unionid, "nickname", AUTH_DEFAULT_NICK, "avatar_url", "",
               "created_at", created, "status", "active", NULL);
        rc = tx_exec(r, tx, 0, err);
        free(tx);
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
        rc = store_get_str(r, okey, uid, AUTH_UID_MAX, &valid, err);
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
            rc |= store_copy_str(val, u->id, sizeof(u->id));
        } else if (strcmp(k, "nickname") == 0) {
            rc |= store_copy_str(val, u->nickname, sizeof(u->nickname));
        } else if (strcmp(k, "avatar_url") == 0) {
            rc |= store_copy_str(val, u->avatar_url, sizeof(u->avatar_url));
        } else if (strcmp(k, "phone") == 0) {
            rc |= store_copy_str(val, u->phone, sizeof(u->phone));
        } else if (strcmp(k, "session_key") == 0) {
            rc |= store_copy_str(val, u->session_key,
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
store_queue_pair(auth_tx_t *tx, const auth_conf_t *a, const char *uid,
    const char *fam, int64_t now, auth_pair_t *out, mall_err_t *err)
{
    char         hash[MALL_SHA256_HEX_LEN + 1];
    const char  *rt, *famkey, *jtis, *ttl, *ufams;

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

    rt = tx_fmt(tx, "mall:rt:%s", hash);
    famkey = tx_fmt(tx, "mall:rfam:%s", fam);
    jtis = tx_fmt(tx, "mall:rfam:%s:jtis", fam);
    ufams = tx_fmt(tx, "mall:user:%s:rfams", uid);
    ttl = tx_fmt(tx, "%lld", (long long) store_family_ttl(a));

    tx_add(tx, "HSET", rt, "uid", uid, "fam", fam, "state", "active",
           "exp", tx_fmt(tx, "%lld", (long long) out->refresh_exp),
           "created", tx_fmt(tx, "%lld", (long long) now), NULL);
    tx_add(tx, "EXPIREAT", rt,
           tx_fmt(tx, "%lld", (long long) out->refresh_exp), NULL);
    tx_add(tx, "EXPIRE", famkey, ttl, NULL);
    tx_add(tx, "ZADD", jtis,
           tx_fmt(tx, "%lld", (long long) out->access.exp),
           tx_fmt(tx, "%s", out->access.jti), NULL);
    tx_add(tx, "EXPIRE", jtis, ttl, NULL);
    tx_add(tx, "SET", tx_fmt(tx, "mall:jti:%s", out->access.jti), fam,
           "EXAT", tx_fmt(tx, "%lld", (long long) out->access.exp + 120),
           NULL);
    tx_add(tx, "SADD", ufams, fam, NULL);
    tx_add(tx, "EXPIRE", ufams, ttl, NULL);
    return MALL_OK;
}


int
auth_session_start(mall_redis_t *r, const auth_conf_t *a, const char *uid,
    int64_t now, auth_pair_t *out, mall_err_t *err)
{
    auth_tx_t  *tx;
    char        fam[AUTH_FAMILY_LEN + 1];
    int         rc;

    memset(out, 0, sizeof(*out));
    if (auth_token_random(AUTH_FAMILY_BYTES, fam, sizeof(fam)) != MALL_OK) {
        return mall_err_set(err, 0, "no randomness for family id");
    }

    tx = malloc(sizeof(*tx));
    if (tx == NULL) {
        return mall_err_set(err, 0, "out of memory");
    }
    tx_init(tx);
    tx_add(tx, "HSET", tx_fmt(tx, "mall:rfam:%s", fam), "uid", uid,
           "state", "active", "created", tx_fmt(tx, "%lld", (long long) now),
           NULL);

    rc = store_queue_pair(tx, a, uid, fam, now, out, err);
    if (rc == MALL_OK) {
        rc = tx_exec(r, tx, 1, err);
        if (rc == TX_ABORTED) {
            rc = mall_err_set(err, 0, "session transaction aborted");
        }
    }
    free(tx);
    return rc;
}


/* Reads name from an HGETALL-style array reply into out ("" if absent) */
static void
store_field(const redisReply *arr, const char *name, char *out,
    size_t outsz)
{
    const redisReply  *v = mall_redis_hash_field(arr, name);

    if (v == NULL || store_copy_str(v, out, outsz) != MALL_OK) {
        out[0] = '\0';
    }
}


int
auth_session_refresh(mall_redis_t *r, const auth_conf_t *a,
    const char *token, size_t len, int64_t now, auth_pair_t *out,
    auth_rt_result_e *res, mall_err_t *err)
{
    auth_tx_t   *tx;
    redisReply  *rep[3];
    const char  *w1[] = { "WATCH", NULL }, *h1[] = { "HGETALL", NULL };
    const char  *w2[] = { "WATCH", NULL }, *g2[] = { "HGET", NULL, "state" };
    const char  *g3[] = { "HGET", NULL, "status" };
    size_t       l1[2], lh[2], l2[2], lg[3], l3[3];
    mall_redis_cmd_t cmds[3];
    char         hash[MALL_SHA256_HEX_LEN + 1], rtkey[80], famkey[64];
    char         ukey[64], uid[AUTH_UID_MAX], fam[AUTH_FAMILY_LEN + 8];
    char         state[16], expbuf[24], fstate[16], ustatus[16];
    long long    exp;
    int          rc;

    memset(out, 0, sizeof(*out));
    *res = AUTH_RT_INVALID;
    tx = NULL;

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
    if (store_copy_str(rep[1], fstate, sizeof(fstate)) != MALL_OK
        || store_copy_str(rep[2], ustatus, sizeof(ustatus)) != MALL_OK)
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
    tx = malloc(sizeof(*tx));
    if (tx == NULL) {
        mall_unwatch(r);
        return mall_err_set(err, 0, "out of memory");
    }
    tx_init(tx);
    tx_add(tx, "HSET", rtkey, "state", "used", "used_at",
           tx_fmt(tx, "%lld", (long long) now), NULL);
    rc = store_queue_pair(tx, a, uid, fam, now, out, err);
    if (rc != MALL_OK) {
        free(tx);
        mall_unwatch(r);
        return rc;
    }
    rc = tx_exec(r, tx, 1, err);
    free(tx);

    if (rc == TX_ABORTED) {
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
    rc = store_get_str(r, key, fam, sizeof(fam), &valid, err);
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
