/*
 * The caller's own profile.
 *
 *   GET   /api/v1/users/me
 *   PATCH /api/v1/users/me        {"nickname"?, "avatar_url"?}
 *   POST  /api/v1/users/me/phone  {"code"} | {"encrypted_data", "iv"}
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "auth_http.h"
#include "auth_phone.h"
#include "auth_wechat.h"
#include "mall_json.h"
#include "mall_log.h"
#include "mall_reply.h"
#include "mall_routes.h"

#define NICK_MAX_CHARS    32
#define AVATAR_MAX_BYTES  512

static int users_me_get(mall_ctx_t *ctx);
static int users_me_patch(mall_ctx_t *ctx);
static int users_me_phone(mall_ctx_t *ctx);

const mall_route_t  mall_users_routes[] = {
    { "GET", "/api/v1/users/me", users_me_get, 0 },
    { "PATCH", "/api/v1/users/me", users_me_patch, 0 },
    { "POST", "/api/v1/users/me/phone", users_me_phone, 0 },
    { NULL, NULL, NULL, 0 }
};


/* Loads the caller; replies (404/500/503) and returns MALL_ERR when it
 * cannot. */
static int
users_load_caller(mall_ctx_t *ctx, auth_user_t *u, int *rc)
{
    mall_err_t  err;

    *rc = auth_user_load(ctx->redis, ctx->ident.user, u, &err);
    if (*rc != MALL_OK) {
        *rc = auth_reply_internal(ctx, *rc, "users/me", &err);
        return MALL_ERR;
    }
    if (!u->found) {
        *rc = mall_reply_error(ctx, 404, "NOT_FOUND", "no such user");
        return MALL_ERR;
    }
    if (u->frozen) {
        *rc = mall_reply_error(ctx, 403, "FORBIDDEN", "account is frozen");
        return MALL_ERR;
    }
    return MALL_OK;
}


static int
users_reply_profile(mall_ctx_t *ctx, const auth_user_t *u)
{
    cJSON  *doc;
    int     rc;

    doc = auth_profile_json(&ctx->conf->auth, u);
    if (doc == NULL) {
        return MALL_ERR;
    }
    mall_reply_header(ctx, "Cache-Control", "private, no-store");
    rc = mall_reply_json(ctx, 200, doc);
    cJSON_Delete(doc);
    return rc;
}


static int
users_me_get(mall_ctx_t *ctx)
{
    auth_user_t  u;
    int          rc;

    if (auth_require_user(ctx) != MALL_OK) {
        return MALL_OK;
    }
    if (users_load_caller(ctx, &u, &rc) != MALL_OK) {
        return rc;
    }
    return users_reply_profile(ctx, &u);
}


/* https://host[...] of at most 512 bytes, no spaces, quotes or controls */
static int
users_avatar_ok(const char *s)
{
    size_t  i, len;

    len = strlen(s);
    if (len > AVATAR_MAX_BYTES || strncmp(s, "https://", 8) != 0
        || len == 8 || s[8] == '/' || s[8] == '?' || s[8] == '#')
    {
        return 0;
    }
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char) s[i];
        if (c <= ' ' || c >= 0x7f || c == '"' || c == '<' || c == '>'
            || c == '\\' || c == '`')
        {
            return 0;
        }
    }
    return 1;
}


