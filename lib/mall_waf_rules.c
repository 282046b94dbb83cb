/*
 * WAF rule files: one rule a line (conf/waf/README.md).
 *   ID key=value... @op argument
 * e.g.
 *   930100 msg="path traversal" targets=inputs,path t=urldecode,lowercase
 *          score=5 tags=lfi pl=1 @rx (?:\.\./|\.\.\\)
 * Values may be double-quoted ("..." with \" and \\). The operator and its
 * argument take the rest of the line. '#' starts a comment line.
 */
#include "mall_waf_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINE_MAX_LEN 8192

static const struct { const char *name; uint32_t mask; } targets[] = {
    { "method",        1u << MALL_WAF_METHOD },
    { "path",          1u << MALL_WAF_PATH },
    { "raw_uri",       1u << MALL_WAF_RAW_URI },
    { "args_names",    1u << MALL_WAF_ARG_NAME },
    { "args",          1u << MALL_WAF_ARG_VALUE },
    { "headers_names", 1u << MALL_WAF_HEADER_NAME },
    { "headers",       1u << MALL_WAF_HEADER_VALUE },
    { "cookies_names", 1u << MALL_WAF_COOKIE_NAME },
    { "cookies",       1u << MALL_WAF_COOKIE_VALUE },
    { "body",          1u << MALL_WAF_BODY_RAW },
    { "json_keys",     1u << MALL_WAF_JSON_KEY },
    { "json",          1u << MALL_WAF_JSON_VALUE },
    { "form_names",    1u << MALL_WAF_FORM_NAME },
    { "form",          1u << MALL_WAF_FORM_VALUE },
    { "part_names",    1u << MALL_WAF_PART_NAME },
    { "file_names",    1u << MALL_WAF_FILE_NAME },
    { "ip",            1u << MALL_WAF_CLIENT_IP },
    /* aliases */
    { "values",        (1u << MALL_WAF_ARG_VALUE) | (1u << MALL_WAF_COOKIE_VALUE)
                     | (1u << MALL_WAF_JSON_VALUE) | (1u << MALL_WAF_FORM_VALUE)
                     | (1u << MALL_WAF_FILE_NAME) },
    { "names",         (1u << MALL_WAF_ARG_NAME) | (1u << MALL_WAF_COOKIE_NAME)
                     | (1u << MALL_WAF_JSON_KEY) | (1u << MALL_WAF_FORM_NAME)
                     | (1u << MALL_WAF_PART_NAME) },
};

const char *mall_waf_target_name(mall_waf_target_e t)
{
    size_t i;
    for (i = 0; i < MALL_WAF_TARGET_COUNT; i++)
        if (targets[i].mask == (1u << t))
            return targets[i].name;
    return "flag";
}

/* "args" -> mask with one bit; aliases set several. 0 if known. */
int waf_target_lookup(const char *name, size_t len, uint32_t *mask)
{
    size_t i;
    if (len == 6 && memcmp(name, "inputs", 6) == 0) {
        *mask = 0;
        for (i = 0; i < sizeof(targets) / sizeof(targets[0]); i++)
            if (strcmp(targets[i].name, "values") == 0
                || strcmp(targets[i].name, "names") == 0)
                *mask |= targets[i].mask;
        return 0;
    }
    for (i = 0; i < sizeof(targets) / sizeof(targets[0]); i++)
        if (strlen(targets[i].name) == len
            && memcmp(targets[i].name, name, len) == 0) {
            *mask = targets[i].mask;
            return 0;
        }
    return -1;
}

static int fail(char *err, size_t el, const char *file, unsigned line,
    const char *why, const char *what)
{
    snprintf(err, el, "%s:%u: %s%s%s", file, line, why,
             what ? ": " : "", what ? what : "");
    return -1;
}

/* next token; quoted values unescaped in place. Returns NULL at end. */
static char *next_token(char **pp, int *bad)
{
    char *p = *pp, *tok, *w;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '\0')
        return NULL;
    tok = w = p;
    while (*p && *p != ' ' && *p != '\t') {
        if (*p == '"') {
            p++;
            while (*p && *p != '"') {
                if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
                    p++;
                *w++ = *p++;
            }
            if (*p != '"') {
                *bad = 1;
                return NULL;
            }
            p++;
            continue;
        }
        *w++ = *p++;
    }
    if (*p)
        p++;
    *w = '\0';
    *pp = p;
    return tok;
}

