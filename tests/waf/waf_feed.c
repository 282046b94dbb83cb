/* Feeding helpers: what the edge passes to the engine (waf_feed.h). */
#include "waf_feed.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

mall_waf_rules_t *waf_feed_compile_dir(const char *dir, char *err,
    size_t errlen)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char *paths[256];
    size_t n = 0, i;
    mall_waf_rules_t *rs;
    if (!d) {
        snprintf(err, errlen, "%s: cannot open", dir);
        return NULL;
    }
    while ((e = readdir(d)) && n < 256) {
        size_t l = strlen(e->d_name);
        if (l > 6 && strcmp(e->d_name + l - 6, ".rules") == 0) {
            paths[n] = malloc(strlen(dir) + l + 2);
            sprintf(paths[n++], "%s/%s", dir, e->d_name);
        }
    }
    closedir(d);
    qsort(paths, n, sizeof(paths[0]), cmp);
    rs = mall_waf_compile((const char *const *)paths, n, err, errlen);
    for (i = 0; i < n; i++)
        free(paths[i]);
    return rs;
}

static void value(mall_waf_scan_t *s, mall_waf_target_e t, const char *name,
    const char *v)
{
    mall_waf_scan_value(s, t, name, name ? strlen(name) : 0,
                        (const uint8_t *)v, strlen(v));
}

void waf_feed_baseline(mall_waf_scan_t *s)
{
    value(s, MALL_WAF_METHOD, NULL, "GET");
    value(s, MALL_WAF_PATH, NULL, "/api/v1/products");
    value(s, MALL_WAF_HEADER_NAME, "host", "host");
    value(s, MALL_WAF_HEADER_VALUE, "host", "mall.example.com");
    value(s, MALL_WAF_HEADER_VALUE, "user-agent", "Mozilla/5.0 (iPhone; "
          "CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
          "like Gecko) Mobile/15E148 MicroMessenger/8.0.40(0x18002831) "
          "NetType/WIFI Language/zh_CN");
    value(s, MALL_WAF_HEADER_VALUE, "accept", "application/json, */*");
    value(s, MALL_WAF_CLIENT_IP, NULL, "203.0.113.7");
}

static int hexv(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* percent-decoding with '+' as space, into o (as long as the input) */
static size_t decode(const char *p, size_t n, char *o)
{
    size_t i, w = 0;
    for (i = 0; i < n; i++) {
        if (p[i] == '%' && i + 2 < n && hexv(p[i + 1]) >= 0
            && hexv(p[i + 2]) >= 0) {
            o[w++] = (char)(hexv(p[i + 1]) << 4 | hexv(p[i + 2]));
            i += 2;
        } else {
            o[w++] = p[i] == '+' ? ' ' : p[i];
        }
    }
    return w;
}

void waf_feed_query(mall_waf_scan_t *s, const char *q, size_t n)
{
    const char *p = q, *end = q + n;
    char name[256], val[8192];
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *pe = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(pe - p));
        const char *ne = eq ? eq : pe;
        size_t nl = (size_t)(ne - p), vl = eq ? (size_t)(pe - eq - 1) : 0;
        if (nl < sizeof(name) && vl < sizeof(val)) {
            nl = decode(p, nl, name);
            vl = eq ? decode(eq + 1, vl, val) : 0;
            mall_waf_scan_value(s, MALL_WAF_ARG_NAME, name, nl,
                                (const uint8_t *)name, nl);
            mall_waf_scan_value(s, MALL_WAF_ARG_VALUE, name, nl,
                                (const uint8_t *)val, vl);
        }
        p = pe + 1;
    }
}

/* {"a":{"b":"<payload>"}} for json:a.b, payload JSON-escaped */
static void json_at(mall_waf_scan_t *s, const char *path, const uint8_t *p,
    size_t n)
{
    char body[70000];
    size_t w = 0, i, depth = 0;
    const char *seg = path;
    while (*seg && w < 1000) {
        size_t l = strcspn(seg, ".");
        w += (size_t)sprintf(body + w, "{\"%.*s\":", (int)l, seg);
        depth++;
        seg += l + (seg[l] == '.');
    }
    body[w++] = '"';
    for (i = 0; i < n && w < sizeof(body) - 16; i++) {
        if (p[i] == '"' || p[i] == '\\')
            w += (size_t)sprintf(body + w, "\\%c", p[i]);
        else if (p[i] < 0x20)
            w += (size_t)sprintf(body + w, "\\u%04x", p[i]);
        else
            body[w++] = (char)p[i];
    }
    body[w++] = '"';
    while (depth--)
        body[w++] = '}';
    mall_waf_scan_json(s, (const uint8_t *)body, w);
}

static void multipart_file(mall_waf_scan_t *s, const char *field,
    const uint8_t *fname, size_t n)
{
    char body[9000];
    int w = snprintf(body, sizeof(body), "--XyZ\r\nContent-Disposition: "
                     "form-data; name=\"%s\"; filename=\"%.*s\"\r\n"
                     "Content-Type: image/jpeg\r\n\r\n\xff\xd8\xff\xe0"
                     "\r\n--XyZ--\r\n", field, (int)(n > 8000 ? 8000 : n),
                     (const char *)fname);
    mall_waf_scan_multipart(s, "XyZ", 3, (const uint8_t *)body, (size_t)w);
}

int waf_feed_case(mall_waf_scan_t *s, const char *where, const uint8_t *p,
    size_t n)
{
    const char *colon = strchr(where, ':');
    const char *name = colon ? colon + 1 : NULL;
    size_t kl = colon ? (size_t)(colon - where) : strlen(where);
#define IS(k) (kl == strlen(k) && memcmp(where, k, kl) == 0)
    if (IS("arg") && name)
        mall_waf_scan_value(s, MALL_WAF_ARG_VALUE, name, strlen(name), p, n);
    else if (IS("query"))
        waf_feed_query(s, (const char *)p, n);
    else if (IS("json") && !name)
        mall_waf_scan_json(s, p, n);
    else if (IS("json"))
        json_at(s, name, p, n);
    else if (IS("form") && !name)
        mall_waf_scan_form(s, p, n);
    else if (IS("form"))
        mall_waf_scan_value(s, MALL_WAF_FORM_VALUE, name, strlen(name), p, n);
    else if (IS("header") && name)
        mall_waf_scan_value(s, MALL_WAF_HEADER_VALUE, name, strlen(name), p,
                            n);
    else if (IS("cookie") && name)
        mall_waf_scan_value(s, MALL_WAF_COOKIE_VALUE, name, strlen(name), p,
                            n);
    else if (IS("path"))
        mall_waf_scan_value(s, MALL_WAF_PATH, NULL, 0, p, n);
    else if (IS("body"))
        mall_waf_scan_value(s, MALL_WAF_BODY_RAW, NULL, 0, p, n);
    else if (IS("file") && name)
        multipart_file(s, name, p, n);
    else if (IS("multipart") && name)
        mall_waf_scan_multipart(s, name, strlen(name), p, n);
    else if (IS("flag") && name) {
        int a;
        static const char *const f[] = { "no_host", "cl_and_te",
            "too_many_args", "too_many_headers", "body_over_limit", NULL };
        for (a = 0; f[a] && strcmp(f[a], name) != 0; a++)
            ;
        if (!f[a])
            return -1;
        mall_waf_scan_anomaly(s, (mall_waf_anomaly_e)a);
    } else
        return -1;
    return 0;
#undef IS
}