static int
users_me_patch(mall_ctx_t *ctx)
{
    const cJSON  *nick, *avatar;
    const char   *pairs[4];
    auth_user_t   u;
    mall_err_t    err;
    cJSON        *body;
    size_t        n;
    int           rc;

    if (auth_require_user(ctx) != MALL_OK) {
        return MALL_OK;
    }
    if (auth_body_object(ctx, &body) != MALL_OK) {
        return MALL_OK;
    }

    nick = cJSON_GetObjectItemCaseSensitive(body, "nickname");
    avatar = cJSON_GetObjectItemCaseSensitive(body, "avatar_url");
    if (nick == NULL && avatar == NULL) {
        cJSON_Delete(body);
        return mall_reply_error(ctx, 422, "VALIDATION_FAILED",
                                "nothing to change: give nickname and/or "
                                "avatar_url");
    }
    if (nick != NULL
        && (!cJSON_IsString(nick)
            || !auth_utf8_text(nick->valuestring, NICK_MAX_CHARS)))
    {
        cJSON_Delete(body);
        return mall_reply_error(ctx, 422, "VALIDATION_FAILED",
                                "nickname must be 1..%d characters of "
                                "text", NICK_MAX_CHARS);
    }
    if (avatar != NULL
        && (!cJSON_IsString(avatar) || !users_avatar_ok(avatar->valuestring)))
    {
        cJSON_Delete(body);
        return mall_reply_error(ctx, 422, "VALIDATION_FAILED",
                                "avatar_url must be an https URL of at most "
                                "%d bytes", AVATAR_MAX_BYTES);
    }

    if (users_load_caller(ctx, &u, &rc) != MALL_OK) {
        cJSON_Delete(body);
        return rc;
    }

    n = 0;
    if (nick != NULL) {
        pairs[2 * n] = "nickname";
        pairs[2 * n + 1] = nick->valuestring;
        snprintf(u.nickname, sizeof(u.nickname), "%s", nick->valuestring);
        n++;
    }
    if (avatar != NULL) {
        pairs[2 * n] = "avatar_url";
        pairs[2 * n + 1] = avatar->valuestring;
        snprintf(u.avatar_url, sizeof(u.avatar_url), "%s",
                 avatar->valuestring);
        n++;
    }
    rc = auth_user_update(ctx->redis, u.id, pairs, n, &err);
    cJSON_Delete(body);
    if (rc != MALL_OK) {
        return auth_reply_internal(ctx, rc, "users/me patch", &err);
    }
    return users_reply_profile(ctx, &u);
}


/* getPhoneNumber errors in the contract's terms. */
static int
users_phone_wx_error(mall_ctx_t *ctx, long errcode)
{
    switch (errcode) {
    case 40029:
    case 40163:
        return mall_reply_error(ctx, 422, "VALIDATION_FAILED",
                                "invalid or expired phone code");
    case 45011:
        return auth_reply_retry(ctx, 429, "RATE_LIMITED", 60,
                                "too many requests, retry in a minute");
    case -1:
        return auth_reply_retry(ctx, 503, "UPSTREAM_BUSY", 1,
                                "WeChat is busy, retry shortly");
    case 40226:
        return mall_reply_error(ctx, 403, "RISK_BLOCKED",
                                "refused by WeChat risk control");
    }
    mall_log_req(MALL_LOG_ERROR, "auth", ctx->request_id, ctx->ident.user,
                 "getuserphonenumber errcode %ld", errcode);
    return mall_reply_error(ctx, 502, "UPSTREAM_ERROR",
                            "WeChat phone number lookup failed");
}


/*
 * Old path: decrypts encryptedData with the login's session key, checks
 * the watermark is our appid, copies purePhoneNumber into phone. Replies
 * and returns MALL_ERR on any failure.
 */
