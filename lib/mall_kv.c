/* Query strings and Cookie headers as key/value pairs (mall_kv.h). */
#include "mall_kv.h"

#include <string.h>

static int
is_blank(uint8_t c)
{
    return c == ' ' || c == '\t';
}

size_t
mall_kv_walk(const uint8_t *s, size_t len, int sep, size_t max,
    mall_kv_cb cb, void *arg, int *more)
{
    const uint8_t *p = s, *last = s + len, *end, *item_end, *eq;
    size_t n = 0;

    *more = 0;

    while (p < last) {
        end = memchr(p, sep, (size_t) (last - p));
        if (end == NULL) {
            end = last;
        }
        item_end = end;

        if (sep == MALL_KV_COOKIE) {
            while (p < item_end && is_blank(*p)) {
                p++;
            }
            while (item_end > p && is_blank(item_end[-1])) {
                item_end--;
            }
        }

        if (item_end > p) {
            if (n == max) {
                *more = 1;
                return n;
            }
            eq = memchr(p, '=', (size_t) (item_end - p));
            n++;
            if (cb(arg, p, (size_t) ((eq ? eq : item_end) - p),
                   eq ? eq + 1 : NULL,
                   eq ? (size_t) (item_end - eq - 1) : 0) != 0)
            {
                *more = 1;
                return n;
            }
        }

        p = end + 1;
    }

    return n;
}

static int
hex_value(uint8_t c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c |= 0x20;
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

size_t
mall_kv_decode(uint8_t *dst, const uint8_t *src, size_t len)
{
    size_t i = 0, o = 0;
    int hi, lo;

    while (i < len) {
        uint8_t c = src[i++];

        if (c == '+') {
            c = ' ';

        } else if (c == '%' && len - i >= 2
                   && (hi = hex_value(src[i])) >= 0
                   && (lo = hex_value(src[i + 1])) >= 0)
        {
            c = (uint8_t) (hi << 4 | lo);
            i += 2;
        }

        dst[o++] = c;
    }

    return o;
}
