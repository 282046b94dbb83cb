/* The HTTP cache's header values (mall_http_cache_parse.h). */
#include "mall_http_cache_parse.h"

#include <string.h>


static int
is_blank(char c)
{
    return c == ' ' || c == '\t';
}


static char
to_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char) (c | 0x20) : c;
}


/* ASCII case-insensitive equality of two spans */
static int
same_nocase(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t  i;

    if (alen != blen) {
        return 0;
    }

    for (i = 0; i < alen; i++) {
        if (to_lower(a[i]) != to_lower(b[i])) {
            return 0;
        }
    }

    return 1;
}


/* The first case-insensitive occurrence of s (slen > 0) in p .. last. */
static const char *
find_nocase(const char *p, const char *last, const char *s, size_t slen)
{
    for ( /* void */ ; (size_t) (last - p) >= slen; p++) {
        if (same_nocase(p, slen, s, slen)) {
            return p;
        }
    }

    return NULL;
}


void
mall_http_cache_cc_init(mall_http_cache_cc_t *cc)
{
    memset(cc, 0, sizeof(mall_http_cache_cc_t));
    cc->smaxage = -1;
    cc->maxage = -1;
    cc->swr = -1;
    cc->sie = -1;
    cc->min_fresh = -1;
    cc->max_stale = -1;
}


int
mall_http_cache_cc_line(const char *v, size_t len, int strict,
    mall_http_cache_cc_t *cc)
{
    int          has_arg;
    size_t       nlen, alen;
    int64_t      d, *slot;
    const char  *p, *last, *n, *arg;

    p = v;
    last = v + len;

    while (p < last) {

        while (p < last && (is_blank(*p) || *p == ',')) {
            p++;
        }

        n = p;
        while (p < last && *p != '=' && *p != ',' && !is_blank(*p)) {
            p++;
        }

        nlen = (size_t) (p - n);

        while (p < last && is_blank(*p)) {
            p++;
        }

        has_arg = 0;
        arg = NULL;
        alen = 0;

        if (p < last && *p == '=') {
            has_arg = 1;
            p++;

            while (p < last && is_blank(*p)) {
                p++;
            }

            if (p < last && *p == '"') {
                arg = ++p;
                while (p < last && *p != '"') {
                    p += (*p == '\\' && p + 1 < last) ? 2 : 1;
                }

                alen = (size_t) (p - arg);

                if (p < last) {
                    p++;

                } else if (strict) {
                    return -1;          /* an unterminated string */
                }

            } else {
                arg = p;
                while (p < last && *p != ',' && !is_blank(*p) && *p != ';') {
                    p++;
                }

                alen = (size_t) (p - arg);

                if (strict && alen == 0) {
                    return -1;
                }
            }
        }

        if (strict) {
            if (!mall_http_cache_sf_key(n, nlen)) {
                return -1;
            }

            if (p < last && *p == ';') {
                /* parameters: not used by any directive here */
                while (p < last && *p != ',') {
                    p++;
                }
            }

            while (p < last && is_blank(*p)) {
                p++;
            }

            if (p < last && *p != ',') {
                return -1;
            }
        }

        while (p < last && *p != ',') {
            p++;
        }

        if (nlen == 0) {
            continue;
        }

#define is(s)  same_nocase(n, nlen, s, sizeof(s) - 1)

        slot = NULL;

        if (is("no-store")) {
            cc->no_store = 1;

        } else if (is("no-cache")) {
            if (has_arg) {
                cc->no_cache_fields = arg;
                cc->no_cache_fields_len = alen;
            } else {
                cc->no_cache = 1;
            }

        } else if (is("private")) {
            if (has_arg) {
                cc->private_fields = arg;
                cc->private_fields_len = alen;
            } else {
                cc->private = 1;
            }

        } else if (is("public")) {
            cc->public = 1;

        } else if (is("must-revalidate")) {
            cc->must_revalidate = 1;

        } else if (is("proxy-revalidate")) {
            cc->proxy_revalidate = 1;

        } else if (is("s-maxage")) {
            slot = &cc->smaxage;

        } else if (is("max-age")) {
            slot = &cc->maxage;

        } else if (is("stale-while-revalidate")) {
            slot = &cc->swr;

        } else if (is("stale-if-error")) {
            slot = &cc->sie;

        } else if (is("min-fresh")) {           /* request directives */
            slot = &cc->min_fresh;

        } else if (is("max-stale")) {
            if (has_arg) {
                slot = &cc->max_stale;
            } else {
                cc->max_stale_any = 1;
            }

        } else if (is("only-if-cached")) {
            cc->only_if_cached = 1;
        }

#undef is

        if (slot == NULL || *slot >= 0) {
            continue;
        }

        d = mall_http_cache_delta(arg, alen);
        *slot = (d < 0) ? 0 : (d > 0x7fffffff ? 0x7fffffff : d);
    }

    return 0;
}


