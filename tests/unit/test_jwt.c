/*
 * Unit tests of lib/mall_jwt.c: RFC 7515 vectors, sign -> parse -> verify
 * round trips, and hostile tokens. Hostile tokens are built here with
 * OpenSSL directly (not with mall_jwt_sign) so the tests do not share the
 * code they check.
 */
#define _DEFAULT_SOURCE                 /* mkdtemp() under -std=c11 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "mall_b64.h"
#include "mall_crypto.h"
#include "mall_jwt.h"
#include "mall_jwt_internal.h"

#define NOW       1700000000
#define HS_SECRET "hs256-test-secret-0123456789abcdef0123456789"

typedef struct {
    char            dir[64];
    char            priv_path[128];
    char            pub_path[128];
    char            hs_path[128];
    char            pub_pem[512];
    size_t          pub_pem_len;
    mall_jwt_key_t  es_priv;            /* kid k1, private */
    mall_jwt_key_t  es_pub;             /* kid k1, public */
    mall_jwt_key_t  hs;                 /* kid h1 */
} fixture_t;


/* ------------------------------------------------------------- helpers */


static size_t
b64url(const void *raw, size_t len, char *out)
{
    return mall_b64url_encode(raw, len, out);
}


static void
write_file(const char *path, const void *data, size_t len)
{
    FILE  *f;

    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}


/* The order n of P-256, for the two valid S values s and n - s. */
#define P256_ORDER_HEX \
    "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551"


/* 1 when the S half of a raw r||s signature is above n / 2. */
static int
es256_high_s(const uint8_t sig[64])
{
    BIGNUM  *n, *s;
    int      high;

    n = NULL;
    assert_true(BN_hex2bn(&n, P256_ORDER_HEX) > 0);
    assert_int_equal(BN_rshift1(n, n), 1);
    s = BN_bin2bn(sig + 32, 32, NULL);
    assert_non_null(s);
    high = BN_cmp(s, n) > 0;
    BN_free(n);
    BN_free(s);
    return high;
}


/* S := n - S: the "twin" signature, just as valid to plain ECDSA. */
static void
es256_negate_s(uint8_t sig[64])
{
    BIGNUM  *n, *s;

    n = NULL;
    assert_true(BN_hex2bn(&n, P256_ORDER_HEX) > 0);
    s = BN_bin2bn(sig + 32, 32, NULL);
    assert_non_null(s);
    assert_int_equal(BN_sub(s, n, s), 1);
    assert_int_equal(BN_bn2binpad(s, sig + 32, 32), 32);
    BN_free(n);
    BN_free(s);
}


/* ES256 raw r||s over input with OpenSSL directly, low S. */
static void
es256_raw_sign(EVP_PKEY *pkey, const char *input, size_t len, uint8_t sig[64])
{
    EVP_MD_CTX       *ctx;
    uint8_t           der[80];
    size_t            der_len;
    const uint8_t    *p;
    ECDSA_SIG        *es;
    const BIGNUM     *r, *s;

    ctx = EVP_MD_CTX_new();
    der_len = sizeof(der);
    assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, pkey),
                     1);
    assert_int_equal(EVP_DigestSign(ctx, der, &der_len,
                                    (const uint8_t *) input, len), 1);
    EVP_MD_CTX_free(ctx);
    p = der;
    es = d2i_ECDSA_SIG(NULL, &p, (long) der_len);
    assert_non_null(es);
    ECDSA_SIG_get0(es, &r, &s);
    assert_int_equal(BN_bn2binpad(r, sig, 32), 32);
    assert_int_equal(BN_bn2binpad(s, sig + 32, 32), 32);
    ECDSA_SIG_free(es);

    /* as a compliant signer does: the edge accepts only low S */
    if (es256_high_s(sig)) {
        es256_negate_s(sig);
    }
}


/*
 * Builds header.payload.signature from JSON texts. key NULL: raw sig bytes
 * given in (sig, siglen) are used as they are.
 */
static size_t
craft(const char *hdr, const char *payload, const mall_jwt_key_t *key,
    const uint8_t *sig, size_t siglen, char *out)
{
    size_t   n;
    uint8_t  s[64];

    n = b64url(hdr, strlen(hdr), out);
    out[n++] = '.';
    n += b64url(payload, strlen(payload), out + n);

    if (key != NULL && key->alg == MALL_JWT_ALG_HS256) {
        assert_int_equal(mall_hmac_sha256(key->secret, key->secret_len, out,
                                          n, s), 0);
        sig = s;
        siglen = 32;
    } else if (key != NULL) {
        es256_raw_sign(key->pkey, out, n, s);
        sig = s;
        siglen = 64;
    }

    out[n++] = '.';
    n += b64url(sig, siglen, out + n);
    out[n] = '\0';
    return n;
}


static const char  *good_claims =
    "{\"iss\":\"mall-edge\",\"sub\":\"u-42\",\"aud\":\"mall-mp\","
    "\"iat\":1699999000,\"exp\":1700003600,\"jti\":\"tok-1\","
    "\"skid\":\"s1\"}";


/* Parse then verify against the fixture's public keys. */
static mall_jwt_rc_e
parse_verify(fixture_t *fx, const char *tok, mall_jwt_t *jwt)
{
    mall_jwt_rc_e   rc;
    mall_jwt_key_t  keys[2];

    rc = mall_jwt_parse(tok, strlen(tok), jwt);
    if (rc != MALL_JWT_OK) {
        return rc;
    }
    keys[0] = fx->es_pub;
    keys[1] = fx->hs;
    return mall_jwt_verify(jwt, keys, 2);
}


/* -------------------------------------------------------------- fixture */


static int
setup(void **state)
{
    fixture_t  *fx;
    EVP_PKEY   *pkey;
    FILE       *f;
    BIO        *bio;
    char       *mem;
    long        n;
    char        err[128];

    fx = calloc(1, sizeof(*fx));
    if (fx == NULL) {
        return -1;
    }
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/mall-jwt-test-XXXXXX");
    if (mkdtemp(fx->dir) == NULL) {
        return -1;
    }
    snprintf(fx->priv_path, sizeof(fx->priv_path), "%s/k1.pem", fx->dir);
    snprintf(fx->pub_path, sizeof(fx->pub_path), "%s/k1.pub.pem", fx->dir);
    snprintf(fx->hs_path, sizeof(fx->hs_path), "%s/h1.key", fx->dir);

    pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (pkey == NULL) {
        return -1;
    }
    f = fopen(fx->priv_path, "w");
    PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    f = fopen(fx->pub_path, "w");
    PEM_write_PUBKEY(f, pkey);
    fclose(f);

    bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(bio, pkey);
    n = BIO_get_mem_data(bio, &mem);
    if (n <= 0 || (size_t) n > sizeof(fx->pub_pem)) {
        return -1;
    }
    memcpy(fx->pub_pem, mem, (size_t) n);
    fx->pub_pem_len = (size_t) n;
    BIO_free(bio);
    EVP_PKEY_free(pkey);

    /* one trailing newline is part of the file, not of the secret */
    f = fopen(fx->hs_path, "w");
    fputs(HS_SECRET "\n", f);
    fclose(f);

    if (mall_jwt_key_load(&fx->es_priv, "k1", MALL_JWT_ALG_ES256,
                          fx->priv_path, err, sizeof(err)) != 0
        || mall_jwt_key_load(&fx->es_pub, "k1", MALL_JWT_ALG_ES256,
                             fx->pub_path, err, sizeof(err)) != 0
        || mall_jwt_key_load(&fx->hs, "h1", MALL_JWT_ALG_HS256,
                             fx->hs_path, err, sizeof(err)) != 0)
    {
        fprintf(stderr, "key load: %s\n", err);
        return -1;
    }

    *state = fx;
    return 0;
}


