/*
 * The abnormal-order rules (see risk_rules.h). Pure: no Redis, no clock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "risk_rules.h"


void
risk_counters_init(risk_counters_t *k, int64_t now)
{
    k->now = now;
    k->created_at = 0;
    k->total_fen = RISK_UNKNOWN;
    k->edge_score = 0;
    k->user_orders = RISK_UNKNOWN;
    k->device_orders = RISK_UNKNOWN;
    k->address_orders = RISK_UNKNOWN;
    k->user_addresses = RISK_UNKNOWN;
    k->device_sku_accounts = RISK_UNKNOWN;
    k->pay_failures = RISK_UNKNOWN;
}


/* A count over its limit (limit 0: the rule is off). */
static int
risk_over(const char *rule, int64_t seen, int64_t limit, risk_hit_t *hit)
{
    if (limit <= 0 || seen == RISK_UNKNOWN || seen <= limit) {
        return 0;
    }
    hit->rule = rule;
    hit->value = seen;
    hit->limit = limit;
    return 1;
}


int
risk_evaluate(const risk_conf_t *conf, const risk_counters_t *k,
    risk_hit_t *hit)
{
    hit->rule = NULL;
    hit->value = hit->limit = 0;

    if (conf->edge_score > 0 && k->edge_score >= conf->edge_score) {
        hit->rule = "edge_score";
        hit->value = k->edge_score;
        hit->limit = conf->edge_score;
        return 1;
    }
    if (conf->new_account_age > 0 && k->created_at > 0
        && k->total_fen != RISK_UNKNOWN
        && k->now - k->created_at < conf->new_account_age
        && k->total_fen > conf->new_account_max_fen)
    {
        hit->rule = "new_account_value";
        hit->value = k->total_fen;
        hit->limit = conf->new_account_max_fen;
        return 1;
    }
    return risk_over("orders_per_user", k->user_orders,
                     conf->orders_per_user, hit)
           || risk_over("orders_per_device", k->device_orders,
                        conf->orders_per_device, hit)
           || risk_over("orders_per_address", k->address_orders,
                        conf->orders_per_address, hit)
           || risk_over("addresses_per_user", k->user_addresses,
                        conf->addresses_per_user, hit)
           || risk_over("device_accounts_per_sku", k->device_sku_accounts,
                        conf->device_accounts_per_sku, hit)
           || risk_over("pay_failures", k->pay_failures,
                        conf->pay_failures, hit);
}


int
risk_parse_edge(const char *v, int *score, char *reasons, size_t size)
{
    const char  *semi;
    char        *end;
    long         s;
    size_t       n;

    *score = 0;
    if (size > 0) {
        reasons[0] = '\0';
    }
    if (v == NULL || *v == '\0') {
        return MALL_OK;
    }
    if (*v < '0' || *v > '9') {
        return MALL_ERR;
    }
    s = strtol(v, &end, 10);
    if (s < 0 || s > 100 || (*end != ';' && *end != '\0')) {
        return MALL_ERR;
    }
    *score = (int) s;
    semi = *end == ';' ? end + 1 : end;
    n = strlen(semi);
    if (size > 0) {
        if (n >= size) {
            n = size - 1;
        }
        memcpy(reasons, semi, n);
        reasons[n] = '\0';
    }
    return MALL_OK;
}


/* Appends s normalized (see risk_address_fp) and '|' at buf + *n. */
static void
risk_fp_part(unsigned char *buf, size_t size, size_t *n, const char *s)
{
    unsigned char  c;

    for (; s != NULL && *s != '\0' && *n + 1 < size; s++) {
        c = (unsigned char) *s;
        if (c < 0x80 && !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
                          || (c >= 'A' && c <= 'Z')))
        {
            continue;                  /* ASCII space and punctuation */
        }
        if (c >= 'A' && c <= 'Z') {
            c = (unsigned char) (c - 'A' + 'a');
        }
        buf[(*n)++] = c;
    }
    buf[(*n)++] = '|';
}


void
risk_address_fp(const char *province, const char *city,
    const char *district, const char *detail, char out[RISK_FP_HEX])
{
    static const char  hex[] = "0123456789abcdef";
    unsigned char      md[SHA256_DIGEST_LENGTH], buf[2048];
    size_t             i, n = 0;

    risk_fp_part(buf, sizeof(buf), &n, province);
    risk_fp_part(buf, sizeof(buf), &n, city);
    risk_fp_part(buf, sizeof(buf), &n, district);
    risk_fp_part(buf, sizeof(buf), &n, detail);
    SHA256(buf, n, md);
    for (i = 0; i < (RISK_FP_HEX - 1) / 2; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 0x0f];
    }
    out[RISK_FP_HEX - 1] = '\0';
}


int
risk_device_valid(const char *d)
{
    size_t  i;

    if (d == NULL || d[0] == '\0') {
        return 0;
    }
    for (i = 0; d[i] != '\0'; i++) {
        if (i >= 64
            || !((d[i] >= 'a' && d[i] <= 'z') || (d[i] >= 'A' && d[i] <= 'Z')
                 || (d[i] >= '0' && d[i] <= '9') || d[i] == '.'
                 || d[i] == '_' || d[i] == ':' || d[i] == '-'))
        {
            return 0;
        }
    }
    return 1;
}
