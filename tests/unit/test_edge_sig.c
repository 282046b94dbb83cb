/* Unit tests of lib/mall_edge_sig.c against sign_vectors.py's vector. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "mall_crypto.h"
#include "mall_edge_sig.h"

/* EDGE_KEY / EDGE_FIELDS in sign_vectors.py */
#define EDGE_KEY  "e1-edge-key-0123456789abcdef0123456789abcdef0123456789abcdef01"
#define EDGE_SIG  "MmmONgPyQZ1jUHyN6Lss0LZFcENEb9ofrJ8UavPPDIk"

#define FIELD(f, name, s)  ((f)->name = (s), (f)->name##_len = strlen(s))

static char  body_hex[MALL_SHA256_HEX_LEN + 1];


static void
fields_init(mall_edge_fields_t *f)
{
    mall_sha256_hex("{\"a\":1}", 7, body_hex);
    body_hex[64] = '\0';

    FIELD(f, method, "POST");
    FIELD(f, uri, "/api/v1/orders?x=1");
    FIELD(f, request_id, "req-0001");
    FIELD(f, client_ip, "1.0.1.1");
    FIELD(f, user, "u-42");
    FIELD(f, role, "");
    FIELD(f, token_id, "tok-7Hq2ZpX9");
    FIELD(f, token_exp, "1700003600");
    FIELD(f, ts, "1700000001");
    FIELD(f, idem_key, "idem-7f3a9c");
    f->body_sha256_hex = body_hex;
    f->risk = NULL;                     /* untagged */
    f->risk_len = 0;
}


static void
test_vector(void **state)
{
    mall_edge_fields_t  f;
    char                sig[MALL_EDGE_SIG_LEN];

    (void) state;
    fields_init(&f);
    assert_int_equal(mall_edge_sign((const uint8_t *) EDGE_KEY,
                                    strlen(EDGE_KEY), &f, sig), 0);
    assert_memory_equal(sig, EDGE_SIG, MALL_EDGE_SIG_LEN);
    assert_int_equal(mall_edge_verify((const uint8_t *) EDGE_KEY,
                                      strlen(EDGE_KEY), &f, EDGE_SIG,
                                      strlen(EDGE_SIG)), 1);
}


static void
test_any_changed_field_fails(void **state)
{
    int                 i;
    char                other_hex[MALL_SHA256_HEX_LEN + 1];
    const uint8_t      *key;
    size_t              klen;
    mall_edge_fields_t  f;

    (void) state;
    key = (const uint8_t *) EDGE_KEY;
    klen = strlen(EDGE_KEY);
    mall_sha256_hex("{\"a\":2}", 7, other_hex);

    for (i = 0; i < 14; i++) {
        fields_init(&f);
        switch (i) {
        case 0: FIELD(&f, method, "PUT"); break;
        case 1: FIELD(&f, uri, "/api/v1/orders?x=2"); break;
        case 2: FIELD(&f, request_id, "req-0002"); break;
        case 3: FIELD(&f, client_ip, "8.8.8.8"); break;
        case 4: FIELD(&f, user, "u-43"); break;
        case 5: FIELD(&f, role, "admin"); break;
        case 6: FIELD(&f, token_id, "tok-other"); break;
        case 7: FIELD(&f, token_exp, "1700003601"); break;
        case 8: FIELD(&f, ts, "1700000002"); break;
        case 9: f.body_sha256_hex = other_hex; break;
        /* moving a byte between adjacent fields must not verify */
        case 10: FIELD(&f, user, "u-4"); FIELD(&f, role, "2"); break;
        /*
         * the Idempotency-Key decides which order a request is (issue 20,
         * finding 5): changed, dropped or moved into the timestamp
         */
        case 11: FIELD(&f, idem_key, "idem-7f3a9d"); break;
        case 12: FIELD(&f, idem_key, ""); break;
        case 13: FIELD(&f, ts, "1700000001idem-7f3a9c");
                 FIELD(&f, idem_key, ""); break;
        }
        assert_int_equal(mall_edge_verify(key, klen, &f, EDGE_SIG,
                                          strlen(EDGE_SIG)), 0);
    }

    /* wrong key, truncated or altered signature */
    fields_init(&f);
    assert_int_equal(mall_edge_verify(key, klen - 1, &f, EDGE_SIG,
                                      strlen(EDGE_SIG)), 0);
    assert_int_equal(mall_edge_verify(key, klen, &f, EDGE_SIG,
                                      strlen(EDGE_SIG) - 1), 0);
    assert_int_equal(mall_edge_verify(key, klen, &f, "", 0), 0);
    assert_int_equal(mall_edge_verify(key, klen, &f, NULL, 0), 0);
    {
        char  bad[] = EDGE_SIG;

        bad[5] ^= 1;
        assert_int_equal(mall_edge_verify(key, klen, &f, bad,
                                          strlen(bad)), 0);
    }
}


