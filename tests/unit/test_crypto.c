/* Unit tests of lib/mall_crypto.c: FIPS 180 / RFC 4231 vectors. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "mall_b64.h"
#include "mall_crypto.h"


static void
hex_of(const uint8_t *raw, size_t len, char *out)
{
    mall_hex_encode(raw, len, out);
    out[2 * len] = '\0';
}


static void
test_sha256_vectors(void **state)
{
    uint8_t  md[MALL_SHA256_LEN];
    char     hex[MALL_SHA256_HEX_LEN + 1];
    char     million[1000];
    size_t   i;

    (void) state;
    mall_sha256("", 0, md);
    hex_of(md, sizeof(md), hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb924"
                             "27ae41e4649b934ca495991b7852b855");

    mall_sha256("abc", 3, md);
    hex_of(md, sizeof(md), hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223"
                             "b00361a396177a9cb410ff61f20015ad");

    mall_sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                    56, hex);
    hex[64] = '\0';
    assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039"
                             "a33ce45964ff2167f6ecedd419db06c1");

    /* sha256_hex agrees with sha256 + hex on a larger input */
    memset(million, 'a', sizeof(million));
    mall_sha256(million, sizeof(million), md);
    hex_of(md, sizeof(md), hex);
    {
        char  h2[MALL_SHA256_HEX_LEN];

        mall_sha256_hex(million, sizeof(million), h2);
        assert_memory_equal(h2, hex, 64);
    }
    for (i = 0; i < 64; i++) {
        assert_true((hex[i] >= '0' && hex[i] <= '9')
                    || (hex[i] >= 'a' && hex[i] <= 'f'));
    }
}


typedef struct {
    const char  *key_hex;
    const char  *data;
    size_t       data_len;
    const char  *mac_hex;
} hmac_vec_t;


static size_t
unhex(const char *h, uint8_t *out)
{
    size_t        i, n;
    unsigned int  v;

    n = strlen(h) / 2;
    for (i = 0; i < n; i++) {
        sscanf(h + 2 * i, "%2x", &v);
        out[i] = (uint8_t) v;
    }
    return n;
}


static void
test_hmac_rfc4231(void **state)
{
    static const hmac_vec_t  v[] = {
        /* case 1 */
        { "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "Hi There", 8,
          "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7" },
        /* case 2: key shorter than the block */
        { "4a656665", "what do ya want for nothing?", 28,
          "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" },
        /* case 6: key longer than the block is hashed first */
        { "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
          "aaaaaa",
          "Test Using Larger Than Block-Size Key - Hash Key First", 54,
          "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54" },
    };
    uint8_t  key[200], mac[MALL_SHA256_LEN];
    char     hex[65];
    size_t   i, klen;

    (void) state;
    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        klen = unhex(v[i].key_hex, key);
        assert_int_equal(mall_hmac_sha256(key, klen, v[i].data, v[i].data_len,
                                          mac), 0);
        hex_of(mac, sizeof(mac), hex);
        assert_string_equal(hex, v[i].mac_hex);
    }
}


static void
test_hmac_block_size_key(void **state)
{
    /* exactly 64 bytes: used as is (no hashing); 65 bytes: hashed */
    uint8_t  key[65], hkey[MALL_SHA256_LEN], a[32], b[32];

    (void) state;
    memset(key, 0x5a, sizeof(key));
    assert_int_equal(mall_hmac_sha256(key, 65, "x", 1, a), 0);
    mall_sha256(key, 65, hkey);
    assert_int_equal(mall_hmac_sha256(hkey, 32, "x", 1, b), 0);
    assert_memory_equal(a, b, 32);

    assert_int_equal(mall_hmac_sha256(key, 64, "x", 1, a), 0);
    assert_memory_not_equal(a, b, 32);

    /* empty key and empty data are legal */
    assert_int_equal(mall_hmac_sha256("", 0, "", 0, a), 0);
    {
        char  hex[65];

        hex_of(a, 32, hex);
        assert_string_equal(hex, "b613679a0814d9ec772f95d778c35fc5"
                                 "ff1697c493715653c6c712144292c5ad");
    }
}


static void
test_ct_equal(void **state)
{
    (void) state;
    assert_true(mall_ct_equal("abc", 3, "abc", 3));
    assert_false(mall_ct_equal("abc", 3, "abd", 3));
    assert_false(mall_ct_equal("abc", 3, "abcd", 4));
    assert_false(mall_ct_equal("abcd", 4, "abc", 3));
    assert_true(mall_ct_equal("", 0, "", 0));
    assert_false(mall_ct_equal("a", 1, "", 0));
}


/* The prepared key gives the one-shot MAC, and stays reusable. */
static void
test_hmac_prepared_key(void **state)
{
    static const char  *msgs[] = { "", "x", "Hi There",
        "a message that is longer than one SHA-256 block of sixty-four "
        "bytes, so the inner digest needs two compressions at least" };
    size_t              i, klen;
    uint8_t             key[131], a[MALL_SHA256_LEN], b[MALL_SHA256_LEN];
    mall_hmac_key_t     k;

    (void) state;
    for (klen = 0; klen < sizeof(key); klen += 13) {
        memset(key, (int) (0x11 + klen), sizeof(key));
        mall_hmac_key_init(&k, key, klen);

        for (i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
            mall_hmac_sha256_keyed(&k, msgs[i], strlen(msgs[i]), a);
            assert_int_equal(mall_hmac_sha256(key, klen, msgs[i],
                                              strlen(msgs[i]), b), 0);
            assert_memory_equal(a, b, sizeof(a));
        }

        mall_hmac_key_wipe(&k);
    }
}


/* Incremental SHA-256 in uneven pieces equals the one-shot digest. */
static void
test_sha256_incremental(void **state)
{
    size_t              i, cut;
    uint8_t             buf[1000], a[MALL_SHA256_LEN], b[MALL_SHA256_LEN];
    mall_sha256_ctx_t   ctx;

    (void) state;
    for (i = 0; i < sizeof(buf); i++) {
        buf[i] = (uint8_t) (i * 7 + 3);
    }
    mall_sha256(buf, sizeof(buf), a);

    for (cut = 0; cut <= sizeof(buf); cut += 61) {
        mall_sha256_init(&ctx);
        mall_sha256_update(&ctx, buf, cut);
        mall_sha256_update(&ctx, "", 0);
        mall_sha256_update(&ctx, buf + cut, sizeof(buf) - cut);
        mall_sha256_final(&ctx, b);
        assert_memory_equal(a, b, sizeof(a));
    }
}


static void
test_random(void **state)
{
    uint8_t  a[32], b[32];

    (void) state;
    assert_int_equal(mall_random(a, sizeof(a)), 0);
    assert_int_equal(mall_random(b, sizeof(b)), 0);
    assert_memory_not_equal(a, b, sizeof(a));
    assert_int_equal(mall_random(a, 0), 0);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_vectors),
        cmocka_unit_test(test_hmac_rfc4231),
        cmocka_unit_test(test_hmac_block_size_key),
        cmocka_unit_test(test_hmac_prepared_key),
        cmocka_unit_test(test_sha256_incremental),
        cmocka_unit_test(test_ct_equal),
        cmocka_unit_test(test_random),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
