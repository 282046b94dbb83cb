/*
 * Cart request bodies (see cart_body.h).
 */
#include "cart_body.h"
#include "catalog_params.h"
#include "mall_json.h"


static int
cart_bad(const char **field, const char **msg, const char *f, const char *m)
{
    *field = f;
    *msg = m;
    return MALL_ERR;
}


int
cart_body_add(const cJSON *body, int64_t *sku, int64_t *qty,
    const char **field, const char **msg)
{
    const cJSON  *q;

    if (mall_json_get_int(cJSON_GetObjectItemCaseSensitive(body, "sku_id"),
                          1, CATALOG_ID_MAX, sku) != MALL_OK)
    {
        return cart_bad(field, msg, "sku_id",
                        "sku_id must be a positive integer");
    }
    q = cJSON_GetObjectItemCaseSensitive(body, "quantity");
    if (q == NULL) {
        *qty = 1;
    } else if (mall_json_get_int(q, 1, CART_QTY_MAX, qty) != MALL_OK) {
        return cart_bad(field, msg, "quantity", "quantity must be 1..99");
    }
    return MALL_OK;
}


int
cart_body_patch(const cJSON *body, int64_t *qty, int *selected,
    const char **field, const char **msg)
{
    const cJSON  *q, *sel;

    *qty = 0;
    q = cJSON_GetObjectItemCaseSensitive(body, "quantity");
    if (q != NULL && mall_json_get_int(q, 1, CART_QTY_MAX, qty) != MALL_OK) {
        return cart_bad(field, msg, "quantity", "quantity must be 1..99");
    }
    sel = cJSON_GetObjectItemCaseSensitive(body, "selected");
    if (sel != NULL && !cJSON_IsBool(sel)) {
        return cart_bad(field, msg, "selected",
                        "selected must be a boolean");
    }
    *selected = sel != NULL ? cJSON_IsTrue(sel) : -1;
    if (*qty == 0 && *selected < 0) {
        return cart_bad(field, msg, "quantity",
                        "give quantity and/or selected");
    }
    return MALL_OK;
}
