/*
 * PBKDF2-HMAC-SHA256 password hashes (see auth_password.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "auth_password.h"
#include "mall_b64.h"
#include "mall_crypto.h"

#define PW_PREFIX    "pbkdf2-sha256$"
#define PW_SALT_LEN  16
#define PW_HASH_LEN  32


static int
pw_derive(const char *pw, size_t len, const uint8_t *salt, size_t saltlen,
    unsigned iter, uint8_t out[PW_HASH_LEN])
{
    return PKCS5_PBKDF2_HMAC(pw, (int) len, salt, (int) saltlen, (int) iter,
                             EVP_sha256(), PW_HASH_LEN, out) == 1
           ? MALL_OK : MALL_ERR;
}


int
auth_password_hash(const char *pw, size_t len, unsigned iter, char *out,
    size_t outsz, mall_err_t *err)
{
    uint8_t  salt[PW_SALT_LEN], hash[PW_HASH_LEN];
    char     salt64[MALL_B64_ENCODED_LEN(PW_SALT_LEN) + 1];
    char     hash64[MALL_B64_ENCODED_LEN(PW_HASH_LEN) + 1];
    int      n, rc;

    rc = MALL_ERR;
    if (len == 0 || len > AUTH_PASSWORD_MAX || iter < AUTH_PBKDF2_MIN_ITER
        || iter > AUTH_PBKDF2_MAX_ITER)
    {
        mall_err_set(err, 0, "password length or iterations out of range");
        goto done;
    }
    if (mall_random(salt, sizeof(salt)) != 0
        || pw_derive(pw, len, salt, sizeof(salt), iter, hash) != MALL_OK)
    {
        mall_err_set(err, 0, "pbkdf2 failed");
        goto done;
    }

    salt64[mall_b64_encode(salt, sizeof(salt), salt64)] = '\0';
    hash64[mall_b64_encode(hash, sizeof(hash), hash64)] = '\0';

    n = snprintf(out, outsz, PW_PREFIX "%u$%s$%s", iter, salt64, hash64);
    if (n < 0 || (size_t) n >= outsz) {
        mall_err_set(err, 0, "password hash buffer too small");
        goto done;
    }
    rc = MALL_OK;

done:
    OPENSSL_cleanse(hash, sizeof(hash));
    return rc;
}


int
auth_password_dummy(const char *pw, size_t len)
{
    static const uint8_t  salt[PW_SALT_LEN] = "mall-dummy-salt";
    uint8_t               hash[PW_HASH_LEN];

    pw_derive(pw, len > AUTH_PASSWORD_MAX ? AUTH_PASSWORD_MAX : len, salt,
              sizeof(salt), AUTH_PBKDF2_ITER, hash);
    OPENSSL_cleanse(hash, sizeof(hash));
    return 0;
}


int
auth_password_verify(const char *pw, size_t len, const char *stored)
{
    const char     *p, *d1, *d2;
    char           *end;
    unsigned long   iter;
    uint8_t         salt[MALL_B64_DECODED_MAX(64)];
    uint8_t         want[MALL_B64_DECODED_MAX(64)];
    uint8_t         got[PW_HASH_LEN];
    size_t          saltlen, wantlen, hlen;
    int             ok;

    if (len == 0 || len > AUTH_PASSWORD_MAX
        || strncmp(stored, PW_PREFIX, sizeof(PW_PREFIX) - 1) != 0)
    {
        return auth_password_dummy(pw, len);
    }

    p = stored + sizeof(PW_PREFIX) - 1;
    if (*p < '1' || *p > '9') {
        return auth_password_dummy(pw, len);
    }
    errno = 0;
    iter = strtoul(p, &end, 10);
    if (errno != 0 || *end != '$' || iter < AUTH_PBKDF2_MIN_ITER
        || iter > AUTH_PBKDF2_MAX_ITER)
    {
        return auth_password_dummy(pw, len);
    }

    d1 = end + 1;
    d2 = strchr(d1, '$');
    hlen = d2 != NULL ? strlen(d2 + 1) : 0;
    if (d2 == NULL || (size_t) (d2 - d1) > 64 || hlen > 64
        || mall_b64_decode(d1, (size_t) (d2 - d1), salt, &saltlen) != 0
        || mall_b64_decode(d2 + 1, hlen, want, &wantlen) != 0
        || saltlen < 8 || wantlen != PW_HASH_LEN)
    {
        return auth_password_dummy(pw, len);
    }

    if (pw_derive(pw, len, salt, saltlen, (unsigned) iter, got) != MALL_OK) {
        return 0;
    }
    ok = mall_ct_equal(got, sizeof(got), want, wantlen);
    OPENSSL_cleanse(got, sizeof(got));
    return ok ? 1 : 0;
}
