/*
 * Value readers shared by the directive parsers (mall_conf.c for the
 * worker's own directives, auth_conf.c for the identity ones): bounded
 * strings and small secret files. Integers use mall_parse_int
 * (mall_query.h). Errors carry no line number; the caller adds it.
 */
#ifndef CONF_VALUE_H
#define CONF_VALUE_H

#include <stddef.h>

#include "mall_common.h"

/*
 * Copies src into dst (dstsz bytes), refusing an empty value or one that
 * would be truncated ("<name> must be 1..N chars"). MALL_OK or MALL_ERR.
 */
int conf_value_str(char *dst, size_t dstsz, const char *src,
    const char *name, mall_err_t *err);

/*
 * Reads a whole small file (a key or secret) into buf (bufsz bytes),
 * strips one trailing "\n" or "\r\n", and NUL-terminates when there is
 * room. A file that fills buf is refused as too large. what prefixes the
 * quoted path in messages ("key file " or ""). On MALL_ERR buf is wiped.
 */
int conf_value_file(const char *path, const char *what, char *buf,
    size_t bufsz, size_t *len, mall_err_t *err);

/*
 * A one-line text file (an appid, a secret, a serial) into dst (dstsz
 * bytes, NUL-terminated): 1..dstsz-1 characters without spaces or control
 * characters. name prefixes messages. MALL_OK or MALL_ERR.
 */
int conf_value_text_file(const char *path, char *dst, size_t dstsz,
    const char *name, mall_err_t *err);

/*
 * An http(s) URL without a query string or fragment into dst (dstsz
 * bytes); with strip_slash, trailing '/' are cut (a base URL). name
 * prefixes messages. MALL_OK or MALL_ERR.
 */
int conf_value_url(char *dst, size_t dstsz, const char *v, const char *name,
    int strip_slash, mall_err_t *err);

#endif