static int
teardown(void **state)
{
    fixture_t  *fx = *state;

    mall_jwt_key_free(&fx->es_priv);
    mall_jwt_key_free(&fx->es_pub);
    mall_jwt_key_free(&fx->hs);
    unlink(fx->priv_path);
    unlink(fx->pub_path);
    unlink(fx->hs_path);
    rmdir(fx->dir);
    free(fx);
    return 0;
}


/* ------------------------------------------------------ RFC 7515 vectors */


/* Splits a compact JWS into signing input and decoded signature. */
static void
split_jws(const char *tok, size_t *input_len, uint8_t *sig, size_t *siglen)
{
    const char  *dot;

    dot = strrchr(tok, '.');
    assert_non_null(dot);
    *input_len = (size_t) (dot - tok);
    assert_int_equal(mall_b64url_decode(dot + 1, strlen(dot + 1), sig,
                                        siglen), 0);
}


static void
test_rfc7515_a1_hs256(void **state)
{
    static const char  tok[] =
        "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
        ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFt"
        "cGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
        ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    static const char  k[] =
        "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0i"
        "PS4hcgUuTwjAzZr1Z9CAow";
    mall_jwt_key_t     key;
    mall_jwt_t         jwt;
    uint8_t            sig[64];
    size_t             siglen, input_len;

    (void) state;
    memset(&key, 0, sizeof(key));
    key.alg = MALL_JWT_ALG_HS256;
    assert_int_equal(mall_b64url_decode(k, strlen(k), key.secret,
                                        &key.secret_len), 0);
    assert_int_equal(key.secret_len, 64);

    /* the RFC header has no kid: structurally not one of ours */
    assert_int_equal(mall_jwt_parse(tok, strlen(tok), &jwt),
                     MALL_JWT_MALFORMED);

    split_jws(tok, &input_len, sig, &siglen);
    assert_int_equal(siglen, 32);
    assert_int_equal(mall_jwt_verify_signature(MALL_JWT_ALG_HS256, &key, tok,
                                               input_len, sig, siglen),
                     MALL_JWT_OK);

    sig[31] ^= 0x01;
    assert_int_equal(mall_jwt_verify_signature(MALL_JWT_ALG_HS256, &key, tok,
                                               input_len, sig, siglen),
                     MALL_JWT_BAD_SIGNATURE);
    sig[31] ^= 0x01;
    assert_int_equal(mall_jwt_verify_signature(MALL_JWT_ALG_HS256, &key, tok,
                                               input_len - 1, sig, siglen),
                     MALL_JWT_BAD_SIGNATURE);
    assert_int_equal(mall_jwt_verify_signature(MALL_JWT_ALG_ES256, &key, tok,
                                               input_len, sig, siglen),
                     MALL_JWT_BAD_ALG);
}


/* An EC P-256 public key from JWK x/y (base64url coordinates). */
static EVP_PKEY *
ec_from_jwk(const char *x, const char *y)
{
    uint8_t         pub[65];
    size_t          n;
    EVP_PKEY       *pkey;
    EVP_PKEY_CTX   *ctx;
    OSSL_PARAM      params[3];

    pub[0] = 0x04;
    assert_int_equal(mall_b64url_decode(x, strlen(x), pub + 1, &n), 0);
    assert_int_equal(n, 32);
    assert_int_equal(mall_b64url_decode(y, strlen(y), pub + 33, &n), 0);
    assert_int_equal(n, 32);

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                                 (char *) "prime256v1", 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
                                                  pub, sizeof(pub));
    params[2] = OSSL_PARAM_construct_end();

    pkey = NULL;
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    assert_non_null(ctx);
    assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
    assert_int_equal(EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY,
                                       params), 1);
    EVP_PKEY_CTX_free(ctx);
    return pkey;
}


