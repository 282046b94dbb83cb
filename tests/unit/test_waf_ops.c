/*
 * Unit tests of the WAF operators (lib/mall_waf_ops.c) through small rule
 * files compiled with mall_waf_compile and scanned with
 * mall_waf_scan_value, and of the rule parser's errors (file:line: why).
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <dirent.h>
#include <unistd.h>
#include <cmocka.h>

#include "test_waf_common.h"

#define A  MALL_WAF_ARG_VALUE


static mall_waf_rules_t *
compile_ok(const char *text)
{
    char               err[512] = "";
    mall_waf_rules_t  *rs = waf_compile_text(text, err, sizeof(err));

    if (rs == NULL) {
        fail_msg("rules do not compile: %s", err);
    }
    return rs;
}


/* did the one rule of text fire on value v (target t, name)? */
static int
fires(const char *text, mall_waf_target_e t, const char *name, const char *v)
{
    mall_waf_rules_t  *rs = compile_ok(text);
    int                score = waf_score1(rs, t, name, v);

    mall_waf_free(rs);
    return score > 0;
}


static void
test_rx(void **state)
{
    const char  *r = "1 targets=args t=lowercase score=5 @rx ^ab+c$\n";

    (void) state;
    assert_true(fires(r, A, "q", "abbbc"));
    assert_true(fires(r, A, "q", "ABC"));       /* after t=lowercase */
    assert_false(fires(r, A, "q", "ac"));
    assert_false(fires(r, A, "q", "xabc"));
    /* DOTALL: '.' crosses lines; $ is the end only */
    assert_true(fires("2 targets=args @rx a.b\n", A, "q", "a\nb"));
    assert_false(fires("3 targets=args @rx ^a$\n", A, "q", "a\n"));
    /* alternation and classes as the shipped rules write them */
    assert_true(fires("4 targets=args t=lowercase @rx \\b(?:sleep|benchmark)"
                      "\\s*\\(\n", A, "q", "1 AND SLEEP (5)"));
    assert_false(fires("4 targets=args t=lowercase @rx \\b(?:sleep|benchmark)"
                       "\\s*\\(\n", A, "q", "sleepwear (2 pack)"));
    /* a pattern Hyperscan cannot prefilter (backreference): PCRE2 alone */
    assert_true(fires("5 targets=args @rx (['\"])x\\1\n", A, "q", "'x'"));
    assert_false(fires("5 targets=args @rx (['\"])x\\1\n", A, "q", "'x\""));
}


static double
now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}


/*
 * A catastrophic pattern: (a+)+$ on "aaaa...!" backtracks 2^n ways. The
 * match limit ends it quickly, and hitting the limit counts as a match:
 * the negated rule (match when the pattern does not) then stays silent,
 * while on an input that fails at once it fires.
 */
static void
test_rx_match_limit(void **state)
{
    mall_waf_rules_t  *rs;
    char               v[64];
    double             t0;

    (void) state;
    rs = compile_ok("10 targets=args @rx ^(a+)+$\n"
                    "11 targets=args_names @!rx ^(a+)+$\n"
                    "12 targets=cookies @rx ^(\\w+\\s?)*$\n");
    memset(v, 'a', 40);
    strcpy(v + 40, "!");
    t0 = now();
    /* positive rule on the evil input: over the limit = a hit */
    /* positive rules: Hyperscan's prefilter rules the input out, or the
     * limit ends PCRE2's search (a hit): either way, quickly */
    assert_in_range(waf_score1(rs, MALL_WAF_ARG_VALUE, "q", v), 0, 5);
    assert_in_range(waf_score1(rs, MALL_WAF_COOKIE_VALUE, "c", v), 0, 5);
    /* the negated rule (not prefiltered: PCRE2 runs) hits the limit,
     * which counts as a match, so it stays silent */
    assert_int_equal(waf_score1(rs, MALL_WAF_ARG_NAME, v, v), 0);
    assert_true(now() - t0 < 2.0);              /* 2^40 steps otherwise */
    /* the negated rule fires where the pattern fails at once */
    assert_int_equal(waf_score1(rs, MALL_WAF_ARG_NAME, "b", "b"), 5);
    assert_int_equal(waf_score1(rs, MALL_WAF_ARG_NAME, "aaa", "aaa"), 0);
    mall_waf_free(rs);
}


