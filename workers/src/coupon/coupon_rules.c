/*
 * Coupon rules (see coupon_rules.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coupon_rules.h"

static const char  *kind_names[] = {
    "", "threshold", "percent", "no_threshold"
};


const char *
coupon_kind_name(coupon_kind_e k)
{
    return (unsigned) k < MALL_ARRAY_LEN(kind_names) ? kind_names[k] : "";
}


coupon_kind_e
coupon_kind_parse(const char *s)
{
    unsigned  i;

    for (i = COUPON_KIND_THRESHOLD; s != NULL && i < MALL_ARRAY_LEN(kind_names);
         i++)
    {
        if (strcmp(s, kind_names[i]) == 0) {
            return (coupon_kind_e) i;
        }
    }
    return COUPON_KIND_NONE;
}


/* 1 when ",id," is in the line's category chain. */
static int
in_chain(const char *chain, int64_t id)
{
    char  probe[32];

    if (chain == NULL) {
        return 0;
    }
    snprintf(probe, sizeof(probe), ",%lld,", (long long) id);
    return strstr(chain, probe) != NULL;
}


int
coupon_in_scope(const coupon_t *c, const coupon_line_t *line)
{
    size_t  i;

    if (c->scope.type == COUPON_SCOPE_ALL) {
        return 1;
    }
    for (i = 0; i < c->scope.n; i++) {
        if (c->scope.type == COUPON_SCOPE_PRODUCTS
            ? line->product_id == c->scope.ids[i]
            : in_chain(line->categories, c->scope.ids[i]))
        {
            return 1;
        }
    }
    return 0;
}


int64_t
coupon_discount(const coupon_t *c, const coupon_line_t *lines, size_t n,
    int64_t now)
{
    int64_t  eligible, off;
    size_t   i;

    if (now < c->valid_from || now >= c->valid_until) {
        return 0;
    }
    eligible = 0;
    for (i = 0; i < n; i++) {
        if (coupon_in_scope(c, &lines[i])) {
            eligible += lines[i].subtotal_fen;
        }
    }
    if (eligible <= 0 || eligible < c->threshold_fen) {
        return 0;
    }
    switch (c->kind) {
    case COUPON_KIND_THRESHOLD:
    case COUPON_KIND_NO_THRESHOLD:
        off = c->off_fen;
        break;
    case COUPON_KIND_PERCENT:
        off = eligible / 100 * c->percent + eligible % 100 * c->percent / 100;
        if (c->max_off_fen > 0 && off > c->max_off_fen) {
            off = c->max_off_fen;
        }
        break;
    default:
        return 0;
    }
    return off < eligible ? off : eligible;
}


/* A no-threshold coupon that must be used alone. */
static int
solitary(const coupon_t *c)
{
    return c->kind == COUPON_KIND_NO_THRESHOLD && !c->stackable;
}


int
coupon_set_allowed(const coupon_t *const *set, size_t n)
{
    size_t  i, j;

    for (i = 0; i < n; i++) {
        if (solitary(set[i]) && n > 1) {
            return 0;
        }
        for (j = i + 1; j < n; j++) {
            if (strcmp(set[i]->stack_group, set[j]->stack_group) == 0) {
                return 0;
            }
        }
    }
    return 1;
}


/* ---------------------------------------------------------- the search */

typedef struct {
    const coupon_t  *c;
    const int64_t   *d;
    int64_t          cap;
    size_t           group[COUPON_PICK_MAX][COUPON_PICK_MAX];
    size_t           gsize[COUPON_PICK_MAX];
    int64_t          gmax[COUPON_PICK_MAX + 1];  /* best of groups g.. */
    size_t           ngroups;
    coupon_pick_t    cur;
    int64_t          sum;
    coupon_pick_t   *best;
} search_t;


static int
cmp_i64(const void *a, const void *b)
{
    int64_t  x = *(const int64_t *) a, y = *(const int64_t *) b;

    return x < y ? -1 : x > y;
}


/* The tie-break keys of p: its coupons' expiries and ids, ascending. */
static void
keys(const search_t *s, const coupon_pick_t *p, int64_t *exp, int64_t *ids)
{
    size_t  i;

    for (i = 0; i < p->n; i++) {
        exp[i] = s->c[p->idx[i]].valid_until;
        ids[i] = s->c[p->idx[i]].id;
    }
    qsort(exp, p->n, sizeof(*exp), cmp_i64);
    qsort(ids, p->n, sizeof(*ids), cmp_i64);
}


