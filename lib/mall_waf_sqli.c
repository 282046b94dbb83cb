/*
 * SQL injection detector: tokenizes the value as SQL three times (as is,
 * and as if it closed a '...' or "..." string the application built) and
 * looks for injected structure, not keywords: a string broken out of and
 * followed by a comment, a boolean tautology, UNION or a stacked query;
 * UNION SELECT; stacked statements; numeric tautologies ("1 or 1=1").
 * So "select size M", "drop shoulder tee", "O'Neill", "1/2 price" pass.
 * Linear in the value; at most MAX_TOK tokens looked at per context.
 */
#include "mall_waf_int.h"

#include <string.h>
#include <strings.h>

#define MAX_TOK 48

typedef enum {
    T_STR = 's', T_NUM = 'n', T_WORD = 'b', T_FUNC = 'f', T_LOGIC = '&',
    T_OP = 'o', T_CMT = 'c', T_LP = '(', T_RP = ')', T_COMMA = ',',
    T_SEMI = ';', T_UNION = 'U', T_SELECT = 'E', T_STMT = 'T',
    T_KEY = 'k', T_VAR = 'v'
} tok_e;

typedef struct {
    char   t[MAX_TOK];
    int    n;
    int    open_str;               /* last string unterminated */
    uint32_t ws[MAX_TOK], wl[MAX_TOK]; /* where each token is in the value */
} toks_t;

static const char *const logic_w[] = { "or", "and", "xor", "div", "not",
                                       NULL };
static const char *const stmt_w[] = { "drop", "delete", "insert", "update",
    "exec", "execute", "shutdown", "declare", "create", "alter", "truncate",
    "waitfor", "select", "replace", "grant", "call", "load", NULL };
static const char *const key_w[] = { "from", "where", "order", "group",
    "having", "limit", "into", "table", "database", "between", "is",
    "null", "in", "by", "all", "distinct",
    "delay", "procedure", "sounds", "case", "when", "then", "else", "end",
    NULL };
static const char *const cmp_w[] = { "like", "rlike", "regexp", NULL };
static const char *const func_w[] = { "sleep", "benchmark", "pg_sleep",
    "extractvalue", "updatexml", "load_file", "char", "chr", "concat",
    "concat_ws", "group_concat", "substring", "substr", "mid", "ascii",
    "ord", "version", "database", "user", "current_user", "schema", "if",
    "ifnull", "count", "cast", "convert", "hex", "unhex", "md5", "exp",
    "floor", "rand", "randomblob", "dbms_pipe", "utl_inaddr", "xp_cmdshell",
    "json_keys", "name_const", "row", "elt", "make_set", "length", NULL };

static int in_list(const char *const *l, const uint8_t *w, size_t n)
{
    if (n < 2 || n > 16)
        return 0;
    for (; *l; l++)
        if ((*l)[0] == (w[0] | 0x20) && strlen(*l) == n
            && strncasecmp(*l, (const char *)w, n) == 0)
            return 1;
    return 0;
}

static int is_word(uint8_t c)
{
    return (c | 0x20) >= 'a' && (c | 0x20) <= 'z' ? 1
         : (c >= '0' && c <= '9') || c == '_' || c == '$' || c >= 0x80;
}

static size_t skip_ws(const uint8_t *p, size_t i, size_t n)
{
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n'
                     || p[i] == '\r' || p[i] == '\v' || p[i] == '\f'
                     || p[i] == 0xa0))
        i++;
    return i;
}

static void push(toks_t *t, char c)
{
    if (t->n < MAX_TOK)
        t->t[t->n++] = c;
}

