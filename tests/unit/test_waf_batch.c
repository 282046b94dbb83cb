/*
 * Unit tests of the WAF's batched scans (lib/mall_waf_batch.c): a request
 * scanned in batches must give the verdict a scan value by value would.
 * Anchors hold at each value's edges, a match never spans two values, a
 * match is recorded against the value that holds it, batches that fill up
 * flush on their own, and \A-anchored rules still see every value. And
 * the clean-value cache (lib/mall_waf_cache.c): only requests with no hit
 * fill it, so a value that rode along an attack is never taken as clean.
 */
#define _GNU_SOURCE             /* mkstemp */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "mall_waf.h"

static const char rules_text[] =
    "1 msg=\"anchored\" targets=args t=lowercase score=5 @rx ^evil$\n"
    "2 msg=\"pair\" targets=args t=lowercase score=5 @rx ab\\s*cd\n"
    "3 msg=\"start of value\" targets=args score=5 @rx \\Astart\n"
    "4 msg=\"phrase\" targets=args t=lowercase score=5 @phrases badword|worse\n"
    "5 msg=\"raw nul\" targets=args score=5 @rx \\x00\n";

typedef struct {
    mall_waf_rules_t   *rs;
    mall_waf_policy_t  *pol;
    void               *mem;
    size_t              size;
    mall_waf_scan_t    *s;
} fx_t;

static int setup(void **state)
{
    static fx_t fx;
    char path[] = "/tmp/test_waf_batch_XXXXXX", err[256];
    const char *paths[1] = { path };
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, rules_text, sizeof(rules_text) - 1),
                     (ssize_t)(sizeof(rules_text) - 1));
    close(fd);
    fx.rs = mall_waf_compile(paths, 1, err, sizeof(err));
    unlink(path);
    assert_non_null(fx.rs);
    fx.pol = mall_waf_policy_new(fx.rs, NULL, 0, err, sizeof(err));
    assert_non_null(fx.pol);
    fx.size = mall_waf_scan_size(fx.rs, 4096);
    fx.mem = malloc(fx.size);
    *state = &fx;
    return 0;
}

static int teardown(void **state)
{
    fx_t *fx = *state;
    mall_waf_policy_free(fx->pol);
    mall_waf_free(fx->rs);
    free(fx->mem);
    return 0;
}

static void begin(fx_t *fx)
{
    fx->s = mall_waf_scan_init(fx->mem, fx->size, fx->rs, fx->pol);
    assert_non_null(fx->s);
}

static void arg(fx_t *fx, const char *name, const char *v)
{
    (void)mall_waf_scan_value(fx->s, MALL_WAF_ARG_VALUE, name, strlen(name),
                              (const uint8_t *)v, strlen(v));
}

/* the verdict, and the rule id and value name of the first hit */
static int verdict(fx_t *fx, uint32_t *id, char *name, size_t cap)
{
    mall_waf_result_t res;
    mall_waf_scan_result(fx->s, &res);
    if (res.nhits && id) {
        *id = res.hits[0].rule_id;
        snprintf(name, cap, "%s", res.hits[0].name);
    }
    return res.blocked;
}

static void anchors_hold_at_every_value(void **state)
{
    fx_t *fx = *state;
    uint32_t id = 0;
    char name[64] = "";
    begin(fx);
    arg(fx, "a", "fine");
    arg(fx, "b", "also fine");
    arg(fx, "c", "EVIL");                  /* not the first value */
    arg(fx, "d", "fine again");
    assert_true(verdict(fx, &id, name, sizeof(name)));
    assert_int_equal(id, 1);
    assert_string_equal(name, "c");       /* the value that holds it */
}

static void anchors_do_not_match_inside_a_value(void **state)
{
    fx_t *fx = *state;
    begin(fx);
    arg(fx, "a", "not evil at all");
    arg(fx, "b", "evilness");
    assert_false(verdict(fx, NULL, NULL, 0));
}

