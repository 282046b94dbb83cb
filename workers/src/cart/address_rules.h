/*
 * Shipping-address rules: field validation and phone masking. Pure code,
 * unit-tested in tests/unit/test_worker_address.c.
 *
 *   name      1..32 characters
 *   phone     mainland mobile ^1[3-9][0-9]{9}$
 *   province, city, district   1..32 characters
 *   detail    2..120 characters
 *
 * "Characters" are UTF-8 code points; control characters are refused.
 */
#ifndef ADDRESS_RULES_H
#define ADDRESS_RULES_H

#include <stddef.h>

#define ADDR_PHONE_LEN  11

typedef struct {
    const char  *field;
    size_t       min;
    size_t       max;
} addr_rule_t;

extern const addr_rule_t  addr_rules[6];   /* in body order */

/* 1 when s is a mainland mobile number, else 0. */
int addr_phone_valid(const char *s);

/*
 * Checks a text field's value against its rule (by field name). Returns
 * NULL when valid, else a message for the client.
 */
const char *addr_field_check(const char *field, const char *value);

/*
 * Masks a phone number for display: "13812345678" -> "138****5678".
 * Anything that is not 11 bytes becomes "****". out needs 12 bytes.
 */
void addr_phone_mask(const char *phone, char *out, size_t outsz);

#endif
