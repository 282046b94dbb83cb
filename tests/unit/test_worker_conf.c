#define _POSIX_C_SOURCE 200809L   /* mkstemp */

/*
 * mall-worker config parser: defaults, every directive, quoting, and the
 * errors that must stop a start or a reload.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "mall_conf.h"
#include "mall_log.h"
#include "test_tmpfile.h"

static char  key1[64], key2[64], short_key[64];


static int
setup_keys(void **state)
{
    (void) state;
    if (test_tmpfile(key1, "/tmp/mall-test-key1-XXXXXX",
                     "0123456789abcdef0123456789abcdef\n") != 0
        || test_tmpfile(key2, "/tmp/mall-test-key2-XXXXXX",
                        "second-key-0123456789") != 0
        || test_tmpfile(short_key, "/tmp/mall-test-key3-XXXXXX", "short\n")
           != 0)
    {
        return -1;
    }
    return 0;
}


static int
teardown_keys(void **state)
{
    (void) state;
    unlink(key1);
    unlink(key2);
    unlink(short_key);
    return 0;
}


/* Parses text with key path placeholders %1 / %2 / %3 substituted. */
static int
parse(const char *tmpl, mall_conf_t *conf, mall_err_t *err)
{
    char         text[4096];
    const char  *p;
    size_t       n;

    n = 0;
    for (p = tmpl; *p != '\0' && n < sizeof(text) - 128; p++) {
        if (p[0] == '%' && (p[1] == '1' || p[1] == '2' || p[1] == '3')) {
            const char *k = p[1] == '1' ? key1 : p[1] == '2' ? key2
                                                             : short_key;
            n += (size_t) snprintf(text + n, sizeof(text) - n, "%s", k);
            p++;
            continue;
        }
        text[n++] = *p;
    }
    text[n] = '\0';

    mall_conf_init(conf);
    memset(err, 0, sizeof(*err));
    return mall_conf_parse(text, n, conf, err);
}


#define MINIMAL  "listen 127.0.0.1:9101\nredis 127.0.0.1:6391\n" \
                 "edge_key e1 %1\n"


static void
test_minimal_defaults(void **state)
{
    mall_conf_t  c;
    mall_err_t   err;

    (void) state;
    assert_int_equal(parse(MINIMAL, &c, &err), MALL_OK);
    assert_string_equal(c.listen_host, "127.0.0.1");
    assert_int_equal(c.listen_port, 9101);
    assert_string_equal(c.redis_host, "127.0.0.1");
    assert_int_equal(c.redis_port, 6391);
    assert_int_equal(c.workers, 2);
    assert_int_equal(c.redis_timeout_ms, 1000);
    assert_int_equal(c.shutdown_timeout, 10);
    assert_int_equal(c.edge_clock_skew, 60);
    assert_int_equal(c.log_level, MALL_LOG_INFO);
    assert_string_equal(c.cache_control, "public, s-maxage=60, max-age=0");
    assert_string_equal(c.pidfile, "");
    assert_int_equal(c.admin_port, 0);            /* no admin listener */
    assert_int_equal(c.upgrade_timeout, 30);
    assert_int_equal(c.n_edge_keys, 1);
    /* the trailing newline of the key file is not part of the key */
    assert_int_equal(c.edge_keys[0].key_len, 32);
    assert_memory_equal(c.edge_keys[0].key,
                        "0123456789abcdef0123456789abcdef", 32);
    mall_conf_wipe(&c);
}


static void
test_all_directives(void **state)
{
    mall_conf_t             c;
    mall_err_t              err;
    const mall_edge_key_t  *k;

    (void) state;
    assert_int_equal(parse(
        "# full config\n"
        "  listen 127.0.0.1:19101   # trailing comment\n"
        "workers 4\n"
        "redis localhost:16391\n"
        "redis_timeout_ms 250\n"
        "pidfile /tmp/x.pid\n"
        "error_log /tmp/x.log\n"
        "log_level debug\n"
        "shutdown_timeout 3\n"
        "admin_listen 127.0.0.1:19102\n"
        "upgrade_timeout 5\n"
        "keepalive_drain 2\n"
        "edge_key e1 %1\n"
        "edge_key e2 \"%2\"\n"
        "edge_clock_skew 30\n"
        "cache_control \"public, s-maxage=5, max-age=0\"\n"
        "max_body_size 2048\n"
        "low_stock_threshold 3\n"
        "backlog 64\r\n", &c, &err), MALL_OK);
    assert_int_equal(c.listen_port, 19101);
    assert_int_equal(c.workers, 4);
    assert_string_equal(c.redis_host, "localhost");
    assert_int_equal(c.redis_timeout_ms, 250);
    assert_string_equal(c.pidfile, "/tmp/x.pid");
    assert_string_equal(c.error_log, "/tmp/x.log");
    assert_int_equal(c.log_level, MALL_LOG_DEBUG);
    assert_int_equal(c.shutdown_timeout, 3);
    assert_string_equal(c.admin_host, "127.0.0.1");
    assert_int_equal(c.admin_port, 19102);
    assert_int_equal(c.upgrade_timeout, 5);
    assert_int_equal(c.keepalive_drain, 2);
    assert_int_equal(c.edge_clock_skew, 30);
    assert_string_equal(c.cache_control, "public, s-maxage=5, max-age=0");
    assert_int_equal(c.max_body_size, 2048);
    assert_int_equal(c.low_stock_threshold, 3);
    assert_int_equal(c.backlog, 64);
    assert_int_equal(c.n_edge_keys, 2);

    k = mall_conf_edge_key(&c, "e2", 2);
    assert_non_null(k);
    assert_int_equal(k->key_len, strlen("second-key-0123456789"));
    assert_null(mall_conf_edge_key(&c, "e3", 2));
    assert_null(mall_conf_edge_key(&c, "e", 1));
    mall_conf_wipe(&c);
    assert_int_equal(c.n_edge_keys, 0);
}


