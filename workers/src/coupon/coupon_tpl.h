/*
 * Coupon templates and the buyer's coupons as JSON, pure code (fuzzed in
 * tests/fuzz/fuzz_coupon.c): the merchant's create body checked into a
 * template, a template as stored and shown, a buyer's coupon cut from a
 * template when it is claimed (its rule and its validity fixed then), and
 * that coupon read back into the rule the order pricing uses.
 *
 * Create body: {"name", "kind": "threshold"|"percent"|"no_threshold",
 * "threshold_fen", "off_fen", "percent" (1..99 % off), "max_off_fen",
 * "scope": {"all": true} | {"category_ids": [...]} | {"product_ids": [...]},
 * "valid_days" or "starts_at"/"ends_at" (unix s), "total", "per_user",
 * "stack_group", "stackable" (no_threshold only), "enabled"}.
 */
#ifndef COUPON_TPL_H
#define COUPON_TPL_H

#include <stdint.h>
#include <cjson/cJSON.h>

#include "coupon_rules.h"
#include "mall_common.h"

#define COUPON_NAME_CHARS    60
#define COUPON_NAME_BYTES    (COUPON_NAME_CHARS * 4 + 1)
#define COUPON_TOTAL_MAX     100000000
#define COUPON_PER_USER_MAX  100
#define COUPON_DAYS_MAX      3650

typedef struct {
    int64_t   id;
    char      name[COUPON_NAME_BYTES];
    coupon_t  rule;                 /* id = the template's */
    int64_t   valid_days;           /* 0: the fixed window below */
    int64_t   starts_at;
    int64_t   ends_at;
    int64_t   total;
    int64_t   per_user;
    int       enabled;
} coupon_tpl_t;

/*
 * Checks a create body into t (t->id is not set). MALL_OK, or MALL_ERR
 * with err->msg for the client and *field naming the member.
 */
int coupon_tpl_parse(const cJSON *body, coupon_tpl_t *t, const char **field,
    mall_err_t *err);

/* The template as stored and answered (caller deletes); NULL: no memory. */
cJSON *coupon_tpl_json(const coupon_tpl_t *t);

/* A stored template back; MALL_OK or MALL_ERR. */
int coupon_tpl_from_json(const char *text, size_t len, coupon_tpl_t *t);

/*
 * The coupon a buyer gets from t at time now: its id, the rule and the
 * window (valid_days from now, else the template's). NULL: no memory.
 */
cJSON *coupon_issue_json(const coupon_tpl_t *t, int64_t coupon_id,
    int64_t now);

/* A buyer's stored coupon into its rule (and name). MALL_OK/MALL_ERR. */
int coupon_from_json(const char *text, size_t len, coupon_t *c,
    char name[COUPON_NAME_BYTES]);

#endif
