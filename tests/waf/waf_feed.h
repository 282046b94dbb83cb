/* Feeding helpers shared by the WAF case driver and the benchmark. */
#ifndef WAF_FEED_H
#define WAF_FEED_H

#include "mall_waf.h"

/* every *.rules file of dir, in name order */
mall_waf_rules_t *waf_feed_compile_dir(const char *dir, char *err,
    size_t errlen);
/* a shopper's GET: method, path, Host, User-Agent, Accept, client IP */
void waf_feed_baseline(mall_waf_scan_t *s);
/* one case's payload at WHERE (waf_cases.c); -1 if WHERE is unknown */
int waf_feed_case(mall_waf_scan_t *s, const char *where, const uint8_t *p,
    size_t n);
/* a query string as the edge feeds it: names and values decoded once */
void waf_feed_query(mall_waf_scan_t *s, const char *q, size_t n);

#endif
