/*
 * Return codes and the error buffer shared by all worker code.
 *
 * Functions return MALL_OK / MALL_ERR (MALL_RETRY where the caller must back
 * off and may try again, e.g. Redis is unreachable) and put the details in a
 * caller-provided mall_err_t, the way anet fills its err buffer and hiredis
 * its errstr. Library code never calls exit().
 */
#ifndef MALL_COMMON_H
#define MALL_COMMON_H

#include <stddef.h>
#include <stdint.h>

#define MALL_OK      0
#define MALL_ERR    -1
#define MALL_RETRY  -2

#define MALL_ERR_MSG_LEN  128

typedef struct {
    int   code;                     /* HTTP-ish status or 0 */
    char  msg[MALL_ERR_MSG_LEN];    /* NUL-terminated, never secret */
} mall_err_t;

/* Fills err (which may be NULL) printf-style; always returns MALL_ERR. */
int mall_err_set(mall_err_t *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define MALL_ARRAY_LEN(a)  (sizeof(a) / sizeof((a)[0]))

/* Unix time in milliseconds (timestamps that are stored or compared with
 * other hosts' clocks). */
int64_t mall_wall_ms(void);

/* Monotonic milliseconds (durations, timeouts, backoff). */
int64_t mall_mono_ms(void);

/* Monotonic microseconds (latency measurements). */
int64_t mall_mono_us(void);

/* Sets FD_CLOEXEC on fd (best effort). */
void mall_set_cloexec(int fd);

#endif
