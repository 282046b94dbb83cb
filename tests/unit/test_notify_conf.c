/*
 * The notify_* directives of mall-worker.conf (notify_conf.c): templates
 * with their data sources, "off", the bounds of the numbers, and what is
 * not theirs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "notify_conf.h"

static int
directive(notify_conf_t *c, const char *line)
{
    char        buf[512], *argv[16], *p;
    int         argc;
    mall_err_t  err;

    snprintf(buf, sizeof(buf), "%s", line);
    argc = 0;
    for (p = strtok(buf, " "); p != NULL && argc < 16; p = strtok(NULL, " "))
    {
        argv[argc++] = p;
    }
    return notify_conf_directive(c, argv, argc, &err);
}


static void
test_template_with_sources(void **state)
{
    notify_conf_t             c;
    const notify_template_t  *t;

    (void) state;
    notify_conf_init(&c);
    assert_string_equal(c.state, "formal");
    assert_int_equal(c.retry_max, 8);
    assert_int_equal(c.retry_base_ms, 1000);
    assert_int_equal(directive(&c, "notify_template shipped tpl-ship-1 "
                               "pages/order/detail character_string1="
                               "order_id thing2=product"), MALL_OK);
    t = &c.tpl[NOTIFY_EV_SHIPPED];
    assert_string_equal(t->template_id, "tpl-ship-1");
    assert_string_equal(t->page, "pages/order/detail");
    assert_int_equal(t->nfields, 2);
    assert_string_equal(t->fields[0].key, "character_string1");
    assert_string_equal(t->fields[0].source, "order_id");
    assert_string_equal(t->fields[1].source, "product");
    assert_true(notify_conf_has_template(&c, "tpl-ship-1"));
    assert_false(notify_conf_has_template(&c, "tpl-ship-2"));
    assert_string_equal(c.tpl[NOTIFY_EV_PAID].template_id, "");

    /* off: no message, whatever follows */
    assert_int_equal(directive(&c, "notify_template shipped off "
                               "pages/x thing1=product"), MALL_OK);
    assert_string_equal(t->template_id, "");
    assert_false(notify_conf_has_template(&c, "tpl-ship-1"));
}


static void
test_bad_lines_are_refused(void **state)
{
    notify_conf_t  c;

    (void) state;
    notify_conf_init(&c);
    assert_int_equal(directive(&c, "notify_template delivered t p"),
                     MALL_ERR);
    assert_int_equal(directive(&c, "notify_template paid t"), MALL_ERR);
    assert_int_equal(directive(&c, "notify_template paid t p thing1=price"),
                     MALL_ERR);
    assert_int_equal(directive(&c, "notify_template paid t p =product"),
                     MALL_ERR);
    assert_int_equal(directive(&c, "notify_template paid t p a=order_id "
                               "b=order_id c=order_id d=order_id "
                               "e=order_id f=order_id g=order_id "
                               "h=order_id i=order_id"), MALL_ERR);
    assert_int_equal(directive(&c, "notify_miniprogram_state beta"),
                     MALL_ERR);
    assert_int_equal(directive(&c, "notify_retry_max 0"), MALL_ERR);
    assert_int_equal(directive(&c, "notify_retry_max 31"), MALL_ERR);
    assert_int_equal(directive(&c, "notify_retry_base_ms 5"), MALL_ERR);
    assert_int_equal(directive(&c, "notify_retry_max 3"), MALL_OK);
    assert_int_equal(c.retry_max, 3);
    assert_int_equal(directive(&c, "notify_retry_base_ms 50"), MALL_OK);
    assert_int_equal(c.retry_base_ms, 50);
    assert_int_equal(directive(&c, "notify_miniprogram_state trial"),
                     MALL_OK);
    assert_string_equal(c.state, "trial");
    assert_int_equal(directive(&c, "order_pay_timeout 30"),
                     NOTIFY_CONF_NOT_MINE);
}


static void
test_event_names(void **state)
{
    (void) state;
    assert_int_equal(notify_event_parse("paid"), NOTIFY_EV_PAID);
    assert_int_equal(notify_event_parse("shipped"), NOTIFY_EV_SHIPPED);
    assert_int_equal(notify_event_parse("refund"), NOTIFY_EV_REFUND);
    assert_int_equal(notify_event_parse("refunded"), NOTIFY_EV_COUNT);
    assert_string_equal(notify_event_name(NOTIFY_EV_REFUND), "refund");
    assert_string_equal(notify_event_name(NOTIFY_EV_COUNT), "");
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_template_with_sources),
        cmocka_unit_test(test_bad_lines_are_refused),
        cmocka_unit_test(test_event_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
