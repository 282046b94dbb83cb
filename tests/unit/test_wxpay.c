/*
 * WeChat Pay v3 pure code with fixed vectors: the strings that are signed,
 * SHA256withRSA against signatures made by the openssl command line, the
 * published AEAD_AES_256_GCM SDK vector, the Authorization header, the
 * checks of a signed notification, RFC 3339 / Beijing days, notification
 * envelopes and Pay objects, and the trade bill.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "mall_b64.h"
#include "wxpay_bill.h"
#include "wxpay_crypto.h"
#include "wxpay_resource.h"
#include "wxpay_time.h"
#include "wxpay_test_key.h"

/* openssl dgst -sha256 -sign of the two messages below with the test key */
static const char  req_sig[] =
    "LeizPuFAZr4IMxKGRIAU/AMTT7toRoCdYLDHuzby68fno8+bwlNfiIHUUotNxAMJr2ESMYy"
    "NGrZzjszIyQF4uiYCnbnRkw0bQm26f9YIWU8I29qOP7GloaFz5ngjUIYooe3juAgE7jFRYu"
    "eUAKAqX63umOhdkVN9bIpiVJgbdUrm+IZSDx/AydPoTJviXQ8TbP62fExN71bKWOWsV0GY1"
    "RwA3HwjVOiwJE8v8pex+XT+1H8lLUXjXP4jD7E53qVDxm28KDQHPZELGawZ7zCFccP+og/b"
    "Oxox9HJdOj7WzvXIEo/tJxBLBkpEczmlf0+9LNSNferlvAPlfY/jC83JGA==";
static const char  pay_sig[] =
    "L2DiTF4+GRGK59TNMPcJ4iXscKi2NvpLw5CrHrrHQWlRh3GAp01GcExLiAHneiBDT+izM/K"
    "/rs58w3QO2f7AYVz3P0muuq1Q03gre3pPHgUOXtfutSe4WTUsMOVYgqkHgNNo3Mgd5AnTQ9"
    "Zb/Y/8a4mYGWH33HPy85yFiK9heo+e3fp8AA03yicf9lF2XZZGHROFgXZmsGcd0pkznYkZE"
    "uHURyOugzNZOTTPr9+0+oslsR/h6ZyBCaU657nMNUsb2g6FcKE5zb6oEC6Qyro/gez89TCV"
    "u9+s0ftpRgz/We573X/5ONDJzVv2Opze+L5qjCxeT1+UjAjs1DHqaGFkNw==";

#define REQ_BODY  "{\"appid\":\"wxd678efh567hg6787\"}"
#define REQ_MSG   "POST\n/v3/pay/transactions/jsapi\n1554208460\n" \
                  "593BEC0C930BF1AFEB40B4A08C8FB242\n" REQ_BODY "\n"
#define PAY_PKG   "prepay_id=wx201410272009395522657a690389285100"
#define PAY_MSG   "wx8888888888888888\n1414561699\n" \
                  "5K8264ILTKCH16CQ2502SI8ZNMTM67VS\n" PAY_PKG "\n"


static EVP_PKEY *
load(const char *pem, int private)
{
    BIO       *bio = BIO_new_mem_buf(pem, -1);
    EVP_PKEY  *k;

    k = private ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)
                : PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    BIO_free(bio);
    assert_non_null(k);
    return k;
}


static void
test_messages(void **state)
{
    mall_buf_t  b;

    (void) state;
    mall_buf_init(&b);
    wxpay_request_message(&b, "POST", "/v3/pay/transactions/jsapi",
                          "1554208460", "593BEC0C930BF1AFEB40B4A08C8FB242",
                          REQ_BODY, strlen(REQ_BODY));
    assert_int_equal(b.len, strlen(REQ_MSG));
    assert_memory_equal(b.p, REQ_MSG, b.len);
    mall_buf_free(&b);

    /* a GET has an empty body: the string ends "NONCE\n\n" */
    mall_buf_init(&b);
    wxpay_request_message(&b, "GET", "/v3/x?mchid=1", "1", "N", NULL, 0);
    assert_int_equal(b.len, strlen("GET\n/v3/x?mchid=1\n1\nN\n\n"));
    assert_memory_equal(b.p, "GET\n/v3/x?mchid=1\n1\nN\n\n", b.len);
    mall_buf_free(&b);

    mall_buf_init(&b);
    wxpay_response_message(&b, "1", "N", "", 0);
    assert_memory_equal(b.p, "1\nN\n\n", 5);
    assert_int_equal(b.len, 5);
    mall_buf_free(&b);

    mall_buf_init(&b);
    wxpay_paysign_message(&b, "wx8888888888888888", "1414561699",
                          "5K8264ILTKCH16CQ2502SI8ZNMTM67VS", PAY_PKG);
    assert_int_equal(b.len, strlen(PAY_MSG));
    assert_memory_equal(b.p, PAY_MSG, b.len);
    mall_buf_free(&b);
}


