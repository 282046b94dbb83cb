/*
 * The WAF scan with the shipped rules (every .rules file of conf/waf,
 * compiled once): lib/mall_waf_scan.c, mall_waf_json.c, mall_waf_form.c (form and
 * multipart walkers), mall_waf_hs.c, the detectors, and lib/mall_kv.c as
 * the module feeds query args (names and values decoded once) and cookies
 * (as sent). Each input is fed, in a scan of its own, as a JSON body, a
 * form body, a multipart body (boundary "XyZ"), a raw body, a query string
 * and a Cookie header, under the default policy and a PL4 detect policy
 * with exclusions, with a large and a small max_value (truncation).
 * Oracles on mall_waf_scan_result: at most MALL_WAF_MAX_HITS hits, each of
 * a known rule, names and excerpts NUL-terminated and sanitised; the score
 * is the sum of the hits' scores (while under MAX_HITS); blocked only in
 * block mode at or over the threshold.
 *
 * Rules: $MALL_WAF_RULES_DIR, else ../../conf/waf from the binary
 * (build/fuzz/fuzz_waf_scan), else ../../conf/waf from the current dir.
 */
#include "mall_waf_int.h"

#include <dirent.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "mall_kv.h"

static mall_waf_rules_t   *rules;
static mall_waf_policy_t  *pol_default, *pol_pl4;


static int
cmpstr(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}


static int
compile_dir(const char *d)
{
    char           *paths[64], err[512];
    size_t          n = 0, i, l;
    DIR            *dh = opendir(d);
    struct dirent  *e;

    if (dh == NULL) {
        return -1;
    }
    while ((e = readdir(dh)) != NULL && n < 64) {
        l = strlen(e->d_name);
        if (l > 6 && strcmp(e->d_name + l - 6, ".rules") == 0) {
            paths[n] = malloc(strlen(d) + l + 2);
            sprintf(paths[n++], "%s/%s", d, e->d_name);
        }
    }
    closedir(dh);
    if (n == 0) {
        return -1;
    }
    qsort(paths, n, sizeof(paths[0]), cmpstr);
    rules = mall_waf_compile((const char *const *) paths, n, err,
                             sizeof(err));
    for (i = 0; i < n; i++) {
        free(paths[i]);
    }
    if (rules == NULL) {
        fprintf(stderr, "fuzz_waf_scan: %s\n", err);
        abort();
    }
    return 0;
}


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char *const  pl4[] = {
        "paranoia=4", "mode=detect", "json_depth=8",
        "exclude=tag:xss@json:review.content", "exclude=942100@args:q",
        "exclude=tag:scanner",
    };
    const char  *env = getenv("MALL_WAF_RULES_DIR");
    char         d[4096], err[256], *slash;
    ssize_t      n;

    (void) argc;
    (void) argv;
    if (env != NULL) {
        if (compile_dir(env) != 0) {
            fprintf(stderr, "fuzz_waf_scan: %s: no rules\n", env);
            abort();
        }
    } else {
        n = readlink("/proc/self/exe", d, sizeof(d) - 32);
        slash = n > 0 ? (d[n] = '\0', strrchr(d, '/')) : NULL;
        if (slash != NULL) {
            strcpy(slash, "/../../conf/waf");
        }
        if ((slash == NULL || compile_dir(d) != 0)
            && compile_dir("../../conf/waf") != 0
            && compile_dir("conf/waf") != 0)
        {
            fprintf(stderr, "fuzz_waf_scan: no conf/waf/*.rules found; "
                    "set MALL_WAF_RULES_DIR\n");
            abort();
        }
    }
    pol_default = mall_waf_policy_new(rules, NULL, 0, err, sizeof(err));
    pol_pl4 = mall_waf_policy_new(rules, pl4, sizeof(pl4) / sizeof(pl4[0]),
                                  err, sizeof(err));
    if (pol_default == NULL || pol_pl4 == NULL) {
        fprintf(stderr, "fuzz_waf_scan: policy: %s\n", err);
        abort();
    }
    return 0;
}


static void
check_str(const char *s, size_t cap)
{
    size_t  i, n = strnlen(s, cap);

    FZ_ASSERT(n < cap);
    for (i = 0; i < n; i++) {
        FZ_ASSERT(s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"'
                  && s[i] != '\\');
    }
}


static void
check_result(mall_waf_scan_t *s, const mall_waf_policy_t *pol,
    int threshold)
{
    mall_waf_result_t  res;
    size_t             i;
    int                sum = 0;

    mall_waf_scan_result(s, &res);
    FZ_ASSERT(res.nhits <= MALL_WAF_MAX_HITS);
    FZ_ASSERT(res.score >= 0);
    for (i = 0; i < res.nhits; i++) {
        const mall_waf_hit_t  *h = &res.hits[i];

        FZ_ASSERT(mall_waf_rule_msg(rules, h->rule_id) != NULL);
        FZ_ASSERT(mall_waf_target_name(h->target) != NULL);
        check_str(h->name, sizeof(h->name));
        check_str(h->excerpt, sizeof(h->excerpt));
        sum += h->score;
    }
    if (res.nhits < MALL_WAF_MAX_HITS) {
        FZ_ASSERT(sum == res.score);
    }
    if (pol == pol_pl4) {
        FZ_ASSERT(!res.blocked);
    } else {
        FZ_ASSERT(res.blocked == (res.score >= threshold));
    }
}


