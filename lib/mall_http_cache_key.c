/* The query part of an HTTP cache key (mall_http_cache_key.h). */
#include "mall_http_cache_key.h"

#include <string.h>


typedef struct {
    const char  *name;
    size_t       nlen;
    const char  *value;
    size_t       vlen;
    const char  *decoded;       /* the name the workers read */
    size_t       dlen;
    int          dropped;       /* equal to its default */
} arg_t;


static int
hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c = (char) (c | 0x20);

    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}


size_t
mall_http_cache_arg_decode(const char *src, size_t len, char *dst)
{
    int          hi, lo;
    char        *d;
    const char  *s, *end;

    d = dst;

    for (s = src, end = src + len; s < end; s++) {
        if (*s == '+') {
            *d++ = ' ';
            continue;
        }

        /* as the module always read it: an escape needs a byte after it */
        if (*s == '%' && end - s > 2) {
            hi = hex_value(s[1]);
            lo = hex_value(s[2]);

            if (hi >= 0 && lo >= 0) {
                *d++ = (char) (hi * 16 + lo);
                s += 2;
                continue;
            }
        }

        *d++ = *s;
    }

    return (size_t) (d - dst);
}


/* memcmp of two spans, then the shorter first */
static int
span_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int  c;

    c = memcmp(a, b, alen < blen ? alen : blen);

    if (c || alen == blen) {
        return c;
    }

    return alen < blen ? -1 : 1;
}


static int
arg_cmp(const arg_t *a, const arg_t *b)
{
    int  c;

    c = span_cmp(a->name, a->nlen, b->name, b->nlen);

    return c ? c : span_cmp(a->value, a->vlen, b->value, b->vlen);
}


int
mall_http_cache_query(const char *args, size_t len,
    mall_http_cache_arg_cb cb, void *cbarg, size_t max, char *out,
    size_t *olen, char *scratch)
{
    int          what;
    char        *o, *sc;
    size_t       i, j, n, total;
    arg_t        a[MALL_HTTP_CACHE_ARGS_MAX], t;
    const char  *p, *last, *amp, *eq;

    n = 0;
    total = 0;
    sc = scratch;
    *olen = 0;

    for (p = args, last = args + len; p < last; p = amp + 1) {

        amp = memchr(p, '&', (size_t) (last - p));
        if (amp == NULL) {
            amp = last;
        }

        if (amp == p) {
            continue;
        }

        eq = memchr(p, '=', (size_t) (amp - p));

        t.name = p;
        t.nlen = (size_t) ((eq ? eq : amp) - p);
        t.value = eq ? eq + 1 : amp;
        t.vlen = eq ? (size_t) (amp - eq - 1) : 0;

        if (t.nlen == 0) {
            continue;
        }

        what = cb ? cb(cbarg, t.name, t.nlen, t.value, t.vlen)
                  : MALL_HTTP_CACHE_ARG_KEEP;

        if (what == MALL_HTTP_CACHE_ARG_IGNORE) {
            continue;
        }

        if (n == MALL_HTTP_CACHE_ARGS_MAX) {
            return MALL_HTTP_CACHE_KEY_LONG;
        }

        t.dropped = (what == MALL_HTTP_CACHE_ARG_DEFAULT);
        if (!t.dropped) {
            total += 1 + t.nlen + 1 + t.vlen;          /* "?" or "&" */
        }

        t.decoded = sc;
        t.dlen = mall_http_cache_arg_decode(t.name, t.nlen, sc);
        sc += t.dlen;

        a[n++] = t;
    }

    if (total > max) {
        return MALL_HTTP_CACHE_KEY_LONG;
    }

    for (i = 1; i < n; i++) {
        for (j = 0; j < i; j++) {
            if (a[i].dlen == a[j].dlen
                && memcmp(a[i].decoded, a[j].decoded, a[i].dlen) == 0)
            {
                return MALL_HTTP_CACHE_KEY_DUP;
            }
        }
    }

    /* drop the defaults, keeping the order */

    for (i = 0, j = 0; i < n; i++) {
        if (!a[i].dropped) {
            a[j++] = a[i];
        }
    }

    n = j;

    /* insertion sort: a handful of parameters, stable */

    for (i = 1; i < n; i++) {
        t = a[i];

        for (j = i; j > 0 && arg_cmp(&a[j - 1], &t) > 0; j--) {
            a[j] = a[j - 1];
        }

        a[j] = t;
    }

    o = out;

    for (i = 0; i < n; i++) {
        *o++ = i ? '&' : '?';
        memcpy(o, a[i].name, a[i].nlen);
        o += a[i].nlen;
        *o++ = '=';
        memcpy(o, a[i].value, a[i].vlen);
        o += a[i].vlen;
    }

    *olen = (size_t) (o - out);

    return MALL_HTTP_CACHE_KEY_OK;
}