static void
test_rfc7515_a3_es256(void **state)
{
    static const char  tok[] =
        "eyJhbGciOiJFUzI1NiJ9"
        ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFt"
        "cGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
        ".DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSA"
        "pmWQxfKTUJqPP3-Kg6NU1Q";
    mall_jwt_key_t     key;
    mall_jwt_t         jwt;
    uint8_t            sig[64];
    size_t             siglen, input_len;

    (void) state;
    memset(&key, 0, sizeof(key));
    key.alg = MALL_JWT_ALG_ES256;
    key.pkey = ec_from_jwk("f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                           "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0");

    assert_int_equal(mall_jwt_parse(tok, strlen(tok), &jwt),
                     MALL_JWT_MALFORMED);

    split_jws(tok, &input_len, sig, &siglen);
    assert_int_equal(siglen, 64);

    /* the RFC's signature happens to have a high S: refused as
     * malleable; its low-S twin is the one we accept */
    assert_true(es256_high_s(sig));
    assert_int_equal(mall_jwt_verify_signature(MALL_JWT_ALG_ES256, &key, tok,
                                               input_len, sig, siglen),
                     MALL_JWT_BAD_SIGNATURE);
    es256_negate_s(sig);
    assert_int_equal(mall_jwt_verify_signature(MALL_JWT_ALG_ES256, &key, tok,
                                               input_len, sig, siglen),
                     MALL_JWT_OK);

    /* one flipped bit in r, in s, or in the signed bytes */
    sig[0] ^= 0x80;
    assert_int_equal(mall_jwt_verify_signature(MALL_JWT_ALG_ES256, &key, tok,
                                               input_len, sig, siglen),
                     MALL_JWT_BAD_SIGNATURE);
    sig[0] ^= 0x80;
    sig[63] ^= 0x01;
    assert_int_equal(mall_jwt_verify_signature(MALL_JWT_ALG_ES256, &key, tok,
                                               input_len, sig, siglen),
                     MALL_JWT_BAD_SIGNATURE);
    sig[63] ^= 0x01;
    assert_int_equal(mall_jwt_verify_signature(MALL_JWT_ALG_ES256, &key, tok,
                                               input_len - 1, sig, siglen),
                     MALL_JWT_BAD_SIGNATURE);

    /* r = s = 0 and a truncated signature are refused, not crashed on */
    memset(sig, 0, sizeof(sig));
    assert_int_equal(mall_jwt_verify_signature(MALL_JWT_ALG_ES256, &key, tok,
                                               input_len, sig, 64),
                     MALL_JWT_BAD_SIGNATURE);
    assert_int_equal(mall_jwt_verify_signature(MALL_JWT_ALG_ES256, &key, tok,
                                               input_len, sig, 63),
                     MALL_JWT_BAD_SIGNATURE);

    EVP_PKEY_free(key.pkey);
}


/* ---------------------------------------------------------- round trips */


static void
fill_claims(mall_jwt_claims_t *c)
{
    memset(c, 0, sizeof(*c));
    strcpy(c->sub, "u-42");
    strcpy(c->jti, "tok-7Hq2ZpX9");
    strcpy(c->iss, "mall-edge");
    strcpy(c->aud, "mall-mp");
    strcpy(c->skid, "s1");
    c->iat = NOW - 10;
    c->exp = NOW + 3600;
}


static void
test_roundtrip_es256(void **state)
{
    fixture_t          *fx = *state;
    mall_jwt_claims_t   c;
    mall_jwt_t          jwt;
    char                tok[MALL_JWT_MAX_LEN + 1];
    size_t              len;
    int                 i;

    fill_claims(&c);
    strcpy(c.kid, "ignored");

    /* ECDSA is randomised: several tokens, each must verify */
    for (i = 0; i < 8; i++) {
        assert_int_equal(mall_jwt_sign(&fx->es_priv, &c, tok, sizeof(tok),
                                       &len), MALL_JWT_OK);
        assert_int_equal(len, strlen(tok));
        assert_int_equal(len - (size_t) (strrchr(tok, '.') - tok) - 1, 86);

        assert_int_equal(parse_verify(fx, tok, &jwt), MALL_JWT_OK);
        assert_int_equal(jwt.alg, MALL_JWT_ALG_ES256);
        assert_int_equal(jwt.sig_len, 64);
        assert_string_equal(jwt.claims.kid, "k1");
        assert_string_equal(jwt.claims.sub, "u-42");
        assert_string_equal(jwt.claims.jti, "tok-7Hq2ZpX9");
        assert_string_equal(jwt.claims.iss, "mall-edge");
        assert_string_equal(jwt.claims.aud, "mall-mp");
        assert_string_equal(jwt.claims.skid, "s1");
        assert_string_equal(jwt.claims.role, "");
        assert_int_equal(jwt.claims.iat, NOW - 10);
        assert_int_equal(jwt.claims.exp, NOW + 3600);
        assert_int_equal(jwt.claims.nbf, 0);
        assert_int_equal(mall_jwt_check_claims(&jwt.claims, NOW, 0,
                                               "mall-edge", "mall-mp"),
                         MALL_JWT_OK);
    }

    /* the private key verifies too (the workers may hold only that) */
    assert_int_equal(mall_jwt_parse(tok, len, &jwt), MALL_JWT_OK);
    assert_int_equal(mall_jwt_verify(&jwt, &fx->es_priv, 1), MALL_JWT_OK);

    /* a public key cannot sign */
    assert_int_not_equal(mall_jwt_sign(&fx->es_pub, &c, tok, sizeof(tok),
                                       &len), MALL_JWT_OK);
}


static void
test_roundtrip_hs256(void **state)
{
    fixture_t          *fx = *state;
    mall_jwt_claims_t   c;
    mall_jwt_t          jwt;
    char                tok[MALL_JWT_MAX_LEN + 1];
    size_t              len;

    assert_int_equal(fx->hs.secret_len, strlen(HS_SECRET));
    assert_memory_equal(fx->hs.secret, HS_SECRET, strlen(HS_SECRET));

    fill_claims(&c);
    strcpy(c.role, "admin");
    c.nbf = NOW - 5;
    /* characters that need JSON escaping survive the trip */
    strcpy(c.sub, "a\"b\\c\x01/\xe5\xbe\xae");

    assert_int_equal(mall_jwt_sign(&fx->hs, &c, tok, sizeof(tok), &len),
                     MALL_JWT_OK);
    assert_int_equal(parse_verify(fx, tok, &jwt), MALL_JWT_OK);
    assert_int_equal(jwt.alg, MALL_JWT_ALG_HS256);
    assert_string_equal(jwt.claims.kid, "h1");
    assert_string_equal(jwt.claims.sub, c.sub);
    assert_string_equal(jwt.claims.role, "admin");
    assert_int_equal(jwt.claims.nbf, NOW - 5);

    /* deterministic: the same claims give the same token */
    {
        char  tok2[MALL_JWT_MAX_LEN + 1];

        assert_int_equal(mall_jwt_sign(&fx->hs, &c, tok2, sizeof(tok2),
                                       NULL), MALL_JWT_OK);
        assert_string_equal(tok, tok2);
    }

    /* output buffer too small: TOO_LONG, never an overflow */
    assert_int_equal(mall_jwt_sign(&fx->hs, &c, tok, len, NULL),
                     MALL_JWT_TOO_LONG);
    assert_int_equal(mall_jwt_sign(&fx->hs, &c, tok, len + 1, NULL),
                     MALL_JWT_OK);
    assert_int_equal(mall_jwt_sign(&fx->hs, &c, tok, 10, NULL),
                     MALL_JWT_TOO_LONG);

    /* claims the parser would refuse are not issued */
    fill_claims(&c);
    c.jti[0] = '\0';
    assert_int_not_equal(mall_jwt_sign(&fx->hs, &c, tok, sizeof(tok), NULL),
                         MALL_JWT_OK);
    fill_claims(&c);
    strcpy(c.sub, "\xff\xfe");
    assert_int_not_equal(mall_jwt_sign(&fx->hs, &c, tok, sizeof(tok), NULL),
                         MALL_JWT_OK);
}


/* ------------------------------------------------------ hostile tokens */


static void
test_alg_none_and_unknown(void **state)
{
    static const char  *algs[] = {
        "none", "None", "NONE", "nOnE", "", "RS256", "HS512", "ES384",
        "es256", "hs256", "ES256 ", "HS256\\u0000",
    };
    fixture_t          *fx = *state;
    char                hdr[128], tok[1024];
    mall_jwt_t          jwt;
    size_t              i;

    for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"kid\":\"k1\"}", algs[i]);
        /* unsigned ("h.p.") and signed forms */
        craft(hdr, good_claims, NULL, (const uint8_t *) "", 0, tok);
        assert_int_equal(parse_verify(fx, tok, &jwt), MALL_JWT_BAD_ALG);
        craft(hdr, good_claims, &fx->hs, NULL, 0, tok);
        assert_int_equal(parse_verify(fx, tok, &jwt), MALL_JWT_BAD_ALG);
    }

    /* alg missing or not a string */
    craft("{\"kid\":\"k1\"}", good_claims, &fx->hs, NULL, 0, tok);
    assert_int_equal(parse_verify(fx, tok, &jwt), MALL_JWT_MALFORMED);
    craft("{\"alg\":null,\"kid\":\"k1\"}", good_claims, &fx->hs, NULL, 0,
          tok);
    assert_int_equal(parse_verify(fx, tok, &jwt), MALL_JWT_MALFORMED);

    /* a good alg with an empty signature */
    craft("{\"alg\":\"HS256\",\"kid\":\"h1\"}", good_claims, NULL,
          (const uint8_t *) "", 0, tok);
    assert_int_equal(parse_verify(fx, tok, &jwt), MALL_JWT_MALFORMED);
}


static void
test_kid(void **state)
{
    fixture_t   *fx = *state;
    char         tok[1024];
    mall_jwt_t   jwt;

    craft("{\"alg\":\"HS256\"}", good_claims, &fx->hs, NULL, 0, tok);
    assert_int_equal(parse_verify(fx, tok, &jwt), MALL_JWT_MALFORMED);
    craft("{\"alg\":\"HS256\",\"kid\":\"\"}", good_claims, &fx->hs, NULL, 0,
          tok);
    assert_int_equal(parse_verify(fx, tok, &jwt), MALL_JWT_MALFORMED);
    craft("{\"alg\":\"HS256\",\"kid\":7}", good_claims, &fx->hs, NULL, 0,
          tok);
    assert_int_equal(parse_verify(fx, tok, &jwt), MALL_JWT_MALFORMED);
    craft("{\"alg\":\"HS256\",\"kid\":\"h2\"}", good_claims, &fx->hs, NULL,
          0, tok);
    assert_int_equal(parse_verify(fx, tok, &jwt), MALL_JWT_UNKNOWN_KID);
    craft("{\"alg\":\"HS256\",\"kid\":\"h1\"}", good_claims, &fx->hs, NULL,
          0, tok);
    assert_int_equal(parse_verify(fx, tok, &jwt), MALL_JWT_OK);

    /* an HS256 token naming the ES256 key's kid: algorithm mismatch */
    craft("{\"alg\":\"HS256\",\"kid\":\"k1\"}", good_claims, &fx->hs, NULL,
          0, tok);
    assert_int_equal(parse_verify(fx, tok, &jwt), MALL_JWT_BAD_ALG);
    /* and an ES256 token naming the HS256 key */
    craft("{\"alg\":\"ES256\",\"kid\":\"h1\"}", good_claims, &fx->es_priv,
          NULL, 0, tok);
    assert_int_equal(parse_verify(fx, tok, &jwt), MALL_JWT_BAD_ALG);

    /* no keys at all */
    assert_int_equal(mall_jwt_parse(tok, strlen(tok), &jwt), MALL_JWT_OK);
    assert_int_equal(mall_jwt_verify(&jwt, NULL, 0), MALL_JWT_UNKNOWN_KID);
}


