/*
 * Unit tests of lib/mall_sign.c. The fixed values come from the
 * independent Python implementation in sign_vectors.py (stdlib hmac,
 * hashlib, urllib.parse) and are repeated in docs/signing.md.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mall_crypto.h"
#include "mall_sign.h"

#define SECRET   "3f1b6c0e9a7d42f8b5c1e0d9a8f7b6c5" \
                 "3f1b6c0e9a7d42f8b5c1e0d9a8f7b6c5"
#define JTI      "tok-7Hq2ZpX9"
#define SIGN_KEY "anMycmzNGEFs-1lmSxRStpbPyjsD9SxMJwE9QBmmP6c"


/* Canonical query of q into out (NUL-terminated); -1 on refusal. */
static long
cq(const char *q, char *out)
{
    static mall_sign_param_t  params[MALL_SIGN_MAX_PARAMS];
    static char               scratch[8192];
    long                      n;

    n = mall_sign_canonical_query(q, strlen(q), params, MALL_SIGN_MAX_PARAMS,
                                  scratch, out);
    if (n >= 0) {
        out[n] = '\0';
    }
    return n;
}


static void
test_canonical_query_vectors(void **state)
{
    static const char  *v[][2] = {
        { "", "" },
        { "b=2&a=1", "a=1&b=2" },
        { "a=2&a=10&a=1", "a=1&a=10&a=2" },
        { "q=hello+world", "q=hello%20world" },
        { "q=a%2Bb", "q=a%2Bb" },
        { "name=%E5%BE%AE%E4%BF%A1", "name=%E5%BE%AE%E4%BF%A1" },
        { "flag&x=1", "flag=&x=1" },
        { "a=1&&b=2&", "a=1&b=2" },
        { "sort=price_asc&page=1&size=20&category=%E6%89%8B%E6%9C%BA",
          "category=%E6%89%8B%E6%9C%BA&page=1&size=20&sort=price_asc" },
        { "k=~-._&z=%7e", "k=~-._&z=~" },
        { "A=1&a=1&_=1", "A=1&_=1&a=1" },
        { "x=%2f%2F/", "x=%2F%2F%2F" },
    };
    char    out[8192];
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        assert_int_equal(cq(v[i][0], out), strlen(v[i][1]));
        assert_string_equal(out, v[i][1]);
    }
}


static void
test_canonical_query_cases(void **state)
{
    char  out[8192];

    (void) state;
    /* by name, then by value, bytewise: "a" < "a=" prefix < "ab" */
    assert_true(cq("ab=1&a=2&a=1&a=", out) >= 0);
    assert_string_equal(out, "a=&a=1&a=2&ab=1");

    /* '+' is a space, %2B a literal plus, %20 a space too */
    assert_true(cq("s=a+b%2Bc%20d", out) >= 0);
    assert_string_equal(out, "s=a%20b%2Bc%20d");

    /* raw UTF-8 and lowercase hex come out uppercase-encoded */
    assert_true(cq("q=\xe6\x89\x8b&r=%e6%89%8b", out) >= 0);
    assert_string_equal(out, "q=%E6%89%8B&r=%E6%89%8B");

    /* '=' inside a value, and an empty name */
    assert_true(cq("a=b=c&=x", out) >= 0);
    assert_string_equal(out, "=x&a=b%3Dc");

    /* encoded '&' and '=' in names and values stay data */
    assert_true(cq("a%26b=c%3Dd", out) >= 0);
    assert_string_equal(out, "a%26b=c%3Dd");

    /* bytes >= 0x80 sort after ASCII (unsigned compare) */
    assert_true(cq("x=%C3%A9&x=z", out) >= 0);
    assert_string_equal(out, "x=z&x=%C3%A9");

    /* only separators */
    assert_true(cq("&&&", out) == 0);
}


static void
test_canonical_query_refusals(void **state)
{
    static const char  *bad[] = {
        "a=%zz", "a=%4", "%=1", "a=100%", "a=%G0", "a=%0", "x=1&y=%",
    };
    char                q[1024], out[4096];
    size_t              i, pos;

    (void) state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(cq(bad[i], out), -1);
    }

    /* 64 parameters pass, 65 are refused */
    pos = 0;
    for (i = 0; i < MALL_SIGN_MAX_PARAMS; i++) {
        pos += (size_t) snprintf(q + pos, sizeof(q) - pos, "%sp%zu=%zu",
                                 i ? "&" : "", i, i);
    }
    assert_true(cq(q, out) > 0);
    snprintf(q + pos, sizeof(q) - pos, "&p64=64");
    assert_int_equal(cq(q, out), -1);

    /* max_params below 64 is honoured */
    {
        mall_sign_param_t  p[2];
        char               sc[64];

        assert_int_equal(mall_sign_canonical_query("a=1&b=2&c=3", 11, p, 2,
                                                   sc, out), -1);
        assert_int_equal(mall_sign_canonical_query("a=1&b=2", 7, p, 2,
                                                   sc, out), 7);
    }
}


