/*
 * Query strings: decoding into name/value pairs and typed, bounded reads
 * that name the offending parameter in their error. Pure code, no I/O.
 */
#ifndef MALL_QUERY_H
#define MALL_QUERY_H

#include <stddef.h>

#include "mall_common.h"

#define MALL_QUERY_MAX_PARAMS  64
#define MALL_QUERY_MAX_LEN     4096

typedef struct {
    const char  *name;     /* NUL-terminated, inside buf */
    const char  *value;    /* "" for a parameter without '=' */
} mall_query_param_t;

typedef struct {
    mall_query_param_t  params[MALL_QUERY_MAX_PARAMS];
    size_t              n;
    char                buf[MALL_QUERY_MAX_LEN + MALL_QUERY_MAX_PARAMS * 2];
} mall_query_t;

/*
 * Percent-decodes s[0..len) into out (at least len bytes), reading '+' as
 * a space when plus_space is set. Refuses bad escapes and NUL bytes.
 * Returns MALL_OK and sets *outlen, or MALL_ERR.
 */
int mall_percent_decode(const char *s, size_t len, int plus_space, char *out,
    size_t *outlen);

/*
 * Splits and decodes a raw query string (without '?'; may be NULL). Empty
 * pieces ("a=1&&b=2") are skipped. MALL_ERR with err->code 400 when it is
 * too long, has too many parameters, a bad escape or a (decoded) name given
 * twice: the edge cache keys refuse the same, so both read one meaning.
 */
int mall_query_parse(const char *q, size_t len, mall_query_t *out,
    mall_err_t *err);

/* First value of name, or NULL when absent. */
const char *mall_query_get(const mall_query_t *q, const char *name);

/*
 * Reads name as a decimal integer in [min, max]. Absent or empty: *out =
 * def and MALL_OK. Anything else invalid: MALL_ERR, code 400, and a message
 * that starts with the parameter name.
 */
int mall_query_int(const mall_query_t *q, const char *name, long long min,
    long long max, long long def, long long *out, mall_err_t *err);

/* Strict decimal parse of a whole string into [min, max]; MALL_OK/ERR. */
int mall_parse_int(const char *s, long long min, long long max,
    long long *out);

#endif
