/*
 * SHA-256, HMAC-SHA256, constant-time compare and random bytes over
 * OpenSSL 3 (see mall_crypto.h).
 *
 * Why the SHA256_Init/Update/Final functions, deprecated in OpenSSL 3.0,
 * rather than EVP: the edge hashes every signed request's body and runs
 * several HMACs per request. Through EVP each digest pays a provider
 * dispatch, a context allocation and parameter lookups (with HMAC() or
 * EVP_Q_mac() also a fetch: about 1.1 us for 256 bytes here); the direct
 * functions run the same SHA-NI/AVX2 block code with none of that. They are
 * deprecated, not removed, and give the same digests (RFC 4231 and FIPS
 * 180-2 vectors in tests/unit/test_crypto.c).
 */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "mall_crypto.h"

#define SHA256_BLOCK  64


void
mall_sha256_init(mall_sha256_ctx_t *ctx)
{
    SHA256_Init(&ctx->sha);
}


void
mall_sha256_update(mall_sha256_ctx_t *ctx, const void *data, size_t len)
{
    if (len > 0) {
        SHA256_Update(&ctx->sha, data, len);
    }
}


void
mall_sha256_final(mall_sha256_ctx_t *ctx, uint8_t out[MALL_SHA256_LEN])
{
    SHA256_Final(out, &ctx->sha);
    OPENSSL_cleanse(&ctx->sha, sizeof(ctx->sha));
}


void
mall_sha256(const void *data, size_t len, uint8_t out[MALL_SHA256_LEN])
{
    mall_sha256_ctx_t  ctx;

    mall_sha256_init(&ctx);
    mall_sha256_update(&ctx, data, len);
    mall_sha256_final(&ctx, out);
}


void
mall_sha256_hex(const void *data, size_t len, char out[MALL_SHA256_HEX_LEN])
{
    static const char  hex[] = "0123456789abcdef";
    uint8_t            md[MALL_SHA256_LEN];
    size_t             i;

    mall_sha256(data, len, md);
    for (i = 0; i < MALL_SHA256_LEN; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 0x0f];
    }
}


/*
 * RFC 2104: the states after (K ^ ipad) and (K ^ opad), K hashed first
 * when it is longer than the block. Key material on the stack is wiped.
 */
void
mall_hmac_key_init(mall_hmac_key_t *k, const void *key, size_t keylen)
{
    size_t   i;
    uint8_t  kb[SHA256_BLOCK], pad[SHA256_BLOCK];

    memset(kb, 0, sizeof(kb));

    if (keylen > SHA256_BLOCK) {
        mall_sha256(key, keylen, kb);

    } else if (keylen > 0) {
        memcpy(kb, key, keylen);
    }

    for (i = 0; i < SHA256_BLOCK; i++) {
        pad[i] = kb[i] ^ 0x36;
    }
    SHA256_Init(&k->inner);
    SHA256_Update(&k->inner, pad, SHA256_BLOCK);

    for (i = 0; i < SHA256_BLOCK; i++) {
        pad[i] = kb[i] ^ 0x5c;
    }
    SHA256_Init(&k->outer);
    SHA256_Update(&k->outer, pad, SHA256_BLOCK);

    OPENSSL_cleanse(kb, sizeof(kb));
    OPENSSL_cleanse(pad, sizeof(pad));
}


void
mall_hmac_key_wipe(mall_hmac_key_t *k)
{
    OPENSSL_cleanse(k, sizeof(*k));
}


/* H((K ^ opad) || H((K ^ ipad) || data)) from the prepared states. */
void
mall_hmac_sha256_keyed(const mall_hmac_key_t *k, const void *data,
    size_t len, uint8_t out[MALL_SHA256_LEN])
{
    uint8_t     inner[MALL_SHA256_LEN];
    SHA256_CTX  c;

    c = k->inner;
    if (len > 0) {
        SHA256_Update(&c, data, len);
    }
    SHA256_Final(inner, &c);

    c = k->outer;
    SHA256_Update(&c, inner, sizeof(inner));
    SHA256_Final(out, &c);

    OPENSSL_cleanse(&c, sizeof(c));
    OPENSSL_cleanse(inner, sizeof(inner));
}


int
mall_hmac_sha256(const void *key, size_t keylen, const void *data,
    size_t len, uint8_t out[MALL_SHA256_LEN])
{
    mall_hmac_key_t  k;

    mall_hmac_key_init(&k, key, keylen);
    mall_hmac_sha256_keyed(&k, data, len, out);
    mall_hmac_key_wipe(&k);

    return 0;
}


int
mall_ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    if (alen != blen) {
        return 0;
    }
    if (alen == 0) {
        return 1;
    }
    return CRYPTO_memcmp(a, b, alen) == 0;
}


int
mall_random(void *buf, size_t len)
{
    if (len > (size_t) 0x7fffffff) {
        return -1;
    }
    return RAND_bytes(buf, (int) len) == 1 ? 0 : -1;
}
