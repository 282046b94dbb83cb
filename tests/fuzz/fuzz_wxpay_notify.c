/*
 * workers/src/pay/: what WeChat Pay sends, as pay_notify.c and the signed
 * calls read it: the signature headers (wxpay_verify, with a real key so
 * the fuzzer reaches the RSA check), the notification envelope and its
 * AEAD resource (wxpay_event_open), the transaction and refund objects
 * (wxpay_*_parse_text) and RFC 3339 times (wxpay_time_parse).
 *
 * Input: a mode byte, then
 *   mode 0: timestamp '\n' nonce '\n' signature '\n' serial '\n' body:
 *           the header check over body, then the envelope opened;
 *   mode 1: a plaintext the harness encrypts with the fixed APIv3 key and
 *           wraps in an envelope, so every byte reaches the object parsers
 *           through the real decryption;
 *   mode 2: a time string.
 * Oracles: what decrypts is exactly what was encrypted; parsed strings
 * fit their fields; amounts are not negative; a parsed time formats and
 * parses back to itself.
 */
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "../unit/wxpay_test_key.h"
#include "fuzz_common.h"
#include "mall_b64.h"
#include "wxpay_crypto.h"
#include "wxpay_resource.h"
#include "wxpay_time.h"

static const uint8_t  apiv3[32] = "fuzz-apiv3-key-0123456789abcdef0";


static EVP_PKEY *
platform_key(void)
{
    static EVP_PKEY  *k;
    BIO              *bio;

    if (k == NULL) {
        bio = BIO_new_mem_buf(test_rsa_public, -1);
        k = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
        BIO_free(bio);
        FZ_ASSERT(k != NULL);
    }
    return k;
}


static void
parse_objects(const char *plain, size_t len)
{
    wxpay_txn_t     t;
    wxpay_refund_t  r;
    mall_err_t      err;

    if (wxpay_txn_parse_text(plain, len, &t, &err) == MALL_OK) {
        FZ_ASSERT(t.out_trade_no[0] != '\0' && t.total >= 0);
        FZ_ASSERT(strlen(t.appid) < sizeof(t.appid));
    }
    if (wxpay_refund_parse_text(plain, len, &r, &err) == MALL_OK) {
        FZ_ASSERT(r.out_refund_no[0] != '\0' && r.refund >= 0
                  && r.total >= 0);
    }
}


static void
open_envelope(const char *body, size_t len, const char *expect,
    size_t expect_len)
{
    wxpay_event_t  ev;
    mall_err_t     err;

    if (wxpay_event_open(apiv3, sizeof(apiv3), body, len, &ev, &err)
        != MALL_OK)
    {
        FZ_ASSERT(expect == NULL);
        return;
    }
    FZ_ASSERT(ev.id[0] != '\0' && ev.event_type[0] != '\0');
    if (expect != NULL) {
        FZ_ASSERT(ev.plain_len == expect_len
                  && memcmp(ev.plain, expect, expect_len) == 0);
    }
    parse_objects(ev.plain, ev.plain_len);
    wxpay_event_free(&ev);
}


/* mode 1: encrypt, wrap, open. */
static void
round_trip(const uint8_t *p, size_t n)
{
    static const char  nonce[] = "0123456789ab";
    EVP_CIPHER_CTX    *c;
    unsigned char     *ct;
    char              *b64, *body;
    int                len, fin;
    size_t             blen;

    ct = fz_alloc(n + 16);
    c = EVP_CIPHER_CTX_new();
    FZ_ASSERT(c != NULL
              && EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, apiv3,
                                    (const unsigned char *) nonce) == 1
              && EVP_EncryptUpdate(c, NULL, &len,
                                   (const unsigned char *) "transaction", 11)
                 == 1
              && EVP_EncryptUpdate(c, ct, &len, p, (int) n) == 1
              && EVP_EncryptFinal_ex(c, ct + len, &fin) == 1
              && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, ct + n)
                 == 1);
    EVP_CIPHER_CTX_free(c);
    b64 = fz_alloc(MALL_B64_ENCODED_LEN(n + 16) + 1);
    b64[mall_b64_encode(ct, n + 16, b64)] = '\0';
    blen = strlen(b64) + 256;
    body = fz_alloc(blen);
    snprintf(body, blen, "{\"id\":\"EV-1\",\"event_type\":"
             "\"TRANSACTION.SUCCESS\",\"resource_type\":\"encrypt-resource\","
             "\"resource\":{\"algorithm\":\"AEAD_AES_256_GCM\",\"ciphertext\":"
             "\"%s\",\"associated_data\":\"transaction\",\"nonce\":\"%s\"}}",
             b64, nonce);
    open_envelope(body, strlen(body), (const char *) p, n);
    free(body);
    free(b64);
    free(ct);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wxpay_pubkey_t   key;
    wxpay_signed_t   h;
    fz_in_t          in;
    char            *f[4], *body, out[WXPAY_TIME_MAX];
    int64_t          t, t2;
    size_t           i;
    uint8_t          mode;

    in.p = data;
    in.n = size;
    mode = fz_byte(&in) % 3;
    if (mode == 1) {
        round_trip(in.p, in.n);
        return 0;
    }
    if (mode == 2) {
        body = fz_str(in.p, in.n);
        if (wxpay_time_parse(body, &t) == MALL_OK && t >= 0
            && t < 253402300800LL)
        {
            wxpay_time_format(t, out);
            FZ_ASSERT(wxpay_time_parse(out, &t2) == MALL_OK && t2 == t);
        }
        free(body);
        return 0;
    }
    for (i = 0; i < 4; i++) {
        f[i] = fz_str_field(&in, '\n');
    }
    body = fz_dup(in.p, in.n);
    key.id = "PUB_KEY_ID_0100000000000000000001";
    key.key = platform_key();
    h.timestamp = f[0];
    h.nonce = f[1];
    h.signature = f[2];
    h.serial = f[3];
    (void) wxpay_verify(&key, 1, &h, body, in.n, 1700000000, 300);
    open_envelope(body, in.n, NULL, 0);
    for (i = 0; i < 4; i++) {
        free(f[i]);
    }
    free(body);
    return 0;
}
