/*
 * Mall WAF engine: rule files -> compiled set; per request, values are fed
 * one by one and scored (anomaly scoring). Pure C, no nginx headers.
 *
 * Sources: lib/mall_waf*.c (glob); link with -lhs -lpcre2-8.
 *
 * Memory: mall_waf_compile()/mall_waf_policy_new() malloc (config time).
 * The scan API never mallocs: the caller gives mall_waf_scan_size() bytes
 * (e.g. from r->pool). Work per value is bounded: Hyperscan is linear,
 * PCRE2 runs under match/depth limits, values are cut at max_value bytes.
 * A compiled set owns one Hyperscan scratch and one PCRE2 match block, so
 * it serves one thread at a time (an nginx worker is single-threaded;
 * after fork each worker has its own copy).
 */
#ifndef MALL_WAF_H
#define MALL_WAF_H

#include <stddef.h>
#include <stdint.h>

typedef struct mall_waf_rules_s  mall_waf_rules_t;    /* compiled, immutable */
typedef struct mall_waf_policy_s mall_waf_policy_t;   /* per location */
typedef struct mall_waf_scan_s   mall_waf_scan_t;     /* one request */
typedef struct mall_waf_cache_s  mall_waf_cache_t;    /* clean values */

/* What a value is; rules name these in their targets (conf/waf/README.md) */
typedef enum {
    MALL_WAF_METHOD = 0,      /* rules: method */
    MALL_WAF_PATH,            /* path: decoded, normalised URI path */
    MALL_WAF_RAW_URI,         /* raw_uri: request line target as sent */
    MALL_WAF_ARG_NAME,        /* args_names */
    MALL_WAF_ARG_VALUE,       /* args (name: the arg name) */
    MALL_WAF_HEADER_NAME,     /* headers_names */
    MALL_WAF_HEADER_VALUE,    /* headers (name: header name, lowercase) */
    MALL_WAF_COOKIE_NAME,     /* cookies_names */
    MALL_WAF_COOKIE_VALUE,    /* cookies */
    MALL_WAF_BODY_RAW,        /* body */
    MALL_WAF_JSON_KEY,        /* json_keys (name: path like review.content) */
    MALL_WAF_JSON_VALUE,      /* json */
    MALL_WAF_FORM_NAME,       /* form_names */
    MALL_WAF_FORM_VALUE,      /* form */
    MALL_WAF_PART_NAME,       /* part_names: multipart name= */
    MALL_WAF_FILE_NAME,       /* file_names: multipart filename= */
    MALL_WAF_CLIENT_IP,       /* ip: for @ipmatch */
    MALL_WAF_TARGET_COUNT
} mall_waf_target_e;

/*
 * Facts only the edge knows, and those the body walkers find. Each scores
 * through the rules whose operator is "@flag NAME" (conf/waf/protocol.rules).
 */
typedef enum {
    MALL_WAF_ANOMALY_NO_HOST = 0,         /* flag no_host */
    MALL_WAF_ANOMALY_CL_AND_TE,           /* flag cl_and_te */
    MALL_WAF_ANOMALY_TOO_MANY_ARGS,       /* flag too_many_args */
    MALL_WAF_ANOMALY_TOO_MANY_HEADERS,    /* flag too_many_headers */
    MALL_WAF_ANOMALY_BODY_OVER_LIMIT,     /* flag body_over_limit */
    MALL_WAF_ANOMALY_BODY_NOT_INSPECTED,  /* flag body_not_inspected */
    MALL_WAF_ANOMALY_JSON_INVALID,        /* flag json_invalid */
    MALL_WAF_ANOMALY_JSON_BAD_UTF8,       /* flag json_bad_utf8 */
    MALL_WAF_ANOMALY_JSON_DUP_KEY,        /* flag json_dup_key */
    MALL_WAF_ANOMALY_JSON_TOO_DEEP,       /* flag json_too_deep */
    MALL_WAF_ANOMALY_MULTIPART_INVALID,   /* flag multipart_invalid */
    MALL_WAF_ANOMALY_COUNT
} mall_waf_anomaly_e;

/* JSON nesting over this depth raises MALL_WAF_ANOMALY_JSON_TOO_DEEP and
 * stops the walk (the policy's "json_depth=N" lowers it). */
