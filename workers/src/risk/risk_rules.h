/*
 * The abnormal-order rules as one pure function over counters (no Redis,
 * no clock): order creation calls it before writing (with what its read
 * found) and again with the counters its MULTI/EXEC returned; the payment
 * path calls it with the failed-payment count. Unit-tested in
 * tests/unit/test_risk_rules.c.
 */
#ifndef RISK_RULES_H
#define RISK_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "risk_conf.h"

#define RISK_UNKNOWN     (-1)        /* a counter not known (yet): skipped */
#define RISK_FP_HEX      33          /* address fingerprint + NUL */
#define RISK_REASONS_MAX 128

typedef struct {
    int64_t  now;                    /* unix s */
    int64_t  created_at;             /* the account's; 0: unknown */
    int64_t  total_fen;              /* RISK_UNKNOWN: no order */
    int      edge_score;             /* X-Mall-Risk score, 0 when absent */
    int64_t  user_orders;            /* this hour, this order included */
    int64_t  device_orders;
    int64_t  address_orders;
    int64_t  user_addresses;         /* distinct */
    int64_t  device_sku_accounts;    /* the largest over the lines */
    int64_t  pay_failures;
} risk_counters_t;

typedef struct {
    const char  *rule;               /* "orders_per_user", ...; NULL: none */
    int64_t      value;              /* what was seen */
    int64_t      limit;              /* what the config allows */
} risk_hit_t;

/* Every field RISK_UNKNOWN (edge_score 0, created_at 0), now set. */
void risk_counters_init(risk_counters_t *k, int64_t now);

/*
 * The first rule the counters break, in a fixed order (edge score, new
 * account, then the counts). 1 with *hit filled, 0 when none does.
 */
int risk_evaluate(const risk_conf_t *conf, const risk_counters_t *k,
    risk_hit_t *hit);

/*
 * Parses "X-Mall-Risk: <score>;<reasons>" (score 0..100). MALL_OK with
 * *score and reasons (truncated to fit); MALL_ERR for a malformed value
 * (*score = 0). NULL or "" is a score of 0.
 */
int risk_parse_edge(const char *v, int *score, char *reasons, size_t size);

/*
 * The fingerprint of a shipping address: SHA-256 over its province, city,
 * district and detail, each with ASCII letters lowered and every space,
 * tab and punctuation mark of ASCII dropped, joined by '|'; the first 16
 * bytes in hex. Two users typing one address alike share it.
 */
void risk_address_fp(const char *province, const char *city,
    const char *district, const char *detail, char out[RISK_FP_HEX]);

/* A device id usable in a key: 1..64 of [A-Za-z0-9._:-]. */
int risk_device_valid(const char *d);

#endif
