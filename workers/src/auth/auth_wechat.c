/*
 * WeChat identity API calls (see auth_wechat.h).
 */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>

#include "auth_wechat.h"
#include "mall_http_client.h"
#include "mall_batch.h"
#include "mall_query.h"
#include "mall_log.h"

#define WX_BODY_MAX   (64 * 1024)


/* Wipes and frees an answer (it may hold a session key or a token). */
static void
wx_body_free(mall_http_response_t *body)
{
    if (body->body != NULL) {
        OPENSSL_cleanse(body->body, body->body_len);
    }
    mall_http_response_free(body);
}


/*
 * One HTTP exchange: GET when body is NULL, else POST of a JSON body.
 * MALL_OK only for HTTP 200 with a body, in *out (wx_body_free it).
 * Parks the fiber while WeChat answers (mall_http_client.h).
 */
static int
wx_http(const auth_conf_t *a, const char *url, const char *body,
    mall_http_response_t *out, mall_err_t *err)
{
    static const char *const  json_hdr[] = {
        "Content-Type: application/json", NULL
    };
    mall_http_request_t       req;
    mall_err_t                e;

    memset(&req, 0, sizeof(req));
    req.method = body != NULL ? "POST" : "GET";
    req.url = url;
    req.headers = body != NULL ? json_hdr : NULL;
    req.body = body;
    req.body_len = body != NULL ? strlen(body) : 0;
    req.timeout_ms = a->wechat_timeout_ms;
    req.connect_timeout_ms = a->wechat_timeout_ms / 3 > 0
                             ? a->wechat_timeout_ms / 3 : 1;
    req.max_body = WX_BODY_MAX;

    if (mall_http_fetch(&req, out, &e) != MALL_OK) {
        return mall_err_set(err, 0, "wechat request failed: %s", e.msg);
    }
    if (out->status != 200 || out->body_len == 0) {
        mall_err_set(err, 0, "wechat answered HTTP %ld", out->status);
        wx_body_free(out);
        return MALL_ERR;
    }
    return MALL_OK;
}


/* Percent-encodes s for a query value into out. MALL_OK or MALL_ERR. */
static int
wx_escape(const char *s, char *out, size_t outsz)
{
    static const char  hex[] = "0123456789ABCDEF";
    size_t             n;
    unsigned char      ch;

    n = 0;
    for ( ; *s != '\0'; s++) {
        ch = (unsigned char) *s;
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z')
            || (ch >= '0' && ch <= '9') || ch == '-' || ch == '.'
            || ch == '_' || ch == '~')
        {
            if (n + 1 >= outsz) {
                return MALL_ERR;
            }
            out[n++] = (char) ch;
        } else {
            if (n + 3 >= outsz) {
                return MALL_ERR;
            }
            out[n++] = '%';
            out[n++] = hex[ch >> 4];
            out[n++] = hex[ch & 0x0f];
        }
    }
    out[n] = '\0';
    return MALL_OK;
}


/* errcode of a WeChat answer: absent means 0. Numbers or numeric text. */
static long
wx_errcode(const cJSON *root)
{
    const cJSON  *e;

    e = cJSON_GetObjectItemCaseSensitive(root, "errcode");
    if (cJSON_IsNumber(e)) {
        return (long) e->valuedouble;
    }
    return 0;
}


/* Copies a string member into dst; MALL_ERR when absent or too long. */
static int
wx_str(const cJSON *root, const char *name, char *dst, size_t dstsz)
{
    const cJSON  *v;
    size_t        len;

    v = cJSON_GetObjectItemCaseSensitive(root, name);
    if (!cJSON_IsString(v) || v->valuestring == NULL) {
        return MALL_ERR;
    }
    len = strlen(v->valuestring);
    if (len == 0 || len >= dstsz) {
        return MALL_ERR;
    }
    memcpy(dst, v->valuestring, len + 1);
    return MALL_OK;
}


