/*
 * The carrier-tracking protocol (workers/src/logistics/kd100.c): the sign
 * against a value computed independently (Python hashlib), the form
 * body, the answer parser on real-shaped answers and broken ones; the
 * merchant's manual entry and the merged timeline (logistics_events.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "carrier.h"
#include "kd100.h"
#include "logistics.h"
#include "mall_json.h"


static void
test_sign(void **state)
{
    char  sign[KD100_SIGN_LEN + 1];

    (void) state;
    /* hashlib.md5(b'{"com":"yuantong","num":"YT123"}' + b"k3y"
     *             + b"CUST").hexdigest().upper() */
    assert_int_equal(kd100_sign("{\"com\":\"yuantong\",\"num\":\"YT123\"}",
                                "k3y", "CUST", sign), MALL_OK);
    assert_string_equal(sign, "E65E480BA9387564257B80E59F20A0A5");
}


static void
test_form(void **state)
{
    carrier_query_t  q = { "shunfeng", "SF1234567890", NULL };
    mall_buf_t       b;
    char             sign[KD100_SIGN_LEN + 1], want[256];

    (void) state;
    mall_buf_init(&b);
    assert_int_equal(kd100_form(&q, "CUST", "k3y", &b), MALL_OK);
    kd100_sign("{\"com\":\"shunfeng\",\"num\":\"SF1234567890\"}", "k3y",
               "CUST", sign);
    snprintf(want, sizeof(want), "customer=CUST&sign=%s&param=%%7B%%22com"
             "%%22%%3A%%22shunfeng%%22%%2C%%22num%%22%%3A%%22SF1234567890"
             "%%22%%7D", sign);
    assert_string_equal(b.p, want);
    mall_buf_free(&b);

    /* SF Express gets the phone tail; other carriers never see it */
    q.phone = "5678";
    mall_buf_init(&b);
    assert_int_equal(kd100_form(&q, "CUST", "k3y", &b), MALL_OK);
    assert_non_null(strstr(b.p, "%22phone%22%3A%225678%22%7D"));
    mall_buf_free(&b);
    q.carrier = "zhongtong";
    mall_buf_init(&b);
    assert_int_equal(kd100_form(&q, "CUST", "k3y", &b), MALL_OK);
    assert_null(strstr(b.p, "phone"));
    mall_buf_free(&b);
    assert_true(kd100_needs_phone("shunfengkuaiyun"));
    assert_false(kd100_needs_phone("yuantong"));
}


static void
test_parse_ok(void **state)
{
    static const char  body[] =
        "{\"message\":\"ok\",\"nu\":\"YT123\",\"ischeck\":\"1\","
        "\"condition\":\"F00\",\"com\":\"yuantong\",\"status\":\"200\","
        "\"state\":\"3\",\"data\":["
        "{\"time\":\"2026-12-06 18:00:00\",\"ftime\":\"2026-12-06 18:00:00\","
        "\"context\":\"已签收\",\"location\":\"上海市\"},"
        "{\"time\":\"bad\",\"context\":\"skipped\"},"
        "{\"time\":\"2026-12-05 09:30:00\",\"ftime\":\"2026-12-05 09:30:00\","
        "\"context\":\"已揽收\"}]}";
    carrier_result_t   res;
    mall_err_t         err;
    const cJSON       *e;
    int64_t            at;

    (void) state;
    assert_int_equal(kd100_parse(body, strlen(body), &res, &err), MALL_OK);
    assert_string_equal(res.code, "");
    assert_int_equal(res.state, 3);
    assert_true(res.delivered);
    assert_int_equal(cJSON_GetArraySize(res.events), 2);
    e = cJSON_GetArrayItem(res.events, 0);
    /* 2026-12-06 18:00:00 +08:00 = 10:00:00Z */
    assert_int_equal(mall_json_get_int(cJSON_GetObjectItem(e, "at"), 0,
                                       INT64_MAX, &at), MALL_OK);
    assert_int_equal(at, 1796551200);
    assert_string_equal(cJSON_GetObjectItem(e, "location")->valuestring,
                        "上海市");
    e = cJSON_GetArrayItem(res.events, 1);
    assert_string_equal(cJSON_GetObjectItem(e, "location")->valuestring, "");
    carrier_result_free(&res);
}


static void
test_parse_errors(void **state)
{
    static const char *const  bad[] = {
        "", "[]", "not json", "{\"status\":\"200\"}",
        "{\"status\":\"500\",\"data\":[]}",
        "{\"result\":false,\"message\":\"no code\"}",
        "{\"result\":false,\"returnCode\":\"5x3\"}",
    };
    static const char         err503[] =
        "{\"result\":false,\"returnCode\":\"503\",\"message\":\"验证签名失败\"}";
    carrier_result_t          res;
    mall_err_t                err;
    size_t                    i;

    (void) state;
    assert_int_equal(kd100_parse(err503, strlen(err503), &res, &err),
                     MALL_OK);
    assert_string_equal(res.code, "503");
    assert_null(res.events);
    carrier_result_free(&res);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(kd100_parse(bad[i], strlen(bad[i]), &res, &err),
                         MALL_ERR);
        assert_null(res.events);
        carrier_result_free(&res);
    }
}


