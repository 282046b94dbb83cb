/*
 * Access and refresh token minting (see auth_token.h).
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "auth_token.h"
#include "mall_b64.h"

/* The signing key, parsed from its PEM once per process and kept. */
static mall_jwt_key_t  token_key;
static uint8_t         token_key_digest[MALL_SHA256_LEN];
static int             token_key_loaded;


void
auth_token_reset(void)
{
    if (token_key_loaded) {
        mall_jwt_key_free(&token_key);
        token_key_loaded = 0;
    }
}


static const mall_jwt_key_t *
auth_token_key(const auth_conf_t *a, mall_err_t *err)
{
    const auth_jwt_pem_t  *p;
    uint8_t                d[MALL_SHA256_LEN];

    p = auth_conf_signing_pem(a);
    if (p == NULL) {
        mall_err_set(err, 0, "no jwt_key configured");
        return NULL;
    }

    /* keyed by the PEM's digest so a changed config is never signed with
     * a stale key */
    mall_sha256(p->pem, p->pem_len, d);
    if (token_key_loaded
        && strcmp(token_key.kid, p->kid) == 0
        && memcmp(d, token_key_digest, sizeof(d)) == 0)
    {
        return &token_key;
    }

    auth_token_reset();
    if (auth_conf_jwt_key(p, &token_key, err) != MALL_OK) {
        return NULL;
    }
    memcpy(token_key_digest, d, sizeof(d));
    token_key_loaded = 1;
    return &token_key;
}


int
auth_token_random(size_t nbytes, char *out, size_t outsz)
{
    uint8_t  buf[64];
    size_t   n;

    if (nbytes > sizeof(buf) || outsz < MALL_B64URL_ENCODED_LEN(nbytes) + 1
        || mall_random(buf, nbytes) != 0)
    {
        return MALL_ERR;
    }
    n = mall_b64url_encode(buf, nbytes, out);
    out[n] = '\0';
    OPENSSL_cleanse(buf, sizeof(buf));
    return MALL_OK;
}


int
auth_token_mint(const auth_conf_t *a, const char *sub, const char *aud,
    const char *role, int64_t ttl, int64_t now, auth_access_t *out,
    mall_err_t *err)
{
    const mall_jwt_key_t  *key;
    const auth_secret_t   *secret;
    mall_jwt_claims_t      c;

    memset(out, 0, sizeof(*out));

    if (a->n_sign_secrets == 0) {
        return mall_err_set(err, 0, "no sign_secret configured");
    }
    secret = &a->sign_secrets[0];

    key = auth_token_key(a, err);
    if (key == NULL) {
        return MALL_ERR;
    }

    if (strlen(sub) >= sizeof(c.sub) || strlen(role) >= sizeof(c.role)
        || strlen(aud) >= sizeof(c.aud))
    {
        return mall_err_set(err, 0, "token claim too long");
    }

    if (auth_token_random(AUTH_JTI_BYTES, out->jti, sizeof(out->jti))
        != MALL_OK)
    {
        return mall_err_set(err, 0, "no randomness for jti");
    }

    memset(&c, 0, sizeof(c));
    snprintf(c.sub, sizeof(c.sub), "%s", sub);
    snprintf(c.jti, sizeof(c.jti), "%s", out->jti);
    snprintf(c.role, sizeof(c.role), "%s", role);
    snprintf(c.skid, sizeof(c.skid), "%s", secret->id);
    snprintf(c.iss, sizeof(c.iss), "%s", a->token_issuer);
    snprintf(c.aud, sizeof(c.aud), "%s", aud);
    c.iat = now;
    c.exp = now + ttl;

    if (mall_jwt_sign(key, &c, out->token, sizeof(out->token),
                      &out->token_len) != MALL_JWT_OK)
    {
        return mall_err_set(err, 0, "jwt signing failed");
    }

    if (mall_sign_derive_key(secret->key, secret->len, out->jti,
                             strlen(out->jti), out->sign_key) != 0)
    {
        return mall_err_set(err, 0, "sign key derivation failed");
    }
    out->sign_key[MALL_SIGN_KEY_LEN] = '\0';

    snprintf(out->skid, sizeof(out->skid), "%s", secret->id);
    out->iat = c.iat;
    out->exp = c.exp;
    return MALL_OK;
}


void
auth_token_refresh_hash(const char *token, size_t len,
    char out[MALL_SHA256_HEX_LEN + 1])
{
    mall_sha256_hex(token, len, out);
    out[MALL_SHA256_HEX_LEN] = '\0';
}


int
auth_token_refresh_valid(const char *token, size_t len)
{
    uint8_t  raw[AUTH_REFRESH_BYTES + 3];
    size_t   n;

    return len == AUTH_REFRESH_LEN
           && mall_b64url_decode(token, len, raw, &n) == 0
           && n == AUTH_REFRESH_BYTES;
}
