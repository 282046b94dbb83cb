/*
 * WAF compile, per-value scan and anomaly scoring. A value is cut at
 * max_value bytes, then for each transform chain whose rules target it:
 * copied into the chain's batch, transformed once, the few direct rules
 * (detectors, numeric, ...) evaluated at once, and the patterns matched
 * when the batch is scanned (mall_waf_batch.c). A rule scores once a
 * request.
 */
#include "mall_waf_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const flags[MALL_WAF_ANOMALY_COUNT] = {
    "no_host", "cl_and_te", "too_many_args", "too_many_headers",
    "body_over_limit", "body_not_inspected", "json_invalid",
    "json_bad_utf8", "json_dup_key", "json_too_deep", "multipart_invalid",
};

int waf_anomaly_flag(const char *name, size_t len)
{
    int i;
    for (i = 0; i < MALL_WAF_ANOMALY_COUNT; i++)
        if (strlen(flags[i]) == len && memcmp(flags[i], name, len) == 0)
            return i;
    return -1;
}

mall_waf_rules_t *mall_waf_compile(const char *const *paths, size_t npaths,
    char *err, size_t errlen)
{
    mall_waf_rules_t *rs = calloc(1, sizeof(*rs));
    size_t i;
    if (!rs) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    for (i = 0; i < npaths; i++)
        if (waf_parse_file(rs, paths[i], err, errlen) != 0)
            goto fail;
    if (waf_hs_build(rs, err, errlen) != 0)
        goto fail;
    rs->md = pcre2_match_data_create(16, NULL);
    rs->mctx = pcre2_match_context_create(NULL);
    rs->jit = pcre2_jit_stack_create(32 * 1024, 512 * 1024, NULL);
    if (!rs->md || !rs->mctx || !rs->jit) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    waf_rx_limits(rs->mctx);
    pcre2_jit_stack_assign(rs->mctx, NULL, rs->jit);
    return rs;
fail:
    mall_waf_free(rs);
    return NULL;
}

void mall_waf_free(mall_waf_rules_t *rs)
{
    if (!rs)
        return;
    waf_hs_free(rs);
    waf_rules_clear_all(rs);
    if (rs->md)
        pcre2_match_data_free(rs->md);
    if (rs->mctx)
        pcre2_match_context_free(rs->mctx);
    if (rs->jit)
        pcre2_jit_stack_free(rs->jit);
    free(rs);
}

size_t mall_waf_rule_count(const mall_waf_rules_t *rs)
{
    return rs ? rs->nrules : 0;
}

static const waf_rule_t *find_rule(const mall_waf_rules_t *rs, uint32_t id)
{
    size_t i;
    for (i = 0; rs && i < rs->nrules; i++)
        if (rs->rules[i].id == id)
            return &rs->rules[i];
    return NULL;
}

const char *mall_waf_rule_msg(const mall_waf_rules_t *rs, uint32_t id)
{
    const waf_rule_t *r = find_rule(rs, id);
    return r ? (r->msg ? r->msg : "") : NULL;
}

const char *mall_waf_rule_tags(const mall_waf_rules_t *rs, uint32_t id)
{
    const waf_rule_t *r = find_rule(rs, id);
    return r ? (r->tags ? r->tags : "") : NULL;
}

#define ALIGN8(x) (((x) + 7) & ~(size_t)7)

/* the scan's parts after the struct, placed at mem (NULL: measured) */
static size_t layout(mall_waf_scan_t *s, const mall_waf_rules_t *rs,
    size_t max_value, uint8_t *mem)
{
    size_t bits = ALIGN8((rs->nrules + 8) / 8);
    size_t used = ALIGN8(sizeof(mall_waf_scan_t));
    if (mem) {
        s->fired = mem + used;
        s->seen = (uint32_t *)(void *)(mem + used + bits);
    }
    used += bits + ALIGN8((rs->nrules + 1) * sizeof(uint32_t));
    if (mem)
        s->path = (char *)(mem + used);
    used += WAF_PATH_MAX;
    if (mem)
        s->buf = mem + used;
    used += ALIGN8(max_value + 1);
    return used + waf_batch_layout(s, rs, max_value, mem ? mem + used : NULL);
}

size_t mall_waf_scan_size(const mall_waf_rules_t *rs, size_t max_value)
{
    return layout(NULL, rs, ALIGN8(max_value), NULL);
}

