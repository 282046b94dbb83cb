/*
 * WeChat Pay API v3 cryptography (see wxpay_crypto.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "mall_b64.h"
#include "mall_crypto.h"
#include "wxpay_crypto.h"

#define GCM_TAG_LEN   16
#define SIG_BIN_MAX   512              /* RSA-4096 */


static void
line(mall_buf_t *b, const char *s, size_t len)
{
    mall_buf_add(b, s, len);
    mall_buf_add(b, "\n", 1);
}


void
wxpay_request_message(mall_buf_t *b, const char *method, const char *url,
    const char *ts, const char *nonce, const char *body, size_t len)
{
    line(b, method, strlen(method));
    line(b, url, strlen(url));
    line(b, ts, strlen(ts));
    line(b, nonce, strlen(nonce));
    line(b, body != NULL ? body : "", len);
}


void
wxpay_response_message(mall_buf_t *b, const char *ts, const char *nonce,
    const char *body, size_t len)
{
    line(b, ts, strlen(ts));
    line(b, nonce, strlen(nonce));
    line(b, body != NULL ? body : "", len);
}


void
wxpay_paysign_message(mall_buf_t *b, const char *appid, const char *ts,
    const char *nonce, const char *package)
{
    line(b, appid, strlen(appid));
    line(b, ts, strlen(ts));
    line(b, nonce, strlen(nonce));
    line(b, package, strlen(package));
}


int
wxpay_rsa_sign(EVP_PKEY *key, const void *msg, size_t len, char *out,
    size_t outsz)
{
    EVP_MD_CTX     *md;
    unsigned char   sig[SIG_BIN_MAX];
    size_t          siglen;
    int             ok;

    md = EVP_MD_CTX_new();
    siglen = sizeof(sig);
    ok = md != NULL
         && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1
         && EVP_DigestSign(md, sig, &siglen, msg, len) == 1
         && MALL_B64_ENCODED_LEN(siglen) < outsz;
    EVP_MD_CTX_free(md);
    if (!ok) {
        return MALL_ERR;
    }
    out[mall_b64_encode(sig, siglen, out)] = '\0';
    return MALL_OK;
}


int
wxpay_rsa_verify(EVP_PKEY *key, const void *msg, size_t len, const char *sig,
    size_t siglen)
{
    EVP_MD_CTX     *md;
    unsigned char   bin[SIG_BIN_MAX + 3];      /* decoder's slack */
    size_t          binlen;
    int             ok;

    if (key == NULL || siglen == 0 || siglen > MALL_B64_ENCODED_LEN(SIG_BIN_MAX)
        || mall_b64_decode(sig, siglen, bin, &binlen) != 0)
    {
        return 0;
    }
    md = EVP_MD_CTX_new();
    ok = md != NULL
         && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) == 1
         && EVP_DigestVerify(md, bin, binlen, msg, len) == 1;
    EVP_MD_CTX_free(md);
    return ok;
}


int
wxpay_nonce(char out[WXPAY_NONCE_LEN + 1])
{
    static const char  set[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    unsigned char      r[WXPAY_NONCE_LEN];
    size_t             i;

    if (mall_random(r, sizeof(r)) != 0) {
        return MALL_ERR;
    }
    for (i = 0; i < WXPAY_NONCE_LEN; i++) {
        out[i] = set[r[i] % 36];      /* 256 % 36 = 4: a negligible bias */
    }
    out[WXPAY_NONCE_LEN] = '\0';
    return MALL_OK;
}


int
wxpay_authorization(char *out, size_t outsz, const char *mchid,
    const char *serial, const char *nonce, const char *ts, const char *sig)
{
    int  n;

    n = snprintf(out, outsz, WXPAY_AUTH_SCHEME " mchid=\"%s\","
                 "nonce_str=\"%s\",timestamp=\"%s\",serial_no=\"%s\","
                 "signature=\"%s\"", mchid, nonce, ts, serial, sig);
    return n > 0 && (size_t) n < outsz ? MALL_OK : MALL_ERR;
}


int
wxpay_aead_open(const uint8_t *key, size_t keylen, const char *nonce,
    size_t nonce_len, const char *aad, size_t aad_len, const char *ct,
    size_t ct_len, char **out, size_t *out_len)
{
    const EVP_CIPHER  *cipher;
    EVP_CIPHER_CTX    *c;
    unsigned char     *bin;
    size_t             binlen;
    int                n, fin, ok;

    *out = NULL;
    *out_len = 0;
    cipher = keylen == 32 ? EVP_aes_256_gcm()
             : keylen == 16 ? EVP_aes_128_gcm() : NULL;
    if (cipher == NULL || nonce_len == 0 || nonce_len > 64
        || aad_len > 1024 || ct_len > 16 * 1024 * 1024)
    {
        return MALL_ERR;
    }
    bin = malloc(MALL_B64_DECODED_MAX(ct_len) + 1);
    if (bin == NULL) {
        return MALL_ERR;
    }
    if (mall_b64_decode(ct, ct_len, bin, &binlen) != 0
        || binlen < GCM_TAG_LEN)
    {
        free(bin);
        return MALL_ERR;
    }
    binlen -= GCM_TAG_LEN;

    c = EVP_CIPHER_CTX_new();
    n = fin = 0;
    ok = c != NULL
         && EVP_DecryptInit_ex(c, cipher, NULL, NULL, NULL) == 1
         && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, (int) nonce_len,
                                NULL) == 1
         && EVP_DecryptInit_ex(c, NULL, NULL, key,
                               (const unsigned char *) nonce) == 1
         && (aad_len == 0
             || EVP_DecryptUpdate(c, NULL, &n, (const unsigned char *) aad,
                                  (int) aad_len) == 1)
         && EVP_DecryptUpdate(c, bin, &n, bin, (int) binlen) == 1
         && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, GCM_TAG_LEN,
                                bin + binlen) == 1
         && EVP_DecryptFinal_ex(c, bin + n, &fin) == 1;
    EVP_CIPHER_CTX_free(c);
    if (!ok) {
        OPENSSL_cleanse(bin, binlen);
        free(bin);
        return MALL_ERR;
    }
    bin[n + fin] = '\0';
    *out = (char *) bin;
    *out_len = (size_t) (n + fin);
    return MALL_OK;
}


