/*
 * Block and allow lists in one open-addressing table (mall_iptab.h).
 * Linear probing; deletions leave tombstones that puts reuse; expired
 * entries are skipped by lookups and reclaimed by the next put that meets
 * them. Every loop is bounded by the capacity.
 */
#include <arpa/inet.h>
#include <string.h>

#include "mall_crypto.h"
#include "mall_iptab.h"

#define IPTAB_EMPTY    0
#define IPTAB_USED     1
#define IPTAB_DELETED  2


/* 64-bit mix of (kind, plen, key): splitmix over the key words. */
static uint64_t
iptab_hash(int kind, int plen, const uint8_t *key)
{
    uint64_t  a, b, h;

    memcpy(&a, key, 8);
    memcpy(&b, key + 8, 8);
    h = a ^ (b * 0x9e3779b97f4a7c15ULL) ^ ((uint64_t) kind << 56)
        ^ ((uint64_t) plen << 48);
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return h;
}


static int
iptab_addr_len(int kind)
{
    switch (kind) {
    case MALL_IPTAB_BLOCK4:
    case MALL_IPTAB_ALLOW4:
        return 32;
    case MALL_IPTAB_BLOCK6:
    case MALL_IPTAB_ALLOW6:
        return 128;
    default:
        return 0;
    }
}


/* Copies key into out with the bits past plen cleared. */
static void
iptab_mask(const uint8_t *key, int plen, int bits, uint8_t out[16])
{
    int  full, rest;

    memset(out, 0, 16);
    if (bits == 0) {
        memcpy(out, key, 16);
        return;
    }
    full = plen / 8;
    rest = plen % 8;
    memcpy(out, key, full);
    if (rest) {
        out[full] = key[full] & (uint8_t) (0xff << (8 - rest));
    }
}


size_t
mall_iptab_size(uint32_t slots)
{
    uint32_t  cap;

    cap = 16;
    while (cap < slots && cap < (1u << 30)) {
        cap <<= 1;
    }
    return sizeof(mall_iptab_t) + (size_t) cap * sizeof(mall_iptab_entry_t);
}


mall_iptab_t *
mall_iptab_init(void *mem, size_t size)
{
    uint32_t       cap;
    mall_iptab_t  *t;

    if (mem == NULL || size < mall_iptab_size(16)) {
        return NULL;
    }
    cap = 16;
    while (mall_iptab_size(cap << 1) <= size && cap < (1u << 30)) {
        cap <<= 1;
    }
    t = mem;
    memset(t, 0, mall_iptab_size(cap));
    t->capacity = cap;
    t->limit = cap / 4 * 3;
    return t;
}


/* The slot holding the key, or NULL. */
static const mall_iptab_entry_t *
iptab_find(const mall_iptab_t *t, int kind, int plen, const uint8_t *key)
{
    uint32_t                   i, n, mask;
    const mall_iptab_entry_t  *e;

    mask = t->capacity - 1;
    i = (uint32_t) iptab_hash(kind, plen, key) & mask;

    for (n = 0; n < t->capacity; n++, i = (i + 1) & mask) {
        e = &t->slot[i];
        if (e->state == IPTAB_EMPTY) {
            return NULL;
        }
        if (e->state == IPTAB_USED && e->kind == kind && e->plen == plen
            && memcmp(e->key, key, 16) == 0)
        {
            return e;
        }
    }
    return NULL;
}


static void
iptab_remove(mall_iptab_t *t, mall_iptab_entry_t *e)
{
    t->count[e->kind][e->plen]--;
    t->kinds[e->kind]--;
    e->state = IPTAB_DELETED;
    t->deleted++;
    t->used--;
}


int
mall_iptab_put(mall_iptab_t *t, int kind, int plen, const uint8_t *key,
    uint64_t expire, int source)
{
    int                  bits;
    uint8_t              k[16];
    uint32_t             i, n, mask;
    mall_iptab_entry_t  *e, *free_slot;

    if (kind < 0 || kind >= MALL_IPTAB_KINDS) {
        return -1;
    }
    bits = iptab_addr_len(kind);
    if (plen < 0 || plen > bits || (bits == 0 && plen != 0)) {
        return -1;
    }
    iptab_mask(key, plen, bits, k);

    mask = t->capacity - 1;
    i = (uint32_t) iptab_hash(kind, plen, k) & mask;
    free_slot = NULL;

    for (n = 0; n < t->capacity; n++, i = (i + 1) & mask) {
        e = &t->slot[i];
        if (e->state == IPTAB_EMPTY) {
            break;
        }
        if (e->state == IPTAB_DELETED) {
            if (free_slot == NULL) {
                free_slot = e;
            }
            continue;
        }
        if (e->kind == kind && e->plen == plen && memcmp(e->key, k, 16) == 0)
        {
            e->expire = expire;
            e->source = (uint8_t) source;
            return 0;
        }
    }

    if (free_slot != NULL) {
        e = free_slot;
        t->deleted--;

    } else {
        if (n == t->capacity || t->used + t->deleted >= t->limit) {
            return -1;
        }
    }

    e->expire = expire;
    memcpy(e->key, k, 16);
    e->kind = (uint8_t) kind;
    e->plen = (uint8_t) plen;
    e->state = IPTAB_USED;
    e->source = (uint8_t) source;
    t->used++;
    t->count[kind][plen]++;
    t->kinds[kind]++;
    return 0;
}


