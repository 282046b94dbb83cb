/*
 * Phone numbers: masking for display and the old WeChat "encryptedData"
 * path (AES-128-CBC with the login's session_key, PKCS#7). Pure code.
 */
#ifndef AUTH_PHONE_H
#define AUTH_PHONE_H

#include <stddef.h>
#include <stdint.h>

#include "mall_common.h"

#define AUTH_PHONE_MAX   24              /* digits + NUL, with margin */
#define AUTH_WXDATA_MAX  4096            /* decoded encryptedData bytes */

/*
 * Masks a phone number for display: the first 3 and last 4 characters
 * stay and the middle becomes '*' ("13812345678" -> "138****5678");
 * numbers shorter than 8 keep only their last 2. out holds the same
 * length plus NUL (outsz >= strlen(phone) + 1; else out becomes "").
 */
void auth_phone_mask(const char *phone, char *out, size_t outsz);

/* 1 when s is 5..20 ASCII digits (WeChat's purePhoneNumber), else 0. */
int auth_phone_valid(const char *s);

/*
 * Decrypts encryptedData (base64) with iv (base64, 16 bytes) and the
 * session_key (base64, 16 bytes) as WeChat defines it. Writes the
 * plaintext plus a NUL into out (outsz bytes). MALL_OK or MALL_ERR.
 */
int auth_phone_decrypt(const char *session_key_b64, const char *iv_b64,
    const char *data_b64, char *out, size_t outsz, size_t *outlen,
    mall_err_t *err);

#endif
