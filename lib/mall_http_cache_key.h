/*
 * The query part of an HTTP cache key: the parameters of a query string
 * sorted by name then value, without those the caller ignores (tracking
 * parameters) or drops (equal to their declared default), so
 * "size=20&page=1&utm_x=1" and "" name the same entry. A name given twice
 * (after percent-decoding, as the workers read it) is refused: one key
 * never holds the answer to another query. Pure C, no allocation.
 */
#ifndef MALL_HTTP_CACHE_KEY_H
#define MALL_HTTP_CACHE_KEY_H

#include <stddef.h>

/* the workers refuse more (MALL_QUERY_MAX_PARAMS); beyond it, no key */
#define MALL_HTTP_CACHE_ARGS_MAX   64

/* room for the canonical query of len bytes: "?" or "&" and "=" added */
#define MALL_HTTP_CACHE_QUERY_ROOM(len)  ((len) + 2 * MALL_HTTP_CACHE_ARGS_MAX)

/* what the caller's callback says of one parameter (raw name and value) */
#define MALL_HTTP_CACHE_ARG_KEEP     0
#define MALL_HTTP_CACHE_ARG_IGNORE   1      /* not part of the key at all */
#define MALL_HTTP_CACHE_ARG_DEFAULT  2      /* counted, checked, not kept */

typedef int (*mall_http_cache_arg_cb)(void *arg, const char *name,
    size_t nlen, const char *value, size_t vlen);

#define MALL_HTTP_CACHE_KEY_OK      0
#define MALL_HTTP_CACHE_KEY_LONG   -1       /* too many params or > max */
#define MALL_HTTP_CACHE_KEY_DUP    -2       /* a decoded name twice */

/*
 * Writes the canonical query of args ("?a=1&b=2", or nothing) to out and
 * its length to *olen: MALL_HTTP_CACHE_KEY_OK, _LONG when the query has
 * more than MALL_HTTP_CACHE_ARGS_MAX parameters the callback keeps or
 * drops, or its canonical form more than max bytes, else _DUP for a
 * repeated name. out needs MALL_HTTP_CACHE_QUERY_ROOM(len) bytes (or max
 * when smaller), scratch len bytes (the decoded names). Empty parameters
 * and those with an empty name are skipped; cb may be NULL.
 */
int mall_http_cache_query(const char *args, size_t len,
    mall_http_cache_arg_cb cb, void *cbarg, size_t max, char *out,
    size_t *olen, char *scratch);

/* The name as the workers decode it: %XX, '+' a space; a bad escape stays
 * as it is. dst has room for len bytes; returns the decoded length. */
size_t mall_http_cache_arg_decode(const char *src, size_t len, char *dst);

#endif