/* PKCS#1 v1.5 is deterministic: our signature is openssl's, byte for byte */
static void
test_rsa_vectors(void **state)
{
    EVP_PKEY  *priv = load(test_rsa_private, 1);
    EVP_PKEY  *pub = load(test_rsa_public, 0);
    char       sig[WXPAY_SIG_B64_MAX], bad[WXPAY_SIG_B64_MAX];

    (void) state;
    assert_int_equal(wxpay_rsa_sign(priv, REQ_MSG, strlen(REQ_MSG), sig,
                                    sizeof(sig)), MALL_OK);
    assert_string_equal(sig, req_sig);
    assert_int_equal(wxpay_rsa_sign(priv, PAY_MSG, strlen(PAY_MSG), sig,
                                    sizeof(sig)), MALL_OK);
    assert_string_equal(sig, pay_sig);

    assert_true(wxpay_rsa_verify(pub, REQ_MSG, strlen(REQ_MSG), req_sig,
                                 strlen(req_sig)));
    /* another message, a flipped bit, garbage, empty: refused */
    assert_false(wxpay_rsa_verify(pub, PAY_MSG, strlen(PAY_MSG), req_sig,
                                  strlen(req_sig)));
    memcpy(bad, req_sig, sizeof(req_sig));
    bad[10] = bad[10] == 'A' ? 'B' : 'A';
    assert_false(wxpay_rsa_verify(pub, REQ_MSG, strlen(REQ_MSG), bad,
                                  strlen(bad)));
    assert_false(wxpay_rsa_verify(pub, REQ_MSG, strlen(REQ_MSG), "!!", 2));
    assert_false(wxpay_rsa_verify(pub, REQ_MSG, strlen(REQ_MSG), "", 0));
    assert_false(wxpay_rsa_verify(NULL, REQ_MSG, strlen(REQ_MSG), req_sig,
                                  strlen(req_sig)));
    EVP_PKEY_free(priv);
    EVP_PKEY_free(pub);
}


static void
test_authorization(void **state)
{
    char  out[512];

    (void) state;
    assert_int_equal(wxpay_authorization(out, sizeof(out), "1900009191",
                                         "1DDE55AD98ED71D6EDD4A4A16996DE7B4"
                                         "7773A8C", "593BEC0C930BF1AFEB40B4"
                                         "A08C8FB242", "1554208460", "c2ln"),
                     MALL_OK);
    assert_string_equal(out, "WECHATPAY2-SHA256-RSA2048 mchid=\"1900009191\","
                        "nonce_str=\"593BEC0C930BF1AFEB40B4A08C8FB242\","
                        "timestamp=\"1554208460\",serial_no=\"1DDE55AD98ED71"
                        "D6EDD4A4A16996DE7B47773A8C\",signature=\"c2ln\"");
    assert_int_equal(wxpay_authorization(out, 40, "1", "2", "3", "4", "5"),
                     MALL_ERR);
}


