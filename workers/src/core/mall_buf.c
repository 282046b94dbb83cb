/*
 * Growable buffer (see mall_buf.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mall_buf.h"


void
mall_buf_init(mall_buf_t *b)
{
    memset(b, 0, sizeof(*b));
}


void
mall_buf_free(mall_buf_t *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}


/* Room for n more bytes and the NUL; 0 on failure. */
static int
buf_reserve(mall_buf_t *b, size_t n)
{
    size_t  cap;
    char   *p;

    if (b->oom) {
        return 0;
    }
    if (b->len + n + 1 <= b->cap) {
        return 1;
    }
    cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1) {
        cap *= 2;
    }
    p = realloc(b->p, cap);
    if (p == NULL) {
        b->oom = 1;
        return 0;
    }
    b->p = p;
    b->cap = cap;
    return 1;
}


void
mall_buf_add(mall_buf_t *b, const void *data, size_t n)
{
    if (!buf_reserve(b, n)) {
        return;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
}


void
mall_buf_str(mall_buf_t *b, const char *s)
{
    mall_buf_add(b, s, strlen(s));
}


void
mall_buf_printf(mall_buf_t *b, const char *fmt, ...)
{
    va_list  ap;
    int      n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !buf_reserve(b, (size_t) n)) {
        b->oom = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t) n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t) n;
}


void
mall_buf_json_str(mall_buf_t *b, const char *s)
{
    static const char  hex[] = "0123456789abcdef";
    const unsigned char *p;
    char                 esc[6];

    mall_buf_add(b, "\"", 1);
    for (p = (const unsigned char *) s; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char) *p;
            mall_buf_add(b, esc, 2);
        } else if (*p < 0x20) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[*p >> 4];
            esc[5] = hex[*p & 15];
            mall_buf_add(b, esc, 6);
        } else {
            mall_buf_add(b, p, 1);
        }
    }
    mall_buf_add(b, "\"", 1);
}
