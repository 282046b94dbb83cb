/*
 * Admin password hashes: PBKDF2-HMAC-SHA256 with a 16-byte random salt,
 * stored as text
 *
 *     pbkdf2-sha256$<iterations>$<base64 salt>$<base64 32-byte hash>
 *
 * (standard padded base64), compared in constant time. Pure code over
 * OpenSSL; every call costs one full PBKDF2 (about 0.1 s by design).
 */
#ifndef AUTH_PASSWORD_H
#define AUTH_PASSWORD_H

#include <stddef.h>

#include "mall_common.h"

#define AUTH_PBKDF2_ITER       210000     /* what new hashes use */
#define AUTH_PBKDF2_MIN_ITER   200000     /* weaker stored hashes refused */
#define AUTH_PBKDF2_MAX_ITER   5000000    /* bounds the cost of one check */
#define AUTH_PASSWORD_MAX      256        /* longer passwords are refused */
#define AUTH_PASSWORD_HASH_MAX 128

/*
 * Hashes pw[0..len) with a fresh salt and iter iterations into out (NUL-
 * terminated). MALL_OK or MALL_ERR.
 */
int auth_password_hash(const char *pw, size_t len, unsigned iter, char *out,
    size_t outsz, mall_err_t *err);

/*
 * 1 when pw matches the stored hash, else 0. A malformed stored value is a
 * mismatch that still costs one PBKDF2, like auth_password_dummy().
 */
int auth_password_verify(const char *pw, size_t len, const char *stored);

/* Spends the time of one verification (unknown users); always 0. */
int auth_password_dummy(const char *pw, size_t len);

#endif
