/*
 * Clean-value cache: most of a request repeats the last one (Host,
 * User-Agent, Accept, argument names, the method, common paths), and a
 * value that raised nothing under a policy raises nothing again. A scan
 * given a cache skips the values it holds, and once a request ends with no
 * hit at all, its short values join the cache. A request with any hit adds
 * nothing: a rule scores once a request, so a value seen after that rule
 * fired may look clean without being so.
 *
 * Keys are SipHash-2-4 under a random per-cache key over (policy, target,
 * name, value): without the key nobody can make an attack collide with a
 * cached value. One direct-mapped slot per key; a new rule set or policy
 * means a new cache (the module makes one per configuration cycle).
 */
#include "mall_waf_int.h"

#include <string.h>

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND do { \
        v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
        v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2; \
        v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0; \
        v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); \
    } while (0)

typedef struct {
    uint64_t v0, v1, v2, v3, tail;
    size_t   len;
} sip_t;

static void sip_init(sip_t *h, const uint8_t key[16])
{
    uint64_t k0, k1;
    memcpy(&k0, key, 8);
    memcpy(&k1, key + 8, 8);
    h->v0 = 0x736f6d6570736575ULL ^ k0;
    h->v1 = 0x646f72616e646f6dULL ^ k1;
    h->v2 = 0x6c7967656e657261ULL ^ k0;
    h->v3 = 0x7465646279746573ULL ^ k1;
    h->tail = 0;
    h->len = 0;
}

static void sip_word(sip_t *h, uint64_t m)
{
    uint64_t v0 = h->v0, v1 = h->v1, v2 = h->v2, v3 = h->v3;
    v3 ^= m;
    SIPROUND;
    SIPROUND;
    v0 ^= m;
    h->v0 = v0; h->v1 = v1; h->v2 = v2; h->v3 = v3;
}

static void sip_update(sip_t *h, const uint8_t *p, size_t n)
{
    size_t i = 0;
    if ((h->len & 7) == 0)              /* whole words while aligned */
        for (; i + 8 <= n; i += 8) {
            uint64_t m;
            memcpy(&m, p + i, 8);       /* little-endian hosts (x86-64) */
            sip_word(h, m);
            h->len += 8;
        }
    for (; i < n; i++) {
        h->tail |= (uint64_t)p[i] << (8 * (h->len & 7));
        if ((++h->len & 7) == 0) {
            sip_word(h, h->tail);
            h->tail = 0;
        }
    }
}

static uint64_t sip_final(sip_t *h)
{
    uint64_t v0, v1, v2, v3;
    sip_word(h, h->tail | ((uint64_t)(h->len & 0xff) << 56));
    v0 = h->v0; v1 = h->v1; v2 = h->v2; v3 = h->v3;
    v2 ^= 0xff;
    SIPROUND; SIPROUND; SIPROUND; SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

struct mall_waf_cache_s {
    uint8_t   key[16];
    uint32_t  mask;                  /* slots - 1, a power of two */
    uint32_t  pad;
    uint64_t  slot[];                /* a key, 0 when empty */
};

static uint32_t slots_for(size_t entries)
{
    uint32_t n = 16;
    while (n < entries && n < (1u << 24))
        n <<= 1;
    return n;
}

size_t mall_waf_cache_size(size_t entries)
{
    return sizeof(mall_waf_cache_t) + slots_for(entries) * sizeof(uint64_t);
}

mall_waf_cache_t *mall_waf_cache_init(void *mem, size_t memlen,
    const uint8_t key[16])
{
    mall_waf_cache_t *c = mem;
    uint32_t n = 16;
    if (!mem || memlen < mall_waf_cache_size(16))
        return NULL;
    while (sizeof(*c) + (size_t)n * 2 * sizeof(uint64_t) <= memlen
           && n < (1u << 24))
        n <<= 1;
    memset(c, 0, sizeof(*c) + (size_t)n * sizeof(uint64_t));
    memcpy(c->key, key, 16);
    c->mask = n - 1;
    return c;
}

uint64_t waf_cache_key(const mall_waf_cache_t *c, const void *policy, int t,
    const char *name, size_t nlen, const uint8_t *v, size_t n)
{
    /* one contiguous message, hashed a word at a time: policy, target,
     * the name's length (the name | value boundary), name, value */
    uint8_t msg[16 + WAF_PATH_MAX + WAF_CACHE_VALUE_MAX];
    uint32_t nl = (uint32_t)nlen;
    size_t off = 16;
    sip_t h;
    uint64_t k;
    if (nlen > WAF_PATH_MAX || n > WAF_CACHE_VALUE_MAX)
        return 0;
    memset(msg, 0, 16);
    memcpy(msg, &policy, sizeof(void *));
    msg[8] = (uint8_t)t;
    memcpy(msg + 12, &nl, 4);
    if (nlen)
        memcpy(msg + off, name, nlen);
    off += nlen;
    memcpy(msg + off, v, n);
    sip_init(&h, c->key);
    sip_update(&h, msg, off + n);
    k = sip_final(&h);
    return k ? k : 1;                   /* 0 marks an empty slot */
}

int waf_cache_has(const mall_waf_cache_t *c, uint64_t k)
{
    return c->slot[k & c->mask] == k;
}

void waf_cache_put(mall_waf_cache_t *c, uint64_t k)
{
    c->slot[k & c->mask] = k;
}