#define MALL_WAF_JSON_MAX_DEPTH  32
#define MALL_WAF_MAX_HITS        32

/* Rule files -> compiled set. NULL on error with "file:line: why" in err. */
mall_waf_rules_t *mall_waf_compile(const char *const *paths, size_t npaths,
    char *err, size_t errlen);
void mall_waf_free(mall_waf_rules_t *rules);
size_t mall_waf_rule_count(const mall_waf_rules_t *rules);

/*
 * A location's policy, from directive arguments such as
 *   "paranoia=1", "threshold=5", "mode=block|detect", "json_depth=16",
 *   "exclude=942100", "exclude=tag:xss", "exclude=tag:xss@json:review.content",
 *   "exclude=942100@args:q"
 * NULL args/nargs 0 = defaults (paranoia 1, threshold 5, block).
 */
mall_waf_policy_t *mall_waf_policy_new(const mall_waf_rules_t *rules,
    const char *const *args, size_t nargs, char *err, size_t errlen);
void mall_waf_policy_free(mall_waf_policy_t *p);

/* Scratch bytes a scan needs (transform buffers, hit list, JSON path).
 * Values longer than max_value are scanned on their first max_value bytes. */
size_t mall_waf_scan_size(const mall_waf_rules_t *rules, size_t max_value);

/* scan lives in caller memory of mall_waf_scan_size() bytes (any alignment
 * the caller's allocator gives, 8-byte aligned or better); NULL if too small */
mall_waf_scan_t *mall_waf_scan_init(void *mem, size_t memlen,
    const mall_waf_rules_t *rules, const mall_waf_policy_t *policy);

/* One value. name may be NULL. Returns 1 when the threshold is reached
 * (in detect mode too: the caller may stop feeding), else 0. Pattern
 * rules run on batches of values, so a value's own verdict may only come
 * with a later call or with mall_waf_scan_result(). */
int mall_waf_scan_value(mall_waf_scan_t *s, mall_waf_target_e target,
    const char *name, size_t name_len, const uint8_t *val, size_t len);

/* A fact (see mall_waf_anomaly_e); scores like a rule hit. Same return. */
int mall_waf_scan_anomaly(mall_waf_scan_t *s, mall_waf_anomaly_e a);

/* Bodies: the engine walks them and calls scan_value for each part
 * (JSON keys/values at any depth with their path; protocol anomalies such
 * as invalid UTF-8, duplicate keys, nesting over the limit score too). */
int mall_waf_scan_json(mall_waf_scan_t *s, const uint8_t *body, size_t len);
int mall_waf_scan_form(mall_waf_scan_t *s, const uint8_t *body, size_t len);
int mall_waf_scan_multipart(mall_waf_scan_t *s, const char *boundary,
    size_t blen, const uint8_t *body, size_t len);

typedef struct {
    uint32_t           rule_id;
    uint16_t           score;
    mall_waf_target_e  target;
    char               name[64];     /* target name, truncated, sanitised */
    char               excerpt[64];  /* sanitised, truncated value */
} mall_waf_hit_t;

typedef struct {
    int                   score;
    int                   blocked;   /* score >= threshold and mode=block */
    size_t                nhits;
    const mall_waf_hit_t *hits;
} mall_waf_result_t;

/*
 * Clean-value cache (mall_waf_cache.c), optional: caller memory of
 * mall_waf_cache_size() bytes and a random 16-byte key, one per rule set
 * (values are keyed by policy too). A scan using it skips the values of up
 * to 256 bytes it holds; a request that ends with no hit adds its values.
 */
size_t mall_waf_cache_size(size_t entries);
mall_waf_cache_t *mall_waf_cache_init(void *mem, size_t memlen,
    const uint8_t key[16]);
void mall_waf_scan_use_cache(mall_waf_scan_t *s, mall_waf_cache_t *c);

/* Scans what is still batched, then the verdict. */
void mall_waf_scan_result(mall_waf_scan_t *s, mall_waf_result_t *out);

/* Rule metadata for the audit log (NULL when unknown). */
const char *mall_waf_rule_msg(const mall_waf_rules_t *rules, uint32_t id);
const char *mall_waf_rule_tags(const mall_waf_rules_t *rules, uint32_t id);

/* "args", "json", ... as rules spell them (for logs). */
const char *mall_waf_target_name(mall_waf_target_e t);

#endif
