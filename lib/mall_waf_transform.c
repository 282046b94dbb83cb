/*
 * WAF transformations. Each works in place and never makes a value longer
 * (every decoded form is at most as long as its encoding), so a scan needs
 * one buffer of max_value bytes whatever the chain.
 */
#include "mall_waf_int.h"

#include <string.h>

static const char *const names[TF_COUNT] = {
    "urldecode", "htmldecode", "jsondecode", "lowercase", "compress_ws",
    "sqlcomments", "fullwidth", "base64", "removenull",
};

int waf_tf_lookup(const char *name, size_t len)
{
    int i;
    for (i = 0; i < TF_COUNT; i++)
        if (strlen(names[i]) == len && memcmp(names[i], name, len) == 0)
            return i;
    return -1;
}

const char *waf_tf_name(int tf)
{
    return tf >= 0 && tf < TF_COUNT ? names[tf] : "?";
}

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* UTF-8 of cp into o; returns bytes (invalid code points -> '?') */
static size_t put_utf8(uint8_t *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (uint8_t)(0xc0 | cp >> 6);
        o[1] = (uint8_t)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        if (cp >= 0xd800 && cp < 0xe000) {
            o[0] = '?';
            return 1;
        }
        o[0] = (uint8_t)(0xe0 | cp >> 12);
        o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (uint8_t)(0x80 | (cp & 0x3f));
        return 3;
    }
    if (cp > 0x10ffff) {
        o[0] = '?';
        return 1;
    }
    o[0] = (uint8_t)(0xf0 | cp >> 18);
    o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (uint8_t)(0x80 | (cp & 0x3f));
    return 4;
}

/* One pass of %XX, %uXXXX and '+'. */
static size_t url_once(uint8_t *p, size_t n, int *changed)
{
    size_t i, o = 0;
    for (i = 0; i < n; i++) {
        if (p[i] == '%' && i + 2 < n
            && hexval(p[i + 1]) >= 0 && hexval(p[i + 2]) >= 0) {
            p[o++] = (uint8_t)(hexval(p[i + 1]) << 4 | hexval(p[i + 2]));
            i += 2;
            *changed = 1;
        } else if (p[i] == '%' && i + 5 < n && (p[i + 1] | 0x20) == 'u'
                   && hexval(p[i + 2]) >= 0 && hexval(p[i + 3]) >= 0
                   && hexval(p[i + 4]) >= 0 && hexval(p[i + 5]) >= 0) {
            uint32_t cp = (uint32_t)(hexval(p[i + 2]) << 12
                | hexval(p[i + 3]) << 8 | hexval(p[i + 4]) << 4
                | hexval(p[i + 5]));
            o += put_utf8(p + o, cp);
            i += 5;
            *changed = 1;
        } else if (p[i] == '+') {
            p[o++] = ' ';
            *changed = 1;
        } else {
            p[o++] = p[i];
        }
    }
    return o;
}

/* Repeated to a fixed point (at most 5 rounds: bounded work). */
static size_t urldecode(uint8_t *p, size_t n)
{
    int round, changed = 1;
    if (!memchr(p, '%', n) && !memchr(p, '+', n))
        return n;
    for (round = 0; round < 5 && changed; round++) {
        changed = 0;
        n = url_once(p, n, &changed);
    }
    return n;
}

static const struct { const char *name; uint8_t len; uint32_t cp; } ents[] = {
    { "lt", 2, '<' }, { "gt", 2, '>' }, { "amp", 3, '&' },
    { "quot", 4, '"' }, { "apos", 4, '\'' }, { "nbsp", 4, ' ' },
    { "colon", 5, ':' }, { "tab", 3, '\t' }, { "newline", 7, '\n' },
    { "lpar", 4, '(' }, { "rpar", 4, ')' }, { "sol", 3, '/' },
    { "bsol", 4, '\\' }, { "lsqb", 4, '[' }, { "rsqb", 4, ']' },
    { "equals", 6, '=' }, { "grave", 5, '`' }, { "semi", 4, ';' },
    { "comma", 5, ',' }, { "period", 6, '.' }, { "excl", 4, '!' },
};

