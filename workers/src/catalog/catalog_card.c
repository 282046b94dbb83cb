/*
 * Product list cards (see catalog_card.h).
 */
#include <cjson/cJSON.h>

#include "catalog_card.h"
#include "mall_json.h"


char *
catalog_card_json(const catalog_card_t *c)
{
    cJSON  *o;
    char   *out;

    o = cJSON_CreateObject();
    if (o == NULL
        || mall_json_add_int(o, "id", c->id) != MALL_OK
        || mall_json_add_str(o, "name", c->name) != MALL_OK
        || mall_json_add_str(o, "name_en", c->name_en) != MALL_OK
        || mall_json_add_str(o, "brand", c->brand) != MALL_OK
        || mall_json_add_int(o, "price_fen", c->price_fen) != MALL_OK
        || mall_json_add_str(o, "image", c->image) != MALL_OK
        || mall_json_add_int(o, "sales", c->sales) != MALL_OK
        || cJSON_AddBoolToObject(o, "in_stock", c->in_stock && c->on_sale)
           == NULL
        || mall_json_add_str(o, "status", c->on_sale ? "on_sale"
                                                     : "delisted")
           != MALL_OK)
    {
        cJSON_Delete(o);
        return NULL;
    }
    out = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return out;
}
