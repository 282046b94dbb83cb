/*
 * Phone masking and WeChat encryptedData decryption (see auth_phone.h).
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "auth_phone.h"
#include "mall_b64.h"


void
auth_phone_mask(const char *phone, char *out, size_t outsz)
{
    size_t  i, len, head, tail;

    len = strlen(phone);
    if (outsz < len + 1) {
        if (outsz > 0) {
            out[0] = '\0';
        }
        return;
    }

    if (len >= 8) {
        head = 3;
        tail = 4;
    } else {
        head = 0;
        tail = len >= 2 ? 2 : 0;
    }

    for (i = 0; i < len; i++) {
        out[i] = (i < head || i >= len - tail) ? phone[i] : '*';
    }
    out[len] = '\0';
}


int
auth_phone_valid(const char *s)
{
    size_t  i, len;

    len = strlen(s);
    if (len < 5 || len > 20) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
    }
    return 1;
}


/* Strict base64 of at most maxout decoded bytes. */
static int
phone_b64(const char *s, uint8_t *out, size_t maxout, size_t *outlen)
{
    size_t  len;

    len = strlen(s);
    if (len == 0 || MALL_B64_DECODED_MAX(len) > maxout) {
        return MALL_ERR;
    }
    return mall_b64_decode(s, len, out, outlen) == 0 ? MALL_OK : MALL_ERR;
}


int
auth_phone_decrypt(const char *session_key_b64, const char *iv_b64,
    const char *data_b64, char *out, size_t outsz, size_t *outlen,
    mall_err_t *err)
{
    EVP_CIPHER_CTX  *c;
    uint8_t          key[MALL_B64_DECODED_MAX(24)];
    uint8_t          iv[MALL_B64_DECODED_MAX(24)];
    uint8_t          data[AUTH_WXDATA_MAX + 3];
    size_t           klen, ivlen, dlen;
    int              n1, n2, rc;

    rc = MALL_ERR;
    klen = 0;
    c = NULL;

    if (phone_b64(session_key_b64, key, sizeof(key), &klen) != MALL_OK
        || klen != 16)
    {
        mall_err_set(err, 400, "session key is not 16 bytes of base64");
        goto done;
    }
    if (phone_b64(iv_b64, iv, sizeof(iv), &ivlen) != MALL_OK || ivlen != 16) {
        mall_err_set(err, 400, "iv must be 16 bytes of base64");
        goto done;
    }
    if (phone_b64(data_b64, data, sizeof(data), &dlen) != MALL_OK
        || dlen == 0 || dlen % 16 != 0)
    {
        mall_err_set(err, 400, "encrypted_data must be base64 of whole "
                     "AES blocks");
        goto done;
    }
    if (outsz < dlen + 1) {
        mall_err_set(err, 400, "encrypted_data too long");
        goto done;
    }

    c = EVP_CIPHER_CTX_new();
    if (c == NULL
        || EVP_DecryptInit_ex(c, EVP_aes_128_cbc(), NULL, key, iv) != 1
        || EVP_DecryptUpdate(c, (uint8_t *) out, &n1, data, (int) dlen) != 1
        || EVP_DecryptFinal_ex(c, (uint8_t *) out + n1, &n2) != 1)
    {
        mall_err_set(err, 400, "encrypted_data does not decrypt with this "
                     "session");
        OPENSSL_cleanse(out, outsz);
        goto done;
    }

    out[n1 + n2] = '\0';
    *outlen = (size_t) (n1 + n2);
    rc = MALL_OK;

done:
    EVP_CIPHER_CTX_free(c);
    OPENSSL_cleanse(key, sizeof(key));
    return rc;
}