/* q: the quote the value is assumed to start inside (0: none) */
static void tokenize(const uint8_t *p, size_t n, uint8_t q, toks_t *t)
{
    size_t i = 0;
    memset(t, 0, sizeof(*t));
    if (q) {                         /* we are inside q...: read to it */
        while (i < n && p[i] != q)
            i += (p[i] == '\\' && i + 1 < n) ? 2 : 1;
        if (i >= n)
            return;                  /* never closed: not a break-out */
        push(t, T_STR);
        i++;
    }
    while (t->n < MAX_TOK) {
        uint8_t c;
        size_t s;
        int before = t->n;
        if (before) {                /* where the last token ended */
            if (i > n)
                i = n;
            t->wl[before - 1] = (uint32_t)(i - t->ws[before - 1]);
        }
        i = skip_ws(p, i, n);
        if (i >= n)
            break;
        c = p[i];
        s = i;
        t->ws[before] = (uint32_t)s;
        if (c == '\'' || c == '"' || c == '`') {
            i++;
            while (i < n && p[i] != c)
                i += (p[i] == '\\' && i + 1 < n) ? 2 : 1;
            t->open_str = i >= n;
            i++;
            push(t, c == '`' ? T_WORD : T_STR);
        } else if ((c == '-' && i + 1 < n && p[i + 1] == '-') || c == '#'
                   || (c == '/' && i + 1 < n && p[i + 1] == '*')) {
            const uint8_t *nl;
            /* "--" and "#" end at a line break ("1--\nAND--\n1=1"):
             * then they are only whitespace */
            if (c != '/' && (nl = memchr(p + i, '\n', n - i))) {
                i = (size_t)(nl - p) + 1;
                continue;
            }
            push(t, T_CMT);
            break;                   /* the rest is commented out */
        } else if ((c >= '0' && c <= '9')
                   || (c == '-' && t->n == 0 && i + 1 < n && p[i + 1] >= '0'
                       && p[i + 1] <= '9')) {   /* "-1 or 1=1" */
            i++;
            while (i < n && (is_word(p[i]) || p[i] == '.'))
                i++;
            push(t, T_NUM);
        } else if (c == '@') {
            while (i < n && (p[i] == '@' || is_word(p[i])))
                i++;
            push(t, T_VAR);
        } else if (is_word(c)) {
            size_t e;
            while (i < n && is_word(p[i]))
                i++;
            e = skip_ws(p, i, n);
            if (i - s == 5 && strncasecmp((const char *)p + s, "union", 5)
                == 0)
                push(t, T_UNION);
            else if (i - s == 6 && strncasecmp((const char *)p + s,
                                               "select", 6) == 0)
                push(t, T_SELECT);
            else if (in_list(logic_w, p + s, i - s))
                push(t, T_LOGIC);
            else if (in_list(cmp_w, p + s, i - s))
                push(t, T_OP);       /* 1 like 1: a comparison */
            else if ((i - s == 4 && strncasecmp((const char *)p + s, "true",
                                                4) == 0)
                     || (i - s == 5 && strncasecmp((const char *)p + s,
                                                   "false", 5) == 0))
                push(t, T_NUM);
            else if (e < n && p[e] == '(' && in_list(func_w, p + s, i - s))
                push(t, T_FUNC);
            else if (in_list(stmt_w, p + s, i - s))
                push(t, T_STMT);
            else if (in_list(key_w, p + s, i - s))
                push(t, T_KEY);
            else
                push(t, T_WORD);
        } else if (c == '(' || c == ')' || c == ',' || c == ';') {
            push(t, (char)c);
            i++;
        } else if ((c == '|' && i + 1 < n && p[i + 1] == '|')
                   || (c == '&' && i + 1 < n && p[i + 1] == '&')) {
            push(t, T_LOGIC);
            i += 2;
        } else if (strchr("=<>!|&+-*/%^~:", c) && c) {
            while (i < n && strchr("=<>!|&+-*/%^~:", p[i]) && p[i]
                   && !(p[i] == '-' && i + 1 < n && p[i + 1] == '-'))
                i++;
            push(t, T_OP);
        } else {
            i++;                     /* other punctuation: ignored */
            push(t, T_WORD);
        }
    }
    if (t->n && t->n <= MAX_TOK) {
        if (i > n)
            i = n;
        if (i >= t->ws[t->n - 1])
            t->wl[t->n - 1] = (uint32_t)(i - t->ws[t->n - 1]);
    }
}

