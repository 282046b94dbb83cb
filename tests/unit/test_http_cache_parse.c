/*
 * Unit tests of lib/mall_http_cache_parse.c: Cache-Control lists (and the
 * strict Structured Field form), delta-seconds, Age, entity-tag lists,
 * field-name lists, Vary names and normalised values, Accept-Encoding.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "mall_http_cache_parse.h"

#define S(s)  s, sizeof(s) - 1


static int
cc(const char *v, int strict, mall_http_cache_cc_t *c)
{
    mall_http_cache_cc_init(c);
    return mall_http_cache_cc_line(v, strlen(v), strict, c);
}


static void
test_cc_directives(void **state)
{
    mall_http_cache_cc_t  c;

    (void) state;

    assert_int_equal(cc("", 0, &c), 0);
    assert_int_equal(c.maxage, -1);
    assert_int_equal(c.smaxage, -1);

    assert_int_equal(cc(" Public ,MAX-AGE=60,\ts-maxage = 30 , no-store", 0,
                        &c), 0);
    assert_true(c.public);
    assert_true(c.no_store);
    assert_int_equal(c.maxage, 60);
    assert_int_equal(c.smaxage, 30);
    assert_int_equal(c.swr, -1);

    /* the first occurrence wins; a bad value is stale (0) */
    assert_int_equal(cc("max-age=10, max-age=99", 0, &c), 0);
    assert_int_equal(c.maxage, 10);
    assert_int_equal(cc("max-age=abc, max-age=99", 0, &c), 0);
    assert_int_equal(c.maxage, 0);
    assert_int_equal(cc("max-age=, s-maxage=-1", 0, &c), 0);
    assert_int_equal(c.maxage, 0);
    assert_int_equal(c.smaxage, 0);
    assert_int_equal(cc("max-age=\"30\"", 0, &c), 0);
    assert_int_equal(c.maxage, 30);

    /* overflow: 2^31 read as delta-seconds, kept as 2^31 - 1 */
    assert_int_equal(cc("max-age=99999999999999999999999", 0, &c), 0);
    assert_int_equal(c.maxage, 0x7fffffff);

    /* qualified no-cache / private name fields; unqualified, the whole */
    assert_int_equal(cc("no-cache=\"Set-Cookie, X-A\", private", 0, &c), 0);
    assert_false(c.no_cache);
    assert_true(c.private);
    assert_int_equal(c.no_cache_fields_len, 15);
    assert_memory_equal(c.no_cache_fields, "Set-Cookie, X-A", 15);

    /* a quoted string with an escaped quote and a comma inside */
    assert_int_equal(cc("private=\"a\\\"b,c\", max-age=5", 0, &c), 0);
    assert_int_equal(c.private_fields_len, 6);
    assert_memory_equal(c.private_fields, "a\\\"b,c", 6);
    assert_int_equal(c.maxage, 5);
    assert_false(c.private);

    /* request directives */
    assert_int_equal(cc("min-fresh=5, max-stale, only-if-cached", 0, &c), 0);
    assert_int_equal(c.min_fresh, 5);
    assert_true(c.max_stale_any);
    assert_int_equal(c.max_stale, -1);
    assert_true(c.only_if_cached);
    assert_int_equal(cc("max-stale=7", 0, &c), 0);
    assert_false(c.max_stale_any);
    assert_int_equal(c.max_stale, 7);

    /* lenient: an unterminated string ends the line */
    assert_int_equal(cc("no-cache=\"a, max-age=5", 0, &c), 0);
    assert_int_equal(c.maxage, -1);
    assert_int_equal(c.no_cache_fields_len, 12);

    /* stale-* */
    assert_int_equal(cc("stale-while-revalidate=9,stale-if-error=8", 0, &c),
                     0);
    assert_int_equal(c.swr, 9);
    assert_int_equal(c.sie, 8);
}


