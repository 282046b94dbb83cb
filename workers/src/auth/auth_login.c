/*
 * Shopper sessions: WeChat login, refresh-token rotation, logout.
 *
 *   POST /api/v1/auth/wx-login  {"code"}            (edge: auth off)
 *   POST /api/v1/auth/refresh   {"refresh_token"}   (edge: auth off)
 *   POST /api/v1/auth/logout                        (token + signature)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "auth_http.h"
#include "auth_wechat.h"
#include "mall_json.h"
#include "mall_log.h"
#include "mall_query.h"
#include "mall_reply.h"
#include "mall_routes.h"

#define LOGIN_CODE_MAX  256

static int auth_wx_login(mall_ctx_t *ctx);
static int auth_refresh(mall_ctx_t *ctx);
static int auth_logout(mall_ctx_t *ctx);

const mall_route_t  mall_auth_routes[] = {
    { "POST", "/api/v1/auth/wx-login", auth_wx_login, 0 },
    { "POST", "/api/v1/auth/refresh", auth_refresh, 0 },
    { "POST", "/api/v1/auth/logout", auth_logout, 0 },
    { NULL, NULL, NULL, 0 }
};


/* WeChat's code2Session errors in the contract's terms. */
static int
auth_wx_error(mall_ctx_t *ctx, long errcode)
{
    switch (errcode) {
    case 40029:
    case 40163:
        return mall_reply_error(ctx, 401, "UNAUTHORIZED",
                                "invalid or expired login code");
    case 45011:
        return auth_reply_retry(ctx, 429, "RATE_LIMITED", 60,
                                "too many logins, retry in a minute");
    case -1:
        return auth_reply_retry(ctx, 503, "UPSTREAM_BUSY", 1,
                                "WeChat is busy, retry shortly");
    case 40226:
        return mall_reply_error(ctx, 403, "RISK_BLOCKED",
                                "login refused by WeChat risk control");
    }
    mall_log_req(MALL_LOG_ERROR, "auth", ctx->request_id, "-",
                 "jscode2session errcode %ld", errcode);
    return mall_reply_error(ctx, 502, "UPSTREAM_ERROR",
                            "WeChat login failed");
}


/* The login/refresh answer: tokens, sign key and the user's profile. */
static int
auth_reply_pair(mall_ctx_t *ctx, const auth_pair_t *p, const auth_user_t *u,
    int64_t now)
{
    cJSON  *root, *user;
    int     rc;

    rc = MALL_ERR;
    root = cJSON_CreateObject();
    user = auth_profile_json(&ctx->conf->auth, u);
    if (root == NULL || user == NULL
        || mall_json_add_str(root, "access_token", p->access.token)
           != MALL_OK
        || mall_json_add_str(root, "token_type", "Bearer") != MALL_OK
        || mall_json_add_int(root, "expires_in", p->access.exp - now)
           != MALL_OK
        || mall_json_add_str(root, "refresh_token", p->refresh) != MALL_OK
        || mall_json_add_int(root, "refresh_expires_in",
                             p->refresh_exp - now) != MALL_OK
        || mall_json_add_str(root, "sign_key", p->access.sign_key)
           != MALL_OK
        || !cJSON_AddItemToObject(root, "user", user))
    {
        cJSON_Delete(user);
        goto done;
    }

    rc = mall_reply_json_nostore(ctx, 200, root);

done:
    cJSON_Delete(root);
    return rc;
}


static int
auth_wx_login(mall_ctx_t *ctx)
{
    const auth_conf_t  *a = &ctx->conf->auth;
    auth_wx_session_t   wx;
    auth_pair_t         pair;
    auth_user_t         user;
    mall_err_t          err;
    const char         *code;
    cJSON              *body;
    char                uid[AUTH_UID_MAX];
    int64_t             now;
    int                 rc;

    if (auth_body_object(ctx, &body) != MALL_OK) {
        return MALL_OK;
    }
    code = auth_json_str(body, "code", LOGIN_CODE_MAX);
    if (code == NULL) {
        cJSON_Delete(body);
        return mall_reply_error(ctx, 400, "VALIDATION_FAILED",
                                "code must be a string of 1..%d "
                                "characters", LOGIN_CODE_MAX);
    }

    rc = auth_wx_code2session(a, code, &wx, &err);
    cJSON_Delete(body);
    if (rc != MALL_OK) {
        mall_log_req(MALL_LOG_ERROR, "auth", ctx->request_id, "-",
                     "jscode2session: %s", err.msg);
        return mall_reply_error(ctx, 502, "UPSTREAM_ERROR",
                                "WeChat login is unreachable");
    }
    if (wx.errcode != 0) {
        return auth_wx_error(ctx, wx.errcode);
    }

    now = (int64_t) time(NULL);
    rc = auth_user_login(ctx->redis, wx.openid, wx.unionid, now, uid, &err);
    if (rc == MALL_OK) {
        rc = auth_user_load(ctx->redis, uid, &user, &err);
    }
    if (rc != MALL_OK || !user.found) {
        OPENSSL_cleanse(&wx, sizeof(wx));
        return auth_reply_internal(ctx, rc, "login: user",
                                   rc == MALL_OK ? &(mall_err_t) {
                                       0, "user record missing" } : &err);
    }
    if (user.frozen) {
        OPENSSL_cleanse(&wx, sizeof(wx));
        return mall_reply_error(ctx, 403, "FORBIDDEN", "account is frozen");
    }

    /* the session key only ever rests sealed; the client never sees it */
    rc = auth_user_store_sealed(ctx->redis, a, uid, "session_key",
                                wx.session_key, &err);
    OPENSSL_cleanse(&wx, sizeof(wx));
    if (rc != MALL_OK) {
        return auth_reply_internal(ctx, rc, "login: session key", &err);
    }

    rc = auth_session_start(ctx->redis, a, uid, now, &pair, &err);
    if (rc != MALL_OK) {
        return auth_reply_internal(ctx, rc, "login: session", &err);
    }

    mall_log_req(MALL_LOG_INFO, "auth", ctx->request_id, uid,
                 "wx-login ok, jti %s", pair.access.jti);
    rc = auth_reply_pair(ctx, &pair, &user, now);
    OPENSSL_cleanse(&pair, sizeof(pair));
    return rc;
}