/* > 0 when a is better than b (coupon_rules.h says how). */
static int
better(const search_t *s, const coupon_pick_t *a, const coupon_pick_t *b)
{
    int64_t  ea[COUPON_PICK_MAX], eb[COUPON_PICK_MAX];
    int64_t  ia[COUPON_PICK_MAX], ib[COUPON_PICK_MAX];
    size_t   i;

    if (a->discount != b->discount) {
        return a->discount > b->discount ? 1 : -1;
    }
    if (a->n != b->n) {
        return a->n < b->n ? 1 : -1;
    }
    keys(s, a, ea, ia);
    keys(s, b, eb, ib);
    for (i = 0; i < a->n; i++) {
        if (ea[i] != eb[i]) {
            return ea[i] < eb[i] ? 1 : -1;
        }
    }
    for (i = 0; i < a->n; i++) {
        if (ia[i] != ib[i]) {
            return ia[i] < ib[i] ? 1 : -1;
        }
    }
    return 0;
}


static void
offer(search_t *s, const coupon_pick_t *p)
{
    if (p->n > 0 && (s->best->n == 0 || better(s, p, s->best) > 0)) {
        *s->best = *p;
    }
}


static int64_t
capped(int64_t v, int64_t cap)
{
    return v < cap ? v : cap;
}


/* Choice for group g onwards: none or one coupon of each group. */
static void
dfs(search_t *s, size_t g)
{
    int64_t  bound;
    size_t   i, k;

    bound = capped(s->sum + s->gmax[g], s->cap);
    if (s->best->n > 0 && (bound < s->best->discount
                           || (bound == s->best->discount
                               && s->cur.n > s->best->n)))
    {
        return;                     /* cannot even tie */
    }
    if (g == s->ngroups || s->sum >= s->cap) {
        s->cur.discount = capped(s->sum, s->cap);
        offer(s, &s->cur);
        return;
    }
    dfs(s, g + 1);                  /* none of this group */
    for (i = 0; i < s->gsize[g]; i++) {
        k = s->group[g][i];
        s->cur.idx[s->cur.n++] = k;
        s->sum += s->d[k];
        dfs(s, g + 1);
        s->sum -= s->d[k];
        s->cur.n--;
    }
}


/* The stackable usable candidates by stack group. */
static void
group_candidates(search_t *s, size_t n)
{
    size_t  i, g;

    s->ngroups = 0;
    for (i = 0; i < n; i++) {
        if (s->d[i] <= 0 || solitary(&s->c[i])) {
            continue;
        }
        for (g = 0; g < s->ngroups; g++) {
            if (strcmp(s->c[s->group[g][0]].stack_group,
                       s->c[i].stack_group) == 0)
            {
                break;
            }
        }
        if (g == s->ngroups) {
            s->gsize[s->ngroups++] = 0;
        }
        s->group[g][s->gsize[g]++] = i;
    }
    s->gmax[s->ngroups] = 0;
    for (g = s->ngroups; g-- > 0; ) {
        int64_t  m = 0;

        for (i = 0; i < s->gsize[g]; i++) {
            m = s->d[s->group[g][i]] > m ? s->d[s->group[g][i]] : m;
        }
        s->gmax[g] = s->gmax[g + 1] + m;
    }
}


static int
cmp_size(const void *a, const void *b)
{
    size_t  x = *(const size_t *) a, y = *(const size_t *) b;

    return x < y ? -1 : x > y;
}


void
coupon_best(const coupon_t *cands, const int64_t *d, size_t n, int64_t cap,
    coupon_pick_t *best)
{
    search_t       s;
    coupon_pick_t  one;
    size_t         i;

    memset(best, 0, sizeof(*best));
    if (n > COUPON_PICK_MAX || cap <= 0) {
        return;
    }
    memset(&s, 0, sizeof(s));
    s.c = cands;
    s.d = d;
    s.cap = cap;
    s.best = best;
    for (i = 0; i < n; i++) {       /* the ones used alone */
        if (d[i] > 0 && solitary(&cands[i])) {
            one.n = 1;
            one.idx[0] = i;
            one.discount = capped(d[i], cap);
            offer(&s, &one);
        }
    }
    group_candidates(&s, n);
    dfs(&s, 0);
    qsort(best->idx, best->n, sizeof(best->idx[0]), cmp_size);
}


int
coupon_chosen(const coupon_t *cands, const int64_t *d, const size_t *set,
    size_t n, int64_t cap, coupon_pick_t *pick)
{
    const coupon_t  *ptrs[COUPON_PICK_MAX];
    int64_t          sum;
    size_t           i;

    memset(pick, 0, sizeof(*pick));
    if (n > COUPON_PICK_MAX) {
        return MALL_ERR;
    }
    sum = 0;
    for (i = 0; i < n; i++) {
        if (d[set[i]] <= 0) {
            return MALL_ERR;
        }
        ptrs[i] = &cands[set[i]];
        pick->idx[i] = set[i];
        sum += d[set[i]];
    }
    if (!coupon_set_allowed(ptrs, n)) {
        return MALL_ERR;
    }
    pick->n = n;
    pick->discount = capped(sum, cap);
    qsort(pick->idx, n, sizeof(pick->idx[0]), cmp_size);
    return MALL_OK;
}