static void
expect_error(const char *text, const char *needle)
{
    mall_conf_t  c;
    mall_err_t   err;

    assert_int_equal(parse(text, &c, &err), MALL_ERR);
    if (strstr(err.msg, needle) == NULL) {
        fail_msg("error \"%s\" lacks \"%s\"", err.msg, needle);
    }
    mall_conf_wipe(&c);
}


static void
test_errors(void **state)
{
    (void) state;
    expect_error("redis 127.0.0.1:6391\nedge_key e1 %1\n",
                 "\"listen\" is required");
    expect_error("listen 127.0.0.1:1\nedge_key e1 %1\n",
                 "\"redis\" is required");
    expect_error("listen 127.0.0.1:1\nredis 127.0.0.1:2\n",
                 "\"edge_key\" is required");
    expect_error(MINIMAL "bogus 1\n", "line 4: unknown directive");
    expect_error(MINIMAL "workers 0\n", "workers must be 1..64");
    expect_error(MINIMAL "workers 65\n", "workers must be 1..64");
    expect_error(MINIMAL "workers 2x\n", "workers must be");
    expect_error(MINIMAL "workers 2 3\n", "exactly one value");
    expect_error(MINIMAL "listen 127.0.0.1:2\n", "is duplicate");
    expect_error(MINIMAL "edge_key e1 %2\n", "is duplicate");
    expect_error("listen 127.0.0.1:0\nredis a:1\nedge_key e1 %1\n",
                 "invalid port");
    expect_error("listen 127.0.0.1:70000\nredis a:1\nedge_key e1 %1\n",
                 "invalid port");
    expect_error("listen 127.0.0.1\nredis a:1\nedge_key e1 %1\n",
                 "not host:port");
    expect_error(MINIMAL "log_level loud\n", "unknown log_level");
    expect_error(MINIMAL "cache_control \"public\n", "bad quoting");
    expect_error(MINIMAL "edge_key e9 /nonexistent/key\n",
                 "cannot open key file");
    expect_error(MINIMAL "edge_key e9 %3\n", "must hold 16..");
    expect_error(MINIMAL "edge_key e9\n", "edge_key takes");
    expect_error(MINIMAL "shutdown_timeout -1\n", "shutdown_timeout");
    expect_error(MINIMAL "keepalive_drain 61\n", "keepalive_drain must be 0..60");
    expect_error(MINIMAL "edge_clock_skew 0\n", "edge_clock_skew");
    expect_error(MINIMAL "admin_listen 127.0.0.1:9101\n",
                 "admin_listen must differ from listen");
    expect_error(MINIMAL "admin_listen nowhere\n", "is not host:port");
    expect_error(MINIMAL "admin_listen 127.0.0.1:1\nadmin_listen "
                 "127.0.0.1:2\n", "is duplicate");
    expect_error(MINIMAL "upgrade_timeout 0\n", "upgrade_timeout must be");
}


/* logistics_*: the carrier API is off by default, all or nothing when on */
static void
test_logistics(void **state)
{
    mall_conf_t  c;
    mall_err_t   err;

    (void) state;
    assert_int_equal(parse(MINIMAL, &c, &err), MALL_OK);
    assert_false(logistics_conf_enabled(&c.logistics));
    assert_int_equal(c.logistics.cache_ttl, 1800);
    assert_int_equal(c.logistics.error_retry, 60);
    mall_conf_wipe(&c);
    assert_int_equal(parse(MINIMAL
        "logistics_api_base http://127.0.0.1:9910/\n"
        "logistics_customer_file %2\n"
        "logistics_key_file %1\n"
        "logistics_cache_ttl 5\n"
        "logistics_error_retry 2\n"
        "logistics_timeout_ms 500\n", &c, &err), MALL_OK);
    assert_true(logistics_conf_enabled(&c.logistics));
    assert_string_equal(c.logistics.api_base, "http://127.0.0.1:9910");
    assert_string_equal(c.logistics.customer, "second-key-0123456789");
    assert_string_equal(c.logistics.key,
                        "0123456789abcdef0123456789abcdef");
    assert_int_equal(c.logistics.cache_ttl, 5);
    assert_int_equal(c.logistics.error_retry, 2);
    assert_int_equal(c.logistics.timeout_ms, 500);
    mall_conf_wipe(&c);
    assert_string_equal(c.logistics.key, "");
    expect_error(MINIMAL "logistics_api_base http://x\n",
                 "needs logistics_customer_file");
    expect_error(MINIMAL "logistics_api_base ftp://x\n", "http(s) URL");
    expect_error(MINIMAL "logistics_cache_ttl 0\n", "logistics_cache_ttl");
    expect_error(MINIMAL "logistics_cache_ttl 5\nlogistics_cache_ttl 6\n",
                 "is duplicate");
    expect_error(MINIMAL "logistics_bogus 1\n", "unknown directive");
}