static void
test_alg_confusion(void **state)
{
    /* the classic attack: HMAC with the verifier's public PEM as secret */
    fixture_t       *fx = *state;
    char             tok[1024];
    mall_jwt_key_t   evil;
    mall_jwt_t       jwt;
    size_t           n;

    memset(&evil, 0, sizeof(evil));
    evil.alg = MALL_JWT_ALG_HS256;
    n = fx->pub_pem_len < sizeof(evil.secret) ? fx->pub_pem_len
                                              : sizeof(evil.secret);
    memcpy(evil.secret, fx->pub_pem, n);
    evil.secret_len = n;

    craft("{\"alg\":\"HS256\",\"kid\":\"k1\",\"typ\":\"JWT\"}", good_claims,
          &evil, NULL, 0, tok);
    assert_int_equal(mall_jwt_parse(tok, strlen(tok), &jwt), MALL_JWT_OK);
    assert_int_equal(mall_jwt_verify(&jwt, &fx->es_pub, 1), MALL_JWT_BAD_ALG);

    /* the full PEM as the HMAC key, computed by hand, fails as well */
    {
        uint8_t  mac[32];
        char    *dot;

        dot = strrchr(tok, '.');
        assert_int_equal(mall_hmac_sha256(fx->pub_pem, fx->pub_pem_len, tok,
                                          (size_t) (dot - tok), mac), 0);
        n = (size_t) (dot - tok) + 1;
        n += b64url(mac, 32, tok + n);
        tok[n] = '\0';
        assert_int_equal(mall_jwt_parse(tok, n, &jwt), MALL_JWT_OK);
        assert_int_equal(mall_jwt_verify(&jwt, &fx->es_pub, 1),
                         MALL_JWT_BAD_ALG);
    }
}


static void
test_bad_signatures(void **state)
{
    fixture_t   *fx = *state;
    char         tok[1024], *dot;
    uint8_t      sig[80];
    size_t       n, siglen, i, input_len;
    mall_jwt_t   jwt;

    for (i = 0; i < 2; i++) {
        craft(i == 0 ? "{\"alg\":\"ES256\",\"kid\":\"k1\"}"
                     : "{\"alg\":\"HS256\",\"kid\":\"h1\"}",
              good_claims, i == 0 ? &fx->es_priv : &fx->hs, NULL, 0, tok);
        assert_int_equal(parse_verify(fx, tok, &jwt), MALL_JWT_OK);

        /* one flipped bit in the signature, re-encoded canonically */
        dot = strrchr(tok, '.');
        input_len = (size_t) (dot - tok);
        assert_int_equal(mall_b64url_decode(dot + 1, strlen(dot + 1), sig,
                                            &siglen), 0);
        sig[siglen / 2] ^= 0x10;
        n = input_len + 1 + b64url(sig, siglen, dot + 1);
        tok[n] = '\0';
        assert_int_equal(parse_verify(fx, tok, &jwt),
                         MALL_JWT_BAD_SIGNATURE);

        /* a different payload under the original signature */
        sig[siglen / 2] ^= 0x10;
        n = craft(i == 0 ? "{\"alg\":\"ES256\",\"kid\":\"k1\"}"
                         : "{\"alg\":\"HS256\",\"kid\":\"h1\"}",
                  "{\"sub\":\"u-43\",\"jti\":\"t\",\"iat\":1,\"exp\":2}",
                  NULL, sig, siglen, tok);
        assert_int_equal(parse_verify(fx, tok, &jwt),
                         MALL_JWT_BAD_SIGNATURE);
    }
}


/*
 * ECDSA malleability: (r, n - s) is a valid signature of the same input,
 * so without a rule the high-S twin of a token is a second token string
 * for the same jti. Only S <= n / 2 is accepted.
 */
static void
test_es256_high_s_twin(void **state)
{
    fixture_t   *fx = *state;
    char         tok[1024], *dot;
    uint8_t      sig[64];
    size_t       n, siglen, input_len;
    mall_jwt_t   jwt;
    int          i;

    for (i = 0; i < 4; i++) {
        craft("{\"alg\":\"ES256\",\"kid\":\"k1\"}", good_claims,
              &fx->es_priv, NULL, 0, tok);
        assert_int_equal(parse_verify(fx, tok, &jwt), MALL_JWT_OK);

        dot = strrchr(tok, '.');
        input_len = (size_t) (dot - tok);
        assert_int_equal(mall_b64url_decode(dot + 1, strlen(dot + 1), sig,
                                            &siglen), 0);
        assert_int_equal(siglen, 64);
        assert_false(es256_high_s(sig));

        es256_negate_s(sig);
        assert_true(es256_high_s(sig));
        n = input_len + 1 + b64url(sig, siglen, dot + 1);
        tok[n] = '\0';
        assert_int_equal(parse_verify(fx, tok, &jwt),
                         MALL_JWT_BAD_SIGNATURE);
        assert_int_equal(mall_jwt_verify(&jwt, &fx->es_priv, 1),
                         MALL_JWT_BAD_SIGNATURE);
    }
}


/* What mall_jwt_sign issues must verify: always low S, never by chance. */
static void
test_es256_sign_low_s(void **state)
{
    fixture_t          *fx = *state;
    mall_jwt_claims_t   c;
    mall_jwt_t          jwt;
    char                tok[MALL_JWT_MAX_LEN + 1];
    size_t              len;
    int                 i;

    memset(&c, 0, sizeof(c));
    strcpy(c.sub, "u-42");
    strcpy(c.jti, "tok-low-s");
    c.iat = NOW;
    c.exp = NOW + 60;

    /* each signature is high-S with probability 1/2 unless normalised */
    for (i = 0; i < 256; i++) {
        assert_int_equal(mall_jwt_sign(&fx->es_priv, &c, tok, sizeof(tok),
                                       &len), MALL_JWT_OK);
        assert_int_equal(parse_verify(fx, tok, &jwt), MALL_JWT_OK);
        assert_int_equal(jwt.sig_len, 64);
        assert_false(es256_high_s(jwt.sig));
    }
}


/*
 * Found by tests/fuzz/fuzz_jwt (corpus/fuzz_jwt/sign-aud-127): a 127-byte
 * audience fits c->aud and was signed, but parse keeps one byte for the
 * audience list's terminator and refused the token it had issued.
 */
static void
test_sign_audience_size(void **state)
{
    fixture_t          *fx = *state;
    mall_jwt_claims_t   c;
    mall_jwt_t          jwt;
    char                tok[MALL_JWT_MAX_LEN + 1];
    size_t              len;

    fill_claims(&c);
    memset(c.aud, 'a', MALL_JWT_NAME_MAX - 2);
    c.aud[MALL_JWT_NAME_MAX - 2] = '\0';
    assert_int_equal(mall_jwt_sign(&fx->hs, &c, tok, sizeof(tok), &len),
                     MALL_JWT_OK);
    assert_int_equal(parse_verify(fx, tok, &jwt), MALL_JWT_OK);
    assert_string_equal(jwt.claims.aud, c.aud);

    memset(c.aud, 'a', MALL_JWT_NAME_MAX - 1);
    c.aud[MALL_JWT_NAME_MAX - 1] = '\0';
    assert_int_equal(mall_jwt_sign(&fx->hs, &c, tok, sizeof(tok), &len),
                     MALL_JWT_MALFORMED);
}


