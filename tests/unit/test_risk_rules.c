/*
 * Abnormal-order rules (workers/src/risk/risk_rules.c): each rule trips
 * just over its threshold and not at it, thresholds of 0 are off, unknown
 * counters are skipped, the edge header parses strictly, and address
 * fingerprints ignore case, spaces and ASCII punctuation.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "risk_conf.h"
#include "risk_rules.h"

#define NOW  1800000000LL


static void
conf_small(risk_conf_t *c)
{
    risk_conf_init(c);
    c->orders_per_user = 3;
    c->orders_per_device = 4;
    c->orders_per_address = 5;
    c->addresses_per_user = 2;
    c->device_accounts_per_sku = 2;
    c->new_account_age = 3600;
    c->new_account_max_fen = 100000;
    c->edge_score = 80;
    c->pay_failures = 3;
}


static void
test_nothing_known_is_no_hit(void **state)
{
    risk_conf_t      c;
    risk_counters_t  k;
    risk_hit_t       hit;

    (void) state;
    conf_small(&c);
    risk_counters_init(&k, NOW);
    assert_int_equal(risk_evaluate(&c, &k, &hit), 0);
    assert_null(hit.rule);
}


/* Sets one counter of k by rule name. */
static void
set_count(risk_counters_t *k, const char *rule, int64_t v)
{
    if (strcmp(rule, "orders_per_user") == 0) {
        k->user_orders = v;
    } else if (strcmp(rule, "orders_per_device") == 0) {
        k->device_orders = v;
    } else if (strcmp(rule, "orders_per_address") == 0) {
        k->address_orders = v;
    } else if (strcmp(rule, "addresses_per_user") == 0) {
        k->user_addresses = v;
    } else if (strcmp(rule, "device_accounts_per_sku") == 0) {
        k->device_sku_accounts = v;
    } else {
        k->pay_failures = v;
    }
}


static void
test_each_count_trips_over_its_limit(void **state)
{
    static const struct {
        const char  *rule;
        int64_t      limit;
    } rules[] = {
        { "orders_per_user", 3 }, { "orders_per_device", 4 },
        { "orders_per_address", 5 }, { "addresses_per_user", 2 },
        { "device_accounts_per_sku", 2 }, { "pay_failures", 3 },
    };
    risk_conf_t      c;
    risk_counters_t  k;
    risk_hit_t       hit;
    size_t           i;

    (void) state;
    conf_small(&c);
    for (i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
        risk_counters_init(&k, NOW);
        set_count(&k, rules[i].rule, rules[i].limit);
        assert_int_equal(risk_evaluate(&c, &k, &hit), 0);
        set_count(&k, rules[i].rule, rules[i].limit + 1);
        assert_int_equal(risk_evaluate(&c, &k, &hit), 1);
        assert_string_equal(hit.rule, rules[i].rule);
        assert_int_equal(hit.value, rules[i].limit + 1);
        assert_int_equal(hit.limit, rules[i].limit);
    }
}


static void
test_zero_turns_a_rule_off(void **state)
{
    risk_conf_t      c;
    risk_counters_t  k;
    risk_hit_t       hit;

    (void) state;
    conf_small(&c);
    c.orders_per_user = 0;
    c.edge_score = 0;
    c.new_account_age = 0;
    risk_counters_init(&k, NOW);
    k.user_orders = 1000000;
    k.edge_score = 100;
    k.created_at = NOW - 1;
    k.total_fen = 1LL << 40;
    assert_int_equal(risk_evaluate(&c, &k, &hit), 0);
}


static void
test_new_account_high_value(void **state)
{
    risk_conf_t      c;
    risk_counters_t  k;
    risk_hit_t       hit;

    (void) state;
    conf_small(&c);
    risk_counters_init(&k, NOW);
    k.created_at = NOW - 60;
    k.total_fen = 100000;
    assert_int_equal(risk_evaluate(&c, &k, &hit), 0);     /* at the max */
    k.total_fen = 100001;
    assert_int_equal(risk_evaluate(&c, &k, &hit), 1);
    assert_string_equal(hit.rule, "new_account_value");
    k.created_at = NOW - 3600;                             /* old enough */
    assert_int_equal(risk_evaluate(&c, &k, &hit), 0);
    k.created_at = 0;                                      /* unknown age */
    assert_int_equal(risk_evaluate(&c, &k, &hit), 0);
}


