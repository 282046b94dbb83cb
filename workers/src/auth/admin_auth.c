/*
 * Merchant back-office identity.
 *
 *   POST /admin/api/v1/auth/login {"username","password"}   (edge: auth off)
 *   GET  /admin/api/v1/audit?count=                         (role admin)
 *   POST /admin/api/v1/users/{id}/freeze | /unfreeze        (role admin)
 *
 * Accounts: mall:admin:{username} hash (username, role admin|operator,
 * password = auth_password.h hash, created_at). Failed logins of a
 * username: mall:admin:fails:{username} zset of attempt times; 5 within
 * 15 minutes lock the username until the oldest of them is 15 min old.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "admin_auth.h"
#include "auth_http.h"
#include "auth_password.h"
#include "mall_audit.h"
#include "mall_json.h"
#include "mall_log.h"
#include "mall_query.h"
#include "mall_reply.h"
#include "mall_routes.h"
#include "risk_store.h"

#define ADMIN_LOCK_FAILS    5
#define ADMIN_LOCK_WINDOW   900          /* seconds */

static int admin_login(mall_ctx_t *ctx);
static int admin_audit_list(mall_ctx_t *ctx);
static int admin_user_freeze(mall_ctx_t *ctx);
static int admin_user_unfreeze(mall_ctx_t *ctx);

const mall_route_t  mall_admin_auth_routes[] = {
    { "POST", "/admin/api/v1/auth/login", admin_login, 0 },
    { "GET", "/admin/api/v1/audit", admin_audit_list, 0 },
    { "POST", "/admin/api/v1/users/{id}/freeze", admin_user_freeze, 0 },
    { "POST", "/admin/api/v1/users/{id}/unfreeze", admin_user_unfreeze, 0 },
    { NULL, NULL, NULL, 0 }
};


int
admin_username_valid(const char *s)
{
    size_t  i, len;

    len = strlen(s);
    if (len == 0 || len > ADMIN_USERNAME_MAX) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
              || (c >= 'A' && c <= 'Z') || c == '-' || c == '_' || c == '.'))
        {
            return 0;
        }
    }
    return 1;
}


int
admin_role_valid(const char *s)
{
    return strcmp(s, "admin") == 0 || strcmp(s, "operator") == 0;
}


int
admin_account_create(mall_redis_t *r, const char *username, const char *role,
    const char *password, int *created, mall_err_t *err)
{
    const char  *argv[4];
    redisReply  *reply;
    char         key[96], hash[AUTH_PASSWORD_HASH_MAX], now[24];
    int          rc;

    *created = 0;
    if (!admin_username_valid(username) || !admin_role_valid(role)) {
        return mall_err_set(err, 0, "bad username or role");
    }
    if (auth_password_hash(password, strlen(password), AUTH_PBKDF2_ITER,
                           hash, sizeof(hash), err) != MALL_OK)
    {
        return MALL_ERR;
    }
    snprintf(key, sizeof(key), "mall:admin:%s", username);
    snprintf(now, sizeof(now), "%lld", (long long) time(NULL));

    /* HSETNX on the password field creates the account only once; the
     * other fields are written only by the call that created it */
    argv[0] = "HSETNX"; argv[1] = key; argv[2] = "password"; argv[3] = hash;
    rc = auth_redis(r, &reply, err, 4, argv);
    OPENSSL_cleanse(hash, sizeof(hash));
    if (rc != MALL_OK) {
        return rc;
    }
    *created = reply->type == REDIS_REPLY_INTEGER && reply->integer == 1;
    freeReplyObject(reply);
    if (!*created) {
        return MALL_OK;
    }

    {
        const char  *hv[] = { "HSET", key, "username", username, "role",
                              role, "created_at", now };
        rc = auth_redis(r, &reply, err, 8, hv);
        if (rc == MALL_OK) {
            freeReplyObject(reply);
        }
    }
    return rc;
}


/*
 * Failures of username in the window: count and seconds until the oldest
 * leaves it. MALL_OK/ERR/RETRY.
 */