mall_waf_scan_t *mall_waf_scan_init(void *mem, size_t memlen,
    const mall_waf_rules_t *rs, const mall_waf_policy_t *pol)
{
    mall_waf_scan_t *s = mem;
    size_t fixed, max_value, groups = 1, g;
    if (!mem || !rs || !pol || pol->rules != rs)
        return NULL;
    fixed = layout(NULL, rs, 0, NULL);
    if (memlen < fixed + 16)
        return NULL;
    /* the largest max_value that fits: each batch holds one more */
    for (g = 0; g < rs->ngroups; g++)
        groups += rs->groups[g].db != NULL;
    max_value = ALIGN8((memlen - fixed) / groups);
    while (max_value > 8 && layout(NULL, rs, max_value, NULL) > memlen)
        max_value -= 8;
    if (layout(NULL, rs, max_value, NULL) > memlen)
        return NULL;
    memset(s, 0, sizeof(*s));
    s->rules = rs;
    s->policy = pol;
    layout(s, rs, max_value, mem);
    memset(s->fired, 0, ALIGN8((rs->nrules + 8) / 8));
    memset(s->seen, 0, rs->nrules * sizeof(uint32_t));
    s->serial = 1;
    s->max_value = max_value;
    return s;
}

/* names in hits and excerpts: printable ASCII only, no quotes/backslash */
static void sanitise(char *dst, size_t cap, const uint8_t *v, size_t n)
{
    size_t i, o = 0;
    for (i = 0; i < n && o + 1 < cap; i++) {
        uint8_t c = v[i];
        dst[o++] = (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
                 ? (char)c : '.';
    }
    dst[o] = '\0';
}

static int has_tag(const char *tags, const char *tag)
{
    size_t tl = strlen(tag);
    const char *p = tags;
    while (p && *p) {
        size_t n = strcspn(p, ",");
        if (n == tl && memcmp(p, tag, n) == 0)
            return 1;
        p += n;
        if (*p == ',')
            p++;
    }
    return 0;
}

int waf_rule_has_tag(const waf_rule_t *r, const char *tag)
{
    return r->tags && has_tag(r->tags, tag);
}

static int sel_match(const waf_sel_t *sel, int t, const char *name,
    size_t nlen)
{
    return sel->target == t && name && sel->nlen == nlen
        && memcmp(sel->name, name, nlen) == 0;
}

/* does the rule look at this target (and name)? */
static int rule_applies(const waf_rule_t *r, int t, const char *name,
    size_t nlen)
{
    unsigned k;
    int yes = (r->tmask >> t) & 1;
    for (k = 0; !yes && k < r->ninc; k++)
        yes = sel_match(&r->inc[k], t, name, nlen);
    for (k = 0; yes && k < r->nexc; k++)
        if (sel_match(&r->exc[k], t, name, nlen))
            yes = 0;
    return yes;
}

static int policy_excludes(const mall_waf_policy_t *pol, size_t ri, int t,
    const char *name, size_t nlen)
{
    const waf_rule_t *r = &pol->rules->rules[ri];
    size_t i;
    for (i = 0; i < pol->nexcl; i++) {
        const waf_excl_t *e = &pol->excl[i];
        if (e->by_tag ? !waf_rule_has_tag(r, e->tag) : e->rule != ri)
            continue;
        if (e->target == t && name && e->nlen == nlen
            && memcmp(e->name, name, nlen) == 0)
            return 1;
    }
    return 0;
}

int waf_reached(const mall_waf_scan_t *s)
{
    return s->score >= s->policy->threshold;
}

static void record(mall_waf_scan_t *s, size_t ri, int t, const char *name,
    size_t nlen, const uint8_t *v, size_t n)
{
    const waf_rule_t *r = &s->rules->rules[ri];
    mall_waf_hit_t *h;
    s->fired[ri >> 3] |= (uint8_t)(1u << (ri & 7));
    s->score += r->score;
    s->hit = 1;
    if (s->nhits >= MALL_WAF_MAX_HITS)
        return;
    h = &s->hits[s->nhits++];
    h->rule_id = r->id;
    h->score = r->score;
    h->target = (mall_waf_target_e)t;
    sanitise(h->name, sizeof(h->name), (const uint8_t *)name,
             name ? nlen : 0);
    sanitise(h->excerpt, sizeof(h->excerpt), v, n);
}

/* rule ri said yes or is a candidate: policy, targets, confirmation on
 * the transformed value tv */
void waf_consider(mall_waf_scan_t *s, size_t ri, int t, const char *name,
    size_t nlen, const uint8_t *orig, size_t olen, const uint8_t *tv,
    size_t tn, int confirm)
{
    const waf_rule_t *r = &s->rules->rules[ri];
    const mall_waf_policy_t *pol = s->policy;
    if ((s->fired[ri >> 3] >> (ri & 7)) & 1)
        return;
    if (pol->off[ri] || r->pl > pol->paranoia
        || !rule_applies(r, t, name, nlen))
        return;
    if (confirm && !waf_op_eval(s->rules, r, tv, tn))
        return;
    if (pol->nexcl && policy_excludes(pol, ri, t, name, nlen))
        return;
    record(s, ri, t, name, nlen, orig, olen);
}

/* does a rule of the group name this target:name? */
static int group_names(const waf_group_t *g, int t, const char *name,
    size_t nlen)
{
    size_t i;
    if (!((g->named >> t) & 1))
        return 0;
    for (i = 0; i < g->nsels; i++)
        if (sel_match(g->sels[i], t, name, nlen))
            return 1;
    return 0;
}

/* Each group that looks at this target: the value transformed by the
 * group's chain into its batch, the direct rules (detectors, numbers,
 * lengths) checked now, the patterns when the batch is scanned. */
int mall_waf_scan_value(mall_waf_scan_t *s, mall_waf_target_e t,
    const char *name, size_t nlen, const uint8_t *val, size_t len)
{
    const mall_waf_rules_t *rs;
    size_t g, i;
    unsigned cls;
    uint64_t k;
    if (!s || (unsigned)t >= MALL_WAF_TARGET_COUNT)
        return 0;
    rs = s->rules;
    if (len > s->max_value)
        len = s->max_value;
    if (s->cache && len <= WAF_CACHE_VALUE_MAX) {
        k = waf_cache_key(s->cache, s->policy, t, name, name ? nlen : 0,
                          val, len);
        if (k && waf_cache_has(s->cache, k))
            return waf_reached(s);      /* raised nothing last time */
        if (k && s->nvkeys < WAF_CACHE_PENDING)
            s->vkeys[s->nvkeys++] = k;
    }
    cls = waf_tf_classify(val, len);
    for (g = 0; g < rs->ngroups; g++) {
        const waf_group_t *gr = &rs->groups[g];
        const waf_chain_t *c = &rs->chains[gr->chain];
        uint8_t *tv;
        size_t n;
        if (!((gr->tmask >> t) & 1) && !group_names(gr, t, name, nlen))
            continue;
        tv = gr->db ? waf_batch_slot(s, g, len) : s->buf;
        if (len)
            memcpy(tv, val, len);
        n = waf_tf_chain(c->tf, c->n, tv, len, cls);
        for (i = 0; i < gr->ndirect; i++) {
            const waf_rule_t *r = &rs->rules[gr->direct[i]];
            if (((r->tmask >> t) & 1) || r->ninc)
                waf_consider(s, gr->direct[i], t, name, nlen, val, len,
                             tv, n, 1);
        }
        if (gr->db)
            waf_batch_push(s, g, t, name, nlen, val, len, n);
    }
    return waf_reached(s);
}

int mall_waf_scan_anomaly(mall_waf_scan_t *s, mall_waf_anomaly_e a)
{
    const mall_waf_rules_t *rs;
    size_t i;
    if (!s || (unsigned)a >= MALL_WAF_ANOMALY_COUNT)
        return 0;
    rs = s->rules;
    if (!((s->anomalies >> a) & 1)) {
        s->anomalies |= 1u << a;
        for (i = 0; i < rs->nrules; i++) {
            const waf_rule_t *r = &rs->rules[i];
            if (r->op != OP_FLAG || waf_anomaly_flag(r->arg, r->arglen)
                != (int)a || s->policy->off[i]
                || r->pl > s->policy->paranoia
                || ((s->fired[i >> 3] >> (i & 7)) & 1))
                continue;
            record(s, i, MALL_WAF_TARGET_COUNT, flags[a], strlen(flags[a]),
                   (const uint8_t *)"", 0);
        }
    }
    return waf_reached(s);
}

void mall_waf_scan_use_cache(mall_waf_scan_t *s, mall_waf_cache_t *c)
{
    s->cache = c;
}

void mall_waf_scan_result(mall_waf_scan_t *s, mall_waf_result_t *out)
{
    size_t i;
    waf_batch_flush_all(s);
    /* only a request with no hit at all vouches for its values: a rule
     * scores once, so a value after its hit may look clean and not be */
    if (s->cache && !s->hit)
        for (i = 0; i < s->nvkeys; i++)
            waf_cache_put(s->cache, s->vkeys[i]);
    s->nvkeys = 0;
    out->score = s->score;
    out->blocked = waf_reached(s) && !s->policy->detect;
    out->nhits = s->nhits;
    out->hits = s->hits;
}
