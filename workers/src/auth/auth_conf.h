/*
 * Identity settings of mall-worker.conf (parsed by mall_conf.c through
 * auth_conf_directive()). Plain data, no pointers: the master copies the
 * whole config by value on reload, and each child turns the PEM text into
 * an OpenSSL key on first use (auth_token.c).
 *
 *   jwt_key k1 /keys/jwt-k1.pem    ES256 private key by kid, repeatable
 *   jwt_sign_kid k1                kid that signs (default: first jwt_key)
 *   sign_secret s1 /keys/sign-s1.key   sign-key derivation secret, repeatable;
 *                                  the first one is current (skid of new
 *                                  tokens), the others stay for the edge
 *   data_key d1 /keys/data-d1.key  AES-256-GCM key (64 hex digits, used as
 *                                  the 32 decoded bytes), repeatable; the
 *                                  first seals, all open
 *   access_ttl 7200                shopper access token lifetime, seconds
 *   refresh_ttl 2592000            refresh token lifetime (30 days)
 *   admin_access_ttl 3600          admin access token lifetime
 *   token_issuer mall-edge         iss of every token
 *   token_audience mall-mini       aud of shopper tokens
 *   admin_audience mall-admin      aud of admin tokens
 *   wechat_api_base https://api.weixin.qq.com
 *   wechat_appid_file /keys/wechat/appid
 *   wechat_secret_file /keys/wechat/appsecret
 *   wechat_timeout_ms 3000         total time of one WeChat call (connect
 *                                  is bounded by a third of it)
 *   admin_bootstrap_password_file /path   dev only: mall-seed creates the
 *                                  "admin" account with this password
 */
#ifndef AUTH_CONF_H
#define AUTH_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "mall_common.h"
#include "mall_jwt.h"
#include "mall_seal.h"

#define AUTH_CONF_NOT_MINE   1       /* auth_conf_directive(): not ours */
#define AUTH_MAX_KEYS        8
#define AUTH_ID_MAX          32
#define AUTH_PEM_MAX         4096
#define AUTH_SECRET_MAX      256
#define AUTH_NAME_MAX        128

typedef struct {
    char      kid[AUTH_ID_MAX];
    char      pem[AUTH_PEM_MAX];
    size_t    pem_len;
} auth_jwt_pem_t;

typedef struct {
    char      id[AUTH_ID_MAX];
    uint8_t   key[AUTH_SECRET_MAX];
    size_t    len;
} auth_secret_t;

typedef struct {
    auth_jwt_pem_t    jwt_keys[AUTH_MAX_KEYS];
    size_t            n_jwt_keys;
    char              jwt_sign_kid[AUTH_ID_MAX];     /* "" = first key */
    auth_secret_t     sign_secrets[AUTH_MAX_KEYS];   /* [0] is current */
    size_t            n_sign_secrets;
    mall_seal_key_t   data_keys[AUTH_MAX_KEYS];      /* [0] seals */
    size_t            n_data_keys;
    int64_t           access_ttl;                    /* seconds */
    int64_t           refresh_ttl;
    int64_t           admin_access_ttl;
    char              token_issuer[AUTH_NAME_MAX];
    char              token_audience[AUTH_NAME_MAX];
    char              admin_audience[AUTH_NAME_MAX];
    char              wechat_api_base[256];          /* no trailing '/' */
    char              wechat_appid[64];
    char              wechat_secret[128];
    int               wechat_timeout_ms;
    char              admin_bootstrap_password_file[512];
    unsigned          seen;                          /* duplicate check */
} auth_conf_t;

void auth_conf_init(auth_conf_t *a);

/*
 * Applies one directive (argv[0] is its name). MALL_OK, MALL_ERR with the
 * reason in err, or AUTH_CONF_NOT_MINE when argv[0] is not an identity
 * directive. Key files are read (and keys checked) here.
 */
int auth_conf_directive(auth_conf_t *a, char **argv, int argc,
    mall_err_t *err);

/* Cross-directive checks after the whole file: MALL_OK or MALL_ERR. */
int auth_conf_validate(auth_conf_t *a, mall_err_t *err);

/* Overwrites every secret. */
void auth_conf_wipe(auth_conf_t *a);

/* The signing key's PEM entry, or NULL when no jwt_key is configured. */
const auth_jwt_pem_t *auth_conf_signing_pem(const auth_conf_t *a);

/*
 * Builds an ES256 signing key from a PEM entry. MALL_OK or MALL_ERR; the
 * caller releases it with mall_jwt_key_free().
 */
int auth_conf_jwt_key(const auth_jwt_pem_t *p, mall_jwt_key_t *key,
    mall_err_t *err);

/* Largest access token lifetime (bounds the revocation stream). */
int64_t auth_conf_max_access_ttl(const auth_conf_t *a);

#endif
