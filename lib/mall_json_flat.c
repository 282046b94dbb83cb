/*
 * Non-allocating scanner for one flat JSON object (see mall_json_flat.h).
 *
 * The grammar is RFC 8259's: strings must be valid UTF-8 with no raw
 * control characters and only the standard escapes, \u surrogates must
 * pair; numbers follow the JSON number syntax; nested arrays and objects
 * are validated and skipped (bounded recursion, depth <= 8). Keys are
 * compared by their decoded value, so "\u0073ub" is a duplicate of "sub"
 * and cannot shadow it.
 */
#include <string.h>

#include "mall_json_flat.h"

#define JSON_MAX_DEPTH  8

typedef struct {
    const char  *p;
    const char  *end;
} json_cur_t;


static void
json_ws(json_cur_t *c)
{
    while (c->p < c->end
           && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n'
               || *c->p == '\r'))
    {
        c->p++;
    }
}


static int
json_hex4(const char *p, unsigned *out)
{
    unsigned  v;
    int       i;
    char      ch;

    v = 0;
    for (i = 0; i < 4; i++) {
        ch = p[i];
        v <<= 4;
        if (ch >= '0' && ch <= '9') {
            v |= (unsigned) (ch - '0');
        } else if (ch >= 'a' && ch <= 'f') {
            v |= (unsigned) (ch - 'a' + 10);
        } else if (ch >= 'A' && ch <= 'F') {
            v |= (unsigned) (ch - 'A' + 10);
        } else {
            return -1;
        }
    }
    *out = v;
    return 0;
}


/* Length of one valid UTF-8 sequence at p (non-ASCII lead), or 0. */
static size_t
json_utf8_len(const unsigned char *p, const unsigned char *end)
{
    unsigned char  c;
    size_t         n, i;
    unsigned       lo, hi;

    c = p[0];
    lo = 0x80;
    hi = 0xbf;

    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0) {
            lo = 0xa0;                  /* no overlongs */
        } else if (c == 0xed) {
            hi = 0x9f;                  /* no encoded surrogates */
        }
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0) {
            lo = 0x90;
        } else if (c == 0xf4) {
            hi = 0x8f;                  /* <= U+10FFFF */
        }
    } else {
        return 0;
    }

    if ((size_t) (end - p) < n || p[1] < lo || p[1] > hi) {
        return 0;
    }
    for (i = 2; i < n; i++) {
        if (p[i] < 0x80 || p[i] > 0xbf) {
            return 0;
        }
    }
    return n;
}


/*
 * At an opening quote: validates the string and leaves c after the closing
 * quote. Sets the raw span (without quotes) and whether it has escapes.
 */
static int
json_string(json_cur_t *c, const char **s, size_t *slen, int *escaped)
{
    const unsigned char  *p, *end;
    unsigned              u, u2;
    size_t                n;

    p = (const unsigned char *) c->p + 1;
    end = (const unsigned char *) c->end;
    *s = (const char *) p;
    *escaped = 0;

    while (p < end) {
        if (*p == '"') {
            *slen = (size_t) ((const char *) p - *s);
            c->p = (const char *) p + 1;
            return 0;
        }

        if (*p < 0x20) {
            return -1;
        }

        if (*p == '\\') {
            *escaped = 1;
            if (end - p < 2) {
                return -1;
            }
            switch (p[1]) {
            case '"': case '\\': case '/': case 'b': case 'f': case 'n':
            case 'r': case 't':
                p += 2;
                continue;
            case 'u':
                break;
            default:
                return -1;
            }

            if (end - p < 6 || json_hex4((const char *) p + 2, &u) != 0) {
                return -1;
            }
            p += 6;

            if (u >= 0xdc00 && u <= 0xdfff) {
                return -1;              /* lone low surrogate */
            }
            if (u >= 0xd800 && u <= 0xdbff) {
                if (end - p < 6 || p[0] != '\\' || p[1] != 'u'
                    || json_hex4((const char *) p + 2, &u2) != 0
                    || u2 < 0xdc00 || u2 > 0xdfff)
                {
                    return -1;
                }
                p += 6;
            }
            continue;
        }

        if (*p < 0x80) {
            p++;
            continue;
        }

        n = json_utf8_len(p, end);
        if (n == 0) {
            return -1;
        }
        p += n;
    }

    return -1;
}


