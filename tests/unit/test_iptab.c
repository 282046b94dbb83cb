/*
 * IP/CIDR and string lists (lib/mall_iptab.h): longest-prefix matches for
 * IPv4 and IPv6, allow vs block kinds, expiry, deletion, a reload's drop of
 * file entries, parsing, and 100k entries with a lookup cost that does not
 * depend on the number of entries (probes bounded by the lengths in use).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "mall_iptab.h"

static mall_iptab_t  *tab;
static void          *mem;


static int
setup(void **state)
{
    size_t  size;

    (void) state;
    size = mall_iptab_size(1 << 18);
    mem = malloc(size);
    tab = mall_iptab_init(mem, size);
    assert_non_null(tab);
    return 0;
}


static int
teardown(void **state)
{
    (void) state;
    free(mem);
    return 0;
}


static void
put(int kind, const char *cidr, uint64_t expire, int source)
{
    uint8_t  a[16];
    int      plen, fam;

    fam = mall_iptab_parse(cidr, strlen(cidr), a, &plen);
    assert_true(fam == 4 || fam == 6);
    assert_int_equal(mall_iptab_put(tab, kind, plen, a, expire, source), 0);
}


static int
match(int kind, const char *ip, uint64_t now)
{
    uint8_t  a[16];
    int      plen;

    assert_true(mall_iptab_parse(ip, strlen(ip), a, &plen) > 0);
    return mall_iptab_match(tab, kind, a, now);
}


static void
test_parse(void **state)
{
    uint8_t  a[16];
    int      plen;

    (void) state;
    assert_int_equal(mall_iptab_parse("1.2.3.4", 7, a, &plen), 4);
    assert_int_equal(plen, 32);
    assert_int_equal(a[0], 1);
    assert_int_equal(a[3], 4);
    assert_int_equal(mall_iptab_parse("10.0.0.0/8", 10, a, &plen), 4);
    assert_int_equal(plen, 8);
    assert_int_equal(mall_iptab_parse("2001:db8::/32", 13, a, &plen), 6);
    assert_int_equal(plen, 32);
    assert_int_equal(a[0], 0x20);
    assert_int_equal(mall_iptab_parse("::1", 3, a, &plen), 6);
    assert_int_equal(plen, 128);
    assert_int_equal(mall_iptab_parse("1.2.3.4/33", 10, a, &plen), -1);
    assert_int_equal(mall_iptab_parse("1.2.3/8", 7, a, &plen), -1);
    assert_int_equal(mall_iptab_parse("1.2.3.4/", 8, a, &plen), -1);
    assert_int_equal(mall_iptab_parse("1.2.3.4/x", 9, a, &plen), -1);
    assert_int_equal(mall_iptab_parse("", 0, a, &plen), -1);
    assert_int_equal(mall_iptab_parse("dev-1", 5, a, &plen), -1);
}


static void
test_longest_prefix(void **state)
{
    (void) state;
    put(MALL_IPTAB_BLOCK4, "10.0.0.0/8", 0, MALL_IPTAB_SRC_FILE);
    put(MALL_IPTAB_BLOCK4, "10.1.0.0/16", 0, MALL_IPTAB_SRC_FILE);
    put(MALL_IPTAB_BLOCK4, "10.1.2.3", 0, MALL_IPTAB_SRC_PUSH);
    /* a CIDR is masked on insert: host bits do not matter */
    put(MALL_IPTAB_BLOCK4, "192.168.7.99/24", 0, MALL_IPTAB_SRC_FILE);

    assert_int_equal(match(MALL_IPTAB_BLOCK4, "10.1.2.3", 1), 32);
    assert_int_equal(match(MALL_IPTAB_BLOCK4, "10.1.9.9", 1), 16);
    assert_int_equal(match(MALL_IPTAB_BLOCK4, "10.200.0.1", 1), 8);
    assert_int_equal(match(MALL_IPTAB_BLOCK4, "192.168.7.1", 1), 24);
    assert_int_equal(match(MALL_IPTAB_BLOCK4, "11.0.0.1", 1), -1);
    /* kinds are separate lists */
    assert_int_equal(match(MALL_IPTAB_ALLOW4, "10.1.2.3", 1), -1);
    assert_int_equal(match(MALL_IPTAB_BLOCK6, "::1", 1), -1);

    put(MALL_IPTAB_BLOCK6, "2001:db8::/32", 0, MALL_IPTAB_SRC_FILE);
    put(MALL_IPTAB_BLOCK6, "2400:cb00::1", 0, MALL_IPTAB_SRC_PUSH);
    assert_int_equal(match(MALL_IPTAB_BLOCK6, "2001:db8:1::5", 1), 32);
    assert_int_equal(match(MALL_IPTAB_BLOCK6, "2001:db9::5", 1), -1);
    assert_int_equal(match(MALL_IPTAB_BLOCK6, "2400:cb00::1", 1), 128);
    assert_int_equal(match(MALL_IPTAB_BLOCK6, "2400:cb00::2", 1), -1);

    /* a reload drops file entries and keeps pushed ones */
    mall_iptab_drop_source(tab, MALL_IPTAB_SRC_FILE);
    assert_int_equal(match(MALL_IPTAB_BLOCK4, "10.1.2.3", 1), 32);
    assert_int_equal(match(MALL_IPTAB_BLOCK4, "10.1.9.9", 1), -1);
    assert_int_equal(match(MALL_IPTAB_BLOCK6, "2001:db8:1::5", 1), -1);
    assert_int_equal(match(MALL_IPTAB_BLOCK6, "2400:cb00::1", 1), 128);
}