static int
admin_fail_count(mall_redis_t *r, const char *fkey, int64_t now,
    long *count, long *retry_after, mall_err_t *err)
{
    const char  *argv[5];
    redisReply  *reply;
    char         cutoff[24];
    long long    oldest;
    int          rc;

    *count = 0;
    *retry_after = 0;
    snprintf(cutoff, sizeof(cutoff), "%lld",
             (long long) (now - ADMIN_LOCK_WINDOW));
    argv[0] = "ZREMRANGEBYSCORE"; argv[1] = fkey; argv[2] = "-inf";
    argv[3] = cutoff;
    rc = auth_redis(r, &reply, err, 4, argv);
    if (rc != MALL_OK) {
        return rc;
    }
    freeReplyObject(reply);

    argv[0] = "ZRANGE"; argv[1] = fkey; argv[2] = "0"; argv[3] = "-1";
    argv[4] = "WITHSCORES";
    rc = auth_redis(r, &reply, err, 5, argv);
    if (rc != MALL_OK) {
        return rc;
    }
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements >= 2) {
        *count = (long) reply->elements / 2;
        if (mall_parse_int(reply->element[1]->str, 0, 1LL << 40, &oldest)
            == MALL_OK)
        {
            *retry_after = (long) (oldest + ADMIN_LOCK_WINDOW - now);
        }
    }
    freeReplyObject(reply);
    return MALL_OK;
}


static int
admin_fail_record(mall_redis_t *r, const char *fkey, int64_t now,
    mall_err_t *err)
{
    const char  *argv[4];
    redisReply  *reply;
    char         score[24], member[48], ttl[16], rnd[16];
    int          rc;

    if (auth_token_random(8, rnd, sizeof(rnd)) != MALL_OK) {
        return mall_err_set(err, 0, "no randomness");
    }
    snprintf(score, sizeof(score), "%lld", (long long) now);
    snprintf(member, sizeof(member), "%lld:%s", (long long) now, rnd);
    argv[0] = "ZADD"; argv[1] = fkey; argv[2] = score; argv[3] = member;
    rc = auth_redis(r, &reply, err, 4, argv);
    if (rc != MALL_OK) {
        return rc;
    }
    freeReplyObject(reply);

    snprintf(ttl, sizeof(ttl), "%d", ADMIN_LOCK_WINDOW);
    argv[0] = "EXPIRE"; argv[1] = fkey; argv[2] = ttl;
    rc = auth_redis(r, &reply, err, 3, argv);
    if (rc == MALL_OK) {
        freeReplyObject(reply);
    }
    return rc;
}


/* Reads role and password of an account; "" when it does not exist. */
static int
admin_account_load(mall_redis_t *r, const char *username, char *role,
    size_t rolesz, char *hash, size_t hashsz, mall_err_t *err)
{
    const char  *argv[4];
    redisReply  *reply;
    char         key[96];
    int          rc;

    role[0] = hash[0] = '\0';
    snprintf(key, sizeof(key), "mall:admin:%s", username);
    argv[0] = "HMGET"; argv[1] = key; argv[2] = "role"; argv[3] = "password";
    rc = auth_redis(r, &reply, err, 4, argv);
    if (rc != MALL_OK) {
        return rc;
    }
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2
        && reply->element[0]->type == REDIS_REPLY_STRING
        && reply->element[1]->type == REDIS_REPLY_STRING
        && reply->element[0]->len < rolesz
        && reply->element[1]->len < hashsz)
    {
        memcpy(role, reply->element[0]->str, reply->element[0]->len + 1);
        memcpy(hash, reply->element[1]->str, reply->element[1]->len + 1);
    }
    freeReplyObject(reply);
    return MALL_OK;
}


