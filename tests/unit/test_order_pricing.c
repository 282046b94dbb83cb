/*
 * Order pricing, request normalization (merge, sort, canonical digest),
 * idempotency keys and the order_* directives.
 */
#define _POSIX_C_SOURCE 200809L     /* strtok_r */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "order_conf.h"
#include "order_pricing.h"
#include "order_request.h"


static void
conf(order_conf_t *c)
{
    order_conf_init(c);
}


static void
test_price_and_shipping(void **state)
{
    order_conf_t     c;
    order_line_t     l[2];
    order_amounts_t  a;
    mall_err_t       err;

    (void) state;
    conf(&c);
    memset(l, 0, sizeof(l));
    l[0].sku_id = 1; l[0].quantity = 2; l[0].price_fen = 1999;
    l[1].sku_id = 2; l[1].quantity = 1; l[1].price_fen = 500;
    assert_int_equal(order_price(l, 2, &c, 0, &a, &err), MALL_OK);
    assert_int_equal(l[0].subtotal_fen, 3998);
    assert_int_equal(l[1].subtotal_fen, 500);
    assert_int_equal(a.items_fen, 4498);
    assert_int_equal(a.shipping_fen, 800);
    assert_int_equal(a.discount_fen, 0);
    assert_int_equal(a.total_fen, 5298);

    /* free from 9900 exactly */
    l[0].quantity = 5; l[0].price_fen = 1980;
    assert_int_equal(order_price(l, 1, &c, 0, &a, &err), MALL_OK);
    assert_int_equal(a.items_fen, 9900);
    assert_int_equal(a.shipping_fen, 0);
    assert_int_equal(a.total_fen, 9900);
    l[0].price_fen = 1979;
    assert_int_equal(order_price(l, 1, &c, 0, &a, &err), MALL_OK);
    assert_int_equal(a.shipping_fen, 800);

    /* the discount is clamped to the goods */
    assert_int_equal(order_price(l, 1, &c, 100000, &a, &err), MALL_OK);
    assert_int_equal(a.discount_fen, a.items_fen);
    assert_int_equal(a.total_fen, 800);
    assert_int_equal(order_price(l, 1, &c, -5, &a, &err), MALL_OK);
    assert_int_equal(a.discount_fen, 0);

    /* another rule */
    c.free_shipping_over = 0;
    c.shipping_fen = 0;
    assert_int_equal(order_shipping(&c, 1), 0);
    c.free_shipping_over = 100;
    c.shipping_fen = 12;
    assert_int_equal(order_shipping(&c, 99), 12);
    assert_int_equal(order_shipping(&c, 100), 0);
}


static void
test_price_refusals(void **state)
{
    order_conf_t     c;
    order_line_t     l[1];
    order_amounts_t  a;
    mall_err_t       err;

    (void) state;
    conf(&c);
    assert_int_equal(order_price(l, 0, &c, 0, &a, &err), MALL_ERR);
    memset(l, 0, sizeof(l));
    l[0].sku_id = 1; l[0].quantity = 1; l[0].price_fen = -1;
    assert_int_equal(order_price(l, 1, &c, 0, &a, &err), MALL_ERR);
    l[0].price_fen = ORDER_PRICE_MAX + 1;
    assert_int_equal(order_price(l, 1, &c, 0, &a, &err), MALL_ERR);
    l[0].price_fen = 10; l[0].quantity = 0;
    assert_int_equal(order_price(l, 1, &c, 0, &a, &err), MALL_ERR);
    l[0].price_fen = ORDER_PRICE_MAX; l[0].quantity = INT64_MAX / 1000;
    assert_int_equal(order_price(l, 1, &c, 0, &a, &err), MALL_ERR);
}


static int
parse(const char *json, order_req_t *req, const char **field)
{
    order_conf_t  c;
    mall_err_t    err;
    cJSON        *body;
    int           rc;

    conf(&c);
    body = cJSON_Parse(json);
    rc = order_req_parse(body, &c, 1, req, field, &err);
    cJSON_Delete(body);
    return rc;
}


