/*
 * cJSON helpers (see mall_json.h).
 */
#include <inttypes.h>
#include <stdio.h>

#include "mall_json.h"
#include "mall_query.h"

#define JSON_EXACT_MAX  9007199254740992.0   /* 2^53 */


cJSON *
mall_json_object(const void *text, size_t len)
{
    cJSON  *root;

    root = len > 0 ? cJSON_ParseWithLength(text, len) : NULL;
    if (root != NULL && !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        root = NULL;
    }
    return root;
}


cJSON *
mall_json_int(int64_t v)
{
    char  buf[24];

    snprintf(buf, sizeof(buf), "%" PRId64, v);
    return cJSON_CreateRaw(buf);
}


int
mall_json_add_int(cJSON *obj, const char *name, int64_t v)
{
    cJSON  *item;

    item = mall_json_int(v);
    if (item == NULL) {
        return MALL_ERR;
    }
    if (!cJSON_AddItemToObject(obj, name, item)) {
        cJSON_Delete(item);
        return MALL_ERR;
    }
    return MALL_OK;
}


int
mall_json_add_str(cJSON *obj, const char *name, const char *s)
{
    return cJSON_AddStringToObject(obj, name, s) != NULL ? MALL_OK
                                                         : MALL_ERR;
}


int
mall_json_get_int(const cJSON *item, int64_t min, int64_t max,
    int64_t *out)
{
    double     d;
    long long  v;

    if (cJSON_IsRaw(item)) {
        if (mall_parse_int(item->valuestring, min, max, &v) != MALL_OK) {
            return MALL_ERR;
        }
        *out = v;
        return MALL_OK;
    }
    if (!cJSON_IsNumber(item)) {
        return MALL_ERR;
    }

    d = item->valuedouble;
    if (d != d || d > JSON_EXACT_MAX || d < -JSON_EXACT_MAX
        || d != (double) (int64_t) d)
    {
        return MALL_ERR;
    }
    if ((int64_t) d < min || (int64_t) d > max) {
        return MALL_ERR;
    }
    *out = (int64_t) d;
    return MALL_OK;
}
