/*
 * The order-creation request: the Idempotency-Key header and the body
 *
 *   {"items": [{"sku_id", "quantity"}], "address_id",
 *    "coupon": "auto" | [coupon ids] | null, "remark"}
 *
 * (at most 10 coupon ids, integers or their decimal text, kept once each
 * in ascending order; another string can name no coupon: coupon_unknown)
 *
 * parsed and normalized: lines naming the same SKU are merged (their
 * quantities added, the sum checked against order_max_quantity) and
 * sorted by SKU id; any other member (a client's "price_fen", ...) is
 * ignored. The canonical form of the normalized request is what a retry
 * with the same key is compared by (its SHA-256). Pure code, unit-tested
 * in tests/unit/test_order_pricing.c.
 */
#ifndef ORDER_REQUEST_H
#define ORDER_REQUEST_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "mall_common.h"
#include "order_conf.h"
#include "order_pricing.h"

#define ORDER_IDEM_KEY_MAX     64
#define ORDER_REMARK_CHARS     200
#define ORDER_REMARK_BYTES     (ORDER_REMARK_CHARS * 4 + 1)
#define ORDER_DIGEST_HEX       65

typedef enum {
    ORDER_COUPON_NONE = 0,         /* absent or null */
    ORDER_COUPON_AUTO,             /* "auto": the best valid combination */
    ORDER_COUPON_IDS               /* an explicit list (ncoupons ids) */
} order_coupon_e;

typedef struct {
    order_line_t    lines[ORDER_LINES_MAX];
    size_t          nlines;
    int64_t         address_id;
    order_coupon_e  coupon;
    size_t          ncoupons;
    int64_t         coupon_ids[ORDER_COUPONS_MAX];  /* ascending */
    int             coupon_unknown; /* the list names a non-id string */
    char            remark[ORDER_REMARK_BYTES];
} order_req_t;

/* 1 when key is 1..64 characters of [A-Za-z0-9_-], else 0. */
int order_idem_key_valid(const char *key);

/*
 * Parses body into req under c's limits; address_id may be absent (0)
 * unless need_address (a preview prices a cart before the address is
 * chosen). MALL_OK, or MALL_ERR with err->code 422, err->msg for the
 * client and *field naming the member ("items", "items[1].quantity",
 * "address_id", "coupon", "remark").
 */
int order_req_parse(const cJSON *body, const order_conf_t *c,
    int need_address, order_req_t *req, const char **field,
    mall_err_t *err);

/* Lowercase hex SHA-256 of the canonical form of req (64 chars + NUL). */
void order_req_digest(const order_req_t *req, char hex[ORDER_DIGEST_HEX]);

/*
 * Number of UTF-8 characters in s, or -1 when s is not valid UTF-8 or
 * holds a control character other than newline and tab.
 */
long order_utf8_chars(const char *s);

#endif
