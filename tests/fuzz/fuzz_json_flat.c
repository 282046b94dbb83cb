/*
 * lib/mall_json_flat.h: the non-allocating JSON object scanner that reads
 * JWT headers and claims (lib/mall_jwt.c) and the cache purge body
 * (ngx_http_mall_cache_purge.c).
 *
 * Input: one JSON text. It is scanned with the member counts the callers
 * use (16 header members, 32 claims, 8 purge members); every member is
 * read as a string into the sizes the callers use (alg[16], kid/sub/jti
 * MALL_JWT_ID_MAX, iss/aud MALL_JWT_NAME_MAX) and as an integer.
 */
#include "fuzz_common.h"
#include "mall_json_flat.h"
#include "mall_jwt.h"

static const int     maxes[] = { 16, 32, 8 };
static const size_t  sizes[] = { 16, MALL_JWT_ID_MAX, MALL_JWT_NAME_MAX };
static const char   *names[] = { "alg", "kid", "sub", "aud", "tags", "keys" };


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                        i, k, n, len;
    char                      *json, *out;
    size_t                     j;
    int64_t                    v;
    mall_json_member_t        *m;
    const mall_json_member_t  *mb;

    json = fz_dup(data, size);

    for (i = 0; i < 3; i++) {
        m = fz_alloc(maxes[i] * sizeof(mall_json_member_t));
        n = mall_json_flat_parse(json, size, m, maxes[i]);
        FZ_ASSERT(n <= maxes[i]);

        for (k = 0; k < n; k++) {
            /* every span lies inside the input */
            FZ_ASSERT(m[k].key >= json && m[k].key + m[k].key_len
                                          <= json + size);
            FZ_ASSERT(m[k].val >= json && m[k].val + m[k].val_len
                                          <= json + size);

            for (j = 0; j < sizeof(sizes) / sizeof(sizes[0]); j++) {
                out = fz_alloc(sizes[j]);
                len = mall_json_flat_string(&m[k], out, sizes[j]);
                FZ_ASSERT(len < (int) sizes[j]);
                if (len >= 0) {
                    FZ_ASSERT(out[len] == '\0'
                              && memchr(out, '\0', (size_t) len) == NULL);
                }
                free(out);
            }
            mall_json_flat_int(&m[k], &v);
        }

        for (j = 0; j < sizeof(names) / sizeof(names[0]); j++) {
            mb = mall_json_flat_get(m, n, names[j]);
            FZ_ASSERT(mb == NULL || (mb >= m && mb < m + n));
        }
        free(m);
    }

    free(json);
    return 0;
}