static void
test_request_merge_sort_ignore(void **state)
{
    order_req_t   req;
    const char   *field;

    (void) state;
    assert_int_equal(parse("{\"items\":[{\"sku_id\":9,\"quantity\":2,"
                           "\"price_fen\":1},{\"sku_id\":3,\"quantity\":1},"
                           "{\"sku_id\":9,\"quantity\":5}],\"address_id\":7,"
                           "\"coupon\":\"auto\",\"remark\":\"快\","
                           "\"total_fen\":1}", &req, &field), MALL_OK);
    assert_int_equal(req.nlines, 2);
    assert_int_equal(req.lines[0].sku_id, 3);
    assert_int_equal(req.lines[0].quantity, 1);
    assert_int_equal(req.lines[1].sku_id, 9);
    assert_int_equal(req.lines[1].quantity, 7);
    assert_int_equal(req.lines[1].price_fen, 0);   /* never the client's */
    assert_int_equal(req.address_id, 7);
    assert_int_equal(req.coupon, ORDER_COUPON_AUTO);
    assert_string_equal(req.remark, "快");

    assert_int_equal(parse("{\"items\":[{\"sku_id\":1,\"quantity\":1}],"
                           "\"address_id\":1,\"coupon\":[]}", &req, &field),
                     MALL_OK);
    assert_int_equal(req.coupon, ORDER_COUPON_NONE);
    assert_int_equal(parse("{\"items\":[{\"sku_id\":1,\"quantity\":1}],"
                           "\"address_id\":1,\"coupon\":[\"a\",7]}", &req,
                           &field), MALL_OK);
    assert_int_equal(req.coupon, ORDER_COUPON_IDS);
    assert_int_equal(req.ncoupons, 1);             /* "a" names none */
    assert_int_equal(req.coupon_unknown, 1);
    assert_int_equal(parse("{\"items\":[{\"sku_id\":1,\"quantity\":1}],"
                           "\"address_id\":1,\"coupon\":[9,\"3\",9,1]}",
                           &req, &field), MALL_OK);
    assert_int_equal(req.ncoupons, 3);
    assert_int_equal(req.coupon_ids[0], 1);
    assert_int_equal(req.coupon_ids[1], 3);
    assert_int_equal(req.coupon_ids[2], 9);
    assert_int_equal(req.coupon_unknown, 0);
}


static void
test_request_refusals(void **state)
{
    static const struct {
        const char  *json;
        const char  *field;
    } bad[] = {
        { "[]", "body" },
        { "{\"address_id\":1}", "items" },
        { "{\"items\":[],\"address_id\":1}", "items" },
        { "{\"items\":[1],\"address_id\":1}", "items[0]" },
        { "{\"items\":[{\"quantity\":1}],\"address_id\":1}",
          "items[0].sku_id" },
        { "{\"items\":[{\"sku_id\":-1,\"quantity\":1}],\"address_id\":1}",
          "items[0].sku_id" },
        { "{\"items\":[{\"sku_id\":1,\"quantity\":0}],\"address_id\":1}",
          "items[0].quantity" },
        { "{\"items\":[{\"sku_id\":1,\"quantity\":1.5}],\"address_id\":1}",
          "items[0].quantity" },
        { "{\"items\":[{\"sku_id\":1,\"quantity\":100}],\"address_id\":1}",
          "items[0].quantity" },
        { "{\"items\":[{\"sku_id\":1,\"quantity\":60},{\"sku_id\":1,"
          "\"quantity\":40}],\"address_id\":1}", "items[1].quantity" },
        { "{\"items\":[{\"sku_id\":1,\"quantity\":1}]}", "address_id" },
        { "{\"items\":[{\"sku_id\":1,\"quantity\":1}],\"address_id\":\"1\"}",
          "address_id" },
        { "{\"items\":[{\"sku_id\":1,\"quantity\":1}],\"address_id\":1,"
          "\"coupon\":\"best\"}", "coupon" },
        { "{\"items\":[{\"sku_id\":1,\"quantity\":1}],\"address_id\":1,"
          "\"coupon\":[null]}", "coupon" },
        { "{\"items\":[{\"sku_id\":1,\"quantity\":1}],\"address_id\":1,"
          "\"remark\":5}", "remark" },
        { "{\"items\":[{\"sku_id\":1,\"quantity\":1}],\"address_id\":1,"
          "\"remark\":\"a\\u0001b\"}", "remark" },
    };
    order_req_t   req;
    const char   *field;
    size_t        i;

    (void) state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        field = NULL;
        assert_int_equal(parse(bad[i].json, &req, &field), MALL_ERR);
        assert_non_null(field);
        assert_string_equal(field, bad[i].field);
    }
}


static void
test_request_limits(void **state)
{
    char          json[4096], *p;
    order_req_t   req;
    const char   *field;
    int           i;

    (void) state;
    /* 21 distinct SKUs: one more than order_max_lines */
    p = json + sprintf(json, "{\"address_id\":1,\"items\":[");
    for (i = 1; i <= 21; i++) {
        p += sprintf(p, "%s{\"sku_id\":%d,\"quantity\":1}", i > 1 ? "," : "",
                     i);
    }
    sprintf(p, "]}");
    assert_int_equal(parse(json, &req, &field), MALL_ERR);
    assert_string_equal(field, "items");

    /* remark: 200 characters (not bytes) pass, 201 do not */
    p = json + sprintf(json, "{\"address_id\":1,\"items\":[{\"sku_id\":1,"
                       "\"quantity\":1}],\"remark\":\"");
    for (i = 0; i < 200; i++) {
        p += sprintf(p, "好");
    }
    sprintf(p, "\"}");
    assert_int_equal(parse(json, &req, &field), MALL_OK);
    assert_int_equal(strlen(req.remark), 600);
    p[-0] = '\0';
    sprintf(p, "a\"}");
    assert_int_equal(parse(json, &req, &field), MALL_ERR);
    assert_string_equal(field, "remark");

    assert_int_equal(order_utf8_chars("abc"), 3);
    assert_int_equal(order_utf8_chars("好a"), 2);
    assert_int_equal(order_utf8_chars("\xc0\xaf"), -1);          /* overlong */
    assert_int_equal(order_utf8_chars("\xed\xa0\x80"), -1);      /* surrogate */
    assert_int_equal(order_utf8_chars("\xe5\xa5"), -1);          /* truncated */
    assert_int_equal(order_utf8_chars("line\nnext\ttab"), 13);
}


