/*
 * lib/mall_edge_sig.h: the edge -> worker signature over fields a client
 * controls (method, URI, request id, ...) and the signature header the
 * worker receives.
 *
 * Input: ten '\0'-separated fields (method, uri, request id, client ip,
 * user, role, token id, token exp, ts, idempotency key), then the received
 * signature. Oracles: what is signed verifies (plain and prepared key
 * agree), a changed signature or field (the idempotency key too) does not,
 * and the received bytes verify only if they are that signature.
 */
#include "fuzz_common.h"
#include "fuzz_keys.h"
#include "mall_crypto.h"
#include "mall_edge_sig.h"

#define KEY     ((const uint8_t *) test_only_edge_key)
#define KEYLEN  (sizeof(test_only_edge_key) - 1)
static const char     body_hex[] =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                  i, rc, rck;
    char                 sig[MALL_EDGE_SIG_LEN], sig2[MALL_EDGE_SIG_LEN];
    char                *recv, *fld[10];
    size_t               len[10], rlen;
    fz_in_t              in;
    const uint8_t       *f;
    mall_hmac_key_t      hk;
    mall_edge_fields_t   e;

    in.p = data;
    in.n = size;
    for (i = 0; i < 10; i++) {
        len[i] = fz_field(&in, '\0', &f);
        fld[i] = fz_dup(f, len[i]);
    }
    rlen = in.n;
    recv = fz_dup(in.p, rlen);

    memset(&e, 0, sizeof(e));
    e.method = fld[0];      e.method_len = len[0];
    e.uri = fld[1];         e.uri_len = len[1];
    e.request_id = fld[2];  e.request_id_len = len[2];
    e.client_ip = fld[3];   e.client_ip_len = len[3];
    e.user = fld[4];        e.user_len = len[4];
    e.role = fld[5];        e.role_len = len[5];
    e.token_id = fld[6];    e.token_id_len = len[6];
    e.token_exp = fld[7];   e.token_exp_len = len[7];
    e.ts = fld[8];          e.ts_len = len[8];
    e.idem_key = fld[9];    e.idem_key_len = len[9];
    e.body_sha256_hex = body_hex;

    rc = mall_edge_sign(KEY, KEYLEN, &e, sig);
    mall_hmac_key_init(&hk, KEY, KEYLEN);
    rck = mall_edge_sign_keyed(&hk, &e, sig2);
    mall_hmac_key_wipe(&hk);
    FZ_ASSERT(rc == rck);

    if (rc == 0) {
        FZ_ASSERT(memcmp(sig, sig2, sizeof(sig)) == 0);
        FZ_ASSERT(mall_edge_verify(KEY, KEYLEN, &e, sig,
                                   sizeof(sig)) == 1);
        sig2[0] = sig2[0] == 'A' ? 'B' : 'A';
        FZ_ASSERT(mall_edge_verify(KEY, KEYLEN, &e, sig2,
                                   sizeof(sig2)) == 0);
        FZ_ASSERT(mall_edge_verify(KEY, KEYLEN, &e, recv, rlen)
                  == (rlen == sizeof(sig)
                      && memcmp(recv, sig, sizeof(sig)) == 0));
        if (len[9] > 0) {
            e.idem_key_len--;
            FZ_ASSERT(mall_edge_verify(KEY, KEYLEN, &e, sig,
                                       sizeof(sig)) == 0);
            e.idem_key_len++;
        }
        if (len[0] > 0) {
            e.method_len--;
            FZ_ASSERT(mall_edge_verify(KEY, KEYLEN, &e, sig,
                                       sizeof(sig)) == 0);
        }
    } else {
        FZ_ASSERT(mall_edge_verify(KEY, KEYLEN, &e, recv, rlen)
                  == 0);
    }

    for (i = 0; i < 10; i++) {
        free(fld[i]);
    }
    free(recv);
    return 0;
}