static void
test_cc_strict(void **state)
{
    mall_http_cache_cc_t  c;

    (void) state;

    assert_int_equal(cc("max-age=60, must-revalidate", 1, &c), 0);
    assert_int_equal(c.maxage, 60);
    assert_true(c.must_revalidate);
    assert_int_equal(cc("max-age=60;a=1, *x", 1, &c), 0);
    assert_int_equal(c.maxage, 60);
    assert_int_equal(cc("no-cache=\"x\"", 1, &c), 0);

    /* keys are lowercase, values are present, strings terminated */
    assert_int_equal(cc("Max-Age=60", 1, &c), -1);
    assert_int_equal(cc("max-age=", 1, &c), -1);
    assert_int_equal(cc("no-cache=\"x", 1, &c), -1);
    assert_int_equal(cc("max-age=60 junk", 1, &c), -1);
    assert_int_equal(cc("1max-age=60", 1, &c), -1);
    /* the lenient reading of the same lines */
    assert_int_equal(cc("Max-Age=60", 0, &c), 0);
    assert_int_equal(c.maxage, 60);

    assert_true(mall_http_cache_sf_key(S("*a-b_c.9")));
    assert_false(mall_http_cache_sf_key(S("")));
    assert_false(mall_http_cache_sf_key(S("a B")));
    assert_false(mall_http_cache_sf_key(S("-a")));
}


static void
test_delta_age(void **state)
{
    (void) state;

    assert_int_equal(mall_http_cache_delta(S("0")), 0);
    assert_int_equal(mall_http_cache_delta(S("0042")), 42);
    assert_int_equal(mall_http_cache_delta(S("2147483647")), 2147483647LL);
    assert_int_equal(mall_http_cache_delta(S("2147483648")),
                     MALL_HTTP_CACHE_DELTA_MAX);
    assert_int_equal(mall_http_cache_delta(S("2147483649")),
                     MALL_HTTP_CACHE_DELTA_MAX);
    assert_int_equal(
        mall_http_cache_delta(S("184467440737095516160000000000")),
        MALL_HTTP_CACHE_DELTA_MAX);
    assert_int_equal(mall_http_cache_delta(S("")), -1);
    assert_int_equal(mall_http_cache_delta(S("-1")), -1);
    assert_int_equal(mall_http_cache_delta(S("1.5")), -1);
    assert_int_equal(mall_http_cache_delta(S(" 1")), -1);

    assert_int_equal(mall_http_cache_age(S(" 12 ")), 12);
    assert_int_equal(mall_http_cache_age(S("12, 99")), 12);  /* the first */
    assert_int_equal(mall_http_cache_age(S("x, 5")), -1);
    assert_int_equal(mall_http_cache_age(S("")), -1);
    assert_int_equal(mall_http_cache_age(S("99999999999")),
                     MALL_HTTP_CACHE_DELTA_MAX);
}


static int
inm(const char *list, const char *etag)
{
    return mall_http_cache_etag_listed(list, strlen(list), etag,
                                       strlen(etag));
}


static void
test_etag(void **state)
{
    (void) state;

    assert_true(inm("\"a\"", "\"a\""));
    assert_false(inm("\"a\"", "\"b\""));
    /* weak comparison: W/ ignored on either side */
    assert_true(inm("W/\"a\"", "\"a\""));
    assert_true(inm("\"a\"", "W/\"a\""));
    assert_true(inm("W/\"a\"", "W/\"a\""));
    assert_false(inm("w/\"a\"", "\"a\""));        /* W is case-sensitive */
    /* lists, spaces, the second member, "*" */
    assert_true(inm(" \"x\" ,\t W/\"a\"", "\"a\""));
    assert_true(inm("\"x\", *", "\"a\""));
    assert_false(inm("\"x\",,\"y\"", "\"a\""));
    /* a comma inside an entity-tag is part of it */
    assert_true(inm("\"a,b\"", "\"a,b\""));
    assert_false(inm("\"a,b\"", "\"a\""));
    /* not entity-tags: skipped; an unterminated one ends the list */
    assert_true(inm("a, \"a\"", "\"a\""));
    assert_false(inm("\"a", "\"a\""));
    assert_false(inm("", "\"a\""));
    assert_false(inm("\"\"", "\"a\""));
    assert_true(inm("\"\"", "\"\""));
}


static void
test_field_listed(void **state)
{
    (void) state;

    assert_true(mall_http_cache_field_listed(S("Set-Cookie, X-A"),
                                             S("set-cookie")));
    assert_true(mall_http_cache_field_listed(S("Set-Cookie,\tX-A"),
                                             S("x-a")));
    assert_false(mall_http_cache_field_listed(S("Set-Cookie2"),
                                              S("Set-Cookie")));
    assert_false(mall_http_cache_field_listed(S(""), S("a")));
}