int
auth_wx_code2session(const auth_conf_t *a, const char *code,
    auth_wx_session_t *s, mall_err_t *err)
{
    mall_http_response_t  body = { 0 };
    char              url[1024], e_appid[200], e_secret[400], e_code[400];
    cJSON            *root;
    int               rc, n;

    memset(s, 0, sizeof(*s));
    rc = MALL_ERR;
    root = NULL;

    if (a->wechat_appid[0] == '\0') {
        return mall_err_set(err, 0, "wechat appid/secret not configured");
    }
    if (wx_escape(a->wechat_appid, e_appid, sizeof(e_appid)) != MALL_OK
        || wx_escape(a->wechat_secret, e_secret, sizeof(e_secret)) != MALL_OK
        || wx_escape(code, e_code, sizeof(e_code)) != MALL_OK)
    {
        mall_err_set(err, 0, "login code too long");
        goto done;
    }
    n = snprintf(url, sizeof(url), "%s/sns/jscode2session?appid=%s&secret=%s"
                 "&js_code=%s&grant_type=authorization_code",
                 a->wechat_api_base, e_appid, e_secret, e_code);
    if (n < 0 || (size_t) n >= sizeof(url)) {
        mall_err_set(err, 0, "jscode2session url too long");
        goto done;
    }

    if (wx_http(a, url, NULL, &body, err) != MALL_OK) {
        goto done;
    }

    root = cJSON_ParseWithLength(body.body, body.body_len);
    if (!cJSON_IsObject(root)) {
        mall_err_set(err, 0, "jscode2session: answer is not a JSON object");
        goto done;
    }

    s->errcode = wx_errcode(root);
    if (s->errcode != 0) {
        rc = MALL_OK;
        goto done;
    }

    if (wx_str(root, "openid", s->openid, sizeof(s->openid)) != MALL_OK
        || wx_str(root, "session_key", s->session_key,
                  sizeof(s->session_key)) != MALL_OK)
    {
        mall_err_set(err, 0, "jscode2session: no openid or session_key");
        goto done;
    }
    if (cJSON_GetObjectItemCaseSensitive(root, "unionid") != NULL
        && wx_str(root, "unionid", s->unionid, sizeof(s->unionid))
           != MALL_OK)
    {
        mall_err_set(err, 0, "jscode2session: bad unionid");
        goto done;
    }
    rc = MALL_OK;

done:
    cJSON_Delete(root);
    OPENSSL_cleanse(url, sizeof(url));
    OPENSSL_cleanse(e_secret, sizeof(e_secret));
    wx_body_free(&body);
    return rc;
}


/* Takes the refresh lock (10 s). MALL_OK, or MALL_RETRY while held. */
static int
wx_token_lock(mall_redis_t *r, mall_err_t *err)
{
    redisReply  *reply;
    int          rc, won;

    rc = mall_cmd(r, &reply, err, 6, "SET", AUTH_WX_TOKEN_LOCK, "1", "NX",
                  "PX", "10000");
    if (rc != MALL_OK) {
        return rc;
    }
    won = reply->type == REDIS_REPLY_STATUS;
    freeReplyObject(reply);
    if (!won) {
        mall_err_set(err, 503, "access token refresh in progress");
        return MALL_RETRY;
    }
    return MALL_OK;
}


static void
wx_token_unlock(mall_redis_t *r)
{
    redisReply  *reply;
    mall_err_t   err;

    if (mall_cmd(r, &reply, &err, 2, "DEL", AUTH_WX_TOKEN_LOCK) == MALL_OK) {
        freeReplyObject(reply);
    }
}


/*
 * The cached app access token into tok (*found = 1), unless there is none
 * or it is stale, the one WeChat just refused (*found = 0). MALL_OK, or
 * MALL_RETRY when Redis is down.
 */
static int
wx_token_cached(mall_redis_t *r, const auth_conf_t *a, const char *stale,
    char *tok, size_t toksz, int *found, mall_err_t *err)
{
    const char  *argv[2];
    size_t       argvlen[2], len;
    redisReply  *reply;
    mall_err_t   e;
    int          rc;

    *found = 0;
    argv[0] = "GET";
    argv[1] = AUTH_WX_ACCESS_KEY;
    argvlen[0] = 3;
    argvlen[1] = strlen(argv[1]);
    rc = mall_redis_command(r, &reply, err, 2, argv, argvlen);
    if (rc != MALL_OK) {
        return rc;
    }
    if (reply->type == REDIS_REPLY_STRING
        && mall_unseal(a->data_keys, a->n_data_keys, AUTH_WX_ACCESS_KEY,
                       reply->str, reply->len, (uint8_t *) tok, toksz - 1,
                       &len, &e) == MALL_OK)
    {
        tok[len] = '\0';
        *found = stale == NULL || strcmp(stale, tok) != 0;
    }
    freeReplyObject(reply);
    return MALL_OK;
}


