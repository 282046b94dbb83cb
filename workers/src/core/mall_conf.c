/*
 * Config parser (see mall_conf.h). Parsing is a pure function of the text
 * plus the key files it names; it never touches the running process.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L    /* gmtime_r, O_CLOEXEC without -D */
#endif

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "conf_value.h"
#include "mall_conf.h"
#include "mall_log.h"
#include "mall_query.h"

#define CONF_MAX_ARGS     16          /* notify_template: 4 + fields */
#define CONF_LINE_MAX     4096
#define CONF_FILE_MAX     (1024 * 1024)

/* bit per single-valued directive, to refuse duplicates */
enum {
    SEEN_LISTEN = 1 << 0, SEEN_WORKERS = 1 << 1, SEEN_REDIS = 1 << 2,
    SEEN_PIDFILE = 1 << 3, SEEN_ERROR_LOG = 1 << 4, SEEN_LOG_LEVEL = 1 << 5,
    SEEN_CACHE = 1 << 6, SEEN_BODY = 1 << 7, SEEN_ADMIN = 1 << 8,
    SEEN_INT_FIRST = 9               /* then one bit per conf_ints[] entry */
};

static int conf_workers(mall_conf_t *conf, const char *v, mall_err_t *err);


void
mall_conf_init(mall_conf_t *conf)
{
    memset(conf, 0, sizeof(*conf));
    conf->backlog = 511;
    conf_workers(conf, "auto", NULL);
    conf->redis_timeout_ms = 1000;
    conf->redis_connections = 4;
    conf->redis_txn_connections = 4;
    conf->max_inflight = 512;
    conf->fiber_stack_kb = 256;
    conf->log_level = MALL_LOG_INFO;
    conf->shutdown_timeout = 10;
    conf->upgrade_timeout = 30;
    conf->keepalive_drain = 3;
    conf->edge_clock_skew = 60;
    snprintf(conf->cache_control, sizeof(conf->cache_control), "%s",
             "public, s-maxage=60, max-age=0");
    conf->max_body_size = 1024 * 1024;
    conf->low_stock_threshold = 10;
    auth_conf_init(&conf->auth);
    order_conf_init(&conf->order);
    risk_conf_init(&conf->risk);
    redis_ha_conf_init(&conf->redis_ha);
    wxpay_conf_init(&conf->pay);
    notify_conf_init(&conf->notify);
    logistics_conf_init(&conf->logistics);
}


void
mall_conf_wipe(mall_conf_t *conf)
{
    OPENSSL_cleanse(conf->edge_keys, sizeof(conf->edge_keys));
    conf->n_edge_keys = 0;
    auth_conf_wipe(&conf->auth);
    wxpay_conf_wipe(&conf->pay);
    logistics_conf_wipe(&conf->logistics);
}


/*
 * Splits one line into at most CONF_MAX_ARGS arguments, in place. Double
 * quotes group words; inside them \" and \\ are escapes. Returns the
 * argument count, or -1 on an unterminated quote or too many arguments.
 */
static int
conf_split(char *line, char **argv)
{
    char  *p, *out;
    int    argc;

    argc = 0;
    p = line;

    for ( ;; ) {
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
            p++;
        }
        if (*p == '\0' || *p == '#') {
            return argc;
        }
        if (argc == CONF_MAX_ARGS) {
            return -1;
        }

        argv[argc++] = out = p;

        if (*p == '"') {
            p++;
            while (*p != '"') {
                if (*p == '\0') {
                    return -1;
                }
                if (*p == '\\' && (p[1] == '"' || p[1] == '\\')) {
                    p++;
                }
                *out++ = *p++;
            }
            p++;
            if (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\r'
                && *p != '\n')
            {
                return -1;
            }

        } else {
            while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\r'
                   && *p != '\n')
            {
                *out++ = *p++;
            }
        }

        if (*p != '\0') {
            p++;
        }
        *out = '\0';
    }
}


int
mall_conf_parse_hostport(const char *s, char *host, size_t hostsz,
    int *port, mall_err_t *err)
{
    const char  *colon;
    long long    v;
    size_t       hlen;

    colon = strrchr(s, ':');
    if (colon == NULL || colon == s) {
        return mall_err_set(err, 0, "\"%s\" is not host:port", s);
    }
    hlen = (size_t) (colon - s);
    if (hlen >= hostsz) {
        return mall_err_set(err, 0, "host in \"%s\" is too long", s);
    }
    if (mall_parse_int(colon + 1, 1, 65535, &v) != MALL_OK) {
        return mall_err_set(err, 0, "invalid port in \"%s\"", s);
    }
    memcpy(host, s, hlen);
    host[hlen] = '\0';
    *port = (int) v;
    return MALL_OK;
}


