
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
 * The query part is made by lib/mall_http_cache_key.c; this file says which
 * parameters are ignored or at their default (mall_cache_ignore_args,
 * mall_cache_default_args).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_mall_module.h"


static int ngx_http_mall_cache_arg_class(void *arg, const char *name,
    size_t nlen, const char *value, size_t vlen);
static ngx_uint_t ngx_http_mall_cache_arg_ignored(
    ngx_http_mall_cache_loc_conf_t *conf, ngx_str_t *name);
static ngx_uint_t ngx_http_mall_cache_arg_default(
    ngx_http_mall_cache_loc_conf_t *conf, ngx_str_t *name, ngx_str_t *value);


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
    int      rc;
    u_char  *p, *scratch;
    size_t   max, qlen;

    if (1 + path->len > NGX_HTTP_MALL_SHM_KEY_MAX) {
        return NGX_DECLINED;
    }

    /* the room the query may take in a shm key, and what it can need */
    max = NGX_HTTP_MALL_SHM_KEY_MAX - 1 - path->len;
    max = ngx_min(max, MALL_HTTP_CACHE_QUERY_ROOM(args->len));

    key->data = ngx_pnalloc(pool, 1 + path->len + max);
    scratch = ngx_pnalloc(pool, args->len + 1);

    if (key->data == NULL || scratch == NULL) {
        return NGX_ERROR;
    }

    p = key->data;
    *p++ = 'e';
    p = ngx_cpymem(p, path->data, path->len);

    rc = mall_http_cache_query((const char *) args->data, args->len,
                               ngx_http_mall_cache_arg_class, conf, max,
                               (char *) p, &qlen, (char *) scratch);

    if (rc == MALL_HTTP_CACHE_KEY_LONG) {
        return NGX_DECLINED;
    }

    if (rc == MALL_HTTP_CACHE_KEY_DUP) {
        return NGX_ABORT;
    }

    key->len = 1 + path->len + qlen;

    return NGX_OK;
}


/* The callback of mall_http_cache_query(): ignored, default, or kept. */

static int
ngx_http_mall_cache_arg_class(void *arg, const char *name, size_t nlen,
    const char *value, size_t vlen)
{
    ngx_str_t                        n, v;
    ngx_http_mall_cache_loc_conf_t  *conf;

    conf = arg;
    n.data = (u_char *) name;
    n.len = nlen;
    v.data = (u_char *) value;
    v.len = vlen;

    if (ngx_http_mall_cache_arg_ignored(conf, &n)) {
        return MALL_HTTP_CACHE_ARG_IGNORE;
    }

    return ngx_http_mall_cache_arg_default(conf, &n, &v)
           ? MALL_HTTP_CACHE_ARG_DEFAULT : MALL_HTTP_CACHE_ARG_KEEP;
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

