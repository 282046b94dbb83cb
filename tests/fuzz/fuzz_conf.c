/*
 * workers/src/core/mall_conf.c: mall_conf_parse over the text of a worker
 * config, with every directive mall_conf.c, auth_conf.c and order_conf.c
 * take.
 *
 * Key files are read through conf_value_file(), replaced here (the
 * Makefile links with -Wl,--wrap=conf_value_file) by a few in-memory
 * files, so the fuzzer never opens a real path (a FIFO or /dev/stdin
 * would block it): /fz/edge.key, /fz/jwt.pem, /fz/sign.key, /fz/data.key,
 * /fz/appid, /fz/secret, and "inline:<bytes>", a file holding <bytes>.
 *
 * Input: the config text. Oracles: an accepted config has listen, redis
 * and an edge key, and every string field stays NUL-terminated.
 */
#include "fuzz_common.h"
#include "fuzz_keys.h"
#include "conf_value.h"
#include "mall_conf.h"

typedef struct {
    const char  *path;
    const char  *data;
} fz_file_t;

static const fz_file_t  files[] = {
    { "/fz/edge.key", "edge-key-test-only-0123456789abc\n" },
    { "/fz/jwt.pem", test_only_es256_pem },
    { "/fz/sign.key", "0123456789abcdef0123456789abcdef\n" },
    { "/fz/data.key",
      "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n" },
    { "/fz/appid", "wx0123456789abcdef\n" },
    { "/fz/secret", "0123456789abcdef0123456789abcdef\r\n" },
    { NULL, NULL }
};

int __wrap_conf_value_file(const char *path, const char *what, char *buf,
    size_t bufsz, size_t *len, mall_err_t *err);


/* conf_value_file() of conf_value.c, over the files above. */
int
__wrap_conf_value_file(const char *path, const char *what, char *buf,
    size_t bufsz, size_t *len, mall_err_t *err)
{
    size_t       i, got;
    const char  *data;

    data = NULL;
    got = 0;
    if (strncmp(path, "inline:", 7) == 0) {
        data = path + 7;
        got = strlen(data);
    }
    for (i = 0; data == NULL && files[i].path != NULL; i++) {
        if (strcmp(path, files[i].path) == 0) {
            data = files[i].data;
            got = strlen(data);
        }
    }
    if (data == NULL) {
        return mall_err_set(err, 0, "cannot open %s\"%s\": no such file",
                            what, path);
    }
    /* the real reader refuses a file that fills buf, newline or not */
    if (got >= bufsz) {
        memset(buf, 0, bufsz);
        return mall_err_set(err, 0, "%s\"%s\" is too large", what, path);
    }
    memcpy(buf, data, got);
    if (got > 0 && buf[got - 1] == '\n') {
        got--;
        if (got > 0 && buf[got - 1] == '\r') {
            got--;
        }
    }
    if (got < bufsz) {
        buf[got] = '\0';
    }
    *len = got;
    return MALL_OK;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char         *text;
    size_t        i;
    mall_err_t    err;
    mall_conf_t  *conf;

    text = fz_dup(data, size);
    conf = fz_alloc(sizeof(*conf));
    mall_conf_init(conf);

    err.code = 0;
    err.msg[0] = '\0';
    if (mall_conf_parse(text, size, conf, &err) == MALL_OK) {
        FZ_ASSERT(conf->listen_port > 0 && conf->redis_port > 0);
        FZ_ASSERT(conf->n_edge_keys >= 1
                  && conf->n_edge_keys <= MALL_CONF_MAX_EDGE_KEYS);
        for (i = 0; i < conf->n_edge_keys; i++) {
            FZ_ASSERT(conf->edge_keys[i].key_len >= 16
                      && conf->edge_keys[i].key_len <= MALL_EDGE_KEY_MAX);
            FZ_ASSERT(mall_conf_edge_key(conf, conf->edge_keys[i].kid,
                                         strlen(conf->edge_keys[i].kid))
                      == &conf->edge_keys[i]);
        }
        FZ_ASSERT(memchr(conf->pidfile, '\0', sizeof(conf->pidfile)));
        FZ_ASSERT(memchr(conf->error_log, '\0', sizeof(conf->error_log)));
        FZ_ASSERT(memchr(conf->cache_control, '\0',
                         sizeof(conf->cache_control)));
        FZ_ASSERT(conf->order.max_lines >= 1
                  && conf->order.max_lines <= ORDER_LINES_MAX);
        FZ_ASSERT(auth_conf_signing_pem(&conf->auth) != NULL
                  || conf->auth.n_jwt_keys == 0);
    } else {
        FZ_ASSERT(memchr(err.msg, '\0', sizeof(err.msg)) != NULL);
    }

    mall_conf_wipe(conf);
    free(conf);
    free(text);
    return 0;
}
