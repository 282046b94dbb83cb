/*
 * XSS detector: reads the value as HTML the way a browser would and flags
 * markup that runs script: a tag that is script-capable by itself
 * (<script, <iframe, <object, <embed, <base, <meta http-equiv...), any tag
 * with an on*= event handler or a javascript:/vbscript:/data:text/html URL
 * in an attribute, an attribute break-out (" onmouseover=...), and a value
 * that is itself a javascript: URL. "I <3 it", "a < b > c", "<b>" pass.
 */
#include "mall_waf_int.h"

#include <string.h>
#include <strings.h>

static int alpha(uint8_t c)
{
    return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}

static int space(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
        || c == '/' || c == '\v';
}

/* what follows a bare "javascript:" value is code ("alert(1)",
 * "document.cookie", "//%0a...", "void(0)"), not a title such as
 * "JavaScript: The Good Parts" */
static int code_follows(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n && p[i] <= 0x20)
        i++;
    if (i >= n)
        return 1;
    if (!alpha(p[i]) && p[i] != '_' && p[i] != '$')
        return 1;                    /* /, (, [, ', `, !, +... */
    while (i < n && (alpha(p[i]) || (p[i] >= '0' && p[i] <= '9')
                     || p[i] == '_' || p[i] == '$'))
        i++;
    while (i < n && p[i] == ' ')
        i++;
    return i >= n || p[i] == '(' || p[i] == '`' || p[i] == '.'
        || p[i] == '[' || p[i] == '=' || p[i] == ';';
}

/* "javascript:" with the control characters browsers drop (tab, CR, LF;
 * a space too, which is what compress_ws leaves of them) */
static int script_url(const uint8_t *p, size_t n, int strict)
{
    static const char *const schemes[] = { "javascript:", "vbscript:",
                                           "data:text/html", "livescript:",
                                           NULL };
    const char *const *s;
    for (s = schemes; *s; s++) {
        size_t i = 0, k = 0, l = strlen(*s);
        while (i < n && (p[i] <= 0x20))
            i++;
        while (i < n && k < l) {
            if (p[i] == '\t' || p[i] == '\n' || p[i] == '\r'
                || p[i] == ' ') {
                i++;
                continue;
            }
            if ((p[i] | 0x20) != (*s)[k] && p[i] != (uint8_t)(*s)[k])
                break;
            i++;
            k++;
        }
        if (k == l && (strict || l != 11 || code_follows(p + i, n - i)))
            return 1;
    }
    return 0;
}

static const char *const bad_tags[] = { "script", "iframe", "frame",
    "object", "embed", "applet", "base", "frameset", "xss", "vmlframe",
    "import", "isindex", "link", "layer", "ilayer", "bgsound", NULL };

/* script inside an attribute value rather than at its start: CSS
 * url(javascript:...), expression(), XBL/HTC bindings */
static int script_in_value(const uint8_t *p, size_t n)
{
    static const char *const needles[] = { "javascript:", "vbscript:",
        "expression(", "-moz-binding", "behavior:", NULL };
    const char *const *s;
    if (n < 9 || (!memchr(p, ':', n) && !memchr(p, '(', n)))
        return 0;
    for (s = needles; *s; s++)
        if (memmem(p, n, *s, strlen(*s)))
            return 1;
    return 0;
}

static int name_in(const char *const *l, const uint8_t *p, size_t n)
{
    for (; *l; l++)
        if (strlen(*l) == n && strncasecmp(*l, (const char *)p, n) == 0)
            return 1;
    return 0;
}

/* attributes of a tag from p; 1 if one runs script */
static int attrs(const uint8_t *p, size_t n, size_t *used)
{
    size_t i = 0;
    /* to the tag's '>' or the next '<' outside a quoted value (that one
     * is read as a tag of its own): every byte is read by one call, so
     * "<a <a <a ..." stays linear */
    while (i < n && p[i] != '>' && p[i] != '<') {
        size_t s, an;
        while (i < n && (space(p[i]) || p[i] == '"' || p[i] == '\''))
            i++;
        if (i < n && p[i] == '<')
            break;
        s = i;
        while (i < n && !space(p[i]) && p[i] != '=' && p[i] != '>'
               && p[i] != '<')
            i++;
        an = i - s;
        while (i < n && space(p[i]) && p[i] != '/')
            i++;
        if (an > 2 && (p[s] | 0x20) == 'o' && (p[s + 1] | 0x20) == 'n'
            && alpha(p[s + 2]) && i < n && p[i] == '=')
            return 1;
        if (i < n && p[i] == '=') {
            size_t vs;
            uint8_t q = 0;
            i++;
            while (i < n && (p[i] == ' ' || p[i] == '\t'))
                i++;
            if (i < n && (p[i] == '"' || p[i] == '\''))
                q = p[i++];          /* not '`': browsers (but old IE)
                                      * read <img src=` onerror=x> as
                                      * two attributes */
            vs = i;
            while (i < n && (q ? p[i] != q : (!space(p[i]) && p[i] != '>'
                                              && p[i] != '<')))
                i++;
            if (script_url(p + vs, i - vs, 1)
                || script_in_value(p + vs, i - vs))
                return 1;
            if (!q && memchr(p + vs, '`', i - vs)) {  /* IE: src=`x`onerror= */
                size_t k;
                for (k = vs; k + 4 < i; k++)
                    if (p[k] == '`' && (p[k + 1] | 0x20) == 'o'
                        && (p[k + 2] | 0x20) == 'n' && alpha(p[k + 3]))
                        return 1;
            }
            if (q && i < n)
                i++;
        }
        if (i == s)
            i++;
    }
    *used = i;
    return 0;
}

