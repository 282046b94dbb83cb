/*
 * Query decoding and the product-list parameter rules: defaults, bounds,
 * and errors that name the offending parameter.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "catalog_params.h"
#include "mall_query.h"

static mall_query_t  q;


static int
parse(const char *s)
{
    mall_err_t  err;

    return mall_query_parse(s, s != NULL ? strlen(s) : 0, &q, &err);
}


static void
test_decode(void **state)
{
    char    out[32];
    size_t  n;

    (void) state;
    assert_int_equal(mall_percent_decode("a%20b+c%2B", 10, 1, out, &n),
                     MALL_OK);
    assert_int_equal(n, 6);
    assert_memory_equal(out, "a b c+", 6);
    assert_int_equal(mall_percent_decode("a+b", 3, 0, out, &n), MALL_OK);
    assert_memory_equal(out, "a+b", 3);
    assert_int_equal(mall_percent_decode("%E6%89%8B", 9, 1, out, &n),
                     MALL_OK);
    assert_int_equal(n, 3);
    assert_memory_equal(out, "\xe6\x89\x8b", 3);    /* 手 */
    assert_int_equal(mall_percent_decode("%4", 2, 1, out, &n), MALL_ERR);
    assert_int_equal(mall_percent_decode("%", 1, 1, out, &n), MALL_ERR);
    assert_int_equal(mall_percent_decode("%zz", 3, 1, out, &n), MALL_ERR);
    assert_int_equal(mall_percent_decode("a%00", 4, 1, out, &n), MALL_ERR);
}


static void
test_parse_pairs(void **state)
{
    (void) state;
    assert_int_equal(parse(NULL), MALL_OK);
    assert_int_equal(q.n, 0);

    assert_int_equal(parse("a=1&&b=&c&brand=%E5%8D%8E%E4%B8%BA"),
                     MALL_OK);
    assert_int_equal(q.n, 4);
    assert_string_equal(mall_query_get(&q, "a"), "1");
    assert_string_equal(mall_query_get(&q, "b"), "");
    assert_string_equal(mall_query_get(&q, "c"), "");
    assert_string_equal(mall_query_get(&q, "brand"), "华为");
    assert_null(mall_query_get(&q, "d"));

    assert_int_equal(parse("x=%ZZ"), MALL_ERR);
}


/* Issue 20, finding 2: a repeated name has no one meaning; refused. */

static void
test_duplicates(void **state)
{
    mall_err_t  err;

    (void) state;
    assert_int_equal(parse("page=1&page=7"), MALL_ERR);
    assert_int_equal(parse("size=3&sort=sales&sort=price_desc"), MALL_ERR);
    assert_int_equal(mall_query_parse("p%61ge=1&page=7", 15, &q, &err),
                     MALL_ERR);
    assert_int_equal(err.code, 400);
    assert_int_equal(parse("a+b=1&a%20b=2"), MALL_ERR);
    assert_int_equal(parse("page=1&pages=7&pag=2"), MALL_OK);
}


static void
test_too_many(void **state)
{
    char    buf[MALL_QUERY_MAX_LEN + 16];
    size_t  i, n;

    (void) state;
    n = 0;
    for (i = 0; i < MALL_QUERY_MAX_PARAMS + 1; i++) {
        n += (size_t) snprintf(buf + n, sizeof(buf) - n, "p%zu=1&", i);
    }
    assert_int_equal(parse(buf), MALL_ERR);

    memset(buf, 'a', MALL_QUERY_MAX_LEN + 1);
    buf[MALL_QUERY_MAX_LEN + 1] = '\0';
    assert_int_equal(parse(buf), MALL_ERR);
}


static void
test_int(void **state)
{
    long long   v;
    mall_err_t  err;

    (void) state;
    assert_int_equal(parse("n=42&e=&neg=-3&big=99999999999999999999"
                           "&hex=0x10&sp=+1"), MALL_OK);
    assert_int_equal(mall_query_int(&q, "n", 1, 100, 7, &v, &err), MALL_OK);
    assert_int_equal(v, 42);
    assert_int_equal(mall_query_int(&q, "e", 1, 100, 7, &v, &err), MALL_OK);
    assert_int_equal(v, 7);
    assert_int_equal(mall_query_int(&q, "absent", 1, 100, 9, &v, &err),
                     MALL_OK);
    assert_int_equal(v, 9);
    assert_int_equal(mall_query_int(&q, "n", 1, 41, 7, &v, &err), MALL_ERR);
    assert_int_equal(err.code, 400);
    assert_true(strncmp(err.msg, "n ", 2) == 0);
    assert_int_equal(mall_query_int(&q, "neg", 0, 100, 7, &v, &err),
                     MALL_ERR);
    assert_int_equal(mall_query_int(&q, "neg", -5, 100, 7, &v, &err),
                     MALL_OK);
    assert_int_equal(v, -3);
    assert_int_equal(mall_query_int(&q, "big", 0, INT64_MAX, 0, &v, &err),
                     MALL_ERR);
    assert_int_equal(mall_query_int(&q, "hex", 0, 100, 0, &v, &err),
                     MALL_ERR);
    assert_int_equal(mall_query_int(&q, "sp", 0, 100, 0, &v, &err),
                     MALL_ERR);    /* '+' decoded to a space */
}


