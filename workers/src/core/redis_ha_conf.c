/*
 * Redis high-availability directives (see redis_ha_conf.h).
 */
#include <stdio.h>
#include <string.h>

#include "conf_value.h"
#include "mall_conf.h"
#include "mall_query.h"
#include "redis_ha_conf.h"


void
redis_ha_conf_init(redis_ha_conf_t *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->master_name, sizeof(c->master_name), "%s", "mall");
    c->wait_timeout_ms = 200;
}


int
redis_ha_parse_sentinels(redis_ha_conf_t *c, const char *v, mall_err_t *err)
{
    char         one[REDIS_HA_HOST_MAX + 8];
    const char  *p, *comma;
    size_t       len;

    c->nsentinels = 0;
    if (strcmp(v, "off") == 0 || v[0] == '\0') {
        return MALL_OK;
    }
    for (p = v; *p != '\0'; p = comma != NULL ? comma + 1 : p + len) {
        comma = strchr(p, ',');
        len = comma != NULL ? (size_t) (comma - p) : strlen(p);
        if (len == 0 || len >= sizeof(one)) {
            return mall_err_set(err, 0, "redis_sentinels: bad entry in "
                                "\"%s\"", v);
        }
        if (c->nsentinels == REDIS_HA_SENTINELS_MAX) {
            return mall_err_set(err, 0, "redis_sentinels: more than %d",
                                REDIS_HA_SENTINELS_MAX);
        }
        memcpy(one, p, len);
        one[len] = '\0';
        if (mall_conf_parse_hostport(one,
                                     c->sentinels[c->nsentinels].host,
                                     REDIS_HA_HOST_MAX,
                                     &c->sentinels[c->nsentinels].port, err)
            != MALL_OK)
        {
            return MALL_ERR;
        }
        c->nsentinels++;
        if (comma == NULL) {
            break;
        }
    }
    return MALL_OK;
}


int
redis_ha_conf_directive(redis_ha_conf_t *c, char **argv, int argc,
    mall_err_t *err)
{
    long long  v;

    if (strcmp(argv[0], "redis_sentinels") != 0
        && strcmp(argv[0], "redis_master_name") != 0
        && strcmp(argv[0], "redis_wait_replicas") != 0
        && strcmp(argv[0], "redis_wait_timeout_ms") != 0)
    {
        return REDIS_HA_CONF_NOT_MINE;
    }
    if (argc != 2) {
        return mall_err_set(err, 0, "\"%s\" takes exactly one value",
                            argv[0]);
    }
    if (strcmp(argv[0], "redis_sentinels") == 0) {
        return redis_ha_parse_sentinels(c, argv[1], err);
    }
    if (strcmp(argv[0], "redis_master_name") == 0) {
        return conf_value_str(c->master_name, sizeof(c->master_name),
                              argv[1], argv[0], err);
    }
    if (strcmp(argv[0], "redis_wait_replicas") == 0) {
        if (mall_parse_int(argv[1], 0, 16, &v) != MALL_OK) {
            return mall_err_set(err, 0, "redis_wait_replicas must be 0..16");
        }
        c->wait_replicas = (int) v;
        return MALL_OK;
    }
    if (mall_parse_int(argv[1], 1, 60000, &v) != MALL_OK) {
        return mall_err_set(err, 0, "redis_wait_timeout_ms must be "
                            "1..60000");
    }
    c->wait_timeout_ms = (int) v;
    return MALL_OK;
}


int
redis_ha_conf_validate(const redis_ha_conf_t *c, int redis_timeout_ms,
    mall_err_t *err)
{
    if (c->wait_replicas > 0 && c->wait_timeout_ms >= redis_timeout_ms) {
        return mall_err_set(err, 0, "redis_wait_timeout_ms (%d) must be "
                            "below redis_timeout_ms (%d): a WAIT longer "
                            "than the batch timeout would drop the "
                            "connection", c->wait_timeout_ms,
                            redis_timeout_ms);
    }
    return MALL_OK;
}
