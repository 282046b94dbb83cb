/*
 * Thin wrappers over OpenSSL 3 for the digests and MACs that the module,
 * the workers and the tests share. No allocation anywhere.
 */
#ifndef MALL_CRYPTO_H
#define MALL_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/sha.h>

#define MALL_SHA256_LEN      32
#define MALL_SHA256_HEX_LEN  64

void mall_sha256(const void *data, size_t len, uint8_t out[MALL_SHA256_LEN]);
void mall_sha256_hex(const void *data, size_t len,
    char out[MALL_SHA256_HEX_LEN]);

/* Incremental SHA-256 (no allocation; the context may live on the stack). */
typedef struct {
    SHA256_CTX  sha;
} mall_sha256_ctx_t;

void mall_sha256_init(mall_sha256_ctx_t *ctx);
void mall_sha256_update(mall_sha256_ctx_t *ctx, const void *data, size_t len);
void mall_sha256_final(mall_sha256_ctx_t *ctx, uint8_t out[MALL_SHA256_LEN]);

/* Returns 0 (kept an int for callers that check; it cannot fail). */
int mall_hmac_sha256(const void *key, size_t keylen, const void *data,
    size_t len, uint8_t out[MALL_SHA256_LEN]);

/*
 * An HMAC-SHA256 key prepared once: the digest states after the ipad and
 * opad blocks. A MAC with it costs the message's blocks plus one, instead
 * of the message plus four; for keys used many times (secrets loaded at
 * start, a session's sign key). Wipe it with mall_hmac_key_wipe().
 */
typedef struct {
    SHA256_CTX  inner;
    SHA256_CTX  outer;
} mall_hmac_key_t;

void mall_hmac_key_init(mall_hmac_key_t *k, const void *key, size_t keylen);
void mall_hmac_key_wipe(mall_hmac_key_t *k);
void mall_hmac_sha256_keyed(const mall_hmac_key_t *k, const void *data,
    size_t len, uint8_t out[MALL_SHA256_LEN]);

/* Constant-time equality of two byte strings; different lengths differ. */
int mall_ct_equal(const void *a, size_t alen, const void *b, size_t blen);

/* Fills buf with len cryptographically random bytes; 0 or -1. */
int mall_random(void *buf, size_t len);

#endif
