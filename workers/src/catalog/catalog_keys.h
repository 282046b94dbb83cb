/*
 * Redis keys of the catalog (prefix "mall:"), written by mall-seed and the
 * merchant back office, read by the catalog handlers.
 *
 *   mall:cat:{id}               hash  id, parent_id (0 = root), level,
 *                                     name_zh, name_en, sort
 *   mall:cats                   zset  category ids, score = sort
 *   mall:cat:{id}:products      set   product ids in the category and all
 *                                     its descendants (on sale)
 *   mall:cat:{id}:by_{sales,price,new}  zset  the same, by sort key: a
 *                                     category page is one ZRANGE
 *   mall:product:{id}           hash  id, name_zh, name_en, brand,
 *                                     category_id, price_fen (min SKU
 *                                     price), image (thumbnail URL), sales,
 *                                     created_at, in_stock (0/1), skus
 *                                     (comma-separated sku ids), json (the
 *                                     static part of the detail document),
 *                                     status (on_sale | delisted)
 *   mall:product:{id}:card      string the product's list item, JSON
 *                                     (catalog_card.h)
 *   mall:sku:{id}               hash  id, product_id, price_fen, stock,
 *                                     attrs (JSON object: color, size),
 *                                     low_stock_threshold (absent: the
 *                                     config's), and a copy of what an
 *                                     order or a cart line shows of the
 *                                     product: name, image, status
 *   mall:products:by_sales      zset  product ids, score = sales
 *   mall:products:by_price      zset  product ids, score = min SKU price_fen
 *   mall:products:by_new        zset  product ids, score = created_at
 *   mall:products:in_stock      set   products with a SKU whose stock > 0
 *   mall:brand:{brand}:products set   product ids; {brand} is lowercased
 *   mall:brands                 set   the {brand} values in use
 *   mall:catalog:version        string bumped by every change of list
 *                                     membership (edits, sell-outs)
 *   mall:list:{digest}          zset  a filtered list's result (brand,
 *                                     in-stock or price filters), built on
 *                                     demand, 60 s; ":ver" beside it holds
 *                                     the catalog version it was built at
 *   mall:purge                  stream tags "product:<id> category:<id>
 *                                     ..." the edges drop from their cache
 *   mall:seq:{category,product,sku}   string, highest id handed out
 *
 * Only the catalog writer (catalog_product.h) and the stock follow-up
 * (stock.h) write these, so indexes, cards and hashes stay in step.
 */
#ifndef CATALOG_KEYS_H
#define CATALOG_KEYS_H

#define CATALOG_KEY_CATS            "mall:cats"
#define CATALOG_KEY_CAT_FMT         "mall:cat:%lld"
#define CATALOG_KEY_CAT_PRODUCTS    "mall:cat:%lld:products"
#define CATALOG_KEY_PRODUCT_FMT     "mall:product:%lld"
#define CATALOG_KEY_SKU_FMT         "mall:sku:%lld"
#define CATALOG_KEY_BY_SALES        "mall:products:by_sales"
#define CATALOG_KEY_BY_PRICE        "mall:products:by_price"
#define CATALOG_KEY_BY_NEW          "mall:products:by_new"
#define CATALOG_KEY_IN_STOCK        "mall:products:in_stock"
#define CATALOG_KEY_BRAND_PRODUCTS  "mall:brand:%s:products"
#define CATALOG_KEY_BRANDS          "mall:brands"
#define CATALOG_KEY_SEQ_FMT         "mall:seq:%s"
#define CATALOG_KEY_CARD_FMT        "mall:product:%lld:card"
#define CATALOG_KEY_CAT_BY_FMT      "mall:cat:%lld:by_%s"
#define CATALOG_KEY_VERSION         "mall:catalog:version"
#define CATALOG_KEY_LIST_FMT        "mall:list:%s"
#define CATALOG_KEY_PURGE           "mall:purge"

#endif
