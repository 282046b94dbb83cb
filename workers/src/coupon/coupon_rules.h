/*
 * Coupon rules, pure code (unit-tested in tests/unit/test_coupon.c, the
 * best combination against brute force on random sets):
 *
 *   threshold     off_fen off when the eligible subtotal reaches
 *                 threshold_fen (满减)
 *   percent       percent % off the eligible subtotal (1..99: 15 = 8.5折),
 *                 at most max_off_fen (0: no cap), from threshold_fen up
 *   no_threshold  off_fen off whatever the subtotal (无门槛), never more
 *                 than the eligible subtotal
 *
 * The eligible subtotal is the sum of the lines in the coupon's scope: all
 * goods, listed categories (with their subcategories) or listed products;
 * a coupon applies between valid_from and valid_until. Each coupon's
 * discount is computed on its own eligible subtotal, before any other
 * discount; together they take off at most the cap the caller gives (the
 * goods, less one fen: WeChat Pay takes no zero amount).
 *
 * Stacking: at most one coupon of each stack group per order (coupons
 * without a group share the default group, so by default an order takes
 * one coupon); a
 * no-threshold coupon combines with others only when its template says
 * "stackable", else it is used alone.
 *
 * The best combination is exact: the largest total discount the stacking
 * rules allow; among equal discounts the one with fewer coupons (keep the
 * rest for later), then the one using the coupons that expire first
 * (expiry times in ascending order, compared in turn), then the lower
 * coupon ids. It searches every allowed choice of the candidates given
 * (COUPON_PICK_MAX at most: the caller passes the most valuable ones).
 */
#ifndef COUPON_RULES_H
#define COUPON_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "mall_common.h"

#define COUPON_SCOPE_MAX   50
#define COUPON_GROUP_MAX   33
#define COUPON_PICK_MAX    20

typedef enum {
    COUPON_KIND_NONE = 0,
    COUPON_KIND_THRESHOLD,
    COUPON_KIND_PERCENT,
    COUPON_KIND_NO_THRESHOLD
} coupon_kind_e;

typedef enum {
    COUPON_SCOPE_ALL = 0,
    COUPON_SCOPE_CATEGORIES,
    COUPON_SCOPE_PRODUCTS
} coupon_scope_e;

typedef struct {
    coupon_scope_e  type;
    int64_t         ids[COUPON_SCOPE_MAX];
    size_t          n;
} coupon_scope_t;

typedef struct {
    int64_t         id;             /* the buyer's coupon (or template) */
    int64_t         template_id;
    coupon_kind_e   kind;
    int64_t         threshold_fen;
    int64_t         off_fen;
    int             percent;
    int64_t         max_off_fen;
    coupon_scope_t  scope;
    char            stack_group[COUPON_GROUP_MAX];
    int             stackable;
    int64_t         valid_from;     /* unix s */
    int64_t         valid_until;    /* unix s, exclusive */
} coupon_t;

/* One order line as the rules see it. */
typedef struct {
    int64_t      product_id;
    const char  *categories;        /* ",leaf,...,root," (the SKU hash) */
    int64_t      subtotal_fen;
} coupon_line_t;

typedef struct {
    size_t   idx[COUPON_PICK_MAX];  /* into the candidates, ascending */
    size_t   n;
    int64_t  discount;              /* the total, capped */
} coupon_pick_t;

const char *coupon_kind_name(coupon_kind_e k);
coupon_kind_e coupon_kind_parse(const char *s);

/* 1 when line is in c's scope. */
int coupon_in_scope(const coupon_t *c, const coupon_line_t *line);

/*
 * What c takes off lines[0..n) at time now: 0 when it is not valid then,
 * no line is in its scope or its threshold is not reached.
 */
int64_t coupon_discount(const coupon_t *c, const coupon_line_t *lines,
    size_t n, int64_t now);

/* 1 when the coupons set[0..n) may be used together. */
int coupon_set_allowed(const coupon_t *const *set, size_t n);

/*
 * The best combination of cands[0..n) (n <= COUPON_PICK_MAX) whose
 * discounts are d[0..n) (0: not usable), the total taking off at most
 * cap. best->n is 0 when nothing applies.
 */
void coupon_best(const coupon_t *cands, const int64_t *d, size_t n,
    int64_t cap, coupon_pick_t *best);

/*
 * Total of the explicit choice set[0..n) (indexes into cands), capped;
 * MALL_ERR when it is not allowed together or one of them gives nothing.
 */
int coupon_chosen(const coupon_t *cands, const int64_t *d, const size_t *set,
    size_t n, int64_t cap, coupon_pick_t *pick);

#endif
