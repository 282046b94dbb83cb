#define _POSIX_C_SOURCE 200809L   /* mkstemp */

/*
 * Identity pure code of the workers: PBKDF2 password hashes, phone masking
 * and WeChat encryptedData decryption, refresh-token hashing, access-token
 * minting (checked with the lib's verifier) and the identity directives.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "auth_conf.h"
#include "auth_password.h"
#include "auth_phone.h"
#include "auth_token.h"
#include "mall_b64.h"
#include "test_tmpfile.h"

static char  pem_path[64], pub_path[64], secret_path[64], data_path[64];


#define ID_TMPL  "/tmp/mall-id-XXXXXX"


static int
group_setup(void **state)
{
    EVP_PKEY  *k;
    FILE      *f;

    (void) state;
    k = EVP_EC_gen("P-256");
    if (k == NULL || test_tmpfile(pem_path, ID_TMPL, "") != 0
        || test_tmpfile(pub_path, ID_TMPL, "") != 0)
    {
        return -1;
    }
    f = fopen(pem_path, "w");
    PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    f = fopen(pub_path, "w");
    PEM_write_PUBKEY(f, k);
    fclose(f);
    EVP_PKEY_free(k);

    return test_tmpfile(secret_path, ID_TMPL,
                        "0123456789abcdef0123456789abcdef\n")
           || test_tmpfile(data_path, ID_TMPL,
                           "000102030405060708090a0b0c0d0e0f"
                           "101112131415161718191a1b1c1d1e1f\n");
}


static int
group_teardown(void **state)
{
    (void) state;
    unlink(pem_path);
    unlink(pub_path);
    unlink(secret_path);
    unlink(data_path);
    auth_token_reset();
    return 0;
}


/* ---- passwords ------------------------------------------------------- */

static void
test_password_format_and_verify(void **state)
{
    char        h[AUTH_PASSWORD_HASH_MAX], h2[AUTH_PASSWORD_HASH_MAX];
    mall_err_t  err;
    char       *p, *salt, *hash;
    uint8_t     raw[64];
    size_t      n;

    (void) state;
    assert_int_equal(auth_password_hash("s3cret", 6, AUTH_PBKDF2_ITER, h,
                                        sizeof(h), &err), MALL_OK);
    /* pbkdf2-sha256$<iter>$<salt b64>$<hash b64> */
    assert_memory_equal(h, "pbkdf2-sha256$210000$", 21);
    p = strdup(h);
    salt = strchr(p + 21, '$') ? p + 21 : NULL;
    assert_non_null(salt);
    hash = strchr(salt, '$');
    assert_non_null(hash);
    *hash++ = '\0';
    assert_int_equal(mall_b64_decode(salt, strlen(salt), raw, &n), 0);
    assert_int_equal(n, 16);
    assert_int_equal(mall_b64_decode(hash, strlen(hash), raw, &n), 0);
    assert_int_equal(n, 32);
    free(p);

    assert_int_equal(auth_password_verify("s3cret", 6, h), 1);
    assert_int_equal(auth_password_verify("s3creT", 6, h), 0);
    assert_int_equal(auth_password_verify("s3cret!", 7, h), 0);

    /* fresh salt each time */
    assert_int_equal(auth_password_hash("s3cret", 6, AUTH_PBKDF2_ITER, h2,
                                        sizeof(h2), &err), MALL_OK);
    assert_string_not_equal(h, h2);
    assert_int_equal(auth_password_verify("s3cret", 6, h2), 1);
}


static void
test_password_known_vector(void **state)
{
    /* computed independently: Python hashlib.pbkdf2_hmac("sha256",
     * b"admin-dev-password", b"0123456789abcdef", 200000) */
    uint8_t     want[32];
    char        stored[160], s64[32], h64[64];
    const uint8_t salt[] = "0123456789abcdef";

    (void) state;
    assert_int_equal(PKCS5_PBKDF2_HMAC("admin-dev-password", 18, salt, 16,
                                       200000, EVP_sha256(), 32, want), 1);
    s64[mall_b64_encode(salt, 16, s64)] = '\0';
    h64[mall_b64_encode(want, 32, h64)] = '\0';
    snprintf(stored, sizeof(stored), "pbkdf2-sha256$200000$%s$%s", s64,
             h64);
    assert_int_equal(auth_password_verify("admin-dev-password", 18, stored),
                     1);
    /* too few iterations, garbage, wrong prefix: refused */
    snprintf(stored, sizeof(stored), "pbkdf2-sha256$1000$%s$%s", s64, h64);
    assert_int_equal(auth_password_verify("admin-dev-password", 18, stored),
                     0);
    assert_int_equal(auth_password_verify("x", 1, "plain-text"), 0);
    assert_int_equal(auth_password_verify("x", 1, "pbkdf2-sha256$"), 0);
    assert_int_equal(auth_password_verify("", 0, stored), 0);
    assert_int_equal(auth_password_dummy("x", 1), 0);
}


