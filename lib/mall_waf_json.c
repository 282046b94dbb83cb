/*
 * JSON walker: feeds every key (MALL_WAF_JSON_KEY) and scalar value
 * (MALL_WAF_JSON_VALUE) at any depth with its path ("review.content",
 * "items[].sku_id"). Strings are fed as sent (escapes included; rules
 * decode with the jsondecode transform). No allocation: the path lives in
 * the scan scratch, the depth is bounded, duplicate keys are spotted among
 * the first keys of each object by hash.
 */
#include "mall_waf_int.h"

#include <string.h>

#define DUP_SLOTS 16

typedef struct {
    mall_waf_scan_t *s;
    const uint8_t   *p, *end;
    size_t           plen;           /* current path length */
    int              depth, max_depth, stop;
} jw_t;

static void ws(jw_t *w)
{
    while (w->p < w->end && (*w->p == ' ' || *w->p == '\t' || *w->p == '\n'
                             || *w->p == '\r'))
        w->p++;
}

static int flag(jw_t *w, mall_waf_anomaly_e a)
{
    if (mall_waf_scan_anomaly(w->s, a))
        w->stop = 1;
    return -1;
}

/* strict UTF-8 (no overlongs, no surrogates) */
static int utf8_ok(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = p[i];
        size_t k, len;
        uint32_t cp;
        if (c < 0x80) { i++; continue; }
        if ((c & 0xe0) == 0xc0) { len = 2; cp = c & 0x1f; }
        else if ((c & 0xf0) == 0xe0) { len = 3; cp = c & 0x0f; }
        else if ((c & 0xf8) == 0xf0) { len = 4; cp = c & 0x07; }
        else return 0;
        if (i + len > n)
            return 0;
        for (k = 1; k < len; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (p[i + k] & 0x3f);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800)
            || (len == 4 && (cp < 0x10000 || cp > 0x10ffff))
            || (cp >= 0xd800 && cp < 0xe000))
            return 0;
        i += len;
    }
    return 1;
}

/* a string's contents (between the quotes) */
static int string(jw_t *w, const uint8_t **sp, size_t *sn)
{
    const uint8_t *start, *p, *end = w->end;
    int high = 0;
    if (w->p >= end || *w->p != '"')
        return flag(w, MALL_WAF_ANOMALY_JSON_INVALID);
    start = p = w->p + 1;
    /* a local cursor: the loop is the walker's hottest */
    while (p < end && *p != '"') {
        if (*p == '\\' && p + 1 < end)
            p++;
        else if (*p < 0x20)
            return w->p = p, flag(w, MALL_WAF_ANOMALY_JSON_INVALID);
        high |= *p & 0x80;
        p++;
    }
    w->p = p;
    if (p >= end)
        return flag(w, MALL_WAF_ANOMALY_JSON_INVALID);
    *sp = start;
    *sn = (size_t)(p - start);
    w->p++;
    if (high && !utf8_ok(start, *sn))
        flag(w, MALL_WAF_ANOMALY_JSON_BAD_UTF8);
    return 0;
}

static size_t path_push(jw_t *w, const uint8_t *k, size_t n, int array)
{
    size_t old = w->plen;
    char *p = w->s->path;
    if (array) {
        if (w->plen + 2 < WAF_PATH_MAX) {
            memcpy(p + w->plen, "[]", 2);
            w->plen += 2;
        }
        return old;
    }
    if (w->plen && w->plen + 1 < WAF_PATH_MAX)
        p[w->plen++] = '.';
    if (n > WAF_PATH_MAX - 1 - w->plen)
        n = WAF_PATH_MAX - 1 - w->plen;
    memcpy(p + w->plen, k, n);
    w->plen += n;
    return old;
}

static void feed(jw_t *w, mall_waf_target_e t, const uint8_t *v, size_t n)
{
    if (mall_waf_scan_value(w->s, t, w->s->path, w->plen, v, n))
        w->stop = 1;
}

static int value(jw_t *w);