static void
test_canonical_query_bound(void **state)
{
    /* out holds 3 * qlen + 1: "!" -> "%21=" fits exactly, nothing more */
    mall_sign_param_t  p[4];
    char               sc[8], out[8];

    (void) state;
    memset(out, 'Z', sizeof(out));
    assert_int_equal(mall_sign_canonical_query("!", 1, p, 4, sc, out), 4);
    assert_memory_equal(out, "%21=", 4);
    assert_int_equal(out[4], 'Z');
    assert_int_equal(mall_sign_canonical_query("!=", 2, p, 4, sc, out), 4);
    assert_memory_equal(out, "%21=", 4);
    assert_int_equal(mall_sign_canonical_query("a", 1, p, 4, sc, out), 2);
    assert_memory_equal(out, "a=", 2);
}


/*
 * The sizes callers allocate (MALL_SIGN_*_SIZE, used by the nginx module)
 * on the heap, exactly, so ASan flags one byte more. The module used to
 * allocate 3 * qlen for out: "?!" and "?+" wrote 4 bytes into 3.
 */
static void
test_canonical_query_caller_sizes(void **state)
{
    static const char  *worst[] = {
        "!", "+", "a", "%7E", "!&!", "&!", "!&&", "!!!!", "a=b&!",
        "+&+&+&+", "%00", "=", "=&=", "%C3%A9", "\xff"
    };
    mall_sign_param_t   params[MALL_SIGN_MAX_PARAMS];
    char               *scratch, *out;
    size_t              i, len;
    long                n;

    (void) state;
    for (i = 0; i < sizeof(worst) / sizeof(worst[0]); i++) {
        len = strlen(worst[i]);
        scratch = malloc(MALL_SIGN_SCRATCH_SIZE(len));
        out = malloc(MALL_SIGN_CQUERY_SIZE(len));
        assert_non_null(scratch);
        assert_non_null(out);
        n = mall_sign_canonical_query(worst[i], len, params,
                                      MALL_SIGN_MAX_PARAMS, scratch, out);
        assert_true(n >= 0);
        assert_true((size_t) n <= MALL_SIGN_CQUERY_SIZE(len));
        if (i < 2) {
            /* one byte more than 3 * qlen: the old module size */
            assert_int_equal(n, 3 * (long) len + 1);
        }
        free(scratch);
        free(out);
    }
}


static void
test_derive_key(void **state)
{
    char  key[MALL_SIGN_KEY_LEN];
    char  other[MALL_SIGN_KEY_LEN];

    (void) state;
    assert_int_equal(mall_sign_derive_key((const uint8_t *) SECRET,
                                          strlen(SECRET), JTI, strlen(JTI),
                                          key), 0);
    assert_memory_equal(key, SIGN_KEY, MALL_SIGN_KEY_LEN);

    /* another jti or another secret: another key */
    assert_int_equal(mall_sign_derive_key((const uint8_t *) SECRET,
                                          strlen(SECRET), "tok-7Hq2ZpX8", 12,
                                          other), 0);
    assert_memory_not_equal(key, other, MALL_SIGN_KEY_LEN);
    assert_int_equal(mall_sign_derive_key((const uint8_t *) SECRET, 63,
                                          JTI, strlen(JTI), other), 0);
    assert_memory_not_equal(key, other, MALL_SIGN_KEY_LEN);
}


/* EXAMPLE in sign_vectors.py */
static const char  example_body[] = "{\"items\":[{\"sku_id\":\"sku-1001\","
                                    "\"quantity\":2}],\"address_id\":"
                                    "\"addr-1\",\"coupon\":\"auto\"}";
#define EXAMPLE_QUERY  "size=20&a=2&a=1&q=red+shoes&city=%E4%B8%8A%E6%B5%B7&flag"


static void
test_post_example(void **state)
{
    static const char  expect[] =
        "POST\n/api/v1/orders\n"
        "a=1&a=2&city=%E4%B8%8A%E6%B5%B7&flag=&q=red%20shoes&size=20\n"
        "1700000000\nn-4f9c2a7e1b3d5f60\n"
        "c48f2c88e00d10123bace91a459ac592087aa9b4fdeb1ad1217136f578f5c23c";
    char               cquery[512], canon[1024], hex[64];
    char               sig[MALL_SIGN_SIG_LEN];
    long               qn, n;

    (void) state;
    qn = cq(EXAMPLE_QUERY, cquery);
    assert_true(qn > 0);

    mall_sha256_hex(example_body, strlen(example_body), hex);
    n = mall_sign_canonical("POST", 4, "/api/v1/orders", 14, cquery,
                            (size_t) qn, "1700000000", 10,
                            "n-4f9c2a7e1b3d5f60", 18, hex, canon,
                            sizeof(canon));
    assert_int_equal(n, strlen(expect));
    assert_memory_equal(canon, expect, (size_t) n);

    assert_int_equal(mall_sign_compute(SIGN_KEY, strlen(SIGN_KEY), canon,
                                       (size_t) n, sig), 0);
    assert_memory_equal(sig, "CsIL2hHMnFGWNSFJ47FT2utQuTBkgg0HYuS6f9RTAys",
                        MALL_SIGN_SIG_LEN);

    /* one byte of the body, the nonce or the query changes it */
    canon[n - 1] ^= 1;
    assert_int_equal(mall_sign_compute(SIGN_KEY, strlen(SIGN_KEY), canon,
                                       (size_t) n, sig), 0);
    assert_memory_not_equal(sig, "CsIL2hHMnFGWNSFJ47FT2utQuTBkgg0HYuS6f9RTAys",
                            MALL_SIGN_SIG_LEN);

    /* the canonical string must fit */
    assert_int_equal(mall_sign_canonical("POST", 4, "/api/v1/orders", 14,
                                         cquery, (size_t) qn, "1700000000",
                                         10, "n-4f9c2a7e1b3d5f60", 18, hex,
                                         canon, (size_t) n - 1), -1);
    assert_int_equal(mall_sign_canonical("POST", 4, "/api/v1/orders", 14,
                                         cquery, (size_t) qn, "1700000000",
                                         10, "n-4f9c2a7e1b3d5f60", 18, hex,
                                         canon, (size_t) n), n);
}