static void
test_edge_score_first(void **state)
{
    risk_conf_t      c;
    risk_counters_t  k;
    risk_hit_t       hit;

    (void) state;
    conf_small(&c);
    risk_counters_init(&k, NOW);
    k.edge_score = 79;
    k.user_orders = 4;
    assert_int_equal(risk_evaluate(&c, &k, &hit), 1);
    assert_string_equal(hit.rule, "orders_per_user");
    k.edge_score = 80;                                     /* at: trips */
    assert_int_equal(risk_evaluate(&c, &k, &hit), 1);
    assert_string_equal(hit.rule, "edge_score");
    assert_int_equal(hit.value, 80);
}


static void
test_parse_edge_header(void **state)
{
    char  reasons[16];
    int   score;

    (void) state;
    assert_int_equal(risk_parse_edge(NULL, &score, reasons, 16), MALL_OK);
    assert_int_equal(score, 0);
    assert_int_equal(risk_parse_edge("", &score, reasons, 16), MALL_OK);
    assert_int_equal(score, 0);
    assert_int_equal(risk_parse_edge("85;geo,velocity", &score, reasons, 16),
                     MALL_OK);
    assert_int_equal(score, 85);
    assert_string_equal(reasons, "geo,velocity");
    assert_int_equal(risk_parse_edge("7", &score, reasons, 16), MALL_OK);
    assert_int_equal(score, 7);
    assert_string_equal(reasons, "");
    assert_int_equal(risk_parse_edge("40;aaaaaaaaaaaaaaaaaaaaaaaa", &score,
                                     reasons, 16), MALL_OK);
    assert_int_equal(strlen(reasons), 15);                 /* truncated */
    assert_int_equal(risk_parse_edge("101;x", &score, reasons, 16), MALL_ERR);
    assert_int_equal(score, 0);
    assert_int_equal(risk_parse_edge("-1;x", &score, reasons, 16), MALL_ERR);
    assert_int_equal(risk_parse_edge("abc", &score, reasons, 16), MALL_ERR);
    assert_int_equal(risk_parse_edge("50x;y", &score, reasons, 16), MALL_ERR);
}


static void
test_address_fingerprint(void **state)
{
    char  a[RISK_FP_HEX], b[RISK_FP_HEX], c[RISK_FP_HEX];

    (void) state;
    risk_address_fp("广东省", "深圳市", "南山区", "科技园 1号 A-101", a);
    risk_address_fp("广东省", "深圳市", "南山区", "科技园1号a101", b);
    risk_address_fp("广东省", "深圳市", "南山区", "科技园1号A102", c);
    assert_int_equal(strlen(a), RISK_FP_HEX - 1);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    /* the parts stay apart: a city moved into the district differs */
    risk_address_fp("x", "ab", "c", "d", a);
    risk_address_fp("x", "a", "bc", "d", b);
    assert_string_not_equal(a, b);
}


static void
test_device_ids(void **state)
{
    char  longer[80];

    (void) state;
    assert_true(risk_device_valid("dev-1.A_b:2"));
    assert_false(risk_device_valid(NULL));
    assert_false(risk_device_valid(""));
    assert_false(risk_device_valid("a b"));
    assert_false(risk_device_valid("a*"));
    memset(longer, 'a', 65);
    longer[65] = '\0';
    assert_false(risk_device_valid(longer));
    longer[64] = '\0';
    assert_true(risk_device_valid(longer));
}


static void
test_conf_directives(void **state)
{
    risk_conf_t   c;
    mall_err_t    err;
    char         *ok1[] = { "risk_orders_per_user", "7" };
    char         *ok2[] = { "risk_new_account", "0", "5" };
    char         *bad1[] = { "risk_edge_score", "101" };
    char         *bad2[] = { "risk_new_account", "10" };
    char         *other[] = { "order_max_lines", "3" };

    (void) state;
    risk_conf_init(&c);
    assert_int_equal(risk_conf_directive(&c, ok1, 2, &err), MALL_OK);
    assert_int_equal(c.orders_per_user, 7);
    assert_int_equal(risk_conf_directive(&c, ok2, 3, &err), MALL_OK);
    assert_int_equal(c.new_account_age, 0);
    assert_int_equal(risk_conf_directive(&c, bad1, 2, &err), MALL_ERR);
    assert_int_equal(risk_conf_directive(&c, bad2, 2, &err), MALL_ERR);
    assert_int_equal(risk_conf_directive(&c, other, 2, &err),
                     RISK_CONF_NOT_MINE);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nothing_known_is_no_hit),
        cmocka_unit_test(test_each_count_trips_over_its_limit),
        cmocka_unit_test(test_zero_turns_a_rule_off),
        cmocka_unit_test(test_new_account_high_value),
        cmocka_unit_test(test_edge_score_first),
        cmocka_unit_test(test_parse_edge_header),
        cmocka_unit_test(test_address_fingerprint),
        cmocka_unit_test(test_device_ids),
        cmocka_unit_test(test_conf_directives),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
