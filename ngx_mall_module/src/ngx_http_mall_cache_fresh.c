
/*
 * Catalog cache: freshness of a response (RFC 9111 §4.2), read from its
 * stored headers: the cache-control field (a targeted field of RFC 9213
 * first, else Cache-Control), Expires, Date, Age and Last-Modified.
 *
 * Times are unix ms. The current age of an entry is its corrected initial
 * age (§4.2.3: the origin's Age plus the time the request spent at the
 * origin, or the apparent age from Date, whichever is larger) plus the
 * time it has been resident here.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_mall_module.h"


static ngx_int_t ngx_http_mall_cache_cc_field(ngx_str_t *headers,
    ngx_str_t *name, ngx_uint_t strict, ngx_http_mall_cache_cc_t *cc);
static ngx_uint_t ngx_http_mall_cache_heuristic_status(ngx_uint_t status);


/*
 * Reads the cache-control directives for this cache out of stored headers:
 * the first configured targeted field present with a non-empty value, or
 * else every Cache-Control line.
 */

void
ngx_http_mall_cache_cc_read(ngx_http_mall_cache_loc_conf_t *conf,
    ngx_str_t *headers, ngx_http_mall_cache_cc_t *cc)
{
    ngx_str_t   *name;
    ngx_uint_t   i;

    if (conf->targeted) {
        name = conf->targeted->elts;

        for (i = 0; i < conf->targeted->nelts; i++) {
            if (ngx_http_mall_cache_cc_field(headers, &name[i], 1, cc)
                == NGX_OK)
            {
                cc->targeted = 1;
                return;
            }
        }
    }

    (void) ngx_http_mall_cache_cc_field(headers, NULL, 0, cc);
}


/*
 * Every line of one field (NULL: Cache-Control) into cc. A targeted field
 * is a Structured Field dictionary (RFC 9213 §2.1): NGX_DECLINED when it
 * is absent, empty or fails to parse, and it is then ignored.
 */

static ngx_int_t
ngx_http_mall_cache_cc_field(ngx_str_t *headers, ngx_str_t *name,
    ngx_uint_t strict, ngx_http_mall_cache_cc_t *cc)
{
    u_char      *p, *last;
    ngx_str_t    key, value;
    ngx_uint_t   seen;

    mall_http_cache_cc_init(cc);

    seen = 0;
    p = headers->data;
    last = p + headers->len;

    while (ngx_http_mall_cache_header_next(&p, last, &key, &value) == NGX_OK) {

        if (name) {
            if (key.len != name->len
                || ngx_strncasecmp(key.data, name->data, key.len) != 0)
            {
                continue;
            }

        } else if (key.len != 13
                   || ngx_strncasecmp(key.data, (u_char *) "Cache-Control",
                                      13) != 0)
        {
            continue;
        }

        /* only a strict (targeted) line fails */
        if (mall_http_cache_cc_line((const char *) value.data, value.len,
                                    (int) strict, cc)
            != 0)
        {
            return NGX_DECLINED;
        }

        seen |= (value.len > 0);
    }

    return seen ? NGX_OK : NGX_DECLINED;
}


/* RFC 9110 §15.1: the statuses cacheable by default (heuristically). */

static ngx_uint_t
ngx_http_mall_cache_heuristic_status(ngx_uint_t status)
{
    switch (status) {
    case 200: case 203: case 204: case 206: case 300: case 301: case 308:
    case 404: case 405: case 410: case 414: case 501:
        return 1;
    }

    return 0;
}


/*
 * Fills e (fresh, swr, sie, stored, age, flags, status) for a response
 * received now with these stored headers, and the node's expiry.
 * NGX_DECLINED: may not be stored or is of no use (BYPASS); NGX_ABORT: a
 * status that is not stored.
 */

