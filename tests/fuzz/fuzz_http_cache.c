/*
 * lib/mall_http_cache_parse.c: the header values the edge's HTTP cache
 * reads from origins and clients, and lib/mall_http_cache_key.c: the
 * query part of its keys. The whole input is a header value (and a query
 * string) for
 * every parser (on exact-size heap copies, outputs in buffers of the
 * documented size); the two-argument ones (If-None-Match and an ETag,
 * a field-name list and a name, Accept-Encoding and a coding) split it at
 * its first '\n'. Oracles: pointers stay inside the input, values in
 * range, the strict (targeted) reading agrees with the lenient one when
 * it succeeds, delta-seconds match a reference, an entity-tag is in its
 * own list and weakly equal to its W/ form, Vary names and values and
 * the canonical query are idempotent (normalising the result gives it
 * again); the query's length limit holds, in a buffer of just that size.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "mall_http_cache_parse.h"
#include "mall_http_cache_key.h"


/* every field in range, pointers inside [lo, hi) */
static void
check_cc(const mall_http_cache_cc_t *c, const char *lo, const char *hi)
{
    const int64_t  *v[] = { &c->smaxage, &c->maxage, &c->swr, &c->sie,
                            &c->min_fresh, &c->max_stale };
    size_t          i;

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        FZ_ASSERT(*v[i] >= -1 && *v[i] <= 0x7fffffff);
    }

    FZ_ASSERT(c->no_cache_fields_len == 0
              || (c->no_cache_fields >= lo
                  && c->no_cache_fields + c->no_cache_fields_len <= hi));
    FZ_ASSERT(c->private_fields_len == 0
              || (c->private_fields >= lo
                  && c->private_fields + c->private_fields_len <= hi));
    FZ_ASSERT(!c->targeted);
}


static int
same_cc(const mall_http_cache_cc_t *a, const mall_http_cache_cc_t *b)
{
    return a->smaxage == b->smaxage && a->maxage == b->maxage
           && a->swr == b->swr && a->sie == b->sie
           && a->min_fresh == b->min_fresh && a->max_stale == b->max_stale
           && a->no_cache_fields == b->no_cache_fields
           && a->no_cache_fields_len == b->no_cache_fields_len
           && a->private_fields == b->private_fields
           && a->private_fields_len == b->private_fields_len
           && a->no_store == b->no_store && a->no_cache == b->no_cache
           && a->private == b->private && a->public == b->public
           && a->must_revalidate == b->must_revalidate
           && a->proxy_revalidate == b->proxy_revalidate
           && a->max_stale_any == b->max_stale_any
           && a->only_if_cached == b->only_if_cached;
}


/* delta-seconds, the plain way: digits only, saturating at 2^31 */
static int64_t
ref_delta(const char *p, size_t len)
{
    size_t    i;
    uint64_t  d = 0;

    if (len == 0) {
        return -1;
    }
    for (i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return -1;
        }
    }
    for (i = 0; i < len; i++) {
        d = d * 10 + (uint64_t) (p[i] - '0');
        if (d >= (uint64_t) MALL_HTTP_CACHE_DELTA_MAX) {
            return MALL_HTTP_CACHE_DELTA_MAX;
        }
    }
    return (int64_t) d;
}


static void
fuzz_cc(const char *v, size_t len)
{
    int                   rc;
    mall_http_cache_cc_t  lenient, strict;

    mall_http_cache_cc_init(&lenient);
    FZ_ASSERT(mall_http_cache_cc_line(v, len, 0, &lenient) == 0);
    check_cc(&lenient, v, v + len);

    mall_http_cache_cc_init(&strict);
    rc = mall_http_cache_cc_line(v, len, 1, &strict);
    FZ_ASSERT(rc == 0 || rc == -1);
    check_cc(&strict, v, v + len);

    if (rc == 0) {
        FZ_ASSERT(same_cc(&strict, &lenient));
    }
}