/* ---- phones -------------------------------------------------------------- */

static void
test_phone_mask(void **state)
{
    char  out[AUTH_PHONE_MAX];

    (void) state;
    auth_phone_mask("13812345678", out, sizeof(out));
    assert_string_equal(out, "138****5678");
    auth_phone_mask("12345678", out, sizeof(out));
    assert_string_equal(out, "123*5678");
    auth_phone_mask("1234567", out, sizeof(out));
    assert_string_equal(out, "*****67");
    auth_phone_mask("8613812345678", out, sizeof(out));
    assert_string_equal(out, "861******5678");
    auth_phone_mask("13812345678", out, 5);
    assert_string_equal(out, "");

    assert_true(auth_phone_valid("13812345678"));
    assert_false(auth_phone_valid("1381234567a"));
    assert_false(auth_phone_valid("1234"));
    assert_false(auth_phone_valid("+8613812345678"));
}


static void
test_phone_decrypt(void **state)
{
    static const char  json[] =
        "{\"phoneNumber\":\"13800138000\",\"purePhoneNumber\":\"13800138000\","
        "\"countryCode\":\"86\",\"watermark\":{\"timestamp\":1,"
        "\"appid\":\"wxdevmall0000001\"}}";
    const uint8_t      key[16] = "0123456789abcdef";
    const uint8_t      iv[16] = "fedcba9876543210";
    EVP_CIPHER_CTX    *c;
    uint8_t            ct[256];
    char               k64[32], iv64[32], ct64[400], out[512];
    int                n1, n2;
    size_t             len;
    mall_err_t         err;

    (void) state;
    c = EVP_CIPHER_CTX_new();
    assert_int_equal(EVP_EncryptInit_ex(c, EVP_aes_128_cbc(), NULL, key, iv),
                     1);
    assert_int_equal(EVP_EncryptUpdate(c, ct, &n1, (const uint8_t *) json,
                                       (int) strlen(json)), 1);
    assert_int_equal(EVP_EncryptFinal_ex(c, ct + n1, &n2), 1);
    EVP_CIPHER_CTX_free(c);

    k64[mall_b64_encode(key, 16, k64)] = '\0';
    iv64[mall_b64_encode(iv, 16, iv64)] = '\0';
    ct64[mall_b64_encode(ct, (size_t) (n1 + n2), ct64)] = '\0';

    assert_int_equal(auth_phone_decrypt(k64, iv64, ct64, out, sizeof(out),
                                        &len, &err), MALL_OK);
    assert_int_equal(len, strlen(json));
    assert_string_equal(out, json);

    /* another session's key: padding check fails (or garbage JSON) */
    k64[0] = k64[0] == 'A' ? 'B' : 'A';
    if (auth_phone_decrypt(k64, iv64, ct64, out, sizeof(out), &len, &err)
        == MALL_OK)
    {
        assert_null(strstr(out, "13800138000"));
    }
    /* bad lengths */
    assert_int_equal(auth_phone_decrypt("c2hvcnQ=", iv64, ct64, out,
                                        sizeof(out), &len, &err), MALL_ERR);
    assert_int_equal(auth_phone_decrypt(k64, "c2hvcnQ=", ct64, out,
                                        sizeof(out), &len, &err), MALL_ERR);
    assert_int_equal(auth_phone_decrypt(k64, iv64, "c2hvcnQ=", out,
                                        sizeof(out), &len, &err), MALL_ERR);
}


/* ---- refresh tokens ---------------------------------------------------- */

