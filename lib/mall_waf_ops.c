/*
 * WAF operators: preparation at compile time, evaluation on one
 * transformed value. @rx/@phrases/@contains are normally answered by the
 * group's Hyperscan database (mall_waf_hs.c); waf_op_eval confirms them.
 */
#include "mall_waf_int.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const names[OP_COUNT] = {
    "rx", "phrases", "contains", "equals", "prefix", "gt", "lt", "eq",
    "len_gt", "len_lt", "ipmatch", "sqli", "xss", "flag",
};

#define RX_MATCH_LIMIT  100000
#define RX_DEPTH_LIMIT  1000

int waf_op_lookup(const char *name, size_t len)
{
    int i;
    for (i = 0; i < OP_COUNT; i++)
        if (strlen(names[i]) == len && memcmp(names[i], name, len) == 0)
            return i;
    return -1;
}

static int opfail(waf_rule_t *r, char *err, size_t el, const char *why,
    const char *what)
{
    snprintf(err, el, "%s:%u: %s%s%s", r->file, r->line, why,
             what ? ": " : "", what ? what : "");
    return -1;
}

static int add_phrase(waf_rule_t *r, const char *s, size_t n)
{
    char **np;
    while (n && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        n--;
    if (n == 0)
        return 0;
    np = realloc(r->phrases, (r->nphrases + 1) * sizeof(*np));
    if (!np)
        return -1;
    r->phrases = np;
    if (!(np[r->nphrases] = strndup(s, n)))
        return -1;
    r->nphrases++;
    return 0;
}

/* "@phrases a|b|c" inline, or "@phrases file:NAME" (one a line, next to
 * the rule file; '#' comments) */
static int prepare_phrases(waf_rule_t *r, const char *dir, char *err,
    size_t el)
{
    const char *p = r->arg, *bar;
    if (strncmp(p, "file:", 5) == 0) {
        char path[2048], line[1024];
        FILE *f;
        if (strchr(p + 5, '/') || p[5] == '\0')
            return opfail(r, err, el, "phrase file is a name next to the "
                          "rules", p + 5);
        snprintf(path, sizeof(path), "%s%s", dir, p + 5);
        if (!(f = fopen(path, "r")))
            return opfail(r, err, el, "cannot open phrase file", path);
        while (fgets(line, sizeof(line), f)) {
            size_t n = strcspn(line, "\r\n");
            if (line[0] == '#')
                continue;
            if (add_phrase(r, line, n) != 0) {
                fclose(f);
                return opfail(r, err, el, "out of memory", NULL);
            }
        }
        fclose(f);
    } else {
        for (;;) {
            bar = strchr(p, '|');
            if (add_phrase(r, p, bar ? (size_t)(bar - p) : strlen(p)) != 0)
                return opfail(r, err, el, "out of memory", NULL);
            if (!bar)
                break;
            p = bar + 1;
        }
    }
    if (r->nphrases == 0)
        return opfail(r, err, el, "empty phrase list", NULL);
    return 0;
}

/* "10.0.0.0/8" or "::1" or "1.2.3.4" */
int waf_ip_parse(const char *s, size_t n, waf_cidr_t *out)
{
    char buf[64];
    const char *slash;
    long bits = -1;
    memset(out, 0, sizeof(*out));
    if (n == 0 || n >= sizeof(buf))
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    slash = strchr(buf, '/');
    if (slash) {
        char *end;
        bits = strtol(slash + 1, &end, 10);
        if (*end || end == slash + 1)
            return -1;
        buf[slash - buf] = '\0';
    }
    if (inet_pton(AF_INET, buf, &out->v4) == 1) {
        out->v4 = ntohl(out->v4);
        if (bits > 32)
            return -1;
        out->bits = (uint8_t)(bits < 0 ? 32 : bits);
        return 0;
    }
    if (inet_pton(AF_INET6, buf, out->v6) == 1) {
        if (bits > 128)
            return -1;
        out->is6 = 1;
        out->bits = (uint8_t)(bits < 0 ? 128 : bits);
        return 0;
    }
    return -1;
}

static int prepare_cidrs(waf_rule_t *r, char *err, size_t el)
{
    const char *p = r->arg;
    while (*p) {
        size_t n = strcspn(p, ", ");
        if (n) {
            waf_cidr_t *nc = realloc(r->cidrs, (r->ncidrs + 1) * sizeof(*nc));
            if (!nc)
                return opfail(r, err, el, "out of memory", NULL);
            r->cidrs = nc;
            if (waf_ip_parse(p, n, &nc[r->ncidrs]) != 0)
                return opfail(r, err, el, "bad IP or CIDR", p);
            r->ncidrs++;
        }
        p += n;
        while (*p == ',' || *p == ' ')
            p++;
    }
    return r->ncidrs ? 0 : opfail(r, err, el, "empty CIDR list", NULL);
}

static int prepare_rx(waf_rule_t *r, char *err, size_t el)
{
    int ec;
    PCRE2_SIZE off;
    char msg[160], why[200];
    r->re = pcre2_compile((PCRE2_SPTR)r->arg, r->arglen,
                          PCRE2_DOTALL | PCRE2_DOLLAR_ENDONLY, &ec, &off,
                          NULL);
    if (!r->re) {
        pcre2_get_error_message(ec, (PCRE2_UCHAR *)msg, sizeof(msg));
        snprintf(why, sizeof(why), "%s at offset %zu", msg, (size_t)off);
        return opfail(r, err, el, "regex does not compile", why);
    }
    pcre2_jit_compile(r->re, PCRE2_JIT_COMPLETE);   /* falls back if no JIT */
    return 0;
}

int waf_op_prepare(waf_rule_t *r, const char *dir, char *err, size_t el)
{
    char *end;
    switch (r->op) {
    case OP_RX:
        return prepare_rx(r, err, el);
    case OP_PHRASES:
        return prepare_phrases(r, dir, err, el);
    case OP_GT: case OP_LT: case OP_EQ: case OP_LEN_GT: case OP_LEN_LT:
        r->num = strtod(r->arg, &end);
        if (end == r->arg || *end)
            return opfail(r, err, el, "operator needs a number", r->arg);
        return 0;
    case OP_IPMATCH:
        return prepare_cidrs(r, err, el);
    case OP_FLAG:
        if (waf_anomaly_flag(r->arg, r->arglen) < 0)
            return opfail(r, err, el, "unknown flag", r->arg);
        return 0;
    case OP_CONTAINS: case OP_EQUALS: case OP_PREFIX:
        if (r->arglen == 0)
            return opfail(r, err, el, "operator needs an argument", NULL);
        return 0;
    default:
        return 0;
    }
}

void waf_op_free(waf_rule_t *r)
{
    size_t i;
    if (r->re)
        pcre2_code_free(r->re);
    for (i = 0; i < r->nphrases; i++)
        free(r->phrases[i]);
    free(r->phrases);
    free(r->cidrs);
}

/* a decimal number at the start of the value (after spaces) */
static int value_number(const uint8_t *v, size_t n, double *out)
{
    char buf[64], *end;
    size_t i = 0;
    while (i < n && (v[i] == ' ' || v[i] == '\t'))
        i++;
    if (n - i == 0 || n - i >= sizeof(buf))
        return -1;
    memcpy(buf, v + i, n - i);
    buf[n - i] = '\0';
    *out = strtod(buf, &end);
    return end == buf ? -1 : 0;
}

static int cidr_match(const waf_rule_t *r, const uint8_t *v, size_t n)
{
    waf_cidr_t ip;
    size_t i;
    if (waf_ip_parse((const char *)v, n, &ip) != 0)
        return 0;
    for (i = 0; i < r->ncidrs; i++) {
        const waf_cidr_t *c = &r->cidrs[i];
        if (c->is6 != ip.is6)
            continue;
        if (!c->is6) {
            uint32_t m = c->bits ? ~0u << (32 - c->bits) : 0;
            if ((ip.v4 & m) == (c->v4 & m))
                return 1;
        } else {
            unsigned full = c->bits / 8, rest = c->bits % 8;
            if (memcmp(ip.v6, c->v6, full) == 0
                && (!rest || ((ip.v6[full] ^ c->v6[full])
                              & (0xff << (8 - rest))) == 0))
                return 1;
        }
    }
    return 0;
}

static int rx_match(const mall_waf_rules_t *rs, const waf_rule_t *r,
    const uint8_t *v, size_t n)
{
    int rc = pcre2_match(r->re, v, n, 0, 0, rs->md, rs->mctx);
    /* over the match limit counts as a hit: an input built to make the
     * pattern backtrack is itself suspicious, and work stays bounded */
    return rc >= 0 || rc == PCRE2_ERROR_MATCHLIMIT
        || rc == PCRE2_ERROR_DEPTHLIMIT || rc == PCRE2_ERROR_JIT_STACKLIMIT;
}

static int op_raw(const mall_waf_rules_t *rs, const waf_rule_t *r,
    const uint8_t *v, size_t n)
{
    double x;
    size_t i;
    switch (r->op) {
    case OP_RX:
        return rx_match(rs, r, v, n);
    case OP_PHRASES:
        for (i = 0; i < r->nphrases; i++)
            if (memmem(v, n, r->phrases[i], strlen(r->phrases[i])))
                return 1;
        return 0;
    case OP_CONTAINS:
        return memmem(v, n, r->arg, r->arglen) != NULL;
    case OP_EQUALS:
        return n == r->arglen && memcmp(v, r->arg, n) == 0;
    case OP_PREFIX:
        return n >= r->arglen && memcmp(v, r->arg, r->arglen) == 0;
    case OP_GT:
        return value_number(v, n, &x) == 0 && x > r->num;
    case OP_LT:
        return value_number(v, n, &x) == 0 && x < r->num;
    case OP_EQ:
        return value_number(v, n, &x) == 0 && x == r->num;
    case OP_LEN_GT:
        return (double)n > r->num;
    case OP_LEN_LT:
        return (double)n < r->num;
    case OP_IPMATCH:
        return cidr_match(r, v, n);
    case OP_SQLI:
        return mall_waf_is_sqli(v, n);
    case OP_XSS:
        return mall_waf_is_xss(v, n);
    default:
        return 0;
    }
}

int waf_op_eval(const mall_waf_rules_t *rs, const waf_rule_t *r,
    const uint8_t *v, size_t n)
{
    return op_raw(rs, r, v, n) ^ r->negate;
}

void waf_rx_limits(pcre2_match_context *mctx)
{
    pcre2_set_match_limit(mctx, RX_MATCH_LIMIT);
    pcre2_set_depth_limit(mctx, RX_DEPTH_LIMIT);
}
