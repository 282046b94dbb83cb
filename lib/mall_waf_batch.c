/*
 * Batched multi-pattern scans. Hyperscan's cost is mostly per call, and a
 * request is dozens of short values, so each group's transformed values
 * wait back to back in its batch (a separator after each) and the group's
 * database scans the batch once: at the end of the request, or sooner
 * when the batch is full. A match is traced back to the value holding its
 * last byte, and the rule is confirmed on that value alone (PCRE2 for @rx,
 * the operator itself otherwise), so the verdict is the one a scan value
 * by value would give: the batch only decides which rules get checked.
 */
#include "mall_waf_int.h"

#include <string.h>

#define ALIGN8(x) (((x) + 7) & ~(size_t)7)

static size_t batch_cap(size_t max_value)
{
    return ALIGN8(max_value + 1 + WAF_BATCH_EXTRA);
}

/* Places the batches at p (NULL: only measures); returns the bytes used. */
size_t waf_batch_layout(mall_waf_scan_t *s, const mall_waf_rules_t *rs,
    size_t max_value, uint8_t *p)
{
    size_t g, used = ALIGN8(rs->ngroups * sizeof(waf_batch_t));
    waf_batch_t *b = (waf_batch_t *)(void *)p;
    if (p) {
        memset(b, 0, rs->ngroups * sizeof(*b));
        s->batch = b;
    }
    for (g = 0; g < rs->ngroups; g++) {
        if (!rs->groups[g].db)
            continue;
        if (p) {
            b[g].cap = batch_cap(max_value);
            b[g].buf = p + used;
            b[g].vals = (waf_pending_t *)(void *)(p + used + b[g].cap);
        }
        used += batch_cap(max_value)
              + ALIGN8(WAF_BATCH_VALUES * sizeof(waf_pending_t));
    }
    return used;
}

/* value index holding byte pos: the last value starting at or before it */
static size_t value_at(const waf_batch_t *b, unsigned long long pos)
{
    size_t lo = 0, hi = b->nvals;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (b->vals[mid].off <= pos)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

static int on_match(unsigned id, unsigned long long from,
    unsigned long long to, unsigned flags, void *ctx)
{
    mall_waf_scan_t *s = ctx;
    const waf_batch_t *b = s->flushing;
    const waf_pending_t *v;
    size_t vi = value_at(b, to ? to - 1 : 0);
    (void)from; (void)flags;
    v = &b->vals[vi];
    if (to && to - 1 == v->off + v->len)
        return 0;           /* ends on the separator: not the value's own */
    if (s->seen[id] == s->serial + vi)
        return 0;                       /* this rule, this value: checked */
    s->seen[id] = s->serial + (uint32_t)vi;
    waf_consider(s, id, v->target, v->name, v->nlen, v->orig, v->olen,
                 b->buf + v->off, v->len, 1);
    return 0;           /* every rule that matches is recorded (audit) */
}

static void flush(mall_waf_scan_t *s, size_t g)
{
    waf_batch_t *b = &s->batch[g];
    if (!b->nvals)
        return;
    s->flushing = b;
    /* a failed scan (out of scratch) leaves only the direct rules'
     * verdict; Hyperscan fails only on a bad database or scratch */
    (void)waf_hs_scan(s, &s->rules->groups[g], b->buf, b->used, on_match);
    s->flushing = NULL;
    s->serial += (uint32_t)b->nvals + 1;
    b->nvals = 0;
    b->used = 0;
}

/* room for a len-byte value in group g's batch (flushed when full) */
uint8_t *waf_batch_slot(mall_waf_scan_t *s, size_t g, size_t len)
{
    waf_batch_t *b = &s->batch[g];
    if (b->nvals == WAF_BATCH_VALUES || b->used + len + 1 > b->cap)
        flush(s, g);
    return b->buf + b->used;
}

/* the value transformed in the slot (tn bytes) joins the batch */
void waf_batch_push(mall_waf_scan_t *s, size_t g, int t, const char *name,
    size_t nlen, const uint8_t *orig, size_t olen, size_t tn)
{
    waf_batch_t *b = &s->batch[g];
    waf_pending_t *v = &b->vals[b->nvals++];
    v->off = (uint32_t)b->used;
    v->len = (uint32_t)tn;
    v->target = (uint8_t)t;
    v->nlen = name ? (uint32_t)nlen : 0;
    if (v->nlen)
        memcpy(v->name, name, nlen < WAF_NAME_MAX ? nlen : WAF_NAME_MAX);
    v->olen = (uint8_t)(olen < WAF_EXCERPT ? olen : WAF_EXCERPT);
    memcpy(v->orig, orig, v->olen);
    b->buf[b->used + tn] = s->rules->groups[g].sep;
    b->used += tn + 1;
}

void waf_batch_flush_all(mall_waf_scan_t *s)
{
    size_t g;
    for (g = 0; g < s->rules->ngroups; g++)
        if (s->batch[g].buf)
            flush(s, g);
}