/*
 * The app access token: from the Redis cache (sealed with the data key)
 * unless it is stale (the one WeChat just refused), else fetched from
 * /cgi-bin/token and cached until 5 minutes before it expires. One
 * process refreshes at a time (SET NX of AUTH_WX_TOKEN_LOCK); the others
 * get MALL_RETRY meanwhile and use the new token on their next try.
 * MALL_OK with tok set, MALL_OK with *errcode from WeChat, MALL_ERR,
 * MALL_RETRY.
 */
static int
wx_access_token(mall_redis_t *r, const auth_conf_t *a, const char *stale,
    char *tok, size_t toksz, long *errcode, mall_err_t *err)
{
    mall_http_response_t  body = { 0 };
    const char        *argv[5];
    size_t             argvlen[5], len;
    redisReply        *reply;
    cJSON             *root;
    const cJSON       *ttl;
    char               url[1024], e_appid[200], e_secret[400], ex[24];
    char               sealed[MALL_SEAL_LEN(AUTH_ID_MAX, 1024) + 1];
    long               expires;
    int                rc, n, found;

    *errcode = 0;
    root = NULL;
    rc = MALL_ERR;

    if (a->n_data_keys == 0) {
        return mall_err_set(err, 0, "no data_key configured");
    }

    rc = wx_token_cached(r, a, stale, tok, toksz, &found, err);
    if (rc != MALL_OK || found) {
        return rc;
    }
    rc = wx_token_lock(r, err);
    if (rc != MALL_OK) {
        return rc;
    }
    /* another process may have refreshed it while this one was reading */
    rc = wx_token_cached(r, a, stale, tok, toksz, &found, err);
    if (rc != MALL_OK || found) {
        wx_token_unlock(r);
        return rc;
    }
    rc = MALL_ERR;

    if (wx_escape(a->wechat_appid, e_appid, sizeof(e_appid)) != MALL_OK
        || wx_escape(a->wechat_secret, e_secret, sizeof(e_secret)) != MALL_OK)
    {
        mall_err_set(err, 0, "appid/secret too long");
        goto done;
    }
    n = snprintf(url, sizeof(url), "%s/cgi-bin/token?grant_type="
                 "client_credential&appid=%s&secret=%s", a->wechat_api_base,
                 e_appid, e_secret);
    OPENSSL_cleanse(e_secret, sizeof(e_secret));
    if (n < 0 || (size_t) n >= sizeof(url)) {
        mall_err_set(err, 0, "token url too long");
        goto done;
    }

    n = wx_http(a, url, NULL, &body, err);
    OPENSSL_cleanse(url, sizeof(url));
    if (n != MALL_OK) {
        goto done;
    }

    root = cJSON_ParseWithLength(body.body, body.body_len);
    wx_body_free(&body);
    if (!cJSON_IsObject(root)) {
        mall_err_set(err, 0, "cgi-bin/token: answer is not JSON");
        goto done;
    }
    *errcode = wx_errcode(root);
    if (*errcode != 0) {
        rc = MALL_OK;
        goto done;
    }
    ttl = cJSON_GetObjectItemCaseSensitive(root, "expires_in");
    if (wx_str(root, "access_token", tok, toksz) != MALL_OK
        || !cJSON_IsNumber(ttl))
    {
        mall_err_set(err, 0, "cgi-bin/token: no access_token/expires_in");
        goto done;
    }
    expires = (long) ttl->valuedouble;

    /* cache only when it lives long enough to be worth it */
    if (expires > 600
        && mall_seal(&a->data_keys[0], AUTH_WX_ACCESS_KEY, tok, strlen(tok),
                     sealed, sizeof(sealed), &len, err) == MALL_OK)
    {
        snprintf(ex, sizeof(ex), "%ld", expires - 300);
        argv[0] = "SET"; argv[1] = AUTH_WX_ACCESS_KEY; argv[2] = sealed;
        argv[3] = "EX"; argv[4] = ex;
        for (n = 0; n < 5; n++) {
            argvlen[n] = strlen(argv[n]);
        }
        if (mall_redis_command(r, &reply, err, 5, argv, argvlen) == MALL_OK) {
            freeReplyObject(reply);
        }
    }
    rc = MALL_OK;

done:
    cJSON_Delete(root);
    wx_token_unlock(r);
    return rc;
}