/* &name; &#NN; &#xHH; (';' optional as browsers accept) */
static size_t entity(const uint8_t *p, size_t n, uint8_t *o, size_t *olen)
{
    size_t i = 1, k;
    uint32_t cp = 0;
    int digits = 0, zeros = 0;
    if (n < 3)
        return 0;
    if (p[1] == '#') {
        int hex = n > 2 && (p[2] | 0x20) == 'x';
#define ENT_DIGIT(c) (hex ? hexval(c) : ((c) >= '0' && (c) <= '9' \
                                         ? (c) - '0' : -1))
        i = hex ? 3 : 2;
        while (i < n && digits < 8) {
            int d = ENT_DIGIT(p[i]);
            if (d < 0)
                break;
            i++;
            if (d == 0 && digits == 0) {
                zeros = 1;            /* leading zeros: &#0000000060 */
                continue;
            }
            cp = cp * (hex ? 16 : 10) + (uint32_t)d;
            digits++;
        }
        while (digits == 8 && i < n && ENT_DIGIT(p[i]) >= 0) {
            cp = 0x110000;            /* too many digits: not a code point */
            i++;
        }
#undef ENT_DIGIT
        if (!digits && !zeros)
            return 0;
        if (i < n && p[i] == ';')
            i++;
        *olen = put_utf8(o, cp > 0x10ffff ? '?' : cp);
        return *olen <= i ? i : 0;
    }
    for (k = 0; k < sizeof(ents) / sizeof(ents[0]); k++) {
        size_t l = ents[k].len;
        if ((p[1] | 0x20) != ents[k].name[0])
            continue;                   /* "&page=": no call per name */
        if (n > l && strncasecmp((const char *)p + 1, ents[k].name, l) == 0) {
            i = 1 + l;
            if (i < n && p[i] == ';')
                i++;
            else if (l < 4)
                continue;             /* &lt without ';' only as "&lt;" */
            *olen = put_utf8(o, ents[k].cp);
            return i;
        }
    }
    return 0;
}

static size_t htmldecode(uint8_t *p, size_t n)
{
    size_t i = 0, o = 0;
    int round;
    if (!memchr(p, '&', n))
        return n;
    for (round = 0; round < 2; round++) {   /* &amp;lt; is decoded too */
        int changed = 0;
        for (i = 0, o = 0; i < n;) {
            uint8_t tmp[4];
            size_t tl = 0, used = p[i] == '&' ? entity(p + i, n - i, tmp,
                                                      &tl) : 0;
            if (used) {
                memcpy(p + o, tmp, tl);
                o += tl;
                i += used;
                changed = 1;
            } else {
                p[o++] = p[i++];
            }
        }
        n = o;
        if (!changed)
            break;
    }
    return n;
}

static size_t jsondecode(uint8_t *p, size_t n)
{
    size_t i, o = 0;
    if (!memchr(p, '\\', n))
        return n;
    for (i = 0; i < n; i++) {
        if (p[i] != '\\' || i + 1 >= n) {
            p[o++] = p[i];
            continue;
        }
        if (p[i + 1] == 'u' && i + 5 < n && hexval(p[i + 2]) >= 0
            && hexval(p[i + 3]) >= 0 && hexval(p[i + 4]) >= 0
            && hexval(p[i + 5]) >= 0) {
            uint32_t cp = (uint32_t)(hexval(p[i + 2]) << 12
                | hexval(p[i + 3]) << 8 | hexval(p[i + 4]) << 4
                | hexval(p[i + 5]));
            i += 5;
            if (cp >= 0xd800 && cp < 0xdc00 && i + 6 < n && p[i + 1] == '\\'
                && p[i + 2] == 'u' && hexval(p[i + 3]) >= 0
                && hexval(p[i + 4]) >= 0 && hexval(p[i + 5]) >= 0
                && hexval(p[i + 6]) >= 0) {
                uint32_t lo = (uint32_t)(hexval(p[i + 3]) << 12
                    | hexval(p[i + 4]) << 8 | hexval(p[i + 5]) << 4
                    | hexval(p[i + 6]));
                if (lo >= 0xdc00 && lo < 0xe000) {
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    i += 6;
                }
            }
            o += put_utf8(p + o, cp);
            continue;
        }
        i++;
        switch (p[i]) {
        case 'n': p[o++] = '\n'; break;
        case 't': p[o++] = '\t'; break;
        case 'r': p[o++] = '\r'; break;
        /* no \b or \f: as in "C:\boot.ini" they are far likelier a
         * Windows path than an escape an attacker needs */
        case '/': case '\\': case '"': case '\'': p[o++] = p[i]; break;
        default: p[o++] = '\\'; p[o++] = p[i]; break;
        }
    }
    return o;
}

