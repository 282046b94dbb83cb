/*
 * AES-256-GCM sealing of fields at rest (see mall_seal.h).
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "mall_b64.h"
#include "mall_crypto.h"
#include "mall_seal.h"

#define SEAL_MAX_PLAIN  (64 * 1024)     /* fields, not documents */
#define SEAL_MAX_RAW    (MALL_SEAL_NONCE_LEN + SEAL_MAX_PLAIN               \
                         + MALL_SEAL_TAG_LEN)


/* One AES-256-GCM pass; enc = 1 seals, 0 opens (tag checked). */
static int
seal_gcm(int enc, const uint8_t *key, const uint8_t *nonce, const char *aad,
    const uint8_t *in, size_t len, uint8_t *out, uint8_t *tag)
{
    EVP_CIPHER_CTX  *c;
    int              n, rc;

    rc = MALL_ERR;
    c = EVP_CIPHER_CTX_new();
    if (c == NULL) {
        return MALL_ERR;
    }

    if (EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) != 1
        || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, MALL_SEAL_NONCE_LEN,
                               NULL) != 1
        || EVP_CipherInit_ex(c, NULL, NULL, key, nonce, enc) != 1)
    {
        goto done;
    }

    if (aad != NULL && aad[0] != '\0'
        && EVP_CipherUpdate(c, NULL, &n, (const uint8_t *) aad,
                            (int) strlen(aad)) != 1)
    {
        goto done;
    }

    if (len > 0 && EVP_CipherUpdate(c, out, &n, in, (int) len) != 1) {
        goto done;
    }

    if (!enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG,
                                    MALL_SEAL_TAG_LEN, tag) != 1)
    {
        goto done;
    }

    /* GCM writes nothing here; a failed tag check fails here */
    if (EVP_CipherFinal_ex(c, out + len, &n) != 1) {
        goto done;
    }

    if (enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG,
                                   MALL_SEAL_TAG_LEN, tag) != 1)
    {
        goto done;
    }
    rc = MALL_OK;

done:
    EVP_CIPHER_CTX_free(c);
    return rc;
}


int
mall_seal(const mall_seal_key_t *key, const char *aad, const void *pt,
    size_t len, char *out, size_t outsz, size_t *outlen, mall_err_t *err)
{
    uint8_t  buf[SEAL_MAX_RAW];
    size_t   idlen, total, n;
    int      rc;

    rc = MALL_ERR;
    idlen = strlen(key->id);

    if (idlen == 0 || len > SEAL_MAX_PLAIN) {
        mall_err_set(err, 0, "seal: bad key id or value too long");
        goto done;
    }
    total = MALL_SEAL_NONCE_LEN + len + MALL_SEAL_TAG_LEN;
    if (outsz < MALL_SEAL_LEN(idlen, len) + 1) {
        mall_err_set(err, 0, "seal: output buffer too small");
        goto done;
    }

    if (mall_random(buf, MALL_SEAL_NONCE_LEN) != 0
        || seal_gcm(1, key->key, buf, aad, pt, len, buf + MALL_SEAL_NONCE_LEN,
                    buf + MALL_SEAL_NONCE_LEN + len) != MALL_OK)
    {
        mall_err_set(err, 0, "seal: encryption failed");
        goto done;
    }

    memcpy(out, key->id, idlen);
    out[idlen] = ':';
    n = mall_b64_encode(buf, total, out + idlen + 1);
    out[idlen + 1 + n] = '\0';
    *outlen = idlen + 1 + n;
    rc = MALL_OK;

done:
    return rc;
}


int
mall_unseal(const mall_seal_key_t *keys, size_t nkeys, const char *aad,
    const char *sealed, size_t len, uint8_t *out, size_t outsz,
    size_t *outlen, mall_err_t *err)
{
    const mall_seal_key_t  *key;
    const char             *colon;
    uint8_t                 buf[MALL_B64_DECODED_MAX(
                                    MALL_B64_ENCODED_LEN(SEAL_MAX_RAW))];
    size_t                  i, idlen, blen, plen;
    int                     rc;

    rc = MALL_ERR;
    blen = 0;
    key = NULL;

    colon = memchr(sealed, ':', len);
    if (colon == NULL) {
        mall_err_set(err, 0, "unseal: no key id");
        goto done;
    }
    idlen = (size_t) (colon - sealed);

    for (i = 0; i < nkeys; i++) {
        if (strlen(keys[i].id) == idlen
            && memcmp(keys[i].id, sealed, idlen) == 0)
        {
            key = &keys[i];
            break;
        }
    }
    if (key == NULL) {
        mall_err_set(err, 0, "unseal: unknown key id");
        goto done;
    }

    if (len - idlen - 1 > MALL_B64_ENCODED_LEN(SEAL_MAX_RAW)
        || mall_b64_decode(colon + 1, len - idlen - 1, buf, &blen) != 0
        || blen < MALL_SEAL_NONCE_LEN + MALL_SEAL_TAG_LEN)
    {
        mall_err_set(err, 0, "unseal: malformed value");
        goto done;
    }

    plen = blen - MALL_SEAL_NONCE_LEN - MALL_SEAL_TAG_LEN;
    if (plen > outsz) {
        mall_err_set(err, 0, "unseal: output buffer too small");
        goto done;
    }

    if (seal_gcm(0, key->key, buf, aad, buf + MALL_SEAL_NONCE_LEN, plen, out,
                 buf + MALL_SEAL_NONCE_LEN + plen) != MALL_OK)
    {
        OPENSSL_cleanse(out, plen);
        mall_err_set(err, 0, "unseal: authentication failed");
        goto done;
    }

    if (plen < outsz) {
        out[plen] = '\0';
    }
    *outlen = plen;
    rc = MALL_OK;

done:
    OPENSSL_cleanse(buf, blen);
    return rc;
}


int
mall_seal_key_from_hex(const char *hex, size_t len,
    uint8_t key[MALL_SEAL_KEY_LEN])
{
    if (len != 2 * MALL_SEAL_KEY_LEN) {
        return MALL_ERR;
    }
    if (mall_hex_decode(hex, len, key) != 0) {
        OPENSSL_cleanse(key, MALL_SEAL_KEY_LEN);
        return MALL_ERR;
    }
    return MALL_OK;
}