/*
 * Reads a secret file: its bytes, one trailing newline stripped. Refuses
 * empty, short (< 16 bytes) and oversized keys.
 */
static int
conf_read_key(const char *path, mall_edge_key_t *k, mall_err_t *err)
{
    char    buf[MALL_EDGE_KEY_MAX + 2];
    size_t  len;
    int     rc;

    rc = conf_value_file(path, "key file ", buf, sizeof(buf), &len, err);
    if (rc == MALL_OK && (len < 16 || len > MALL_EDGE_KEY_MAX)) {
        rc = mall_err_set(err, 0, "key file \"%s\" must hold 16..%d bytes",
                          path, MALL_EDGE_KEY_MAX);
    }
    if (rc == MALL_OK) {
        memcpy(k->key, buf, len);
        k->key_len = len;
    }
    OPENSSL_cleanse(buf, sizeof(buf));
    return rc;
}


static int
conf_edge_key(mall_conf_t *conf, char **argv, int argc, mall_err_t *err)
{
    mall_edge_key_t  *k;
    size_t            i, kid_len;

    if (argc != 3) {
        return mall_err_set(err, 0, "edge_key takes <kid> <file>");
    }
    kid_len = strlen(argv[1]);
    if (kid_len == 0 || kid_len >= MALL_EDGE_KID_MAX) {
        return mall_err_set(err, 0, "edge_key kid must be 1..%d chars",
                            MALL_EDGE_KID_MAX - 1);
    }
    for (i = 0; i < conf->n_edge_keys; i++) {
        if (strcmp(conf->edge_keys[i].kid, argv[1]) == 0) {
            return mall_err_set(err, 0, "edge_key \"%s\" is duplicate",
                                argv[1]);
        }
    }
    if (conf->n_edge_keys == MALL_CONF_MAX_EDGE_KEYS) {
        return mall_err_set(err, 0, "more than %d edge_key lines",
                            MALL_CONF_MAX_EDGE_KEYS);
    }

    k = &conf->edge_keys[conf->n_edge_keys];
    memcpy(k->kid, argv[1], kid_len + 1);
    if (conf_read_key(argv[2], k, err) != MALL_OK) {
        return MALL_ERR;
    }
    conf->n_edge_keys++;
    return MALL_OK;
}


/* Integer directives: name, bounds, where the value goes. */
typedef struct {
    const char  *name;
    long long    min, max;
    size_t       offset;         /* of an int in mall_conf_t */
} conf_int_t;

#define CONF_INT(name, min, max, field) \
    { name, min, max, offsetof(mall_conf_t, field) }

static const conf_int_t  conf_ints[] = {
    CONF_INT("redis_timeout_ms", 1, 60000, redis_timeout_ms),
    CONF_INT("redis_connections", 1, 64, redis_connections),
    CONF_INT("redis_txn_connections", 1, 64, redis_txn_connections),
    CONF_INT("max_inflight", 1, 100000, max_inflight),
    CONF_INT("fiber_stack_kb", 64, 8192, fiber_stack_kb),
    CONF_INT("shutdown_timeout", 1, 3600, shutdown_timeout),
    CONF_INT("upgrade_timeout", 1, 600, upgrade_timeout),
    CONF_INT("keepalive_drain", 0, 60, keepalive_drain),
    CONF_INT("edge_clock_skew", 1, 3600, edge_clock_skew),
    CONF_INT("low_stock_threshold", 0, 1000000, low_stock_threshold),
    CONF_INT("backlog", 1, 65535, backlog),
};


/* "workers N" (1..64) or "workers auto" (the number of online cores). */
static int
conf_workers(mall_conf_t *conf, const char *v, mall_err_t *err)
{
    long long  n;

    if (strcmp(v, "auto") == 0) {
        n = sysconf(_SC_NPROCESSORS_ONLN);
        conf->workers = n < 1 ? 1 : n > 64 ? 64 : (int) n;
        return MALL_OK;
    }
    if (mall_parse_int(v, 1, 64, &n) != MALL_OK) {
        return mall_err_set(err, 0, "workers must be 1..64 or auto");
    }
    conf->workers = (int) n;
    return MALL_OK;
}


