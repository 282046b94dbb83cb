/* Unit tests of lib/mall_json_flat.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "mall_json_flat.h"

#define MAXM  16


static int
parse(const char *s, mall_json_member_t *m)
{
    return mall_json_flat_parse(s, strlen(s), m, MAXM);
}


static void
test_valid_object(void **state)
{
    mall_json_member_t         m[MAXM];
    const mall_json_member_t  *p;
    int64_t                    v;
    char                       out[64];

    (void) state;
    assert_int_equal(parse(" {\"sub\" : \"u-1\", \"iat\":1700000000,"
                           "\"ok\":true,\"no\":false,\"nil\":null,"
                           "\"pi\":-3.14e+2,\"arr\":[1,\"x\",{\"a\":[]}],"
                           "\"obj\":{\"k\":{\"z\":null}}}\r\n\t", m), 8);

    p = mall_json_flat_get(m, 8, "sub");
    assert_non_null(p);
    assert_int_equal(p->type, MALL_JSON_STRING);
    assert_int_equal(p->val_len, 3);
    assert_memory_equal(p->val, "u-1", 3);
    assert_int_equal(p->escaped, 0);
    assert_int_equal(mall_json_flat_string(p, out, sizeof(out)), 3);
    assert_string_equal(out, "u-1");

    p = mall_json_flat_get(m, 8, "iat");
    assert_int_equal(p->type, MALL_JSON_NUMBER);
    assert_int_equal(mall_json_flat_int(p, &v), 0);
    assert_int_equal(v, 1700000000);
    assert_int_equal(mall_json_flat_string(p, out, sizeof(out)), -1);

    assert_int_equal(mall_json_flat_get(m, 8, "ok")->type, MALL_JSON_BOOL);
    assert_int_equal(mall_json_flat_get(m, 8, "no")->type, MALL_JSON_BOOL);
    assert_int_equal(mall_json_flat_get(m, 8, "nil")->type, MALL_JSON_NULL);

    p = mall_json_flat_get(m, 8, "pi");
    assert_int_equal(p->type, MALL_JSON_NUMBER);
    assert_int_equal(mall_json_flat_int(p, &v), -1);   /* not an integer */

    p = mall_json_flat_get(m, 8, "arr");
    assert_int_equal(p->type, MALL_JSON_ARRAY);
    assert_int_equal(p->val_len, strlen("[1,\"x\",{\"a\":[]}]"));
    assert_memory_equal(p->val, "[1,\"x\",{\"a\":[]}]", p->val_len);

    p = mall_json_flat_get(m, 8, "obj");
    assert_int_equal(p->type, MALL_JSON_OBJECT);
    assert_memory_equal(p->val, "{\"k\":{\"z\":null}}", p->val_len);

    assert_null(mall_json_flat_get(m, 8, "missing"));
    assert_null(mall_json_flat_get(m, 8, "su"));
    assert_null(mall_json_flat_get(m, 8, "subx"));
}


static void
test_empty_object(void **state)
{
    mall_json_member_t  m[MAXM];

    (void) state;
    assert_int_equal(parse("{}", m), 0);
    assert_int_equal(parse(" { } ", m), 0);
    assert_int_equal(mall_json_flat_parse("{}", 2, NULL, 0), 0);
    assert_int_equal(mall_json_flat_parse("{\"a\":1}", 7, m, 0), -1);
}


static void
test_escapes(void **state)
{
    mall_json_member_t  m[MAXM];
    char                out[64];
    int                 n;

    (void) state;
    n = parse("{\"s\":\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\","
              "\"u\":\"\\u00e9\\u4E2D\\ud83d\\ude00\","
              "\"raw\":\"\xe4\xb8\xad\xf0\x9f\x98\x80\"}", m);
    assert_int_equal(n, 3);

    assert_int_equal(m[0].escaped, 1);
    assert_int_equal(mall_json_flat_string(&m[0], out, sizeof(out)), 12);
    assert_string_equal(out, "a\"b\\c/d\b\f\n\r\t");

    /* U+00E9, U+4E2D, U+1F600 (surrogate pair) as UTF-8 */
    assert_int_equal(mall_json_flat_string(&m[1], out, sizeof(out)), 9);
    assert_string_equal(out, "\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80");

    assert_int_equal(m[2].escaped, 0);
    assert_int_equal(mall_json_flat_string(&m[2], out, sizeof(out)), 7);
    assert_string_equal(out, "\xe4\xb8\xad\xf0\x9f\x98\x80");

    /* too small an output buffer */
    assert_int_equal(mall_json_flat_string(&m[0], out, 12), -1);
    assert_int_equal(mall_json_flat_string(&m[2], out, 7), -1);
    assert_int_equal(mall_json_flat_string(&m[2], out, 8), 7);

    /* a decoded NUL cannot be a C string */
    assert_int_equal(parse("{\"s\":\"adm\\u0000in\"}", m), 1);
    assert_int_equal(mall_json_flat_string(&m[0], out, sizeof(out)), -1);
}