static void
test_time(void **state)
{
    int64_t  t;
    char     out[20];

    (void) state;
    assert_int_equal(carrier_time_parse("2026-12-07 08:00:00", &t), MALL_OK);
    assert_int_equal(t, 1796601600);                /* 00:00:00Z */
    carrier_time_format(t, out);
    assert_string_equal(out, "2026-12-07 08:00:00");
    assert_int_equal(carrier_time_parse("2026-12-07T08:00:00", &t),
                     MALL_ERR);
    assert_int_equal(carrier_time_parse("2026-12-07 08:00", &t), MALL_ERR);
    assert_int_equal(carrier_time_parse("2026-13-07 08:00:00", &t),
                     MALL_ERR);
}


static void
test_manual(void **state)
{
    logistics_manual_t   m;
    const char          *field;
    mall_err_t           err;
    cJSON               *b;

    (void) state;
    b = cJSON_Parse("{\"time\":\"2026-12-07 08:00:00\",\"context\":\"到仓\","
                    "\"location\":\"杭州\"}");
    assert_int_equal(logistics_manual_parse(b, 1796601600, &m, &field, &err),
                     MALL_OK);
    assert_int_equal(m.at, 1796601600);
    assert_string_equal(m.location, "杭州");
    cJSON_Delete(b);
    b = cJSON_Parse("{\"time\":1796601600,\"context\":\"x\"}");
    assert_int_equal(logistics_manual_parse(b, 1796601600, &m, &field, &err),
                     MALL_OK);
    assert_string_equal(m.location, "");
    cJSON_Delete(b);
    b = cJSON_Parse("{\"time\":1796601600,\"context\":\"\"}");
    assert_int_equal(logistics_manual_parse(b, 1796601600, &m, &field, &err),
                     MALL_ERR);
    assert_string_equal(field, "context");
    cJSON_Delete(b);
    b = cJSON_Parse("{\"time\":1999999999,\"context\":\"future\"}");
    assert_int_equal(logistics_manual_parse(b, 1796601600, &m, &field, &err),
                     MALL_ERR);
    assert_string_equal(field, "time");
    cJSON_Delete(b);
    b = cJSON_Parse("{\"time\":1796601600,\"context\":\"x\",\"location\":7}");
    assert_int_equal(logistics_manual_parse(b, 1796601600, &m, &field, &err),
                     MALL_ERR);
    assert_string_equal(field, "location");
    cJSON_Delete(b);
}


static void
test_merge(void **state)
{
    redisReply   e0, e1, *els[2], manual;
    const char  *m0 = "{\"at\":150,\"context\":\"manual mid\"}";
    const char  *m1 = "{\"at\":300,\"context\":\"manual newest\","
                      "\"location\":\"A\"}";
    cJSON       *carrier, *tl;

    (void) state;
    carrier = cJSON_Parse("[{\"at\":200,\"context\":\"c new\"},"
                          "{\"at\":100,\"context\":\"c old\"}]");
    memset(&manual, 0, sizeof(manual));
    memset(&e0, 0, sizeof(e0));
    memset(&e1, 0, sizeof(e1));
    e0.type = e1.type = REDIS_REPLY_STRING;
    e0.str = (char *) m0;
    e0.len = strlen(m0);
    e1.str = (char *) m1;
    e1.len = strlen(m1);
    els[0] = &e0;
    els[1] = &e1;
    manual.type = REDIS_REPLY_ARRAY;
    manual.elements = 2;
    manual.element = els;
    tl = logistics_merge(carrier, &manual);
    assert_non_null(tl);
    assert_int_equal(cJSON_GetArraySize(tl), 4);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(tl, 0),
                        "context")->valuestring, "manual newest");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(tl, 0),
                        "source")->valuestring, "merchant");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(tl, 1),
                        "source")->valuestring, "carrier");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(tl, 2),
                        "context")->valuestring, "manual mid");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(tl, 3),
                        "time")->valuestring, "1970-01-01 08:01:40");
    cJSON_Delete(tl);
    tl = logistics_merge(NULL, NULL);
    assert_int_equal(cJSON_GetArraySize(tl), 0);
    cJSON_Delete(tl);
    cJSON_Delete(carrier);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_sign),
        cmocka_unit_test(test_form),
        cmocka_unit_test(test_parse_ok),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_manual),
        cmocka_unit_test(test_merge),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
