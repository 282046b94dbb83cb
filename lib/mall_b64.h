/*
 * Base64 (RFC 4648 section 4, padded) and base64url (section 5, unpadded)
 * plus hex. Pure C, no allocation: callers pass output buffers.
 */
#ifndef MALL_B64_H
#define MALL_B64_H

#include <stddef.h>
#include <stdint.h>

/* Output sizes, without the terminating NUL (encoders write none). */
#define MALL_B64_ENCODED_LEN(n)     ((((n) + 2) / 3) * 4)
#define MALL_B64URL_ENCODED_LEN(n)  (((n) * 4 + 2) / 3)
#define MALL_B64_DECODED_MAX(n)     (((n) + 3) / 4 * 3)

size_t mall_b64_encode(const uint8_t *in, size_t len, char *out);
size_t mall_b64url_encode(const uint8_t *in, size_t len, char *out);

/*
 * Strict decoders: return 0 and set *outlen, or -1 on any character outside
 * the alphabet, a bad length, or non-zero trailing bits. mall_b64_decode
 * requires correct '=' padding; mall_b64url_decode rejects any padding.
 * out must hold MALL_B64_DECODED_MAX(len) bytes.
 */
int mall_b64_decode(const char *in, size_t len, uint8_t *out, size_t *outlen);
int mall_b64url_decode(const char *in, size_t len, uint8_t *out,
    size_t *outlen);

/* Writes 2 * len lowercase hex digits, no NUL. */
void mall_hex_encode(const uint8_t *in, size_t len, char *out);

/* Value 0..15 of one hex digit (either case), or -1 for any other char. */
int mall_hex_digit(char c);

/*
 * Decodes len hex digits (either case) into len / 2 bytes of out. Returns
 * 0, or -1 on an odd length or a non-hex digit (out may be partly written;
 * callers holding secrets wipe it).
 */
int mall_hex_decode(const char *in, size_t len, uint8_t *out);

#endif
