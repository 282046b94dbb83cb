/*
 * lib/mall_sign.h: the client request signature's canonical query and
 * canonical string, from an untrusted query string (r->args at the edge).
 *
 * Input: the raw query string (without '?'). It is canonicalised twice:
 * with the buffers ngx_http_mall_sign.c allocates and with the sizes the
 * header documents; both must agree, and canonicalising the canonical
 * form again must give it back (decode, sort and re-encode are
 * idempotent). Then the canonical string and the signature, sized as the
 * module sizes them, in version 1 and in version 2 (the input is the
 * Idempotency-Key too, an untrusted header).
 */
#include "fuzz_common.h"
#include "mall_sign.h"

/* ngx_http_mall_sign.c: ngx_http_mall_sign_verify() */
#define MODULE_SCRATCH(len)  MALL_SIGN_SCRATCH_SIZE(len)
#define MODULE_CQUERY(len)   MALL_SIGN_CQUERY_SIZE(len)

static const char  body_hex[] =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";


static long
canon(const char *q, size_t len, size_t scratch_sz, size_t out_sz,
    char **out)
{
    long                n;
    char               *scratch;
    mall_sign_param_t  *params;

    params = fz_alloc(MALL_SIGN_MAX_PARAMS * sizeof(mall_sign_param_t));
    scratch = fz_alloc(scratch_sz);
    *out = fz_alloc(out_sz);
    n = mall_sign_canonical_query(q, len, params, MALL_SIGN_MAX_PARAMS,
                                  scratch, *out);
    free(params);
    free(scratch);
    return n;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char        *q, *mod, *doc, *again, *canonical;
    char         sig[MALL_SIGN_SIG_LEN];
    long         nmod, ndoc, nagain, clen;
    size_t       len;

    if (size == 0) {
        return 0;               /* the module skips an empty query */
    }
    q = fz_dup(data, size);

    /* what the module allocates, then what the header documents */
    nmod = canon(q, size, MODULE_SCRATCH(size), MODULE_CQUERY(size), &mod);
    ndoc = canon(q, size, size, 3 * size + 1, &doc);
    FZ_ASSERT(nmod == ndoc);

    if (nmod >= 0) {
        FZ_ASSERT((size_t) nmod <= 3 * size + 1);
        FZ_ASSERT(memcmp(mod, doc, (size_t) nmod) == 0);

        /* the canonical form is its own canonical form */
        if (nmod > 0) {
            nagain = canon(mod, (size_t) nmod, (size_t) nmod,
                           3 * (size_t) nmod + 1, &again);
            FZ_ASSERT(nagain == nmod);
            FZ_ASSERT(memcmp(again, mod, (size_t) nmod) == 0);
            free(again);
        }

        /* the module's length for the canonical string is exact */
        len = 4 + 14 + (size_t) nmod + 10 + 32 + MALL_SHA256_HEX_LEN + 5;
        canonical = fz_alloc(len);
        clen = mall_sign_canonical("POST", 4, "/api/v1/orders", 14, mod,
                                   (size_t) nmod, "1700000000", 10,
                                   "0123456789abcdef0123456789abcdef", 32,
                                   body_hex, canonical, len);
        FZ_ASSERT(clen == (long) len);
        FZ_ASSERT(mall_sign_canonical("POST", 4, "/api/v1/orders", 14, mod,
                                      (size_t) nmod, "1700000000", 10,
                                      "0123456789abcdef0123456789abcdef",
                                      32, body_hex, canonical, len - 1)
                  == -1);
        mall_sign_compute("k", 1, canonical, (size_t) clen, sig);
        free(canonical);

        /* v2: the module allocates one line more, the key's */
        len += size + 1;
        canonical = fz_alloc(len);
        clen = mall_sign_canonical_v2("POST", 4, "/api/v1/orders", 14, mod,
                                      (size_t) nmod, "1700000000", 10,
                                      "0123456789abcdef0123456789abcdef", 32,
                                      q, size, body_hex, canonical, len);
        FZ_ASSERT(clen == (long) len);
        FZ_ASSERT(memcmp(canonical + len - MALL_SHA256_HEX_LEN - size - 1,
                         q, size) == 0);
        FZ_ASSERT(mall_sign_canonical_v2("POST", 4, "/api/v1/orders", 14,
                                         mod, (size_t) nmod, "1700000000",
                                         10,
                                         "0123456789abcdef0123456789abcdef",
                                         32, q, size, body_hex, canonical,
                                         len - 1)
                  == -1);
        free(canonical);
    }

    /* the query as a jti: the derivation takes any bytes up to 256 */
    mall_sign_derive_key((const uint8_t *) "secret", 6, q, size, sig);

    free(mod);
    free(doc);
    free(q);
    return 0;
}