/* version 2: the Idempotency-Key is the line before the body hash */
static void
test_v2_example(void **state)
{
    static const char  expect[] =
        "POST\n/api/v1/orders\n"
        "a=1&a=2&city=%E4%B8%8A%E6%B5%B7&flag=&q=red%20shoes&size=20\n"
        "1700000000\nn-4f9c2a7e1b3d5f60\norder-2f1c9a7e-5b3d\n"
        "c48f2c88e00d10123bace91a459ac592087aa9b4fdeb1ad1217136f578f5c23c";
    char               cquery[512], canon[1024], v1[1024], hex[64];
    char               sig[MALL_SIGN_SIG_LEN];
    long               qn, n, n1;

    (void) state;
    qn = cq(EXAMPLE_QUERY, cquery);
    assert_true(qn > 0);

    mall_sha256_hex(example_body, strlen(example_body), hex);
    n = mall_sign_canonical_v2("POST", 4, "/api/v1/orders", 14, cquery,
                               (size_t) qn, "1700000000", 10,
                               "n-4f9c2a7e1b3d5f60", 18,
                               "order-2f1c9a7e-5b3d", 19, hex, canon,
                               sizeof(canon));
    assert_int_equal(n, strlen(expect));
    assert_memory_equal(canon, expect, (size_t) n);
    assert_int_equal(mall_sign_compute(SIGN_KEY, strlen(SIGN_KEY), canon,
                                       (size_t) n, sig), 0);
    assert_memory_equal(sig, "2zSXF6c8pN78s4qjoNpf3XTPsDOQwUS6Pz78vmMIrJ0",
                        MALL_SIGN_SIG_LEN);

    /* no key: an empty line, never the v1 string */
    n = mall_sign_canonical_v2("POST", 4, "/api/v1/orders", 14, cquery,
                               (size_t) qn, "1700000000", 10,
                               "n-4f9c2a7e1b3d5f60", 18, NULL, 0, hex, canon,
                               sizeof(canon));
    n1 = mall_sign_canonical("POST", 4, "/api/v1/orders", 14, cquery,
                             (size_t) qn, "1700000000", 10,
                             "n-4f9c2a7e1b3d5f60", 18, hex, v1, sizeof(v1));
    assert_int_equal(n, n1 + 1);
    assert_int_equal(mall_sign_canonical_v2("POST", 4, "/api/v1/orders", 14,
                                            cquery, (size_t) qn,
                                            "1700000000", 10,
                                            "n-4f9c2a7e1b3d5f60", 18, "k", 1,
                                            hex, canon, (size_t) n), -1);
}


static void
test_get_example(void **state)
{
    static const char  expect[] =
        "GET\n/api/v1/users/me\n\n1700000123\nabcdefghijklmnop\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    char               canon[256], hex[64], sig[MALL_SIGN_SIG_LEN];
    long               n;

    (void) state;
    mall_sha256_hex("", 0, hex);
    n = mall_sign_canonical("GET", 3, "/api/v1/users/me", 16, "", 0,
                            "1700000123", 10, "abcdefghijklmnop", 16, hex,
                            canon, sizeof(canon));
    assert_int_equal(n, strlen(expect));
    assert_memory_equal(canon, expect, (size_t) n);
    assert_int_equal(mall_sign_compute(SIGN_KEY, strlen(SIGN_KEY), canon,
                                       (size_t) n, sig), 0);
    assert_memory_equal(sig, "FQ3IpAObP_cHX3YegeoxcYMVsMMApvmxFEgngu33Kt4",
                        MALL_SIGN_SIG_LEN);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canonical_query_vectors),
        cmocka_unit_test(test_canonical_query_cases),
        cmocka_unit_test(test_canonical_query_refusals),
        cmocka_unit_test(test_canonical_query_bound),
        cmocka_unit_test(test_canonical_query_caller_sizes),
        cmocka_unit_test(test_derive_key),
        cmocka_unit_test(test_post_example),
        cmocka_unit_test(test_v2_example),
        cmocka_unit_test(test_get_example),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