typedef struct {
    mall_waf_scan_t  *s;
    int               cookie;
} kv_t;


/* the module's arg feed: name and value decoded once into one buffer */
static int
kv_item(void *arg, const uint8_t *name, size_t nlen, const uint8_t *val,
    size_t vlen)
{
    kv_t     *k = arg;
    uint8_t  *buf;
    size_t    dn, dv;

    if (k->cookie) {
        mall_waf_scan_value(k->s, MALL_WAF_COOKIE_NAME, (const char *) name,
                            nlen, name, nlen);
        if (val != NULL) {
            mall_waf_scan_value(k->s, MALL_WAF_COOKIE_VALUE,
                                (const char *) name, nlen, val, vlen);
        }
        return 0;
    }
    buf = fz_alloc(nlen + vlen);
    dn = mall_kv_decode(buf, name, nlen);
    FZ_ASSERT(dn <= nlen);
    dv = val ? mall_kv_decode(buf + dn, val, vlen) : 0;
    FZ_ASSERT(dv <= vlen);
    mall_waf_scan_value(k->s, MALL_WAF_ARG_NAME, (const char *) buf, dn,
                        buf, dn);
    mall_waf_scan_value(k->s, MALL_WAF_ARG_VALUE, (const char *) buf, dn,
                        buf + dn, dv);
    free(buf);
    return 0;
}


enum { F_JSON, F_FORM, F_MULTIPART, F_RAW, F_QUERY, F_COOKIE, F_COUNT };


static void
feed(int how, mall_waf_scan_t *s, const uint8_t *body, size_t len)
{
    kv_t  k;
    int   more;

    switch (how) {
    case F_JSON:
        mall_waf_scan_json(s, body, len);
        break;
    case F_FORM:
        mall_waf_scan_form(s, body, len);
        break;
    case F_MULTIPART:
        mall_waf_scan_multipart(s, "XyZ", 3, body, len);
        break;
    case F_RAW:
        mall_waf_scan_value(s, MALL_WAF_BODY_RAW, NULL, 0, body, len);
        mall_waf_scan_value(s, MALL_WAF_PATH, NULL, 0, body, len);
        mall_waf_scan_value(s, MALL_WAF_HEADER_VALUE, "user-agent", 10,
                            body, len);
        break;
    case F_QUERY:
    case F_COOKIE:
        k.s = s;
        k.cookie = how == F_COOKIE;
        mall_kv_walk(body, len, k.cookie ? MALL_KV_COOKIE : MALL_KV_QUERY,
                     256, kv_item, &k, &more);
        break;
    }
}


/* the clean-value cache shared by every input: a value it holds raised
 * nothing in a request with no hit, so skipping it changes no score */
static mall_waf_cache_t *
cache(void)
{
    static uint64_t           mem[4096];
    static mall_waf_cache_t  *c;
    static const uint8_t      key[16] = "fuzz-cache-key-0";

    if (c == NULL) {
        c = mall_waf_cache_init(mem, sizeof(mem), key);
        FZ_ASSERT(c != NULL);
    }
    return c;
}


static void
scan_as(int how, const mall_waf_policy_t *pol, size_t max_value,
    const uint8_t *body, size_t len)
{
    size_t              sz = mall_waf_scan_size(rules, max_value);
    void               *mem = fz_alloc(sz);
    mall_waf_scan_t    *s = mall_waf_scan_init(mem, sz, rules, pol);
    mall_waf_result_t   cold, warm;

    FZ_ASSERT(s != NULL);
    feed(how, s, body, len);
    check_result(s, pol, pol == pol_default ? 5 : 0);
    mall_waf_scan_result(s, &cold);
    if (pol == pol_default) {
        s = mall_waf_scan_init(mem, sz, rules, pol);
        mall_waf_scan_use_cache(s, cache());
        feed(how, s, body, len);
        mall_waf_scan_result(s, &warm);
        FZ_ASSERT(warm.score == cold.score);
    }
    free(mem);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t  *body;
    int       how;

    if (size > 16384) {
        return 0;
    }
    /* an exact-size copy: a read past the body is an ASan report */
    body = fz_dup(data, size);
    for (how = 0; how < F_COUNT; how++) {
        scan_as(how, pol_default, 8192, body, size);
        scan_as(how, pol_pl4, how == F_JSON ? 8192 : 24, body, size);
    }
    free(body);
    return 0;
}