static void
test_list_defaults(void **state)
{
    catalog_list_params_t  p;
    mall_err_t             err;

    (void) state;
    assert_int_equal(parse("utm=x"), MALL_OK);
    assert_int_equal(catalog_list_params_parse(&q, &p, &err), MALL_OK);
    assert_int_equal(p.category, 0);
    assert_string_equal(p.brand, "");
    assert_int_equal(p.min_price, -1);
    assert_int_equal(p.max_price, -1);
    assert_int_equal(p.in_stock, 0);
    assert_int_equal(p.sort, CATALOG_SORT_SALES);
    assert_int_equal(p.page, 1);
    assert_int_equal(p.size, CATALOG_SIZE_DEFAULT);
}


static void
test_list_full(void **state)
{
    catalog_list_params_t  p;
    mall_err_t             err;

    (void) state;
    assert_int_equal(parse("category=111&brand=HUAWEI&min_price=100"
                           "&max_price=100&in_stock=1&sort=price_desc"
                           "&page=3&size=100"), MALL_OK);
    assert_int_equal(catalog_list_params_parse(&q, &p, &err), MALL_OK);
    assert_int_equal(p.category, 111);
    assert_string_equal(p.brand, "HUAWEI");
    assert_int_equal(p.min_price, 100);
    assert_int_equal(p.max_price, 100);
    assert_int_equal(p.in_stock, 1);
    assert_int_equal(p.sort, CATALOG_SORT_PRICE_DESC);
    assert_int_equal(p.page, 3);
    assert_int_equal(p.size, 100);

    assert_int_equal(parse("sort=new&in_stock=false"), MALL_OK);
    assert_int_equal(catalog_list_params_parse(&q, &p, &err), MALL_OK);
    assert_int_equal(p.sort, CATALOG_SORT_NEW);
    assert_int_equal(p.in_stock, 0);
}


static void
expect_bad(const char *query, const char *param)
{
    catalog_list_params_t  p;
    mall_err_t             err;

    assert_int_equal(parse(query), MALL_OK);
    assert_int_equal(catalog_list_params_parse(&q, &p, &err), MALL_ERR);
    assert_int_equal(err.code, 400);
    if (strncmp(err.msg, param, strlen(param)) != 0) {
        fail_msg("\"%s\": error \"%s\" does not start with \"%s\"", query,
                 err.msg, param);
    }
}


static void
test_list_errors(void **state)
{
    char  brand[128];

    (void) state;
    expect_bad("size=0", "size");
    expect_bad("size=101", "size");
    expect_bad("size=ten", "size");
    expect_bad("page=0", "page");
    expect_bad("page=1.5", "page");
    expect_bad("category=0", "category");
    expect_bad("category=-1", "category");
    expect_bad("category=abc", "category");
    expect_bad("min_price=-1", "min_price");
    expect_bad("max_price=1e3", "max_price");
    expect_bad("min_price=10&max_price=9", "min_price");
    expect_bad("in_stock=yes", "in_stock");
    expect_bad("sort=price", "sort");

    strcpy(brand, "brand=");
    memset(brand + 6, 'b', 65);
    brand[6 + 65] = '\0';
    expect_bad(brand, "brand");
}


static void
test_brand_key(void **state)
{
    char  out[32];

    (void) state;
    catalog_brand_key("HUAWEI", out, sizeof(out));
    assert_string_equal(out, "huawei");
    catalog_brand_key("Benks 邦克仕", out, sizeof(out));
    assert_string_equal(out, "benks 邦克仕");
    catalog_brand_key("ABCDEFGH", out, 4);
    assert_string_equal(out, "abc");
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_decode),
        cmocka_unit_test(test_parse_pairs),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_too_many),
        cmocka_unit_test(test_int),
        cmocka_unit_test(test_list_defaults),
        cmocka_unit_test(test_list_full),
        cmocka_unit_test(test_list_errors),
        cmocka_unit_test(test_brand_key),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
