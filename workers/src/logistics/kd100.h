/*
 * The Kuaidi100 real-time query protocol (实时快递查询), pure code:
 *
 *   POST {base}/poll/query.do
 *   Content-Type: application/x-www-form-urlencoded
 *   customer=C&sign=S&param=P
 *
 * P is JSON {"com","num"[,"phone"]}; S = upper(hex(MD5(P + key + C))).
 * The answer is JSON, HTTP 200 either way:
 *   {"message":"ok","status":"200","state":"0".."14","ischeck":"0|1",
 *    "condition","com","nu","data":[{"time","ftime","context",
 *    "location"?}, ...]}  (newest first)
 *   {"result":false,"returnCode":"400|408|500|501|502|503|601",
 *    "message"}
 * (fuzzed: tests/fuzz/fuzz_carrier.c; unit: tests/unit/test_carrier.c)
 */
#ifndef KD100_H
#define KD100_H

#include <stddef.h>

#include "carrier.h"
#include "mall_buf.h"

#define KD100_PATH      "/poll/query.do"
#define KD100_SIGN_LEN  32

/*
 * 1 when Kuaidi100 requires the receiver's phone for carrier (SF Express:
 * shunfeng, shunfengkuaiyun, shunfenglengyun); the query sends it only
 * then, and only its last four digits, which the API accepts.
 */
int kd100_needs_phone(const char *carrier);

/* The sign of param for customer/key: 32 uppercase hex digits + NUL. */
int kd100_sign(const char *param, const char *key, const char *customer,
    char out[KD100_SIGN_LEN + 1]);

/*
 * The form body of one query into b (b->oom on failure); q->phone goes
 * in only when kd100_needs_phone(q->carrier). MALL_OK, or MALL_ERR when
 * the param JSON or the sign cannot be made.
 */
int kd100_form(const carrier_query_t *q, const char *customer,
    const char *key, mall_buf_t *b);

/*
 * Reads an answer body (untrusted bytes). MALL_OK: res holds the events
 * (state, delivered) or an error answer's code and message. MALL_ERR: not
 * an answer of this protocol (err says why). res is always released with
 * carrier_result_free.
 */
int kd100_parse(const char *body, size_t len, carrier_result_t *res,
    mall_err_t *err);

#endif
