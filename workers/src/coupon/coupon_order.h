/*
 * The coupons of one order: from the buyer's wallet (HGETALL of
 * mall:user:{uid}:coupons and of its :used hash, read with the order's
 * other data), the candidates that apply to the order's lines now, and the
 * pick: the best combination ("auto", coupon_rules.h) or the buyer's own
 * list, checked. Pure code on replies (no Redis calls), shared by order
 * creation and the checkout preview so both answer the same total.
 */
#ifndef COUPON_ORDER_H
#define COUPON_ORDER_H

#include <stddef.h>
#include <stdint.h>
#include <hiredis/hiredis.h>
#include <cjson/cJSON.h>

#include "coupon_rules.h"
#include "coupon_tpl.h"

#define COUPON_ORDER_IDS_MAX  10      /* coupons one order may name */

typedef struct {
    coupon_t       c[COUPON_PICK_MAX];          /* usable candidates */
    char           name[COUPON_PICK_MAX][COUPON_NAME_BYTES];
    int64_t        d[COUPON_PICK_MAX];          /* each one's discount */
    size_t         n;
    coupon_pick_t  pick;
    int64_t        share[COUPON_PICK_MAX];      /* of pick.discount, per
                                                   picked coupon */
} coupon_choice_t;

/*
 * Fills ch from the wallet replies for lines[0..n) at now, taking off at
 * most cap in all. ids[0..nids) (nids > 0): exactly those coupons, each
 * held, unused and applying now, allowed together; else (nids == 0) the
 * best combination. MALL_OK, or MALL_ERR with *bad the first coupon id
 * that cannot be used (0: the list is not allowed together).
 */
int coupon_order_choose(const redisReply *wallet, const redisReply *used,
    const coupon_line_t *lines, size_t n, int64_t now, const int64_t *ids,
    size_t nids, int64_t cap, coupon_choice_t *ch, int64_t *bad);

/* [{coupon_id, template_id, name, discount_fen}] of the pick, or NULL. */
cJSON *coupon_order_json(const coupon_choice_t *ch);

/* The picked ids as "12 15" (the order's coupon_ids field). */
void coupon_order_ids(const coupon_choice_t *ch, char *buf, size_t sz);

#endif
