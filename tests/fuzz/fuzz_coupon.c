/*
 * workers/src/coupon/coupon_tpl.c and coupon_order.c: a merchant's
 * template body checked (coupon_tpl_parse), the template and a coupon cut
 * from it written and read back (what Redis keeps), and that coupon priced
 * against two order lines.
 *
 * Input: a JSON body. Oracles: a template that parses writes JSON that
 * reads back to the same rule; a coupon never takes off more than the
 * eligible lines, nor a negative amount.
 */
#include "fuzz_common.h"
#include "coupon_order.h"
#include "mall_json.h"


static void
round_trip(const coupon_tpl_t *t)
{
    coupon_tpl_t   back;
    coupon_t       c;
    coupon_line_t  lines[2];
    char           name[COUPON_NAME_BYTES], *text;
    cJSON         *o;
    int64_t        d;

    o = coupon_tpl_json(t);
    FZ_ASSERT(o != NULL);
    text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    FZ_ASSERT(coupon_tpl_from_json(text, strlen(text), &back) == MALL_OK);
    FZ_ASSERT(back.rule.kind == t->rule.kind
              && back.rule.off_fen == t->rule.off_fen
              && back.rule.scope.n == t->rule.scope.n
              && back.total == t->total && strcmp(back.name, t->name) == 0);
    cJSON_free(text);

    o = coupon_issue_json(t, 42, 1700000000);
    FZ_ASSERT(o != NULL);
    text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    FZ_ASSERT(coupon_from_json(text, strlen(text), &c, name) == MALL_OK);
    cJSON_free(text);

    lines[0].product_id = t->rule.scope.n > 0 ? t->rule.scope.ids[0] : 1;
    lines[0].categories = ",113,11,1,";
    lines[0].subtotal_fen = 12345;
    lines[1].product_id = 7;
    lines[1].categories = NULL;
    lines[1].subtotal_fen = 99;
    d = coupon_discount(&c, lines, 2, c.valid_from);
    FZ_ASSERT(d >= 0 && d <= 12345 + 99);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    coupon_tpl_t   t;
    coupon_t       c;
    const char    *field;
    char          *body, name[COUPON_NAME_BYTES];
    cJSON         *root;
    mall_err_t     err;

    body = fz_dup(data, size);
    /* stored documents are ours, but read them as hostile too */
    coupon_from_json(body, size, &c, name);
    coupon_tpl_from_json(body, size, &t);
    root = mall_json_object(body, size);
    if (root != NULL) {
        if (coupon_tpl_parse(root, &t, &field, &err) == MALL_OK) {
            t.id = 9;
            t.rule.id = t.rule.template_id = 9;
            round_trip(&t);
        } else {
            FZ_ASSERT(err.code == 422 && field != NULL);
        }
        cJSON_Delete(root);
    }
    free(body);
    return 0;
}
