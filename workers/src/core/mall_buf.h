/*
 * A growable byte buffer for answers assembled from pieces (a product
 * page is a concatenation of ready-made cards). Always NUL-terminated;
 * an allocation failure sticks (oom) so callers check once at the end.
 */
#ifndef MALL_BUF_H
#define MALL_BUF_H

#include <stddef.h>

typedef struct {
    char    *p;
    size_t   len;
    size_t   cap;
    int      oom;
} mall_buf_t;

void mall_buf_init(mall_buf_t *b);
void mall_buf_free(mall_buf_t *b);

void mall_buf_add(mall_buf_t *b, const void *data, size_t n);
void mall_buf_str(mall_buf_t *b, const char *s);
void mall_buf_printf(mall_buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Appends s as a JSON string literal (quotes and escapes). */
void mall_buf_json_str(mall_buf_t *b, const char *s);

#endif