static void
test_empty_fields_and_limit(void **state)
{
    static char         big[9000];
    char                sig[MALL_EDGE_SIG_LEN];
    mall_edge_fields_t  f;

    (void) state;
    /* NULL pointers with zero length are empty lines */
    memset(&f, 0, sizeof(f));
    f.body_sha256_hex = "e3b0c44298fc1c149afbf4c8996fb924"
                        "27ae41e4649b934ca495991b7852b855";
    assert_int_equal(mall_edge_sign((const uint8_t *) "k", 1, &f, sig), 0);
    assert_int_equal(mall_edge_verify((const uint8_t *) "k", 1, &f, sig,
                                      sizeof(sig)), 1);

    /* more than 8 KB of fields is refused, and never verifies */
    memset(big, 'a', sizeof(big));
    fields_init(&f);
    f.uri = big;
    f.uri_len = sizeof(big);
    assert_int_equal(mall_edge_sign((const uint8_t *) "k", 1, &f, sig), -1);
    assert_int_equal(mall_edge_verify((const uint8_t *) "k", 1, &f, sig,
                                      sizeof(sig)), 0);

    /* just under the limit still signs */
    f.uri_len = 8000;
    assert_int_equal(mall_edge_sign((const uint8_t *) "k", 1, &f, sig), 0);
}


/*
 * X-Mall-Risk: an empty or absent risk signs as before (the vector), a
 * set one is one more signed line, so a forged or dropped tag fails.
 */
static void
test_risk_line(void **state)
{
    const uint8_t       *key = (const uint8_t *) EDGE_KEY;
    size_t               klen = strlen(EDGE_KEY);
    char                 sig[MALL_EDGE_SIG_LEN], tagged[MALL_EDGE_SIG_LEN];
    mall_edge_fields_t   f;

    (void) state;
    memset(&f, 0, sizeof(f));
    fields_init(&f);
    FIELD(&f, risk, "");
    assert_int_equal(mall_edge_sign(key, klen, &f, sig), 0);
    assert_memory_equal(sig, EDGE_SIG, MALL_EDGE_SIG_LEN);

    FIELD(&f, risk, "46;not_wechat,bad_referer,device_users");
    assert_int_equal(mall_edge_sign(key, klen, &f, tagged), 0);
    assert_memory_not_equal(tagged, EDGE_SIG, MALL_EDGE_SIG_LEN);
    assert_int_equal(mall_edge_verify(key, klen, &f, tagged,
                                      MALL_EDGE_SIG_LEN), 1);

    /* a client's own value on a clean signature, or a changed score */
    assert_int_equal(mall_edge_verify(key, klen, &f, EDGE_SIG,
                                      MALL_EDGE_SIG_LEN), 0);
    FIELD(&f, risk, "0;device_users");
    assert_int_equal(mall_edge_verify(key, klen, &f, tagged,
                                      MALL_EDGE_SIG_LEN), 0);

    /* the tag dropped on the way */
    f.risk = NULL;
    f.risk_len = 0;
    assert_int_equal(mall_edge_verify(key, klen, &f, tagged,
                                      MALL_EDGE_SIG_LEN), 0);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vector),
        cmocka_unit_test(test_any_changed_field_fails),
        cmocka_unit_test(test_empty_fields_and_limit),
        cmocka_unit_test(test_risk_line),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
