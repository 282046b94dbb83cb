/*
 * Query string decoding (see mall_query.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mall_b64.h"
#include "mall_query.h"


int
mall_percent_decode(const char *s, size_t len, int plus_space, char *out,
    size_t *outlen)
{
    size_t  i, n;
    int     hi, lo;
    char    c;

    n = 0;
    for (i = 0; i < len; i++) {
        c = s[i];
        if (c == '%') {
            if (i + 2 >= len) {
                return MALL_ERR;
            }
            hi = mall_hex_digit(s[i + 1]);
            lo = mall_hex_digit(s[i + 2]);
            if (hi < 0 || lo < 0) {
                return MALL_ERR;
            }
            c = (char) (hi * 16 + lo);
            i += 2;

        } else if (c == '+' && plus_space) {
            c = ' ';
        }
        if (c == '\0') {
            return MALL_ERR;
        }
        out[n++] = c;
    }

    *outlen = n;
    return MALL_OK;
}


int
mall_query_parse(const char *q, size_t len, mall_query_t *out,
    mall_err_t *err)
{
    const char  *p, *end, *amp, *eq;
    char        *b;
    size_t       nlen, vlen, dlen;

    out->n = 0;
    if (q == NULL || len == 0) {
        return MALL_OK;
    }
    if (len > MALL_QUERY_MAX_LEN) {
        return mall_err_set(err, 400, "query string is too long");
    }

    b = out->buf;
    p = q;
    end = q + len;

    while (p < end) {
        amp = memchr(p, '&', (size_t) (end - p));
        if (amp == NULL) {
            amp = end;
        }
        if (amp == p) {
            p++;
            continue;
        }
        if (out->n == MALL_QUERY_MAX_PARAMS) {
            return mall_err_set(err, 400, "too many query parameters");
        }

        eq = memchr(p, '=', (size_t) (amp - p));
        nlen = (eq != NULL ? eq : amp) - p;
        vlen = eq != NULL ? (size_t) (amp - eq - 1) : 0;

        /* buf holds len bytes of text plus a NUL per name and value */
        if (mall_percent_decode(p, nlen, 1, b, &dlen) != MALL_OK) {
            return mall_err_set(err, 400, "malformed query parameter name");
        }
        b[dlen] = '\0';
        if (mall_query_get(out, b) != NULL) {
            /* one query, one meaning: the edge cache keys refuse it too */
            return mall_err_set(err, 400, "%s: given twice", b);
        }
        out->params[out->n].name = b;
        b += dlen + 1;

        if (eq != NULL
            && mall_percent_decode(eq + 1, vlen, 1, b, &dlen) != MALL_OK)
        {
            return mall_err_set(err, 400, "%s: malformed value",
                                out->params[out->n].name);
        }
        if (eq == NULL) {
            dlen = 0;
        }
        b[dlen] = '\0';
        out->params[out->n].value = b;
        b += dlen + 1;

        out->n++;
        p = amp + 1;
    }

    return MALL_OK;
}


const char *
mall_query_get(const mall_query_t *q, const char *name)
{
    size_t  i;

    for (i = 0; i < q->n; i++) {
        if (strcmp(q->params[i].name, name) == 0) {
            return q->params[i].value;
        }
    }
    return NULL;
}


int
mall_parse_int(const char *s, long long min, long long max, long long *out)
{
    char       *end;
    long long   v;
    size_t      i;

    if (s == NULL || s[0] == '\0' || strlen(s) > 19) {
        return MALL_ERR;
    }
    for (i = (s[0] == '-') ? 1 : 0; s[i] != '\0'; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return MALL_ERR;
        }
    }
    if (s[0] == '-' && s[1] == '\0') {
        return MALL_ERR;
    }

    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max) {
        return MALL_ERR;
    }
    *out = v;
    return MALL_OK;
}


int
mall_query_int(const mall_query_t *q, const char *name, long long min,
    long long max, long long def, long long *out, mall_err_t *err)
{
    const char  *v;

    v = mall_query_get(q, name);
    if (v == NULL || v[0] == '\0') {
        *out = def;
        return MALL_OK;
    }
    if (mall_parse_int(v, min, max, out) != MALL_OK) {
        return mall_err_set(err, 400, "%s must be an integer in %lld..%lld",
                            name, min, max);
    }
    return MALL_OK;
}
