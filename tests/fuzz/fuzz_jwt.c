/*
 * lib/mall_jwt.h: parse, verify and claim checks of an untrusted access
 * token (the Authorization header at the edge), and the issuing side.
 *
 * Input: the first byte picks a mode, the rest is its data.
 *   0  a raw token, passed as the module does (pointer and length, no
 *      NUL): parse, verify against an ES256 and an HS256 key, check the
 *      claims. A token that verifies with ES256 must have its high-S
 *      twin refused.
 *   1  header JSON '\0' claims JSON '\0' key byte: this target builds and
 *      signs the token with a real key, so the fuzzer reaches the
 *      signature checks; a token that parses, names the key and has its
 *      alg must verify.
 *   2  claims fields (sub, jti, role, skid, iss, aud, '\n'-separated) and
 *      times: mall_jwt_sign into the workers' buffer (auth_access_t's
 *      token[MALL_JWT_MAX_LEN]) and a shorter one; what it issues must
 *      parse, verify and carry the same claims.
 */
#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "fuzz_common.h"
#include "fuzz_keys.h"
#include "mall_b64.h"
#include "mall_crypto.h"
#include "mall_jwt.h"

#define NOW     1700000000

static const char  p256_order_hex[] =
    "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551";

static mall_jwt_key_t  keys[2];        /* k1 ES256 public, h1 HS256 */
static mall_jwt_key_t  es_priv;        /* k1 ES256 private (signing) */
static BIGNUM         *order, *half;


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    BIO       *bio;
    EVP_PKEY  *priv, *pub;
    char      *mem;
    long       n;

    (void) argc;
    (void) argv;

    bio = BIO_new_mem_buf(test_only_es256_pem, -1);
    priv = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    FZ_ASSERT(priv != NULL);

    /* a public-only key, as the edge loads from mall_auth_key */
    bio = BIO_new(BIO_s_mem());
    FZ_ASSERT(PEM_write_bio_PUBKEY(bio, priv) == 1);
    n = BIO_get_mem_data(bio, &mem);
    FZ_ASSERT(n > 0);
    {
        BIO  *rd = BIO_new_mem_buf(mem, (int) n);

        pub = PEM_read_bio_PUBKEY(rd, NULL, NULL, NULL);
        BIO_free(rd);
    }
    BIO_free(bio);
    FZ_ASSERT(pub != NULL);

    memset(keys, 0, sizeof(keys));
    strcpy(keys[0].kid, "k1");
    keys[0].alg = MALL_JWT_ALG_ES256;
    keys[0].pkey = pub;
    strcpy(keys[1].kid, "h1");
    keys[1].alg = MALL_JWT_ALG_HS256;
    memcpy(keys[1].secret, test_only_hs256, sizeof(test_only_hs256) - 1);
    keys[1].secret_len = sizeof(test_only_hs256) - 1;

    memset(&es_priv, 0, sizeof(es_priv));
    strcpy(es_priv.kid, "k1");
    es_priv.alg = MALL_JWT_ALG_ES256;
    es_priv.pkey = priv;

    order = NULL;
    FZ_ASSERT(BN_hex2bn(&order, p256_order_hex) > 0);
    half = BN_new();
    FZ_ASSERT(half != NULL && BN_rshift1(half, order) == 1);
    return 0;
}


/* S := n - S of a raw r || s signature (OpenSSL's BN, not the lib's). */
static void
negate_s(uint8_t sig[64])
{
    BIGNUM  *s;

    s = BN_bin2bn(sig + 32, 32, NULL);
    FZ_ASSERT(s != NULL && BN_sub(s, order, s) == 1);
    FZ_ASSERT(BN_bn2binpad(s, sig + 32, 32) == 32);
    BN_free(s);
}


static int
high_s(const uint8_t sig[64])
{
    BIGNUM  *s;
    int      r;

    s = BN_bin2bn(sig + 32, 32, NULL);
    FZ_ASSERT(s != NULL);
    r = BN_cmp(s, half) > 0;
    BN_free(s);
    return r;
}


