/*
 * Shared by the libFuzzer targets of tests/fuzz/: a cursor that cuts the
 * input into fields, and exact-size heap copies, so that AddressSanitizer
 * sees the first byte read or written past any buffer a caller sized.
 *
 * A target calls a function with the buffer sizes its real callers use
 * (nginx module, workers) and with the size its header documents; where
 * the two differ, the smaller one is what a crash points at.
 */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const uint8_t  *p;
    size_t          n;
} fz_in_t;


/* abort() with a message: libFuzzer keeps the input as a crash. */
#define FZ_ASSERT(cond)                                                       \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "%s:%d: oracle failed: %s\n", __FILE__,           \
                    __LINE__, #cond);                                         \
            abort();                                                          \
        }                                                                     \
    } while (0)


/* One byte of the input (0 once it is used up). */
static inline uint8_t
fz_byte(fz_in_t *in)
{
    uint8_t  b;

    if (in->n == 0) {
        return 0;
    }
    b = in->p[0];
    in->p++;
    in->n--;
    return b;
}


/*
 * The bytes up to the next sep (not included; sep is consumed), or the
 * rest of the input when there is none.
 */
static inline size_t
fz_field(fz_in_t *in, uint8_t sep, const uint8_t **field)
{
    const uint8_t  *end;
    size_t          len;

    *field = in->p;
    end = in->n ? memchr(in->p, sep, in->n) : NULL;
    len = end != NULL ? (size_t) (end - in->p) : in->n;
    in->p += len;
    in->n -= len;
    if (end != NULL) {
        in->p++;
        in->n--;
    }
    return len;
}


/* Exact-size heap copy (never NULL; a 0-byte copy is a 1-byte block). */
static inline void *
fz_dup(const void *p, size_t n)
{
    void  *q;

    q = malloc(n ? n : 1);
    if (q == NULL) {
        abort();
    }
    if (n) {
        memcpy(q, p, n);
    }
    return q;
}


/* NUL-terminated heap copy of n bytes (for callers that get C strings). */
static inline char *
fz_str(const void *p, size_t n)
{
    char  *s;

    s = malloc(n + 1);
    if (s == NULL) {
        abort();
    }
    if (n) {
        memcpy(s, p, n);
    }
    s[n] = '\0';
    return s;
}


/* The next field as a C string: stops at sep and at any NUL. */
static inline char *
fz_str_field(fz_in_t *in, uint8_t sep)
{
    const uint8_t  *f;
    size_t          len;
    const uint8_t  *z;

    len = fz_field(in, sep, &f);
    z = len ? memchr(f, '\0', len) : NULL;
    return fz_str(f, z != NULL ? (size_t) (z - f) : len);
}


/* An uninitialised heap block of n bytes (ASan-poisoned beyond). */
static inline void *
fz_alloc(size_t n)
{
    void  *q;

    q = malloc(n ? n : 1);
    if (q == NULL) {
        abort();
    }
    return q;
}

#endif