static void
test_signature_lengths(void **state)
{
    fixture_t   *fx = *state;
    char         tok[1024];
    uint8_t      sig[80];
    mall_jwt_t   jwt;

    memset(sig, 0x41, sizeof(sig));

    /* a DER ECDSA signature (70..72 bytes) is not the JWS form */
    sig[0] = 0x30;
    sig[1] = 68;
    craft("{\"alg\":\"ES256\",\"kid\":\"k1\"}", good_claims, NULL, sig, 70,
          tok);
    assert_int_equal(parse_verify(fx, tok, &jwt), MALL_JWT_MALFORMED);
    craft("{\"alg\":\"ES256\",\"kid\":\"k1\"}", good_claims, NULL, sig, 65,
          tok);
    assert_int_equal(parse_verify(fx, tok, &jwt), MALL_JWT_MALFORMED);

    /* fits the buffer but is the wrong size for the alg */
    craft("{\"alg\":\"ES256\",\"kid\":\"k1\"}", good_claims, NULL, sig, 63,
          tok);
    assert_int_equal(parse_verify(fx, tok, &jwt), MALL_JWT_BAD_SIGNATURE);
    craft("{\"alg\":\"ES256\",\"kid\":\"k1\"}", good_claims, NULL, sig, 32,
          tok);
    assert_int_equal(parse_verify(fx, tok, &jwt), MALL_JWT_BAD_SIGNATURE);
    craft("{\"alg\":\"HS256\",\"kid\":\"h1\"}", good_claims, NULL, sig, 64,
          tok);
    assert_int_equal(parse_verify(fx, tok, &jwt), MALL_JWT_BAD_SIGNATURE);
    craft("{\"alg\":\"HS256\",\"kid\":\"h1\"}", good_claims, NULL, sig, 31,
          tok);
    assert_int_equal(parse_verify(fx, tok, &jwt), MALL_JWT_BAD_SIGNATURE);
}


static void
test_encoding_and_segments(void **state)
{
    fixture_t   *fx = *state;
    char         tok[2048], bad[4096], *dot1, *dot2;
    size_t       n;
    mall_jwt_t   jwt;

    n = craft("{\"alg\":\"HS256\",\"kid\":\"h1\"}", good_claims, &fx->hs,
              NULL, 0, tok);
    assert_int_equal(parse_verify(fx, tok, &jwt), MALL_JWT_OK);
    dot1 = strchr(tok, '.');
    dot2 = strrchr(tok, '.');

    /* truncated segments: drop the last character of each (a shorter
     * signature may still decode: then it is the wrong size) */
    memcpy(bad, tok, n + 1);
    bad[n - 1] = '\0';
    assert_int_not_equal(parse_verify(fx, bad, &jwt), MALL_JWT_OK);
    bad[n - 2] = '\0';                  /* 41 characters: never base64 */
    assert_int_equal(parse_verify(fx, bad, &jwt), MALL_JWT_MALFORMED);
    bad[n - 3] = '\0';
    assert_int_equal(parse_verify(fx, bad, &jwt), MALL_JWT_BAD_SIGNATURE);

    snprintf(bad, sizeof(bad), "%.*s%s", (int) (dot2 - tok - 1), tok, dot2);
    assert_int_equal(parse_verify(fx, bad, &jwt), MALL_JWT_MALFORMED);

    snprintf(bad, sizeof(bad), "%.*s%s", (int) (dot1 - tok - 1), tok, dot1);
    assert_int_equal(parse_verify(fx, bad, &jwt), MALL_JWT_MALFORMED);

    /* padding '=' in any segment */
    snprintf(bad, sizeof(bad), "%.*s=%s", (int) (dot1 - tok), tok, dot1);
    assert_int_equal(parse_verify(fx, bad, &jwt), MALL_JWT_MALFORMED);
    snprintf(bad, sizeof(bad), "%s=", tok);
    assert_int_equal(parse_verify(fx, bad, &jwt), MALL_JWT_MALFORMED);
    snprintf(bad, sizeof(bad), "%s==", tok);
    assert_int_equal(parse_verify(fx, bad, &jwt), MALL_JWT_MALFORMED);

    /* standard base64 characters, spaces */
    memcpy(bad, tok, n + 1);
    bad[n - 2] = '+';
    assert_int_equal(parse_verify(fx, bad, &jwt), MALL_JWT_MALFORMED);
    snprintf(bad, sizeof(bad), " %s", tok);
    assert_int_equal(parse_verify(fx, bad, &jwt), MALL_JWT_MALFORMED);

    /* 2 and 4 segments, empty segments */
    snprintf(bad, sizeof(bad), "%.*s", (int) (dot2 - tok), tok);
    assert_int_equal(parse_verify(fx, bad, &jwt), MALL_JWT_MALFORMED);
    snprintf(bad, sizeof(bad), "%s.%s", tok, dot2 + 1);
    assert_int_equal(parse_verify(fx, bad, &jwt), MALL_JWT_MALFORMED);
    snprintf(bad, sizeof(bad), "%s.", tok);
    assert_int_equal(parse_verify(fx, bad, &jwt), MALL_JWT_MALFORMED);
    snprintf(bad, sizeof(bad), ".%s", tok);
    assert_int_equal(parse_verify(fx, bad, &jwt), MALL_JWT_MALFORMED);
    snprintf(bad, sizeof(bad), "%.*s.%s", (int) (dot1 - tok), tok, dot2);
    assert_int_equal(parse_verify(fx, bad, &jwt), MALL_JWT_MALFORMED);
    assert_int_equal(mall_jwt_parse("..", 2, &jwt), MALL_JWT_MALFORMED);
    assert_int_equal(mall_jwt_parse("", 0, &jwt), MALL_JWT_MALFORMED);

    /* the header and payload must be JSON objects */
    craft("[\"alg\",\"HS256\"]", good_claims, &fx->hs, NULL, 0, bad);
    assert_int_equal(parse_verify(fx, bad, &jwt), MALL_JWT_MALFORMED);
    craft("{\"alg\":\"HS256\",\"kid\":\"h1\"}", "\"claims\"", &fx->hs, NULL,
          0, bad);
    assert_int_equal(parse_verify(fx, bad, &jwt), MALL_JWT_MALFORMED);
    craft("{\"alg\":\"HS256\",\"kid\":\"h1\"} x", good_claims, &fx->hs, NULL,
          0, bad);
    assert_int_equal(parse_verify(fx, bad, &jwt), MALL_JWT_MALFORMED);
}