static int
json_number(json_cur_t *c)
{
    const char  *p, *end;

    p = c->p;
    end = c->end;

    if (p < end && *p == '-') {
        p++;
    }
    if (p >= end) {
        return -1;
    }
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }
    } else {
        return -1;
    }

    if (p < end && *p == '.') {
        p++;
        if (p >= end || *p < '0' || *p > '9') {
            return -1;
        }
        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }
    }

    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) {
            p++;
        }
        if (p >= end || *p < '0' || *p > '9') {
            return -1;
        }
        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }
    }

    c->p = p;
    return 0;
}


static int
json_literal(json_cur_t *c, const char *lit, size_t n)
{
    if ((size_t) (c->end - c->p) < n || memcmp(c->p, lit, n) != 0) {
        return -1;
    }
    c->p += n;
    return 0;
}


static int json_value(json_cur_t *c, int depth, mall_json_type_e *type,
    int *escaped);


/* At '[' or '{' of a nested value: validates it, leaves c after it. */
static int
json_skip_container(json_cur_t *c, int depth)
{
    char              close;
    const char       *s;
    size_t            slen;
    int               esc, object;
    mall_json_type_e  t;

    if (depth > JSON_MAX_DEPTH) {
        return -1;
    }

    object = (*c->p == '{');
    close = object ? '}' : ']';
    c->p++;
    json_ws(c);

    if (c->p < c->end && *c->p == close) {
        c->p++;
        return 0;
    }

    for ( ;; ) {
        if (object) {
            if (c->p >= c->end || *c->p != '"'
                || json_string(c, &s, &slen, &esc) != 0)
            {
                return -1;
            }
            json_ws(c);
            if (c->p >= c->end || *c->p != ':') {
                return -1;
            }
            c->p++;
            json_ws(c);
        }

        if (json_value(c, depth, &t, &esc) != 0) {
            return -1;
        }
        json_ws(c);

        if (c->p >= c->end) {
            return -1;
        }
        if (*c->p == close) {
            c->p++;
            return 0;
        }
        if (*c->p != ',') {
            return -1;
        }
        c->p++;
        json_ws(c);
    }
}


/* Any value at c (no leading whitespace); depth is the enclosing depth. */
static int
json_value(json_cur_t *c, int depth, mall_json_type_e *type, int *escaped)
{
    const char  *s;
    size_t       slen;

    *escaped = 0;
    if (c->p >= c->end) {
        return -1;
    }

    switch (*c->p) {
    case '"':
        *type = MALL_JSON_STRING;
        return json_string(c, &s, &slen, escaped);
    case '{':
        *type = MALL_JSON_OBJECT;
        return json_skip_container(c, depth + 1);
    case '[':
        *type = MALL_JSON_ARRAY;
        return json_skip_container(c, depth + 1);
    case 't':
        *type = MALL_JSON_BOOL;
        return json_literal(c, "true", 4);
    case 'f':
        *type = MALL_JSON_BOOL;
        return json_literal(c, "false", 5);
    case 'n':
        *type = MALL_JSON_NULL;
        return json_literal(c, "null", 4);
    default:
        *type = MALL_JSON_NUMBER;
        return json_number(c);
    }
}


/*
 * Decodes the next character of a validated raw JSON string at *i into
 * out (1..4 UTF-8 bytes); returns the byte count.
 */
