/*
 * Block and allow lists with lookups independent of their size: one
 * open-addressing hash table over caller-provided memory (a slab of a
 * shm zone at the edge, a malloc'd block in tests) holding
 *
 *   IP and CIDR entries, keyed (kind, prefix length, masked address), and
 *   device / user entries, keyed (kind, 16-byte digest of the string).
 *
 * An address is matched by probing only the prefix lengths that are in use
 * for its family (a per-length count is kept), longest first: at most 33
 * probes for IPv4 and 129 for IPv6 whatever the number of entries, and in
 * practice a handful (lists use few distinct lengths). Entries carry an
 * expiry (unix ms, 0: never) and a source (a list file or pushed), so a
 * reload can replace the file entries and keep the pushed ones.
 *
 * No allocation, no locking: the edge holds its zone mutex around calls.
 */
#ifndef MALL_IPTAB_H
#define MALL_IPTAB_H

#include <stddef.h>
#include <stdint.h>

#define MALL_IPTAB_KINDS     6
#define MALL_IPTAB_BLOCK4    0     /* IPv4 block list (addresses, CIDRs) */
#define MALL_IPTAB_BLOCK6    1
#define MALL_IPTAB_ALLOW4    2     /* IPv4 allow list */
#define MALL_IPTAB_ALLOW6    3
#define MALL_IPTAB_DEVICE    4     /* device fingerprints */
#define MALL_IPTAB_USER      5     /* user ids */

#define MALL_IPTAB_SRC_FILE  1     /* a conf/fraud list, replaced on reload */
#define MALL_IPTAB_SRC_PUSH  2     /* pushed through Redis, kept */

typedef struct {
    uint64_t  expire;              /* unix ms; 0: never */
    uint8_t   key[16];             /* masked address or string digest */
    uint8_t   kind;
    uint8_t   plen;                /* prefix length; 0 for strings */
    uint8_t   state;               /* 0 empty, 1 used, 2 deleted */
    uint8_t   source;
    uint32_t  pad;
} mall_iptab_entry_t;              /* 32 bytes */

typedef struct {
    uint32_t            capacity;  /* slots, a power of two */
    uint32_t            used;      /* live or expired-not-reclaimed */
    uint32_t            deleted;   /* tombstones */
    uint32_t            limit;     /* used + deleted stays below it */
    uint32_t            count[MALL_IPTAB_KINDS][129];  /* per length */
    uint32_t            kinds[MALL_IPTAB_KINDS];       /* per kind */
    mall_iptab_entry_t  slot[];
} mall_iptab_t;

/* Bytes a table of that many slots (rounded up to a power of two) needs. */
size_t mall_iptab_size(uint32_t slots);

/* Formats mem (size bytes) as an empty table; NULL if too small. */
mall_iptab_t *mall_iptab_init(void *mem, size_t size);

/*
 * Adds or refreshes an entry (a CIDR key is masked here). 0, or -1 when the
 * table is full (3/4 of its slots) or the arguments are invalid.
 */
int mall_iptab_put(mall_iptab_t *t, int kind, int plen, const uint8_t *key,
    uint64_t expire, int source);

/* Removes an entry; 0 if it was there, -1 if not. */
int mall_iptab_del(mall_iptab_t *t, int kind, int plen, const uint8_t *key);

/*
 * Longest live prefix of kind (BLOCK4/6 or ALLOW4/6) holding addr (4 or 16
 * bytes), or -1. Bounded by the number of lengths in use.
 */
int mall_iptab_match(const mall_iptab_t *t, int kind, const uint8_t *addr,
    uint64_t now);

/* 1 if the string (device, user) is listed and live under kind, else 0. */
int mall_iptab_has(const mall_iptab_t *t, int kind, const char *s,
    size_t len, uint64_t now);

/* The 16-byte key of a device or user string. */
void mall_iptab_digest(const char *s, size_t len, uint8_t key[16]);

/* Drops every entry of source (a reload's file entries). */
void mall_iptab_drop_source(mall_iptab_t *t, int source);

/* Drops every entry expired at now (a sweep over the whole table). */
void mall_iptab_drop_expired(mall_iptab_t *t, uint64_t now);

/*
 * Parses "1.2.3.4", "1.2.3.0/24", "2001:db8::/32" or "::1". On success
 * returns 4 or 6 (the family), fills addr (16 bytes, IPv4 in the first 4)
 * and *plen (32 / 128 without a suffix); -1 if it is not an address.
 */
int mall_iptab_parse(const char *s, size_t len, uint8_t addr[16], int *plen);

#endif