static void
test_too_long_and_huge_header(void **state)
{
    fixture_t   *fx = *state;
    char         hdr[4096], claims[4096], tok[8192];
    size_t       n, i;
    mall_jwt_t   jwt;

    /* a validly signed token just over the limit is refused unread */
    n = (size_t) snprintf(claims, sizeof(claims),
                          "{\"sub\":\"u\",\"jti\":\"t\",\"iat\":1,"
                          "\"exp\":2,\"pad\":\"");
    for (i = 0; i < 1500; i++) {
        claims[n++] = 'x';
    }
    memcpy(claims + n, "\"}", 3);
    n = craft("{\"alg\":\"HS256\",\"kid\":\"h1\"}", claims, &fx->hs, NULL, 0,
              tok);
    assert_true(n > MALL_JWT_MAX_LEN);
    assert_int_equal(parse_verify(fx, tok, &jwt), MALL_JWT_TOO_LONG);
    tok[MALL_JWT_MAX_LEN + 1] = '\0';
    assert_int_equal(parse_verify(fx, tok, &jwt), MALL_JWT_TOO_LONG);

    /* a header with too many members */
    n = (size_t) snprintf(hdr, sizeof(hdr),
                          "{\"alg\":\"HS256\",\"kid\":\"h1\"");
    for (i = 0; i < 20; i++) {
        n += (size_t) snprintf(hdr + n, sizeof(hdr) - n, ",\"x%zu\":%zu", i,
                               i);
    }
    memcpy(hdr + n, "}", 2);
    craft(hdr, good_claims, &fx->hs, NULL, 0, tok);
    assert_int_equal(parse_verify(fx, tok, &jwt), MALL_JWT_MALFORMED);

    /* a kid longer than MALL_JWT_ID_MAX - 1 */
    n = (size_t) snprintf(hdr, sizeof(hdr), "{\"alg\":\"HS256\",\"kid\":\"");
    for (i = 0; i < MALL_JWT_ID_MAX; i++) {
        hdr[n++] = 'k';
    }
    memcpy(hdr + n, "\"}", 3);
    craft(hdr, good_claims, &fx->hs, NULL, 0, tok);
    assert_int_equal(parse_verify(fx, tok, &jwt), MALL_JWT_MALFORMED);

    /* deep nesting in the header */
    craft("{\"alg\":\"HS256\",\"kid\":\"h1\",\"x\":[[[[[[[[[[1]]]]]]]]]]}",
          good_claims, &fx->hs, NULL, 0, tok);
    assert_int_equal(parse_verify(fx, tok, &jwt), MALL_JWT_MALFORMED);
}


static void
test_header_fields(void **state)
{
    fixture_t   *fx = *state;
    char         tok[1024];
    mall_jwt_t   jwt;

    craft("{\"alg\":\"HS256\",\"kid\":\"h1\",\"typ\":\"JWT\"}", good_claims,
          &fx->hs, NULL, 0, tok);
    assert_int_equal(parse_verify(fx, tok, &jwt), MALL_JWT_OK);
    craft("{\"alg\":\"HS256\",\"kid\":\"h1\",\"typ\":\"at+jwt\"}",
          good_claims, &fx->hs, NULL, 0, tok);
    assert_int_equal(parse_verify(fx, tok, &jwt), MALL_JWT_MALFORMED);
    craft("{\"alg\":\"HS256\",\"kid\":\"h1\",\"typ\":1}", good_claims,
          &fx->hs, NULL, 0, tok);
    assert_int_equal(parse_verify(fx, tok, &jwt), MALL_JWT_MALFORMED);
    craft("{\"alg\":\"HS256\",\"kid\":\"h1\",\"crit\":[\"exp\"]}",
          good_claims, &fx->hs, NULL, 0, tok);
    assert_int_equal(parse_verify(fx, tok, &jwt), MALL_JWT_MALFORMED);
    /* duplicate alg: the second one must not win */
    craft("{\"alg\":\"HS256\",\"kid\":\"h1\",\"alg\":\"none\"}", good_claims,
          &fx->hs, NULL, 0, tok);
    assert_int_equal(parse_verify(fx, tok, &jwt), MALL_JWT_MALFORMED);
    /* unknown header members are ignored (never used as keys) */
    craft("{\"alg\":\"HS256\",\"kid\":\"h1\",\"jku\":\"http://x/\","
          "\"jwk\":{\"kty\":\"oct\"}}", good_claims, &fx->hs, NULL, 0, tok);
    assert_int_equal(parse_verify(fx, tok, &jwt), MALL_JWT_OK);
}


static void
test_claim_structure(void **state)
{
    static const struct {
        const char     *claims;
        mall_jwt_rc_e   rc;
    } v[] = {
        { "{\"sub\":\"u\",\"jti\":\"t\",\"iat\":1,\"exp\":2}", MALL_JWT_OK },
        { "{\"jti\":\"t\",\"iat\":1,\"exp\":2}", MALL_JWT_MISSING_CLAIM },
        { "{\"sub\":\"u\",\"iat\":1,\"exp\":2}", MALL_JWT_MISSING_CLAIM },
        { "{\"sub\":\"u\",\"jti\":\"t\",\"exp\":2}", MALL_JWT_MISSING_CLAIM },
        { "{\"sub\":\"u\",\"jti\":\"t\",\"iat\":1}", MALL_JWT_MISSING_CLAIM },
        { "{\"sub\":1,\"jti\":\"t\",\"iat\":1,\"exp\":2}",
          MALL_JWT_MALFORMED },
        { "{\"sub\":\"\",\"jti\":\"t\",\"iat\":1,\"exp\":2}",
          MALL_JWT_MALFORMED },
        { "{\"sub\":\"u\",\"jti\":\"t\",\"iat\":1,\"exp\":\"2\"}",
          MALL_JWT_MALFORMED },
        { "{\"sub\":\"u\",\"jti\":\"t\",\"iat\":1.5,\"exp\":2}",
          MALL_JWT_MALFORMED },
        { "{\"sub\":\"u\",\"jti\":\"t\",\"iat\":1,\"exp\":2e9}",
          MALL_JWT_MALFORMED },
        { "{\"sub\":\"u\",\"jti\":\"t\",\"iat\":1,\"exp\":2,\"nbf\":null}",
          MALL_JWT_MALFORMED },
        { "{\"sub\":\"u\",\"jti\":\"t\",\"iat\":1,\"exp\":2,\"iss\":1}",
          MALL_JWT_MALFORMED },
        { "{\"sub\":\"u\",\"jti\":\"t\",\"iat\":1,\"exp\":2,\"aud\":{}}",
          MALL_JWT_MALFORMED },
        { "{\"sub\":\"u\",\"jti\":\"t\",\"iat\":1,\"exp\":2,\"aud\":[]}",
          MALL_JWT_MALFORMED },
        { "{\"sub\":\"u\",\"jti\":\"t\",\"iat\":1,\"exp\":2,\"aud\":[1]}",
          MALL_JWT_MALFORMED },
        { "{\"sub\":\"u\",\"jti\":\"t\",\"iat\":1,\"exp\":2,\"role\":true}",
          MALL_JWT_MALFORMED },
        { "{\"sub\":\"u\",\"jti\":\"t\",\"iat\":1,\"exp\":2,\"skid\":[]}",
          MALL_JWT_MALFORMED },
        /* duplicate claims: the attacker's second sub must not win */
        { "{\"sub\":\"u\",\"jti\":\"t\",\"iat\":1,\"exp\":2,"
          "\"sub\":\"admin\"}", MALL_JWT_MALFORMED },
        { "{\"sub\":\"u\",\"jti\":\"t\",\"iat\":1,\"exp\":2,"
          "\"\\u0065xp\":9999999999}", MALL_JWT_MALFORMED },
        /* a NUL cannot truncate a claim */
        { "{\"sub\":\"admin\\u0000x\",\"jti\":\"t\",\"iat\":1,\"exp\":2}",
          MALL_JWT_MALFORMED },
        /* escapes are decoded */
        { "{\"sub\":\"\\u0075\",\"jti\":\"t\",\"iat\":1,\"exp\":2}",
          MALL_JWT_OK },
        { "{\"sub\":\"u\",\"jti\":\"t\",\"iat\":1,\"exp\":2,"
          "\"extra\":{\"a\":[1,2]}}", MALL_JWT_OK },
    };
    fixture_t   *fx = *state;
    char         tok[1024];
    mall_jwt_t   jwt;
    size_t       i;

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        craft("{\"alg\":\"HS256\",\"kid\":\"h1\"}", v[i].claims, &fx->hs,
              NULL, 0, tok);
        assert_int_equal(parse_verify(fx, tok, &jwt), v[i].rc);
    }
    craft("{\"alg\":\"HS256\",\"kid\":\"h1\"}", v[20].claims, &fx->hs, NULL,
          0, tok);
    assert_int_equal(parse_verify(fx, tok, &jwt), MALL_JWT_OK);
    assert_string_equal(jwt.claims.sub, "u");
}


