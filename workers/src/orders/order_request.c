/*
 * Order-creation requests (see order_request.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mall_b64.h"
#include "mall_crypto.h"
#include "mall_json.h"
#include "order_request.h"

#define ORDER_ID_MAX_VALUE  9007199254740991LL     /* 2^53 - 1 */

static char  field_buf[48];      /* "items[49].quantity" */


int
order_idem_key_valid(const char *key)
{
    size_t  i, len;

    if (key == NULL) {
        return 0;
    }
    len = strlen(key);
    if (len == 0 || len > ORDER_IDEM_KEY_MAX) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        char  ch = key[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
              || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
        {
            return 0;
        }
    }
    return 1;
}


long
order_utf8_chars(const char *s)
{
    const unsigned char  *p = (const unsigned char *) s;
    unsigned              cp, need, min;
    long                  n;

    n = 0;
    while (*p != '\0') {
        if (*p < 0x80) {
            if ((*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f) {
                return -1;
            }
            p++;
            n++;
            continue;
        }
        if ((*p & 0xe0) == 0xc0) {
            cp = *p & 0x1f; need = 1;
        } else if ((*p & 0xf0) == 0xe0) {
            cp = *p & 0x0f; need = 2;
        } else if ((*p & 0xf8) == 0xf0) {
            cp = *p & 0x07; need = 3;
        } else {
            return -1;
        }
        min = need == 1 ? 0x80 : need == 2 ? 0x800 : 0x10000;
        p++;
        while (need-- > 0) {
            if ((*p & 0xc0) != 0x80) {
                return -1;
            }
            cp = (cp << 6) | (*p++ & 0x3f);
        }
        /* overlong forms, surrogates and beyond U+10FFFF are refused */
        if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) {
            return -1;
        }
        n++;
    }
    return n;
}


static int
line_cmp(const void *a, const void *b)
{
    const order_line_t  *x = a, *y = b;

    return x->sku_id < y->sku_id ? -1 : x->sku_id > y->sku_id;
}


static int
bad(const char **field, const char *name, mall_err_t *err, const char *msg)
{
    *field = name;
    return mall_err_set(err, 422, "%s", msg);
}


/* The items array: merged by SKU, sorted. */
static int
parse_items(const cJSON *items, const order_conf_t *c, order_req_t *req,
    const char **field, mall_err_t *err)
{
    const cJSON  *it;
    int64_t       sku, qty;
    size_t        i, j;
    int           idx;

    if (!cJSON_IsArray(items) || cJSON_GetArraySize(items) == 0) {
        return bad(field, "items", err, "items must be a non-empty array");
    }
    idx = 0;
    cJSON_ArrayForEach(it, items) {
        if (!cJSON_IsObject(it)) {
            snprintf(field_buf, sizeof(field_buf), "items[%d]", idx);
            return bad(field, field_buf, err, "each item must be an object "
                       "{sku_id, quantity}");
        }
        if (mall_json_get_int(cJSON_GetObjectItemCaseSensitive(it, "sku_id"),
                              1, ORDER_ID_MAX_VALUE, &sku) != MALL_OK)
        {
            snprintf(field_buf, sizeof(field_buf), "items[%d].sku_id", idx);
            return bad(field, field_buf, err, "sku_id must be a positive "
                       "integer");
        }
        if (mall_json_get_int(cJSON_GetObjectItemCaseSensitive(it,
                                  "quantity"), 1, c->max_quantity, &qty)
            != MALL_OK)
        {
            snprintf(field_buf, sizeof(field_buf), "items[%d].quantity", idx);
            *field = field_buf;
            return mall_err_set(err, 422, "quantity must be an integer "
                                "1..%d", c->max_quantity);
        }
        for (j = 0; j < req->nlines; j++) {
            if (req->lines[j].sku_id == sku) {
                break;
            }
        }
        if (j == req->nlines) {
            if (req->nlines >= (size_t) c->max_lines) {
                *field = "items";
                return mall_err_set(err, 422, "at most %d different skus "
                                    "per order", c->max_lines);
            }
            memset(&req->lines[j], 0, sizeof(req->lines[j]));
            req->lines[j].sku_id = sku;
            req->nlines++;
        }
        req->lines[j].quantity += qty;
        if (req->lines[j].quantity > c->max_quantity) {
            snprintf(field_buf, sizeof(field_buf), "items[%d].quantity", idx);
            *field = field_buf;
            return mall_err_set(err, 422, "at most %d of sku %lld per order",
                                c->max_quantity, (long long) sku);
        }
        idx++;
    }
    qsort(req->lines, req->nlines, sizeof(req->lines[0]), line_cmp);
    for (i = 0; i < req->nlines; i++) {
        req->lines[i].price_fen = 0;
        req->lines[i].subtotal_fen = 0;
    }
    return MALL_OK;
}


