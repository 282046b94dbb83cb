/*
 * cJSON helpers: exact integers and parsing an object. cJSON keeps numbers
 * as doubles and
 * prints values beyond INT_MAX in exponent form, so integers (money in fen,
 * ids, counters) are emitted as raw decimal text instead.
 */
#ifndef MALL_JSON_H
#define MALL_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "mall_common.h"

/*
 * Parses text[0..len) as a JSON object (caller deletes); NULL when it is
 * empty, not JSON, or JSON of another type.
 */
cJSON *mall_json_object(const void *text, size_t len);

/* A raw-number item printing v exactly; NULL on allocation failure. */
cJSON *mall_json_int(int64_t v);

/*
 * Adds name: v to obj. MALL_OK, or MALL_ERR when allocation fails (the
 * item is freed then).
 */
int mall_json_add_int(cJSON *obj, const char *name, int64_t v);

/* Adds name: "s" (copied); MALL_OK or MALL_ERR. */
int mall_json_add_str(cJSON *obj, const char *name, const char *s);

/*
 * Reads an integral JSON number within [min, max] (|v| <= 2^53, so the
 * double held by cJSON is exact). Raw items are parsed as decimal text.
 * MALL_OK or MALL_ERR.
 */
int mall_json_get_int(const cJSON *item, int64_t min, int64_t max,
    int64_t *out);

#endif
