/*
 * WeChat Pay API v3 cryptography, pure code over OpenSSL (unit-tested with
 * fixed vectors in tests/unit/test_wxpay.c, fuzzed in tests/fuzz/):
 *
 *   - the strings that are signed: a request
 *     "METHOD\nURL\nTIMESTAMP\nNONCE\nBODY\n", a response or notification
 *     "TIMESTAMP\nNONCE\nBODY\n", a wx.requestPayment paySign
 *     "appId\ntimeStamp\nnonceStr\npackage\n" (every line ends with \n);
 *   - SHA256withRSA (PKCS#1 v1.5) signatures in base64, made with the
 *     merchant key and checked with a platform key;
 *   - the Authorization header WECHATPAY2-SHA256-RSA2048;
 *   - AEAD_AES_256_GCM resources of notifications (the last 16 bytes of the
 *     base64 ciphertext are the tag; a 16-byte key selects AES-128-GCM, as
 *     the SDKs' published vectors use);
 *   - the signature check of a signed answer or notification: a
 *     WECHATPAY/SIGNTEST/ probe, an unknown key id, a timestamp too old or
 *     a signature that does not verify are all refused.
 */
#ifndef WXPAY_CRYPTO_H
#define WXPAY_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "mall_buf.h"
#include "mall_common.h"

#define WXPAY_NONCE_LEN      32
#define WXPAY_SIG_B64_MAX    700      /* base64 of an RSA-4096 signature */
#define WXPAY_AUTH_SCHEME    "WECHATPAY2-SHA256-RSA2048"
#define WXPAY_SIGNTEST       "WECHATPAY/SIGNTEST/"

/* Appends the request string to sign (body may be NULL when len is 0). */
void wxpay_request_message(mall_buf_t *b, const char *method,
    const char *url, const char *ts, const char *nonce, const char *body,
    size_t len);

/* Appends the string WeChat signs in answers and notifications. */
void wxpay_response_message(mall_buf_t *b, const char *ts, const char *nonce,
    const char *body, size_t len);

/* Appends the paySign string of wx.requestPayment. */
void wxpay_paysign_message(mall_buf_t *b, const char *appid, const char *ts,
    const char *nonce, const char *package);

/* base64 SHA256withRSA of msg into out (NUL-terminated). MALL_OK/ERR. */
int wxpay_rsa_sign(EVP_PKEY *key, const void *msg, size_t len, char *out,
    size_t outsz);

/* 1 when sig (base64) is key's SHA256withRSA signature of msg, else 0. */
int wxpay_rsa_verify(EVP_PKEY *key, const void *msg, size_t len,
    const char *sig, size_t siglen);

/* 32 random characters of [0-9A-Z] and a NUL. MALL_OK or MALL_ERR. */
int wxpay_nonce(char out[WXPAY_NONCE_LEN + 1]);

/* The Authorization header value into out. MALL_OK or MALL_ERR (room). */
int wxpay_authorization(char *out, size_t outsz, const char *mchid,
    const char *serial, const char *nonce, const char *ts, const char *sig);

/*
 * Decrypts an AEAD_AES_256_GCM resource: key 32 bytes (16: AES-128-GCM),
 * nonce and aad as given (text), ct the base64 ciphertext with its tag.
 * *out is malloc'd and NUL-terminated (free it, after OPENSSL_cleanse if
 * it matters). MALL_OK, or MALL_ERR when anything does not open.
 */
int wxpay_aead_open(const uint8_t *key, size_t keylen, const char *nonce,
    size_t nonce_len, const char *aad, size_t aad_len, const char *ct,
    size_t ct_len, char **out, size_t *out_len);

/*
 * 1 when two key ids name the same key: PUB_KEY_ID_ ids compare exactly,
 * certificate serials as hex numbers (case and leading zeros ignored).
 */
int wxpay_serial_equal(const char *a, const char *b);

/* A platform key by id, for wxpay_verify. */
typedef struct {
    const char  *id;
    EVP_PKEY    *key;
} wxpay_pubkey_t;

/* The Wechatpay-* header values of a signed message (NULL: absent). */
typedef struct {
    const char  *timestamp;
    const char  *nonce;
    const char  *signature;
    const char  *serial;
} wxpay_signed_t;

typedef enum {
    WXPAY_SIG_OK = 0,
    WXPAY_SIG_MISSING,          /* a header is absent or malformed */
    WXPAY_SIG_SIGNTEST,         /* WeChat's deliberate probe */
    WXPAY_SIG_UNKNOWN_KEY,      /* no configured key has that id */
    WXPAY_SIG_STALE,            /* timestamp older (or newer) than max_age */
    WXPAY_SIG_BAD               /* the signature does not verify */
} wxpay_sig_e;

/*
 * Checks a signed answer or notification: headers h over the raw body
 * with the key among keys[0..n) named by h->serial, at time now (seconds).
 */
wxpay_sig_e wxpay_verify(const wxpay_pubkey_t *keys, size_t n,
    const wxpay_signed_t *h, const char *body, size_t len, int64_t now,
    int max_age);

/* A short name of a result ("signtest", "unknown_serial", ...). */
const char *wxpay_sig_name(wxpay_sig_e e);

#endif
