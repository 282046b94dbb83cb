/*
 * mall-waf-check FILE...: compile WAF rule files as the module would.
 * Exit 0 when they compile ("N rules" on stdout), 1 with "file:line: why"
 * on stderr otherwise (syntax, regex compile, duplicate ids, unknown
 * targets, transformations or operators).
 */
#include "mall_waf.h"

#include <stdio.h>

int main(int argc, char **argv)
{
    char err[512];
    mall_waf_rules_t *rs;
    if (argc < 2) {
        fprintf(stderr, "usage: mall-waf-check FILE.rules...\n");
        return 2;
    }
    rs = mall_waf_compile((const char *const *)(argv + 1),
                          (size_t)(argc - 1), err, sizeof(err));
    if (!rs) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    printf("%zu rules OK\n", mall_waf_rule_count(rs));
    mall_waf_free(rs);
    return 0;
}
