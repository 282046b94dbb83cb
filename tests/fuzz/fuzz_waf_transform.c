/*
 * lib/mall_waf_transform.c: every transformation, alone and in chains, on
 * exact-size heap copies. Oracles: no transformation makes a value longer
 * (a scan has one buffer of max_value bytes whatever the chain); a chain
 * with its byte-class skips (waf_tf_chain) gives what the transformations
 * applied one by one give; lowercase leaves no A-Z, removenull no NUL,
 * compress_ws no whitespace run and no \t \r \v \f.
 *
 * Input: byte 0 = chain length (mod WAF_MAX_CHAIN + 1), then that many
 * transformation bytes (mod TF_COUNT), then the value.
 */
#include "mall_waf_int.h"

#include "fuzz_common.h"

static int
is_ws(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v'
        || c == '\f';
}


static void
check_one(int tf, const uint8_t *p, size_t n)
{
    size_t  i;

    switch (tf) {
    case TF_LOWERCASE:
        for (i = 0; i < n; i++) {
            FZ_ASSERT(!(p[i] >= 'A' && p[i] <= 'Z'));
        }
        break;
    case TF_REMOVENULL:
        FZ_ASSERT(n == 0 || memchr(p, 0, n) == NULL);
        break;
    case TF_COMPRESS_WS:
        for (i = 0; i < n; i++) {
            FZ_ASSERT(p[i] != '\t' && p[i] != '\r' && p[i] != '\v'
                      && p[i] != '\f');
            FZ_ASSERT(i == 0 || !(is_ws(p[i]) && is_ws(p[i - 1])));
        }
        break;
    default:
        break;
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in_t   in = { data, size };
    uint8_t   chain[WAF_MAX_CHAIN];
    size_t    nchain, k, n, m, vlen;
    uint8_t  *a, *b;
    int       tf;

    nchain = fz_byte(&in) % (WAF_MAX_CHAIN + 1);
    for (k = 0; k < nchain; k++) {
        chain[k] = (uint8_t) (fz_byte(&in) % TF_COUNT);
    }
    vlen = in.n;

    /* each transformation alone, in place on an exact-size copy */
    for (tf = 0; tf < TF_COUNT; tf++) {
        a = fz_dup(in.p, vlen);
        m = waf_tf_apply(tf, a, vlen);
        FZ_ASSERT(m <= vlen);
        check_one(tf, a, m);
        free(a);
    }
    /* unknown numbers leave the value as it is */
    FZ_ASSERT(waf_tf_apply(TF_COUNT, (uint8_t *) in.p, vlen) == vlen);

    /* the chain as a scan runs it, vs one by one without the skips */
    a = fz_dup(in.p, vlen);
    b = fz_dup(in.p, vlen);
    n = waf_tf_chain(chain, nchain, a, vlen, waf_tf_classify(a, vlen));
    FZ_ASSERT(n <= vlen);
    m = vlen;
    for (k = 0; k < nchain; k++) {
        size_t  m2 = waf_tf_apply(chain[k], b, m);

        FZ_ASSERT(m2 <= m);
        check_one(chain[k], b, m2);
        m = m2;
    }
    FZ_ASSERT(n == m);
    FZ_ASSERT(n == 0 || memcmp(a, b, n) == 0);
    free(a);
    free(b);

    /* the names round-trip */
    for (tf = 0; tf < TF_COUNT; tf++) {
        const char  *nm = waf_tf_name(tf);

        FZ_ASSERT(waf_tf_lookup(nm, strlen(nm)) == tf);
    }
    return 0;
}