/* the SDKs' published vector (AES-128-GCM with a 16-byte key) */
static void
test_aead_vector(void **state)
{
    const char  *key = "testAPIv3Key0000", *aad =
        "Dl56FrqWQJF1t9LtC3vEUsniZKvbqdR8";
    const char  *ct = "FsdXzxryWfKwvLJKf8LG/ToRPTRh8RN9wROC";
    char        *out, tampered[64];
    size_t       len;

    (void) state;
    assert_int_equal(wxpay_aead_open((const uint8_t *) key, 16,
                                     "wCq51qZv4Yfg", 12, aad, strlen(aad), ct,
                                     strlen(ct), &out, &len), MALL_OK);
    assert_int_equal(len, 11);
    assert_string_equal(out, "Hello World");
    free(out);

    /* wrong AAD, tampered ciphertext, wrong nonce, bad key length */
    assert_int_equal(wxpay_aead_open((const uint8_t *) key, 16,
                                     "wCq51qZv4Yfg", 12, "x", 1, ct,
                                     strlen(ct), &out, &len), MALL_ERR);
    snprintf(tampered, sizeof(tampered), "%s", ct);
    tampered[3] = tampered[3] == 'X' ? 'Y' : 'X';
    assert_int_equal(wxpay_aead_open((const uint8_t *) key, 16,
                                     "wCq51qZv4Yfg", 12, aad, strlen(aad),
                                     tampered, strlen(tampered), &out, &len),
                     MALL_ERR);
    assert_int_equal(wxpay_aead_open((const uint8_t *) key, 16,
                                     "wCq51qZv4Yfh", 12, aad, strlen(aad), ct,
                                     strlen(ct), &out, &len), MALL_ERR);
    assert_int_equal(wxpay_aead_open((const uint8_t *) key, 15,
                                     "wCq51qZv4Yfg", 12, aad, strlen(aad), ct,
                                     strlen(ct), &out, &len), MALL_ERR);
    /* shorter than a tag */
    assert_int_equal(wxpay_aead_open((const uint8_t *) key, 16,
                                     "wCq51qZv4Yfg", 12, aad, strlen(aad),
                                     "AAAA", 4, &out, &len), MALL_ERR);
    assert_null(out);
}


static void
test_serials(void **state)
{
    (void) state;
    assert_true(wxpay_serial_equal("5157F09EFDC096DE15EBE81A47057A72",
                                   "005157f09efdc096de15ebe81a47057a72"));
    assert_false(wxpay_serial_equal("5157F09EFDC096DE15EBE81A47057A72",
                                    "5157F09EFDC096DE15EBE81A47057A73"));
    assert_true(wxpay_serial_equal("PUB_KEY_ID_0114232134912410000",
                                   "PUB_KEY_ID_0114232134912410000"));
    assert_false(wxpay_serial_equal("PUB_KEY_ID_0114232134912410000",
                                    "pub_key_id_0114232134912410000"));
    assert_false(wxpay_serial_equal("ABC", "ABCD"));
    assert_false(wxpay_serial_equal("XYZ", "XYZ"));       /* not hex */
    assert_false(wxpay_serial_equal("", ""));
}


