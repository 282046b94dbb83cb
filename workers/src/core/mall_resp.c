/*
 * RESP2 request encoding (see mall_resp.h).
 */
#include <string.h>

#include "mall_resp.h"


static size_t
resp_digits(size_t v)
{
    size_t  n = 1;

    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}


/* "{mark}{v}\r\n" at p; returns the bytes written. */
static size_t
resp_count(char *p, char mark, size_t v)
{
    size_t  n = resp_digits(v), i;

    p[0] = mark;
    for (i = n; i > 0; i--) {
        p[i] = (char) ('0' + v % 10);
        v /= 10;
    }
    p[n + 1] = '\r';
    p[n + 2] = '\n';
    return n + 3;
}


static size_t
resp_arg_len(const char **argv, const size_t *argvlen, int i)
{
    return argvlen != NULL ? argvlen[i] : strlen(argv[i]);
}


size_t
mall_resp_size(int argc, const char **argv, const size_t *argvlen)
{
    size_t  total, len;
    int     i;

    total = 3 + resp_digits((size_t) argc);
    for (i = 0; i < argc; i++) {
        len = resp_arg_len(argv, argvlen, i);
        total += 3 + resp_digits(len) + len + 2;
    }
    return total;
}


size_t
mall_resp_write(char *p, int argc, const char **argv, const size_t *argvlen)
{
    size_t  n, len;
    int     i;

    n = resp_count(p, '*', (size_t) argc);
    for (i = 0; i < argc; i++) {
        len = resp_arg_len(argv, argvlen, i);
        n += resp_count(p + n, '$', len);
        memcpy(p + n, argv[i], len);
        n += len;
        p[n++] = '\r';
        p[n++] = '\n';
    }
    return n;
}
