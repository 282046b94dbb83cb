/*
 * Worker JSON-lines logging (mall_log.c): every line parses as one JSON
 * object whatever the message holds (quotes, newlines, control bytes,
 * overlong text), request lines carry request_id and user_id, access
 * lines their fields, and mall_log_reopen opens the path again (rotation).
 */
#define _DEFAULT_SOURCE              /* mkstemp, strtok_r, fdopen */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <cjson/cJSON.h>

#include "mall_log.h"

static char  path[64];


static int
setup(void **state)
{
    mall_err_t  err;
    int         fd;

    (void) state;
    snprintf(path, sizeof(path), "/tmp/mall-log-test-XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    mall_log_level = MALL_LOG_INFO;
    assert_int_equal(mall_log_open(path, &err), MALL_OK);
    return 0;
}


static int
teardown(void **state)
{
    mall_err_t  err;

    (void) state;
    mall_log_open("stderr", &err);
    unlink(path);
    return 0;
}


/* The lines of the file, each parsed; n set; caller frees with free_lines */
static cJSON **
read_lines(const char *p, int *n)
{
    static char   buf[1 << 16];
    cJSON       **out;
    FILE         *f;
    char         *line, *save;
    size_t        len;

    f = fopen(p, "r");
    assert_non_null(f);
    len = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[len] = '\0';
    out = calloc(64, sizeof(*out));
    *n = 0;
    for (line = strtok_r(buf, "\n", &save); line != NULL && *n < 64;
         line = strtok_r(NULL, "\n", &save))
    {
        out[*n] = cJSON_Parse(line);
        if (out[*n] == NULL) {
            fail_msg("not JSON: %s", line);
        }
        assert_true(cJSON_IsObject(out[*n]));
        (*n)++;
    }
    return out;
}


static void
free_lines(cJSON **l, int n)
{
    int  i;

    for (i = 0; i < n; i++) {
        cJSON_Delete(l[i]);
    }
    free(l);
}


static const char *
str(const cJSON *o, const char *k)
{
    const cJSON  *v = cJSON_GetObjectItemCaseSensitive(o, k);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}


static void
test_lines_are_json_whatever_the_message(void **state)
{
    char     big[5000];
    cJSON  **l;
    int      n;

    (void) state;
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    big[100] = '"';
    big[2000] = '\\';

    mall_log(MALL_LOG_NOTICE, "master", "plain %d", 42);
    mall_log(MALL_LOG_WARN, "server", "quote \" backslash \\ newline\n"
             "tab\t bell\a del\x7f end");
    mall_log(MALL_LOG_ERROR, "server", "%s", big);
    mall_log_req(MALL_LOG_INFO, "order", "rid-1", "u42", "made %s", "it");
    mall_log_req(MALL_LOG_INFO, "edge", "rid-2", "-", "anonymous");
    mall_log(MALL_LOG_DEBUG, "server", "filtered out");

    l = read_lines(path, &n);
    assert_int_equal(n, 5);
    assert_string_equal(str(l[0], "level"), "notice");
    assert_string_equal(str(l[0], "comp"), "master");
    assert_string_equal(str(l[0], "msg"), "plain 42");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(l[0], "request_id")));
    assert_int_equal(cJSON_GetObjectItem(l[0], "pid")->valueint,
                     (int) getpid());
    assert_non_null(str(l[0], "ts"));
    assert_int_equal(strlen(str(l[0], "ts")), 24);

    assert_string_equal(str(l[1], "msg"), "quote \" backslash \\ newline\n"
                        "tab\t bell\a del\x7f end");
    /* cut short, still JSON, the start of the message kept */
    assert_true(strlen(str(l[2], "msg")) > 500);
    assert_memory_equal(str(l[2], "msg"), big, 100);

    assert_string_equal(str(l[3], "request_id"), "rid-1");
    assert_string_equal(str(l[3], "user_id"), "u42");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(l[4], "user_id")));
    free_lines(l, n);
}


static void
test_access_line_fields(void **state)
{
    mall_log_access_t  a;
    cJSON            **l;
    char               longpath[3000];
    int                n;

    (void) state;
    memset(&a, 0, sizeof(a));
    a.request_id = "abc123";
    a.user_id = "u7";
    a.method = "POST";
    a.route = "/api/v1/orders";
    a.path = "/api/v1/orders";
    a.status = 201;
    a.latency_ms = 1.5;
    a.client_ip = "198.18.0.1";
    a.risk = "46;not_wechat";
    mall_log_access(&a);

    memset(longpath, 'p', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0';
    a.path = longpath;
    a.user_id = "";
    a.risk = NULL;
    a.error_code = "NOT_FOUND";
    a.status = 404;
    mall_log_access(&a);

    l = read_lines(path, &n);
    assert_int_equal(n, 2);
    assert_string_equal(str(l[0], "comp"), "access");
    assert_string_equal(str(l[0], "request_id"), "abc123");
    assert_string_equal(str(l[0], "user_id"), "u7");
    assert_string_equal(str(l[0], "route"), "/api/v1/orders");
    assert_int_equal(cJSON_GetObjectItem(l[0], "status")->valueint, 201);
    assert_true(cJSON_GetObjectItem(l[0], "latency_ms")->valuedouble > 1.4);
    assert_string_equal(str(l[0], "risk"), "46;not_wechat");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(l[1], "user_id")));
    assert_null(cJSON_GetObjectItem(l[1], "risk"));
    free_lines(l, n);
}


static void
test_reopen_follows_the_path(void **state)
{
    char        rotated[80];
    mall_err_t  err;
    cJSON     **l;
    int         n;

    (void) state;
    mall_log(MALL_LOG_NOTICE, "master", "before");
    snprintf(rotated, sizeof(rotated), "%s.1", path);
    assert_int_equal(rename(path, rotated), 0);
    mall_log(MALL_LOG_NOTICE, "master", "still the old file");
    assert_int_equal(mall_log_reopen(&err), MALL_OK);
    mall_log(MALL_LOG_NOTICE, "master", "after");

    l = read_lines(rotated, &n);
    assert_int_equal(n, 2);
    assert_string_equal(str(l[1], "msg"), "still the old file");
    free_lines(l, n);
    l = read_lines(path, &n);
    assert_int_equal(n, 1);
    assert_string_equal(str(l[0], "msg"), "after");
    free_lines(l, n);
    unlink(rotated);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test_setup_teardown(
            test_lines_are_json_whatever_the_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_access_line_fields, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reopen_follows_the_path, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