static void
test_phrases(void **state)
{
    waf_tdir_t         d;
    const char        *path;
    char               err[512];
    mall_waf_rules_t  *rs;
    const char        *r = "1 targets=headers:user-agent t=lowercase "
                           "@phrases sqlmap| nikto |masscan\n";

    (void) state;
    assert_true(fires(r, MALL_WAF_HEADER_VALUE, "user-agent",
                      "SQLMap/1.7 (https://sqlmap.org)"));
    assert_true(fires(r, MALL_WAF_HEADER_VALUE, "user-agent", "Nikto/2.5"));
    assert_true(fires(r, MALL_WAF_HEADER_VALUE, "user-agent", "masscan"));
    assert_false(fires(r, MALL_WAF_HEADER_VALUE, "user-agent",
                       "Mozilla/5.0 MicroMessenger/8.0"));
    /* a named target only: other headers are not looked at */
    assert_false(fires(r, MALL_WAF_HEADER_VALUE, "referer", "sqlmap"));

    /* from a file next to the rules, '#' lines skipped */
    memset(&d, 0, sizeof(d));
    waf_tfile(&d, "ua.txt", "# scanners\nsqlmap\n  dirbuster \r\n\nzgrab\n");
    path = waf_tfile(&d, "t.rules", "2 targets=headers:user-agent "
                     "t=lowercase @phrases file:ua.txt\n");
    rs = mall_waf_compile(&path, 1, err, sizeof(err));
    assert_non_null(rs);
    assert_int_equal(waf_score1(rs, MALL_WAF_HEADER_VALUE, "user-agent",
                                "DirBuster-1.0-RC1"), 5);
    assert_int_equal(waf_score1(rs, MALL_WAF_HEADER_VALUE, "user-agent",
                                "zgrab/0.x"), 5);
    assert_int_equal(waf_score1(rs, MALL_WAF_HEADER_VALUE, "user-agent",
                                "# scanners"), 0);
    mall_waf_free(rs);
    waf_tdir_rm(&d);
}


static void
test_contains_equals_prefix(void **state)
{
    (void) state;
    assert_true(fires("1 targets=args @contains ${jndi:\n", A, "q",
                      "x${jndi:ldap://e/a}"));
    assert_false(fires("1 targets=args @contains ${jndi:\n", A, "q",
                       "${jnd"));
    assert_true(fires("2 targets=method @equals TRACE\n", MALL_WAF_METHOD,
                      NULL, "TRACE"));
    assert_false(fires("2 targets=method @equals TRACE\n", MALL_WAF_METHOD,
                       NULL, "TRACEX"));
    assert_false(fires("2 targets=method @equals TRACE\n", MALL_WAF_METHOD,
                       NULL, "TRAC"));
    assert_true(fires("3 targets=path @prefix /admin/\n", MALL_WAF_PATH,
                      NULL, "/admin/users"));
    assert_false(fires("3 targets=path @prefix /admin/\n", MALL_WAF_PATH,
                       NULL, "/api/admin/"));
    assert_false(fires("3 targets=path @prefix /admin/\n", MALL_WAF_PATH,
                       NULL, "/admin"));
}


