/*
 * Unit tests of the WAF detectors (lib/mall_waf_sqli.c, mall_waf_xss.c):
 * payloads that must be recognised and shopper texts that must not, each
 * seen as the rules see it (after the shipped transform chain); and of
 * the policy (lib/mall_waf_policy.c): paranoia, threshold, detect mode,
 * exclusions by id, by tag and per target.
 */
#include "mall_waf_int.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "test_waf_common.h"

/* the chain of every shipped value rule (conf/waf/README.md) */
static const uint8_t  std_chain[] = {
    TF_URLDECODE, TF_JSONDECODE, TF_HTMLDECODE, TF_FULLWIDTH, TF_REMOVENULL,
    TF_SQLCOMMENTS, TF_COMPRESS_WS, TF_LOWERCASE,
};


static int
detect(int (*fn)(const uint8_t *, size_t), const char *v)
{
    uint8_t  buf[2048];
    size_t   n = strlen(v);

    assert_true(n < sizeof(buf));
    memcpy(buf, v, n);
    n = waf_tf_chain(std_chain, sizeof(std_chain), buf, n,
                     waf_tf_classify(buf, n));
    return fn(buf, n);
}


static void
table(int (*fn)(const uint8_t *, size_t), const char *what,
    const char *const *list, int want)
{
    int  bad = 0;

    for (; *list != NULL; list++) {
        if (detect(fn, *list) != want) {
            fprintf(stderr, "%s: %s: \"%s\"\n", what,
                    want ? "missed" : "false positive", *list);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}


static const char *const  sqli_attacks[] = {
    "1' or '1'='1",
    "1' OR 1=1--",
    "admin'--",
    "admin' #",
    "' or ''='",
    "1\" or \"1\"=\"1",
    "1') or ('1'='1",
    "1 or 1=1",
    "1 union select password from users",
    "1 UNION ALL SELECT NULL,NULL,concat(user(),0x3a,version())--",
    "-1' union/*!50000select*/ 1,2,3-- -",
    "1'/**/or/**/'1'='1",
    "1%27%20OR%201%3D1--",
    "'; drop table users--",
    "1; delete from orders",
    "x' OR 'x'='x",
    "' union select null--",
    "1' and 1=2 union select 1,2--",
    "%27%20or%20%27a%27%3D%27a",
    NULL,
};

static const char *const  sqli_benign[] = {
    "select size M",
    "drop shoulder tee",
    "O'Neill",
    "D'Angelo O'Brien-Smith",
    "1/2 price",
    "I'd like 2 -- no, 3",
    "Tom's and Jerry's cookies",
    "rock 'n' roll t-shirt",
    "union jack cushion",
    "select from our new arrivals",
    "women's shoes size 7 1/2",
    "It's not what I expected, but it's OK; the colour is \"off-white\"",
    "Delivery took 3-5 days. 2 stars -- packaging was damaged.",
    "Please call before delivery; leave at door if no answer",
    "100% cotton",
    "Size chart: S=36, M=38, L=40 (EU)",
    "连衣裙 夏季 新款",
    "iphone 15 pro max case",
    "Building #3 - Unit 502, 88 Nanjing Rd (W)",
    "or",
    "",
    NULL,
};

static const char *const  xss_attacks[] = {
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<svg onload=alert(1)>",
    "<svg/onload=alert(1)>",
    "<img src=x onerror=alert(document.domain)>",
    "<body onload=alert(1)>",
    "<iframe src=//evil.example>",
    "<a href=\"javascript:alert(1)\">x</a>",
    "<a href=\"jav&#x09;ascript:alert(1)\">x</a>",
    "javascript:alert(1)",
    "\" autofocus onfocus=alert(1) x=\"",
    "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    "&lt;img src=x onerror=prompt(1)&gt;",
    "\xef\xbc\x9cscript\xef\xbc\x9e" "alert(1)\xef\xbc\x9c/script\xef\xbc\x9e",
    "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e",
    "<object data=\"data:text/html,<script>alert(1)</script>\">",
    NULL,
};

static const char *const  xss_benign[] = {
    "I <3 it",
    "I <3 this bag, 5/5 would buy again",
    "a < b and c > d, works as described",
    "<b>great</b> quality",
    "Great dress!! Fits perfectly 😍😍",
    "\"Best purchase ever\" - my husband said.",
    "Happy birthday Mum! Love, Anna & Tom",
    "size < M > S",
    "https://mall.example.com/orders/123",
    "javascript book for beginners",
    "很喜欢，质量很好！",
    "on sale = yes",
    "",
    NULL,
};


static void
test_sqli_attacks(void **state)
{
    (void) state;
    table(mall_waf_is_sqli, "sqli", sqli_attacks, 1);
}


static void
test_sqli_benign(void **state)
{
    (void) state;
    table(mall_waf_is_sqli, "sqli", sqli_benign, 0);
}


static void
test_xss_attacks(void **state)
{
    (void) state;
    table(mall_waf_is_xss, "xss", xss_attacks, 1);
}


static void
test_xss_benign(void **state)
{
    (void) state;
    table(mall_waf_is_xss, "xss", xss_benign, 0);
}


/* each detector on its own is bounded and safe on any bytes */
static void
test_detectors_any_bytes(void **state)
{
    uint8_t   buf[300];
    uint32_t  seed = 7;
    size_t    i, k, n;

    (void) state;
    for (i = 0; i < 20000; i++) {
        static const char  alpha[] = "'\"`;()-#/*=<>!&|unionselctrp 0x1a\\";

        seed = seed * 1103515245u + 12345u;
        n = (seed >> 16) % sizeof(buf);
        for (k = 0; k < n; k++) {
            seed = seed * 1103515245u + 12345u;
            buf[k] = (uint8_t) alpha[(seed >> 16) % (sizeof(alpha) - 1)];
        }
        (void) mall_waf_is_sqli(buf, n);
        (void) mall_waf_is_xss(buf, n);
    }
}


/* ---- policy ------------------------------------------------------------ */

static const char  policy_rules[] =
    "1 targets=args,json t=lowercase score=3 tags=sqli,attack pl=1 "
    "@contains aaa\n"
    "2 targets=args,json t=lowercase score=3 tags=sqli,attack pl=2 "
    "@contains bbb\n"
    "3 targets=args,json score=5 tags=xss,attack pl=1 @xss\n"
    "4 targets=args,json score=5 tags=sqli,attack pl=1 @sqli\n"
    "5 targets=args score=5 tags=misc pl=3 @contains zzz\n";


static mall_waf_rules_t *
policy_set(void)
{
    char               err[512] = "";
    mall_waf_rules_t  *rs = waf_compile_text(policy_rules, err, sizeof(err));

    if (rs == NULL) {
        fail_msg("%s", err);
    }
    return rs;
}


/* score of one arg under a policy given as a NULL-terminated list */
static int
score_with(const mall_waf_rules_t *rs, const char *const *args,
    const char *name, const char *v, int *blocked)
{
    waf_req_t          q;
    mall_waf_result_t  res;
    size_t             n = 0;

    while (args && args[n]) {
        n++;
    }
    assert_int_equal(waf_req_start(&q, rs, args, n), 0);
    waf_req_value(&q, MALL_WAF_ARG_VALUE, name, v);
    mall_waf_scan_result(q.scan, &res);
    if (blocked) {
        *blocked = res.blocked;
    }
    waf_req_end(&q);
    return res.score;
}


static void
test_paranoia(void **state)
{
    mall_waf_rules_t          *rs = policy_set();
    static const char *const   pl2[] = { "paranoia=2", NULL };
    static const char *const   pl4[] = { "paranoia=4", NULL };
    int                        blocked;

    (void) state;
    /* PL1: only rule 1 (3 points): under the threshold */
    assert_int_equal(score_with(rs, NULL, "q", "AAA bbb", &blocked), 3);
    assert_int_equal(blocked, 0);
    /* PL2: rule 2 too: 6 points, blocked */
    assert_int_equal(score_with(rs, pl2, "q", "AAA bbb", &blocked), 6);
    assert_int_equal(blocked, 1);
    assert_int_equal(score_with(rs, pl2, "q", "zzz", NULL), 0);
    assert_int_equal(score_with(rs, pl4, "q", "zzz", NULL), 5);
    mall_waf_free(rs);
}


static void
test_threshold_and_mode(void **state)
{
    mall_waf_rules_t          *rs = policy_set();
    static const char *const   t3[] = { "threshold=3", NULL };
    static const char *const   t100[] = { "paranoia=2", "threshold=100",
                                          NULL };
    static const char *const   det[] = { "mode=detect", NULL };
    static const char *const   det2[] = { "detect-only", NULL };
    static const char *const   blk[] = { "mode=detect", "mode=block", NULL };
    waf_req_t                  q;
    mall_waf_result_t          res;
    int                        blocked;

    (void) state;
    assert_int_equal(score_with(rs, t3, "q", "aaa", &blocked), 3);
    assert_int_equal(blocked, 1);
    assert_int_equal(score_with(rs, t100, "q", "AAA bbb", &blocked), 6);
    assert_int_equal(blocked, 0);
    /* detect: scored and reported, never blocked */
    assert_int_equal(score_with(rs, det, "q", "1' or '1'='1", &blocked), 5);
    assert_int_equal(blocked, 0);
    assert_int_equal(score_with(rs, det2, "q", "<svg onload=alert(1)>",
                                &blocked), 5);
    assert_int_equal(blocked, 0);
    assert_int_equal(score_with(rs, blk, "q", "<svg onload=alert(1)>",
                                &blocked), 5);
    assert_int_equal(blocked, 1);
    /* in detect mode scan_value still says the threshold is reached */
    assert_int_equal(waf_req_start(&q, rs, det, 1), 0);
    assert_int_equal(waf_req_value(&q, MALL_WAF_ARG_VALUE, "q",
                                   "<script>alert(1)</script>"), 1);
    mall_waf_scan_result(q.scan, &res);
    assert_int_equal(res.blocked, 0);
    assert_int_equal(res.nhits, 1);
    assert_int_equal(res.hits[0].rule_id, 3);
    waf_req_end(&q);
    mall_waf_free(rs);
}


static void
test_exclusions(void **state)
{
    mall_waf_rules_t          *rs = policy_set();
    static const char *const   by_id[] = { "exclude=4", NULL };
    static const char *const   by_tag[] = { "exclude=tag:xss", NULL };
    static const char *const   id_at[] = { "exclude=4@args:note", NULL };
    static const char *const   attack[] = { "exclude=tag:attack", NULL };

    (void) state;
    assert_int_equal(score_with(rs, by_id, "q", "1' or '1'='1", NULL), 0);
    assert_int_equal(score_with(rs, by_id, "q", "<svg onload=alert(1)>",
                                NULL), 5);
    assert_int_equal(score_with(rs, by_tag, "q", "<svg onload=alert(1)>",
                                NULL), 0);
    assert_int_equal(score_with(rs, by_tag, "q", "1' or '1'='1", NULL), 5);
    /* by id on one named value only */
    assert_int_equal(score_with(rs, id_at, "note", "1' or '1'='1", NULL), 0);
    assert_int_equal(score_with(rs, id_at, "q", "1' or '1'='1", NULL), 5);
    /* a tag several rules share */
    assert_int_equal(score_with(rs, attack, "q", "aaa 1' or '1'='1", NULL),
                     0);
    mall_waf_free(rs);
}


static int
json_score(const mall_waf_rules_t *rs, const char *const *args, size_t n,
    const char *body)
{
    waf_req_t  q;
    int        score;

    assert_int_equal(waf_req_start(&q, rs, args, n), 0);
    mall_waf_scan_json(q.scan, (const uint8_t *) body, strlen(body));
    score = waf_req_score(&q);
    waf_req_end(&q);
    return score;
}


/* no XSS rules on review.content, but SQLi still runs there; and XSS
 * still runs on every other value */
static void
test_exclusion_per_target(void **state)
{
    mall_waf_rules_t          *rs = policy_set();
    static const char *const   ex[] = {
        "exclude=tag:xss@json:review.content",
    };

    (void) state;
    assert_int_equal(json_score(rs, NULL, 0,
        "{\"review\":{\"content\":\"<script>alert(1)</script>\"}}"), 5);
    assert_int_equal(json_score(rs, ex, 1,
        "{\"review\":{\"content\":\"<script>alert(1)</script>\"}}"), 0);
    assert_int_equal(json_score(rs, ex, 1,
        "{\"review\":{\"content\":\"1' or '1'='1\"}}"), 5);
    assert_int_equal(json_score(rs, ex, 1,
        "{\"review\":{\"title\":\"<script>alert(1)</script>\"}}"), 5);
    assert_int_equal(json_score(rs, ex, 1,
        "{\"content\":\"<script>alert(1)</script>\"}"), 5);
    assert_int_equal(json_score(rs, ex, 1,
        "{\"review\":{\"content\":\"I <3 it\"},\"q\":\"<svg onload=x()>\"}"),
        5);
    mall_waf_free(rs);
}


static void
test_policy_errors(void **state)
{
    mall_waf_rules_t  *rs = policy_set();
    char               err[256];
    size_t             i;
    static const struct { const char *arg, *why; }  bad[] = {
        { "paranoia=5", "paranoia is 1..4" },
        { "paranoia=0", "paranoia is 1..4" },
        { "threshold=0", "threshold" },
        { "threshold=x", "threshold" },
        { "json_depth=99", "json_depth" },
        { "mode=log", "unknown setting" },
        { "colour=red", "unknown setting" },
        { "exclude=999", "no rule has this id or tag" },
        { "exclude=tag:nope", "no rule has this id or tag" },
        { "exclude=abc", "bad rule id" },
        { "exclude=", "bad rule id" },
        { "exclude=4@args", "exclusion target is TARGET:NAME" },
        { "exclude=4@argz:q", "exclusion target is TARGET:NAME" },
        { "exclude=4@values:q", "exclusion target is TARGET:NAME" },
        { "exclude=tag:xss@json:", "exclusion target is TARGET:NAME" },
    };

    (void) state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        mall_waf_policy_t  *p;

        err[0] = '\0';
        p = mall_waf_policy_new(rs, &bad[i].arg, 1, err, sizeof(err));
        if (p != NULL) {
            mall_waf_policy_free(p);
            fail_msg("policy \"%s\" accepted", bad[i].arg);
        }
        if (strstr(err, bad[i].why) == NULL) {
            fail_msg("policy \"%s\": \"%s\", expected \"%s\"", bad[i].arg,
                     err, bad[i].why);
        }
    }
    assert_null(mall_waf_policy_new(NULL, NULL, 0, err, sizeof(err)));
    mall_waf_policy_free(NULL);
    mall_waf_free(rs);
}


/* the scan refuses memory that is too small or a policy of other rules */
static void
test_scan_init(void **state)
{
    mall_waf_rules_t   *rs = policy_set(), *other = policy_set();
    mall_waf_policy_t  *p, *po;
    char                err[256];
    static uint64_t     mem[8192];

    (void) state;
    p = mall_waf_policy_new(rs, NULL, 0, err, sizeof(err));
    po = mall_waf_policy_new(other, NULL, 0, err, sizeof(err));
    assert_non_null(p);
    assert_null(mall_waf_scan_init(mem, 16, rs, p));
    assert_null(mall_waf_scan_init(NULL, sizeof(mem), rs, p));
    assert_null(mall_waf_scan_init(mem, sizeof(mem), rs, po));
    assert_null(mall_waf_scan_init(mem, sizeof(mem), rs, NULL));
    assert_non_null(mall_waf_scan_init(mem, mall_waf_scan_size(rs, 100), rs,
                                       p));
    assert_true(mall_waf_scan_size(rs, 100) <= sizeof(mem));
    assert_int_equal(mall_waf_scan_value(NULL, MALL_WAF_ARG_VALUE, "q", 1,
                                         (const uint8_t *) "x", 1), 0);
    mall_waf_policy_free(p);
    mall_waf_policy_free(po);
    mall_waf_free(rs);
    mall_waf_free(other);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_sqli_attacks),
        cmocka_unit_test(test_sqli_benign),
        cmocka_unit_test(test_xss_attacks),
        cmocka_unit_test(test_xss_benign),
        cmocka_unit_test(test_detectors_any_bytes),
        cmocka_unit_test(test_paranoia),
        cmocka_unit_test(test_threshold_and_mode),
        cmocka_unit_test(test_exclusions),
        cmocka_unit_test(test_exclusion_per_target),
        cmocka_unit_test(test_policy_errors),
        cmocka_unit_test(test_scan_init),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