static size_t
json_next_char(const char *s, size_t len, size_t *i, unsigned char out[4])
{
    unsigned  u, u2;
    char      ch;

    ch = s[*i];
    if (ch != '\\') {
        out[0] = (unsigned char) ch;
        (*i)++;
        return 1;
    }

    ch = s[*i + 1];
    *i += 2;
    switch (ch) {
    case 'b': out[0] = '\b'; return 1;
    case 'f': out[0] = '\f'; return 1;
    case 'n': out[0] = '\n'; return 1;
    case 'r': out[0] = '\r'; return 1;
    case 't': out[0] = '\t'; return 1;
    case 'u': break;
    default: out[0] = (unsigned char) ch; return 1;
    }

    if (*i + 4 > len || json_hex4(s + *i, &u) != 0) {
        out[0] = '?';
        return 1;
    }
    *i += 4;

    if (u >= 0xd800 && u <= 0xdbff && *i + 6 <= len && s[*i] == '\\'
        && s[*i + 1] == 'u' && json_hex4(s + *i + 2, &u2) == 0
        && u2 >= 0xdc00 && u2 <= 0xdfff)
    {
        *i += 6;
        u = 0x10000 + ((u - 0xd800) << 10) + (u2 - 0xdc00);
    }

    if (u < 0x80) {
        out[0] = (unsigned char) u;
        return 1;
    }
    if (u < 0x800) {
        out[0] = (unsigned char) (0xc0 | (u >> 6));
        out[1] = (unsigned char) (0x80 | (u & 0x3f));
        return 2;
    }
    if (u < 0x10000) {
        out[0] = (unsigned char) (0xe0 | (u >> 12));
        out[1] = (unsigned char) (0x80 | ((u >> 6) & 0x3f));
        out[2] = (unsigned char) (0x80 | (u & 0x3f));
        return 3;
    }
    out[0] = (unsigned char) (0xf0 | (u >> 18));
    out[1] = (unsigned char) (0x80 | ((u >> 12) & 0x3f));
    out[2] = (unsigned char) (0x80 | ((u >> 6) & 0x3f));
    out[3] = (unsigned char) (0x80 | (u & 0x3f));
    return 4;
}


/* Equality of two raw JSON strings by decoded value. */
static int
json_str_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t         i, j, na, nb;
    unsigned char  ca[4], cb[4];

    if (memchr(a, '\\', alen) == NULL && memchr(b, '\\', blen) == NULL) {
        return alen == blen && memcmp(a, b, alen) == 0;
    }

    i = 0;
    j = 0;
    while (i < alen && j < blen) {
        na = json_next_char(a, alen, &i, ca);
        nb = json_next_char(b, blen, &j, cb);
        if (na != nb || memcmp(ca, cb, na) != 0) {
            return 0;
        }
    }
    return i == alen && j == blen;
}


/* Equality of a raw JSON string, decoded, with plain bytes. */
static int
json_str_is(const char *a, size_t alen, const char *plain, size_t plen)
{
    size_t         i, j, na;
    unsigned char  ca[4];

    if (memchr(a, '\\', alen) == NULL) {
        return alen == plen && memcmp(a, plain, alen) == 0;
    }

    i = 0;
    j = 0;
    while (i < alen) {
        na = json_next_char(a, alen, &i, ca);
        if (na > plen - j || memcmp(ca, plain + j, na) != 0) {
            return 0;
        }
        j += na;
    }
    return j == plen;
}