static void
test_numeric(void **state)
{
    const char  *gt = "1 targets=args:qty @gt 100\n";
    const char  *lt = "2 targets=args:qty @lt -1\n";
    const char  *eq = "3 targets=args:qty @eq 0\n";

    (void) state;
    assert_true(fires(gt, A, "qty", "101"));
    assert_true(fires(gt, A, "qty", " 1e3"));
    assert_true(fires(gt, A, "qty", "100.5"));
    assert_false(fires(gt, A, "qty", "100"));
    assert_false(fires(gt, A, "qty", "abc"));
    assert_false(fires(gt, A, "qty", ""));
    assert_false(fires(gt, A, "other", "5000"));
    assert_true(fires(lt, A, "qty", "-2"));
    assert_false(fires(lt, A, "qty", "-1"));
    assert_true(fires(eq, A, "qty", "0"));
    assert_true(fires(eq, A, "qty", "0.0"));
    assert_false(fires(eq, A, "qty", "1"));
}


static void
test_length(void **state)
{
    const char  *gt = "1 targets=args @len_gt 5\n";
    const char  *lt = "2 targets=headers:host @len_lt 3\n";

    (void) state;
    assert_true(fires(gt, A, "q", "123456"));
    assert_false(fires(gt, A, "q", "12345"));
    assert_true(fires(lt, MALL_WAF_HEADER_VALUE, "host", "ab"));
    assert_true(fires(lt, MALL_WAF_HEADER_VALUE, "host", ""));
    assert_false(fires(lt, MALL_WAF_HEADER_VALUE, "host", "abc"));
    /* the length after the transformations */
    assert_false(fires("3 targets=args t=urldecode @len_gt 3\n", A, "q",
                       "%41%42"));
}


static void
test_ipmatch(void **state)
{
    mall_waf_rules_t  *rs;
    mall_waf_target_e  ip = MALL_WAF_CLIENT_IP;

    (void) state;
    rs = compile_ok("1 targets=ip @ipmatch 10.0.0.0/8, 192.168.1.7,"
                    "2001:db8::/32,::1,172.16.0.0/12,0.0.0.0/0\n");
    mall_waf_free(rs);
    rs = compile_ok("1 targets=ip @ipmatch 10.0.0.0/8, 192.168.1.7,"
                    "2001:db8::/32,::1,172.16.0.0/12,fe80::/10\n");
    assert_int_equal(waf_score1(rs, ip, NULL, "10.1.2.3"), 5);
    assert_int_equal(waf_score1(rs, ip, NULL, "10.255.255.255"), 5);
    assert_int_equal(waf_score1(rs, ip, NULL, "11.0.0.1"), 0);
    assert_int_equal(waf_score1(rs, ip, NULL, "192.168.1.7"), 5);
    assert_int_equal(waf_score1(rs, ip, NULL, "192.168.1.8"), 0);
    assert_int_equal(waf_score1(rs, ip, NULL, "172.31.255.1"), 5);
    assert_int_equal(waf_score1(rs, ip, NULL, "172.32.0.1"), 0);
    /* v6: a prefix, a host, a prefix that is not byte-aligned */
    assert_int_equal(waf_score1(rs, ip, NULL, "2001:db8:1::5"), 5);
    assert_int_equal(waf_score1(rs, ip, NULL, "2001:db9::5"), 0);
    assert_int_equal(waf_score1(rs, ip, NULL, "::1"), 5);
    assert_int_equal(waf_score1(rs, ip, NULL, "::2"), 0);
    assert_int_equal(waf_score1(rs, ip, NULL, "fe80::1"), 5);
    assert_int_equal(waf_score1(rs, ip, NULL, "febf::1"), 5);
    assert_int_equal(waf_score1(rs, ip, NULL, "fec0::1"), 0);
    /* v4 addresses do not match v6 prefixes, nor garbage anything */
    assert_int_equal(waf_score1(rs, ip, NULL, "not an ip"), 0);
    assert_int_equal(waf_score1(rs, ip, NULL, ""), 0);
    assert_int_equal(waf_score1(rs, ip, NULL, "10.0.0.1/8"), 5);
    mall_waf_free(rs);

    /* /0 matches every address of its family, /32 one */
    rs = compile_ok("2 targets=ip @ipmatch 0.0.0.0/0\n"
                    "3 targets=args @ipmatch 203.0.113.9/32\n");
    assert_int_equal(waf_score1(rs, ip, NULL, "8.8.8.8"), 5);
    assert_int_equal(waf_score1(rs, ip, NULL, "::ffff:8.8.8.8"), 0);
    assert_int_equal(waf_score1(rs, A, "u", "203.0.113.9"), 5);
    assert_int_equal(waf_score1(rs, A, "u", "203.0.113.10"), 0);
    mall_waf_free(rs);
}


