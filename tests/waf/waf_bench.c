/*
 * mall-waf-bench [RULES_DIR]: ns per request of the scan with the shipped
 * rules on a benign GET's inputs and on a 1 KB JSON POST (engine only).
 */
#include "mall_waf.h"
#include "waf_feed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char query[] = "q=%E8%BF%9E%E8%A1%A3%E8%A3%99+summer&"
    "category_id=12&sort=sales&order=desc&page=2&page_size=20&"
    "price_min=1000&price_max=50000";

static const char json[] =
    "{\"items\":[{\"sku_id\":100234,\"quantity\":2},{\"sku_id\":100871,"
    "\"quantity\":1}],\"address_id\":\"a_8f3k2j\",\"coupon\":\"auto\","
    "\"remark\":\"Please deliver after 6pm, leave it with the doorman at "
    "Building #3 - Unit 502. Thanks!\",\"review\":{\"rating\":5,"
    "\"content\":\"Great dress, fits perfectly! I'm 165cm/52kg and M is "
    "just right. The colour is a bit darker than the photo but still "
    "lovely \\ud83d\\ude0d. \\u5f88\\u559c\\u6b22\\uff0c\\u8d28\\u91cf"
    "\\u5f88\\u597d\\uff01 Would buy again at 1/2 price :)\",\"images\":"
    "[\"https://img.example.com/r/1.jpg\",\"https://img.example.com/r/2.jpg"
    "\"],\"anonymous\":false},\"invoice\":{\"type\":\"personal\",\"title\":"
    "\"O'Neill\",\"email\":\"sean.oneill@example.com\"},\"device\":{\"os\":"
    "\"iOS 17.0\",\"model\":\"iPhone15,2\",\"app_version\":\"3.14.1\","
    "\"network\":\"wifi\"},\"client_ts\":1733558400123,\"nonce\":"
    "\"f3c9a1d2e4b5a6c7\",\"channel\":\"mini-program\",\"scene\":1089,"
    "\"share_from\":\"u_93jd8s\",\"utm\":{\"source\":\"wechat\",\"medium\":"
    "\"social\",\"campaign\":\"double-11\"},\"gift_wrap\":true,"
    "\"gift_message\":\"Happy birthday Mum! Love, Anna & Tom\","
    "\"delivery_slot\":\"2026-12-08 18:00-20:00\"}";

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

int main(int argc, char **argv)
{
    char err[512];
    const char *dir = argc > 1 ? argv[1] : "conf/waf";
    mall_waf_rules_t *rs = waf_feed_compile_dir(dir, err, sizeof(err));
    mall_waf_policy_t *pol;
    size_t sz, i, iters = 100000;
    void *mem;
    double t0, get_ns, post_ns;
    mall_waf_result_t res;
    if (!rs) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    pol = mall_waf_policy_new(rs, NULL, 0, err, sizeof(err));
    sz = mall_waf_scan_size(rs, 16384);
    mem = malloc(sz);
    t0 = now_ns();
    for (i = 0; i < iters; i++) {
        mall_waf_scan_t *s = mall_waf_scan_init(mem, sz, rs, pol);
        waf_feed_baseline(s);
        waf_feed_query(s, query, sizeof(query) - 1);
        mall_waf_scan_result(s, &res);
    }
    get_ns = (now_ns() - t0) / (double)iters;
    if (res.score)
        fprintf(stderr, "warning: the benign GET scored %d\n", res.score);
    t0 = now_ns();
    for (i = 0; i < iters; i++) {
        mall_waf_scan_t *s = mall_waf_scan_init(mem, sz, rs, pol);
        waf_feed_baseline(s);
        mall_waf_scan_json(s, (const uint8_t *)json, sizeof(json) - 1);
        mall_waf_scan_result(s, &res);
    }
    post_ns = (now_ns() - t0) / (double)iters;
    if (res.score)
        fprintf(stderr, "warning: the benign POST scored %d\n", res.score);
    printf("rules %zu; benign GET (6 headers/fields + 8 args): %.0f ns; "
           "1 KB JSON POST (%zu bytes): %.0f ns\n", mall_waf_rule_count(rs),
           get_ns, sizeof(json) - 1, post_ns);
    mall_waf_policy_free(pol);
    mall_waf_free(rs);
    free(mem);
    return 0;
}