/* an operator token that compares (=, <, >, like), not ':' or '/' */
static int cmp_op(const toks_t *t, int k, const uint8_t *p)
{
    uint32_t j;
    for (j = 0; j < t->wl[k]; j++) {
        uint8_t c = p[t->ws[k] + j];
        if (c == '=' || c == '<' || c == '>' || (c | 0x20) == 'l'
            || (c | 0x20) == 'r')
            return 1;
    }
    return 0;
}

/* a string with a blank in it, left open at the end: English prose
 * ("... or "Screenplay based on"), not "x' or '1" */
static int open_prose(const toks_t *t, int k, const uint8_t *p)
{
    uint32_t j;
    if (!t->open_str || k != t->n - 1 || t->t[k] != T_STR)
        return 0;
    for (j = 0; j < t->wl[k]; j++)
        if (p[t->ws[k] + j] == ' ')
            return 1;
    return 0;
}

static int is_val(char c)
{
    return c == T_STR || c == T_NUM || c == T_WORD || c == T_VAR
        || c == T_FUNC || c == T_LP;
}

/* UNION [ALL|DISTINCT] (* SELECT anywhere */
static int union_select(const toks_t *t)
{
    int i, j;
    for (i = 0; i < t->n; i++) {
        if (t->t[i] != T_UNION)
            continue;
        j = i + 1;
        if (j < t->n && t->t[j] == T_KEY)
            j++;
        while (j < t->n && t->t[j] == T_LP)
            j++;
        if (j < t->n && t->t[j] == T_SELECT)
            return 1;
    }
    return 0;
}

/* "; drop table", "; select ... from" */
static int stacked(const toks_t *t)
{
    int i;
    for (i = 0; i + 2 < t->n; i++)
        if (t->t[i] == T_SEMI && (t->t[i + 1] == T_STMT
                                  || t->t[i + 1] == T_SELECT)
            && (t->t[i + 2] == T_KEY || t->t[i + 2] == T_FUNC
                || t->t[i + 2] == T_VAR || t->t[i + 2] == T_STR
                || t->t[i + 2] == T_CMT))
            return 1;
    return 0;
}

/* value LOGIC value OP value, or LOGIC func( */
static int tautology(const toks_t *t, int from, const uint8_t *p)
{
    int i;
    for (i = from; i + 1 < t->n; i++) {
        if (t->t[i] != T_LOGIC)
            continue;
        if (t->t[i + 1] == T_FUNC)
            return 1;
        if (is_val(t->t[i + 1]) && i + 2 < t->n && t->t[i + 2] == T_OP
            && cmp_op(t, i + 2, p) && (i + 3 >= t->n || is_val(t->t[i + 3])
                || t->t[i + 3] == T_CMT || t->t[i + 3] == T_KEY))
            return 1;
        /* "1 or x is null", "1 and 1 between 'a'": not "2 or 3 in stock" */
        if (is_val(t->t[i + 1]) && i + 3 < t->n && t->t[i + 2] == T_KEY
            && (t->t[i + 3] == T_STR || t->t[i + 3] == T_KEY))
            return 1;
        /* "' or 1--", "' or true#" */
        if (i + 2 < t->n && is_val(t->t[i + 1]) && t->t[i + 2] == T_CMT)
            return 1;
    }
    return 0;
}

/* "and 1=1", "or 'a'='a", "having 2>1", "where 1=1" anywhere: a comparison of two
 * literals behind a boolean operator is structure no shopper writes */
