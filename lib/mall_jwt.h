/*
 * JSON Web Tokens (RFC 7519) in JWS compact form (RFC 7515), ES256 and HS256.
 *
 * Verification is split so the nginx module can cache it: mall_jwt_parse()
 * decodes and checks the structure without crypto; mall_jwt_verify() checks
 * the signature with a key chosen by kid; mall_jwt_check_claims() checks
 * time, issuer and audience. Workers issue tokens with mall_jwt_sign().
 * No function here allocates except inside OpenSSL's EVP calls.
 */
#ifndef MALL_JWT_H
#define MALL_JWT_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>

#define MALL_JWT_MAX_LEN     2048   /* longer tokens are refused outright */
#define MALL_JWT_ID_MAX      64     /* kid, sub, jti, skid, role */
#define MALL_JWT_NAME_MAX    128    /* iss, aud */

typedef enum {
    MALL_JWT_ALG_NONE = 0,          /* never accepted */
    MALL_JWT_ALG_ES256,
    MALL_JWT_ALG_HS256
} mall_jwt_alg_e;

typedef enum {
    MALL_JWT_OK = 0,
    MALL_JWT_TOO_LONG,
    MALL_JWT_MALFORMED,             /* segments, base64url, JSON, types */
    MALL_JWT_BAD_ALG,               /* none, unknown, or not the key's alg */
    MALL_JWT_UNKNOWN_KID,
    MALL_JWT_BAD_SIGNATURE,
    MALL_JWT_EXPIRED,
    MALL_JWT_NOT_YET_VALID,         /* nbf or iat in the future */
    MALL_JWT_BAD_ISSUER,
    MALL_JWT_BAD_AUDIENCE,
    MALL_JWT_MISSING_CLAIM,
    MALL_JWT_INTERNAL
} mall_jwt_rc_e;

/* A verification or signing key. Exactly one of pkey / secret is used. */
typedef struct {
    char             kid[MALL_JWT_ID_MAX];
    mall_jwt_alg_e   alg;
    EVP_PKEY        *pkey;          /* ES256: P-256 public or private key */
    uint8_t          secret[64];    /* HS256 */
    size_t           secret_len;
} mall_jwt_key_t;

typedef struct {
    char      kid[MALL_JWT_ID_MAX];
    char      sub[MALL_JWT_ID_MAX];
    char      jti[MALL_JWT_ID_MAX];
    char      role[MALL_JWT_ID_MAX];  /* "" for shoppers; admin tokens */
    char      skid[MALL_JWT_ID_MAX];  /* id of the sign-key derivation secret */
    char      iss[MALL_JWT_NAME_MAX];
    char      aud[MALL_JWT_NAME_MAX];
    int64_t   iat;
    int64_t   nbf;                    /* 0 when absent */
    int64_t   exp;
} mall_jwt_claims_t;

/* Result of mall_jwt_parse(); points into the caller's token buffer. */
typedef struct {
    mall_jwt_alg_e      alg;
    mall_jwt_claims_t   claims;
    const char         *signing_input;  /* header "." payload */
    size_t              signing_input_len;
    uint8_t             sig[64];
    size_t              sig_len;
} mall_jwt_t;

const char *mall_jwt_strerror(mall_jwt_rc_e rc);

/*
 * Structure only: three base64url segments, header {"alg","kid","typ"?}
 * with a supported alg (never "none"), a claims object with string sub and
 * jti and integer iat and exp, no duplicate keys, no oversized fields.
 */
mall_jwt_rc_e mall_jwt_parse(const char *token, size_t len, mall_jwt_t *jwt);

/*
 * Picks the key whose kid matches jwt->claims.kid among keys[0..nkeys) and
 * verifies the signature. The key's alg must equal the token's alg, so an
 * HS256 token is never checked against an ES256 public key as a secret.
 * ES256 signatures must have a low S (s <= n / 2): the high-S twin of a
 * valid signature is refused, and mall_jwt_sign() issues only low S.
 */
mall_jwt_rc_e mall_jwt_verify(const mall_jwt_t *jwt,
    const mall_jwt_key_t *keys, size_t nkeys);

/*
 * Time and audience: exp > now - leeway, nbf/iat <= now + leeway, and iss /
 * aud equal to the expected values when those are non-NULL.
 */
mall_jwt_rc_e mall_jwt_check_claims(const mall_jwt_claims_t *c, int64_t now,
    int64_t leeway, const char *iss, const char *aud);

/*
 * Issues a token for claims c (c->kid is ignored: key->kid is written) with
 * the signing key. c->aud is one audience of at most MALL_JWT_NAME_MAX - 2
 * bytes (parse keeps a byte for its list terminator). Writes a
 * NUL-terminated token; returns MALL_JWT_OK, MALL_JWT_MALFORMED for claims
 * it would not accept back, or MALL_JWT_TOO_LONG when out is too small.
 */
mall_jwt_rc_e mall_jwt_sign(const mall_jwt_key_t *key,
    const mall_jwt_claims_t *c, char *out, size_t outsz, size_t *outlen);

/*
 * Loads a key from a file: PEM (EC P-256 public or private key) for ES256,
 * or raw bytes (trailing newline stripped, 32..64 bytes) for HS256. Returns
 * 0 or -1 with a message in err. mall_jwt_key_free() releases pkey.
 */
int mall_jwt_key_load(mall_jwt_key_t *key, const char *kid,
    mall_jwt_alg_e alg, const char *path, char *err, size_t errsz);
void mall_jwt_key_free(mall_jwt_key_t *key);

#endif
