/*
 * Multi-pattern matcher: per transform chain, one Hyperscan database of
 * every @rx (in prefilter mode), @phrases and @contains pattern of the
 * rules on that chain, so a batch of values (mall_waf_batch.c) is
 * scanned once whatever the number of rules. A Hyperscan hit only makes the rule a candidate: @rx is then
 * confirmed by PCRE2 (prefilter mode may over-match; it also accepts
 * back-references and look-arounds Hyperscan cannot run exactly).
 */
#include "mall_waf_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char         **expr;
    unsigned      *flags;
    unsigned      *ids;
    size_t         n, cap;
} pat_list_t;

static int pat_add(pat_list_t *pl, char *expr, unsigned flags, unsigned id)
{
    if (pl->n == pl->cap) {
        size_t cap = pl->cap ? pl->cap * 2 : 64;
        char **e = realloc(pl->expr, cap * sizeof(*e));
        unsigned *f, *i;
        if (!e)
            return -1;
        pl->expr = e;
        if (!(f = realloc(pl->flags, cap * sizeof(*f))))
            return -1;
        pl->flags = f;
        if (!(i = realloc(pl->ids, cap * sizeof(*i))))
            return -1;
        pl->ids = i;
        pl->cap = cap;
    }
    pl->expr[pl->n] = expr;
    pl->flags[pl->n] = flags;
    pl->ids[pl->n] = id;
    pl->n++;
    return 0;
}

static void pat_free(pat_list_t *pl)
{
    size_t i;
    for (i = 0; i < pl->n; i++)
        free(pl->expr[i]);
    free(pl->expr);
    free(pl->flags);
    free(pl->ids);
}

/* a literal as a Hyperscan regex: every byte as \xHH */
static char *literal_rx(const char *s, size_t n)
{
    char *o = malloc(n * 4 + 1), *w = o;
    size_t i;
    if (!o)
        return NULL;
    for (i = 0; i < n; i++)
        w += sprintf(w, "\\x%02x", (unsigned char)s[i]);
    *w = '\0';
    return o;
}

/* 1 when Hyperscan can prefilter this PCRE pattern */
static int hs_accepts(const char *expr, unsigned flags)
{
    hs_expr_info_t *info = NULL;
    hs_compile_error_t *ce = NULL;
    if (hs_expression_info(expr, flags, &info, &ce) != HS_SUCCESS) {
        hs_free_compile_error(ce);
        return 0;
    }
    free(info);
    return 1;
}

/* \A \z \Z \G mean the start or end of the whole batch to Hyperscan,
 * not of the value: such rules are evaluated value by value */
static int anchored_to_buffer(const char *expr)
{
    const char *p;
    for (p = expr; (p = strchr(p, '\\')) != NULL && p[1]; p += 2)
        if (strchr("AzZG", p[1]))
            return 1;
    return 0;
}

static int add_rule_patterns(pat_list_t *pl, const waf_rule_t *r,
    unsigned idx, int *in_hs)
{
    /* no SINGLEMATCH: a batch holds many values and each one's match
     * counts; MULTILINE: ^ and $ also at the '\n' between values */
    const unsigned lit = 0;
    size_t i;
    *in_hs = 0;
    if (r->negate)
        return 0;
    if (r->op == OP_RX) {
        unsigned fl = HS_FLAG_PREFILTER | HS_FLAG_MULTILINE
                    | HS_FLAG_DOTALL | HS_FLAG_ALLOWEMPTY;
        char *e;
        if (anchored_to_buffer(r->arg) || !hs_accepts(r->arg, fl))
            return 0;
        if (!(e = strdup(r->arg)))
            return -1;
        *in_hs = 1;
        return pat_add(pl, e, fl, idx);
    }
    if (r->op == OP_CONTAINS) {
        char *e = literal_rx(r->arg, r->arglen);
        *in_hs = 1;
        return e ? pat_add(pl, e, lit, idx) : -1;
    }
    if (r->op == OP_PHRASES) {
        for (i = 0; i < r->nphrases; i++) {
            char *e = literal_rx(r->phrases[i], strlen(r->phrases[i]));
            if (!e || pat_add(pl, e, lit, idx) != 0)
                return -1;
        }
        *in_hs = 1;
    }
    return 0;
}

static int no_match(unsigned id, unsigned long long from,
    unsigned long long to, unsigned flags, void *ctx)
{
    (void)id; (void)from; (void)to; (void)flags;
    *(int *)ctx = 1;
    return 1;
}

/* The byte between batched values: '\n' when a pattern anchors (^ and $
 * then hold at each value's edges), else a byte no pattern matches on its
 * own, so separators raise no candidates. */