static void
test_bad_strings(void **state)
{
    static const char   *bad[] = {
        "{\"s\":\"\\x\"}",                  /* unknown escape */
        "{\"s\":\"\\u12\"}",                /* short \u */
        "{\"s\":\"\\u12G4\"}",
        "{\"s\":\"\\ud83d\"}",              /* lone high surrogate */
        "{\"s\":\"\\ud83dx\"}",
        "{\"s\":\"\\ud83d\\u0041\"}",       /* high + non-low */
        "{\"s\":\"\\ude00\"}",              /* lone low surrogate */
        "{\"s\":\"a\tb\"}",                 /* raw control character */
        "{\"s\":\"a\nb\"}",
        "{\"s\":\"\xc3\"}",                 /* truncated UTF-8 */
        "{\"s\":\"\xc0\xaf\"}",             /* overlong */
        "{\"s\":\"\xed\xa0\x80\"}",         /* encoded surrogate */
        "{\"s\":\"\xf4\x90\x80\x80\"}",     /* > U+10FFFF */
        "{\"s\":\"\xff\"}",
        "{\"s\":\"abc}",                    /* unterminated */
        "{\"s\":\"abc\\\"}",
        "{'s':1}",
        "{s:1}",
    };
    mall_json_member_t  m[MAXM];
    size_t              i;

    (void) state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(parse(bad[i], m), -1);
    }
}


static void
test_numbers_literals(void **state)
{
    static const char   *good[] = {
        "{\"n\":0}", "{\"n\":-0}", "{\"n\":12}", "{\"n\":1.5}",
        "{\"n\":1e5}", "{\"n\":1E-5}", "{\"n\":-0.0e+0}",
    };
    static const char   *bad[] = {
        "{\"n\":01}", "{\"n\":+1}", "{\"n\":-}", "{\"n\":1.}",
        "{\"n\":.5}", "{\"n\":1e}", "{\"n\":1e+}", "{\"n\":0x10}",
        "{\"n\":NaN}", "{\"n\":Infinity}", "{\"n\":tru}", "{\"n\":True}",
        "{\"n\":nul}", "{\"n\":falsey}", "{\"n\":}", "{\"n\"}", "{\"n\" 1}",
    };
    mall_json_member_t  m[MAXM];
    size_t              i;

    (void) state;
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_int_equal(parse(good[i], m), 1);
        assert_int_equal(m[0].type, MALL_JSON_NUMBER);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(parse(bad[i], m), -1);
    }
}


