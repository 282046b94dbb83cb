/*
 * Strict base64 / base64url codecs and hex (see mall_b64.h).
 * Decoders reject anything a canonical encoder would not produce, so one
 * byte string has exactly one accepted encoding (no malleable tokens).
 */
#include "mall_b64.h"

static const char b64_std[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";


static size_t
b64_encode(const char *alpha, const uint8_t *in, size_t len, char *out,
    int pad)
{
    size_t    i, o;
    uint32_t  v;

    o = 0;
    for (i = 0; i + 2 < len; i += 3) {
        v = ((uint32_t) in[i] << 16) | ((uint32_t) in[i + 1] << 8) | in[i + 2];
        out[o++] = alpha[(v >> 18) & 63];
        out[o++] = alpha[(v >> 12) & 63];
        out[o++] = alpha[(v >> 6) & 63];
        out[o++] = alpha[v & 63];
    }

    if (len - i == 1) {
        v = (uint32_t) in[i] << 16;
        out[o++] = alpha[(v >> 18) & 63];
        out[o++] = alpha[(v >> 12) & 63];
        if (pad) {
            out[o++] = '=';
            out[o++] = '=';
        }

    } else if (len - i == 2) {
        v = ((uint32_t) in[i] << 16) | ((uint32_t) in[i + 1] << 8);
        out[o++] = alpha[(v >> 18) & 63];
        out[o++] = alpha[(v >> 12) & 63];
        out[o++] = alpha[(v >> 6) & 63];
        if (pad) {
            out[o++] = '=';
        }
    }

    return o;
}


size_t
mall_b64_encode(const uint8_t *in, size_t len, char *out)
{
    return b64_encode(b64_std, in, len, out, 1);
}


size_t
mall_b64url_encode(const uint8_t *in, size_t len, char *out)
{
    return b64_encode(b64_url, in, len, out, 0);
}


/* Value of one alphabet character, or -1. Branches, no table: no init. */
static int
b64_value(unsigned char c, int url)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (url) {
        return c == '-' ? 62 : (c == '_' ? 63 : -1);
    }
    return c == '+' ? 62 : (c == '/' ? 63 : -1);
}


/*
 * Decodes len alphabet characters (no padding). A tail of 1 character is
 * impossible; a tail of 2 or 3 must leave its unused low bits zero.
 */
static int
b64_decode_body(const char *in, size_t len, uint8_t *out, size_t *outlen,
    int url)
{
    size_t    i, o, rest;
    uint32_t  v;
    int       d, k;

    rest = len % 4;
    if (rest == 1) {
        return -1;
    }

    o = 0;
    for (i = 0; i + 4 <= len; i += 4) {
        v = 0;
        for (k = 0; k < 4; k++) {
            d = b64_value((unsigned char) in[i + k], url);
            if (d < 0) {
                return -1;
            }
            v = (v << 6) | (uint32_t) d;
        }
        out[o++] = (uint8_t) (v >> 16);
        out[o++] = (uint8_t) (v >> 8);
        out[o++] = (uint8_t) v;
    }

    if (rest) {
        v = 0;
        for (k = 0; k < (int) rest; k++) {
            d = b64_value((unsigned char) in[i + k], url);
            if (d < 0) {
                return -1;
            }
            v = (v << 6) | (uint32_t) d;
        }

        if (rest == 2) {
            if (v & 0x0f) {
                return -1;
            }
            out[o++] = (uint8_t) (v >> 4);

        } else {
            if (v & 0x03) {
                return -1;
            }
            out[o++] = (uint8_t) (v >> 10);
            out[o++] = (uint8_t) (v >> 2);
        }
    }

    *outlen = o;
    return 0;
}


int
mall_b64_decode(const char *in, size_t len, uint8_t *out, size_t *outlen)
{
    size_t  pad;

    if (len % 4 != 0) {
        return -1;
    }

    pad = 0;
    if (len >= 1 && in[len - 1] == '=') {
        pad = 1;
        if (len >= 2 && in[len - 2] == '=') {
            pad = 2;
        }
    }

    /* "xx==" and "xxx=" are the only padded shapes; '=' elsewhere fails
     * in the body as a non-alphabet character. */
    return b64_decode_body(in, len - pad, out, outlen, 0);
}


int
mall_b64url_decode(const char *in, size_t len, uint8_t *out, size_t *outlen)
{
    return b64_decode_body(in, len, out, outlen, 1);
}


void
mall_hex_encode(const uint8_t *in, size_t len, char *out)
{
    static const char  hex[] = "0123456789abcdef";
    size_t             i;

    for (i = 0; i < len; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 0x0f];
    }
}


int
mall_hex_digit(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}


int
mall_hex_decode(const char *in, size_t len, uint8_t *out)
{
    size_t  i;
    int     hi, lo;

    if (len % 2 != 0) {
        return -1;
    }
    for (i = 0; i < len / 2; i++) {
        hi = mall_hex_digit(in[2 * i]);
        lo = mall_hex_digit(in[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return -1;
        }
        out[i] = (uint8_t) (hi << 4 | lo);
    }
    return 0;
}