static void
test_digest(void **state)
{
    order_req_t   a, b;
    const char   *field;
    char          da[ORDER_DIGEST_HEX], db[ORDER_DIGEST_HEX];

    (void) state;
    /* order of lines, split lines, ignored members and null vs absent
     * do not change the digest */
    assert_int_equal(parse("{\"items\":[{\"sku_id\":2,\"quantity\":1},"
                           "{\"sku_id\":1,\"quantity\":3}],\"address_id\":5,"
                           "\"coupon\":null,\"remark\":null}", &a, &field),
                     MALL_OK);
    assert_int_equal(parse("{\"address_id\":5,\"items\":[{\"sku_id\":1,"
                           "\"quantity\":1},{\"sku_id\":2,\"quantity\":1,"
                           "\"price_fen\":3},{\"sku_id\":1,\"quantity\":2}]}",
                           &b, &field), MALL_OK);
    order_req_digest(&a, da);
    order_req_digest(&b, db);
    assert_int_equal(strlen(da), 64);
    assert_string_equal(da, db);

    /* anything that matters does */
    b.lines[0].quantity = 4;
    order_req_digest(&b, db);
    assert_string_not_equal(da, db);
    b.lines[0].quantity = 3;
    b.address_id = 6;
    order_req_digest(&b, db);
    assert_string_not_equal(da, db);
    b.address_id = 5;
    b.coupon = ORDER_COUPON_AUTO;
    order_req_digest(&b, db);
    assert_string_not_equal(da, db);
    b.coupon = ORDER_COUPON_NONE;
    strcpy(b.remark, "x");
    order_req_digest(&b, db);
    assert_string_not_equal(da, db);
    b.remark[0] = '\0';
    order_req_digest(&b, db);
    assert_string_equal(da, db);
}


static void
test_idem_key(void **state)
{
    char  k[80];

    (void) state;
    assert_true(order_idem_key_valid("a"));
    assert_true(order_idem_key_valid("Order_2024-01-01_x"));
    memset(k, 'k', 64);
    k[64] = '\0';
    assert_true(order_idem_key_valid(k));
    k[64] = 'k';
    k[65] = '\0';
    assert_false(order_idem_key_valid(k));
    assert_false(order_idem_key_valid(""));
    assert_false(order_idem_key_valid(NULL));
    assert_false(order_idem_key_valid("a b"));
    assert_false(order_idem_key_valid("a:b"));
    assert_false(order_idem_key_valid("键"));
}


static int
directive(order_conf_t *c, const char *line)
{
    char        buf[128], *argv[8], *tok, *save;
    int         argc;
    mall_err_t  err;

    snprintf(buf, sizeof(buf), "%s", line);
    argc = 0;
    for (tok = strtok_r(buf, " ", &save); tok != NULL && argc < 8;
         tok = strtok_r(NULL, " ", &save))
    {
        argv[argc++] = tok;
    }
    return order_conf_directive(c, argv, argc, &err);
}


static void
test_conf(void **state)
{
    order_conf_t  c;

    (void) state;
    order_conf_init(&c);
    assert_int_equal(c.pay_timeout, 1800);
    assert_int_equal(c.purchase_limit, 0);
    assert_int_equal(directive(&c, "order_pay_timeout 2"), MALL_OK);
    assert_int_equal(c.pay_timeout, 2);
    assert_int_equal(directive(&c, "order_pay_timeout 0"), MALL_ERR);
    assert_int_equal(directive(&c, "order_pay_timeout"), MALL_ERR);
    assert_int_equal(directive(&c, "order_max_lines 51"), MALL_ERR);
    assert_int_equal(directive(&c, "order_max_lines 50"), MALL_OK);
    assert_int_equal(directive(&c, "order_max_quantity 5"), MALL_OK);
    assert_int_equal(c.max_quantity, 5);
    assert_int_equal(directive(&c, "order_purchase_limit 3"), MALL_OK);
    assert_int_equal(c.purchase_limit, 3);
    assert_int_equal(directive(&c, "order_shipping 5000 600"), MALL_OK);
    assert_int_equal(c.free_shipping_over, 5000);
    assert_int_equal(c.shipping_fen, 600);
    assert_int_equal(directive(&c, "order_shipping 5000"), MALL_ERR);
    assert_int_equal(directive(&c, "order_shipping -1 5"), MALL_ERR);
    assert_int_equal(directive(&c, "workers 2"), ORDER_CONF_NOT_MINE);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_price_and_shipping),
        cmocka_unit_test(test_price_refusals),
        cmocka_unit_test(test_request_merge_sort_ignore),
        cmocka_unit_test(test_request_refusals),
        cmocka_unit_test(test_request_limits),
        cmocka_unit_test(test_digest),
        cmocka_unit_test(test_idem_key),
        cmocka_unit_test(test_conf),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