static int literal_taut(const toks_t *t, const uint8_t *p)
{
    int i, l;
    for (l = 0; l + 3 < t->n; l++) {
        if (t->t[l] != T_LOGIC && !(t->t[l] == T_KEY
            && ((t->wl[l] == 5 && (p[t->ws[l]] | 0x20) == 'w')      /* where */
                || (t->wl[l] == 6 && (p[t->ws[l]] | 0x20) == 'h')   /* having */
                || (t->wl[l] == 4 && (p[t->ws[l]] | 0x20) == 'w')))) /* when */
            continue;
        i = l;                       /* "or (1=1", "and ((2>1" */
        while (i + 4 < t->n && t->t[i + 1] == T_LP)
            i++;
        if (t->t[i + 2] != T_OP || !cmp_op(t, i + 2, p))
            continue;
        if ((t->t[i + 1] == T_NUM && t->t[i + 3] == T_NUM)
            || (t->t[i + 1] == T_STR && t->t[i + 3] == T_STR))
            return 1;
        /* "or x=x": the same name on both sides */
        if (t->t[i + 1] == T_WORD && t->t[i + 3] == T_WORD
            && t->t[l] == T_LOGIC && t->wl[i + 1] == t->wl[i + 3]
            && memcmp(p + t->ws[i + 1], p + t->ws[i + 3], t->wl[i + 1]) == 0)
            return 1;
    }
    return 0;
}

/* "(select 1 from dual", "(select user()", "(select @@version",
 * "(select * from": a subquery, not "(select 2 colours)" */
static int subselect(const toks_t *t)
{
    int i;
    for (i = 0; i + 2 < t->n; i++) {
        char a;
        if (t->t[i] != T_LP || t->t[i + 1] != T_SELECT)
            continue;
        a = t->t[i + 2];
        if (a == T_FUNC || a == T_VAR || a == T_LP
            || (a == T_OP && i + 3 < t->n && t->t[i + 3] == T_KEY))
            return 1;
        if ((a == T_NUM || a == T_STR || a == T_WORD) && i + 4 < t->n
            && t->t[i + 3] == T_KEY && t->t[i + 4] == T_WORD
            && (i + 5 >= t->n || t->t[i + 5] == T_KEY
                || t->t[i + 5] == T_RP || t->t[i + 5] == T_CMT))
            return 1;
    }
    return 0;
}

/* the value closed a string: what comes straight after? */
static int breakout(const toks_t *t, const uint8_t *p)
{
    int i = 1;
    if (t->n < 2 || t->t[0] != T_STR)
        return 0;
    while (i < t->n && t->t[i] == T_RP)
        i++;
    if (i >= t->n)
        return 0;
    switch (t->t[i]) {
    case T_CMT:
        return 1;                    /* admin'-- */
    case T_SEMI:
        return i + 1 >= t->n || t->t[i + 1] == T_CMT
            || t->t[i + 1] == T_STMT || t->t[i + 1] == T_SELECT;
    case T_UNION:                    /* ' union select, ' union all ( */
        return i + 1 < t->n && (t->t[i + 1] == T_SELECT
                                || t->t[i + 1] == T_KEY
                                || t->t[i + 1] == T_LP);
    case T_LOGIC:                    /* ' or 1=1, ' or '1, ' and sleep( */
        if (i + 1 >= t->n)
            return 0;
        if (t->t[i + 1] == T_FUNC || t->t[i + 1] == T_LP
            || t->t[i + 1] == T_OP || t->t[i + 1] == T_SELECT)
            return 1;
        if (!is_val(t->t[i + 1]))
            return 0;
        if (i + 2 >= t->n)           /* "' or 1", "x' or 'x": at the end */
            return t->t[i + 1] == T_NUM
                || (t->t[i + 1] == T_STR && !open_prose(t, i + 1, p));
        /* then an operator, keyword, comment, ';' or ')': structure;
         * "5'4\" and the dress" (words) is English */
        return t->t[i + 2] == T_OP || t->t[i + 2] == T_KEY
            || t->t[i + 2] == T_CMT || t->t[i + 2] == T_SEMI
            || t->t[i + 2] == T_RP;
    case T_OP:                       /* ' = 'x' --, '||(select */
        return i + 1 < t->n && (t->t[i + 1] == T_LP || t->t[i + 1] == T_FUNC
            || ((t->t[i + 1] == T_STR || t->t[i + 1] == T_NUM)
                && (i + 2 >= t->n || t->t[i + 2] == T_CMT
                    || t->t[i + 2] == T_LOGIC)));
    case T_KEY:                      /* ' order by 1--, ' having 1=1 */
        if (i + 2 < t->n && (t->t[i + 1] == T_KEY || t->t[i + 1] == T_NUM)
            && (t->t[i + 2] == T_NUM || t->t[i + 2] == T_OP
                || t->t[i + 2] == T_CMT))
            return 1;
        /* ' group by col having ..., ' order by col-- */
        return i + 3 < t->n && t->t[i + 1] == T_KEY
            && is_val(t->t[i + 2]) && (t->t[i + 3] == T_KEY
                                       || t->t[i + 3] == T_CMT
                                       || t->t[i + 3] == T_COMMA);
    default:
        return 0;
    }
}