/* Raw low-S ES256 signature of input with the test key. */
static void
es256_sign(const char *input, size_t len, uint8_t sig[64])
{
    EVP_MD_CTX     *ctx;
    uint8_t         der[80];
    size_t          der_len;
    const uint8_t  *p;
    ECDSA_SIG      *es;
    const BIGNUM   *r, *s;

    ctx = EVP_MD_CTX_new();
    der_len = sizeof(der);
    FZ_ASSERT(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL,
                                 es_priv.pkey) == 1);
    FZ_ASSERT(EVP_DigestSign(ctx, der, &der_len, (const uint8_t *) input,
                             len) == 1);
    EVP_MD_CTX_free(ctx);
    p = der;
    es = d2i_ECDSA_SIG(NULL, &p, (long) der_len);
    FZ_ASSERT(es != NULL);
    ECDSA_SIG_get0(es, &r, &s);
    FZ_ASSERT(BN_bn2binpad(r, sig, 32) == 32);
    FZ_ASSERT(BN_bn2binpad(s, sig + 32, 32) == 32);
    ECDSA_SIG_free(es);
    if (high_s(sig)) {
        negate_s(sig);
    }
}


/* Parse + verify + claims of tok[0..len); returns the verify result. */
static mall_jwt_rc_e
check(const char *tok, size_t len, mall_jwt_t *jwt)
{
    mall_jwt_rc_e  rc;

    rc = mall_jwt_parse(tok, len, jwt);
    if (rc != MALL_JWT_OK) {
        return rc;
    }
    FZ_ASSERT(jwt->signing_input == tok && jwt->signing_input_len < len);
    FZ_ASSERT(jwt->sig_len <= sizeof(jwt->sig));
    FZ_ASSERT(memchr(jwt->claims.kid, '\0', sizeof(jwt->claims.kid)));
    FZ_ASSERT(memchr(jwt->claims.sub, '\0', sizeof(jwt->claims.sub)));
    FZ_ASSERT(memchr(jwt->claims.jti, '\0', sizeof(jwt->claims.jti)));

    rc = mall_jwt_verify(jwt, keys, 2);
    mall_jwt_check_claims(&jwt->claims, NOW, 30, "mall-edge", "mall-mini");
    mall_jwt_check_claims(&jwt->claims, NOW, 0, NULL, NULL);
    return rc;
}


/* A token that verified with ES256: its high-S twin must not. */
static void
twin_refused(const char *tok, size_t len, const mall_jwt_t *jwt)
{
    char        *twin;
    uint8_t      sig[64];
    size_t       n;
    mall_jwt_t   j2;

    if (jwt->alg != MALL_JWT_ALG_ES256 || jwt->sig_len != 64) {
        return;
    }
    memcpy(sig, jwt->sig, 64);
    FZ_ASSERT(!high_s(sig));
    negate_s(sig);

    twin = fz_alloc(jwt->signing_input_len + 1 + 86);
    memcpy(twin, tok, jwt->signing_input_len + 1);
    n = jwt->signing_input_len + 1
        + mall_b64url_encode(sig, 64, twin + jwt->signing_input_len + 1);
    (void) len;
    FZ_ASSERT(mall_jwt_parse(twin, n, &j2) == MALL_JWT_OK);
    FZ_ASSERT(mall_jwt_verify(&j2, keys, 2) == MALL_JWT_BAD_SIGNATURE);
    free(twin);
}


static void
raw_token(fz_in_t *in)
{
    char          *tok;
    mall_jwt_t     jwt;

    tok = fz_dup(in->p, in->n);
    if (check(tok, in->n, &jwt) == MALL_JWT_OK) {
        twin_refused(tok, in->n, &jwt);
    }
    free(tok);
}


