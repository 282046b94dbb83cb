/*
 * Shipping-address rules: mainland mobile numbers, field lengths in
 * characters (not bytes), phone masking.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "address_rules.h"


static void
test_phone(void **state)
{
    (void) state;
    assert_true(addr_phone_valid("13812345678"));
    assert_true(addr_phone_valid("19912345678"));
    assert_false(addr_phone_valid("12812345678"));    /* 1[3-9] */
    assert_false(addr_phone_valid("23812345678"));
    assert_false(addr_phone_valid("1381234567"));     /* 10 digits */
    assert_false(addr_phone_valid("138123456789"));
    assert_false(addr_phone_valid("1381234567a"));
    assert_false(addr_phone_valid("+8613812345"));
    assert_false(addr_phone_valid(""));
    assert_false(addr_phone_valid(NULL));
    assert_null(addr_field_check("phone", "13812345678"));
    assert_non_null(addr_field_check("phone", "12345"));
}


static void
test_lengths_in_characters(void **state)
{
    char  buf[512];

    (void) state;
    assert_null(addr_field_check("name", "张"));
    assert_non_null(addr_field_check("name", ""));
    assert_non_null(addr_field_check("name", "   "));
    /* 32 Chinese characters = 96 bytes: still valid */
    buf[0] = '\0';
    for (int i = 0; i < 32; i++) {
        strcat(buf, "省");
    }
    assert_null(addr_field_check("province", buf));
    strcat(buf, "省");
    assert_non_null(addr_field_check("province", buf));
    assert_non_null(addr_field_check("detail", "路"));
    assert_null(addr_field_check("detail", "路1"));
    memset(buf, 'a', 121);
    buf[121] = '\0';
    assert_non_null(addr_field_check("detail", buf));
    buf[120] = '\0';
    assert_null(addr_field_check("detail", buf));
    assert_non_null(addr_field_check("city", NULL));
    assert_non_null(addr_field_check("city", "a\nb"));
    assert_non_null(addr_field_check("city", "\xe6\x89"));
    assert_non_null(addr_field_check("nope", "x"));
}


static void
test_mask(void **state)
{
    char  out[16];

    (void) state;
    addr_phone_mask("13812345678", out, sizeof(out));
    assert_string_equal(out, "138****5678");
    addr_phone_mask("123", out, sizeof(out));
    assert_string_equal(out, "****");
    addr_phone_mask(NULL, out, sizeof(out));
    assert_string_equal(out, "****");
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_phone),
        cmocka_unit_test(test_lengths_in_characters),
        cmocka_unit_test(test_mask),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