/* The coupon id list: ids once each, ascending. MALL_OK or MALL_ERR. */
static int
parse_coupon_ids(const cJSON *arr, order_req_t *req)
{
    const cJSON  *id;
    int64_t       v;
    size_t        i, j;

    cJSON_ArrayForEach(id, arr) {
        if (cJSON_IsString(id)) {
            char  *end;

            if (id->valuestring[0] == '\0') {
                return MALL_ERR;
            }
            v = strtoll(id->valuestring, &end, 10);
            if (*end != '\0' || v <= 0 || strlen(id->valuestring) > 15) {
                req->coupon_unknown = 1;    /* no coupon has such an id */
                continue;
            }
        } else if (mall_json_get_int(id, 1, ORDER_ID_MAX_VALUE, &v)
                   != MALL_OK)
        {
            return MALL_ERR;
        }
        for (i = 0; i < req->ncoupons && req->coupon_ids[i] < v; i++) {
            /* the place of v */
        }
        if (i < req->ncoupons && req->coupon_ids[i] == v) {
            continue;
        }
        if (req->ncoupons == ORDER_COUPONS_MAX) {
            return MALL_ERR;
        }
        for (j = req->ncoupons; j > i; j--) {
            req->coupon_ids[j] = req->coupon_ids[j - 1];
        }
        req->coupon_ids[i] = v;
        req->ncoupons++;
    }
    return MALL_OK;
}


int
order_req_parse(const cJSON *body, const order_conf_t *c, int need_address,
    order_req_t *req, const char **field, mall_err_t *err)
{
    const cJSON  *v;
    long          chars;

    memset(req, 0, sizeof(*req));
    *field = NULL;
    if (!cJSON_IsObject(body)) {
        return bad(field, "body", err, "the body must be a JSON object");
    }
    if (parse_items(cJSON_GetObjectItemCaseSensitive(body, "items"), c, req,
                    field, err) != MALL_OK)
    {
        return MALL_ERR;
    }

    v = cJSON_GetObjectItemCaseSensitive(body, "address_id");
    if ((need_address || (v != NULL && !cJSON_IsNull(v)))
        && mall_json_get_int(v, 1, ORDER_ID_MAX_VALUE, &req->address_id)
           != MALL_OK)
    {
        return bad(field, "address_id", err, "address_id must be the id of "
                   "one of your addresses");
    }

    v = cJSON_GetObjectItemCaseSensitive(body, "coupon");
    if (v == NULL || cJSON_IsNull(v)) {
        req->coupon = ORDER_COUPON_NONE;
    } else if (cJSON_IsString(v) && strcmp(v->valuestring, "auto") == 0) {
        req->coupon = ORDER_COUPON_AUTO;
    } else if (cJSON_IsArray(v)) {
        if (parse_coupon_ids(v, req) != MALL_OK) {
            return bad(field, "coupon", err, "coupon must be \"auto\" or a "
                       "list of at most 10 coupon ids");
        }
        req->coupon = req->ncoupons > 0 || req->coupon_unknown
                      ? ORDER_COUPON_IDS : ORDER_COUPON_NONE;
    } else {
        return bad(field, "coupon", err, "coupon must be \"auto\", a list "
                   "of coupon ids or null");
    }

    v = cJSON_GetObjectItemCaseSensitive(body, "remark");
    if (v != NULL && !cJSON_IsNull(v)) {
        if (!cJSON_IsString(v)) {
            return bad(field, "remark", err, "remark must be a string");
        }
        chars = order_utf8_chars(v->valuestring);
        if (chars < 0 || chars > ORDER_REMARK_CHARS) {
            return bad(field, "remark", err, "remark must be at most 200 "
                       "characters of text");
        }
        memcpy(req->remark, v->valuestring, strlen(v->valuestring) + 1);
    }
    return MALL_OK;
}


void
order_req_digest(const order_req_t *req, char hex[ORDER_DIGEST_HEX])
{
    static const char  *coupon[] = { "none", "auto", "ids" };
    mall_sha256_ctx_t   sc;
    uint8_t             md[MALL_SHA256_LEN];
    char                buf[64];
    size_t              i;
    int                 n;

    /* lengths prefix the free text, so no two requests share a form */
    mall_sha256_init(&sc);
    n = snprintf(buf, sizeof(buf), "order-v1\naddress=%lld\ncoupon=%s:%zu\n",
                 (long long) req->address_id, coupon[req->coupon],
                 req->ncoupons);
    mall_sha256_update(&sc, buf, (size_t) n);
    for (i = 0; i < req->nlines; i++) {
        n = snprintf(buf, sizeof(buf), "item=%lld*%lld\n",
                     (long long) req->lines[i].sku_id,
                     (long long) req->lines[i].quantity);
        mall_sha256_update(&sc, buf, (size_t) n);
    }
    for (i = 0; i < req->ncoupons; i++) {
        n = snprintf(buf, sizeof(buf), "coupon_id=%lld\n",
                     (long long) req->coupon_ids[i]);
        mall_sha256_update(&sc, buf, (size_t) n);
    }
    n = snprintf(buf, sizeof(buf), "remark=%zu:", strlen(req->remark));
    mall_sha256_update(&sc, buf, (size_t) n);
    mall_sha256_update(&sc, req->remark, strlen(req->remark));
    mall_sha256_final(&sc, md);
    mall_hex_encode(md, sizeof(md), hex);
    hex[64] = '\0';
}