/* A notification signed now by the test key, then every kind of refusal. */
static void
test_verify(void **state)
{
    EVP_PKEY        *priv = load(test_rsa_private, 1);
    wxpay_pubkey_t   keys[2];
    wxpay_signed_t   h;
    mall_buf_t       msg;
    char             sig[WXPAY_SIG_B64_MAX], bad[WXPAY_SIG_B64_MAX + 32];
    const char      *body = "{\"id\":\"EV-1\"}";

    (void) state;
    keys[0].id = "PUB_KEY_ID_0000000000000000000001";
    keys[0].key = load(test_rsa_public, 0);
    keys[1].id = "PUB_KEY_ID_0000000000000000000002";
    keys[1].key = EVP_RSA_gen(2048);            /* another key */
    assert_non_null(keys[1].key);
    mall_buf_init(&msg);
    wxpay_response_message(&msg, "1700000000", "NONCE", body, strlen(body));
    assert_int_equal(wxpay_rsa_sign(priv, msg.p, msg.len, sig, sizeof(sig)),
                     MALL_OK);
    mall_buf_free(&msg);

    h.timestamp = "1700000000";
    h.nonce = "NONCE";
    h.signature = sig;
    h.serial = keys[0].id;
    assert_int_equal(wxpay_verify(keys, 2, &h, body, strlen(body),
                                  1700000100, 300), WXPAY_SIG_OK);
    /* stale (or from the future) */
    assert_int_equal(wxpay_verify(keys, 2, &h, body, strlen(body),
                                  1700000301, 300), WXPAY_SIG_STALE);
    assert_int_equal(wxpay_verify(keys, 2, &h, body, strlen(body),
                                  1699999699, 300), WXPAY_SIG_STALE);
    /* the body changed by one byte */
    assert_int_equal(wxpay_verify(keys, 2, &h, "{\"id\":\"EV-2\"}",
                                  strlen(body), 1700000000, 300),
                     WXPAY_SIG_BAD);
    /* signed with the other key's name: that key does not verify it */
    h.serial = "PUB_KEY_ID_0000000000000000000002";
    assert_int_equal(wxpay_verify(keys, 2, &h, body, strlen(body),
                                  1700000000, 300), WXPAY_SIG_BAD);
    h.serial = "PUB_KEY_ID_9999";
    assert_int_equal(wxpay_verify(keys, 2, &h, body, strlen(body),
                                  1700000000, 300), WXPAY_SIG_UNKNOWN_KEY);
    h.serial = keys[0].id;
    snprintf(bad, sizeof(bad), "WECHATPAY/SIGNTEST/%s", sig);
    h.signature = bad;
    assert_int_equal(wxpay_verify(keys, 2, &h, body, strlen(body),
                                  1700000000, 300), WXPAY_SIG_SIGNTEST);
    h.signature = sig;
    h.timestamp = "17000000x0";
    assert_int_equal(wxpay_verify(keys, 2, &h, body, strlen(body),
                                  1700000000, 300), WXPAY_SIG_MISSING);
    h.timestamp = NULL;
    assert_int_equal(wxpay_verify(keys, 2, &h, body, strlen(body),
                                  1700000000, 300), WXPAY_SIG_MISSING);
    assert_string_equal(wxpay_sig_name(WXPAY_SIG_SIGNTEST), "signtest");
    EVP_PKEY_free(keys[0].key);
    EVP_PKEY_free(keys[1].key);
    EVP_PKEY_free(priv);
}


static void
test_times(void **state)
{
    char     out[WXPAY_TIME_MAX], day[11], key[9];
    int64_t  t, m;

    (void) state;
    assert_int_equal(wxpay_time_parse("2018-06-08T10:34:56+08:00", &t),
                     MALL_OK);
    assert_int_equal(t, 1528425296);
    assert_int_equal(wxpay_time_parse("2018-06-08T02:34:56Z", &t), MALL_OK);
    assert_int_equal(t, 1528425296);
    assert_int_equal(wxpay_time_parse("2018-06-08T02:34:56.123Z", &t),
                     MALL_OK);
    assert_int_equal(t, 1528425296);
    assert_int_equal(wxpay_time_parse("2018-06-07T21:34:56-05:00", &t),
                     MALL_OK);
    assert_int_equal(t, 1528425296);
    assert_int_equal(wxpay_time_parse("2018-06-08 10:34:56+08:00", &t),
                     MALL_ERR);
    assert_int_equal(wxpay_time_parse("2018-06-08T10:34:56", &t), MALL_ERR);
    assert_int_equal(wxpay_time_parse("2018-13-08T10:34:56Z", &t), MALL_ERR);
    assert_int_equal(wxpay_time_parse("2018-06-08T10:34:56+08:00x", &t),
                     MALL_ERR);

    wxpay_time_format(1528425296, out);
    assert_string_equal(out, "2018-06-08T10:34:56+08:00");
    /* 23:59:59 UTC is the next day in Beijing */
    wxpay_day_iso(1528502399, day);
    assert_string_equal(day, "2018-06-09");
    wxpay_day_key(1528502399, key);
    assert_string_equal(key, "20180609");
    assert_int_equal(wxpay_day_parse("2018-06-09", &m), MALL_OK);
    assert_int_equal(m, 1528473600);          /* 2018-06-08T16:00:00Z */
    assert_int_equal(wxpay_day_parse("2018-02-30", &m), MALL_ERR);
    assert_int_equal(wxpay_day_parse("2018-6-09", &m), MALL_ERR);
}