static void
test_expiry_and_delete(void **state)
{
    uint8_t  a[16];
    int      plen;

    (void) state;
    put(MALL_IPTAB_BLOCK4, "8.8.8.0/24", 1000, MALL_IPTAB_SRC_PUSH);
    assert_int_equal(match(MALL_IPTAB_BLOCK4, "8.8.8.8", 999), 24);
    assert_int_equal(match(MALL_IPTAB_BLOCK4, "8.8.8.8", 1000), -1);
    /* a sweep drops only what has run out */
    put(MALL_IPTAB_BLOCK4, "9.9.9.9", 500, MALL_IPTAB_SRC_PUSH);
    mall_iptab_drop_expired(tab, 600);
    assert_int_equal(match(MALL_IPTAB_BLOCK4, "9.9.9.9", 1), -1);
    assert_int_equal(match(MALL_IPTAB_BLOCK4, "8.8.8.8", 999), 24);
    /* a refresh extends it */
    put(MALL_IPTAB_BLOCK4, "8.8.8.0/24", 0, MALL_IPTAB_SRC_PUSH);
    assert_int_equal(match(MALL_IPTAB_BLOCK4, "8.8.8.8", 5000), 24);

    mall_iptab_parse("8.8.8.0/24", 10, a, &plen);
    assert_int_equal(mall_iptab_del(tab, MALL_IPTAB_BLOCK4, plen, a), 0);
    assert_int_equal(mall_iptab_del(tab, MALL_IPTAB_BLOCK4, plen, a), -1);
    assert_int_equal(match(MALL_IPTAB_BLOCK4, "8.8.8.8", 5000), -1);
    assert_int_equal(tab->used, 0);
}


static void
test_strings(void **state)
{
    uint8_t  k[16];

    (void) state;
    assert_int_equal(mall_iptab_has(tab, MALL_IPTAB_DEVICE, "d1", 2, 1), 0);
    mall_iptab_digest("d1", 2, k);
    assert_int_equal(mall_iptab_put(tab, MALL_IPTAB_DEVICE, 0, k, 0, 2), 0);
    assert_int_equal(mall_iptab_has(tab, MALL_IPTAB_DEVICE, "d1", 2, 1), 1);
    assert_int_equal(mall_iptab_has(tab, MALL_IPTAB_USER, "d1", 2, 1), 0);
    assert_int_equal(mall_iptab_has(tab, MALL_IPTAB_DEVICE, "d2", 2, 1), 0);
    /* strings have no prefix length */
    assert_int_equal(mall_iptab_put(tab, MALL_IPTAB_USER, 3, k, 0, 2), -1);
}


