/*
 * The header values the edge's HTTP cache (RFC 9111) reads from origins
 * and clients: Cache-Control directive lists (and the Structured Field
 * form of targeted fields, RFC 9213), delta-seconds and Age, entity-tag
 * lists (If-None-Match), field-name lists (Vary, no-cache="f"), the
 * normalised selecting values of a Vary, and Accept-Encoding codings.
 * Pure C, no allocation: results point into the input or go to a buffer
 * of the caller, sized as each function says.
 */
#ifndef MALL_HTTP_CACHE_PARSE_H
#define MALL_HTTP_CACHE_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* delta-seconds that overflow are this (RFC 9111 §1.2.2) */
#define MALL_HTTP_CACHE_DELTA_MAX     2147483648LL

/* Accept-Language members compared by a Vary; the rest are dropped */
#define MALL_HTTP_CACHE_VARY_MEMBERS  32

/* The cache-control directives of a response or a request (-1: absent). */
typedef struct {
    int64_t      smaxage;
    int64_t      maxage;
    int64_t      swr;                  /* stale-while-revalidate */
    int64_t      sie;                  /* stale-if-error */
    int64_t      min_fresh;            /* request only */
    int64_t      max_stale;            /* request only */
    const char  *no_cache_fields;      /* no-cache="f, g", as written */
    size_t       no_cache_fields_len;
    const char  *private_fields;       /* private="f" */
    size_t       private_fields_len;
    unsigned     no_store:1;
    unsigned     no_cache:1;
    unsigned     private:1;
    unsigned     public:1;
    unsigned     must_revalidate:1;
    unsigned     proxy_revalidate:1;
    unsigned     targeted:1;           /* set by the caller */
    unsigned     max_stale_any:1;      /* max-stale without a value */
    unsigned     only_if_cached:1;
} mall_http_cache_cc_t;

/* Every directive absent. */
void mall_http_cache_cc_init(mall_http_cache_cc_t *cc);

/*
 * One field line into cc: directives separated by commas, each a name
 * with an optional token or quoted-string argument (kept as written,
 * escapes included). The first occurrence of a directive wins; a seconds
 * value that is no delta-seconds reads as 0 (stale), one past 2^31 - 1 as
 * 2^31 - 1. strict: the Structured Field dictionary syntax of a targeted
 * field (RFC 9213 §2.1); -1 when the line breaks it, else 0.
 */
int mall_http_cache_cc_line(const char *v, size_t len, int strict,
    mall_http_cache_cc_t *cc);

/* A Structured Field key (RFC 8941 §3.1.2): 1 or 0. */
int mall_http_cache_sf_key(const char *p, size_t len);

/* delta-seconds (RFC 9111 §1.2.2): -1 if invalid, at most 2^31. */
int64_t mall_http_cache_delta(const char *p, size_t len);

/* An Age value: its first member, trimmed, as delta-seconds (-1: bad). */
int64_t mall_http_cache_age(const char *v, size_t len);

/*
 * 1 when etag is one of the entity-tags of an If-None-Match list (or the
 * list has "*"), compared weakly (RFC 9110 §8.8.3.2): W/ is ignored on
 * both sides.
 */
int mall_http_cache_etag_listed(const char *list, size_t llen,
    const char *etag, size_t elen);

/* 1 when name is one of the comma-separated field names of list (any
 * case), as in no-cache="f, g" and private="f". */
int mall_http_cache_field_listed(const char *list, size_t llen,
    const char *name, size_t nlen);

/*
 * Appends the field names of one Vary value to out (out[0 .. *olen) so
 * far), lowercased, comma-joined, without Accept-Encoding; out needs room
 * for *olen + len + 1 bytes. -1 for "*" (never reusable), else 0.
 */
int mall_http_cache_vary_names(const char *v, size_t len, char *out,
    size_t *olen);

/*
 * The normalised value of a selecting field (its lines joined by ","):
 * members trimmed and joined by ","; for Accept-Language (lang) also
 * lowercased, without spaces or tabs, at most the first
 * MALL_HTTP_CACHE_VARY_MEMBERS, in order of weight, then of name. out
 * needs 2 * len bytes (the second half is scratch). Returns the length
 * written, at most len; normalising the result gives the result again.
 */
size_t mall_http_cache_vary_value(const char *v, size_t len, int lang,
    char *out);

/* The weight of a lowercased Accept-Language member ("tag;q=0.5"), in
 * thousandths (1000 when it has none or it is unreadable). */
unsigned mall_http_cache_lang_q(const char *m, size_t len);

/* 1 when an Accept-Encoding value names this coding with a non-zero q. */
int mall_http_cache_accepts(const char *ae, size_t aelen, const char *coding,
    size_t len);

#endif
