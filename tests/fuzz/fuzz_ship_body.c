/*
 * workers/src/orders/order_ship_body.c: the merchant's ship body
 * {"carrier", "tracking_no"} as order_ship.c reads it (mall_json_object,
 * then order_ship_parse).
 *
 * Oracles: an accepted body gives a carrier of 1..32 characters of
 * [a-z0-9_] and a tracking number of 4..40 of [A-Za-z0-9-], both NUL-
 * terminated within their buffers; a refusal names a member.
 */
#include "fuzz_common.h"
#include "mall_json.h"
#include "order_lifecycle.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    order_ship_t   s;
    mall_err_t     err;
    const char    *field;
    char          *body;
    cJSON         *root;
    size_t         n;

    body = fz_dup(data, size);
    root = mall_json_object(body, size);
    memset(&s, 0x55, sizeof(s));
    err.msg[0] = '\0';
    if (order_ship_parse(root, &s, &field, &err) == MALL_OK) {
        n = strnlen(s.carrier, sizeof(s.carrier));
        FZ_ASSERT(n >= 1 && n < sizeof(s.carrier));
        FZ_ASSERT(strspn(s.carrier, "abcdefghijklmnopqrstuvwxyz"
                         "0123456789_") == n);
        n = strnlen(s.tracking_no, sizeof(s.tracking_no));
        FZ_ASSERT(n >= 4 && n < sizeof(s.tracking_no));
        FZ_ASSERT(strspn(s.tracking_no, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                         "abcdefghijklmnopqrstuvwxyz0123456789-") == n);
    } else {
        FZ_ASSERT(field != NULL && field[0] != '\0' && err.msg[0] != '\0');
    }
    cJSON_Delete(root);
    free(body);
    return 0;
}
