/*
 * Request-body readers of the merchant routes (see merchant.h).
 */
#include <stdio.h>
#include <string.h>

#include "catalog.h"
#include "mall_json.h"
#include "merchant.h"
#include "search_text.h"


/* Reads a string field (1..max bytes) into dst when present. */
int
merch_body_text(const cJSON *body, const char *name, char *dst, size_t max,
    int required, mall_err_t *err)
{
    const cJSON  *v = cJSON_GetObjectItemCaseSensitive(body, name);

    if (v == NULL) {
        return required ? mall_err_set(err, 422, "%s is required", name)
                        : MALL_OK;
    }
    if (!cJSON_IsString(v) || v->valuestring[0] == '\0'
        || strlen(v->valuestring) >= max
        || search_utf8_chars(v->valuestring, strlen(v->valuestring)) < 0)
    {
        return mall_err_set(err, 422, "%s must be a non-empty string of at "
                            "most %zu bytes", name, max - 1);
    }
    memcpy(dst, v->valuestring, strlen(v->valuestring) + 1);
    return MALL_OK;
}


/* Replaces doc[name] with a copy of body[name] of the given type. */
int
merch_body_doc_item(const cJSON *body, cJSON *doc, const char *name, int array,
    mall_err_t *err)
{
    const cJSON  *v = cJSON_GetObjectItemCaseSensitive(body, name);
    cJSON        *c;

    if (v == NULL) {
        return MALL_OK;
    }
    if (array ? !cJSON_IsArray(v) : !cJSON_IsString(v)) {
        return mall_err_set(err, 422, "%s must be %s", name,
                            array ? "an array" : "a string");
    }
    c = cJSON_Duplicate(v, 1);
    if (c == NULL) {
        return mall_err_set(err, 500, "out of memory");
    }
    cJSON_DeleteItemFromObjectCaseSensitive(doc, name);
    if (!cJSON_AddItemToObject(doc, name, c)) {
        cJSON_Delete(c);
        return mall_err_set(err, 500, "out of memory");
    }
    return MALL_OK;
}


/* Reads one SKU spec {price_fen, stock, attrs?, low_stock_threshold?}. */
int
merch_body_sku(const cJSON *s, catalog_sku_t *k, mall_err_t *err)
{
    const cJSON  *attrs, *thr;

    if (mall_json_get_int(cJSON_GetObjectItemCaseSensitive(s, "price_fen"),
                          0, MERCH_PRICE_MAX, &k->price) != MALL_OK
        || mall_json_get_int(cJSON_GetObjectItemCaseSensitive(s, "stock"),
                             0, MERCH_STOCK_MAX, &k->stock) != MALL_OK)
    {
        return mall_err_set(err, 422, "a sku needs price_fen and stock "
                            "(non-negative integers)");
    }
    k->threshold = -1;
    thr = cJSON_GetObjectItemCaseSensitive(s, "low_stock_threshold");
    if (thr != NULL && mall_json_get_int(thr, 0, MERCH_STOCK_MAX, &k->threshold)
                       != MALL_OK)
    {
        return mall_err_set(err, 422, "low_stock_threshold must be a "
                            "non-negative integer");
    }
    attrs = cJSON_GetObjectItemCaseSensitive(s, "attrs");
    if (attrs != NULL && !cJSON_IsObject(attrs)) {
        return mall_err_set(err, 422, "attrs must be an object");
    }
    k->attrs = attrs != NULL ? cJSON_Duplicate(attrs, 1)
                             : cJSON_CreateObject();
    return k->attrs != NULL ? MALL_OK
                            : mall_err_set(err, 500, "out of memory");
}


void
merch_copy_str(char *dst, size_t sz, const redisReply *r)
{
    snprintf(dst, sz, "%s", r != NULL && r->type == REDIS_REPLY_STRING
                            ? r->str : "");
}
