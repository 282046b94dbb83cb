/*
 * Test-only view of lib/mall_jwt.c internals: the signature check alone,
 * so the RFC 7515 vectors (whose claims lack kid, sub and jti) can be
 * verified over their exact signing input.
 */
#ifndef MALL_JWT_INTERNAL_H
#define MALL_JWT_INTERNAL_H

#include "mall_jwt.h"

mall_jwt_rc_e mall_jwt_verify_signature(mall_jwt_alg_e alg,
    const mall_jwt_key_t *key, const char *input, size_t input_len,
    const uint8_t *sig, size_t sig_len);

#endif