/* Applies one directive; err has no line number yet. */
static int
conf_directive(mall_conf_t *conf, char **argv, int argc, unsigned *seen,
    mall_err_t *err)
{
    const char  *key;
    long long    v;
    unsigned     bit;
    size_t       i;
    int          level, rc;

    key = argv[0];

    if (strcmp(key, "edge_key") == 0) {
        return conf_edge_key(conf, argv, argc, err);
    }

    rc = auth_conf_directive(&conf->auth, argv, argc, err);
    if (rc != AUTH_CONF_NOT_MINE) {
        return rc;
    }

    rc = order_conf_directive(&conf->order, argv, argc, err);
    if (rc != ORDER_CONF_NOT_MINE) {
        return rc;
    }

    rc = risk_conf_directive(&conf->risk, argv, argc, err);
    if (rc != RISK_CONF_NOT_MINE) {
        return rc;
    }

    rc = wxpay_conf_directive(&conf->pay, argv, argc, err);
    if (rc != WXPAY_CONF_NOT_MINE) {
        return rc;
    }

    rc = notify_conf_directive(&conf->notify, argv, argc, err);
    if (rc != NOTIFY_CONF_NOT_MINE) {
        return rc;
    }

    rc = logistics_conf_directive(&conf->logistics, argv, argc, err);
    if (rc != LOGISTICS_CONF_NOT_MINE) {
        return rc;
    }

    rc = redis_ha_conf_directive(&conf->redis_ha, argv, argc, err);
    if (rc != REDIS_HA_CONF_NOT_MINE) {
        return rc;
    }

    if (argc != 2) {
        return mall_err_set(err, 0, "\"%s\" takes exactly one value", key);
    }

    for (i = 0; i < MALL_ARRAY_LEN(conf_ints); i++) {
        if (strcmp(key, conf_ints[i].name) != 0) {
            continue;
        }
        bit = 1u << (SEEN_INT_FIRST + i);
        if (*seen & bit) {
            return mall_err_set(err, 0, "\"%s\" is duplicate", key);
        }
        *seen |= bit;
        if (mall_parse_int(argv[1], conf_ints[i].min, conf_ints[i].max, &v)
            != MALL_OK)
        {
            return mall_err_set(err, 0, "%s must be %lld..%lld", key,
                                conf_ints[i].min, conf_ints[i].max);
        }
        *(int *) ((char *) conf + conf_ints[i].offset) = (int) v;
        return MALL_OK;
    }

    if (strcmp(key, "listen") == 0) {
        bit = SEEN_LISTEN;
    } else if (strcmp(key, "admin_listen") == 0) {
        bit = SEEN_ADMIN;
    } else if (strcmp(key, "workers") == 0) {
        bit = SEEN_WORKERS;
    } else if (strcmp(key, "redis") == 0) {
        bit = SEEN_REDIS;
    } else if (strcmp(key, "pidfile") == 0) {
        bit = SEEN_PIDFILE;
    } else if (strcmp(key, "error_log") == 0) {
        bit = SEEN_ERROR_LOG;
    } else if (strcmp(key, "log_level") == 0) {
        bit = SEEN_LOG_LEVEL;
    } else if (strcmp(key, "cache_control") == 0) {
        bit = SEEN_CACHE;
    } else if (strcmp(key, "max_body_size") == 0) {
        bit = SEEN_BODY;
    } else {
        return mall_err_set(err, 0, "unknown directive \"%s\"", key);
    }

    if (*seen & bit) {
        return mall_err_set(err, 0, "\"%s\" is duplicate", key);
    }
    *seen |= bit;

    switch (bit) {

    case SEEN_LISTEN:
        return mall_conf_parse_hostport(argv[1], conf->listen_host,
                                        sizeof(conf->listen_host),
                                        &conf->listen_port, err);

    case SEEN_ADMIN:
        return mall_conf_parse_hostport(argv[1], conf->admin_host,
                                        sizeof(conf->admin_host),
                                        &conf->admin_port, err);

    case SEEN_REDIS:
        return mall_conf_parse_hostport(argv[1], conf->redis_host,
                                        sizeof(conf->redis_host),
                                        &conf->redis_port, err);

    case SEEN_WORKERS:
        return conf_workers(conf, argv[1], err);

    case SEEN_PIDFILE:
        return conf_value_str(conf->pidfile, sizeof(conf->pidfile), argv[1],
                        key, err);

    case SEEN_ERROR_LOG:
        return conf_value_str(conf->error_log, sizeof(conf->error_log), argv[1],
                        key, err);

    case SEEN_LOG_LEVEL:
        level = mall_log_level_parse(argv[1]);
        if (level < 0) {
            return mall_err_set(err, 0, "unknown log_level \"%s\"",
                                argv[1]);
        }
        conf->log_level = level;
        return MALL_OK;

    case SEEN_CACHE:
        return conf_value_str(conf->cache_control, sizeof(conf->cache_control),
                        argv[1], key, err);

    case SEEN_BODY:
        if (mall_parse_int(argv[1], 0, 64 * 1024 * 1024, &v) != MALL_OK) {
            return mall_err_set(err, 0, "max_body_size must be 0..67108864");
        }
        conf->max_body_size = (size_t) v;
        return MALL_OK;
    }

    return mall_err_set(err, 0, "unhandled directive \"%s\"", key);
}


