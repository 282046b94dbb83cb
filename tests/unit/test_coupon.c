/*
 * Coupon rules: discounts by kind, scope and validity; stacking; the best
 * combination against a brute force over every subset of random coupon
 * sets (written apart from the search, comparing as coupon_rules.h says),
 * and a planted set where picking the biggest coupon first is wrong.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "coupon_rules.h"

#define NOW  1800000000LL


static coupon_t
mk(int64_t id, coupon_kind_e kind, int64_t threshold, int64_t off,
    const char *group)
{
    coupon_t  c;

    memset(&c, 0, sizeof(c));
    c.id = id;
    c.kind = kind;
    c.threshold_fen = threshold;
    c.off_fen = off;
    c.valid_from = NOW - 10;
    c.valid_until = NOW + 1000 + id;
    snprintf(c.stack_group, sizeof(c.stack_group), "%s", group);
    return c;
}


static void
test_discounts(void **state)
{
    coupon_line_t  lines[2] = {
        { 1001, ",113,11,1,", 6000 }, { 2002, ",210,21,2,", 4000 }
    };
    coupon_t       c;

    (void) state;
    c = mk(1, COUPON_KIND_THRESHOLD, 9900, 2000, "a");
    assert_int_equal(coupon_discount(&c, lines, 2, NOW), 2000);
    c.threshold_fen = 10001;
    assert_int_equal(coupon_discount(&c, lines, 2, NOW), 0);

    /* a category scope covers its subcategories; products by id */
    c = mk(2, COUPON_KIND_THRESHOLD, 5000, 1000, "a");
    c.scope.type = COUPON_SCOPE_CATEGORIES;
    c.scope.ids[c.scope.n++] = 11;
    assert_int_equal(coupon_discount(&c, lines, 2, NOW), 1000);
    c.threshold_fen = 6001;                     /* only 6000 eligible */
    assert_int_equal(coupon_discount(&c, lines, 2, NOW), 0);
    c.scope.type = COUPON_SCOPE_PRODUCTS;
    c.scope.ids[0] = 2002;
    c.threshold_fen = 0;
    assert_int_equal(coupon_discount(&c, lines, 2, NOW), 1000);
    c.scope.ids[0] = 113;                       /* a category id: no */
    assert_int_equal(coupon_discount(&c, lines, 2, NOW), 0);

    /* percent: 15 % off, capped */
    c = mk(3, COUPON_KIND_PERCENT, 0, 0, "a");
    c.percent = 15;
    assert_int_equal(coupon_discount(&c, lines, 2, NOW), 1500);
    c.max_off_fen = 800;
    assert_int_equal(coupon_discount(&c, lines, 2, NOW), 800);
    c.percent = 33;
    c.max_off_fen = 0;
    assert_int_equal(coupon_discount(&c, lines, 1, NOW), 1980);

    /* no threshold: never more than what is in scope */
    c = mk(4, COUPON_KIND_NO_THRESHOLD, 0, 99999, "a");
    assert_int_equal(coupon_discount(&c, lines, 2, NOW), 10000);

    /* validity window: from inclusive, until exclusive */
    c = mk(5, COUPON_KIND_NO_THRESHOLD, 0, 100, "a");
    assert_int_equal(coupon_discount(&c, lines, 2, c.valid_from), 100);
    assert_int_equal(coupon_discount(&c, lines, 2, c.valid_until), 0);
    assert_int_equal(coupon_discount(&c, lines, 2, c.valid_from - 1), 0);
}


static void
test_stacking(void **state)
{
    coupon_t         a = mk(1, COUPON_KIND_THRESHOLD, 0, 10, "g1");
    coupon_t         b = mk(2, COUPON_KIND_THRESHOLD, 0, 10, "g1");
    coupon_t         c = mk(3, COUPON_KIND_PERCENT, 0, 10, "g2");
    coupon_t         n = mk(4, COUPON_KIND_NO_THRESHOLD, 0, 10, "g3");
    const coupon_t  *set[3];

    (void) state;
    set[0] = &a; set[1] = &c;
    assert_true(coupon_set_allowed(set, 2));
    set[1] = &b;                                /* one group */
    assert_false(coupon_set_allowed(set, 2));
    set[1] = &n;                                /* not stackable */
    assert_false(coupon_set_allowed(set, 2));
    assert_true(coupon_set_allowed(set + 1, 1));
    n.stackable = 1;
    set[2] = &c;
    assert_true(coupon_set_allowed(set, 3));
}


/* Greedy (biggest first) takes the solitary 80 and stops; two threshold
 * coupons of different groups give 100. */
