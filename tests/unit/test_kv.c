/* Unit tests of lib/mall_kv.c: query and cookie walks, decoding. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "mall_kv.h"

typedef struct {
    char    out[512];
    size_t  len;
    int     stop_after;
    int     n;
} acc_t;


static int
collect(void *arg, const uint8_t *name, size_t nlen, const uint8_t *val,
    size_t vlen)
{
    acc_t  *a = arg;

    a->len += (size_t) snprintf(a->out + a->len, sizeof(a->out) - a->len,
                                "[%.*s|%s%.*s]", (int) nlen,
                                (const char *) name, val ? "=" : "",
                                (int) vlen, val ? (const char *) val : "");
    return ++a->n == a->stop_after;
}


static const char *
walk(const char *s, int sep, size_t max, int stop_after, int *more)
{
    static acc_t  a;

    memset(&a, 0, sizeof(a));
    a.stop_after = stop_after;
    mall_kv_walk((const uint8_t *) s, strlen(s), sep, max, collect, &a,
                 more);
    return a.out;
}


static void
test_query(void **state)
{
    int  more;

    (void) state;
    assert_string_equal(walk("a=1&&b&c=&=d", MALL_KV_QUERY, 10, 0, &more),
                        "[a|=1][b|][c|=][|=d]");
    assert_int_equal(more, 0);
    /* spaces are data in a query */
    assert_string_equal(walk(" a = 1", MALL_KV_QUERY, 10, 0, &more),
                        "[ a |= 1]");
    assert_string_equal(walk("", MALL_KV_QUERY, 10, 0, &more), "");
}


static void
test_max_and_stop(void **state)
{
    int  more;

    (void) state;
    assert_string_equal(walk("a=1&b=2&c=3", MALL_KV_QUERY, 2, 0, &more),
                        "[a|=1][b|=2]");
    assert_int_equal(more, 1);
    assert_string_equal(walk("a=1&b=2", MALL_KV_QUERY, 2, 0, &more),
                        "[a|=1][b|=2]");
    assert_int_equal(more, 0);
    assert_string_equal(walk("a=1&b=2&c=3", MALL_KV_QUERY, 9, 1, &more),
                        "[a|=1]");
    assert_int_equal(more, 1);
}


static void
test_cookie(void **state)
{
    int  more;

    (void) state;
    assert_string_equal(walk(" sid=abc;  mall_csrf=t=1 ;;x ", MALL_KV_COOKIE,
                             10, 0, &more),
                        "[sid|=abc][mall_csrf|=t=1][x|]");
}


static void
test_decode(void **state)
{
    uint8_t      buf[64];
    size_t       n;
    const char  *in = "1%27+or%20%2527%zz%4";

    (void) state;
    n = mall_kv_decode(buf, (const uint8_t *) in, strlen(in));
    assert_int_equal(n, strlen("1' or %27%zz%4"));
    assert_memory_equal(buf, "1' or %27%zz%4", n);
    /* in place */
    memcpy(buf, "%41%42+", 7);
    n = mall_kv_decode(buf, buf, 7);
    assert_int_equal(n, 3);
    assert_memory_equal(buf, "AB ", 3);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_query),
        cmocka_unit_test(test_max_and_stop),
        cmocka_unit_test(test_cookie),
        cmocka_unit_test(test_decode),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
