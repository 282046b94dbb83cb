/*
 * workers/src/cart/address_rules.c: shipping-address fields as address.c
 * checks them (every rule's field of the JSON body, a string) and the
 * phone mask it answers with (into its masked[16], and into the 12 bytes
 * address_rules.h documents).
 *
 * Input: a JSON body; a body that is not an object is read as one value
 * for every field instead. Oracles: an accepted text field is valid UTF-8
 * of the rule's length without control characters; an accepted phone is
 * 11 digits; a mask is always NUL-terminated within its buffer.
 */
#include "fuzz_common.h"
#include "address_rules.h"
#include "mall_json.h"
#include "search_text.h"


static void
check_field(const addr_rule_t *r, const char *v)
{
    const char  *msg;
    long         n;
    size_t       i;
    char         masked[16], small[12];

    msg = addr_field_check(r->field, v);
    if (msg == NULL && strcmp(r->field, "phone") != 0) {
        n = search_utf8_chars(v, strlen(v));
        FZ_ASSERT(n >= (long) r->min && n <= (long) r->max);
        for (i = 0; v[i] != '\0'; i++) {
            FZ_ASSERT((unsigned char) v[i] >= 0x20 && v[i] != 0x7f);
        }
    }
    if (msg == NULL && strcmp(r->field, "phone") == 0) {
        FZ_ASSERT(strlen(v) == ADDR_PHONE_LEN && addr_phone_valid(v));
    }

    addr_phone_mask(v, masked, sizeof(masked));
    FZ_ASSERT(memchr(masked, '\0', sizeof(masked)) != NULL);
    addr_phone_mask(v, small, sizeof(small));
    FZ_ASSERT(memchr(small, '\0', sizeof(small)) != NULL);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char          *body, *text;
    cJSON         *root;
    size_t         i;
    const cJSON   *v;

    body = fz_dup(data, size);
    root = mall_json_object(body, size);

    for (i = 0; i < MALL_ARRAY_LEN(addr_rules); i++) {
        if (root != NULL) {
            v = cJSON_GetObjectItemCaseSensitive(root, addr_rules[i].field);
            if (cJSON_IsString(v)) {
                check_field(&addr_rules[i], v->valuestring);
            }
        } else {
            text = fz_str(data, size);
            check_field(&addr_rules[i], text);
            free(text);
        }
    }
    FZ_ASSERT(addr_field_check("no-such-field", "x") != NULL);

    cJSON_Delete(root);
    free(body);
    return 0;
}