int
mall_iptab_del(mall_iptab_t *t, int kind, int plen, const uint8_t *key)
{
    int                  bits;
    uint8_t              k[16];
    mall_iptab_entry_t  *e;

    if (kind < 0 || kind >= MALL_IPTAB_KINDS) {
        return -1;
    }
    bits = iptab_addr_len(kind);
    if (plen < 0 || plen > bits) {
        return -1;
    }
    iptab_mask(key, plen, bits, k);

    e = (mall_iptab_entry_t *) iptab_find(t, kind, plen, k);
    if (e == NULL) {
        return -1;
    }
    iptab_remove(t, e);
    return 0;
}


static int
iptab_live(const mall_iptab_entry_t *e, uint64_t now)
{
    return e != NULL && (e->expire == 0 || e->expire > now);
}


int
mall_iptab_match(const mall_iptab_t *t, int kind, const uint8_t *addr,
    uint64_t now)
{
    int      bits, plen;
    uint8_t  k[16];

    bits = iptab_addr_len(kind);
    if (bits == 0) {
        return -1;
    }

    for (plen = bits; plen >= 0; plen--) {
        if (t->count[kind][plen] == 0) {
            continue;
        }
        iptab_mask(addr, plen, bits, k);
        if (iptab_live(iptab_find(t, kind, plen, k), now)) {
            return plen;
        }
    }
    return -1;
}


void
mall_iptab_digest(const char *s, size_t len, uint8_t key[16])
{
    uint8_t  md[MALL_SHA256_LEN];

    mall_sha256(s, len, md);
    memcpy(key, md, 16);
}


int
mall_iptab_has(const mall_iptab_t *t, int kind, const char *s, size_t len,
    uint64_t now)
{
    uint8_t  k[16];

    if (t->kinds[kind] == 0 || len == 0) {
        return 0;
    }
    mall_iptab_digest(s, len, k);
    return iptab_live(iptab_find(t, kind, 0, k), now);
}


void
mall_iptab_drop_source(mall_iptab_t *t, int source)
{
    uint32_t  i;

    for (i = 0; i < t->capacity; i++) {
        if (t->slot[i].state == IPTAB_USED && t->slot[i].source == source) {
            iptab_remove(t, &t->slot[i]);
        }
    }
}


void
mall_iptab_drop_expired(mall_iptab_t *t, uint64_t now)
{
    uint32_t  i;

    for (i = 0; i < t->capacity; i++) {
        if (t->slot[i].state == IPTAB_USED && t->slot[i].expire != 0
            && t->slot[i].expire <= now)
        {
            iptab_remove(t, &t->slot[i]);
        }
    }
}


int
mall_iptab_parse(const char *s, size_t len, uint8_t addr[16], int *plen)
{
    char         buf[64];
    const char  *slash;
    size_t       alen;
    int          family, bits, n;

    if (len == 0 || len >= sizeof(buf)) {
        return -1;
    }
    slash = memchr(s, '/', len);
    alen = slash ? (size_t) (slash - s) : len;
    memcpy(buf, s, alen);
    buf[alen] = '\0';
    memset(addr, 0, 16);

    if (memchr(buf, ':', alen) != NULL) {
        if (inet_pton(AF_INET6, buf, addr) != 1) {
            return -1;
        }
        family = 6;
        bits = 128;
    } else {
        if (inet_pton(AF_INET, buf, addr) != 1) {
            return -1;
        }
        family = 4;
        bits = 32;
    }

    if (slash == NULL) {
        *plen = bits;
        return family;
    }

    n = 0;
    if (slash + 1 == s + len || len - alen - 1 > 3) {
        return -1;
    }
    for (slash++; slash < s + len; slash++) {
        if (*slash < '0' || *slash > '9') {
            return -1;
        }
        n = n * 10 + (*slash - '0');
    }
    if (n > bits) {
        return -1;
    }
    *plen = n;
    return family;
}