/* A notification envelope around the published vector's resource. */
static void
test_event_open(void **state)
{
    const char  *body =
        "{\"id\":\"EV-018352569\",\"create_time\":\"2015-05-20T13:29:35+08:00\","
        "\"resource_type\":\"encrypt-resource\",\"event_type\":"
        "\"TRANSACTION.SUCCESS\",\"summary\":\"支付成功\",\"resource\":{"
        "\"original_type\":\"transaction\",\"algorithm\":\"AEAD_AES_256_GCM\","
        "\"ciphertext\":\"FsdXzxryWfKwvLJKf8LG/ToRPTRh8RN9wROC\","
        "\"associated_data\":\"Dl56FrqWQJF1t9LtC3vEUsniZKvbqdR8\","
        "\"nonce\":\"wCq51qZv4Yfg\"}}";
    wxpay_event_t  ev;
    mall_err_t     err;

    (void) state;
    assert_int_equal(wxpay_event_open((const uint8_t *) "testAPIv3Key0000",
                                      16, body, strlen(body), &ev, &err),
                     MALL_OK);
    assert_string_equal(ev.id, "EV-018352569");
    assert_string_equal(ev.event_type, "TRANSACTION.SUCCESS");
    assert_string_equal(ev.original_type, "transaction");
    assert_string_equal(ev.plain, "Hello World");
    wxpay_event_free(&ev);
    /* another key; not JSON; no resource */
    assert_int_equal(wxpay_event_open((const uint8_t *) "testAPIv3Key0001",
                                      16, body, strlen(body), &ev, &err),
                     MALL_ERR);
    assert_int_equal(wxpay_event_open((const uint8_t *) "testAPIv3Key0000",
                                      16, "[]", 2, &ev, &err), MALL_ERR);
    assert_int_equal(wxpay_event_open((const uint8_t *) "testAPIv3Key0000",
                                      16, "{\"id\":\"1\",\"event_type\":\"x\","
                                      "\"resource_type\":\"encrypt-resource\""
                                      "}", 66, &ev, &err), MALL_ERR);
}


static void
test_objects(void **state)
{
    const char  *txn =
        "{\"appid\":\"wxd678efh567hg6787\",\"mchid\":\"1230000109\","
        "\"out_trade_no\":\"1217752501201407033233368018\","
        "\"transaction_id\":\"1217752501201407033233368018\","
        "\"trade_type\":\"JSAPI\",\"trade_state\":\"SUCCESS\","
        "\"bank_type\":\"CMC\",\"success_time\":\"2018-06-08T10:34:56+08:00\","
        "\"payer\":{\"openid\":\"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o\"},"
        "\"amount\":{\"total\":100,\"payer_total\":100,\"currency\":\"CNY\"}}";
    const char  *refund =
        "{\"mchid\":\"1900000100\",\"out_trade_no\":\"20150806125346\","
        "\"transaction_id\":\"1217752501201407033233368018\","
        "\"out_refund_no\":\"1217752501201407033233368018\","
        "\"refund_id\":\"1217752501201407033233368018\","
        "\"refund_status\":\"SUCCESS\",\"success_time\":"
        "\"2018-06-08T10:34:56+08:00\",\"amount\":{\"total\":999,"
        "\"refund\":999,\"payer_total\":999,\"payer_refund\":999}}";
    wxpay_txn_t     t;
    wxpay_refund_t  r;
    mall_err_t      err;

    (void) state;
    assert_int_equal(wxpay_txn_parse_text(txn, strlen(txn), &t, &err),
                     MALL_OK);
    assert_string_equal(t.trade_state, "SUCCESS");
    assert_int_equal(t.total, 100);
    assert_string_equal(t.currency, "CNY");
    assert_int_equal(wxpay_refund_parse_text(refund, strlen(refund), &r,
                                             &err), MALL_OK);
    assert_string_equal(r.status, "SUCCESS");
    assert_int_equal(r.refund, 999);
    /* amounts must be whole fen; required members must be there */
    assert_int_equal(wxpay_txn_parse_text("{\"appid\":\"a\",\"mchid\":\"m\","
                                          "\"out_trade_no\":\"o\","
                                          "\"trade_state\":\"SUCCESS\","
                                          "\"amount\":{\"total\":1.5}}", 91,
                                          &t, &err), MALL_ERR);
    assert_int_equal(wxpay_txn_parse_text("{\"appid\":\"a\"}", 13, &t, &err),
                     MALL_ERR);
    assert_int_equal(wxpay_refund_parse_text("{}", 2, &r, &err), MALL_ERR);
}