int
mall_http_cache_sf_key(const char *p, size_t len)
{
    size_t  i;

    if (len == 0 || !((p[0] >= 'a' && p[0] <= 'z') || p[0] == '*')) {
        return 0;
    }

    for (i = 1; i < len; i++) {
        if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9')
              || p[i] == '_' || p[i] == '-' || p[i] == '.' || p[i] == '*'))
        {
            return 0;
        }
    }

    return 1;
}


int64_t
mall_http_cache_delta(const char *p, size_t len)
{
    int64_t  d;

    if (len == 0) {
        return -1;
    }

    for (d = 0; len; len--, p++) {
        if (*p < '0' || *p > '9') {
            return -1;
        }

        if (d < MALL_HTTP_CACHE_DELTA_MAX) {
            d = d * 10 + (*p - '0');
        }
    }

    return (d < MALL_HTTP_CACHE_DELTA_MAX) ? d : MALL_HTTP_CACHE_DELTA_MAX;
}


int64_t
mall_http_cache_age(const char *v, size_t len)
{
    const char  *p, *last;

    p = v;
    last = memchr(v, ',', len);

    if (last == NULL) {
        last = v + len;
    }

    while (p < last && is_blank(*p)) {
        p++;
    }

    while (last > p && is_blank(last[-1])) {
        last--;
    }

    return mall_http_cache_delta(p, (size_t) (last - p));
}


int
mall_http_cache_etag_listed(const char *list, size_t llen, const char *etag,
    size_t elen)
{
    const char  *p, *q, *last, *e;

    e = etag;

    if (elen > 2 && e[0] == 'W' && e[1] == '/') {
        e += 2;
        elen -= 2;
    }

    p = list;
    last = list + llen;

    while (p < last) {
        while (p < last && (is_blank(*p) || *p == ',')) {
            p++;
        }

        if (p < last && *p == '*') {
            return 1;
        }

        if (last - p > 2 && p[0] == 'W' && p[1] == '/') {
            p += 2;
        }

        if (p == last || *p != '"') {
            /* not an entity-tag: skip to the next member */
            while (p < last && *p != ',') {
                p++;
            }

            continue;
        }

        q = memchr(p + 1, '"', (size_t) (last - p - 1));

        if (q == NULL) {
            return 0;
        }

        q++;

        if ((size_t) (q - p) == elen && memcmp(p, e, elen) == 0) {
            return 1;
        }

        p = q;
    }

    return 0;
}


int
mall_http_cache_field_listed(const char *list, size_t llen, const char *name,
    size_t nlen)
{
    const char  *p, *n, *last;

    p = list;
    last = list + llen;

    while (p < last) {
        while (p < last && (is_blank(*p) || *p == ',')) {
            p++;
        }

        n = p;
        while (p < last && *p != ',' && !is_blank(*p)) {
            p++;
        }

        if (same_nocase(n, (size_t) (p - n), name, nlen)) {
            return 1;
        }
    }

    return 0;
}


int
mall_http_cache_vary_names(const char *v, size_t len, char *out,
    size_t *olen)
{
    size_t       n, i;
    const char  *p, *m, *last;

    p = v;
    last = v + len;

    while (p < last) {
        while (p < last && (is_blank(*p) || *p == ',')) {
            p++;
        }

        m = p;
        while (p < last && *p != ',' && !is_blank(*p)) {
            p++;
        }

        n = (size_t) (p - m);

        if (n == 0) {
            continue;
        }

        if (n == 1 && *m == '*') {
            return -1;
        }

        if (same_nocase(m, n, "accept-encoding", 15)) {
            continue;
        }

        if (*olen) {
            out[(*olen)++] = ',';
        }

        for (i = 0; i < n; i++) {
            out[(*olen)++] = to_lower(m[i]);
        }
    }

    return 0;
}


