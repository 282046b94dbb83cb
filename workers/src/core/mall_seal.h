/*
 * Sensitive fields at rest (session keys, phones, addresses): AES-256-GCM
 * with a random 12-byte nonce per value, stored as text
 *
 *     <key id> ":" base64(nonce || ciphertext || tag)
 *
 * so a reader picks the key by id and old values stay readable while keys
 * rotate. The optional aad binds a value to where it is stored (e.g.
 * "mall:user:42:phone"), so a ciphertext copied into another field or
 * another user's record does not open. Keys are the 32 bytes obtained by
 * hex-decoding the 64-hex-digit key files (data_key in mall-worker.conf).
 * Pure code over OpenSSL; no allocation visible to callers.
 */
#ifndef MALL_SEAL_H
#define MALL_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "mall_b64.h"
#include "mall_common.h"

#define MALL_SEAL_KEY_LEN    32
#define MALL_SEAL_ID_MAX     32      /* id length + NUL */
#define MALL_SEAL_NONCE_LEN  12
#define MALL_SEAL_TAG_LEN    16

typedef struct {
    char     id[MALL_SEAL_ID_MAX];
    uint8_t  key[MALL_SEAL_KEY_LEN];
} mall_seal_key_t;

/* Text length of a sealed value of n bytes under an id of idlen chars. */
#define MALL_SEAL_LEN(idlen, n)                                             \
    ((idlen) + 1 + MALL_B64_ENCODED_LEN(MALL_SEAL_NONCE_LEN + (n)           \
                                        + MALL_SEAL_TAG_LEN))

/*
 * Seals pt[0..len) with key; aad may be NULL. Writes a NUL-terminated
 * string into out (outsz bytes, at least MALL_SEAL_LEN + 1) and its length
 * into *outlen. MALL_OK or MALL_ERR (err says why).
 */
int mall_seal(const mall_seal_key_t *key, const char *aad, const void *pt,
    size_t len, char *out, size_t outsz, size_t *outlen, mall_err_t *err);

/*
 * Opens a sealed value with the key named by its id among keys[0..nkeys);
 * aad must equal the one used to seal. Writes the plaintext into out
 * (outsz bytes; a NUL is added when it fits, not counted in *outlen).
 * MALL_ERR for an unknown key id, bad format, wrong aad or any tampering.
 */
int mall_unseal(const mall_seal_key_t *keys, size_t nkeys, const char *aad,
    const char *sealed, size_t len, uint8_t *out, size_t outsz,
    size_t *outlen, mall_err_t *err);

/*
 * Parses 64 hex digits (a trailing newline already stripped) into a
 * 32-byte key. MALL_OK or MALL_ERR.
 */
int mall_seal_key_from_hex(const char *hex, size_t len,
    uint8_t key[MALL_SEAL_KEY_LEN]);

#endif