static void no_match_across_two_values(void **state)
{
    fx_t *fx = *state;
    begin(fx);
    arg(fx, "a", "xx ab");                 /* "ab" + separator + "cd" */
    arg(fx, "b", "cd yy");
    assert_false(verdict(fx, NULL, NULL, 0));
    begin(fx);
    arg(fx, "a", "xx ab cd");
    assert_true(verdict(fx, NULL, NULL, 0));
}

static void buffer_anchor_sees_each_value(void **state)
{
    fx_t *fx = *state;
    uint32_t id = 0;
    char name[64] = "";
    begin(fx);
    arg(fx, "a", "first");
    arg(fx, "b", "start of the second");
    assert_true(verdict(fx, &id, name, sizeof(name)));
    assert_int_equal(id, 3);
    assert_string_equal(name, "b");
}

static void full_batches_flush_on_their_own(void **state)
{
    fx_t *fx = *state;
    char name[16];
    uint32_t id = 0;
    char hit[64] = "";
    int i;
    begin(fx);
    for (i = 0; i < 300; i++) {            /* several batches' worth */
        snprintf(name, sizeof(name), "k%d", i);
        arg(fx, name, i == 150 ? "a badword here" : "plain value");
    }
    assert_true(verdict(fx, &id, hit, sizeof(hit)));
    assert_int_equal(id, 4);
    assert_string_equal(hit, "k150");
}

static void long_values_fill_a_batch(void **state)
{
    fx_t *fx = *state;
    static char big[4096];
    int i;
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    begin(fx);
    for (i = 0; i < 8; i++)
        arg(fx, "big", big);
    arg(fx, "last", "worse");
    assert_true(verdict(fx, NULL, NULL, 0));
}

static void a_nul_in_a_value_is_its_own(void **state)
{
    fx_t *fx = *state;
    static const uint8_t v[] = { 'a', 0, 'b' };
    begin(fx);
    arg(fx, "a", "one");
    (void)mall_waf_scan_value(fx->s, MALL_WAF_ARG_VALUE, "b", 1, v,
                              sizeof(v));
    assert_true(verdict(fx, NULL, NULL, 0));
    begin(fx);
    arg(fx, "a", "one");
    arg(fx, "b", "two");                   /* separators are not values */
    assert_false(verdict(fx, NULL, NULL, 0));
}

static void cache_keeps_attacks_out(void **state)
{
    fx_t *fx = *state;
    static uint64_t mem[512];
    static const uint8_t key[16] = "0123456789abcdef";
    mall_waf_cache_t *c;
    assert_true(mall_waf_cache_size(64) <= sizeof(mem));
    c = mall_waf_cache_init(mem, mall_waf_cache_size(64), key);
    assert_non_null(c);
    /* a request with two attacks: the second value follows a hit of the
     * same rule and raises nothing itself, yet must not be cached */
    begin(fx);
    mall_waf_scan_use_cache(fx->s, c);
    arg(fx, "a", "a badword");
    arg(fx, "b", "worse still");
    assert_true(verdict(fx, NULL, NULL, 0));
    begin(fx);
    mall_waf_scan_use_cache(fx->s, c);
    arg(fx, "b", "worse still");
    assert_true(verdict(fx, NULL, NULL, 0));
    /* a clean request is cached, and an attack in the next one still
     * blocks */
    begin(fx);
    mall_waf_scan_use_cache(fx->s, c);
    arg(fx, "q", "summer dress");
    assert_false(verdict(fx, NULL, NULL, 0));
    begin(fx);
    mall_waf_scan_use_cache(fx->s, c);
    arg(fx, "q", "summer dress");
    arg(fx, "r", "EVIL");
    assert_true(verdict(fx, NULL, NULL, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(anchors_hold_at_every_value),
        cmocka_unit_test(anchors_do_not_match_inside_a_value),
        cmocka_unit_test(no_match_across_two_values),
        cmocka_unit_test(buffer_anchor_sees_each_value),
        cmocka_unit_test(full_batches_flush_on_their_own),
        cmocka_unit_test(long_values_fill_a_batch),
        cmocka_unit_test(a_nul_in_a_value_is_its_own),
        cmocka_unit_test(cache_keeps_attacks_out),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