static int
users_phone_decrypt(mall_ctx_t *ctx, const auth_user_t *u, const char *data,
    const char *iv, char phone[AUTH_PHONE_MAX], int *rc)
{
    const auth_conf_t  *a = &ctx->conf->auth;
    const cJSON        *wm, *appid, *num;
    char                plain[AUTH_WXDATA_MAX + 1];
    char                skey[64];
    mall_err_t          err;
    cJSON              *doc;
    size_t              len;

    if (u->session_key[0] == '\0'
        || auth_user_open_sealed(a, u->id, "session_key", u->session_key,
                                 skey, sizeof(skey), &err) != MALL_OK)
    {
        *rc = mall_reply_error(ctx, 409, "CONFLICT",
                               "no WeChat session: log in again");
        return MALL_ERR;
    }

    if (auth_phone_decrypt(skey, iv, data, plain, sizeof(plain), &len, &err)
        != MALL_OK)
    {
        OPENSSL_cleanse(skey, sizeof(skey));
        *rc = mall_reply_error(ctx, 422, "VALIDATION_FAILED", "%s",
                               err.msg);
        return MALL_ERR;
    }
    OPENSSL_cleanse(skey, sizeof(skey));

    doc = cJSON_ParseWithLength(plain, len);
    OPENSSL_cleanse(plain, len);
    wm = cJSON_GetObjectItemCaseSensitive(doc, "watermark");
    appid = cJSON_GetObjectItemCaseSensitive(wm, "appid");
    num = cJSON_GetObjectItemCaseSensitive(doc, "purePhoneNumber");

    if (!cJSON_IsString(appid)
        || strcmp(appid->valuestring, a->wechat_appid) != 0)
    {
        cJSON_Delete(doc);
        *rc = mall_reply_error(ctx, 422, "VALIDATION_FAILED",
                               "encrypted_data is not for this app");
        return MALL_ERR;
    }
    if (!cJSON_IsString(num) || !auth_phone_valid(num->valuestring)) {
        cJSON_Delete(doc);
        *rc = mall_reply_error(ctx, 422, "VALIDATION_FAILED",
                               "encrypted_data holds no phone number");
        return MALL_ERR;
    }
    snprintf(phone, AUTH_PHONE_MAX, "%s", num->valuestring);
    cJSON_Delete(doc);
    return MALL_OK;
}


static int
users_me_phone(mall_ctx_t *ctx)
{
    const auth_conf_t  *a = &ctx->conf->auth;
    const char         *code, *data, *iv;
    auth_user_t         u;
    mall_err_t          err;
    cJSON              *body, *out;
    char                phone[AUTH_PHONE_MAX], masked[AUTH_PHONE_MAX];
    long                errcode;
    int                 rc;

    if (auth_require_user(ctx) != MALL_OK) {
        return MALL_OK;
    }
    if (auth_body_object(ctx, &body) != MALL_OK) {
        return MALL_OK;
    }

    code = auth_json_str(body, "code", 256);
    data = auth_json_str(body, "encrypted_data", 8192);
    iv = auth_json_str(body, "iv", 64);
    if ((code != NULL) == (data != NULL || iv != NULL)
        || (code == NULL && (data == NULL || iv == NULL)))
    {
        cJSON_Delete(body);
        return mall_reply_error(ctx, 422, "VALIDATION_FAILED",
                                "give either code, or encrypted_data and "
                                "iv");
    }

    if (users_load_caller(ctx, &u, &rc) != MALL_OK) {
        cJSON_Delete(body);
        return rc;
    }

    if (code != NULL) {
        rc = auth_wx_phone_by_code(ctx->redis, a, code, &errcode, phone,
                                   &err);
        if (rc == MALL_RETRY) {
            cJSON_Delete(body);
            return auth_reply_internal(ctx, rc, "phone", &err);
        }
        if (rc != MALL_OK) {
            cJSON_Delete(body);
            mall_log_req(MALL_LOG_ERROR, "auth", ctx->request_id,
                         ctx->ident.user, "getuserphonenumber: %s", err.msg);
            return mall_reply_error(ctx, 502, "UPSTREAM_ERROR",
                                    "WeChat phone number lookup failed");
        }
        if (errcode != 0) {
            cJSON_Delete(body);
            return users_phone_wx_error(ctx, errcode);
        }

    } else if (users_phone_decrypt(ctx, &u, data, iv, phone, &rc)
               != MALL_OK)
    {
        cJSON_Delete(body);
        return rc;
    }
    cJSON_Delete(body);

    rc = auth_user_store_sealed(ctx->redis, a, u.id, "phone", phone, &err);
    auth_phone_mask(phone, masked, sizeof(masked));
    OPENSSL_cleanse(phone, sizeof(phone));
    if (rc != MALL_OK) {
        return auth_reply_internal(ctx, rc, "phone store", &err);
    }

    rc = MALL_ERR;
    out = cJSON_CreateObject();
    if (out != NULL && mall_json_add_str(out, "phone", masked) == MALL_OK) {
        rc = mall_reply_json_nostore(ctx, 200, out);
    }
    cJSON_Delete(out);
    return rc;
}
