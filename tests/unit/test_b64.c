/* Unit tests of lib/mall_b64.c: RFC 4648 vectors and strict rejection. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "mall_b64.h"

typedef struct {
    const char  *raw;
    const char  *b64;
    const char  *b64url;
} vec_t;

/* RFC 4648 section 10 */
static const vec_t  rfc4648[] = {
    { "",       "",         ""       },
    { "f",      "Zg==",     "Zg"     },
    { "fo",     "Zm8=",     "Zm8"    },
    { "foo",    "Zm9v",     "Zm9v"   },
    { "foob",   "Zm9vYg==", "Zm9vYg" },
    { "fooba",  "Zm9vYmE=", "Zm9vYmE" },
    { "foobar", "Zm9vYmFy", "Zm9vYmFy" },
};


static void
test_rfc4648_encode(void **state)
{
    size_t  i, n, len;
    char    out[64];

    (void) state;
    for (i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
        len = strlen(rfc4648[i].raw);
        n = mall_b64_encode((const uint8_t *) rfc4648[i].raw, len, out);
        assert_int_equal(n, strlen(rfc4648[i].b64));
        assert_int_equal(n, MALL_B64_ENCODED_LEN(len));
        assert_memory_equal(out, rfc4648[i].b64, n);

        n = mall_b64url_encode((const uint8_t *) rfc4648[i].raw, len, out);
        assert_int_equal(n, strlen(rfc4648[i].b64url));
        assert_int_equal(n, MALL_B64URL_ENCODED_LEN(len));
        assert_memory_equal(out, rfc4648[i].b64url, n);
    }
}


static void
test_rfc4648_decode(void **state)
{
    size_t   i, n, len;
    uint8_t  out[64];

    (void) state;
    for (i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
        len = strlen(rfc4648[i].b64);
        assert_int_equal(mall_b64_decode(rfc4648[i].b64, len, out, &n), 0);
        assert_int_equal(n, strlen(rfc4648[i].raw));
        assert_memory_equal(out, rfc4648[i].raw, n);

        len = strlen(rfc4648[i].b64url);
        assert_int_equal(mall_b64url_decode(rfc4648[i].b64url, len, out, &n),
                         0);
        assert_int_equal(n, strlen(rfc4648[i].raw));
        assert_memory_equal(out, rfc4648[i].raw, n);
    }
}


static void
test_alphabets_differ(void **state)
{
    static const uint8_t  raw[] = { 0xfb, 0xff, 0xbf };
    char                  out[8];
    uint8_t               dec[8];
    size_t                n;

    (void) state;
    assert_int_equal(mall_b64_encode(raw, 3, out), 4);
    assert_memory_equal(out, "+/+/", 4);
    assert_int_equal(mall_b64url_encode(raw, 3, out), 4);
    assert_memory_equal(out, "-_-_", 4);

    assert_int_equal(mall_b64_decode("+/+/", 4, dec, &n), 0);
    assert_memory_equal(dec, raw, 3);
    assert_int_equal(mall_b64url_decode("-_-_", 4, dec, &n), 0);
    assert_memory_equal(dec, raw, 3);

    /* each alphabet refuses the other's two characters */
    assert_int_equal(mall_b64_decode("-_-_", 4, dec, &n), -1);
    assert_int_equal(mall_b64url_decode("+/+/", 4, dec, &n), -1);
}


static void
test_all_bytes_roundtrip(void **state)
{
    uint8_t  raw[256], dec[MALL_B64_DECODED_MAX(344)];
    char     enc[344];
    size_t   len, n, e;

    (void) state;
    for (n = 0; n < 256; n++) {
        raw[n] = (uint8_t) n;
    }
    for (len = 0; len <= 256; len += 1) {
        e = mall_b64_encode(raw, len, enc);
        assert_int_equal(mall_b64_decode(enc, e, dec, &n), 0);
        assert_int_equal(n, len);
        assert_memory_equal(dec, raw, len);

        e = mall_b64url_encode(raw, len, enc);
        assert_int_equal(mall_b64url_decode(enc, e, dec, &n), 0);
        assert_int_equal(n, len);
        assert_memory_equal(dec, raw, len);
    }
}