static void
test_refresh_hash(void **state)
{
    char  tok[AUTH_REFRESH_LEN + 1], tok2[AUTH_REFRESH_LEN + 1];
    char  h[MALL_SHA256_HEX_LEN + 1];

    (void) state;
    /* SHA-256("abc") */
    auth_token_refresh_hash("abc", 3, h);
    assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223"
                           "b00361a396177a9cb410ff61f20015ad");

    assert_int_equal(auth_token_random(AUTH_REFRESH_BYTES, tok, sizeof(tok)),
                     MALL_OK);
    assert_int_equal(strlen(tok), AUTH_REFRESH_LEN);
    assert_true(auth_token_refresh_valid(tok, strlen(tok)));
    assert_int_equal(auth_token_random(AUTH_REFRESH_BYTES, tok2,
                                       sizeof(tok2)), MALL_OK);
    assert_string_not_equal(tok, tok2);

    assert_false(auth_token_refresh_valid(tok, strlen(tok) - 1));
    tok[5] = '+';
    assert_false(auth_token_refresh_valid(tok, strlen(tok)));
    assert_int_equal(auth_token_random(AUTH_REFRESH_BYTES, tok, 10),
                     MALL_ERR);
}


/* ---- config + minting ---------------------------------------------------- */

static int
directive(auth_conf_t *a, const char *line, mall_err_t *err)
{
    char   buf[512], *argv[8], *p;
    int    argc;

    snprintf(buf, sizeof(buf), "%s", line);
    argc = 0;
    for (p = strtok(buf, " "); p != NULL && argc < 8; p = strtok(NULL, " "))
    {
        argv[argc++] = p;
    }
    return auth_conf_directive(a, argv, argc, err);
}


static void
test_conf_directives(void **state)
{
    auth_conf_t  a;
    mall_err_t   err;
    char         line[256];

    (void) state;
    auth_conf_init(&a);
    assert_int_equal(a.access_ttl, 7200);
    assert_int_equal(a.refresh_ttl, 2592000);
    assert_string_equal(a.token_audience, "mall-mini");

    assert_int_equal(directive(&a, "listen 1:2", &err), AUTH_CONF_NOT_MINE);

    snprintf(line, sizeof(line), "jwt_key k1 %s", pem_path);
    assert_int_equal(directive(&a, line, &err), MALL_OK);
    assert_int_equal(directive(&a, line, &err), MALL_ERR);      /* dup */
    snprintf(line, sizeof(line), "jwt_key k9 %s", pub_path);
    assert_int_equal(directive(&a, line, &err), MALL_ERR);      /* public */
    snprintf(line, sizeof(line), "jwt_key k9 %s", secret_path);
    assert_int_equal(directive(&a, line, &err), MALL_ERR);      /* not PEM */

    /* no sign secret yet */
    assert_int_equal(auth_conf_validate(&a, &err), MALL_ERR);
    snprintf(line, sizeof(line), "sign_secret s1 %s", secret_path);
    assert_int_equal(directive(&a, line, &err), MALL_OK);
    assert_int_equal(a.sign_secrets[0].len, 32);                /* bytes */

    snprintf(line, sizeof(line), "data_key d1 %s", data_path);
    assert_int_equal(directive(&a, line, &err), MALL_OK);
    assert_int_equal(a.data_keys[0].key[31], 0x1f);             /* hex */
    snprintf(line, sizeof(line), "data_key d2 %s", secret_path);
    assert_int_equal(directive(&a, line, &err), MALL_ERR);      /* 32 hex */

    assert_int_equal(directive(&a, "access_ttl 10", &err), MALL_ERR);
    assert_int_equal(directive(&a, "access_ttl 600", &err), MALL_OK);
    assert_int_equal(directive(&a, "access_ttl 600", &err), MALL_ERR);
    assert_int_equal(directive(&a, "wechat_api_base ftp://x", &err),
                     MALL_ERR);
    assert_int_equal(directive(&a, "wechat_api_base http://127.0.0.1:9/",
                               &err), MALL_OK);
    assert_string_equal(a.wechat_api_base, "http://127.0.0.1:9");

    assert_int_equal(directive(&a, "jwt_sign_kid k2", &err), MALL_OK);
    assert_int_equal(auth_conf_validate(&a, &err), MALL_ERR);   /* no k2 */
    auth_conf_wipe(&a);
    assert_int_equal(a.n_jwt_keys, 0);
}