static void
test_negation(void **state)
{
    const char  *r = "1 targets=method @!rx ^(?:GET|POST)$\n";

    (void) state;
    assert_true(fires(r, MALL_WAF_METHOD, NULL, "PROPFIND"));
    assert_false(fires(r, MALL_WAF_METHOD, NULL, "GET"));
    assert_true(fires("2 targets=ip @!ipmatch 10.8.0.0/16\n",
                      MALL_WAF_CLIENT_IP, NULL, "203.0.113.7"));
    assert_false(fires("2 targets=ip @!ipmatch 10.8.0.0/16\n",
                       MALL_WAF_CLIENT_IP, NULL, "10.8.3.4"));
    assert_true(fires("3 targets=args @!contains ok\n", A, "q", "bad"));
    assert_false(fires("3 targets=args @!contains ok\n", A, "q", "is ok"));
    assert_true(fires("4 targets=args @!equals x\n", A, "q", "y"));
    assert_true(fires("5 targets=args @!phrases a|b\n", A, "q", "c"));
    assert_false(fires("5 targets=args @!phrases a|b\n", A, "q", "cab"));
}


static void
test_flag(void **state)
{
    mall_waf_rules_t  *rs;
    waf_req_t          q;

    (void) state;
    rs = compile_ok("1 score=5 @flag no_host\n"
                    "2 score=0 @flag body_over_limit\n"
                    "3 score=3 @flag json_dup_key\n");
    /* a duplicate key in a JSON body raises the flag */
    assert_int_equal(waf_req_start(&q, rs, NULL, 0), 0);
    mall_waf_scan_json(q.scan, (const uint8_t *) "{\"a\":1,\"a\":2}", 13);
    assert_true(waf_req_hit(&q, 3));
    assert_int_equal(waf_req_score(&q), 3);
    waf_req_end(&q);

    assert_int_equal(waf_req_start(&q, rs, NULL, 0), 0);
    assert_int_equal(mall_waf_scan_anomaly(q.scan,
                                           MALL_WAF_ANOMALY_BODY_OVER_LIMIT),
                     0);
    assert_true(waf_req_hit(&q, 2));             /* recorded, no score */
    assert_int_equal(waf_req_score(&q), 0);
    assert_int_equal(mall_waf_scan_anomaly(q.scan, MALL_WAF_ANOMALY_NO_HOST),
                     1);
    assert_true(waf_req_hit(&q, 1));
    /* once a request */
    mall_waf_scan_anomaly(q.scan, MALL_WAF_ANOMALY_NO_HOST);
    assert_int_equal(waf_req_score(&q), 5);
    /* an anomaly no rule names: nothing */
    assert_int_equal(mall_waf_scan_anomaly(q.scan, MALL_WAF_ANOMALY_CL_AND_TE),
                     1);
    assert_int_equal(waf_req_score(&q), 5);
    assert_int_equal(mall_waf_scan_anomaly(q.scan, MALL_WAF_ANOMALY_COUNT),
                     0);
    waf_req_end(&q);
    mall_waf_free(rs);
}


