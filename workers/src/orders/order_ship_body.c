/*
 * The ship body (see order_lifecycle.h): untrusted bytes from the back
 * office, after mall_json_object; pure (tests/fuzz/fuzz_ship_body.c).
 */
#include <string.h>

#include "order_lifecycle.h"


static int
ship_field(const cJSON *body, const char *name, const char *allowed,
    size_t min, char *dst, size_t max, mall_err_t *err)
{
    const cJSON  *v = cJSON_GetObjectItemCaseSensitive(body, name);
    size_t        n;

    if (!cJSON_IsString(v)) {
        return mall_err_set(err, 0, "%s must be a string", name);
    }
    n = strlen(v->valuestring);
    if (n < min || n >= max || strspn(v->valuestring, allowed) != n) {
        return mall_err_set(err, 0, "%s must be %zu..%zu characters of "
                            "%s", name, min, max - 1, allowed);
    }
    memcpy(dst, v->valuestring, n + 1);
    return MALL_OK;
}


int
order_ship_parse(const cJSON *body, order_ship_t *s, const char **field,
    mall_err_t *err)
{
    static const char  lower[] = "abcdefghijklmnopqrstuvwxyz0123456789_";
    static const char  alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                 "abcdefghijklmnopqrstuvwxyz0123456789-";

    *field = "body";
    if (!cJSON_IsObject(body)) {
        return mall_err_set(err, 0, "the body must be a JSON object");
    }
    *field = "carrier";
    if (ship_field(body, "carrier", lower, 1, s->carrier,
                   sizeof(s->carrier), err) != MALL_OK)
    {
        return MALL_ERR;
    }
    *field = "tracking_no";
    return ship_field(body, "tracking_no", alnum, 4, s->tracking_no,
                      sizeof(s->tracking_no), err);
}
