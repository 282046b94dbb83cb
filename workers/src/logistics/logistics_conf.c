/*
 * Logistics directives (see logistics_conf.h).
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "conf_value.h"
#include "logistics_conf.h"
#include "mall_query.h"

enum {
    SEEN_BASE = 1 << 0, SEEN_CUSTOMER = 1 << 1, SEEN_KEY = 1 << 2,
    SEEN_TTL = 1 << 3, SEEN_RETRY = 1 << 4, SEEN_TIMEOUT = 1 << 5
};

/* Integer directives: name, bounds, bit, where the value goes. */
static const struct {
    const char  *name;
    long long    min, max;
    unsigned     bit;
    size_t       offset;
} lg_ints[] = {
    { "logistics_cache_ttl", 1, 7 * 86400, SEEN_TTL,
      offsetof(logistics_conf_t, cache_ttl) },
    { "logistics_error_retry", 1, 86400, SEEN_RETRY,
      offsetof(logistics_conf_t, error_retry) },
    { "logistics_timeout_ms", 100, 60000, SEEN_TIMEOUT,
      offsetof(logistics_conf_t, timeout_ms) },
};


void
logistics_conf_init(logistics_conf_t *c)
{
    memset(c, 0, sizeof(*c));
    c->cache_ttl = 1800;
    c->error_retry = 60;
    c->timeout_ms = 2000;
}


void
logistics_conf_wipe(logistics_conf_t *c)
{
    OPENSSL_cleanse(c->key, sizeof(c->key));
}


int
logistics_conf_enabled(const logistics_conf_t *c)
{
    return c->api_base[0] != '\0';
}


int
logistics_conf_directive(logistics_conf_t *c, char **argv, int argc,
    mall_err_t *err)
{
    const char  *key = argv[0];
    unsigned     bit;
    long long    v;
    size_t       i;

    if (strncmp(key, "logistics_", 10) != 0) {
        return LOGISTICS_CONF_NOT_MINE;
    }
    if (argc != 2) {
        return mall_err_set(err, 0, "\"%s\" takes exactly one value", key);
    }
    for (i = 0; i < MALL_ARRAY_LEN(lg_ints); i++) {
        if (strcmp(key, lg_ints[i].name) != 0) {
            continue;
        }
        if (c->seen & lg_ints[i].bit) {
            return mall_err_set(err, 0, "\"%s\" is duplicate", key);
        }
        c->seen |= lg_ints[i].bit;
        if (mall_parse_int(argv[1], lg_ints[i].min, lg_ints[i].max, &v)
            != MALL_OK)
        {
            return mall_err_set(err, 0, "%s must be %lld..%lld", key,
                                lg_ints[i].min, lg_ints[i].max);
        }
        *(int *) ((char *) c + lg_ints[i].offset) = (int) v;
        return MALL_OK;
    }
    if (strcmp(key, "logistics_api_base") == 0) {
        bit = SEEN_BASE;
    } else if (strcmp(key, "logistics_customer_file") == 0) {
        bit = SEEN_CUSTOMER;
    } else if (strcmp(key, "logistics_key_file") == 0) {
        bit = SEEN_KEY;
    } else {
        return mall_err_set(err, 0, "unknown directive \"%s\"", key);
    }
    if (c->seen & bit) {
        return mall_err_set(err, 0, "\"%s\" is duplicate", key);
    }
    c->seen |= bit;
    switch (bit) {
    case SEEN_BASE:
        return conf_value_url(c->api_base, sizeof(c->api_base), argv[1], key,
                              1, err);
    case SEEN_CUSTOMER:
        return conf_value_text_file(argv[1], c->customer,
                                    sizeof(c->customer), key, err);
    default:
        return conf_value_text_file(argv[1], c->key, sizeof(c->key), key,
                                    err);
    }
}


int
logistics_conf_validate(const logistics_conf_t *c, mall_err_t *err)
{
    if (logistics_conf_enabled(c)
        && (c->customer[0] == '\0' || c->key[0] == '\0'))
    {
        return mall_err_set(err, 0, "logistics_api_base needs "
                            "logistics_customer_file and "
                            "logistics_key_file");
    }
    return MALL_OK;
}