static void
test_targets_and_scoring(void **state)
{
    mall_waf_rules_t  *rs;
    waf_req_t          q;
    mall_waf_result_t  res;

    (void) state;
    rs = compile_ok("# a comment\n\n"
                    "100 msg=\"evil \\\"word\\\"\" targets=args,!args:safe,"
                    "json t=lowercase score=2 tags=t1,attack @contains evil\n"
                    "101 targets=cookies:sid score=4 tags=t2 @len_gt 4\n");
    assert_int_equal(mall_waf_rule_count(rs), 2);
    assert_string_equal(mall_waf_rule_msg(rs, 100), "evil \"word\"");
    assert_string_equal(mall_waf_rule_tags(rs, 100), "t1,attack");
    assert_string_equal(mall_waf_rule_msg(rs, 101), "");
    assert_null(mall_waf_rule_msg(rs, 999));
    assert_int_equal(waf_req_start(&q, rs, NULL, 0), 0);
    assert_int_equal(waf_req_value(&q, A, "safe", "EVIL"), 0);
    assert_int_equal(waf_req_score(&q), 0);
    assert_int_equal(waf_req_value(&q, MALL_WAF_COOKIE_VALUE, "other",
                                   "longvalue"), 0);
    assert_int_equal(waf_req_score(&q), 0);
    assert_int_equal(waf_req_value(&q, A, "q", "EVIL"), 0);
    /* a rule scores once a request, whatever the number of values */
    assert_int_equal(waf_req_value(&q, A, "q2", "evil again"), 0);
    assert_int_equal(waf_req_score(&q), 2);
    /* threshold 5 reached: 2 + 4 */
    assert_int_equal(waf_req_value(&q, MALL_WAF_COOKIE_VALUE, "sid",
                                   "longvalue"), 1);
    mall_waf_scan_result(q.scan, &res);
    assert_int_equal(res.score, 6);
    assert_int_equal(res.blocked, 1);
    assert_int_equal(res.nhits, 2);
    assert_int_equal(res.hits[0].rule_id, 100);
    assert_int_equal(res.hits[0].target, MALL_WAF_ARG_VALUE);
    assert_string_equal(res.hits[0].name, "q");
    assert_string_equal(res.hits[0].excerpt, "EVIL");
    assert_int_equal(res.hits[1].rule_id, 101);
    assert_string_equal(mall_waf_target_name(res.hits[1].target), "cookies");
    waf_req_end(&q);
    mall_waf_free(rs);
}


/* excerpts and names in hits are sanitised and truncated */
static void
test_hit_sanitised(void **state)
{
    mall_waf_rules_t  *rs;
    waf_req_t          q;
    mall_waf_result_t  res;
    char               big[200];

    (void) state;
    rs = compile_ok("1 targets=args @contains x\n");
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(waf_req_start(&q, rs, NULL, 0), 0);
    mall_waf_scan_value(q.scan, A, "n\"\\\n", 4,
                        (const uint8_t *) "x\"\\\x01\xe4\xb8\xad", 7);
    mall_waf_scan_result(q.scan, &res);
    assert_int_equal(res.nhits, 1);
    assert_string_equal(res.hits[0].name, "n...");
    assert_string_equal(res.hits[0].excerpt, "x......");
    waf_req_end(&q);
    assert_int_equal(waf_req_start(&q, rs, NULL, 0), 0);
    waf_req_value(&q, A, big, big);
    mall_waf_scan_result(q.scan, &res);
    assert_int_equal(strlen(res.hits[0].name), 63);
    assert_int_equal(strlen(res.hits[0].excerpt), 63);
    waf_req_end(&q);
    mall_waf_free(rs);
}


/* a parse error: NULL and "FILE:LINE: why" */
static void
expect_error(const char *text, unsigned line, const char *why)
{
    waf_tdir_t         d;
    const char        *path;
    char               err[512] = "", want[256];
    mall_waf_rules_t  *rs;

    memset(&d, 0, sizeof(d));
    path = waf_tfile(&d, "bad.rules", text);
    rs = mall_waf_compile(&path, 1, err, sizeof(err));
    if (rs != NULL) {
        mall_waf_free(rs);
        waf_tdir_rm(&d);
        fail_msg("compiled, expected \"%s\" at line %u:\n%s", why, line,
                 text);
    }
    snprintf(want, sizeof(want), "%s:%u: ", path, line);
    if (strncmp(err, want, strlen(want)) != 0 || strstr(err, why) == NULL) {
        waf_tdir_rm(&d);
        fail_msg("error \"%s\", expected \"%s%s...\"", err, want, why);
    }
    waf_tdir_rm(&d);
}