static uint32_t fnv(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;
    while (n--)
        h = (h ^ *p++) * 16777619u;
    return h | 1;
}

static int object(jw_t *w)
{
    uint32_t seen[DUP_SLOTS] = { 0 };
    size_t nseen = 0, i;
    w->p++;
    ws(w);
    if (w->p < w->end && *w->p == '}') {
        w->p++;
        return 0;
    }
    while (!w->stop) {
        const uint8_t *k;
        size_t kn, old;
        uint32_t h;
        ws(w);
        if (string(w, &k, &kn) != 0)
            return -1;
        h = fnv(k, kn);
        for (i = 0; i < nseen; i++)
            if (seen[i] == h)
                flag(w, MALL_WAF_ANOMALY_JSON_DUP_KEY);
        if (nseen < DUP_SLOTS)
            seen[nseen++] = h;
        old = path_push(w, k, kn, 0);
        feed(w, MALL_WAF_JSON_KEY, k, kn);
        ws(w);
        if (w->p >= w->end || *w->p != ':')
            return flag(w, MALL_WAF_ANOMALY_JSON_INVALID);
        w->p++;
        if (value(w) != 0)
            return -1;
        w->plen = old;
        ws(w);
        if (w->p < w->end && *w->p == ',') {
            w->p++;
            continue;
        }
        if (w->p < w->end && *w->p == '}') {
            w->p++;
            return 0;
        }
        return flag(w, MALL_WAF_ANOMALY_JSON_INVALID);
    }
    return -1;
}

static int array(jw_t *w)
{
    size_t old = path_push(w, NULL, 0, 1);
    w->p++;
    ws(w);
    if (w->p < w->end && *w->p == ']') {
        w->p++;
        w->plen = old;
        return 0;
    }
    while (!w->stop) {
        if (value(w) != 0)
            return -1;
        ws(w);
        if (w->p < w->end && *w->p == ',') {
            w->p++;
            continue;
        }
        if (w->p < w->end && *w->p == ']') {
            w->p++;
            w->plen = old;
            return 0;
        }
        return flag(w, MALL_WAF_ANOMALY_JSON_INVALID);
    }
    return -1;
}

static int scalar(jw_t *w)
{
    const uint8_t *start = w->p;
    while (w->p < w->end && (uint8_t)(*w->p | 0x20) >= 'a'
           && (uint8_t)(*w->p | 0x20) <= 'z')
        w->p++;
    while (w->p < w->end && strchr("0123456789+-.eE", *w->p) && *w->p)
        w->p++;
    if (w->p == start)
        return flag(w, MALL_WAF_ANOMALY_JSON_INVALID);
    feed(w, MALL_WAF_JSON_VALUE, start, (size_t)(w->p - start));
    return 0;
}

static int value(jw_t *w)
{
    int rc;
    ws(w);
    if (w->p >= w->end)
        return flag(w, MALL_WAF_ANOMALY_JSON_INVALID);
    if (*w->p == '{' || *w->p == '[') {
        if (++w->depth > w->max_depth) {
            flag(w, MALL_WAF_ANOMALY_JSON_TOO_DEEP);
            return -1;
        }
        rc = *w->p == '{' ? object(w) : array(w);
        w->depth--;
        return rc;
    }
    if (*w->p == '"') {
        const uint8_t *v;
        size_t n;
        if (string(w, &v, &n) != 0)
            return -1;
        feed(w, MALL_WAF_JSON_VALUE, v, n);
        return 0;
    }
    return scalar(w);
}

int mall_waf_scan_json(mall_waf_scan_t *s, const uint8_t *body, size_t len)
{
    jw_t w;
    if (!s)
        return 0;
    memset(&w, 0, sizeof(w));
    w.s = s;
    w.p = body;
    w.end = body + len;
    w.max_depth = s->policy->json_depth;
    if (value(&w) == 0 && !w.stop) {
        ws(&w);
        if (w.p != w.end)
            flag(&w, MALL_WAF_ANOMALY_JSON_INVALID);
    }
    s->path[0] = '\0';
    return s->score >= s->policy->threshold;
}