static void
test_greedy_is_wrong(void **state)
{
    coupon_t       c[3];
    int64_t        d[3] = { 80, 50, 50 };
    coupon_pick_t  p;

    (void) state;
    c[0] = mk(1, COUPON_KIND_NO_THRESHOLD, 0, 80, "x");
    c[1] = mk(2, COUPON_KIND_THRESHOLD, 0, 50, "y");
    c[2] = mk(3, COUPON_KIND_THRESHOLD, 0, 50, "z");
    coupon_best(c, d, 3, 1000, &p);
    assert_int_equal(p.discount, 100);
    assert_int_equal(p.n, 2);
    assert_int_equal(p.idx[0], 1);
    assert_int_equal(p.idx[1], 2);

    /* under a cap of 50 one coupon suffices: the one expiring first */
    c[0].valid_until = NOW + 6000;
    c[1].valid_until = NOW + 5000;
    c[2].valid_until = NOW + 4000;
    coupon_best(c, d, 3, 50, &p);
    assert_int_equal(p.discount, 50);
    assert_int_equal(p.n, 1);
    assert_int_equal(p.idx[0], 2);

    /* an explicit choice that breaks the rules */
    {
        size_t  set[2] = { 0, 1 };

        assert_int_equal(coupon_chosen(c, d, set, 2, 1000, &p), MALL_ERR);
        set[0] = 2;
        assert_int_equal(coupon_chosen(c, d, set, 2, 1000, &p), MALL_OK);
        assert_int_equal(p.discount, 100);
    }
}


/* ---- brute force ---------------------------------------------------- */

typedef struct {
    unsigned  mask;
    int64_t   disc;
    size_t    n;
    int64_t   exp[COUPON_PICK_MAX];
    int64_t   ids[COUPON_PICK_MAX];
} cand_t;


static int
cmp64(const void *a, const void *b)
{
    int64_t  x = *(const int64_t *) a, y = *(const int64_t *) b;

    return x < y ? -1 : x > y;
}


/* 1 when a is preferred to b. */
static int
prefer(const cand_t *a, const cand_t *b)
{
    size_t  i;

    if (a->disc != b->disc) {
        return a->disc > b->disc;
    }
    if (a->n != b->n) {
        return a->n < b->n;
    }
    for (i = 0; i < a->n; i++) {
        if (a->exp[i] != b->exp[i]) {
            return a->exp[i] < b->exp[i];
        }
    }
    for (i = 0; i < a->n; i++) {
        if (a->ids[i] != b->ids[i]) {
            return a->ids[i] < b->ids[i];
        }
    }
    return 0;
}


static cand_t
brute(const coupon_t *c, const int64_t *d, size_t n, int64_t cap)
{
    const coupon_t  *set[COUPON_PICK_MAX];
    cand_t           best, x;
    unsigned         mask;
    size_t           i, k;
    int64_t          sum;
    int              ok;

    memset(&best, 0, sizeof(best));
    for (mask = 1; mask < (1u << n); mask++) {
        k = 0;
        sum = 0;
        ok = 1;
        memset(&x, 0, sizeof(x));
        for (i = 0; i < n; i++) {
            if (mask & (1u << i)) {
                ok &= d[i] > 0;
                set[k] = &c[i];
                x.exp[k] = c[i].valid_until;
                x.ids[k++] = c[i].id;
                sum += d[i];
            }
        }
        if (!ok || !coupon_set_allowed(set, k)) {
            continue;
        }
        x.mask = mask;
        x.n = k;
        x.disc = sum < cap ? sum : cap;
        qsort(x.exp, k, sizeof(int64_t), cmp64);
        qsort(x.ids, k, sizeof(int64_t), cmp64);
        if (best.n == 0 || prefer(&x, &best)) {
            best = x;
        }
    }
    return best;
}


static void
test_best_against_brute_force(void **state)
{
    static const char  *groups[] = { "a", "b", "c", "d" };
    coupon_t            c[12];
    int64_t             d[12], cap;
    coupon_pick_t       p;
    cand_t              b;
    unsigned            mask;
    size_t              n, i, trial;

    (void) state;
    srand(20261207);
    for (trial = 0; trial < 3000; trial++) {
        n = 1 + (size_t) rand() % 12;
        for (i = 0; i < n; i++) {
            c[i] = mk((int64_t) (i + 1),
                      (coupon_kind_e) (1 + rand() % 3), 0, 0,
                      groups[rand() % 4]);
            c[i].stackable = rand() % 2;
            /* few distinct values and expiries: plenty of ties */
            c[i].valid_until = NOW + 100 * (rand() % 4);
            d[i] = rand() % 5 == 0 ? 0 : 10 * (1 + rand() % 6);
        }
        cap = rand() % 3 == 0 ? 10 * (1 + rand() % 12) : 100000;
        coupon_best(c, d, n, cap, &p);
        b = brute(c, d, n, cap);
        mask = 0;
        for (i = 0; i < p.n; i++) {
            mask |= 1u << p.idx[i];
        }
        if (mask != b.mask || p.discount != b.disc) {
            fprintf(stderr, "trial %zu: search %x/%lld, brute %x/%lld\n",
                    trial, mask, (long long) p.discount, b.mask,
                    (long long) b.disc);
        }
        assert_int_equal(p.discount, b.disc);
        assert_int_equal(mask, b.mask);
    }
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_discounts),
        cmocka_unit_test(test_stacking),
        cmocka_unit_test(test_greedy_is_wrong),
        cmocka_unit_test(test_best_against_brute_force),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
