/*
 * WAF engine internals shared by lib/mall_waf_*.c (not for the module).
 */
#ifndef MALL_WAF_INT_H
#define MALL_WAF_INT_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE              /* memmem, strndup, strcasecmp */
#endif

#include "mall_waf.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <hs/hs.h>

#define WAF_MAX_CHAIN   10      /* transforms per rule */
#define WAF_MAX_SEL     16      /* named targets / exclusions per rule */
#define WAF_NAME_MAX    64

typedef enum {
    TF_URLDECODE = 0, TF_HTMLDECODE, TF_JSONDECODE, TF_LOWERCASE,
    TF_COMPRESS_WS, TF_SQLCOMMENTS, TF_FULLWIDTH, TF_BASE64,
    TF_REMOVENULL, TF_COUNT
} waf_tf_e;

typedef enum {
    OP_RX = 0, OP_PHRASES, OP_CONTAINS, OP_EQUALS, OP_PREFIX,
    OP_GT, OP_LT, OP_EQ, OP_LEN_GT, OP_LEN_LT, OP_IPMATCH,
    OP_SQLI, OP_XSS, OP_FLAG, OP_COUNT
} waf_op_e;

typedef struct {
    uint8_t  target;                 /* mall_waf_target_e */
    uint8_t  nlen;
    char     name[WAF_NAME_MAX];
} waf_sel_t;

typedef struct {
    uint8_t  n;
    uint8_t  tf[WAF_MAX_CHAIN];
} waf_chain_t;

typedef struct {
    uint32_t  v4;                    /* host order */
    uint8_t   v6[16];
    uint8_t   bits;
    uint8_t   is6;
} waf_cidr_t;

typedef struct {
    uint32_t      id;
    uint16_t      score;
    uint8_t       pl;                /* paranoia level 1..4 */
    uint8_t       op;                /* waf_op_e */
    uint8_t       negate;            /* "@!op": match when op does not */
    uint8_t       in_hs;             /* prefiltered by the group's database */
    uint16_t      chain;             /* index into rules->chains */
    uint32_t      tmask;             /* targets matched whatever the name */
    uint8_t       ninc, nexc;
    waf_sel_t     inc[WAF_MAX_SEL];  /* target:name includes */
    waf_sel_t     exc[WAF_MAX_SEL];  /* !target:name exclusions */
    char         *msg;
    char         *tags;              /* "sqli,attack" */
    char         *arg;               /* operator argument */
    size_t        arglen;
    double        num;
    pcre2_code   *re;
    char        **phrases;           /* NUL-terminated strings */
    size_t        nphrases;
    waf_cidr_t   *cidrs;
    size_t        ncidrs;
    const char   *file;              /* for messages */
    unsigned      line;
} waf_rule_t;

/* Rules sharing a transform chain: one Hyperscan database for all their
 * patterns, so a value is transformed and scanned once per chain. */
typedef struct {
    uint16_t         chain;
    uint32_t         tmask;          /* union of the rules' targets */
    uint32_t         named;          /* targets only some names of */
    const waf_sel_t **sels;          /* those names */
    size_t           nsels;
    hs_database_t   *db;
    uint32_t        *hs_rule;        /* hs pattern id -> rule index */
    size_t           nhs;
    uint32_t        *direct;         /* rules evaluated one by one */
    size_t           ndirect;
    uint8_t          sep;            /* between values in a batch */
} waf_group_t;

struct mall_waf_rules_s {
    waf_rule_t          *rules;
    size_t               nrules;
    waf_chain_t         *chains;
    size_t               nchains;
    waf_group_t         *groups;
    size_t               ngroups;
    char               **files;      /* paths, for rule->file */
    size_t               nfiles;
    hs_scratch_t        *hs_scratch;
    pcre2_match_data    *md;
    pcre2_match_context *mctx;
    pcre2_jit_stack     *jit;
};

typedef struct {
    uint32_t  rule;                  /* index, or id when by_id */
    int       by_tag;
    char      tag[32];
    int       target;                /* -1: every target */
    char      name[WAF_NAME_MAX];
    size_t    nlen;
} waf_excl_t;

struct mall_waf_policy_s {
    const mall_waf_rules_t *rules;
    int         paranoia;
    int         threshold;
    int         detect;
    int         json_depth;
    uint8_t    *off;                 /* per rule: disabled everywhere */
    waf_excl_t *excl;                /* per-target exclusions */
    size_t      nexcl;
};

/* Values waiting for their group's one Hyperscan scan a request: the
 * transformed copies back to back, each followed by the group's separator
 * ('\n' when a pattern anchors on ^ or $: MULTILINE), plus what a
 * hit needs to know about each (names and original are copied: callers'
 * buffers such as the JSON path change from one value to the next). */
#define WAF_BATCH_VALUES  64
#define WAF_BATCH_EXTRA   8192       /* bytes beyond one max_value value */
#define WAF_EXCERPT       64
#define WAF_CACHE_VALUE_MAX 256      /* longer values are not cached */
#define WAF_CACHE_PENDING 64         /* values a request may add */

