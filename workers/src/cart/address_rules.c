/*
 * Shipping-address rules (see address_rules.h).
 */
#include <stdio.h>
#include <string.h>

#include "address_rules.h"
#include "search_text.h"

const addr_rule_t  addr_rules[6] = {
    { "name", 1, 32 },
    { "phone", 11, 11 },
    { "province", 1, 32 },
    { "city", 1, 32 },
    { "district", 1, 32 },
    { "detail", 2, 120 },
};


int
addr_phone_valid(const char *s)
{
    size_t  i;

    if (s == NULL || strlen(s) != ADDR_PHONE_LEN || s[0] != '1'
        || s[1] < '3' || s[1] > '9')
    {
        return 0;
    }
    for (i = 2; i < ADDR_PHONE_LEN; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
    }
    return 1;
}


const char *
addr_field_check(const char *field, const char *value)
{
    const addr_rule_t  *r;
    size_t              i;
    long                n;

    if (strcmp(field, "phone") == 0) {
        return addr_phone_valid(value) ? NULL
               : "must be a mainland mobile number (11 digits, 1[3-9]...)";
    }
    r = NULL;
    for (i = 0; i < sizeof(addr_rules) / sizeof(addr_rules[0]); i++) {
        if (strcmp(addr_rules[i].field, field) == 0) {
            r = &addr_rules[i];
        }
    }
    if (r == NULL) {
        return "unknown field";
    }
    if (value == NULL) {
        return "is required";
    }
    for (i = 0; value[i] != '\0'; i++) {
        if ((unsigned char) value[i] < 0x20 || value[i] == 0x7f) {
            return "must not contain control characters";
        }
    }
    n = search_utf8_chars(value, strlen(value));
    if (n < 0) {
        return "must be UTF-8 text";
    }
    if ((size_t) n < r->min || (size_t) n > r->max) {
        return r->min == 1 ? "must be 1 to 32 characters"
               : "must be 2 to 120 characters";
    }
    /* all-blank is empty */
    for (i = 0; value[i] == ' '; i++) {
        /* skip */
    }
    if (value[i] == '\0') {
        return "must not be blank";
    }
    return NULL;
}


void
addr_phone_mask(const char *phone, char *out, size_t outsz)
{
    if (phone == NULL || strlen(phone) != ADDR_PHONE_LEN) {
        snprintf(out, outsz, "****");
        return;
    }
    snprintf(out, outsz, "%.3s****%.4s", phone, phone + 7);
}
