/*
 * Key/value lists of untrusted bytes, as the edge's WAF reads them: a query
 * string ("a=1&b=2") or a Cookie header ("a=1; b=2"), and percent-decoding
 * with '+' as a space (the signing canonical's reading). Pure C, no
 * allocation: names and values point into the input.
 */
#ifndef MALL_KV_H
#define MALL_KV_H

#include <stddef.h>
#include <stdint.h>

/* one pair; val NULL when the item has no '='. Nonzero stops the walk. */
typedef int (*mall_kv_cb)(void *arg, const uint8_t *name, size_t nlen,
    const uint8_t *val, size_t vlen);

#define MALL_KV_QUERY   '&'     /* empty items skipped, nothing trimmed */
#define MALL_KV_COOKIE  ';'     /* spaces and tabs around items trimmed */

/*
 * Calls cb for each of at most max items of s. Returns the number of items
 * handed to cb; *more is set to 1 when items were left past max (or when cb
 * stopped the walk early), else 0.
 */
size_t mall_kv_walk(const uint8_t *s, size_t len, int sep, size_t max,
    mall_kv_cb cb, void *arg, int *more);

/* Percent-decodes src into dst (dst may be src; never longer); a bad
 * escape stays as it is. Returns the decoded length. */
size_t mall_kv_decode(uint8_t *dst, const uint8_t *src, size_t len);

#endif