static uint8_t pick_separator(const mall_waf_rules_t *rs, const waf_group_t *g,
    int anchors)
{
    static const uint8_t cand[] = { 0xff, 0xfe, 0x01, 0x7f, 0xc0 };
    size_t i;
    if (anchors)
        return '\n';
    for (i = 0; i < sizeof(cand); i++) {
        int hit = 0;
        hs_scan(g->db, (const char *)&cand[i], 1, 0, rs->hs_scratch,
                no_match, &hit);
        if (!hit)
            return cand[i];
    }
    return '\n';
}

static int build_group(mall_waf_rules_t *rs, waf_group_t *g, char *err,
    size_t el)
{
    pat_list_t pl = { 0 };
    hs_compile_error_t *ce = NULL;
    size_t i;
    int in_hs, anchors = 0;

    g->direct = malloc((rs->nrules + 1) * sizeof(*g->direct));
    g->sels = malloc((rs->nrules * WAF_MAX_SEL + 1) * sizeof(*g->sels));
    if (!g->direct || !g->sels)
        goto oom;
    for (i = 0; i < rs->nrules; i++) {
        waf_rule_t *r = &rs->rules[i];
        if (r->chain != g->chain || r->op == OP_FLAG)
            continue;
        g->tmask |= r->tmask;
        for (unsigned k = 0; k < r->ninc; k++) {
            g->named |= 1u << r->inc[k].target;
            g->sels[g->nsels++] = &r->inc[k];
        }
        if (add_rule_patterns(&pl, r, (unsigned)i, &in_hs) != 0)
            goto oom;
        if (in_hs && r->op == OP_RX && strpbrk(r->arg, "^$"))
            anchors = 1;
        r->in_hs = (uint8_t)in_hs;
        if (!in_hs)
            g->direct[g->ndirect++] = (uint32_t)i;
    }
    if (pl.n) {
        if (hs_compile_multi((const char *const *)pl.expr, pl.flags, pl.ids,
                             (unsigned)pl.n, HS_MODE_BLOCK, NULL, &g->db,
                             &ce) != HS_SUCCESS) {
            snprintf(err, el, "%s:%u: hyperscan: %s",
                     rs->rules[pl.ids[ce->expression >= 0
                                      ? ce->expression : 0]].file,
                     rs->rules[pl.ids[ce->expression >= 0
                                      ? ce->expression : 0]].line,
                     ce->message);
            hs_free_compile_error(ce);
            pat_free(&pl);
            return -1;
        }
        if (hs_alloc_scratch(g->db, &rs->hs_scratch) != HS_SUCCESS)
            goto oom;
        g->nhs = pl.n;
        g->sep = pick_separator(rs, g, anchors);
    }
    pat_free(&pl);
    return 0;
oom:
    pat_free(&pl);
    snprintf(err, el, "out of memory building the matcher");
    return -1;
}

int waf_hs_build(mall_waf_rules_t *rs, char *err, size_t el)
{
    size_t c;
    rs->groups = calloc(rs->nchains ? rs->nchains : 1, sizeof(*rs->groups));
    if (!rs->groups) {
        snprintf(err, el, "out of memory");
        return -1;
    }
    for (c = 0; c < rs->nchains; c++) {
        waf_group_t *g = &rs->groups[rs->ngroups++];
        g->chain = (uint16_t)c;
        if (build_group(rs, g, err, el) != 0)
            return -1;
    }
    return 0;
}

/* one scan of v (a batch of values); on_match gets each hit */
int waf_hs_scan(mall_waf_scan_t *s, const waf_group_t *g, const uint8_t *v,
    size_t n,
    int (*on_match)(unsigned id, unsigned long long from,
                    unsigned long long to, unsigned flags, void *s))
{
    hs_error_t rc;
    if (!g->db)
        return 0;
    rc = hs_scan(g->db, (const char *)v, (unsigned)n, 0,
                 s->rules->hs_scratch, on_match, s);
    return rc == HS_SUCCESS || rc == HS_SCAN_TERMINATED ? 0 : -1;
}

void waf_hs_free(mall_waf_rules_t *rs)
{
    size_t i;
    for (i = 0; i < rs->ngroups; i++) {
        if (rs->groups[i].db)
            hs_free_database(rs->groups[i].db);
        free(rs->groups[i].hs_rule);
        free(rs->groups[i].direct);
        free(rs->groups[i].sels);
    }
    free(rs->groups);
    if (rs->hs_scratch)
        hs_free_scratch(rs->hs_scratch);
}
