/*
 * workers/src/orders/order_request.c: the order-creation request, as
 * order_create.c reads it: the Idempotency-Key header (a C string from
 * evhttp) and the body (mall_json_object, then order_req_parse), then the
 * digest a retry is compared by.
 *
 * Input: a config byte (default limits or the hard maxima), the header
 * value up to '\n', the body. Oracles: a parsed request has 1..max_lines
 * lines sorted by distinct SKU, each quantity within the limit, a remark
 * that fits its buffer; parsing is deterministic (same digest twice).
 */
#include "fuzz_common.h"
#include "mall_json.h"
#include "order_request.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int            ok;
    char          *key, d1[ORDER_DIGEST_HEX], d2[ORDER_DIGEST_HEX];
    char          *body;
    cJSON         *root;
    size_t         i, blen;
    fz_in_t        in;
    uint8_t        cfg;
    mall_err_t     err;
    const char    *field;
    order_req_t   *req, *req2;
    order_conf_t   c;

    in.p = data;
    in.n = size;
    cfg = fz_byte(&in);
    key = fz_str_field(&in, '\n');
    ok = order_idem_key_valid(key);
    FZ_ASSERT(!ok || (strlen(key) >= 1 && strlen(key) <= ORDER_IDEM_KEY_MAX));
    free(key);

    order_conf_init(&c);
    if (cfg & 1) {
        c.max_lines = ORDER_LINES_MAX;
        c.max_quantity = 10000;
    }

    blen = in.n;
    body = fz_dup(in.p, blen);
    root = mall_json_object(body, blen);
    req = fz_alloc(sizeof(*req));
    req2 = fz_alloc(sizeof(*req2));

    err.code = 0;
    err.msg[0] = '\0';
    if (order_req_parse(root, &c, 1, req, &field, &err) == MALL_OK) {
        FZ_ASSERT(req->nlines >= 1 && req->nlines <= (size_t) c.max_lines);
        for (i = 0; i < req->nlines; i++) {
            FZ_ASSERT(req->lines[i].quantity >= 1
                      && req->lines[i].quantity <= c.max_quantity);
            FZ_ASSERT(i == 0
                      || req->lines[i - 1].sku_id < req->lines[i].sku_id);
        }
        FZ_ASSERT(memchr(req->remark, '\0', sizeof(req->remark)) != NULL);
        FZ_ASSERT(order_utf8_chars(req->remark) >= 0);
        FZ_ASSERT(req->address_id >= 1);

        order_req_digest(req, d1);
        FZ_ASSERT(order_req_parse(root, &c, 1, req2, &field, &err)
                  == MALL_OK);
        order_req_digest(req2, d2);
        FZ_ASSERT(strlen(d1) == 64 && strcmp(d1, d2) == 0);
    } else {
        FZ_ASSERT(field != NULL && err.code == 422);
        FZ_ASSERT(memchr(err.msg, '\0', sizeof(err.msg)) != NULL);
    }

    free(req);
    free(req2);
    cJSON_Delete(root);
    free(body);
    return 0;
}
