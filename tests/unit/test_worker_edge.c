/*
 * Edge trust in the worker: a request signed with a configured key is
 * accepted and yields the identity; any change to a signed field, a wrong
 * or unknown kid, a stale timestamp or a missing header is refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "mall_crypto.h"
#include "mall_edge_sig.h"
#include "mall_edge.h"

#define NOW  1732500000

static mall_conf_t        conf;
static char               sig[MALL_EDGE_SIG_LEN + 1];
static mall_edge_input_t  in;
static const char         body[] = "{\"items\":[{\"sku_id\":1}]}";


/* Signs the current `in` with key k; stores the signature in sig. */
static void
sign_with(const mall_edge_key_t *k)
{
    mall_edge_fields_t  f;
    char                hex[MALL_SHA256_HEX_LEN];

    mall_sha256_hex(in.body, in.body_len, hex);
    memset(&f, 0, sizeof(f));
    f.method = in.method; f.method_len = strlen(in.method);
    f.uri = in.uri; f.uri_len = strlen(in.uri);
    f.request_id = in.request_id; f.request_id_len = strlen(in.request_id);
    f.client_ip = in.client_ip; f.client_ip_len = strlen(in.client_ip);
    f.user = in.user; f.user_len = strlen(in.user);
    f.role = in.role; f.role_len = strlen(in.role);
    f.token_id = in.token_id; f.token_id_len = strlen(in.token_id);
    f.token_exp = in.token_exp; f.token_exp_len = strlen(in.token_exp);
    f.ts = in.ts; f.ts_len = strlen(in.ts);
    if (in.idem_key != NULL) {
        f.idem_key = in.idem_key; f.idem_key_len = strlen(in.idem_key);
    }
    f.body_sha256_hex = hex;
    assert_int_equal(mall_edge_sign(k->key, k->key_len, &f, sig), 0);
    sig[MALL_EDGE_SIG_LEN] = '\0';
    in.signature = sig;
}


static int
setup(void **state)
{
    (void) state;
    mall_conf_init(&conf);
    conf.n_edge_keys = 2;
    strcpy(conf.edge_keys[0].kid, "e1");
    memcpy(conf.edge_keys[0].key, "key-one-0123456789abcdef", 24);
    conf.edge_keys[0].key_len = 24;
    strcpy(conf.edge_keys[1].kid, "e2");
    memcpy(conf.edge_keys[1].key, "key-two-0123456789abcdef", 24);
    conf.edge_keys[1].key_len = 24;

    memset(&in, 0, sizeof(in));
    in.method = "POST";
    in.uri = "/api/v1/orders?x=1";
    in.request_id = "rid-1";
    in.client_ip = "1.0.1.1";
    in.user = "u42";
    in.role = "";
    in.token_id = "jti-9";
    in.token_exp = "1732500600";
    in.ts = "1732500010";
    in.kid = "e1";
    in.body = (const unsigned char *) body;
    in.body_len = sizeof(body) - 1;
    sign_with(&conf.edge_keys[0]);
    return 0;
}


static void
assert_refused(void)
{
    mall_identity_t  id;
    mall_err_t       err;

    assert_int_equal(mall_edge_check(&conf, &in, NOW, &id, &err), MALL_ERR);
    assert_int_equal(id.verified, 0);
    assert_string_equal(id.user, "");
}


static void
test_valid(void **state)
{
    mall_identity_t  id;
    mall_err_t       err;

    (void) state;
    assert_int_equal(mall_edge_check(&conf, &in, NOW, &id, &err), MALL_OK);
    assert_int_equal(id.verified, 1);
    assert_string_equal(id.user, "u42");
    assert_string_equal(id.token_id, "jti-9");
    assert_string_equal(id.token_exp, "1732500600");
    assert_string_equal(id.client_ip, "1.0.1.1");
    assert_string_equal(id.role, "");
}


/*
 * The Idempotency-Key decides which order a request is: one changed,
 * added or removed between the edge and the worker is refused (issue 20,
 * finding 5); absent and empty are the same empty line.
 */
static void
test_idempotency_key_signed(void **state)
{
    mall_identity_t  id;
    mall_err_t       err;

    (void) state;
    in.idem_key = "order-7f3a9c";
    sign_with(&conf.edge_keys[0]);
    assert_int_equal(mall_edge_check(&conf, &in, NOW, &id, &err), MALL_OK);

    in.idem_key = "order-7f3a9d";
    assert_refused();
    in.idem_key = NULL;
    assert_refused();
    in.idem_key = "";
    assert_refused();

    in.idem_key = NULL;
    sign_with(&conf.edge_keys[0]);
    in.idem_key = "order-7f3a9c";
    assert_refused();
    in.idem_key = "";
    assert_int_equal(mall_edge_check(&conf, &in, NOW, &id, &err), MALL_OK);
}


static void
test_second_key(void **state)
{
    mall_identity_t  id;
    mall_err_t       err;

    (void) state;
    in.kid = "e2";
    sign_with(&conf.edge_keys[1]);
    assert_int_equal(mall_edge_check(&conf, &in, NOW, &id, &err), MALL_OK);
    /* signed with e2 but claims e1 */
    in.kid = "e1";
    assert_refused();
}


static void
test_tampered_fields(void **state)
{
    (void) state;
    in.user = "admin";
    assert_refused();
    setup(NULL);
    in.uri = "/api/v1/orders?x=2";
    assert_refused();
    setup(NULL);
    in.method = "GET";
    assert_refused();
    setup(NULL);
    in.role = "admin";
    assert_refused();
    setup(NULL);
    in.body_len--;
    assert_refused();
    setup(NULL);
    in.request_id = "rid-2";
    assert_refused();
    setup(NULL);
    sig[0] = sig[0] == 'A' ? 'B' : 'A';
    assert_refused();
}


static void
test_missing_and_unknown(void **state)
{
    (void) state;
    in.signature = NULL;
    assert_refused();
    setup(NULL);
    in.kid = NULL;
    assert_refused();
    setup(NULL);
    in.ts = NULL;
    assert_refused();
    setup(NULL);
    in.kid = "e9";
    assert_refused();
    setup(NULL);
    in.signature = "short";
    assert_refused();
}


static void
test_clock_skew(void **state)
{
    mall_identity_t  id;
    mall_err_t       err;

    (void) state;
    /* ts = NOW + 10: fine with 60 s, refused with 5 s */
    assert_int_equal(mall_edge_check(&conf, &in, NOW, &id, &err), MALL_OK);
    conf.edge_clock_skew = 5;
    assert_refused();
    conf.edge_clock_skew = 60;
    assert_int_equal(mall_edge_check(&conf, &in, NOW + 70, &id, &err),
                     MALL_OK);
    assert_int_equal(mall_edge_check(&conf, &in, NOW + 71, &id, &err),
                     MALL_ERR);
    assert_int_equal(mall_edge_check(&conf, &in, NOW - 51, &id, &err),
                     MALL_ERR);
    in.ts = "17325000x0";
    assert_refused();
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test_setup(test_valid, setup),
        cmocka_unit_test_setup(test_second_key, setup),
        cmocka_unit_test_setup(test_idempotency_key_signed, setup),
        cmocka_unit_test_setup(test_tampered_fields, setup),
        cmocka_unit_test_setup(test_missing_and_unknown, setup),
        cmocka_unit_test_setup(test_clock_skew, setup),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
