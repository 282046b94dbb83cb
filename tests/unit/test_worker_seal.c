/*
 * mall_seal: AES-256-GCM fields at rest. Round trip, format, tampering,
 * wrong key id, wrong aad, key rotation and the hex key files.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "mall_seal.h"

static mall_seal_key_t  keys[2];


static int
setup(void **state)
{
    (void) state;
    memset(keys, 0, sizeof(keys));
    strcpy(keys[0].id, "d1");
    memset(keys[0].key, 0x11, sizeof(keys[0].key));
    strcpy(keys[1].id, "d2");
    memset(keys[1].key, 0x22, sizeof(keys[1].key));
    return 0;
}


static void
test_round_trip(void **state)
{
    char        sealed[256];
    uint8_t     out[64];
    size_t      len, olen;
    mall_err_t  err;

    (void) state;
    assert_int_equal(mall_seal(&keys[0], "mall:user:1:phone", "13812345678",
                               11, sealed, sizeof(sealed), &len, &err),
                     MALL_OK);
    assert_int_equal(strlen(sealed), len);
    assert_int_equal(len, MALL_SEAL_LEN(2, 11));
    assert_memory_equal(sealed, "d1:", 3);
    assert_null(strstr(sealed, "13812345678"));

    assert_int_equal(mall_unseal(keys, 2, "mall:user:1:phone", sealed, len,
                                 out, sizeof(out), &olen, &err), MALL_OK);
    assert_int_equal(olen, 11);
    assert_string_equal((char *) out, "13812345678");
}


static void
test_nonce_is_random(void **state)
{
    char        a[128], b[128];
    size_t      la, lb;
    mall_err_t  err;

    (void) state;
    assert_int_equal(mall_seal(&keys[0], NULL, "same", 4, a, sizeof(a), &la,
                               &err), MALL_OK);
    assert_int_equal(mall_seal(&keys[0], NULL, "same", 4, b, sizeof(b), &lb,
                               &err), MALL_OK);
    assert_int_equal(la, lb);
    assert_string_not_equal(a, b);
}


static void
test_tamper_refused(void **state)
{
    char        sealed[128];
    uint8_t     out[64];
    size_t      len, olen, i;
    mall_err_t  err;

    (void) state;
    assert_int_equal(mall_seal(&keys[0], "ctx", "secret value", 12, sealed,
                               sizeof(sealed), &len, &err), MALL_OK);

    /* flip a bit in every base64 position in turn (a different valid
     * character): the tag must catch each one */
    for (i = 3; i < len; i++) {
        char saved = sealed[i];
        if (saved == '=') {
            continue;
        }
        sealed[i] = saved == 'A' ? 'B' : 'A';
        assert_int_equal(mall_unseal(keys, 2, "ctx", sealed, len, out,
                                     sizeof(out), &olen, &err), MALL_ERR);
        sealed[i] = saved;
    }
    /* truncated */
    assert_int_equal(mall_unseal(keys, 2, "ctx", sealed, len - 4, out,
                                 sizeof(out), &olen, &err), MALL_ERR);
    /* wrong aad: a value moved to another field or user */
    assert_int_equal(mall_unseal(keys, 2, "other", sealed, len, out,
                                 sizeof(out), &olen, &err), MALL_ERR);
    /* still fine untouched */
    assert_int_equal(mall_unseal(keys, 2, "ctx", sealed, len, out,
                                 sizeof(out), &olen, &err), MALL_OK);
}


static void
test_wrong_key_id(void **state)
{
    char        sealed[128];
    uint8_t     out[64];
    size_t      len, olen;
    mall_err_t  err;

    (void) state;
    assert_int_equal(mall_seal(&keys[1], NULL, "v", 1, sealed,
                               sizeof(sealed), &len, &err), MALL_OK);
    /* d2 not in the ring: unknown id */
    assert_int_equal(mall_unseal(keys, 1, NULL, sealed, len, out,
                                 sizeof(out), &olen, &err), MALL_ERR);
    assert_non_null(strstr(err.msg, "unknown key id"));
    /* id relabelled to d1: the wrong key fails authentication */
    sealed[1] = '1';
    assert_int_equal(mall_unseal(keys, 2, NULL, sealed, len, out,
                                 sizeof(out), &olen, &err), MALL_ERR);
    /* no id at all */
    assert_int_equal(mall_unseal(keys, 2, NULL, "abc", 3, out, sizeof(out),
                                 &olen, &err), MALL_ERR);
}


static void
test_rotation_reads_old_keys(void **state)
{
    char        sealed[128];
    uint8_t     out[64];
    size_t      len, olen;
    mall_err_t  err;

    (void) state;
    assert_int_equal(mall_seal(&keys[1], NULL, "old", 3, sealed,
                               sizeof(sealed), &len, &err), MALL_OK);
    assert_int_equal(mall_unseal(keys, 2, NULL, sealed, len, out,
                                 sizeof(out), &olen, &err), MALL_OK);
    assert_memory_equal(out, "old", 3);
}


static void
test_small_buffers(void **state)
{
    char        sealed[128];
    uint8_t     out[4];
    size_t      len, olen;
    mall_err_t  err;

    (void) state;
    assert_int_equal(mall_seal(&keys[0], NULL, "0123456789", 10, sealed,
                               MALL_SEAL_LEN(2, 10), &len, &err), MALL_ERR);
    assert_int_equal(mall_seal(&keys[0], NULL, "0123456789", 10, sealed,
                               MALL_SEAL_LEN(2, 10) + 1, &len, &err),
                     MALL_OK);
    assert_int_equal(mall_unseal(keys, 2, NULL, sealed, len, out,
                                 sizeof(out), &olen, &err), MALL_ERR);
}


static void
test_hex_keys(void **state)
{
    uint8_t  k[32];
    const char *hex =
        "000102030405060708090a0b0c0d0e0f101112131415161718191A1B1C1D1E1F";

    (void) state;
    assert_int_equal(mall_seal_key_from_hex(hex, 64, k), MALL_OK);
    assert_int_equal(k[0], 0);
    assert_int_equal(k[31], 0x1f);
    assert_int_equal(mall_seal_key_from_hex(hex, 63, k), MALL_ERR);
    assert_int_equal(mall_seal_key_from_hex(
        "zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        64, k), MALL_ERR);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test_setup(test_round_trip, setup),
        cmocka_unit_test_setup(test_nonce_is_random, setup),
        cmocka_unit_test_setup(test_tamper_refused, setup),
        cmocka_unit_test_setup(test_wrong_key_id, setup),
        cmocka_unit_test_setup(test_rotation_reads_old_keys, setup),
        cmocka_unit_test_setup(test_small_buffers, setup),
        cmocka_unit_test_setup(test_hex_keys, setup),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