static int parse_targets(waf_rule_t *r, char *v, char *err, size_t el)
{
    char *item, *save = NULL;
    for (item = strtok_r(v, ",", &save); item;
         item = strtok_r(NULL, ",", &save)) {
        int neg = item[0] == '!';
        char *nm = strchr(item + neg, ':');
        size_t tl = nm ? (size_t)(nm - item - neg) : strlen(item + neg);
        uint32_t mask;
        waf_sel_t *sel;
        if (waf_target_lookup(item + neg, tl, &mask) != 0)
            return fail(err, el, r->file, r->line, "unknown target", item);
        if (!nm && !neg) {
            r->tmask |= mask;
            continue;
        }
        if (!nm || (mask & (mask - 1)) || strlen(nm + 1) == 0
            || strlen(nm + 1) >= WAF_NAME_MAX)
            return fail(err, el, r->file, r->line,
                        "a named target is one target and a name", item);
        if ((neg ? r->nexc : r->ninc) >= WAF_MAX_SEL)
            return fail(err, el, r->file, r->line, "too many named targets",
                        item);
        sel = neg ? &r->exc[r->nexc++] : &r->inc[r->ninc++];
        sel->target = (uint8_t)__builtin_ctz(mask);
        sel->nlen = (uint8_t)strlen(nm + 1);
        memcpy(sel->name, nm + 1, sel->nlen + 1);
    }
    return 0;
}

static int chain_index(mall_waf_rules_t *rs, const waf_chain_t *c)
{
    size_t i;
    waf_chain_t *nc;
    for (i = 0; i < rs->nchains; i++)
        if (rs->chains[i].n == c->n
            && memcmp(rs->chains[i].tf, c->tf, c->n) == 0)
            return (int)i;
    nc = realloc(rs->chains, (rs->nchains + 1) * sizeof(*nc));
    if (!nc)
        return -1;
    rs->chains = nc;
    rs->chains[rs->nchains] = *c;
    return (int)rs->nchains++;
}

static int parse_chain(mall_waf_rules_t *rs, waf_rule_t *r, char *v,
    char *err, size_t el)
{
    waf_chain_t c = { 0 };
    char *item, *save = NULL;
    int idx;
    if (strcmp(v, "none") != 0)
        for (item = strtok_r(v, ",", &save); item;
             item = strtok_r(NULL, ",", &save)) {
            int tf = waf_tf_lookup(item, strlen(item));
            if (tf < 0)
                return fail(err, el, r->file, r->line,
                            "unknown transformation", item);
            if (c.n >= WAF_MAX_CHAIN)
                return fail(err, el, r->file, r->line,
                            "too many transformations", NULL);
            c.tf[c.n++] = (uint8_t)tf;
        }
    idx = chain_index(rs, &c);
    if (idx < 0)
        return fail(err, el, r->file, r->line, "out of memory", NULL);
    r->chain = (uint16_t)idx;
    return 0;
}

static int parse_num(const char *v, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    *out = strtol(v, &end, 10);
    return (errno || end == v || *end || *out < lo || *out > hi) ? -1 : 0;
}

static int parse_field(mall_waf_rules_t *rs, waf_rule_t *r, char *tok,
    char *err, size_t el)
{
    char *v = strchr(tok, '=');
    long n;
    if (!v)
        return fail(err, el, r->file, r->line, "expected key=value", tok);
    *v++ = '\0';
    if (strcmp(tok, "msg") == 0) {
        free(r->msg);
        return (r->msg = strdup(v)) ? 0 : -1;
    }
    if (strcmp(tok, "tags") == 0) {
        free(r->tags);
        return (r->tags = strdup(v)) ? 0 : -1;
    }
    if (strcmp(tok, "targets") == 0)
        return parse_targets(r, v, err, el);
    if (strcmp(tok, "t") == 0)
        return parse_chain(rs, r, v, err, el);
    if (strcmp(tok, "score") == 0) {
        if (parse_num(v, 0, 1000, &n) != 0)
            return fail(err, el, r->file, r->line, "score is 0..1000", v);
        r->score = (uint16_t)n;
        return 0;
    }
    if (strcmp(tok, "pl") == 0) {
        if (parse_num(v, 1, 4, &n) != 0)
            return fail(err, el, r->file, r->line, "pl is 1..4", v);
        r->pl = (uint8_t)n;
        return 0;
    }
    return fail(err, el, r->file, r->line, "unknown field", tok);
}

