/*
 * Thin one-shot wrappers over OpenSSL 3 for the digests and MACs that the
 * module, the workers and the tests share. No allocation visible to callers.
 */
#ifndef MALL_CRYPTO_H
#define MALL_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define MALL_SHA256_LEN      32
#define MALL_SHA256_HEX_LEN  64

void mall_sha256(const void *data, size_t len, uint8_t out[MALL_SHA256_LEN]);
void mall_sha256_hex(const void *data, size_t len,
    char out[MALL_SHA256_HEX_LEN]);

/* Returns 0, or -1 when OpenSSL fails (never expected for valid input). */
int mall_hmac_sha256(const void *key, size_t keylen, const void *data,
    size_t len, uint8_t out[MALL_SHA256_LEN]);

/* Constant-time equality of two byte strings; different lengths differ. */
int mall_ct_equal(const void *a, size_t alen, const void *b, size_t blen);

/* Fills buf with len cryptographically random bytes; 0 or -1. */
int mall_random(void *buf, size_t len);

#endif