static void
test_parser_errors(void **state)
{
    const char  *ok = "# header\n"
                      "1 targets=args @contains a\n";
    char         text[1024];

#define BAD(rule, why)                                                        \
    do {                                                                      \
        snprintf(text, sizeof(text), "%s%s\n", ok, rule);                     \
        expect_error(text, 3, why);                                           \
    } while (0)

    (void) state;
    BAD("1 targets=args @contains b", "duplicate rule id");
    BAD("2 targets=args @rx (unclosed", "regex does not compile");
    BAD("2 targets=args @rx a{2,1}", "regex does not compile");
    BAD("2 targets=argz @contains b", "unknown target");
    BAD("2 targets=args,!nope:x @contains b", "unknown target");
    BAD("2 targets=args t=urldecode,rot13 @contains b",
        "unknown transformation");
    BAD("2 targets=args @regex b", "unknown operator");
    BAD("2 targets=args @!foo b", "unknown operator");
    BAD("2 @flag no_such_flag", "unknown flag");
    BAD("2 @contains b", "no targets");
    BAD("2 targets=args", "no operator");
    BAD("2 targets=args @ipmatch 10.0.0.0/33", "bad IP or CIDR");
    BAD("2 targets=ip @ipmatch 300.1.1.1", "bad IP or CIDR");
    BAD("2 targets=ip @ipmatch ", "empty CIDR list");
    BAD("2 targets=args @gt ten", "operator needs a number");
    BAD("2 targets=args @len_gt", "operator needs a number");
    BAD("2 targets=args @contains", "operator needs an argument");
    BAD("2 targets=args @phrases |", "empty phrase list");
    BAD("2 targets=args @phrases file:../etc/passwd", "phrase file");
    BAD("2 targets=args @phrases file:missing.txt",
        "cannot open phrase file");
    BAD("2 msg=\"unterminated targets=args @contains b", "unterminated quote");
    BAD("two targets=args @contains b", "a rule starts with its id");
    BAD("0 targets=args @contains b", "a rule starts with its id");
    BAD("2 targets=args pl=5 @contains b", "pl is 1..4");
    BAD("2 targets=args score=-1 @contains b", "score is 0..1000");
    BAD("2 targets=args colour=red @contains b", "unknown field");
    BAD("2 targets=args lonely @contains b", "expected key=value");
    BAD("2 targets=args:a,args:b,args:c,args:d,args:e,args:f,args:g,args:h,"
        "args:i,args:j,args:k,args:l,args:m,args:n,args:o,args:p,args:q "
        "@contains b", "too many named targets");
    BAD("2 targets=values:x @contains b", "a named target");
    BAD("2 targets=args t=lowercase,lowercase,lowercase,lowercase,lowercase,"
        "lowercase,lowercase,lowercase,lowercase,lowercase,lowercase "
        "@contains b", "too many transformations");
#undef BAD

    /* the line number counts comments and blank lines */
    expect_error("\n\n# c\n\n5 targets=args @rx (\n", 5,
                 "regex does not compile");
    /* the first line */
    expect_error("5 targets=nope @contains x\n", 1, "unknown target");
}


