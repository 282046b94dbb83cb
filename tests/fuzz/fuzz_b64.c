/*
 * lib/mall_b64.h: strict base64, base64url and hex decoders (JWT segments,
 * password hashes, sealed fields, WeChat encryptedData, key files).
 *
 * Input: any bytes. Each decoder decodes them into exactly
 * MALL_B64_DECODED_MAX(len) bytes
 * (what the header asks; auth_phone.c and auth_password.c size theirs the
 * same way), and hex into len / 2. The decoders are canonical: whatever
 * they accept must re-encode to the very input. Then the input is encoded
 * as bytes into exactly MALL_B64*_ENCODED_LEN bytes and decoded back.
 */
#include "fuzz_common.h"
#include "mall_b64.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char     *in, *enc;
    uint8_t  *out;
    size_t    n, m;
    int       d;

    in = fz_dup(data, size);

    out = fz_alloc(MALL_B64_DECODED_MAX(size));
    if (mall_b64_decode(in, size, out, &n) == 0) {
        FZ_ASSERT(n <= MALL_B64_DECODED_MAX(size));
        enc = fz_alloc(MALL_B64_ENCODED_LEN(n));
        m = mall_b64_encode(out, n, enc);
        FZ_ASSERT(m == size && memcmp(enc, in, size) == 0);
        free(enc);
    }
    free(out);

    out = fz_alloc(MALL_B64_DECODED_MAX(size));
    if (mall_b64url_decode(in, size, out, &n) == 0) {
        FZ_ASSERT(n <= MALL_B64_DECODED_MAX(size));
        enc = fz_alloc(MALL_B64URL_ENCODED_LEN(n));
        m = mall_b64url_encode(out, n, enc);
        FZ_ASSERT(m == size && memcmp(enc, in, size) == 0);
        free(enc);
    }
    free(out);

    out = fz_alloc(size / 2);
    if (mall_hex_decode(in, size, out) == 0) {
        FZ_ASSERT(size % 2 == 0);
        enc = fz_alloc(size);
        mall_hex_encode(out, size / 2, enc);
        for (n = 0; n < size; n++) {
            d = mall_hex_digit(in[n]);
            FZ_ASSERT(d >= 0 && mall_hex_digit(enc[n]) == d);
        }
        free(enc);
    }
    free(out);

    /* bytes -> text -> bytes */
    enc = fz_alloc(MALL_B64_ENCODED_LEN(size));
    m = mall_b64_encode(data, size, enc);
    FZ_ASSERT(m == MALL_B64_ENCODED_LEN(size));
    out = fz_alloc(MALL_B64_DECODED_MAX(m));
    FZ_ASSERT(mall_b64_decode(enc, m, out, &n) == 0);
    FZ_ASSERT(n == size && memcmp(out, data, size) == 0);
    free(out);
    free(enc);

    enc = fz_alloc(MALL_B64URL_ENCODED_LEN(size));
    m = mall_b64url_encode(data, size, enc);
    FZ_ASSERT(m == MALL_B64URL_ENCODED_LEN(size));
    out = fz_alloc(MALL_B64_DECODED_MAX(m));
    FZ_ASSERT(mall_b64url_decode(enc, m, out, &n) == 0);
    FZ_ASSERT(n == size && memcmp(out, data, size) == 0);
    free(out);
    free(enc);

    free(in);
    return 0;
}
