/*
 * Redis side of identity: users, refresh-token families and revocation
 * events. Keys (all under mall:):
 *
 *   mall:seq:user                  INCR source of user ids
 *   mall:user:{id}                 hash: id, openid, unionid, nickname,
 *                                  avatar_url, created_at, status
 *                                  (active|frozen), frozen_at, session_key
 *                                  and phone (mall_seal'ed, never clear)
 *   mall:user:openid:{openid}      string: user id (SET NX: one user per
 *   mall:user:unionid:{unionid}    openid even on concurrent first logins)
 *   mall:user:{id}:rfams           set: the user's refresh families
 *   mall:rt:{sha256 hex}           hash: uid, fam, state (active|used),
 *                                  exp, created; expires at exp
 *   mall:rfam:{fam}                hash: uid, state (active|revoked),
 *                                  created
 *   mall:rfam:{fam}:jtis           zset: access jti -> its exp
 *   mall:jti:{jti}                 string: family of an access token
 *   mall:revoked                   stream read by every edge: type jti
 *                                  (jti, exp) or type user (sub, until)
 *
 * Refresh tokens are single-use: rotation marks the old one used inside
 * WATCH/MULTI/EXEC, so of two concurrent refreshes exactly one wins; a
 * later presentation of a used token revokes its whole family.
 */
#ifndef AUTH_STORE_H
#define AUTH_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "auth_conf.h"
#include "auth_token.h"
#include "mall_common.h"
#include "mall_redis.h"

#define AUTH_UID_MAX        24
#define AUTH_FAMILY_LEN     22
#define AUTH_NICK_MAX       (32 * 4 + 1)     /* 32 UTF-8 characters */
#define AUTH_AVATAR_MAX     513
#define AUTH_SEALED_MAX     512
#define AUTH_DEFAULT_NICK   "微信用户"

typedef struct {
    int       found;
    char      id[AUTH_UID_MAX];
    char      nickname[AUTH_NICK_MAX];
    char      avatar_url[AUTH_AVATAR_MAX];
    char      phone[AUTH_SEALED_MAX];          /* sealed, "" when none */
    char      session_key[AUTH_SEALED_MAX];    /* sealed, "" when none */
    int64_t   created_at;
    int       frozen;
} auth_user_t;

/* A freshly issued access + refresh pair. */
typedef struct {
    auth_access_t  access;
    char           refresh[AUTH_REFRESH_LEN + 1];
    int64_t        refresh_exp;
    char           family[AUTH_FAMILY_LEN + 1];
    char           uid[AUTH_UID_MAX];
} auth_pair_t;

typedef enum {
    AUTH_RT_OK = 0,
    AUTH_RT_INVALID,          /* unknown token */
    AUTH_RT_EXPIRED,
    AUTH_RT_REUSED,           /* used before: family now revoked */
    AUTH_RT_REVOKED,          /* family revoked (logout, reuse, freeze) */
    AUTH_RT_RACE,             /* lost a concurrent rotation */
    AUTH_RT_FROZEN            /* user frozen */
} auth_rt_result_e;

/*
 * Finds the user of openid (or unionid), creating it atomically when new.
 * MALL_OK with uid set, MALL_ERR, MALL_RETRY.
 */
int auth_user_login(mall_redis_t *r, const char *openid, const char *unionid,
    int64_t now, char uid[AUTH_UID_MAX], mall_err_t *err);

/* Loads mall:user:{uid}; u->found = 0 when absent. MALL_OK/ERR/RETRY. */
int auth_user_load(mall_redis_t *r, const char *uid, auth_user_t *u,
    mall_err_t *err);

/*
 * Seals value with the current data key (aad "mall:user:{uid}:{field}")
 * and stores it in the user's hash field. MALL_OK/ERR/RETRY.
 */
int auth_user_store_sealed(mall_redis_t *r, const auth_conf_t *a,
    const char *uid, const char *field, const char *value, mall_err_t *err);

/*
 * Opens a sealed user field into out (NUL-terminated). MALL_OK/MALL_ERR.
 */
int auth_user_open_sealed(const auth_conf_t *a, const char *uid,
    const char *field, const char *sealed, char *out, size_t outsz,
    mall_err_t *err);

/* HSETs name/value pairs (n pairs) on an existing user. MALL_OK/ERR/RETRY */
int auth_user_update(mall_redis_t *r, const char *uid, const char **pairs,
    size_t n, mall_err_t *err);

/*
 * Starts a session for uid: new refresh family, access token (shopper
 * audience) and refresh token. MALL_OK/ERR/RETRY.
 */
int auth_session_start(mall_redis_t *r, const auth_conf_t *a,
    const char *uid, int64_t now, auth_pair_t *out, mall_err_t *err);

/*
 * Rotates a refresh token (see file comment). MALL_OK with *res saying
 * the outcome (out filled only for AUTH_RT_OK), MALL_ERR, MALL_RETRY.
 */
int auth_session_refresh(mall_redis_t *r, const auth_conf_t *a,
    const char *token, size_t len, int64_t now, auth_pair_t *out,
    auth_rt_result_e *res, mall_err_t *err);

/* Revokes a family: its refresh tokens and live access tokens. */
int auth_family_revoke(mall_redis_t *r, const auth_conf_t *a,
    const char *fam, int64_t now, mall_err_t *err);

/* Revokes the family that issued access token jti, if any. */
int auth_family_revoke_by_jti(mall_redis_t *r, const auth_conf_t *a,
    const char *jti, int64_t now, mall_err_t *err);

/* Revokes every family of a user. */
int auth_user_revoke_families(mall_redis_t *r, const auth_conf_t *a,
    const char *uid, int64_t now, mall_err_t *err);

/* XADD mall:revoked type jti jti <jti> exp <exp>. MALL_OK/ERR/RETRY. */
int auth_revoke_jti(mall_redis_t *r, const auth_conf_t *a, const char *jti,
    int64_t exp, mall_err_t *err);

/* XADD mall:revoked type user sub <sub> until <until>. */
int auth_revoke_user(mall_redis_t *r, const auth_conf_t *a, const char *sub,
    int64_t until, mall_err_t *err);

/* Runs one command given as NUL-terminated strings (lengths by strlen). */
int auth_redis(mall_redis_t *r, redisReply **reply, mall_err_t *err,
    int argc, const char **argv);

/* Positive decimal id of at most 18 digits without a leading zero. */
int auth_uid_valid(const char *s);

/*
 * Copies a string reply into out: MALL_OK, MALL_ERR when it is not a
 * string or does not fit.
 */
int auth_store_copy_str(const redisReply *rep, char *out, size_t outsz);

/*
 * GET key into out ("" when absent); *valid = 0 when the value is not a
 * string that fits. MALL_OK, MALL_ERR, MALL_RETRY.
 */
int auth_store_get_str(mall_redis_t *r, const char *key, char *out,
    size_t outsz, int *valid, mall_err_t *err);

#endif