static void
signed_token(fz_in_t *in)
{
    const uint8_t  *hdr, *pay;
    size_t          hlen, plen, n, cap;
    char           *tok;
    uint8_t         sig[64];
    int             es;
    mall_jwt_t      jwt;
    mall_jwt_rc_e   rc;

    hlen = fz_field(in, '\0', &hdr);
    plen = fz_field(in, '\0', &pay);
    es = !(fz_byte(in) & 1);

    if (hlen > MALL_JWT_MAX_LEN || plen > MALL_JWT_MAX_LEN) {
        return;
    }
    cap = MALL_B64URL_ENCODED_LEN(hlen) + MALL_B64URL_ENCODED_LEN(plen)
          + 2 + 86;
    tok = fz_alloc(cap);
    n = mall_b64url_encode(hdr, hlen, tok);
    tok[n++] = '.';
    n += mall_b64url_encode(pay, plen, tok + n);

    if (es) {
        es256_sign(tok, n, sig);
    } else {
        FZ_ASSERT(mall_hmac_sha256(keys[1].secret, keys[1].secret_len, tok,
                                   n, sig) == 0);
    }
    tok[n++] = '.';
    n += mall_b64url_encode(sig, es ? 64 : 32, tok + n);
    FZ_ASSERT(n <= cap);

    /* exact-size copy: the module's token is not NUL-terminated */
    {
        char  *t = fz_dup(tok, n);

        rc = check(t, n, &jwt);
        if (mall_jwt_parse(t, n, &jwt) == MALL_JWT_OK
            && jwt.alg == (es ? MALL_JWT_ALG_ES256 : MALL_JWT_ALG_HS256)
            && strcmp(jwt.claims.kid, es ? "k1" : "h1") == 0)
        {
            FZ_ASSERT(rc == MALL_JWT_OK);
            twin_refused(t, n, &jwt);
        }
        free(t);
    }
    free(tok);
}


static void
field(fz_in_t *in, char *dst, size_t dstsz)
{
    char  *s;

    s = fz_str_field(in, '\n');
    snprintf(dst, dstsz, "%s", s);
    free(s);
}


static void
sign_roundtrip(fz_in_t *in)
{
    char               *out;
    size_t              len, outsz, k;
    uint8_t             b;
    uint64_t            iat, exp;
    mall_jwt_t          jwt;
    mall_jwt_rc_e       rc;
    mall_jwt_claims_t   c;
    const mall_jwt_key_t  *key;

    memset(&c, 0, sizeof(c));
    iat = 0;
    exp = 0;
    b = fz_byte(in);
    key = (b & 1) ? &keys[1] : &es_priv;
    field(in, c.sub, sizeof(c.sub));
    field(in, c.jti, sizeof(c.jti));
    field(in, c.role, sizeof(c.role));
    field(in, c.skid, sizeof(c.skid));
    field(in, c.iss, sizeof(c.iss));
    field(in, c.aud, sizeof(c.aud));
    for (k = 0; k < 8; k++) {
        iat = iat << 8 | fz_byte(in);
        exp = exp << 8 | fz_byte(in);
    }
    c.iat = (int64_t) iat;
    c.exp = (int64_t) exp;
    c.nbf = (b & 2) ? c.iat : 0;

    /* auth_token.c's buffer, then one cut short by the fuzzer */
    for (k = 0; k < 2; k++) {
        outsz = k == 0 ? MALL_JWT_MAX_LEN : (size_t) fz_byte(in) * 8;
        out = fz_alloc(outsz);
        rc = mall_jwt_sign(key, &c, out, outsz, &len);
        if (rc == MALL_JWT_OK) {
            FZ_ASSERT(len < outsz && out[len] == '\0');
            FZ_ASSERT(strlen(out) == len);
            FZ_ASSERT(check(out, len, &jwt) == MALL_JWT_OK);
            FZ_ASSERT(strcmp(jwt.claims.sub, c.sub) == 0);
            FZ_ASSERT(strcmp(jwt.claims.jti, c.jti) == 0);
            FZ_ASSERT(strcmp(jwt.claims.role, c.role) == 0);
            FZ_ASSERT(strcmp(jwt.claims.skid, c.skid) == 0);
            FZ_ASSERT(strcmp(jwt.claims.iss, c.iss) == 0);
            FZ_ASSERT(strcmp(jwt.claims.aud, c.aud) == 0);
            FZ_ASSERT(jwt.claims.iat == c.iat && jwt.claims.exp == c.exp);
            FZ_ASSERT(jwt.claims.nbf == c.nbf);
            twin_refused(out, len, &jwt);
        }
        free(out);
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in_t  in;

    in.p = data;
    in.n = size;

    switch (fz_byte(&in) % 3) {
    case 0:
        raw_token(&in);
        break;
    case 1:
        signed_token(&in);
        break;
    default:
        sign_roundtrip(&in);
        break;
    }

    ERR_clear_error();
    return 0;
}