static size_t lowercase(uint8_t *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (p[i] >= 'A' && p[i] <= 'Z')
            p[i] |= 0x20;
    return n;
}

static int is_ws(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v'
        || c == '\f';
}

static size_t compress_ws(uint8_t *p, size_t n)
{
    size_t i, o;
    for (i = 0; i < n && (p[i] > ' ' || (p[i] == ' ' && (i + 1 == n
                          || p[i + 1] > ' '))); i++)
        ;                               /* the common case: nothing to do */
    /* a run becomes one space, or one \n when it holds a line break:
     * header-injection rules look for the break after compression */
    for (o = i; i < n; i++) {
        if (is_ws(p[i])) {
            uint8_t c = (p[i] == '\n' || p[i] == '\r') ? '\n' : ' ';
            if (o > 0 && (p[o - 1] == ' ' || p[o - 1] == '\n')) {
                if (c == '\n')
                    p[o - 1] = '\n';
            } else {
                p[o++] = c;
            }
        } else {
            p[o++] = p[i];
        }
    }
    return o;
}

/* C comments become one space; MySQL's executable comments (slash, star,
 * bang, version) keep their content */
static size_t sqlcomments(uint8_t *p, size_t n)
{
    size_t i, o = 0;
    if (!memchr(p, '*', n))
        return n;
    for (i = 0; i < n; i++) {
        if (p[i] == '/' && i + 1 < n && p[i + 1] == '*') {
            if (i + 2 < n && p[i + 2] == '!') {
                i += 3;
                while (i < n && p[i] >= '0' && p[i] <= '9')
                    i++;
                i--;
                p[o++] = ' ';
                continue;
            }
            i += 2;
            while (i + 1 < n && !(p[i] == '*' && p[i + 1] == '/'))
                i++;
            i = i + 1 < n ? i + 1 : n;
            p[o++] = ' ';
            continue;
        }
        if (p[i] == '*' && i + 1 < n && p[i + 1] == '/') {
            i++;
            p[o++] = ' ';
            continue;
        }
        p[o++] = p[i];
    }
    return o;
}

/* U+FF01..U+FF5E -> '!'..'~', U+3000 -> ' ' */
static size_t fullwidth(uint8_t *p, size_t n)
{
    size_t i, o = 0;
    if (!memchr(p, 0xef, n) && !memchr(p, 0xe3, n))
        return n;
    for (i = 0; i < n; i++) {
        if (p[i] == 0xef && i + 2 < n && (p[i + 1] == 0xbc || p[i + 1] == 0xbd)
            && p[i + 2] >= 0x80 && p[i + 2] <= 0xbf) {
            uint32_t cp = (uint32_t)(0xf000 | (p[i + 1] & 0x3f) << 6
                                     | (p[i + 2] & 0x3f));
            if (cp >= 0xff01 && cp <= 0xff5e) {
                p[o++] = (uint8_t)(cp - 0xff01 + 0x21);
                i += 2;
                continue;
            }
        }
        if (p[i] == 0xe3 && i + 2 < n && p[i + 1] == 0x80 && p[i + 2] == 0x80) {
            p[o++] = ' ';
            i += 2;
            continue;
        }
        p[o++] = p[i];
    }
    return o;
}

static int b64val(uint8_t c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

/* Standard or URL alphabet; a value that is not base64 is left as is. */
static size_t base64(uint8_t *p, size_t n)
{
    size_t i, o = 0, m = n;
    uint32_t acc = 0;
    int bits = 0;
    while (m && p[m - 1] == '=')
        m--;
    if (m < 8 || n - m > 2)
        return n;
    for (i = 0; i < m; i++)
        if (b64val(p[i]) < 0)
            return n;
    for (i = 0; i < m; i++) {
        acc = acc << 6 | (uint32_t)b64val(p[i]);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            p[o++] = (uint8_t)(acc >> bits);
        }
    }
    return o;
}

