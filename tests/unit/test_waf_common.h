/*
 * Helpers of the WAF unit tests: small rule files in a temp dir compiled
 * with mall_waf_compile, one-request scans through the public API.
 */
#ifndef TEST_WAF_COMMON_H
#define TEST_WAF_COMMON_H

#include "mall_waf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    char  dir[64];
    char  paths[8][128];
    int   n;
} waf_tdir_t;


/* name in a fresh temp dir (created on first use) gets content */
static inline const char *
waf_tfile(waf_tdir_t *d, const char *name, const char *content)
{
    FILE  *f;
    char  *p, tmp[128];

    if (d->dir[0] == '\0') {
        strcpy(d->dir, "/tmp/mall-waf-test.XXXXXX");
        if (mkdtemp(d->dir) == NULL) {
            return NULL;
        }
    }
    if (d->n >= 8) {
        return NULL;
    }
    snprintf(tmp, sizeof(tmp), "%s/%s", d->dir, name);
    p = d->paths[d->n++];
    memcpy(p, tmp, sizeof(tmp));
    f = fopen(p, "w");
    if (f == NULL) {
        return NULL;
    }
    fputs(content, f);
    fclose(f);
    return p;
}


static inline void
waf_tdir_rm(waf_tdir_t *d)
{
    int  i;

    for (i = 0; i < d->n; i++) {
        unlink(d->paths[i]);
    }
    if (d->dir[0]) {
        rmdir(d->dir);
    }
    memset(d, 0, sizeof(*d));
}


/* rules text as one file "t.rules" (and any extra files made before);
 * NULL with err set when it does not compile */
static inline mall_waf_rules_t *
waf_compile_text(const char *text, char *err, size_t errlen)
{
    waf_tdir_t         d;
    const char        *path;
    mall_waf_rules_t  *rs;

    memset(&d, 0, sizeof(d));
    path = waf_tfile(&d, "t.rules", text);
    if (path == NULL) {
        snprintf(err, errlen, "cannot write temp file");
        return NULL;
    }
    rs = mall_waf_compile(&path, 1, err, errlen);
    waf_tdir_rm(&d);
    return rs;
}


/* one request: a scan over its own memory and policy */
typedef struct {
    const mall_waf_rules_t  *rules;
    mall_waf_policy_t       *policy;
    void                    *mem;
    mall_waf_scan_t         *scan;
} waf_req_t;


static inline int
waf_req_start(waf_req_t *q, const mall_waf_rules_t *rs,
    const char *const *args, size_t nargs)
{
    char    err[256];
    size_t  sz;

    memset(q, 0, sizeof(*q));
    q->rules = rs;
    q->policy = mall_waf_policy_new(rs, args, nargs, err, sizeof(err));
    if (q->policy == NULL) {
        fprintf(stderr, "policy: %s\n", err);
        return -1;
    }
    sz = mall_waf_scan_size(rs, 8192);
    q->mem = malloc(sz);
    q->scan = mall_waf_scan_init(q->mem, sz, rs, q->policy);
    return q->scan ? 0 : -1;
}


static inline void
waf_req_end(waf_req_t *q)
{
    mall_waf_policy_free(q->policy);
    free(q->mem);
    memset(q, 0, sizeof(*q));
}


static inline int
waf_req_value(waf_req_t *q, mall_waf_target_e t, const char *name,
    const char *v)
{
    return mall_waf_scan_value(q->scan, t, name, name ? strlen(name) : 0,
                               (const uint8_t *) v, strlen(v));
}


/* did rule id fire in this request? */
static inline int
waf_req_hit(waf_req_t *q, uint32_t id)
{
    mall_waf_result_t  res;
    size_t             i;

    mall_waf_scan_result(q->scan, &res);
    for (i = 0; i < res.nhits; i++) {
        if (res.hits[i].rule_id == id) {
            return 1;
        }
    }
    return 0;
}


static inline int
waf_req_score(waf_req_t *q)
{
    mall_waf_result_t  res;

    mall_waf_scan_result(q->scan, &res);
    return res.score;
}


/* score of one value in a request of its own (default policy) */
static inline int
waf_score1(const mall_waf_rules_t *rs, mall_waf_target_e t,
    const char *name, const char *v)
{
    waf_req_t  q;
    int        score;

    if (waf_req_start(&q, rs, NULL, 0) != 0) {
        return -1;
    }
    waf_req_value(&q, t, name, v);
    score = waf_req_score(&q);
    waf_req_end(&q);
    return score;
}

#endif