static int parse_line(mall_waf_rules_t *rs, waf_rule_t *r, char *line,
    const char *dir, char *err, size_t el)
{
    char *p = line, *tok, *opname, *end;
    int bad = 0, op;
    long id;
    size_t i;

    tok = next_token(&p, &bad);
    if (!tok || parse_num(tok, 1, 0x7fffffff, &id) != 0)
        return fail(err, el, r->file, r->line, "a rule starts with its id",
                    tok);
    r->id = (uint32_t)id;
    r->score = 5;
    r->pl = 1;
    if (parse_chain(rs, r, (char[]){ "none" }, err, el) != 0)
        return -1;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '@' || *p == '\0')
            break;
        tok = next_token(&p, &bad);
        if (bad || !tok)
            return fail(err, el, r->file, r->line, "unterminated quote",
                        NULL);
        if (parse_field(rs, r, tok, err, el) != 0)
            return -1;
    }
    if (*p != '@')
        return fail(err, el, r->file, r->line, "no operator (@rx, ...)",
                    NULL);
    opname = ++p;
    if (*opname == '!') {
        r->negate = 1;
        opname++;
    }
    for (p = opname; *p && *p != ' ' && *p != '\t'; p++)
        ;
    op = waf_op_lookup(opname, (size_t)(p - opname));
    if (op < 0) {
        *p = '\0';
        return fail(err, el, r->file, r->line, "unknown operator", opname);
    }
    r->op = (uint8_t)op;
    while (*p == ' ' || *p == '\t')
        p++;
    end = p + strlen(p);
    while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    r->arglen = (size_t)(end - p);
    r->arg = strndup(p, r->arglen);
    if (!r->arg)
        return fail(err, el, r->file, r->line, "out of memory", NULL);
    if (op != OP_FLAG && r->tmask == 0 && r->ninc == 0)
        return fail(err, el, r->file, r->line, "no targets", NULL);
    for (i = 0; i < rs->nrules; i++)
        if (rs->rules[i].id == r->id) {
            char buf[96];
            snprintf(buf, sizeof(buf), "%u (first at %s:%u)", r->id,
                     rs->rules[i].file, rs->rules[i].line);
            return fail(err, el, r->file, r->line, "duplicate rule id", buf);
        }
    return waf_op_prepare(r, dir, err, el);
}

static void rule_clear(waf_rule_t *r)
{
    free(r->msg);
    free(r->tags);
    free(r->arg);
    waf_op_free(r);
    memset(r, 0, sizeof(*r));
}

int waf_parse_file(mall_waf_rules_t *rs, const char *path, char *err,
    size_t el)
{
    FILE *f = fopen(path, "r");
    char *line, dir[1024], *slash, **nf;
    unsigned lineno = 0;
    int rc = 0;
    const char *file;

    if (!f)
        return fail(err, el, path, 0, "cannot open", strerror(errno));
    nf = realloc(rs->files, (rs->nfiles + 1) * sizeof(*nf));
    line = malloc(LINE_MAX_LEN);
    if (!nf || !line || !(nf[rs->nfiles] = strdup(path))) {
        if (nf)
            rs->files = nf;
        free(line);
        fclose(f);
        return fail(err, el, path, 0, "out of memory", NULL);
    }
    rs->files = nf;
    file = rs->files[rs->nfiles++];
    snprintf(dir, sizeof(dir), "%s", path);
    slash = strrchr(dir, '/');
    if (slash)
        slash[1] = '\0';
    else
        strcpy(dir, "./");
    while (rc == 0 && fgets(line, LINE_MAX_LEN, f)) {
        size_t n = strlen(line);
        char *s = line;
        waf_rule_t r, *nr;
        lineno++;
        if (n == LINE_MAX_LEN - 1 && line[n - 1] != '\n') {
            rc = fail(err, el, file, lineno, "line too long", NULL);
            break;
        }
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        while (isspace((unsigned char)*s))
            s++;
        if (*s == '\0' || *s == '#')
            continue;
        memset(&r, 0, sizeof(r));
        r.file = file;
        r.line = lineno;
        if (parse_line(rs, &r, s, dir, err, el) != 0) {
            rule_clear(&r);
            rc = -1;
            break;
        }
        nr = realloc(rs->rules, (rs->nrules + 1) * sizeof(*nr));
        if (!nr) {
            rule_clear(&r);
            rc = fail(err, el, file, lineno, "out of memory", NULL);
            break;
        }
        rs->rules = nr;
        rs->rules[rs->nrules++] = r;
    }
    free(line);
    fclose(f);
    return rc;
}

void waf_rules_clear_all(mall_waf_rules_t *rs)
{
    size_t i;
    for (i = 0; i < rs->nrules; i++)
        rule_clear(&rs->rules[i]);
    free(rs->rules);
    for (i = 0; i < rs->nfiles; i++)
        free(rs->files[i]);
    free(rs->files);
    free(rs->chains);
}