ngx_int_t
ngx_http_mall_cache_freshness(ngx_http_request_t *r,
    ngx_http_mall_cache_ctx_t *ctx, ngx_http_mall_cache_cc_t *cc,
    ngx_str_t *headers, ngx_uint_t status, ngx_http_mall_cache_entry_t *e,
    uint64_t *expire)
{
    time_t                           date, t, lm;
    int64_t                          age, life, swr, sie;
    uint64_t                         now, req, initial, apparent, delay;
    ngx_str_t                        v;
    ngx_http_mall_cache_loc_conf_t  *conf;

    conf = ctx->conf;

    if (cc->no_store || cc->private) {
        return NGX_DECLINED;
    }

    if (status < 200 || status == 206 || status == 304) {
        return NGX_ABORT;
    }

    now = ngx_http_mall_now_ms();
    req = (uint64_t) r->start_sec * 1000 + r->start_msec;
    delay = (now > req) ? now - req : 0;

    ngx_memzero(e, sizeof(ngx_http_mall_cache_entry_t));
    e->status = (uint32_t) status;
    e->stored = now;
    e->magic = NGX_HTTP_MALL_CACHE_MAGIC;

    if (ngx_http_mall_cache_header_find(headers, "ETag", 4, &v) == NGX_OK) {
        e->flags |= NGX_HTTP_MALL_CACHE_F_ETAG;
    }

    lm = NGX_ERROR;

    if (ngx_http_mall_cache_header_find(headers, "Last-Modified", 13, &v)
        == NGX_OK)
    {
        lm = ngx_parse_http_time(v.data, v.len);
        if (lm != NGX_ERROR) {
            e->flags |= NGX_HTTP_MALL_CACHE_F_LASTMOD;
        }
    }

    date = NGX_ERROR;

    if (ngx_http_mall_cache_header_find(headers, "Date", 4, &v) == NGX_OK) {
        date = ngx_parse_http_time(v.data, v.len);
    }

    if (date == NGX_ERROR) {
        date = (time_t) (now / 1000);
    }

    /* §4.2.3: corrected initial age; a bad Age makes the response stale */

    age = (ctx->origin_age < 0) ? MALL_HTTP_CACHE_DELTA_MAX
                                : ctx->origin_age;

    apparent = ((time_t) (now / 1000) > date)
               ? (uint64_t) ((time_t) (now / 1000) - date) * 1000 : 0;
    initial = ngx_max(apparent, (uint64_t) age * 1000 + delay);
    e->age = (uint32_t) ngx_min(initial, 0xffffffff);

    /* §4.2.1: the freshness lifetime, in order of precedence */

    if (cc->smaxage >= 0) {
        life = cc->smaxage;

    } else if (cc->maxage >= 0) {
        life = cc->maxage;

    } else if (!cc->targeted
               && ngx_http_mall_cache_header_find(headers, "Expires", 7, &v)
                  == NGX_OK)
    {
        /* an invalid Expires (e.g. "0") is a time in the past */
        t = ngx_parse_http_time(v.data, v.len);
        life = (t == NGX_ERROR || t <= date) ? 0 : t - date;

    } else if (!ngx_http_mall_cache_heuristic_status(status)) {
        /* other statuses only with explicit freshness (§3) */
        return NGX_ABORT;

    } else if (lm != NGX_ERROR && conf->heuristic) {
        /* §4.2.2: a fraction of the time since the last change */
        life = (lm < date) ? (int64_t) (date - lm) * conf->heuristic / 100
                           : 0;
        life = ngx_min(life, (int64_t) conf->heuristic_max);

    } else {
        /* mall_cache_valid: the fallback for the catalog */
        life = conf->valid;
    }

    /* §3.5: with credentials, shared only if the response allows it */

    if (cc->public || cc->smaxage >= 0 || cc->must_revalidate) {
        e->flags |= NGX_HTTP_MALL_CACHE_F_SHARED;
    }

    if (r->headers_in.authorization
        && !(e->flags & NGX_HTTP_MALL_CACHE_F_SHARED))
    {
        return NGX_DECLINED;
    }

    /*
     * s-maxage implies proxy-revalidate (§5.2.2.10), but stale use that
     * the same response or the location's configuration allows explicitly
     * (RFC 5861, "out-of-band contract" in §4.2.4) still applies to it
     */

    if (cc->must_revalidate || cc->proxy_revalidate) {
        e->flags |= NGX_HTTP_MALL_CACHE_F_MUST;
    }

    if (cc->smaxage >= 0) {
        e->flags |= NGX_HTTP_MALL_CACHE_F_SMAXAGE;
    }

    if (cc->no_cache) {
        e->flags |= NGX_HTTP_MALL_CACHE_F_NOCACHE|NGX_HTTP_MALL_CACHE_F_MUST;
        life = 0;
    }

    if (life * 1000 <= (int64_t) initial
        && !(e->flags & NGX_HTTP_MALL_CACHE_F_VALIDATORS))
    {
        /* stale on arrival and nothing to revalidate it with */
        return NGX_DECLINED;
    }

    e->fresh = now + ((life * 1000 > (int64_t) initial)
                      ? (uint64_t) (life * 1000) - initial : 0);

    swr = (cc->swr >= 0) ? cc->swr : ctx->swr;
    sie = (cc->sie >= 0) ? cc->sie : ctx->sie;

    if (e->flags & NGX_HTTP_MALL_CACHE_F_MUST) {
        /* must-revalidate, s-maxage: never used stale (§4.2.4) */
        swr = 0;
        sie = 0;
    }

    e->swr = e->fresh + (uint64_t) swr * 1000;
    e->sie = e->fresh + (uint64_t) sie * 1000;

    *expire = ngx_max(e->swr, e->sie);

    /* kept past freshness to be revalidated, or for a client's max-stale */
    if ((e->flags & NGX_HTTP_MALL_CACHE_F_VALIDATORS)
        || !(e->flags & (NGX_HTTP_MALL_CACHE_F_MUST
                         |NGX_HTTP_MALL_CACHE_F_NOCACHE
                         |NGX_HTTP_MALL_CACHE_F_SMAXAGE)))
    {
        *expire = ngx_max(*expire, e->fresh + (uint64_t) conf->keep * 1000);
    }

    return NGX_OK;
}


