
/*
 * Catalog cache keys: 'e' + path + '?' + the query parameters sorted by
 * name then value, without the ignored (tracking) parameters and without
 * parameters equal to their declared default, so "?size=20&page=1&utm_x=1"
 * and "" name the same entry. The method is not part of the key: GET and
 * HEAD share entries.
 *
 * A name given twice (after percent-decoding, as the workers read it) is
 * refused: the workers refuse it too, so one key never holds the answer to
 * another query ("?page=1&page=7" would otherwise fill page 7's entry).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_mall_module.h"


typedef struct {
    ngx_str_t                      name;
    ngx_str_t                      value;
    ngx_str_t                      decoded;    /* the name the workers read */
    ngx_uint_t                     dropped;    /* equal to its default */
} ngx_http_mall_cache_arg_t;


/* the workers refuse more (MALL_QUERY_MAX_PARAMS); beyond it, no caching */
#define NGX_HTTP_MALL_CACHE_ARGS_MAX  64


static ngx_uint_t ngx_http_mall_cache_arg_ignored(
    ngx_http_mall_cache_loc_conf_t *conf, ngx_str_t *name);
static ngx_uint_t ngx_http_mall_cache_arg_default(
    ngx_http_mall_cache_loc_conf_t *conf, ngx_str_t *name, ngx_str_t *value);
static ngx_int_t ngx_http_mall_cache_arg_cmp(ngx_http_mall_cache_arg_t *a,
    ngx_http_mall_cache_arg_t *b);
static ngx_int_t ngx_http_mall_cache_arg_decode(ngx_pool_t *pool,
    ngx_http_mall_cache_arg_t *a);
static ngx_uint_t ngx_http_mall_cache_args_unique(ngx_http_mall_cache_arg_t *a,
    ngx_uint_t n);


/*
 * Builds the key of path + args into pool memory. Returns NGX_OK,
 * NGX_DECLINED when the key would be longer than a shm key or the query has
 * too many parameters (the request is then not cached), NGX_ABORT when a
 * parameter name is repeated, or NGX_ERROR.
 */

ngx_int_t
ngx_http_mall_cache_key(ngx_pool_t *pool, ngx_http_mall_cache_loc_conf_t *conf,
    ngx_str_t *path, ngx_str_t *args, ngx_str_t *key)
{
    u_char                     *p, *last, *amp, *eq;
    size_t                      len;
    ngx_uint_t                  i, j, n, max;
    ngx_http_mall_cache_arg_t  *a, t;

    max = 1;

    for (p = args->data, last = p + args->len; p < last; p++) {
        if (*p == '&') {
            max++;
        }
    }

    a = ngx_palloc(pool, max * sizeof(ngx_http_mall_cache_arg_t));
    if (a == NULL) {
        return NGX_ERROR;
    }

    n = 0;
    len = 1 + path->len;

    for (p = args->data, last = p + args->len; p < last; p = amp + 1) {

        amp = ngx_strlchr(p, last, '&');
        if (amp == NULL) {
            amp = last;
        }

        if (amp == p) {
            continue;
        }

        eq = ngx_strlchr(p, amp, '=');

        a[n].name.data = p;
        a[n].name.len = (eq ? eq : amp) - p;
        a[n].value.data = eq ? eq + 1 : amp;
        a[n].value.len = eq ? (size_t) (amp - eq - 1) : 0;

        if (a[n].name.len == 0
            || ngx_http_mall_cache_arg_ignored(conf, &a[n].name))
        {
            continue;
        }

        if (n == NGX_HTTP_MALL_CACHE_ARGS_MAX) {
            return NGX_DECLINED;
        }

        a[n].dropped = ngx_http_mall_cache_arg_default(conf, &a[n].name,
                                                       &a[n].value);
        if (!a[n].dropped) {
            len += 1 + a[n].name.len + 1 + a[n].value.len;  /* "?" or "&" */
        }

        if (ngx_http_mall_cache_arg_decode(pool, &a[n]) != NGX_OK) {
            return NGX_ERROR;
        }

        n++;
    }

    if (len > NGX_HTTP_MALL_SHM_KEY_MAX) {
        return NGX_DECLINED;
    }

    if (!ngx_http_mall_cache_args_unique(a, n)) {
        return NGX_ABORT;
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

        for (j = i; j > 0 && ngx_http_mall_cache_arg_cmp(&a[j - 1], &t) > 0;
             j--)
        {
            a[j] = a[j - 1];
        }

        a[j] = t;
    }

    key->data = ngx_pnalloc(pool, len);
    if (key->data == NULL) {
        return NGX_ERROR;
    }

    p = key->data;
    *p++ = 'e';
    p = ngx_cpymem(p, path->data, path->len);

    for (i = 0; i < n; i++) {
        *p++ = i ? '&' : '?';
        p = ngx_cpymem(p, a[i].name.data, a[i].name.len);
        *p++ = '=';
        p = ngx_cpymem(p, a[i].value.data, a[i].value.len);
    }

    key->len = p - key->data;

    return NGX_OK;
}