int
mall_conf_parse(const char *text, size_t len, mall_conf_t *conf,
    mall_err_t *err)
{
    char         line[CONF_LINE_MAX];
    char        *argv[CONF_MAX_ARGS];
    const char  *p, *end, *nl;
    size_t       llen;
    unsigned     seen;
    int          argc, lineno;
    mall_err_t   lerr;

    seen = 0;
    lineno = 0;
    p = text;
    end = text + len;

    while (p < end) {
        lineno++;
        nl = memchr(p, '\n', (size_t) (end - p));
        llen = (nl != NULL ? nl : end) - p;

        if (llen >= sizeof(line)) {
            return mall_err_set(err, 0, "line %d: too long", lineno);
        }
        if (memchr(p, '\0', llen) != NULL) {
            return mall_err_set(err, 0, "line %d: NUL byte", lineno);
        }
        memcpy(line, p, llen);
        line[llen] = '\0';
        p += llen + (nl != NULL ? 1 : 0);

        argc = conf_split(line, argv);
        if (argc < 0) {
            return mall_err_set(err, 0, "line %d: bad quoting or too many "
                                "arguments", lineno);
        }
        if (argc == 0) {
            continue;
        }

        if (conf_directive(conf, argv, argc, &seen, &lerr) != MALL_OK) {
            return mall_err_set(err, 0, "line %d: %s", lineno, lerr.msg);
        }
    }

    if (!(seen & SEEN_LISTEN)) {
        return mall_err_set(err, 0, "\"listen\" is required");
    }
    if ((seen & SEEN_ADMIN) && conf->admin_port == conf->listen_port
        && strcmp(conf->admin_host, conf->listen_host) == 0)
    {
        return mall_err_set(err, 0, "admin_listen must differ from listen");
    }
    if (!(seen & SEEN_REDIS) && conf->redis_ha.nsentinels == 0) {
        return mall_err_set(err, 0, "\"redis\" is required (or "
                            "\"redis_sentinels\")");
    }
    if (conf->n_edge_keys == 0) {
        return mall_err_set(err, 0, "at least one \"edge_key\" is required");
    }
    if (auth_conf_validate(&conf->auth, &lerr) != MALL_OK
        || wxpay_conf_validate(&conf->pay, conf->auth.wechat_appid, &lerr)
           != MALL_OK
        || logistics_conf_validate(&conf->logistics, &lerr) != MALL_OK
        || redis_ha_conf_validate(&conf->redis_ha, conf->redis_timeout_ms,
                                  &lerr) != MALL_OK)
    {
        return mall_err_set(err, 0, "%s", lerr.msg);
    }

    return MALL_OK;
}


int
mall_conf_load(const char *path, mall_conf_t *conf, mall_err_t *err)
{
    FILE    *f;
    char    *text;
    size_t   n;
    int      rc;

    rc = MALL_ERR;
    text = NULL;

    mall_conf_init(conf);

    f = fopen(path, "re");
    if (f == NULL) {
        mall_err_set(err, 0, "cannot open \"%s\": %s", path, strerror(errno));
        goto done;
    }

    text = malloc(CONF_FILE_MAX);
    if (text == NULL) {
        mall_err_set(err, 0, "out of memory");
        goto done;
    }

    n = fread(text, 1, CONF_FILE_MAX, f);
    if (ferror(f)) {
        mall_err_set(err, 0, "cannot read \"%s\"", path);
        goto done;
    }
    if (n == CONF_FILE_MAX) {
        mall_err_set(err, 0, "\"%s\" is larger than %d bytes", path,
                     CONF_FILE_MAX);
        goto done;
    }

    if (mall_conf_parse(text, n, conf, err) != MALL_OK) {
        mall_conf_wipe(conf);
        goto done;
    }
    rc = MALL_OK;

done:
    free(text);
    if (f != NULL) {
        fclose(f);
    }
    return rc;
}


const mall_edge_key_t *
mall_conf_edge_key(const mall_conf_t *conf, const char *kid, size_t kid_len)
{
    size_t  i;

    for (i = 0; i < conf->n_edge_keys; i++) {
        if (strlen(conf->edge_keys[i].kid) == kid_len
            && memcmp(conf->edge_keys[i].kid, kid, kid_len) == 0)
        {
            return &conf->edge_keys[i];
        }
    }
    return NULL;
}