/* p[j] is the '=' after a handler name outside a tag: does code follow
 * ("alert(1)", "alert`1`", "location=...", "x.y")? "online = {gift}"
 * in a review is not a handler */
static int handler_code(const uint8_t *p, size_t j, size_t n)
{
    size_t k = j + 1, end;
    while (k < n && (p[k] == ' ' || p[k] == '\t'))
        k++;
    if (k < n && (p[k] == '"' || p[k] == '\''))
        k++;
    for (end = k + 64; k < n && k < end && p[k] > ' ' && p[k] != '>'; k++)
        if (p[k] == '(' || p[k] == '`' || p[k] == '=' || p[k] == '.'
            || p[k] == ':' || p[k] == '[')
            return 1;
    return 0;
}

/* " onx= / ' autofocus onfocus= : a break out of an attribute value */
static int attr_breakout(const uint8_t *p, size_t n)
{
    size_t i;
    for (i = 0; i + 4 < n; i++) {
        size_t j;
        if (p[i] != '"' && p[i] != '\'')
            continue;
        j = i + 1;
        while (j < n && space(p[j]))
            j++;
        if (j + 3 >= n)
            continue;
        if (j == i + 1) {            /* "onmouseover=x: no space needed */
            size_t s = j, w;
            for (w = 0; w < 3 && j < n && alpha(p[j]); w++) {
                s = j;               /* "autofocus/onfocus=alert(1) */
                while (j < n && alpha(p[j]))
                    j++;
                if (j < n && (p[j] == '/' || p[j] == ' ') && !(j - s > 2
                    && (p[s] | 0x20) == 'o' && (p[s + 1] | 0x20) == 'n'))
                    j++;
                else
                    break;
            }
            if (j - s > 4 && (p[s] | 0x20) == 'o' && (p[s + 1] | 0x20) == 'n'
                && j < n && p[j] == '=' && handler_code(p, j, n))
                return 1;
            continue;
        }
        /* skip other attributes (autofocus, x=...) to the event name */
        while (j + 2 < n) {
            size_t s = j;
            while (j < n && alpha(p[j]))
                j++;
            if (j - s > 2 && (p[s] | 0x20) == 'o' && (p[s + 1] | 0x20) == 'n')
            {
                while (j < n && space(p[j]))
                    j++;
                if (j < n && p[j] == '=' && handler_code(p, j, n))
                    return 1;
                break;
            }
            if (j == s || j >= n || !space(p[j]))
                break;
            while (j < n && space(p[j]))
                j++;
        }
    }
    return 0;
}

/* a tag, a script URL or an attribute break-out needs one of these
 * (memchr: vectorised, for long reviews) */
static int markup_bytes(const uint8_t *p, size_t n)
{
    return memchr(p, '<', n) || memchr(p, ':', n) || memchr(p, '"', n)
        || memchr(p, '\'', n);
}

int mall_waf_is_xss(const uint8_t *p, size_t n)
{
    size_t i;
    int meta_seen = 0, style_seen = 0;  /* each looked at once: linear */
    if (!p || !n)
        return 0;
    if (!markup_bytes(p, n))
        return 0;
    if (script_url(p, n, 0))
        return 1;
    for (i = 0; i + 1 < n; i++) {
        size_t s, tn, used = 0;
        if (p[i] != '<')
            continue;
        s = i + 1;
        if (s < n && p[s] == '/')
            s++;
        if (s >= n || !alpha(p[s]))
            continue;
        tn = 0;
        while (s + tn < n && (alpha(p[s + tn]) || (p[s + tn] >= '0'
                                                  && p[s + tn] <= '9')
                              || p[s + tn] == ':' || p[s + tn] == '-'))
            tn++;
        if (p[s - 1] == '/' && tn > 2 && (p[s] | 0x20) == 'o'
            && (p[s + 1] | 0x20) == 'n' && s + tn < n && p[s + tn] == '=')
            return 1;                /* <x </onxxx=1: "<" and "/" are an
                                      * attribute name in a tag */
        if (p[s - 1] != '/') {       /* <x:script: a namespaced tag */
            const uint8_t *c = memchr(p + s, ':', tn);
            size_t k = c ? (size_t)(c - (p + s)) + 1 : 0;
            if (name_in(bad_tags, p + s + k, tn - k))
                return 1;
        }
        if ((tn == 4 && strncasecmp((const char *)p + s, "meta", 4) == 0
             && !meta_seen++ && memmem(p + s, n - s, "refresh", 7))
            || (tn == 5 && strncasecmp((const char *)p + s, "style", 5) == 0
                && !style_seen++ && (memmem(p + s, n - s, "expression", 10) != NULL
                    || memmem(p + s, n - s, "@import", 7)
                    || script_in_value(p + s, n - s)
                    || memmem(p + s, n - s, "text/javascript", 15))))
            return 1;
        if (attrs(p + s + tn, n - s - tn, &used))
            return 1;
    }
    return attr_breakout(p, n);
}