/*
 * The Age of the response (not stored: made per response): the first
 * member of the first line, 0 if absent, -1 if it is no delta-seconds.
 */

int64_t
ngx_http_mall_cache_origin_age(ngx_http_request_t *r)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->headers_out.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return 0;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (ngx_http_mall_header_is(&h[i], "Age", 3)) {
            break;
        }
    }

    return mall_http_cache_age((const char *) h[i].value.data,
                               h[i].value.len);
}


/* The current age of an entry (§4.2.3), in ms. */

uint64_t
ngx_http_mall_cache_current_age(ngx_http_mall_cache_entry_t *e, uint64_t now)
{
    return e->age + ((now > e->stored) ? now - e->stored : 0);
}


/*
 * The request's own Cache-Control directives (RFC 9111 §5.2.1): max-age,
 * min-fresh, max-stale, no-cache, only-if-cached; Pragma: no-cache counts
 * as no-cache when there is no Cache-Control (§5.4).
 */

void
ngx_http_mall_cache_request_cc(ngx_http_request_t *r,
    ngx_http_mall_cache_cc_t *cc)
{
    ngx_uint_t        i, has_cc;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    mall_http_cache_cc_init(cc);

    has_cc = 0;
    part = &r->headers_in.headers.part;
    i = 0;

    while ((h = ngx_http_mall_header_next(&part, &i)) != NULL) {

        if (ngx_http_mall_header_is(h, "Cache-Control", 13)) {
            has_cc = 1;
            (void) mall_http_cache_cc_line((const char *) h->value.data,
                                           h->value.len, 0, cc);
        }
    }

    if (!has_cc) {
        h = ngx_http_mall_find_header(&r->headers_in.headers, "Pragma", 6);

        if (h && ngx_strlcasestrn(h->value.data, h->value.data + h->value.len,
                                  (u_char *) "no-cache", 8 - 1))
        {
            cc->no_cache = 1;
        }
    }
}


/*
 * 1 when the request lets a fresh entry answer without the origin: no
 * no-cache, its age within the request's max-age, and at least min-fresh
 * of freshness left.
 */

ngx_uint_t
ngx_http_mall_cache_request_fits(ngx_http_mall_cache_cc_t *cc,
    ngx_http_mall_cache_entry_t *e, uint64_t now)
{
    if (cc->no_cache || cc->maxage == 0) {
        return 0;
    }

    if (cc->maxage > 0
        && ngx_http_mall_cache_current_age(e, now)
           > (uint64_t) cc->maxage * 1000)
    {
        return 0;
    }

    return cc->min_fresh < 0
           || (e->fresh > now
               && e->fresh - now >= (uint64_t) cc->min_fresh * 1000);
}


/*
 * 1 when the client accepts this stale entry as it is (max-stale, §5.2.1.2)
 * and the response allows it: never past must-revalidate, proxy-revalidate,
 * s-maxage or no-cache (§4.2.4).
 */

ngx_uint_t
ngx_http_mall_cache_request_stale_ok(ngx_http_mall_cache_cc_t *cc,
    ngx_http_mall_cache_entry_t *e, uint64_t now)
{
    if (e->flags & (NGX_HTTP_MALL_CACHE_F_MUST|NGX_HTTP_MALL_CACHE_F_NOCACHE
                    |NGX_HTTP_MALL_CACHE_F_SMAXAGE))
    {
        return 0;
    }

    if (cc->max_stale_any) {
        return 1;
    }

    return cc->max_stale >= 0 && now >= e->fresh
           && now - e->fresh <= (uint64_t) cc->max_stale * 1000;
}