static void
fuzz_delta(const char *v, size_t len)
{
    int64_t      d;
    const char  *p, *last;

    d = mall_http_cache_delta(v, len);
    FZ_ASSERT(d == ref_delta(v, len));

    /* Age: the first member, trimmed */
    last = memchr(v, ',', len);
    last = last ? last : v + len;
    for (p = v; p < last && (*p == ' ' || *p == '\t'); p++) {
        /* void */
    }
    while (last > p && (last[-1] == ' ' || last[-1] == '\t')) {
        last--;
    }
    FZ_ASSERT(mall_http_cache_age(v, len)
              == ref_delta(p, (size_t) (last - p)));
}


/* the normalised form of a Vary value, normalised again, is itself */
static void
fuzz_vary_value(const char *v, size_t len, int lang)
{
    char    *out, *in2, *again;
    size_t   n, m, i;

    out = fz_alloc(2 * len);
    n = mall_http_cache_vary_value(v, len, lang, out);
    FZ_ASSERT(n <= len);

    for (i = 0; lang && i < n; i++) {
        FZ_ASSERT(out[i] != ' ' && out[i] != '\t'
                  && !(out[i] >= 'A' && out[i] <= 'Z'));
    }

    in2 = fz_dup(out, n);
    again = fz_alloc(2 * n);
    m = mall_http_cache_vary_value(in2, n, lang, again);
    FZ_ASSERT(m == n && memcmp(again, in2, n) == 0);

    free(again);
    free(in2);
    free(out);
}


static void
fuzz_vary_names(const char *v, size_t len)
{
    int      rc;
    char    *out, *in2, *again;
    size_t   n, m, i;

    /* documented room: *olen + len + 1 */
    out = fz_alloc(len + 1);
    n = 0;
    rc = mall_http_cache_vary_names(v, len, out, &n);
    FZ_ASSERT(rc == 0 || rc == -1);
    FZ_ASSERT(n <= len + 1);

    if (rc == 0) {
        for (i = 0; i < n; i++) {
            FZ_ASSERT(out[i] != ' ' && out[i] != '\t'
                      && !(out[i] >= 'A' && out[i] <= 'Z'));
        }
        FZ_ASSERT(n == 0 || (out[0] != ',' && out[n - 1] != ','));

        in2 = fz_dup(out, n);
        again = fz_alloc(n + 1);
        m = 0;
        FZ_ASSERT(mall_http_cache_vary_names(in2, n, again, &m) == 0);
        FZ_ASSERT(m == n && memcmp(again, in2, n) == 0);
        free(again);
        free(in2);
    }

    free(out);
}


/* a well-formed entity-tag: optional W/, then a quoted run without '"' */
static int
is_etag(const char *e, size_t n)
{
    if (n >= 2 && e[0] == 'W' && e[1] == '/') {
        e += 2;
        n -= 2;
    }
    return n >= 2 && e[0] == '"' && e[n - 1] == '"'
           && memchr(e + 1, '"', n - 2) == NULL;
}


static void
fuzz_etag(const char *list, size_t llen, const char *etag, size_t elen)
{
    int    r;
    char  *weak;

    r = mall_http_cache_etag_listed(list, llen, etag, elen);
    FZ_ASSERT(r == 0 || r == 1);

    if (is_etag(etag, elen)) {
        FZ_ASSERT(mall_http_cache_etag_listed(etag, elen, etag, elen) == 1);

        if (!(etag[0] == 'W' && etag[1] == '/')) {
            /* weak comparison: W/ makes no difference */
            weak = fz_alloc(elen + 2);
            memcpy(weak, "W/", 2);
            memcpy(weak + 2, etag, elen);
            FZ_ASSERT(mall_http_cache_etag_listed(list, llen, weak,
                                                  elen + 2) == r);
            FZ_ASSERT(mall_http_cache_etag_listed(weak, elen + 2, etag,
                                                  elen) == 1);
            free(weak);
        }
    }
}


