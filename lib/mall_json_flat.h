/*
 * A non-allocating scanner for one flat JSON object, as in a JWT header or
 * claims set: {"k": "string" | number | true | false | null | [..] | {..}}.
 * Nested values are skipped (validated, not decoded). Used on the nginx
 * request path, so it never calls malloc and its work is linear in the input.
 */
#ifndef MALL_JSON_FLAT_H
#define MALL_JSON_FLAT_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    MALL_JSON_STRING = 1,
    MALL_JSON_NUMBER,
    MALL_JSON_BOOL,
    MALL_JSON_NULL,
    MALL_JSON_ARRAY,
    MALL_JSON_OBJECT
} mall_json_type_e;

typedef struct {
    const char        *key;      /* raw key bytes inside the quotes */
    size_t             key_len;
    mall_json_type_e   type;
    const char        *val;      /* raw value bytes (strings: inside quotes) */
    size_t             val_len;
    int                escaped;  /* string value contains backslash escapes */
} mall_json_member_t;

/*
 * Parses the object in json[0..len) into members[0..max). Returns the number
 * of members, or -1 when the input is not one well-formed object, has more
 * than max members, nests deeper than 8, or repeats a key (duplicate keys
 * are an attack on JWT claims and are refused).
 */
int mall_json_flat_parse(const char *json, size_t len,
    mall_json_member_t *members, int max);

/* Member lookup by key; NULL when absent. */
const mall_json_member_t *mall_json_flat_get(const mall_json_member_t *m,
    int n, const char *key);

/*
 * Copies a string member into out (NUL-terminated), decoding escapes
 * (\uXXXX to UTF-8). Returns the length, or -1 if not a string or too long.
 */
int mall_json_flat_string(const mall_json_member_t *m, char *out,
    size_t outsz);

/* Reads an integer member (no fraction, no exponent); 0 or -1. */
int mall_json_flat_int(const mall_json_member_t *m, int64_t *out);

#endif
