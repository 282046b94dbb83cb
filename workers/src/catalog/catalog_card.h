/*
 * The list card of a product: the JSON object a product list, a search
 * result page or the favourites show for it, stored ready-made under
 * mall:product:{id}:card so that a page of 20 products is one MGET and a
 * concatenation (no per-field reads, no JSON building per request).
 * Written by the catalog writer and by the stock follow-up whenever a
 * field it shows changes.
 */
#ifndef CATALOG_CARD_H
#define CATALOG_CARD_H

#include <stdint.h>

typedef struct {
    int64_t      id;
    const char  *name;          /* name_zh */
    const char  *name_en;
    const char  *brand;
    int64_t      price_fen;     /* the lowest SKU price */
    const char  *image;
    int64_t      sales;
    int          in_stock;
    int          on_sale;
} catalog_card_t;

/*
 * {"id","name","name_en","brand","price_fen","image","sales","in_stock",
 *  "status"} (in_stock is false for a delisted product). Free with
 * cJSON_free; NULL when out of memory.
 */
char *catalog_card_json(const catalog_card_t *c);

#endif