static const char  bill[] =
    "\xEF\xBB\xBF交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,"
    "用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,"
    "商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,"
    "费率,订单金额,申请退款金额,费率备注\r\n"
    "`2026-12-07 10:00:00,`wx1,`1900000109,`0,`,`4200001,`O1,`oX,`JSAPI,"
    "`SUCCESS,`OTHERS,`CNY,`12.34,`0.00,`0,`0,`0.00,`0.00,`,`,`Tea, green,`,"
    "`0.07404,`0.60%,`12.34,`0.00,`\r\n"
    "`2026-12-07 11:00:00,`wx1,`1900000109,`0,`,`4200001,`O1,`oX,`JSAPI,"
    "`REFUND,`OTHERS,`CNY,`12.34,`0.00,`5001,`O1R1,`2.00,`0.00,`ORIGINAL,"
    "`SUCCESS,`Tea,`,`-0.01200,`0.60%,`12.34,`2.00,`\r\n"
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,"
    "申请退款总金额\r\n"
    "`2,`12.34,`2.00,`0.00,`0.06204,`12.34,`2.00\r\n";


static void
test_bill(void **state)
{
    wxpay_bill_t  b;
    mall_err_t    err;
    int64_t       fen;
    char         *cut;

    (void) state;
    assert_int_equal(wxpay_bill_parse(bill, sizeof(bill) - 1, &b, &err),
                     MALL_OK);
    assert_int_equal(b.n, 2);
    assert_string_equal(b.rows[0].out_trade_no, "O1");
    assert_string_equal(b.rows[0].transaction_id, "4200001");
    assert_string_equal(b.rows[0].state, "SUCCESS");
    assert_int_equal(b.rows[0].total_fen, 1234);
    assert_string_equal(b.rows[1].state, "REFUND");
    assert_string_equal(b.rows[1].out_refund_no, "O1R1");
    assert_string_equal(b.rows[1].refund_id, "5001");
    assert_int_equal(b.rows[1].refund_fen, 200);
    wxpay_bill_free(&b);

    /* a summary that does not count the lines; no summary at all */
    cut = strdup(bill);
    cut[strlen(cut) - strlen("`2,`12.34,`2.00,`0.00,`0.06204,`12.34,`2.00\r\n")]
        = '\0';
    assert_int_equal(wxpay_bill_parse(cut, strlen(cut), &b, &err), MALL_ERR);
    strcat(cut, "`3,`12.34,`2.00,`0.00,`0.06204,`12.34,`2.00\r\n");
    assert_int_equal(wxpay_bill_parse(cut, strlen(cut), &b, &err), MALL_ERR);
    free(cut);
    assert_int_equal(wxpay_bill_parse("", 0, &b, &err), MALL_ERR);

    assert_int_equal(wxpay_yuan_to_fen("`0.01", 5, &fen), MALL_OK);
    assert_int_equal(fen, 1);
    assert_int_equal(wxpay_yuan_to_fen("12", 2, &fen), MALL_OK);
    assert_int_equal(fen, 1200);
    assert_int_equal(wxpay_yuan_to_fen("1.5", 3, &fen), MALL_OK);
    assert_int_equal(fen, 150);
    assert_int_equal(wxpay_yuan_to_fen("1.234", 5, &fen), MALL_ERR);
    assert_int_equal(wxpay_yuan_to_fen("-1.00", 5, &fen), MALL_ERR);
    assert_int_equal(wxpay_yuan_to_fen("1.", 2, &fen), MALL_ERR);
    assert_int_equal(wxpay_yuan_to_fen(".5", 2, &fen), MALL_ERR);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_messages),
        cmocka_unit_test(test_rsa_vectors),
        cmocka_unit_test(test_authorization),
        cmocka_unit_test(test_aead_vector),
        cmocka_unit_test(test_serials),
        cmocka_unit_test(test_verify),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_event_open),
        cmocka_unit_test(test_objects),
        cmocka_unit_test(test_bill),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
