/*
 * workers/src/cart/cart_body.c: the cart's add and patch bodies, read as
 * cart.c reads them (mall_json_object, then cart_body_add / _patch).
 *
 * Input: a JSON body. Oracles: an accepted add has a positive SKU id and
 * 1..99 units; an accepted patch changes the quantity (1..99), the
 * selection, or both; a refusal names a field and a message.
 */
#include "fuzz_common.h"
#include "cart_body.h"
#include "catalog_params.h"
#include "mall_json.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int          selected;
    char        *body;
    cJSON       *root;
    int64_t      sku, qty;
    const char  *field, *msg;

    body = fz_dup(data, size);
    root = mall_json_object(body, size);
    if (root == NULL) {
        free(body);
        return 0;
    }

    field = msg = NULL;
    if (cart_body_add(root, &sku, &qty, &field, &msg) == MALL_OK) {
        FZ_ASSERT(sku >= 1 && sku <= CATALOG_ID_MAX);
        FZ_ASSERT(qty >= 1 && qty <= CART_QTY_MAX);
    } else {
        FZ_ASSERT(field != NULL && msg != NULL);
    }

    field = msg = NULL;
    if (cart_body_patch(root, &qty, &selected, &field, &msg) == MALL_OK) {
        FZ_ASSERT(qty >= 0 && qty <= CART_QTY_MAX);
        FZ_ASSERT(selected >= -1 && selected <= 1);
        FZ_ASSERT(qty > 0 || selected >= 0);
    } else {
        FZ_ASSERT(field != NULL && msg != NULL);
    }

    cJSON_Delete(root);
    free(body);
    return 0;
}