static void
test_vary_names(void **state)
{
    char    out[64];
    size_t  n;

    (void) state;

    n = 0;
    assert_int_equal(mall_http_cache_vary_names(S(" Accept-Language ,X-Ab"),
                                                out, &n), 0);
    assert_int_equal(mall_http_cache_vary_names(S("accept-encoding, Cookie"),
                                                out, &n), 0);
    assert_int_equal(n, strlen("accept-language,x-ab,cookie"));
    assert_memory_equal(out, "accept-language,x-ab,cookie", n);

    n = 0;
    assert_int_equal(mall_http_cache_vary_names(S("Accept-Encoding"), out,
                                                &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(mall_http_cache_vary_names(S("a, *"), out, &n), -1);
}


static void
vary(const char *in, int lang, const char *want)
{
    char    out[1024], again[2048];
    size_t  n, m;

    n = mall_http_cache_vary_value(in, strlen(in), lang, out);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(out, want, n);

    /* normalising it again changes nothing */
    m = mall_http_cache_vary_value(out, n, lang, again);
    assert_int_equal(m, n);
    assert_memory_equal(again, out, n);
}


static void
test_vary_value(void **state)
{
    char        in[512], want[512];
    size_t      i;

    (void) state;

    vary("", 0, "");
    vary(" a ,, b\t,c d ", 0, "a,b,c d");
    /* two lines joined by the caller: the same as one */
    vary("a, b,c", 0, "a,b,c");
    /* Accept-Language: case, spaces, weight, then name */
    vary("EN-us, fr;q=0.5 ,de ; q=0.9", 1, "en-us,de;q=0.9,fr;q=0.5");
    vary("fr;q=0.5, en-US", 1, "en-us,fr;q=0.5");
    vary("en-us,fr;q=0.5", 1, "en-us,fr;q=0.5");
    vary("b, a, a;q=1, c;q=0", 1, "a,a;q=1,b,c;q=0");
    vary("y;q=0.12, x;q=0.123456", 1, "x;q=0.123456,y;q=0.12");
    vary("x;Q=0.5, y", 1, "y,x;q=0.5");

    /* only the first MALL_HTTP_CACHE_VARY_MEMBERS members count */
    in[0] = '\0';
    want[0] = '\0';
    for (i = 0; i < MALL_HTTP_CACHE_VARY_MEMBERS + 3; i++) {
        char  m[8];

        m[0] = (char) ('a' + i / 26);
        m[1] = (char) ('a' + i % 26);
        m[2] = '\0';
        strcat(in, i ? ", " : "");
        strcat(in, m);
        if (i < MALL_HTTP_CACHE_VARY_MEMBERS) {
            strcat(want, i ? "," : "");
            strcat(want, m);
        }
    }
    assert_true(strlen(in) * 2 <= 1024);
    vary(in, 1, want);

    assert_int_equal(mall_http_cache_lang_q(S("en")), 1000);
    assert_int_equal(mall_http_cache_lang_q(S("en;q=0")), 0);
    assert_int_equal(mall_http_cache_lang_q(S("en;q=0.7")), 700);
    assert_int_equal(mall_http_cache_lang_q(S("en;q=0.075")), 75);
    assert_int_equal(mall_http_cache_lang_q(S("en;q=1.0")), 1000);
    assert_int_equal(mall_http_cache_lang_q(S("en;q=x")), 1000);
    assert_int_equal(mall_http_cache_lang_q(S("en;q=")), 1000);
}


static void
test_accepts(void **state)
{
    (void) state;

    assert_true(mall_http_cache_accepts(S("gzip, br"), S("gzip")));
    assert_true(mall_http_cache_accepts(S("br;q=0.5, GZIP ; q=0.1"),
                                        S("gzip")));
    assert_false(mall_http_cache_accepts(S("gzip;q=0"), S("gzip")));
    assert_false(mall_http_cache_accepts(S("gzip;q=0.000"), S("gzip")));
    assert_false(mall_http_cache_accepts(S("br"), S("gzip")));
    assert_false(mall_http_cache_accepts(S("gzi"), S("gzip")));
    assert_false(mall_http_cache_accepts(S("gzip"), S("")));
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_cc_directives),
        cmocka_unit_test(test_cc_strict),
        cmocka_unit_test(test_delta_age),
        cmocka_unit_test(test_etag),
        cmocka_unit_test(test_field_listed),
        cmocka_unit_test(test_vary_names),
        cmocka_unit_test(test_vary_value),
        cmocka_unit_test(test_accepts),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