/* s without leading zeros (hex serials). */
static const char *
skip_zeros(const char *s)
{
    while (*s == '0' && s[1] != '\0') {
        s++;
    }
    return s;
}


int
wxpay_serial_equal(const char *a, const char *b)
{
    static const char  pub[] = "PUB_KEY_ID_";
    size_t             i;

    if (strncmp(a, pub, sizeof(pub) - 1) == 0
        || strncmp(b, pub, sizeof(pub) - 1) == 0)
    {
        return strcmp(a, b) == 0;
    }
    a = skip_zeros(a);
    b = skip_zeros(b);
    for (i = 0; a[i] != '\0' && b[i] != '\0'; i++) {
        if (mall_hex_digit(a[i]) < 0 || mall_hex_digit(a[i])
                                        != mall_hex_digit(b[i]))
        {
            return 0;
        }
    }
    return a[i] == '\0' && b[i] == '\0' && i > 0;
}


/* A decimal timestamp of 1..12 digits into *ts. */
static int
parse_ts(const char *s, int64_t *ts)
{
    int64_t  v;
    size_t   i;

    v = 0;
    for (i = 0; s[i] != '\0'; i++) {
        if (s[i] < '0' || s[i] > '9' || i == 12) {
            return MALL_ERR;
        }
        v = v * 10 + (s[i] - '0');
    }
    *ts = v;
    return i > 0 ? MALL_OK : MALL_ERR;
}


wxpay_sig_e
wxpay_verify(const wxpay_pubkey_t *keys, size_t n, const wxpay_signed_t *h,
    const char *body, size_t len, int64_t now, int max_age)
{
    EVP_PKEY    *key;
    mall_buf_t   msg;
    int64_t      ts;
    size_t       i;
    int          ok;

    if (h->timestamp == NULL || h->nonce == NULL || h->signature == NULL
        || h->serial == NULL || parse_ts(h->timestamp, &ts) != MALL_OK
        || h->nonce[0] == '\0' || strlen(h->nonce) > 64)
    {
        return WXPAY_SIG_MISSING;
    }
    if (strncmp(h->signature, WXPAY_SIGNTEST, sizeof(WXPAY_SIGNTEST) - 1)
        == 0)
    {
        return WXPAY_SIG_SIGNTEST;
    }
    key = NULL;
    for (i = 0; i < n && key == NULL; i++) {
        if (wxpay_serial_equal(keys[i].id, h->serial)) {
            key = keys[i].key;
        }
    }
    if (key == NULL) {
        return WXPAY_SIG_UNKNOWN_KEY;
    }
    if (ts < now - max_age || ts > now + max_age) {
        return WXPAY_SIG_STALE;
    }
    mall_buf_init(&msg);
    wxpay_response_message(&msg, h->timestamp, h->nonce, body, len);
    ok = !msg.oom && wxpay_rsa_verify(key, msg.p, msg.len, h->signature,
                                      strlen(h->signature));
    mall_buf_free(&msg);
    return ok ? WXPAY_SIG_OK : WXPAY_SIG_BAD;
}


const char *
wxpay_sig_name(wxpay_sig_e e)
{
    static const char  *names[] = {
        "ok", "missing_headers", "signtest", "unknown_serial",
        "stale_timestamp", "bad_signature"
    };

    return (unsigned) e < MALL_ARRAY_LEN(names) ? names[e] : "?";
}
