/*
 * workers/src/merchant/merchant_body.c: the merchant routes' body readers,
 * called as merchant_products.c, merchant_categories.c and
 * merchant_skus.c call them: text fields into their buffers (name and
 * name_en CATALOG_TEXT_MAX, brand CATALOG_BRAND_MAX + 1), doc items into
 * the detail document, and each element of "skus" as a SKU spec.
 *
 * Input: a JSON body. Oracles: a text read leaves a NUL-terminated UTF-8
 * string shorter than its buffer; a SKU has non-negative price and stock.
 */
#include "fuzz_common.h"
#include "catalog_product.h"
#include "mall_json.h"
#include "merchant.h"
#include "search_text.h"


static void
text(const cJSON *body, const char *name, size_t size)
{
    char        *dst;
    mall_err_t   err;

    dst = fz_alloc(size);
    dst[0] = '\0';
    if (merch_body_text(body, name, dst, size, 0, &err) == MALL_OK) {
        FZ_ASSERT(memchr(dst, '\0', size) != NULL);
        FZ_ASSERT(search_utf8_chars(dst, strlen(dst)) >= 0);
    } else {
        FZ_ASSERT(err.code == 422);
    }
    if (merch_body_text(body, name, dst, size, 1, &err) == MALL_OK) {
        FZ_ASSERT(dst[0] != '\0');
    }
    free(dst);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char           *body;
    cJSON          *root, *doc;
    mall_err_t      err;
    const cJSON    *skus, *s;
    catalog_sku_t   k;

    body = fz_dup(data, size);
    root = mall_json_object(body, size);
    if (root == NULL) {
        free(body);
        return 0;
    }

    text(root, "name", CATALOG_TEXT_MAX);
    text(root, "name_en", CATALOG_TEXT_MAX);
    text(root, "brand", CATALOG_BRAND_MAX + 1);

    doc = cJSON_CreateObject();
    FZ_ASSERT(doc != NULL);
    cJSON_AddStringToObject(doc, "description", "before");
    merch_body_doc_item(root, doc, "description", 0, &err);
    merch_body_doc_item(root, doc, "images", 1, &err);
    merch_body_doc_item(root, doc, "params", 1, &err);
    cJSON_Delete(doc);

    skus = cJSON_GetObjectItemCaseSensitive(root, "skus");
    cJSON_ArrayForEach(s, skus) {
        memset(&k, 0, sizeof(k));
        if (merch_body_sku(s, &k, &err) == MALL_OK) {
            FZ_ASSERT(k.price >= 0 && k.stock >= 0 && k.attrs != NULL);
            FZ_ASSERT(k.threshold >= -1);
        }
        cJSON_Delete(k.attrs);
    }
    /* the SKU route reads the body itself as one spec */
    memset(&k, 0, sizeof(k));
    merch_body_sku(root, &k, &err);
    cJSON_Delete(k.attrs);

    cJSON_Delete(root);
    free(body);
    return 0;
}