static void
test_field_sizes(void **state)
{
    fixture_t   *fx = *state;
    char         claims[1024], tok[2048];
    mall_jwt_t   jwt;
    int          len;

    /* sub, jti, role, skid: 63 bytes fit, 64 do not */
    for (len = 63; len <= 64; len++) {
        snprintf(claims, sizeof(claims),
                 "{\"sub\":\"%0*d\",\"jti\":\"t\",\"iat\":1,\"exp\":2}",
                 len, 0);
        craft("{\"alg\":\"HS256\",\"kid\":\"h1\"}", claims, &fx->hs, NULL, 0,
              tok);
        assert_int_equal(parse_verify(fx, tok, &jwt),
                         len == 63 ? MALL_JWT_OK : MALL_JWT_MALFORMED);
        snprintf(claims, sizeof(claims),
                 "{\"sub\":\"u\",\"jti\":\"t\",\"iat\":1,\"exp\":2,"
                 "\"role\":\"%0*d\"}", len, 0);
        craft("{\"alg\":\"HS256\",\"kid\":\"h1\"}", claims, &fx->hs, NULL, 0,
              tok);
        assert_int_equal(parse_verify(fx, tok, &jwt),
                         len == 63 ? MALL_JWT_OK : MALL_JWT_MALFORMED);
    }

    /* iss: 127 bytes fit, 128 do not; aud string likewise */
    for (len = 127; len <= 128; len++) {
        snprintf(claims, sizeof(claims),
                 "{\"sub\":\"u\",\"jti\":\"t\",\"iat\":1,\"exp\":2,"
                 "\"iss\":\"%0*d\"}", len, 0);
        craft("{\"alg\":\"HS256\",\"kid\":\"h1\"}", claims, &fx->hs, NULL, 0,
              tok);
        assert_int_equal(parse_verify(fx, tok, &jwt),
                         len == 127 ? MALL_JWT_OK : MALL_JWT_MALFORMED);
    }
    snprintf(claims, sizeof(claims),
             "{\"sub\":\"u\",\"jti\":\"t\",\"iat\":1,\"exp\":2,"
             "\"aud\":\"%0*d\"}", 126, 0);
    craft("{\"alg\":\"HS256\",\"kid\":\"h1\"}", claims, &fx->hs, NULL, 0,
          tok);
    assert_int_equal(parse_verify(fx, tok, &jwt), MALL_JWT_OK);
    snprintf(claims, sizeof(claims),
             "{\"sub\":\"u\",\"jti\":\"t\",\"iat\":1,\"exp\":2,"
             "\"aud\":[\"%0*d\",\"%0*d\"]}", 60, 0, 70, 0);
    craft("{\"alg\":\"HS256\",\"kid\":\"h1\"}", claims, &fx->hs, NULL, 0,
          tok);
    assert_int_equal(parse_verify(fx, tok, &jwt), MALL_JWT_MALFORMED);
}


/* --------------------------------------------------------- check_claims */


static void
test_time_claims(void **state)
{
    mall_jwt_claims_t  c;

    (void) state;
    fill_claims(&c);
    assert_int_equal(mall_jwt_check_claims(&c, NOW, 0, NULL, NULL),
                     MALL_JWT_OK);

    /* exp in the past, with and without leeway; exp == now is expired */
    c.exp = NOW - 30;
    assert_int_equal(mall_jwt_check_claims(&c, NOW, 0, NULL, NULL),
                     MALL_JWT_EXPIRED);
    assert_int_equal(mall_jwt_check_claims(&c, NOW, 30, NULL, NULL),
                     MALL_JWT_EXPIRED);
    assert_int_equal(mall_jwt_check_claims(&c, NOW, 31, NULL, NULL),
                     MALL_JWT_OK);
    c.exp = NOW;
    assert_int_equal(mall_jwt_check_claims(&c, NOW, 0, NULL, NULL),
                     MALL_JWT_EXPIRED);
    c.exp = NOW + 1;
    assert_int_equal(mall_jwt_check_claims(&c, NOW, 0, NULL, NULL),
                     MALL_JWT_OK);

    /* nbf and iat in the future */
    fill_claims(&c);
    c.nbf = NOW + 60;
    assert_int_equal(mall_jwt_check_claims(&c, NOW, 0, NULL, NULL),
                     MALL_JWT_NOT_YET_VALID);
    assert_int_equal(mall_jwt_check_claims(&c, NOW, 59, NULL, NULL),
                     MALL_JWT_NOT_YET_VALID);
    assert_int_equal(mall_jwt_check_claims(&c, NOW, 60, NULL, NULL),
                     MALL_JWT_OK);
    c.nbf = NOW;
    assert_int_equal(mall_jwt_check_claims(&c, NOW, 0, NULL, NULL),
                     MALL_JWT_OK);

    fill_claims(&c);
    c.iat = NOW + 10;
    assert_int_equal(mall_jwt_check_claims(&c, NOW, 0, NULL, NULL),
                     MALL_JWT_NOT_YET_VALID);
    assert_int_equal(mall_jwt_check_claims(&c, NOW, 10, NULL, NULL),
                     MALL_JWT_OK);

    /* a negative leeway is no leeway */
    fill_claims(&c);
    c.exp = NOW + 5;
    assert_int_equal(mall_jwt_check_claims(&c, NOW, -100, NULL, NULL),
                     MALL_JWT_OK);
}


static void
test_issuer_audience(void **state)
{
    mall_jwt_claims_t  c;

    (void) state;
    fill_claims(&c);
    assert_int_equal(mall_jwt_check_claims(&c, NOW, 0, "mall-edge",
                                           "mall-mp"), MALL_JWT_OK);
    assert_int_equal(mall_jwt_check_claims(&c, NOW, 0, "mall-edgeX", NULL),
                     MALL_JWT_BAD_ISSUER);
    assert_int_equal(mall_jwt_check_claims(&c, NOW, 0, "mall-edg", NULL),
                     MALL_JWT_BAD_ISSUER);
    assert_int_equal(mall_jwt_check_claims(&c, NOW, 0, "", NULL),
                     MALL_JWT_BAD_ISSUER);
    assert_int_equal(mall_jwt_check_claims(&c, NOW, 0, NULL, "mall-admin"),
                     MALL_JWT_BAD_AUDIENCE);
    assert_int_equal(mall_jwt_check_claims(&c, NOW, 0, NULL, "mall-m"),
                     MALL_JWT_BAD_AUDIENCE);

    /* absent iss / aud fail when one is expected */
    c.iss[0] = '\0';
    c.aud[0] = '\0';
    assert_int_equal(mall_jwt_check_claims(&c, NOW, 0, "mall-edge", NULL),
                     MALL_JWT_BAD_ISSUER);
    assert_int_equal(mall_jwt_check_claims(&c, NOW, 0, NULL, "mall-mp"),
                     MALL_JWT_BAD_AUDIENCE);
    assert_int_equal(mall_jwt_check_claims(&c, NOW, 0, NULL, NULL),
                     MALL_JWT_OK);
}