typedef struct {
    uint32_t  off, len;              /* transformed copy in batch->buf */
    uint32_t  nlen;                  /* the name's real length */
    uint8_t   target, olen;          /* olen: bytes of orig kept */
    char      name[WAF_NAME_MAX];
    uint8_t   orig[WAF_EXCERPT];
} waf_pending_t;

typedef struct {
    uint8_t       *buf;
    size_t         used, cap;
    waf_pending_t *vals;
    size_t         nvals;
} waf_batch_t;

struct mall_waf_scan_s {
    const mall_waf_rules_t  *rules;
    const mall_waf_policy_t *policy;
    int             score;
    size_t          nhits;
    mall_waf_hit_t  hits[MALL_WAF_MAX_HITS];
    size_t          max_value;
    uint8_t        *buf;             /* max_value bytes: transformed value */
    uint8_t        *fired;           /* nrules bits: scored once a request */
    uint32_t       *seen;            /* nrules: serial + value of the last
                                        candidate, one check a value */
    uint32_t        serial;
    waf_batch_t    *batch;           /* ngroups, buf NULL without a db */
    waf_batch_t    *flushing;        /* batch under scan (match callback) */
    char           *path;            /* JSON path, WAF_PATH_MAX */
    uint32_t        anomalies;       /* bits already raised */
    int             hit;             /* a rule recorded: cache nothing */
    mall_waf_cache_t *cache;         /* NULL: no clean-value cache */
    size_t          nvkeys;
    uint64_t        vkeys[WAF_CACHE_PENDING];  /* values to add if clean */
};

#define WAF_PATH_MAX 256

/* transforms (mall_waf_transform.c): in place, never grow the value */
int    waf_tf_lookup(const char *name, size_t len);
const char *waf_tf_name(int tf);
size_t waf_tf_apply(int tf, uint8_t *p, size_t n);
unsigned waf_tf_classify(const uint8_t *p, size_t n);
size_t waf_tf_chain(const uint8_t *tf, size_t ntf, uint8_t *p, size_t n,
           unsigned cls);

/* operators (mall_waf_ops.c) */
int    waf_op_lookup(const char *name, size_t len);
int    waf_op_prepare(waf_rule_t *r, const char *dir, char *err, size_t el);
int    waf_op_eval(const mall_waf_rules_t *rs, const waf_rule_t *r,
           const uint8_t *v, size_t n);
void   waf_op_free(waf_rule_t *r);
void   waf_rx_limits(pcre2_match_context *mctx);
int    waf_ip_parse(const char *s, size_t n, waf_cidr_t *out);

/* multi-pattern matcher (mall_waf_hs.c) */
int    waf_hs_build(mall_waf_rules_t *rs, char *err, size_t el);
int    waf_hs_scan(mall_waf_scan_t *s, const waf_group_t *g,
           const uint8_t *v, size_t n,
           int (*on_match)(unsigned id, unsigned long long from,
                           unsigned long long to, unsigned flags, void *s));
void   waf_hs_free(mall_waf_rules_t *rs);

/* detectors (mall_waf_sqli.c, mall_waf_xss.c) */
int    mall_waf_is_sqli(const uint8_t *v, size_t n);
int    mall_waf_is_xss(const uint8_t *v, size_t n);

/* rules parser (mall_waf_rules.c) */
int    waf_parse_file(mall_waf_rules_t *rs, const char *path,
           char *err, size_t el);
int    waf_target_lookup(const char *name, size_t len, uint32_t *mask);
void   waf_rules_clear_all(mall_waf_rules_t *rs);
int    waf_rule_has_tag(const waf_rule_t *r, const char *tag);

/* scan internals (mall_waf_scan.c) */
int    waf_anomaly_flag(const char *name, size_t len);
void   waf_consider(mall_waf_scan_t *s, size_t ri, int t, const char *name,
           size_t nlen, const uint8_t *orig, size_t olen,
           const uint8_t *tv, size_t tn, int confirm);
int    waf_reached(const mall_waf_scan_t *s);

/* clean-value cache (mall_waf_cache.c) */
/* 0 when the name or value is too long to cache */
uint64_t waf_cache_key(const mall_waf_cache_t *c, const void *policy, int t,
           const char *name, size_t nlen, const uint8_t *v, size_t n);
int    waf_cache_has(const mall_waf_cache_t *c, uint64_t k);
void   waf_cache_put(mall_waf_cache_t *c, uint64_t k);

/* batches (mall_waf_batch.c) */
size_t waf_batch_layout(mall_waf_scan_t *s, const mall_waf_rules_t *rs,
           size_t max_value, uint8_t *p);
uint8_t *waf_batch_slot(mall_waf_scan_t *s, size_t g, size_t len);
void   waf_batch_push(mall_waf_scan_t *s, size_t g, int t, const char *name,
           size_t nlen, const uint8_t *orig, size_t olen, size_t tn);
void   waf_batch_flush_all(mall_waf_scan_t *s);

#endif