unsigned
mall_http_cache_lang_q(const char *m, size_t len)
{
    unsigned     q, scale;
    const char  *p, *last;

    last = m + len;
    p = find_nocase(m, last, ";q=", 3);

    if (p == NULL) {
        return 1000;
    }

    p += 3;

    if (p == last || *p != '0') {
        return 1000;                        /* "1", "1.0", or unreadable */
    }

    q = 0;
    p++;

    if (p < last && *p == '.') {
        for (p++, scale = 100; p < last && scale && *p >= '0' && *p <= '9';
             p++, scale /= 10)
        {
            q += (unsigned) (*p - '0') * scale;
        }
    }

    return q;
}


typedef struct {
    const char  *text;
    size_t       len;
    unsigned     q;
} member_t;


/* a before b: weight descending, then bytes, then the shorter first */
static int
member_before(const member_t *a, const member_t *b)
{
    int     c;
    size_t  n;

    if (a->q != b->q) {
        return a->q > b->q;
    }

    n = a->len < b->len ? a->len : b->len;
    c = memcmp(a->text, b->text, n);

    return c < 0 || (c == 0 && a->len <= b->len);
}


size_t
mall_http_cache_vary_value(const char *v, size_t len, int lang, char *out)
{
    char        *lc, *o;
    size_t       i, j, n;
    member_t     mem[MALL_HTTP_CACHE_VARY_MEMBERS], t;
    const char  *p, *m, *e, *last;

    p = v;
    last = v + len;
    o = out;
    lc = out + len;         /* lang: the lowercased members, then sorted */
    n = 0;

    while (p < last) {
        while (p < last && (is_blank(*p) || *p == ',')) {
            p++;
        }

        m = p;
        while (p < last && *p != ',') {
            p++;
        }

        e = p;
        while (e > m && is_blank(e[-1])) {
            e--;
        }

        if (e == m) {
            continue;
        }

        if (!lang) {
            if (n++) {
                *o++ = ',';
            }

            memcpy(o, m, (size_t) (e - m));
            o += e - m;
            continue;
        }

        if (n == MALL_HTTP_CACHE_VARY_MEMBERS) {
            break;          /* the rest is beyond what is compared */
        }

        mem[n].text = lc;

        for ( /* void */ ; m < e; m++) {
            if (!is_blank(*m)) {
                *lc++ = to_lower(*m);
            }
        }

        mem[n].len = (size_t) (lc - mem[n].text);
        mem[n].q = mall_http_cache_lang_q(mem[n].text, mem[n].len);
        n++;
    }

    if (!lang) {
        return (size_t) (o - out);
    }

    /* insertion sort: stable, and n is small */

    for (i = 1; i < n; i++) {
        t = mem[i];

        for (j = i; j > 0 && !member_before(&mem[j - 1], &t); j--) {
            mem[j] = mem[j - 1];
        }

        mem[j] = t;
    }

    for (i = 0; i < n; i++) {
        if (i) {
            *o++ = ',';
        }

        memcpy(o, mem[i].text, mem[i].len);
        o += mem[i].len;
    }

    return (size_t) (o - out);
}


int
mall_http_cache_accepts(const char *ae, size_t aelen, const char *coding,
    size_t len)
{
    const char  *p, *last;

    if (len == 0 || aelen < len) {
        return 0;
    }

    last = ae + aelen;

    p = find_nocase(ae, last, coding, len);
    if (p == NULL) {
        return 0;
    }

    p += len;

    while (p < last && (*p == ' ' || *p == ';')) {
        p++;
    }

    if (last - p >= 3 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
        for (p += 2; p < last && (*p == '0' || *p == '.'); p++) {
            /* void */
        }

        if (p == last || *p < '1' || *p > '9') {
            return 0;
        }
    }

    return 1;
}