static int
admin_login(mall_ctx_t *ctx)
{
    static const char   bad[] = "invalid username or password";
    const auth_conf_t  *a = &ctx->conf->auth;
    mall_audit_field_t  why[1];
    auth_access_t       tok;
    const char         *user, *pw, *argv[2];
    redisReply         *reply;
    mall_err_t          err;
    cJSON              *body, *out;
    char                fkey[96], role[16], hash[AUTH_PASSWORD_HASH_MAX];
    char                sub[8 + ADMIN_USERNAME_MAX];
    char                actor[ADMIN_USERNAME_MAX + 1];
    long                fails, retry;
    int64_t             now;
    int                 rc, ok, known;

    if (auth_body_object(ctx, &body) != MALL_OK) {
        return MALL_OK;
    }
    user = auth_json_str(body, "username", 256);
    pw = auth_json_str(body, "password", AUTH_PASSWORD_MAX);
    if (user == NULL || pw == NULL) {
        cJSON_Delete(body);
        return mall_reply_error(ctx, 400, "VALIDATION_FAILED",
                                "username and password are required");
    }

    now = (int64_t) time(NULL);
    role[0] = hash[0] = fkey[0] = '\0';
    known = admin_username_valid(user);
    snprintf(actor, sizeof(actor), "%s", known ? user : "-");
    why[0].name = "reason";

    if (known) {
        snprintf(fkey, sizeof(fkey), "mall:admin:fails:%s", user);
        rc = admin_fail_count(ctx->redis, fkey, now, &fails, &retry, &err);
        if (rc == MALL_OK && fails >= ADMIN_LOCK_FAILS) {
            cJSON_Delete(body);
            why[0].value = "locked";
            mall_audit_ctx(ctx, actor, "admin.login", "fail", why, 1);
            return auth_reply_retry(ctx, 429, "RATE_LIMITED", (int) retry,
                                    "too many failed logins, retry later");
        }
        if (rc == MALL_OK) {
            rc = admin_account_load(ctx->redis, user, role, sizeof(role),
                                    hash, sizeof(hash), &err);
        }
        if (rc != MALL_OK) {
            cJSON_Delete(body);
            return auth_reply_internal(ctx, rc, "admin login", &err);
        }
    }

    /* the same PBKDF2 cost whether or not the account exists */
    if (hash[0] != '\0' && admin_role_valid(role)) {
        ok = auth_password_verify(pw, strlen(pw), hash);
    } else {
        ok = auth_password_dummy(pw, strlen(pw));
    }
    cJSON_Delete(body);
    OPENSSL_cleanse(hash, sizeof(hash));

    if (!ok) {
        if (known) {
            rc = admin_fail_record(ctx->redis, fkey, now, &err);
            if (rc != MALL_OK) {
                return auth_reply_internal(ctx, rc, "admin login", &err);
            }
        }
        why[0].value = "bad_credentials";
        mall_audit_ctx(ctx, actor, "admin.login", "fail", why, 1);
        return mall_reply_error(ctx, 401, "UNAUTHORIZED", bad);
    }

    argv[0] = "DEL"; argv[1] = fkey;
    if (auth_redis(ctx->redis, &reply, &err, 2, argv) == MALL_OK) {
        freeReplyObject(reply);
    }

    snprintf(sub, sizeof(sub), "admin:%s", actor);
    if (auth_token_mint(a, sub, a->admin_audience, role, a->admin_access_ttl,
                        now, &tok, &err) != MALL_OK)
    {
        return auth_reply_internal(ctx, MALL_ERR, "admin token", &err);
    }
    mall_audit_ctx(ctx, actor, "admin.login", "ok", NULL, 0);

    rc = MALL_ERR;
    out = cJSON_CreateObject();
    if (out != NULL
        && mall_json_add_str(out, "access_token", tok.token) == MALL_OK
        && mall_json_add_str(out, "token_type", "Bearer") == MALL_OK
        && mall_json_add_int(out, "expires_in", tok.exp - now) == MALL_OK
        && mall_json_add_str(out, "role", role) == MALL_OK
        && mall_json_add_str(out, "sign_key", tok.sign_key) == MALL_OK)
    {
        rc = mall_reply_json_nostore(ctx, 200, out);
    }
    cJSON_Delete(out);
    OPENSSL_cleanse(&tok, sizeof(tok));
    return rc;
}


static int
admin_audit_list(mall_ctx_t *ctx)
{
    mall_err_t  err;
    long long   count;
    cJSON      *root, *entries;
    int         rc;

    if (auth_require_admin(ctx, "admin") != MALL_OK) {
        return MALL_OK;
    }
    if (mall_query_int(&ctx->query, "count", 1, 1000, 50, &count, &err)
        != MALL_OK)
    {
        return mall_reply_error(ctx, 400, "VALIDATION_FAILED", "%s",
                                err.msg);
    }

    rc = mall_audit_list(ctx->redis, (long) count, &entries, &err);
    if (rc != MALL_OK) {
        return auth_reply_internal(ctx, rc, "audit list", &err);
    }

    rc = MALL_ERR;
    root = cJSON_CreateObject();
    if (root == NULL || !cJSON_AddItemToObject(root, "entries", entries)) {
        cJSON_Delete(entries);
    } else {
        rc = mall_reply_json_nostore(ctx, 200, root);
    }
    cJSON_Delete(root);
    return rc;
}


/*
 * The body's "reason" (1..200 characters) into out; required to unfreeze,
 * optional to freeze. MALL_OK, or MALL_ERR once replied (422).
 */
static int
admin_reason(mall_ctx_t *ctx, int required, char *out, size_t outsz)
{
    const cJSON  *v;
    cJSON        *body;
    size_t        len;

    out[0] = '\0';
    body = ctx->body_len > 0
           ? cJSON_ParseWithLength((const char *) ctx->body, ctx->body_len)
           : NULL;
    v = cJSON_GetObjectItemCaseSensitive(body, "reason");
    len = cJSON_IsString(v) ? strlen(v->valuestring) : 0;
    if (len > 0 && len < outsz && auth_utf8_text(v->valuestring, 200)) {
        memcpy(out, v->valuestring, len + 1);
    } else if (required || v != NULL) {
        cJSON_Delete(body);
        mall_reply_error(ctx, 422, "VALIDATION_FAILED", "\"reason\" is "
                         "required: 1..200 characters");
        return MALL_ERR;
    }
    cJSON_Delete(body);
    return MALL_OK;
}