static void
test_reject_bad_chars(void **state)
{
    static const char  *bad[] = {
        "Zm9v Yg==", "Zm9v\nYmFy", "Zm9v*mFy", "Zm9\0YmFy", "Zm9vYmF\x80",
    };
    static const size_t badlen[] = { 9, 9, 8, 8, 8 };
    uint8_t             out[16];
    size_t              i, n;

    (void) state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(mall_b64_decode(bad[i], badlen[i], out, &n), -1);
        assert_int_equal(mall_b64url_decode(bad[i], badlen[i], out, &n), -1);
    }
}


static void
test_reject_bad_padding(void **state)
{
    uint8_t  out[16];
    size_t   n;

    (void) state;
    /* padded decoder: length must be a multiple of 4, '=' only at the end */
    assert_int_equal(mall_b64_decode("Zg", 2, out, &n), -1);
    assert_int_equal(mall_b64_decode("Zg=", 3, out, &n), -1);
    assert_int_equal(mall_b64_decode("Zg===", 5, out, &n), -1);
    assert_int_equal(mall_b64_decode("Z===", 4, out, &n), -1);
    assert_int_equal(mall_b64_decode("====", 4, out, &n), -1);
    assert_int_equal(mall_b64_decode("Zg=a", 4, out, &n), -1);
    assert_int_equal(mall_b64_decode("Z=g=", 4, out, &n), -1);
    assert_int_equal(mall_b64_decode("Zg==Zg==", 8, out, &n), -1);

    /* url decoder: any padding is refused, and a 1-char tail too */
    assert_int_equal(mall_b64url_decode("Zg==", 4, out, &n), -1);
    assert_int_equal(mall_b64url_decode("Zm8=", 4, out, &n), -1);
    assert_int_equal(mall_b64url_decode("Z", 1, out, &n), -1);
    assert_int_equal(mall_b64url_decode("Zm9vY", 5, out, &n), -1);
}


static void
test_reject_trailing_bits(void **state)
{
    uint8_t  out[16];
    size_t   n;

    (void) state;
    /* "Zg" is canonical for "f"; "Zh".."Zv" carry non-zero spare bits */
    assert_int_equal(mall_b64_decode("Zh==", 4, out, &n), -1);
    assert_int_equal(mall_b64_decode("Zm9=", 4, out, &n), -1);
    assert_int_equal(mall_b64url_decode("Zh", 2, out, &n), -1);
    assert_int_equal(mall_b64url_decode("Zm9", 3, out, &n), -1);
    assert_int_equal(mall_b64url_decode("Zm8", 3, out, &n), 0);
    assert_int_equal(n, 2);
}


static void
test_hex(void **state)
{
    static const uint8_t  raw[] = { 0x00, 0x01, 0x7f, 0x80, 0xab, 0xff };
    char                  out[13];

    (void) state;
    memset(out, 'X', sizeof(out));
    mall_hex_encode(raw, sizeof(raw), out);
    assert_memory_equal(out, "00017f80abff", 12);
    assert_int_equal(out[12], 'X');     /* writes no NUL */
}


static void
test_hex_decode(void **state)
{
    uint8_t  out[6];

    (void) state;
    assert_int_equal(mall_hex_digit('0'), 0);
    assert_int_equal(mall_hex_digit('9'), 9);
    assert_int_equal(mall_hex_digit('a'), 10);
    assert_int_equal(mall_hex_digit('F'), 15);
    assert_int_equal(mall_hex_digit('g'), -1);
    assert_int_equal(mall_hex_digit('/'), -1);
    assert_int_equal(mall_hex_digit('\0'), -1);

    assert_int_equal(mall_hex_decode("00017f80ABff", 12, out), 0);
    assert_memory_equal(out, "\x00\x01\x7f\x80\xab\xff", 6);
    assert_int_equal(mall_hex_decode("", 0, out), 0);
    assert_int_equal(mall_hex_decode("abc", 3, out), -1);     /* odd */
    assert_int_equal(mall_hex_decode("0g", 2, out), -1);
    assert_int_equal(mall_hex_decode("g0", 2, out), -1);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4648_encode),
        cmocka_unit_test(test_rfc4648_decode),
        cmocka_unit_test(test_alphabets_differ),
        cmocka_unit_test(test_all_bytes_roundtrip),
        cmocka_unit_test(test_reject_bad_chars),
        cmocka_unit_test(test_reject_bad_padding),
        cmocka_unit_test(test_reject_trailing_bits),
        cmocka_unit_test(test_hex),
        cmocka_unit_test(test_hex_decode),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
