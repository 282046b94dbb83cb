/*
 * WAF policy of a location: paranoia level, threshold, mode and
 * exclusions ("exclude=942100", "exclude=tag:xss",
 * "exclude=tag:xss@json:review.content", "exclude=942100@args:q").
 */
#include "mall_waf_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int pfail(char *err, size_t el, const char *why, const char *arg)
{
    snprintf(err, el, "waf policy: %s: %s", why, arg);
    return -1;
}

static int parse_int(const char *v, int lo, int hi, int *out)
{
    char *end;
    long n = strtol(v, &end, 10);
    if (end == v || *end || n < lo || n > hi)
        return -1;
    *out = (int)n;
    return 0;
}

static int add_exclusion(mall_waf_policy_t *p, const char *v, char *err,
    size_t el)
{
    const mall_waf_rules_t *rs = p->rules;
    const char *at = strchr(v, '@');
    size_t wl = at ? (size_t)(at - v) : strlen(v), i;
    waf_excl_t e;
    int found = 0;

    memset(&e, 0, sizeof(e));
    e.target = -1;
    if (wl > 4 && memcmp(v, "tag:", 4) == 0) {
        if (wl - 4 >= sizeof(e.tag))
            return pfail(err, el, "tag too long", v);
        e.by_tag = 1;
        memcpy(e.tag, v + 4, wl - 4);
        for (i = 0; i < rs->nrules; i++)
            found |= waf_rule_has_tag(&rs->rules[i], e.tag);
    } else {
        char idbuf[16];
        int id;
        if (wl == 0 || wl >= sizeof(idbuf))
            return pfail(err, el, "bad rule id", v);
        memcpy(idbuf, v, wl);
        idbuf[wl] = '\0';
        if (parse_int(idbuf, 1, 0x7fffffff, &id) != 0)
            return pfail(err, el, "bad rule id", v);
        for (i = 0; i < rs->nrules; i++)
            if (rs->rules[i].id == (uint32_t)id) {
                e.rule = (uint32_t)i;
                found = 1;
            }
    }
    if (!found)
        return pfail(err, el, "no rule has this id or tag", v);
    if (at) {
        const char *colon = strchr(at + 1, ':');
        uint32_t mask;
        if (!colon || waf_target_lookup(at + 1, (size_t)(colon - at - 1),
                                        &mask) != 0
            || (mask & (mask - 1)) || strlen(colon + 1) == 0
            || strlen(colon + 1) >= WAF_NAME_MAX)
            return pfail(err, el, "exclusion target is TARGET:NAME", v);
        e.target = __builtin_ctz(mask);
        e.nlen = strlen(colon + 1);
        memcpy(e.name, colon + 1, e.nlen);
    }
    if (e.target < 0) {                   /* everywhere: switch rules off */
        for (i = 0; i < rs->nrules; i++)
            if (e.by_tag ? waf_rule_has_tag(&rs->rules[i], e.tag)
                         : i == e.rule)
                p->off[i] = 1;
        return 0;
    }
    {
        waf_excl_t *ne = realloc(p->excl, (p->nexcl + 1) * sizeof(*ne));
        if (!ne)
            return pfail(err, el, "out of memory", v);
        p->excl = ne;
        p->excl[p->nexcl++] = e;
    }
    return 0;
}

static int apply_arg(mall_waf_policy_t *p, const char *a, char *err,
    size_t el)
{
    if (strncmp(a, "paranoia=", 9) == 0)
        return parse_int(a + 9, 1, 4, &p->paranoia) == 0 ? 0
            : pfail(err, el, "paranoia is 1..4", a);
    if (strncmp(a, "threshold=", 10) == 0)
        return parse_int(a + 10, 1, 100000, &p->threshold) == 0 ? 0
            : pfail(err, el, "threshold is a positive number", a);
    if (strncmp(a, "json_depth=", 11) == 0)
        return parse_int(a + 11, 1, MALL_WAF_JSON_MAX_DEPTH,
                         &p->json_depth) == 0 ? 0
            : pfail(err, el, "json_depth is 1..32", a);
    if (strcmp(a, "mode=block") == 0) {
        p->detect = 0;
        return 0;
    }
    if (strcmp(a, "mode=detect") == 0 || strcmp(a, "detect-only") == 0) {
        p->detect = 1;
        return 0;
    }
    if (strncmp(a, "exclude=", 8) == 0)
        return add_exclusion(p, a + 8, err, el);
    return pfail(err, el, "unknown setting", a);
}

mall_waf_policy_t *mall_waf_policy_new(const mall_waf_rules_t *rules,
    const char *const *args, size_t nargs, char *err, size_t errlen)
{
    mall_waf_policy_t *p;
    size_t i;
    if (!rules) {
        snprintf(err, errlen, "waf policy: no rules");
        return NULL;
    }
    p = calloc(1, sizeof(*p));
    if (!p || !(p->off = calloc(rules->nrules + 1, 1))) {
        free(p);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->rules = rules;
    p->paranoia = 1;
    p->threshold = 5;
    p->json_depth = MALL_WAF_JSON_MAX_DEPTH;
    for (i = 0; i < nargs; i++)
        if (apply_arg(p, args[i], err, errlen) != 0) {
            mall_waf_policy_free(p);
            return NULL;
        }
    return p;
}

void mall_waf_policy_free(mall_waf_policy_t *p)
{
    if (!p)
        return;
    free(p->off);
    free(p->excl);
    free(p);
}
