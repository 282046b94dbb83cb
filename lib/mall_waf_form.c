/*
 * Form (x-www-form-urlencoded) and multipart/form-data walkers. Form
 * names and values are fed as sent (rules decode with urldecode); a
 * multipart part feeds its name, its filename and, unless it is a file,
 * its content as a form value named after the part.
 */
#include "mall_waf_int.h"

#include <string.h>

int mall_waf_scan_form(mall_waf_scan_t *s, const uint8_t *body, size_t len)
{
    const uint8_t *p = body, *end = body + len;
    if (!s)
        return 0;
    while (p < end) {
        const uint8_t *amp = memchr(p, '&', (size_t)(end - p));
        const uint8_t *pe = amp ? amp : end;
        const uint8_t *eq = memchr(p, '=', (size_t)(pe - p));
        const uint8_t *ne = eq ? eq : pe;
        if (ne > p && mall_waf_scan_value(s, MALL_WAF_FORM_NAME,
                (const char *)p, (size_t)(ne - p), p, (size_t)(ne - p)))
            return 1;
        if (eq && mall_waf_scan_value(s, MALL_WAF_FORM_VALUE,
                (const char *)p, (size_t)(ne - p), eq + 1,
                (size_t)(pe - eq - 1)))
            return 1;
        p = pe + 1;
    }
    return s->score >= s->policy->threshold;
}

static const uint8_t *find(const uint8_t *h, size_t hn, const void *n,
    size_t nn)
{
    return memmem(h, hn, n, nn);
}

/* value of param (name= or filename=) in a Content-Disposition line */
static int disp_param(const uint8_t *line, size_t n, const char *param,
    const uint8_t **v, size_t *vn)
{
    size_t pl = strlen(param), i;
    for (i = 0; i + pl < n; i++) {
        if ((i == 0 || line[i - 1] == ';' || line[i - 1] == ' ')
            && strncasecmp((const char *)line + i, param, pl) == 0) {
            const uint8_t *p = line + i + pl, *e = line + n;
            if (p < e && *p == '"') {
                const uint8_t *q = memchr(p + 1, '"', (size_t)(e - p - 1));
                if (!q)
                    return 0;
                *v = p + 1;
                *vn = (size_t)(q - p - 1);
                return 1;
            }
            *v = p;
            while (p < e && *p != ';')
                p++;
            *vn = (size_t)(p - *v);
            return 1;
        }
    }
    return 0;
}

static int part(mall_waf_scan_t *s, const uint8_t *p, size_t n)
{
    const uint8_t *hend = find(p, n, "\r\n\r\n", 4), *line = p;
    const uint8_t *name = NULL, *fname = NULL;
    size_t nn = 0, fn = 0;
    int is_file = 0;
    if (!hend)
        return mall_waf_scan_anomaly(s, MALL_WAF_ANOMALY_MULTIPART_INVALID);
    while (line < hend) {
        const uint8_t *le = find(line, (size_t)(hend - line), "\r\n", 2);
        size_t ll = le ? (size_t)(le - line) : (size_t)(hend - line);
        if (ll > 20 && strncasecmp((const char *)line,
                                   "content-disposition:", 20) == 0) {
            disp_param(line, ll, "name=", &name, &nn);
            is_file = disp_param(line, ll, "filename=", &fname, &fn);
        }
        line += ll + 2;
    }
    if (name && mall_waf_scan_value(s, MALL_WAF_PART_NAME, (const char *)name,
                                    nn, name, nn))
        return 1;
    if (is_file && mall_waf_scan_value(s, MALL_WAF_FILE_NAME,
            (const char *)name, name ? nn : 0, fname, fn))
        return 1;
    if (!is_file)
        return mall_waf_scan_value(s, MALL_WAF_FORM_VALUE,
            (const char *)name, name ? nn : 0, hend + 4,
            (size_t)(p + n - hend - 4));
    return 0;
}

int mall_waf_scan_multipart(mall_waf_scan_t *s, const char *boundary,
    size_t blen, const uint8_t *body, size_t len)
{
    uint8_t delim[80];
    const uint8_t *p, *end = body + len;
    if (!s)
        return 0;
    if (blen == 0 || blen > 70)
        return mall_waf_scan_anomaly(s, MALL_WAF_ANOMALY_MULTIPART_INVALID);
    delim[0] = '-';
    delim[1] = '-';
    memcpy(delim + 2, boundary, blen);
    p = find(body, len, delim, blen + 2);
    if (!p)
        return mall_waf_scan_anomaly(s, MALL_WAF_ANOMALY_MULTIPART_INVALID);
    for (;;) {
        const uint8_t *next;
        p += blen + 2;
        if (end - p >= 2 && p[0] == '-' && p[1] == '-')
            break;                                 /* closing delimiter */
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n')
            return mall_waf_scan_anomaly(s,
                                         MALL_WAF_ANOMALY_MULTIPART_INVALID);
        p += 2;
        next = find(p, (size_t)(end - p), delim, blen + 2);
        if (!next || next - p < 2)
            return mall_waf_scan_anomaly(s,
                                         MALL_WAF_ANOMALY_MULTIPART_INVALID);
        if (part(s, p, (size_t)(next - p - 2)))
            return 1;
        p = next;
    }
    return s->score >= s->policy->threshold;
}