int
mall_json_flat_parse(const char *json, size_t len,
    mall_json_member_t *members, int max)
{
    int                  n, i, esc;
    json_cur_t           c;
    const char          *key, *val;
    size_t               key_len;
    mall_json_type_e     type;
    mall_json_member_t  *m;

    if (json == NULL) {
        return -1;
    }

    c.p = json;
    c.end = json + len;
    n = 0;

    json_ws(&c);
    if (c.p >= c.end || *c.p != '{') {
        return -1;
    }
    c.p++;
    json_ws(&c);

    if (c.p < c.end && *c.p == '}') {
        c.p++;
        goto done;
    }

    for ( ;; ) {
        if (c.p >= c.end || *c.p != '"'
            || json_string(&c, &key, &key_len, &esc) != 0)
        {
            return -1;
        }
        json_ws(&c);
        if (c.p >= c.end || *c.p != ':') {
            return -1;
        }
        c.p++;
        json_ws(&c);

        val = c.p;
        if (json_value(&c, 1, &type, &esc) != 0) {
            return -1;
        }

        if (n >= max) {
            return -1;
        }
        for (i = 0; i < n; i++) {
            if (json_str_equal(members[i].key, members[i].key_len, key,
                               key_len))
            {
                return -1;
            }
        }

        m = &members[n++];
        m->key = key;
        m->key_len = key_len;
        m->type = type;
        m->escaped = esc;
        if (type == MALL_JSON_STRING) {
            m->val = val + 1;
            m->val_len = (size_t) (c.p - val) - 2;
        } else {
            m->val = val;
            m->val_len = (size_t) (c.p - val);
        }

        json_ws(&c);
        if (c.p >= c.end) {
            return -1;
        }
        if (*c.p == '}') {
            c.p++;
            break;
        }
        if (*c.p != ',') {
            return -1;
        }
        c.p++;
        json_ws(&c);
    }

done:

    json_ws(&c);
    return c.p == c.end ? n : -1;
}


const mall_json_member_t *
mall_json_flat_get(const mall_json_member_t *m, int n, const char *key)
{
    int     i;
    size_t  klen;

    if (m == NULL || key == NULL) {
        return NULL;
    }

    klen = strlen(key);
    for (i = 0; i < n; i++) {
        if (json_str_is(m[i].key, m[i].key_len, key, klen)) {
            return &m[i];
        }
    }
    return NULL;
}


/*
 * A decoded NUL is refused (-1) as well: the result is used as a C string,
 * and "adm\u0000in" must not turn into "adm".
 */
int
mall_json_flat_string(const mall_json_member_t *m, char *out, size_t outsz)
{
    size_t         i, o, k;
    unsigned char  ch[4];

    if (m == NULL || m->type != MALL_JSON_STRING || outsz == 0) {
        return -1;
    }

    if (!m->escaped) {
        if (m->val_len >= outsz || m->val_len > 0x7fffffff
            || memchr(m->val, '\0', m->val_len) != NULL)
        {
            return -1;
        }
        memcpy(out, m->val, m->val_len);
        out[m->val_len] = '\0';
        return (int) m->val_len;
    }

    i = 0;
    o = 0;
    while (i < m->val_len) {
        k = json_next_char(m->val, m->val_len, &i, ch);
        if (o + k >= outsz || (k == 1 && ch[0] == '\0')) {
            return -1;
        }
        memcpy(out + o, ch, k);
        o += k;
    }
    if (o > 0x7fffffff) {
        return -1;
    }
    out[o] = '\0';
    return (int) o;
}


int
mall_json_flat_int(const mall_json_member_t *m, int64_t *out)
{
    size_t    i;
    int       neg;
    uint64_t  v, limit;

    if (m == NULL || m->type != MALL_JSON_NUMBER || m->val_len == 0) {
        return -1;
    }

    i = 0;
    neg = (m->val[0] == '-');
    if (neg) {
        i = 1;
    }
    if (i >= m->val_len) {
        return -1;
    }

    /* INT64_MIN's magnitude is one more than INT64_MAX */
    limit = neg ? (uint64_t) INT64_MAX + 1 : (uint64_t) INT64_MAX;
    v = 0;
    for ( ; i < m->val_len; i++) {
        if (m->val[i] < '0' || m->val[i] > '9') {
            return -1;                  /* fraction or exponent */
        }
        if (v > (limit - (uint64_t) (m->val[i] - '0')) / 10) {
            return -1;
        }
        v = v * 10 + (uint64_t) (m->val[i] - '0');
    }

    if (neg) {
        *out = v == (uint64_t) INT64_MAX + 1 ? INT64_MIN : -(int64_t) v;
    } else {
        *out = (int64_t) v;
    }
    return 0;
}
