/*
 * Unit tests of lib/mall_http_cache_key.c: the query part of a cache key
 * (order, ignored and default parameters, repeated decoded names, the
 * parameter and length limits) and the workers' name decoding.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "mall_http_cache_key.h"


/* ignores utm_* and spm, drops page=1 */
static int
classify(void *arg, const char *name, size_t nlen, const char *value,
    size_t vlen)
{
    (void) arg;

    if ((nlen >= 4 && memcmp(name, "utm_", 4) == 0)
        || (nlen == 3 && memcmp(name, "spm", 3) == 0))
    {
        return MALL_HTTP_CACHE_ARG_IGNORE;
    }

    if (nlen == 4 && memcmp(name, "page", 4) == 0 && vlen == 1
        && value[0] == '1')
    {
        return MALL_HTTP_CACHE_ARG_DEFAULT;
    }

    return MALL_HTTP_CACHE_ARG_KEEP;
}


static int
query(const char *args, size_t max, char *out, size_t *olen)
{
    char  scratch[2048];

    return mall_http_cache_query(args, strlen(args), classify, NULL, max,
                                 out, olen, scratch);
}


static void
expect(const char *args, const char *want)
{
    char    out[4096];
    size_t  n;

    assert_int_equal(query(args, sizeof(out), out, &n),
                     MALL_HTTP_CACHE_KEY_OK);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(out, want, n);
}


static void
test_order(void **state)
{
    (void) state;

    expect("", "");
    expect("b=2&a=1", "?a=1&b=2");
    expect("size=20&page=1&utm_x=1", "?size=20");
    expect("page=1&spm=a&utm_source=x", "");
    expect("page=2", "?page=2");
    /* empty items and nameless ones skipped; no '=' reads as empty */
    expect("&&b&=x&a=", "?a=&b=");
    /* a value with '=' in it; raw bytes, not decoded, in the key */
    expect("q=a=b&p=%41", "?p=%41&q=a=b");
    /* the same name, different values: order by value */
    expect("x=2&y=1&xa=0", "?x=2&xa=0&y=1");
}


static void
test_duplicates(void **state)
{
    char    out[512];
    size_t  n;

    (void) state;

    assert_int_equal(query("page=1&page=7", sizeof(out), out, &n),
                     MALL_HTTP_CACHE_KEY_DUP);
    /* decoded as the workers read them: %70age and p+ are page / "p " */
    assert_int_equal(query("page=2&%70age=3", sizeof(out), out, &n),
                     MALL_HTTP_CACHE_KEY_DUP);
    assert_int_equal(query("a%20b=1&a+b=2", sizeof(out), out, &n),
                     MALL_HTTP_CACHE_KEY_DUP);
    /* an ignored one may repeat */
    assert_int_equal(query("utm_a=1&utm_a=2&q=1", sizeof(out), out, &n),
                     MALL_HTTP_CACHE_KEY_OK);
}


static void
test_limits(void **state)
{
    char    args[1024], out[1024];
    size_t  i, n, len;

    (void) state;

    len = 0;
    for (i = 0; i < MALL_HTTP_CACHE_ARGS_MAX; i++) {
        len += (size_t) sprintf(args + len, "%sa%zu", i ? "&" : "", i);
    }
    assert_int_equal(query(args, sizeof(out), out, &n),
                     MALL_HTTP_CACHE_KEY_OK);
    /* every one of them without '=': the room the header promises */
    assert_true(n <= MALL_HTTP_CACHE_QUERY_ROOM(len));

    sprintf(args + len, "&z");
    assert_int_equal(query(args, sizeof(out), out, &n),
                     MALL_HTTP_CACHE_KEY_LONG);
    /* ignored ones are not counted */
    sprintf(args + len, "&utm_z");
    assert_int_equal(query(args, sizeof(out), out, &n),
                     MALL_HTTP_CACHE_KEY_OK);

    /* the length limit: "?a=1&b=2" is 8 bytes */
    assert_int_equal(query("a=1&b=2", 8, out, &n), MALL_HTTP_CACHE_KEY_OK);
    assert_int_equal(query("a=1&b=2", 7, out, &n), MALL_HTTP_CACHE_KEY_LONG);
    /* a default is not part of the length */
    assert_int_equal(query("a=1&page=1", 4, out, &n), MALL_HTTP_CACHE_KEY_OK);
    /* too long wins over a repeated name */
    assert_int_equal(query("a=1&a=2", 4, out, &n), MALL_HTTP_CACHE_KEY_LONG);
}


static void
test_decode(void **state)
{
    char    out[32];
    size_t  n;

    (void) state;

    n = mall_http_cache_arg_decode("a%41+%4a", 8, out);
    assert_int_equal(n, 4);
    assert_memory_equal(out, "aA J", 4);
    /* bad or short escapes stay */
    n = mall_http_cache_arg_decode("%zz%4", 5, out);
    assert_int_equal(n, 5);
    assert_memory_equal(out, "%zz%4", 5);
    n = mall_http_cache_arg_decode("%41", 3, out);
    assert_int_equal(n, 1);
    assert_memory_equal(out, "A", 1);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_decode),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
