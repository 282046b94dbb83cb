/*
 * WeChat server API client for identity: code2Session, the app access
 * token (cached in Redis, sealed, until shortly before it expires) and
 * the phone number of a getPhoneNumber code. Calls go through
 * mall_http_client.h: the request's fiber parks while WeChat answers
 * (bounded by wechat_timeout_ms), the worker process keeps serving.
 */
#ifndef AUTH_WECHAT_H
#define AUTH_WECHAT_H

#include <cjson/cJSON.h>

#include "auth_conf.h"
#include "auth_phone.h"
#include "mall_common.h"
#include "mall_redis.h"

#define AUTH_WX_OPENID_MAX   128
#define AUTH_WX_ACCESS_KEY   "mall:wx:access_token"
#define AUTH_WX_TOKEN_LOCK   "mall:wx:access_token:lock"

typedef struct {
    long   errcode;                        /* 0 on success */
    char   openid[AUTH_WX_OPENID_MAX];
    char   unionid[AUTH_WX_OPENID_MAX];    /* "" when not given */
    char   session_key[64];                /* base64, as WeChat sends it */
} auth_wx_session_t;

/*
 * jscode2session for code. MALL_OK means WeChat answered: s->errcode says
 * how (0 = success with openid and session_key set). MALL_ERR: network
 * failure, HTTP error or a malformed answer (err says which).
 */
int auth_wx_code2session(const auth_conf_t *a, const char *code,
    auth_wx_session_t *s, mall_err_t *err);

/*
 * Phone number of a getPhoneNumber code (new path), fetching or reusing
 * the app access token. MALL_OK with *errcode 0 and phone set, MALL_OK
 * with a WeChat *errcode, MALL_ERR (network/format), MALL_RETRY (Redis).
 */
int auth_wx_phone_by_code(mall_redis_t *r, const auth_conf_t *a,
    const char *code, long *errcode, char phone[AUTH_PHONE_MAX],
    mall_err_t *err);

/*
 * POST of json to WeChat's path ("/cgi-bin/message/subscribe/send") with
 * the app access token; a token WeChat refuses (40001, 42001) is
 * refreshed once and the call repeated. MALL_OK with *answer (caller
 * deletes) and *errcode (0 = success), MALL_ERR (network/format),
 * MALL_RETRY (Redis down, or another process is refreshing the token).
 */
int auth_wx_call(mall_redis_t *r, const auth_conf_t *a, const char *path,
    const char *json, long *errcode, cJSON **answer, mall_err_t *err);

#endif