static void
test_audience_array(void **state)
{
    fixture_t   *fx = *state;
    char         tok[1024];
    mall_jwt_t   jwt;

    craft("{\"alg\":\"HS256\",\"kid\":\"h1\"}",
          "{\"sub\":\"u\",\"jti\":\"t\",\"iat\":1,\"exp\":1800000000,"
          "\"aud\":[ \"mall-admin\" , \"mall-\\u006dp\",\"x\"]}",
          &fx->hs, NULL, 0, tok);
    assert_int_equal(parse_verify(fx, tok, &jwt), MALL_JWT_OK);
    assert_string_equal(jwt.claims.aud, "mall-admin");  /* the first */
    assert_int_equal(mall_jwt_check_claims(&jwt.claims, NOW, 0, NULL,
                                           "mall-admin"), MALL_JWT_OK);
    assert_int_equal(mall_jwt_check_claims(&jwt.claims, NOW, 0, NULL,
                                           "mall-mp"), MALL_JWT_OK);
    assert_int_equal(mall_jwt_check_claims(&jwt.claims, NOW, 0, NULL, "x"),
                     MALL_JWT_OK);
    assert_int_equal(mall_jwt_check_claims(&jwt.claims, NOW, 0, NULL,
                                           "mall"), MALL_JWT_BAD_AUDIENCE);
    assert_int_equal(mall_jwt_check_claims(&jwt.claims, NOW, 0, NULL, ""),
                     MALL_JWT_BAD_AUDIENCE);

    /* a single-element array, and a string with no list after it */
    craft("{\"alg\":\"HS256\",\"kid\":\"h1\"}",
          "{\"sub\":\"u\",\"jti\":\"t\",\"iat\":1,\"exp\":1800000000,"
          "\"aud\":[\"mall-mp\"]}", &fx->hs, NULL, 0, tok);
    assert_int_equal(parse_verify(fx, tok, &jwt), MALL_JWT_OK);
    assert_int_equal(mall_jwt_check_claims(&jwt.claims, NOW, 0, NULL,
                                           "mall-mp"), MALL_JWT_OK);
    craft("{\"alg\":\"HS256\",\"kid\":\"h1\"}",
          "{\"sub\":\"u\",\"jti\":\"t\",\"iat\":1,\"exp\":1800000000,"
          "\"aud\":\"mall-mp\"}", &fx->hs, NULL, 0, tok);
    assert_int_equal(parse_verify(fx, tok, &jwt), MALL_JWT_OK);
    assert_int_equal(mall_jwt_check_claims(&jwt.claims, NOW, 0, NULL,
                                           "mall-mp"), MALL_JWT_OK);
    assert_int_equal(mall_jwt_check_claims(&jwt.claims, NOW, 0, NULL, ""),
                     MALL_JWT_BAD_AUDIENCE);

    /* empty strings in the array are refused */
    craft("{\"alg\":\"HS256\",\"kid\":\"h1\"}",
          "{\"sub\":\"u\",\"jti\":\"t\",\"iat\":1,\"exp\":1800000000,"
          "\"aud\":[\"a\",\"\"]}", &fx->hs, NULL, 0, tok);
    assert_int_equal(parse_verify(fx, tok, &jwt), MALL_JWT_MALFORMED);
}


/* ---------------------------------------------------------------- keys */


static void
test_key_load_errors(void **state)
{
    fixture_t       *fx = *state;
    mall_jwt_key_t   key;
    char             err[128], path[160];
    EVP_PKEY        *pkey;
    FILE            *f;

    err[0] = '\0';
    assert_int_equal(mall_jwt_key_load(&key, "k", MALL_JWT_ALG_ES256,
                                       "/nonexistent/key.pem", err,
                                       sizeof(err)), -1);
    assert_true(err[0] != '\0');

    /* an HS256 secret file read as a PEM */
    assert_int_equal(mall_jwt_key_load(&key, "k", MALL_JWT_ALG_ES256,
                                       fx->hs_path, err, sizeof(err)), -1);

    /* P-384 and RSA keys are not ES256 keys */
    snprintf(path, sizeof(path), "%s/other.pem", fx->dir);
    pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    f = fopen(path, "w");
    PEM_write_PUBKEY(f, pkey);
    fclose(f);
    EVP_PKEY_free(pkey);
    assert_int_equal(mall_jwt_key_load(&key, "k", MALL_JWT_ALG_ES256, path,
                                       err, sizeof(err)), -1);
    assert_non_null(strstr(err, "P-256"));

    pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 1024);
    f = fopen(path, "w");
    PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    EVP_PKEY_free(pkey);
    assert_int_equal(mall_jwt_key_load(&key, "k", MALL_JWT_ALG_ES256, path,
                                       err, sizeof(err)), -1);

    /* HS256 secrets: 32..64 bytes after one trailing newline */
    write_file(path, "0123456789abcdef0123456789abcde\n", 32);
    assert_int_equal(mall_jwt_key_load(&key, "k", MALL_JWT_ALG_HS256, path,
                                       err, sizeof(err)), -1);
    write_file(path, "0123456789abcdef0123456789abcdef", 32);
    assert_int_equal(mall_jwt_key_load(&key, "k", MALL_JWT_ALG_HS256, path,
                                       err, sizeof(err)), 0);
    assert_int_equal(key.secret_len, 32);
    mall_jwt_key_free(&key);
    write_file(path, "0123456789abcdef0123456789abcdef"
                     "0123456789abcdef0123456789abcdef\n", 65);
    assert_int_equal(mall_jwt_key_load(&key, "k", MALL_JWT_ALG_HS256, path,
                                       err, sizeof(err)), 0);
    assert_int_equal(key.secret_len, 64);
    assert_string_equal(key.kid, "k");
    mall_jwt_key_free(&key);
    write_file(path, "0123456789abcdef0123456789abcdef"
                     "0123456789abcdef0123456789abcdef0", 65);
    assert_int_equal(mall_jwt_key_load(&key, "k", MALL_JWT_ALG_HS256, path,
                                       err, sizeof(err)), -1);

    /* bad kid or alg */
    assert_int_equal(mall_jwt_key_load(&key, "", MALL_JWT_ALG_HS256,
                                       fx->hs_path, err, sizeof(err)), -1);
    assert_int_equal(mall_jwt_key_load(&key, "k", MALL_JWT_ALG_NONE,
                                       fx->hs_path, err, sizeof(err)), -1);
    unlink(path);

    /* freeing twice is harmless: free zeroes the key */
    assert_int_equal(mall_jwt_key_load(&key, "k", MALL_JWT_ALG_ES256,
                                       fx->pub_path, NULL, 0), 0);
    mall_jwt_key_free(&key);
    mall_jwt_key_free(&key);
}


static void
test_strerror(void **state)
{
    int  rc;

    (void) state;
    for (rc = MALL_JWT_OK; rc <= MALL_JWT_INTERNAL; rc++) {
        assert_non_null(mall_jwt_strerror((mall_jwt_rc_e) rc));
        assert_string_not_equal(mall_jwt_strerror((mall_jwt_rc_e) rc),
                                "unknown error");
    }
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc7515_a1_hs256),
        cmocka_unit_test(test_rfc7515_a3_es256),
        cmocka_unit_test(test_roundtrip_es256),
        cmocka_unit_test(test_roundtrip_hs256),
        cmocka_unit_test(test_alg_none_and_unknown),
        cmocka_unit_test(test_kid),
        cmocka_unit_test(test_alg_confusion),
        cmocka_unit_test(test_bad_signatures),
        cmocka_unit_test(test_es256_high_s_twin),
        cmocka_unit_test(test_es256_sign_low_s),
        cmocka_unit_test(test_sign_audience_size),
        cmocka_unit_test(test_signature_lengths),
        cmocka_unit_test(test_encoding_and_segments),
        cmocka_unit_test(test_too_long_and_huge_header),
        cmocka_unit_test(test_header_fields),
        cmocka_unit_test(test_claim_structure),
        cmocka_unit_test(test_field_sizes),
        cmocka_unit_test(test_time_claims),
        cmocka_unit_test(test_issuer_audience),
        cmocka_unit_test(test_audience_array),
        cmocka_unit_test(test_key_load_errors),
        cmocka_unit_test(test_strerror),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