/* bytes that end a SQL token: without one a value is a single word or
 * number, and one token is no injection */
static int one_token(const uint8_t *v, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        uint8_t c = v[i];
        if (!(c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '_' || c == '.'))
            return 0;
    }
    return 1;
}

/* the bytes inert() looks closer at */
static const uint8_t sql_mark[256] = {
    ['u'] = 1, ['U'] = 1, ['='] = 1, ['<'] = 1, ['>'] = 1, ['('] = 1,
};

/* nothing to inject with: one token, or no quote, no ';', no "union", no
 * leading number or ')' (the common shopper value, decided in one pass) */
static int inert(const uint8_t *v, size_t n)
{
    size_t i;
    if (one_token(v, n))
        return 1;
    if (n && ((v[0] >= '0' && v[0] <= '9') || v[0] == ')' || v[0] == ' '
              || (v[0] == '-' && n > 1 && v[1] >= '0' && v[1] <= '9')))
        return 0;
    if (memchr(v, '\'', n) || memchr(v, '"', n) || memchr(v, ';', n)
        || memchr(v, '`', n))
        return 0;
    for (i = 0; i < n; i++) {
        if (!sql_mark[v[i]])
            continue;                /* most bytes of a review */
        if ((v[i] | 0x20) == 'u' && i + 4 < n
            && strncasecmp((const char *)v + i, "union", 5) == 0)
            return 0;
        if ((v[i] == '=' || v[i] == '<' || v[i] == '>') && i) {
            size_t j = i;            /* "or 1=1", "|| 2>1": a literal */
            while (j > 0 && v[j - 1] == ' ')
                j--;
            if (j > 0 && ((v[j - 1] >= '0' && v[j - 1] <= '9')))
                return 0;
        }
        if (v[i] == '(') {           /* "(select" */
            size_t j = i + 1;
            while (j < n && v[j] == ' ')
                j++;
            if (j + 6 <= n && strncasecmp((const char *)v + j, "select", 6)
                == 0)
                return 0;
        }
    }
    return 1;
}

int mall_waf_is_sqli(const uint8_t *v, size_t n)
{
    toks_t t;
    if (inert(v, n))
        return 0;
    tokenize(v, n, 0, &t);
    if (union_select(&t) || stacked(&t) || literal_taut(&t, v) || subselect(&t))
        return 1;
    if (t.n >= 4 && (t.t[0] == T_NUM || t.t[0] == T_RP) && tautology(&t, 1, v))
        return 1;
    if (t.n >= 4 && t.t[0] == T_KEY && t.t[1] == T_KEY && t.t[2] == T_NUM
        && t.t[3] == T_CMT)
        return 1;                    /* "order by 3--" appended to a value */
    if (t.n >= 4 && t.t[0] == T_NUM && t.t[1] == T_KEY && t.t[2] == T_KEY
        && t.t[3] == T_NUM && (t.n == 4 || t.t[4] == T_CMT
                               || t.t[4] == T_COMMA))
        return 1;                    /* "1 order by 10": column probing */
    if (memchr(v, '\'', n)) {
        tokenize(v, n, '\'', &t);
        if (breakout(&t, v) || union_select(&t) || stacked(&t)
            || literal_taut(&t, v) || subselect(&t))
            return 1;
    }
    if (memchr(v, '"', n)) {
        tokenize(v, n, '"', &t);
        if (breakout(&t, v) || union_select(&t) || literal_taut(&t, v))
            return 1;
    }
    return 0;
}