/* freeze = 1 / unfreeze = 0 of the user in the path. */
static int
admin_user_set_frozen(mall_ctx_t *ctx, int freeze)
{
    const auth_conf_t   *a = &ctx->conf->auth;
    const char          *id, *action, *pairs[4];
    mall_audit_field_t   f[5];
    auth_user_t          u;
    mall_err_t           err;
    cJSON               *out;
    char                 target[48], nowbuf[24], reason[801], nres[24];
    size_t               resolved;
    int64_t              now;
    int                  rc;

    action = freeze ? "user.freeze" : "user.unfreeze";
    if (ctx->ident.verified && strncmp(ctx->ident.user, "admin:", 6) == 0
        && strcmp(ctx->ident.role, "admin") != 0)
    {
        /* a logged-in operator: refused, and the attempt is audited */
        f[0].name = "target";
        f[0].value = mall_route_param(&ctx->params, "id");
        mall_audit_ctx(ctx, ctx->ident.user + 6, action, "denied", f, 1);
    }
    if (auth_require_admin(ctx, "admin") != MALL_OK) {
        return MALL_OK;
    }
    if (admin_reason(ctx, !freeze, reason, sizeof(reason)) != MALL_OK) {
        return MALL_OK;
    }

    id = mall_route_param(&ctx->params, "id");
    if (id == NULL || !auth_uid_valid(id)) {
        return mall_reply_error(ctx, 404, "NOT_FOUND", "no such user");
    }
    rc = auth_user_load(ctx->redis, id, &u, &err);
    if (rc != MALL_OK) {
        return auth_reply_internal(ctx, rc, action, &err);
    }
    if (!u.found) {
        return mall_reply_error(ctx, 404, "NOT_FOUND", "no such user");
    }

    now = (int64_t) time(NULL);
    snprintf(nowbuf, sizeof(nowbuf), "%lld", (long long) now);
    pairs[0] = "status";
    pairs[1] = freeze ? "frozen" : "active";
    pairs[2] = freeze ? "frozen_at" : "unfrozen_at";
    pairs[3] = nowbuf;
    rc = auth_user_update(ctx->redis, id, pairs, 2, &err);

    /* the edge refuses the user's current tokens; refresh tokens die */
    if (rc == MALL_OK && freeze) {
        rc = auth_revoke_user(ctx->redis, a, id, now, &err);
        if (rc == MALL_OK) {
            rc = auth_user_revoke_families(ctx->redis, a, id, now, &err);
        }
    }
    /* the abnormal-order alerts of the user are resolved by the review */
    resolved = 0;
    if (rc == MALL_OK && !freeze) {
        rc = risk_resolve_user(ctx->redis, id, ctx->ident.user + 6, reason,
                               now, &resolved, &err);
    }
    if (rc != MALL_OK) {
        return auth_reply_internal(ctx, rc, action, &err);
    }

    snprintf(target, sizeof(target), "user:%s", id);
    snprintf(nres, sizeof(nres), "%zu", resolved);
    f[0].name = "target";
    f[0].value = target;
    f[1].name = "before";
    f[1].value = u.frozen ? "frozen" : "active";
    f[2].name = "after";
    f[2].value = freeze ? "frozen" : "active";
    f[3].name = "reason";
    f[3].value = reason;
    f[4].name = "alerts_resolved";
    f[4].value = nres;
    mall_audit_ctx(ctx, ctx->ident.user + 6, action, "ok", f,
                   freeze ? (reason[0] != '\0' ? 4 : 3) : 5);
    mall_log_req(MALL_LOG_NOTICE, "admin", ctx->request_id, ctx->ident.user,
                 "%s user %s", action, id);

    rc = MALL_ERR;
    out = cJSON_CreateObject();
    if (out != NULL
        && mall_json_add_int(out, "user_id", strtoll(id, NULL, 10))
           == MALL_OK
        && mall_json_add_str(out, "status", freeze ? "frozen" : "active")
           == MALL_OK
        && (freeze || mall_json_add_int(out, "alerts_resolved",
                                        (int64_t) resolved) == MALL_OK))
    {
        rc = mall_reply_json_nostore(ctx, 200, out);
    }
    cJSON_Delete(out);
    return rc;
}


static int
admin_user_freeze(mall_ctx_t *ctx)
{
    return admin_user_set_frozen(ctx, 1);
}


static int
admin_user_unfreeze(mall_ctx_t *ctx)
{
    return admin_user_set_frozen(ctx, 0);
}