static void
test_int_range(void **state)
{
    mall_json_member_t  m[MAXM];
    int64_t             v;

    (void) state;
    assert_int_equal(parse("{\"a\":9223372036854775807,"
                           "\"b\":-9223372036854775808,"
                           "\"c\":9223372036854775808,"
                           "\"d\":-9223372036854775809,"
                           "\"e\":1e3,\"f\":-0,\"g\":\"5\"}", m), 7);
    assert_int_equal(mall_json_flat_int(&m[0], &v), 0);
    assert_true(v == INT64_MAX);
    assert_int_equal(mall_json_flat_int(&m[1], &v), 0);
    assert_true(v == INT64_MIN);
    assert_int_equal(mall_json_flat_int(&m[2], &v), -1);
    assert_int_equal(mall_json_flat_int(&m[3], &v), -1);
    assert_int_equal(mall_json_flat_int(&m[4], &v), -1);
    assert_int_equal(mall_json_flat_int(&m[5], &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(mall_json_flat_int(&m[6], &v), -1);
}


static void
test_duplicate_keys(void **state)
{
    mall_json_member_t  m[MAXM];

    (void) state;
    assert_int_equal(parse("{\"sub\":\"a\",\"sub\":\"b\"}", m), -1);
    assert_int_equal(parse("{\"sub\":\"a\",\"x\":1,\"sub\":1}", m), -1);
    /* the same key spelt with an escape is still the same key */
    assert_int_equal(parse("{\"sub\":\"a\",\"\\u0073ub\":\"admin\"}", m), -1);
    assert_int_equal(parse("{\"a\\/b\":1,\"a/b\":2}", m), -1);
    /* duplicates inside a nested object are not ours to judge */
    assert_int_equal(parse("{\"o\":{\"a\":1,\"a\":2}}", m), 1);
    /* similar but different keys */
    assert_int_equal(parse("{\"sub\":1,\"subs\":2,\"su\":3,\"Sub\":4}", m), 4);
}


static void
test_escaped_key_lookup(void **state)
{
    mall_json_member_t  m[MAXM];

    (void) state;
    assert_int_equal(parse("{\"\\u0061lg\":\"HS256\"}", m), 1);
    assert_non_null(mall_json_flat_get(m, 1, "alg"));
    assert_null(mall_json_flat_get(m, 1, "\\u0061lg"));
    assert_null(mall_json_flat_get(m, 1, "al"));
    assert_null(mall_json_flat_get(m, 1, "algx"));
}


static void
test_structure_errors(void **state)
{
    static const char   *bad[] = {
        "", " ", "[]", "\"a\"", "1", "null",
        "{", "{\"a\"", "{\"a\":", "{\"a\":1", "{\"a\":1,", "{\"a\":1,}",
        "{,}", "{\"a\":1 \"b\":2}", "{\"a\":1}}", "{\"a\":1}x",
        "{\"a\":1} {}", "{\"a\":[1,]}", "{\"a\":[1 2]}", "{\"a\":[}",
        "{\"a\":{\"b\"}}", "{\"a\":{1:2}}", "{\"a\":[1}", "{\"a\":{]}",
    };
    mall_json_member_t  m[MAXM];
    size_t              i;

    (void) state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(parse(bad[i], m), -1);
    }

    /* every proper prefix of a valid object is refused */
    {
        const char  *ok = "{\"a\":[1,{\"b\":\"c\\u00e9\"}],\"d\":true}";
        size_t       len;

        assert_int_equal(parse(ok, m), 2);
        for (len = 0; len < strlen(ok); len++) {
            assert_int_equal(mall_json_flat_parse(ok, len, m, MAXM), -1);
        }
    }

    /* the length is honoured: bytes past len are not read */
    assert_int_equal(mall_json_flat_parse("{\"a\":1}garbage", 7, m, MAXM), 1);
}


static void
test_too_many_members(void **state)
{
    mall_json_member_t  m[4];

    (void) state;
    assert_int_equal(mall_json_flat_parse("{\"a\":1,\"b\":2,\"c\":3,\"d\":4}",
                                          25, m, 4), 4);
    assert_int_equal(mall_json_flat_parse(
                         "{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5}", 31, m, 4),
                     -1);
}


static void
test_depth(void **state)
{
    mall_json_member_t  m[MAXM];
    char                buf[64];
    int                 d;

    (void) state;
    /* the top-level object is depth 1: 7 nested arrays make 8, allowed */
    assert_int_equal(parse("{\"a\":[[[[[[[1]]]]]]]}", m), 1);
    assert_int_equal(parse("{\"a\":[[[[[[[[1]]]]]]]]}", m), -1);
    assert_int_equal(parse("{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":"
                           "{}}}}}}}}", m), 1);
    assert_int_equal(parse("{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":"
                           "{\"h\":{}}}}}}}}}", m), -1);

    /* deep nesting is refused quickly, however deep it goes */
    for (d = 8; d < 30; d++) {
        memset(buf, '[', sizeof(buf));
        memcpy(buf, "{\"a\":", 5);
        assert_int_equal(mall_json_flat_parse(buf, 5 + (size_t) d, m, MAXM),
                         -1);
    }
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_object),
        cmocka_unit_test(test_empty_object),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_bad_strings),
        cmocka_unit_test(test_numbers_literals),
        cmocka_unit_test(test_int_range),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_escaped_key_lookup),
        cmocka_unit_test(test_structure_errors),
        cmocka_unit_test(test_too_many_members),
        cmocka_unit_test(test_depth),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