static double
lookup_ns(int n)
{
    char             ip[32];
    int              i, hits;
    struct timespec  a, b;

    hits = 0;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (i = 0; i < n; i++) {
        snprintf(ip, sizeof(ip), "%d.%d.%d.%d", 20 + (i % 7), (i >> 8) & 255,
                 i & 255, 77);
        hits += match(MALL_IPTAB_BLOCK4, ip, 1) >= 0;
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    (void) hits;
    return ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n;
}


/* 100k entries over 3 lengths: all found, none confused, bounded cost. */
static void
test_100k(void **state)
{
    uint8_t  a[16];
    int      i, plen;
    char     ip[32];
    double   small, big;

    (void) state;
    put(MALL_IPTAB_BLOCK4, "100.64.0.0/10", 0, MALL_IPTAB_SRC_FILE);
    put(MALL_IPTAB_BLOCK4, "198.51.100.0/24", 0, MALL_IPTAB_SRC_FILE);
    small = lookup_ns(20000);

    for (i = 0; i < 100000; i++) {
        snprintf(ip, sizeof(ip), "%d.%d.%d.%d", 1 + i / 65536,
                 (i / 256) % 256, i % 256, 9);
        assert_true(mall_iptab_parse(ip, strlen(ip), a, &plen) == 4);
        assert_int_equal(mall_iptab_put(tab, MALL_IPTAB_BLOCK4, 32, a, 0,
                                        MALL_IPTAB_SRC_FILE), 0);
    }
    assert_int_equal(tab->used, 100002);
    assert_int_equal(tab->kinds[MALL_IPTAB_BLOCK4], 100002);

    for (i = 0; i < 100000; i += 37) {
        snprintf(ip, sizeof(ip), "%d.%d.%d.%d", 1 + i / 65536,
                 (i / 256) % 256, i % 256, 9);
        assert_int_equal(match(MALL_IPTAB_BLOCK4, ip, 1), 32);
        snprintf(ip, sizeof(ip), "%d.%d.%d.%d", 1 + i / 65536,
                 (i / 256) % 256, i % 256, 10);
        assert_int_equal(match(MALL_IPTAB_BLOCK4, ip, 1), -1);
    }
    assert_int_equal(match(MALL_IPTAB_BLOCK4, "100.100.1.1", 1), 10);
    assert_int_equal(match(MALL_IPTAB_BLOCK4, "198.51.100.7", 1), 24);

    big = lookup_ns(20000);
    print_message("lookup: %.0f ns with 2 entries, %.0f ns with 100k\n",
                  small, big);
    /* same lengths in use: the cost must not grow with the list (x4 is
       generous for cache misses and a sanitizer build) */
    assert_true(big < small * 4 + 200);

    mall_iptab_drop_source(tab, MALL_IPTAB_SRC_FILE);
    assert_int_equal(tab->used, 0);
    assert_int_equal(tab->kinds[MALL_IPTAB_BLOCK4], 0);
}


static void
test_full(void **state)
{
    uint8_t        a[16], *m;
    mall_iptab_t  *t;
    int            i, rc;

    (void) state;
    m = malloc(mall_iptab_size(64));
    t = mall_iptab_init(m, mall_iptab_size(64));
    assert_int_equal(t->capacity, 64);
    memset(a, 0, sizeof(a));
    rc = 0;
    for (i = 0; i < 64 && rc == 0; i++) {
        a[0] = (uint8_t) i;
        rc = mall_iptab_put(t, MALL_IPTAB_BLOCK4, 32, a, 0, 1);
    }
    assert_int_equal(rc, -1);          /* refused at 3/4, never loops */
    assert_int_equal(t->used, 48);
    free(m);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test_setup_teardown(test_longest_prefix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry_and_delete, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_strings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_100k, setup, teardown),
        cmocka_unit_test(test_full),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
