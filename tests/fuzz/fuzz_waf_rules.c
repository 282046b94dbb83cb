/*
 * lib/mall_waf_rules.c, mall_waf_ops.c, mall_waf_hs.c, mall_waf_policy.c:
 * the rule parser on a rules file written from the input into a temp dir
 * (with a phrase file "p.txt" beside it for "@phrases file:p.txt"),
 * compiled, then - when it compiles - a few values scanned under two
 * policies, and everything freed (leaks are findings). A failed compile
 * must say "file:line: why" (or name the file).
 *
 * Input: a rules file; a '\0' splits it into two files compiled as one set.
 */
#include "mall_waf_int.h"

#include <unistd.h>

#include "fuzz_common.h"

static char  dir[64];
static char  path1[128], path2[128], phrases[128];


/* the temp dir goes when the fuzzer exits */
static void
cleanup(void)
{
    unlink(path1);
    unlink(path2);
    unlink(phrases);
    rmdir(dir);
}


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    FILE  *f;

    (void) argc;
    (void) argv;
    strcpy(dir, "/tmp/fuzz_waf_rules.XXXXXX");
    if (mkdtemp(dir) == NULL) {
        abort();
    }
    snprintf(phrases, sizeof(phrases), "%s/p.txt", dir);
    f = fopen(phrases, "w");
    if (f == NULL) {
        abort();
    }
    fputs("# phrases\nsqlmap\nnikto\n", f);
    fclose(f);
    snprintf(path1, sizeof(path1), "%s/a.rules", dir);
    snprintf(path2, sizeof(path2), "%s/b.rules", dir);
    atexit(cleanup);
    return 0;
}


static void
write_file(const char *path, const uint8_t *p, size_t n)
{
    FILE  *f = fopen(path, "w");

    if (f == NULL) {
        abort();
    }
    if (n && fwrite(p, 1, n, f) != n) {
        abort();
    }
    fclose(f);
}


static void
scan_some(const mall_waf_rules_t *rs, const char *const *args, size_t nargs)
{
    static const struct { mall_waf_target_e t; const char *name, *v; }  vals[] = {
        { MALL_WAF_METHOD, NULL, "GET" },
        { MALL_WAF_PATH, NULL, "/api/v1/products" },
        { MALL_WAF_ARG_VALUE, "q", "1' or '1'='1" },
        { MALL_WAF_ARG_VALUE, "q", "select size M" },
        { MALL_WAF_HEADER_VALUE, "user-agent", "sqlmap/1.7" },
        { MALL_WAF_COOKIE_VALUE, "sid", "<svg onload=alert(1)>" },
        { MALL_WAF_CLIENT_IP, NULL, "10.1.2.3" },
        { MALL_WAF_JSON_VALUE, "review.content", "%3Cscript%3E" },
    };
    char                err[256];
    mall_waf_policy_t  *pol;
    mall_waf_scan_t    *s;
    mall_waf_result_t   res;
    size_t              sz, i;
    void               *mem;

    pol = mall_waf_policy_new(rs, args, nargs, err, sizeof(err));
    if (pol == NULL) {
        return;
    }
    sz = mall_waf_scan_size(rs, 256);
    mem = fz_alloc(sz);
    s = mall_waf_scan_init(mem, sz, rs, pol);
    FZ_ASSERT(s != NULL);
    for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        mall_waf_scan_value(s, vals[i].t, vals[i].name,
                            vals[i].name ? strlen(vals[i].name) : 0,
                            (const uint8_t *) vals[i].v, strlen(vals[i].v));
    }
    for (i = 0; i < MALL_WAF_ANOMALY_COUNT; i++) {
        mall_waf_scan_anomaly(s, (mall_waf_anomaly_e) i);
    }
    mall_waf_scan_json(s, (const uint8_t *) "{\"a\":[\"$where\",1]}", 19);
    mall_waf_scan_result(s, &res);
    FZ_ASSERT(res.nhits <= MALL_WAF_MAX_HITS);
    for (i = 0; i < res.nhits; i++) {
        FZ_ASSERT(mall_waf_rule_msg(rs, res.hits[i].rule_id) != NULL);
        FZ_ASSERT(mall_waf_rule_tags(rs, res.hits[i].rule_id) != NULL);
    }
    free(mem);
    mall_waf_policy_free(pol);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char        *paths[2] = { path1, path2 };
    const uint8_t     *nul;
    char               err[512];
    size_t             npaths = 1;
    mall_waf_rules_t  *rs;
    static const char *const  pl4[] = { "paranoia=4", "mode=detect",
                                        "exclude=tag:sqli@args:q" };

    if (size > 64 * 1024) {
        return 0;
    }
    nul = size ? memchr(data, '\0', size) : NULL;
    if (nul != NULL) {
        write_file(path1, data, (size_t) (nul - data));
        write_file(path2, nul + 1, size - (size_t) (nul - data) - 1);
        npaths = 2;
    } else {
        write_file(path1, data, size);
    }

    err[0] = '\0';
    rs = mall_waf_compile(paths, npaths, err, sizeof(err));
    if (rs == NULL) {
        /* every error names where it is */
        FZ_ASSERT(err[0] != '\0');
        FZ_ASSERT(strncmp(err, dir, strlen(dir)) == 0
                  || strncmp(err, "out of memory", 13) == 0);
        return 0;
    }
    scan_some(rs, NULL, 0);
    scan_some(rs, pl4, 3);
    mall_waf_free(rs);
    return 0;
}
