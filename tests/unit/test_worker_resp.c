/*
 * RESP2 request encoding (workers/src/core/mall_resp.c): byte for byte
 * what hiredis's own formatter produces, for explicit lengths, strlen
 * lengths, empty and binary arguments and ten-plus-digit counts.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "mall_resp.h"


/* Encodes argv both ways and compares. */
static void
check_same(int argc, const char **argv, const size_t *lens)
{
    char    *ours, *theirs;
    size_t   size, n;
    int      len;

    size = mall_resp_size(argc, argv, lens);
    ours = malloc(size);
    assert_non_null(ours);
    n = mall_resp_write(ours, argc, argv, lens);
    assert_int_equal(n, size);

    len = redisFormatCommandArgv(&theirs, argc, argv, lens);
    assert_true(len > 0);
    assert_int_equal((size_t) len, n);
    assert_memory_equal(ours, theirs, n);
    free(ours);
    redisFreeCommand(theirs);
}


static void
test_simple_commands(void **state)
{
    const char  *get[] = { "GET", "mall:idem:order:u1:k1" };
    const char  *set[] = { "SET", "k", "v1 abc", "NX", "EX", "86400" };
    const char  *multi[] = { "MULTI" };

    (void) state;
    check_same(2, get, NULL);
    check_same(6, set, NULL);
    check_same(1, multi, NULL);
}


static void
test_explicit_lengths_binary_and_empty(void **state)
{
    const char    *argv[] = { "HSET", "h", "f", "a\0b\r\nc", "" };
    const size_t   lens[] = { 4, 1, 1, 6, 0 };

    (void) state;
    check_same(5, argv, lens);
}


static void
test_long_values_and_many_arguments(void **state)
{
    const char  *argv[40];
    char        *big;
    size_t       lens[40];
    int          i;

    (void) state;
    big = malloc(123457);
    assert_non_null(big);
    memset(big, 'x', 123457);
    argv[0] = "HSET";
    lens[0] = 4;
    for (i = 1; i < 40; i++) {
        argv[i] = big;
        lens[i] = (size_t) (i % 2 ? 123457 : 9 + i);
    }
    check_same(40, argv, lens);
    free(big);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_commands),
        cmocka_unit_test(test_explicit_lengths_binary_and_empty),
        cmocka_unit_test(test_long_values_and_many_arguments),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