/* An ignored name: "utm_*" (a prefix) or an exact name. */

static ngx_uint_t
ngx_http_mall_cache_arg_ignored(ngx_http_mall_cache_loc_conf_t *conf,
    ngx_str_t *name)
{
    size_t       plen;
    ngx_str_t   *ign;
    ngx_uint_t   i;

    if (conf->ignore_args == NULL) {
        return 0;
    }

    ign = conf->ignore_args->elts;

    for (i = 0; i < conf->ignore_args->nelts; i++) {
        plen = ign[i].len;

        if (plen && ign[i].data[plen - 1] == '*') {
            plen--;

            if (name->len >= plen
                && ngx_strncmp(name->data, ign[i].data, plen) == 0)
            {
                return 1;
            }

            continue;
        }

        if (name->len == plen
            && ngx_strncmp(name->data, ign[i].data, plen) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/* A value equal to its declared default. */

static ngx_uint_t
ngx_http_mall_cache_arg_default(ngx_http_mall_cache_loc_conf_t *conf,
    ngx_str_t *name, ngx_str_t *value)
{
    ngx_uint_t     i;
    ngx_keyval_t  *kv;

    if (conf->default_args == NULL) {
        return 0;
    }

    kv = conf->default_args->elts;

    for (i = 0; i < conf->default_args->nelts; i++) {
        if (name->len == kv[i].key.len
            && value->len == kv[i].value.len
            && ngx_strncmp(name->data, kv[i].key.data, name->len) == 0
            && ngx_strncmp(value->data, kv[i].value.data, value->len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/*
 * The name as the workers decode it (mall_query.c: %XX, '+' a space). A
 * bad escape is kept as it is: the workers refuse the query anyway.
 */

static ngx_int_t
ngx_http_mall_cache_arg_decode(ngx_pool_t *pool, ngx_http_mall_cache_arg_t *a)
{
    u_char      *s, *d, *end;
    ngx_int_t    hi, lo;

    if (ngx_strlchr(a->name.data, a->name.data + a->name.len, '%') == NULL
        && ngx_strlchr(a->name.data, a->name.data + a->name.len, '+') == NULL)
    {
        a->decoded = a->name;
        return NGX_OK;
    }

    d = ngx_pnalloc(pool, a->name.len);
    if (d == NULL) {
        return NGX_ERROR;
    }

    a->decoded.data = d;

    for (s = a->name.data, end = s + a->name.len; s < end; s++) {
        if (*s == '+') {
            *d++ = ' ';
            continue;
        }

        if (*s == '%' && end - s > 2) {
            hi = ngx_hextoi(s + 1, 1);
            lo = ngx_hextoi(s + 2, 1);

            if (hi != NGX_ERROR && lo != NGX_ERROR) {
                *d++ = (u_char) (hi * 16 + lo);
                s += 2;
                continue;
            }
        }

        *d++ = *s;
    }

    a->decoded.len = d - a->decoded.data;

    return NGX_OK;
}


/* No decoded name twice; n is at most NGX_HTTP_MALL_CACHE_ARGS_MAX. */

static ngx_uint_t
ngx_http_mall_cache_args_unique(ngx_http_mall_cache_arg_t *a, ngx_uint_t n)
{
    ngx_uint_t  i, j;

    for (i = 1; i < n; i++) {
        for (j = 0; j < i; j++) {
            if (a[i].decoded.len == a[j].decoded.len
                && ngx_memcmp(a[i].decoded.data, a[j].decoded.data,
                              a[i].decoded.len) == 0)
            {
                return 0;
            }
        }
    }

    return 1;
}


static ngx_int_t
ngx_http_mall_cache_arg_cmp(ngx_http_mall_cache_arg_t *a,
    ngx_http_mall_cache_arg_t *b)
{
    ngx_int_t  rc;

    rc = ngx_memn2cmp(a->name.data, b->name.data, a->name.len, b->name.len);

    if (rc) {
        return rc;
    }

    return ngx_memn2cmp(a->value.data, b->value.data, a->value.len,
                        b->value.len);
}
