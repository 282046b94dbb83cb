/*
 * Token minting: ES256 access tokens (JWT, lib/mall_jwt.h) with the sign key
 * derived from their jti (lib/mall_sign.h), opaque refresh tokens and the
 * SHA-256 digests under which refresh tokens are stored. Pure apart from
 * the per-process signing-key cache; no Redis here.
 */
#ifndef AUTH_TOKEN_H
#define AUTH_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "auth_conf.h"
#include "mall_common.h"
#include "mall_crypto.h"
#include "mall_jwt.h"
#include "mall_sign.h"

#define AUTH_JTI_BYTES       16
#define AUTH_JTI_LEN         22          /* base64url of 16 bytes */
#define AUTH_REFRESH_BYTES   32
#define AUTH_REFRESH_LEN     43          /* base64url of 32 bytes */
#define AUTH_FAMILY_BYTES    16

typedef struct {
    char      token[MALL_JWT_MAX_LEN];
    size_t    token_len;
    char      jti[AUTH_JTI_LEN + 1];
    char      skid[AUTH_ID_MAX];
    char      sign_key[MALL_SIGN_KEY_LEN + 1];
    int64_t   iat;
    int64_t   exp;
} auth_access_t;

/*
 * Mints an access token for sub with audience aud, role ("" for shoppers)
 * and lifetime ttl at time now, signed by the configured signing key, and
 * derives its sign key from the current sign secret. MALL_OK or MALL_ERR.
 */
int auth_token_mint(const auth_conf_t *a, const char *sub, const char *aud,
    const char *role, int64_t ttl, int64_t now, auth_access_t *out,
    mall_err_t *err);

/* nbytes random bytes as base64url into out (NUL-terminated). */
int auth_token_random(size_t nbytes, char *out, size_t outsz);

/* Lowercase hex SHA-256 of a refresh token (65 bytes with the NUL). */
void auth_token_refresh_hash(const char *token, size_t len,
    char out[MALL_SHA256_HEX_LEN + 1]);

/* A refresh token as issued: 43 base64url characters. */
int auth_token_refresh_valid(const char *token, size_t len);

/* Drops the cached signing key (tests; config reload starts new children) */
void auth_token_reset(void);

#endif
