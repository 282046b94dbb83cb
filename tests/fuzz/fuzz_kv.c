/* lib/mall_kv.c: query strings and Cookie headers (the WAF's inputs). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mall_kv.h"

struct seen { size_t n; const uint8_t *lo, *hi; };

static int
check(void *arg, const uint8_t *name, size_t nlen, const uint8_t *val,
    size_t vlen)
{
    struct seen *s = arg;
    uint8_t buf[256];

    /* every piece lies inside the input */
    if (name < s->lo || name + nlen > s->hi
        || (val && (val < s->lo || val + vlen > s->hi)))
    {
        abort();
    }
    if (vlen <= sizeof(buf) && val && mall_kv_decode(buf, val, vlen) > vlen) {
        abort();
    }
    s->n++;
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct seen s = { 0, data, data + size };
    int more;
    uint8_t *copy;
    size_t n;

    n = mall_kv_walk(data, size, MALL_KV_QUERY, 64, check, &s, &more);
    if (n != s.n || n > 64) {
        abort();
    }
    s.n = 0;
    (void) mall_kv_walk(data, size, MALL_KV_COOKIE, 1000, check, &s, &more);

    copy = malloc(size ? size : 1);
    if (copy == NULL) {
        return 0;
    }
    memcpy(copy, data, size);
    if (mall_kv_decode(copy, copy, size) > size) {    /* in place */
        abort();
    }
    free(copy);
    return 0;
}