/* a duplicate across files names both places; a missing file fails */
static void
test_parser_files(void **state)
{
    waf_tdir_t         d;
    const char        *paths[3];
    char               err[512] = "";
    mall_waf_rules_t  *rs;

    (void) state;
    memset(&d, 0, sizeof(d));
    paths[0] = waf_tfile(&d, "a.rules", "7 targets=args @contains a\n");
    paths[1] = waf_tfile(&d, "b.rules", "\n8 targets=args @contains b\n"
                         "7 targets=json @contains c\n");
    rs = mall_waf_compile(paths, 2, err, sizeof(err));
    assert_null(rs);
    assert_non_null(strstr(err, "b.rules:3: duplicate rule id"));
    assert_non_null(strstr(err, "a.rules:1"));
    /* both files fine once the id is changed; their rules add up */
    waf_tfile(&d, "b.rules", "8 targets=args @contains b\n");
    rs = mall_waf_compile(paths, 2, err, sizeof(err));
    assert_non_null(rs);
    assert_int_equal(mall_waf_rule_count(rs), 2);
    mall_waf_free(rs);
    paths[2] = "/nonexistent/x.rules";
    rs = mall_waf_compile(paths, 3, err, sizeof(err));
    assert_null(rs);
    assert_non_null(strstr(err, "/nonexistent/x.rules:0: cannot open"));
    /* no files: an empty set, which scans to nothing */
    rs = mall_waf_compile(NULL, 0, err, sizeof(err));
    assert_non_null(rs);
    assert_int_equal(mall_waf_rule_count(rs), 0);
    assert_int_equal(waf_score1(rs, A, "q", "anything"), 0);
    mall_waf_free(rs);
    waf_tdir_rm(&d);
}


/* conf/waf: $MALL_WAF_RULES_DIR, else from the source dir (make check
 * runs here), else from the binary (build/unit/ -> ../../conf/waf) */
static const char *
rules_dir(void)
{
    static char  buf[4096];
    const char  *env = getenv("MALL_WAF_RULES_DIR");
    char        *slash;
    ssize_t      n;

    if (env != NULL) {
        return env;
    }
    if (access("../../conf/waf/sqli.rules", R_OK) == 0) {
        return "../../conf/waf";
    }
    n = readlink("/proc/self/exe", buf, sizeof(buf) - 32);
    if (n > 0) {
        buf[n] = '\0';
        slash = strrchr(buf, '/');
        if (slash != NULL) {
            strcpy(slash, "/../../conf/waf");
            return buf;
        }
    }
    return "../../conf/waf";
}


static int
cmpstr(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}


/* every shipped rule file compiles, in one set, as the module loads it */
static void
test_shipped_rules_compile(void **state)
{
    const char        *dir = rules_dir();
    char              *paths[64], err[512] = "";
    size_t             n = 0, i, l;
    DIR               *d;
    struct dirent     *e;
    mall_waf_rules_t  *rs;

    (void) state;
    d = opendir(dir);
    if (d == NULL) {
        fail_msg("%s: cannot open (set MALL_WAF_RULES_DIR)", dir);
    }
    while ((e = readdir(d)) != NULL && n < 64) {
        l = strlen(e->d_name);
        if (l > 6 && strcmp(e->d_name + l - 6, ".rules") == 0) {
            paths[n] = malloc(strlen(dir) + l + 2);
            sprintf(paths[n++], "%s/%s", dir, e->d_name);
        }
    }
    closedir(d);
    qsort(paths, n, sizeof(paths[0]), cmpstr);
    assert_true(n > 0);
    rs = mall_waf_compile((const char *const *) paths, n, err, sizeof(err));
    for (i = 0; i < n; i++) {
        free(paths[i]);
    }
    if (rs == NULL) {
        fail_msg("%s", err);
    }
    assert_true(mall_waf_rule_count(rs) > 20);
    mall_waf_free(rs);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_rx),
        cmocka_unit_test(test_rx_match_limit),
        cmocka_unit_test(test_phrases),
        cmocka_unit_test(test_contains_equals_prefix),
        cmocka_unit_test(test_numeric),
        cmocka_unit_test(test_length),
        cmocka_unit_test(test_ipmatch),
        cmocka_unit_test(test_negation),
        cmocka_unit_test(test_flag),
        cmocka_unit_test(test_targets_and_scoring),
        cmocka_unit_test(test_hit_sanitised),
        cmocka_unit_test(test_parser_errors),
        cmocka_unit_test(test_parser_files),
        cmocka_unit_test(test_shipped_rules_compile),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