int
auth_wx_call(mall_redis_t *r, const auth_conf_t *a, const char *path,
    const char *json, long *errcode, cJSON **answer, mall_err_t *err)
{
    mall_http_response_t  body = { 0 };
    char                  tok[600], stale[600], e_tok[1800], url[2200];
    int                   attempt, rc;

    *answer = NULL;
    *errcode = 0;
    stale[0] = '\0';
    rc = MALL_ERR;
    /* a token WeChat no longer accepts is refreshed once */
    for (attempt = 0; attempt < 2; attempt++) {
        rc = wx_access_token(r, a, attempt ? stale : NULL, tok, sizeof(tok),
                             errcode, err);
        if (rc != MALL_OK || *errcode != 0) {
            break;
        }
        rc = MALL_ERR;
        if (wx_escape(tok, e_tok, sizeof(e_tok)) != MALL_OK
            || snprintf(url, sizeof(url), "%s%s?access_token=%s",
                        a->wechat_api_base, path, e_tok)
               >= (int) sizeof(url))
        {
            mall_err_set(err, 0, "access token too long");
            break;
        }
        if (wx_http(a, url, json, &body, err) != MALL_OK) {
            break;
        }
        cJSON_Delete(*answer);
        *answer = cJSON_ParseWithLength(body.body, body.body_len);
        wx_body_free(&body);
        if (!cJSON_IsObject(*answer)) {
            mall_err_set(err, 0, "%s: answer is not JSON", path);
            break;
        }
        rc = MALL_OK;
        *errcode = wx_errcode(*answer);
        if (*errcode != 40001 && *errcode != 42001) {
            break;
        }
        snprintf(stale, sizeof(stale), "%s", tok);
    }
    if (rc != MALL_OK) {
        cJSON_Delete(*answer);
        *answer = NULL;
    }
    OPENSSL_cleanse(tok, sizeof(tok));
    OPENSSL_cleanse(stale, sizeof(stale));
    OPENSSL_cleanse(e_tok, sizeof(e_tok));
    OPENSSL_cleanse(url, sizeof(url));
    return rc;
}


int
auth_wx_phone_by_code(mall_redis_t *r, const auth_conf_t *a,
    const char *code, long *errcode, char phone[AUTH_PHONE_MAX],
    mall_err_t *err)
{
    const cJSON       *info;
    cJSON             *req, *root;
    char              *json;
    int                rc;

    root = NULL;
    *errcode = 0;

    if (a->wechat_appid[0] == '\0') {
        return mall_err_set(err, 0, "wechat appid/secret not configured");
    }

    req = cJSON_CreateObject();
    if (req == NULL || cJSON_AddStringToObject(req, "code", code) == NULL) {
        cJSON_Delete(req);
        return mall_err_set(err, 0, "out of memory");
    }
    json = cJSON_PrintUnformatted(req);
    cJSON_Delete(req);
    if (json == NULL) {
        return mall_err_set(err, 0, "out of memory");
    }

    rc = auth_wx_call(r, a, "/wxa/business/getuserphonenumber", json,
                      errcode, &root, err);
    if (rc != MALL_OK || *errcode != 0) {
        goto done;
    }
    rc = MALL_ERR;

    info = cJSON_GetObjectItemCaseSensitive(root, "phone_info");
    if (wx_str(info, "purePhoneNumber", phone, AUTH_PHONE_MAX) != MALL_OK
        || !auth_phone_valid(phone))
    {
        mall_err_set(err, 0, "getuserphonenumber: no valid purePhoneNumber");
        goto done;
    }
    rc = MALL_OK;

done:
    cJSON_Delete(root);
    cJSON_free(json);
    return rc;
}