static void
fuzz_pair(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t  i;
    int     r;

    fuzz_etag(a, alen, b, blen);

    r = mall_http_cache_field_listed(a, alen, b, blen);
    FZ_ASSERT(r == 0 || r == 1);
    for (i = 0; i < blen && b[i] != ',' && b[i] != ' ' && b[i] != '\t';
         i++)
    {
        /* void */
    }
    if (blen && i == blen) {
        FZ_ASSERT(mall_http_cache_field_listed(b, blen, b, blen) == 1);
    }

    r = mall_http_cache_accepts(a, alen, b, blen);
    FZ_ASSERT(r == 0 || r == 1);

    FZ_ASSERT(mall_http_cache_lang_q(a, alen) <= 1000);
}


/* as mall_cache_ignore_args utm_* spm; mall_cache_default_args page=1 */
static int
classify(void *arg, const char *name, size_t nlen, const char *value,
    size_t vlen)
{
    (void) arg;

    if ((nlen >= 4 && memcmp(name, "utm_", 4) == 0)
        || (nlen == 3 && memcmp(name, "spm", 3) == 0))
    {
        return MALL_HTTP_CACHE_ARG_IGNORE;
    }

    return (nlen == 4 && memcmp(name, "page", 4) == 0 && vlen == 1
            && value[0] == '1')
           ? MALL_HTTP_CACHE_ARG_DEFAULT : MALL_HTTP_CACHE_ARG_KEEP;
}


static void
fuzz_query(const char *v, size_t len, size_t max)
{
    int      rc;
    char    *out, *scratch, *in2, *again, *sc2;
    size_t   room, n, m;

    room = MALL_HTTP_CACHE_QUERY_ROOM(len);
    room = (max < room) ? max : room;
    out = fz_alloc(room);
    scratch = fz_alloc(len);

    rc = mall_http_cache_query(v, len, classify, NULL, max, out, &n,
                               scratch);
    FZ_ASSERT(rc == MALL_HTTP_CACHE_KEY_OK || rc == MALL_HTTP_CACHE_KEY_LONG
              || rc == MALL_HTTP_CACHE_KEY_DUP);

    if (rc == MALL_HTTP_CACHE_KEY_OK) {
        FZ_ASSERT(n <= max && n <= room);
        FZ_ASSERT(n == 0 || out[0] == '?');

        /* the canonical query of the canonical query is itself */
        if (n) {
            in2 = fz_dup(out + 1, n - 1);
            again = fz_alloc(n);
            sc2 = fz_alloc(n - 1);
            FZ_ASSERT(mall_http_cache_query(in2, n - 1, classify, NULL, n,
                                            again, &m, sc2)
                      == MALL_HTTP_CACHE_KEY_OK);
            FZ_ASSERT(m == n && memcmp(again, out, n) == 0);
            free(sc2);
            free(again);
            free(in2);
        }
    }

    FZ_ASSERT(mall_http_cache_arg_decode(v, len, scratch) <= len);

    free(scratch);
    free(out);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char           *v, *a, *b;
    size_t          alen, blen;
    fz_in_t         in = { data, size };
    const uint8_t  *f;

    v = fz_dup(data, size);

    fuzz_cc(v, size);
    fuzz_delta(v, size);
    fuzz_vary_names(v, size);
    fuzz_vary_value(v, size, 0);
    fuzz_vary_value(v, size, 1);
    /* the module's room for a key's query, and a tight one */
    fuzz_query(v, size, 511);
    fuzz_query(v, size, size ? data[0] % 64 : 0);
    FZ_ASSERT(mall_http_cache_sf_key(v, size) == 0
              || mall_http_cache_sf_key(v, size) == 1);

    alen = fz_field(&in, '\n', &f);
    a = fz_dup(f, alen);
    blen = in.n;
    b = fz_dup(in.p, blen);
    fuzz_pair(a, alen, b, blen);

    free(b);
    free(a);
    free(v);
    return 0;
}