static int
auth_refresh(mall_ctx_t *ctx)
{
    const auth_conf_t  *a = &ctx->conf->auth;
    auth_rt_result_e    res;
    auth_pair_t         pair;
    auth_user_t         user;
    mall_err_t          err;
    const char         *token;
    cJSON              *body;
    int64_t             now;
    int                 rc;

    if (auth_body_object(ctx, &body) != MALL_OK) {
        return MALL_OK;
    }
    token = auth_json_str(body, "refresh_token", 128);
    if (token == NULL) {
        cJSON_Delete(body);
        return mall_reply_error(ctx, 400, "VALIDATION_FAILED",
                                "refresh_token is required");
    }

    now = (int64_t) time(NULL);
    rc = auth_session_refresh(ctx->redis, a, token, strlen(token), now,
                              &pair, &res, &err);
    cJSON_Delete(body);
    if (rc != MALL_OK) {
        return auth_reply_internal(ctx, rc, "refresh", &err);
    }

    switch (res) {
    case AUTH_RT_OK:
        break;
    case AUTH_RT_REUSED:
        mall_log_req(MALL_LOG_WARN, "auth", ctx->request_id, "-",
                     "refresh token reuse: family revoked");
        return mall_reply_error(ctx, 401, "UNAUTHORIZED",
                                "refresh token reuse detected");
    case AUTH_RT_EXPIRED:
        return mall_reply_error(ctx, 401, "UNAUTHORIZED",
                                "refresh token expired");
    case AUTH_RT_REVOKED:
        return mall_reply_error(ctx, 401, "UNAUTHORIZED",
                                "refresh token revoked");
    case AUTH_RT_RACE:
        return mall_reply_error(ctx, 401, "UNAUTHORIZED",
                                "refresh token already used");
    case AUTH_RT_FROZEN:
        return mall_reply_error(ctx, 403, "FORBIDDEN", "account is frozen");
    case AUTH_RT_INVALID:
    default:
        return mall_reply_error(ctx, 401, "UNAUTHORIZED",
                                "invalid refresh token");
    }

    rc = auth_user_load(ctx->redis, pair.uid, &user, &err);
    if (rc != MALL_OK || !user.found) {
        OPENSSL_cleanse(&pair, sizeof(pair));
        return auth_reply_internal(ctx, rc, "refresh: user",
                                   rc == MALL_OK ? &(mall_err_t) {
                                       0, "user record missing" } : &err);
    }

    rc = auth_reply_pair(ctx, &pair, &user, now);
    OPENSSL_cleanse(&pair, sizeof(pair));
    return rc;
}


static int
auth_logout(mall_ctx_t *ctx)
{
    const auth_conf_t  *a = &ctx->conf->auth;
    mall_err_t          err;
    cJSON              *root;
    long long           exp;
    int64_t             now;
    int                 rc;

    if (auth_require_user(ctx) != MALL_OK) {
        return MALL_OK;
    }
    if (ctx->ident.token_id[0] == '\0'
        || mall_parse_int(ctx->ident.token_exp, 1, 1LL << 40, &exp)
           != MALL_OK)
    {
        return mall_reply_error(ctx, 401, "UNAUTHORIZED",
                                "no token to revoke");
    }

    now = (int64_t) time(NULL);
    rc = auth_revoke_jti(ctx->redis, a, ctx->ident.token_id, exp, &err);
    if (rc == MALL_OK) {
        rc = auth_family_revoke_by_jti(ctx->redis, a, ctx->ident.token_id,
                                       now, &err);
    }
    if (rc != MALL_OK) {
        return auth_reply_internal(ctx, rc, "logout", &err);
    }

    rc = MALL_ERR;
    root = cJSON_CreateObject();
    if (root != NULL && cJSON_AddTrueToObject(root, "revoked") != NULL) {
        rc = mall_reply_json_nostore(ctx, 200, root);
    }
    cJSON_Delete(root);
    return rc;
}