/* redis_sentinels / redis_master_name / redis_wait_*: off by default */
static void
test_redis_ha(void **state)
{
    mall_conf_t  c;
    mall_err_t   err;

    (void) state;
    assert_int_equal(parse(MINIMAL, &c, &err), MALL_OK);
    assert_int_equal(c.redis_ha.nsentinels, 0);
    assert_string_equal(c.redis_ha.master_name, "mall");
    assert_int_equal(c.redis_ha.wait_replicas, 0);
    mall_conf_wipe(&c);

    /* with Sentinels, "redis" may be left out */
    assert_int_equal(parse("listen 127.0.0.1:9101\nedge_key e1 %1\n"
        "redis_sentinels 127.0.0.1:26391,127.0.0.1:26392,localhost:26393\n"
        "redis_master_name shop\nredis_wait_replicas 1\n"
        "redis_wait_timeout_ms 250\n", &c, &err), MALL_OK);
    assert_int_equal(c.redis_ha.nsentinels, 3);
    assert_string_equal(c.redis_ha.sentinels[0].host, "127.0.0.1");
    assert_int_equal(c.redis_ha.sentinels[1].port, 26392);
    assert_string_equal(c.redis_ha.sentinels[2].host, "localhost");
    assert_string_equal(c.redis_ha.master_name, "shop");
    assert_int_equal(c.redis_ha.wait_replicas, 1);
    assert_int_equal(c.redis_ha.wait_timeout_ms, 250);
    mall_conf_wipe(&c);

    assert_int_equal(parse(MINIMAL "redis_sentinels off\n", &c, &err),
                     MALL_OK);
    assert_int_equal(c.redis_ha.nsentinels, 0);
    mall_conf_wipe(&c);

    expect_error("listen 127.0.0.1:1\nedge_key e1 %1\nredis_sentinels off\n",
                 "\"redis\" is required");
    expect_error(MINIMAL "redis_sentinels 127.0.0.1\n", "not host:port");
    expect_error(MINIMAL "redis_sentinels 127.0.0.1:1,,127.0.0.1:2\n",
                 "bad entry");
    expect_error(MINIMAL "redis_sentinels 127.0.0.1:0\n", "");
    expect_error(MINIMAL "redis_wait_replicas 17\n", "0..16");
    expect_error(MINIMAL "redis_wait_timeout_ms 0\n", "1..60000");
    /* a WAIT that outlasts the batch timeout would drop the connection */
    expect_error(MINIMAL "redis_wait_replicas 1\nredis_wait_timeout_ms 1000\n",
                 "below redis_timeout_ms");
    expect_error(MINIMAL "redis_master_name a b\n", "exactly one value");
}


static void
test_load_missing_file(void **state)
{
    mall_conf_t  c;
    mall_err_t   err;

    (void) state;
    assert_int_equal(mall_conf_load("/nonexistent/mall.conf", &c, &err),
                     MALL_ERR);
    assert_non_null(strstr(err.msg, "cannot open"));
}


static void
test_hostport(void **state)
{
    char        host[16];
    int         port;
    mall_err_t  err;

    (void) state;
    assert_int_equal(mall_conf_parse_hostport("10.0.0.1:80", host,
                     sizeof(host), &port, &err), MALL_OK);
    assert_string_equal(host, "10.0.0.1");
    assert_int_equal(port, 80);
    assert_int_equal(mall_conf_parse_hostport(":80", host, sizeof(host),
                     &port, &err), MALL_ERR);
    assert_int_equal(mall_conf_parse_hostport("a-very-long-hostname:80",
                     host, sizeof(host), &port, &err), MALL_ERR);
    assert_int_equal(mall_conf_parse_hostport("h:+80", host, sizeof(host),
                     &port, &err), MALL_ERR);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_minimal_defaults),
        cmocka_unit_test(test_all_directives),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_logistics),
        cmocka_unit_test(test_redis_ha),
        cmocka_unit_test(test_load_missing_file),
        cmocka_unit_test(test_hostport),
    };

    return cmocka_run_group_tests(tests, setup_keys, teardown_keys);
}