static void
test_mint_verifies(void **state)
{
    auth_conf_t        a;
    auth_access_t      t;
    mall_jwt_key_t     pub;
    mall_jwt_t         jwt;
    mall_err_t         err;
    char               line[256], want[MALL_SIGN_KEY_LEN];

    (void) state;
    auth_conf_init(&a);
    snprintf(line, sizeof(line), "jwt_key k1 %s", pem_path);
    assert_int_equal(directive(&a, line, &err), MALL_OK);
    snprintf(line, sizeof(line), "sign_secret s1 %s", secret_path);
    assert_int_equal(directive(&a, line, &err), MALL_OK);

    assert_int_equal(auth_token_mint(&a, "42", "mall-mini", "", 7200,
                                     1700000000, &t, &err), MALL_OK);
    assert_int_equal(t.exp, 1700007200);
    assert_int_equal(strlen(t.jti), AUTH_JTI_LEN);
    assert_string_equal(t.skid, "s1");

    assert_int_equal(mall_jwt_parse(t.token, t.token_len, &jwt),
                     MALL_JWT_OK);
    assert_string_equal(jwt.claims.kid, "k1");
    assert_string_equal(jwt.claims.sub, "42");
    assert_string_equal(jwt.claims.iss, "mall-edge");
    assert_string_equal(jwt.claims.aud, "mall-mini");
    assert_string_equal(jwt.claims.jti, t.jti);
    assert_string_equal(jwt.claims.skid, "s1");
    assert_string_equal(jwt.claims.role, "");
    assert_int_equal(jwt.claims.iat, 1700000000);

    assert_int_equal(mall_jwt_key_load(&pub, "k1", MALL_JWT_ALG_ES256,
                                       pub_path, err.msg, sizeof(err.msg)),
                     0);
    assert_int_equal(mall_jwt_verify(&jwt, &pub, 1), MALL_JWT_OK);
    mall_jwt_key_free(&pub);

    /* the sign key is the edge's derivation from the jti */
    assert_int_equal(mall_sign_derive_key(a.sign_secrets[0].key,
                                          a.sign_secrets[0].len, t.jti,
                                          strlen(t.jti), want), 0);
    assert_memory_equal(t.sign_key, want, MALL_SIGN_KEY_LEN);

    /* admin token: role claim, other audience; jtis differ */
    {
        auth_access_t  t2;
        assert_int_equal(auth_token_mint(&a, "admin:root", "mall-admin",
                                         "admin", 3600, 1700000000, &t2,
                                         &err), MALL_OK);
        assert_int_equal(mall_jwt_parse(t2.token, t2.token_len, &jwt),
                         MALL_JWT_OK);
        assert_string_equal(jwt.claims.role, "admin");
        assert_string_equal(jwt.claims.aud, "mall-admin");
        assert_string_not_equal(t.jti, t2.jti);
    }

    /* no jwt key: refused */
    auth_conf_wipe(&a);
    assert_int_equal(auth_token_mint(&a, "1", "mall-mini", "", 60, 1, &t,
                                     &err), MALL_ERR);
}


/*
 * The edge refuses high-S ES256 signatures (malleable twins), and half of
 * raw ECDSA signatures are high-S: every token minted must verify.
 */
static void
test_mint_always_verifies(void **state)
{
    auth_conf_t        a;
    auth_access_t      t;
    mall_jwt_key_t     pub;
    mall_jwt_t         jwt;
    mall_err_t         err;
    char               line[256];
    int                i;

    (void) state;
    auth_conf_init(&a);
    snprintf(line, sizeof(line), "jwt_key k1 %s", pem_path);
    assert_int_equal(directive(&a, line, &err), MALL_OK);
    snprintf(line, sizeof(line), "sign_secret s1 %s", secret_path);
    assert_int_equal(directive(&a, line, &err), MALL_OK);
    assert_int_equal(mall_jwt_key_load(&pub, "k1", MALL_JWT_ALG_ES256,
                                       pub_path, err.msg, sizeof(err.msg)),
                     0);

    for (i = 0; i < 200; i++) {
        assert_int_equal(auth_token_mint(&a, "42", "mall-mini", "", 7200,
                                         1700000000, &t, &err), MALL_OK);
        assert_int_equal(mall_jwt_parse(t.token, t.token_len, &jwt),
                         MALL_JWT_OK);
        assert_int_equal(mall_jwt_verify(&jwt, &pub, 1), MALL_JWT_OK);
    }

    mall_jwt_key_free(&pub);
    auth_conf_wipe(&a);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_password_format_and_verify),
        cmocka_unit_test(test_password_known_vector),
        cmocka_unit_test(test_phone_mask),
        cmocka_unit_test(test_phone_decrypt),
        cmocka_unit_test(test_refresh_hash),
        cmocka_unit_test(test_conf_directives),
        cmocka_unit_test(test_mint_verifies),
        cmocka_unit_test(test_mint_always_verifies),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
