/*
 * lib/mall_iptab.c: the fraud lists' address parser and table. Each input
 * line is what a conf/fraud list line or a pushed block holds: parsed
 * as an address or CIDR and added to the block list of its family, or
 * else added as a device/user string. Every entry added must then match
 * (an address inside its prefix finds a prefix at least as long), a
 * string must be found, and deleting everything must leave nothing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mall_iptab.h"

#define SLOTS 256

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t mem[1 << 15];
    mall_iptab_t *t;
    const char *p = (const char *) data, *end = p + size;
    uint8_t addr[16], key[16];
    int fam, plen, kind, got;

    if (mall_iptab_size(SLOTS) > sizeof(mem)) {
        abort();
    }
    t = mall_iptab_init(mem, mall_iptab_size(SLOTS));
    if (t == NULL) {
        abort();
    }

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t) (end - p));
        size_t len = (size_t) ((nl ? nl : end) - p);

        fam = mall_iptab_parse(p, len, addr, &plen);
        if (fam == 4 || fam == 6) {
            if (plen < 0 || plen > (fam == 4 ? 32 : 128)) {
                abort();
            }
            kind = fam == 4 ? MALL_IPTAB_BLOCK4 : MALL_IPTAB_BLOCK6;
            if (mall_iptab_put(t, kind, plen, addr, 0,
                               MALL_IPTAB_SRC_PUSH) == 0)
            {
                got = mall_iptab_match(t, kind, addr, 1);
                if (got < plen) {
                    abort();          /* just added, must be found */
                }
            }
        } else if (fam != -1) {
            abort();
        } else if (len) {
            if (mall_iptab_put(t, MALL_IPTAB_DEVICE, 0,
                               (mall_iptab_digest(p, len, key), key), 0,
                               MALL_IPTAB_SRC_FILE) == 0
                && !mall_iptab_has(t, MALL_IPTAB_DEVICE, p, len, 1))
            {
                abort();
            }
        }
        p = nl ? nl + 1 : end;
    }

    mall_iptab_drop_source(t, MALL_IPTAB_SRC_FILE);
    if (t->kinds[MALL_IPTAB_DEVICE] != 0) {
        abort();
    }
    mall_iptab_drop_expired(t, UINT64_MAX);
    return 0;
}