static size_t removenull(uint8_t *p, size_t n)
{
    size_t i, o = 0;
    if (!memchr(p, 0, n))
        return n;
    for (i = 0; i < n; i++)
        if (p[i])
            p[o++] = p[i];
    return o;
}

/* Which transforms can change a value: one pass over it, so a chain on
 * an ordinary value costs a table look-up per byte and nothing else. */
enum {
    C_PCT = 1, C_PLUS = 2, C_AMP = 4, C_BSL = 8, C_STAR = 16, C_WIDE = 32,
    C_NUL = 64, C_UPPER = 128, C_WS = 256, C_B64 = 512, C_SPACE = 1024
};

static uint16_t byte_class[256];

static void init_classes(void)
{
    int c;
    for (c = 'A'; c <= 'Z'; c++)
        byte_class[c] = C_UPPER;
    byte_class['%'] = C_PCT;
    byte_class['+'] = C_PLUS;
    byte_class['&'] = C_AMP;
    byte_class['\\'] = C_BSL;
    byte_class['*'] = C_STAR;
    byte_class[0xef] = byte_class[0xe3] = C_WIDE;
    byte_class[0] = C_NUL;
    byte_class['\t'] = byte_class['\n'] = byte_class['\r'] = C_WS;
    byte_class['\v'] = byte_class['\f'] = C_WS;
    byte_class[' '] = C_SPACE;
}

static int space_run(const uint8_t *p, size_t n)
{
    const uint8_t *q = p, *end = p + n;
    while ((q = memchr(q, ' ', (size_t)(end - q))) != NULL && q + 1 < end) {
        if (q[1] == ' ')
            return 1;
        q += 2;
    }
    return 0;
}

unsigned waf_tf_classify(const uint8_t *p, size_t n)
{
    unsigned cls = C_B64;
    size_t i;
    if (!byte_class['A'])
        init_classes();
    for (i = 0; i < n; i++)
        cls |= byte_class[p[i]];
    /* only a run of spaces needs compress_ws, one space does not */
    if ((cls & C_SPACE) && !(cls & C_WS) && space_run(p, n))
        cls |= C_WS;
    return cls & ~(unsigned)C_SPACE;
}

static const unsigned tf_needs[TF_COUNT] = {
    [TF_URLDECODE] = C_PCT | C_PLUS, [TF_HTMLDECODE] = C_AMP,
    [TF_JSONDECODE] = C_BSL, [TF_LOWERCASE] = C_UPPER,
    [TF_COMPRESS_WS] = C_WS, [TF_SQLCOMMENTS] = C_STAR,
    [TF_FULLWIDTH] = C_WIDE, [TF_BASE64] = C_B64, [TF_REMOVENULL] = C_NUL,
};

/* the chain on p; cls from waf_tf_classify, recomputed after a decode */
size_t waf_tf_chain(const uint8_t *tf, size_t ntf, uint8_t *p, size_t n,
    unsigned cls)
{
    size_t k;
    for (k = 0; k < ntf; k++) {
        size_t m;
        if (!(tf_needs[tf[k]] & cls))
            continue;
        m = waf_tf_apply(tf[k], p, n);
        /* a decode can change bytes without changing the length ('+' to
         * ' ' makes a run of spaces that compress_ws must then see) */
        if (tf[k] == TF_LOWERCASE)
            cls &= ~(unsigned)C_UPPER;
        else if (m != n || tf[k] == TF_BASE64 || tf[k] == TF_URLDECODE)
            cls = waf_tf_classify(p, m);
        n = m;
    }
    return n;
}

size_t waf_tf_apply(int tf, uint8_t *p, size_t n)
{
    switch (tf) {
    case TF_URLDECODE:   return urldecode(p, n);
    case TF_HTMLDECODE:  return htmldecode(p, n);
    case TF_JSONDECODE:  return jsondecode(p, n);
    case TF_LOWERCASE:   return lowercase(p, n);
    case TF_COMPRESS_WS: return compress_ws(p, n);
    case TF_SQLCOMMENTS: return sqlcomments(p, n);
    case TF_FULLWIDTH:   return fullwidth(p, n);
    case TF_BASE64:      return base64(p, n);
    case TF_REMOVENULL:  return removenull(p, n);
    }
    return n;
}
