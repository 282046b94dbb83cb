
/*
 * Catalog cache: Vary (RFC 9111 §4.1). A response that varies on request
 * fields (other than Accept-Encoding, which the gzip copy of an entry
 * answers) is stored as one of up to mall_cache_max_variants variants of
 * its key:
 *
 *   'e' + key                  a variant list: an entry with F_VARY, the
 *                              normalised field names as its headers, and
 *                              a slot per variant (hash, last use) as body
 *   'e' + key + 0 + gen + hash a variant: an ordinary entry
 *
 * hash is the MD5 of the request's selecting values, normalised: field
 * lines combined, whitespace around members dropped, and Accept-Language
 * lowercased and ordered by weight. gen is made when the list is, so the
 * variants of a list that was removed (invalidated, evicted, replaced by
 * other names) are never reached again. The least recently used variant
 * leaves when a list is full.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <ngx_md5.h>

#include "ngx_http_mall_module.h"


#define NGX_HTTP_MALL_CACHE_VARY_MEMBERS  32


typedef struct {
    u_char                         hash[16];
    uint64_t                       used;       /* unix ms */
} ngx_http_mall_cache_slot_t;


typedef struct {
    ngx_str_t                      text;
    ngx_uint_t                     q;          /* thousandths */
} ngx_http_mall_cache_member_t;


static void ngx_http_mall_cache_vary_hash(ngx_http_request_t *r,
    ngx_str_t *names, u_char *hash);
static void ngx_http_mall_cache_vary_value(ngx_http_request_t *r,
    ngx_str_t *name, ngx_md5_t *md5);
static ngx_uint_t ngx_http_mall_cache_member_q(ngx_str_t *m);
static ngx_int_t ngx_http_mall_cache_vary_key(ngx_pool_t *pool,
    ngx_str_t *base, uint64_t gen, u_char *hash, ngx_str_t *out);


/*
 * The normalised names a response varies on (lowercase, comma-joined,
 * without Accept-Encoding), from every Vary record of its headers: an
 * empty string if none, NGX_DECLINED for "*" (never reusable).
 */

ngx_int_t
ngx_http_mall_cache_vary_names(ngx_pool_t *pool, ngx_str_t *headers,
    ngx_str_t *names)
{
    u_char     *p, *n, *last, *rec, *hlast, *o;
    size_t      len;
    ngx_str_t   key, value;

    ngx_str_null(names);

    rec = headers->data;
    hlast = rec + headers->len;
    o = NULL;

    while (ngx_http_mall_cache_header_next(&rec, hlast, &key, &value)
           == NGX_OK)
    {
        if (key.len != 4
            || ngx_strncasecmp(key.data, (u_char *) "Vary", 4) != 0)
        {
            continue;
        }

        if (o == NULL) {
            /* at most the length of every Vary value together */
            o = ngx_pnalloc(pool, headers->len);
            if (o == NULL) {
                return NGX_ERROR;
            }

            names->data = o;
        }

        p = value.data;
        last = p + value.len;

        while (p < last) {
            while (p < last && (*p == ' ' || *p == '\t' || *p == ',')) {
                p++;
            }

            n = p;
            while (p < last && *p != ',' && *p != ' ' && *p != '\t') {
                p++;
            }

            len = p - n;

            if (len == 0) {
                continue;
            }

            if (len == 1 && *n == '*') {
                return NGX_DECLINED;
            }

            if (len == 15
                && ngx_strncasecmp(n, (u_char *) "accept-encoding", 15) == 0)
            {
                continue;
            }

            if (o != names->data) {
                *o++ = ',';
            }

            ngx_strlow(o, n, len);
            o += len;
        }
    }

    if (o) {
        names->len = o - names->data;
    }

    return NGX_OK;
}


/* MD5 over "name: normalised value\n" for each selecting field. */

static void
ngx_http_mall_cache_vary_hash(ngx_http_request_t *r, ngx_str_t *names,
    u_char *hash)
{
    u_char     *p, *n, *last;
    ngx_str_t   name;
    ngx_md5_t   md5;

    ngx_md5_init(&md5);

    p = names->data;
    last = p + names->len;

    while (p < last) {
        n = p;
        while (p < last && *p != ',') {
            p++;
        }

        name.data = n;
        name.len = p - n;

        ngx_md5_update(&md5, name.data, name.len);
        ngx_md5_update(&md5, ": ", 2);
        ngx_http_mall_cache_vary_value(r, &name, &md5);
        ngx_md5_update(&md5, "\n", 1);

        if (p < last) {
            p++;
        }
    }

    ngx_md5_final(hash, &md5);
}


/*
 * The members of every line of a request field, trimmed, joined by ",";
 * Accept-Language members also lowercased, without spaces, and in order
 * of weight (then of name). An absent field hashes unlike an empty one.
 */

static void
ngx_http_mall_cache_vary_value(ngx_http_request_t *r, ngx_str_t *name,
    ngx_md5_t *md5)
{
    u_char                        *p, *m, *e, *last, *lc;
    ngx_uint_t                     i, j, n, found, lang;
    ngx_list_part_t               *part;
    ngx_table_elt_t               *h;
    ngx_http_mall_cache_member_t   mem[NGX_HTTP_MALL_CACHE_VARY_MEMBERS], t;

    lang = (name->len == 15
            && ngx_strncmp(name->data, "accept-language", 15) == 0);
    found = 0;
    n = 0;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (!ngx_http_mall_header_is(&h[i], (char *) name->data, name->len)) {
            continue;
        }

        found = 1;
        p = h[i].value.data;
        last = p + h[i].value.len;

        while (p < last) {
            while (p < last && (*p == ' ' || *p == '\t' || *p == ',')) {
                p++;
            }

            m = p;
            while (p < last && *p != ',') {
                p++;
            }

            e = p;
            while (e > m && (e[-1] == ' ' || e[-1] == '\t')) {
                e--;
            }

            if (e == m) {
                continue;
            }

            if (!lang) {
                if (n++) {
                    ngx_md5_update(md5, ",", 1);
                }

                ngx_md5_update(md5, m, e - m);
                continue;
            }

            if (n == NGX_HTTP_MALL_CACHE_VARY_MEMBERS) {
                break;      /* the rest is beyond what is compared */
            }

            lc = ngx_pnalloc(r->pool, e - m);
            if (lc == NULL) {
                return;
            }

            mem[n].text.data = lc;

            for ( /* void */ ; m < e; m++) {
                if (*m != ' ' && *m != '\t') {
                    *lc++ = ngx_tolower(*m);
                }
            }

            mem[n].text.len = lc - mem[n].text.data;
            mem[n].q = ngx_http_mall_cache_member_q(&mem[n].text);
            n++;
        }
    }

    if (!found) {
        ngx_md5_update(md5, "\x01", 1);
        return;
    }

    if (!lang) {
        return;
    }

    /* insertion sort: weight descending, then name */

    for (i = 1; i < n; i++) {
        t = mem[i];

        for (j = i; j > 0; j--) {
            if (mem[j - 1].q > t.q
                || (mem[j - 1].q == t.q
                    && ngx_memn2cmp(mem[j - 1].text.data, t.text.data,
                                    mem[j - 1].text.len, t.text.len) <= 0))
            {
                break;
            }

            mem[j] = mem[j - 1];
        }

        mem[j] = t;
    }

    for (i = 0; i < n; i++) {
        if (i) {
            ngx_md5_update(md5, ",", 1);
        }

        ngx_md5_update(md5, mem[i].text.data, mem[i].text.len);
    }
}


/* The weight of a lowercased member "tag;q=0.5", in thousandths. */

static ngx_uint_t
ngx_http_mall_cache_member_q(ngx_str_t *m)
{
    u_char      *p, *last;
    ngx_uint_t   q, scale;

    last = m->data + m->len;
    p = ngx_strlcasestrn(m->data, last, (u_char *) ";q=", 3 - 1);

    if (p == NULL) {
        return 1000;
    }

    p += 3;

    if (p < last && *p == '1') {
        return 1000;
    }

    if (p == last || *p != '0') {
        return 1000;
    }

    q = 0;
    p++;

    if (p < last && *p == '.') {
        for (p++, scale = 100; p < last && scale && *p >= '0' && *p <= '9';
             p++, scale /= 10)
        {
            q += (*p - '0') * scale;
        }
    }

    return q;
}


static ngx_int_t
ngx_http_mall_cache_vary_key(ngx_pool_t *pool, ngx_str_t *base, uint64_t gen,
    u_char *hash, ngx_str_t *out)
{
    u_char  *p;

    out->len = base->len + 1 + sizeof(uint64_t) + 16;

    if (out->len > NGX_HTTP_MALL_SHM_KEY_MAX) {
        return NGX_DECLINED;
    }

    out->data = ngx_pnalloc(pool, out->len);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(out->data, base->data, base->len);
    *p++ = '\0';
    p = ngx_cpymem(p, &gen, sizeof(uint64_t));
    ngx_memcpy(p, hash, 16);

    return NGX_OK;
}


/*
 * At lookup, the zone locked: v is the value of a variant list; the key
 * of the request's variant goes into ctx->key, and its slot is marked
 * used. NGX_DECLINED: no key can be made (the request is not cached).
 */

ngx_int_t
ngx_http_mall_cache_vary_select_locked(ngx_http_request_t *r,
    ngx_http_mall_cache_ctx_t *ctx, u_char *v, uint64_t now)
{
    u_char                      hash[16];
    ngx_str_t                   names;
    ngx_uint_t                  i, n;
    ngx_http_mall_cache_entry_t e;
    ngx_http_mall_cache_slot_t  slot;
    u_char                     *slots;

    ngx_memcpy(&e, v, sizeof(ngx_http_mall_cache_entry_t));

    names.data = v + sizeof(ngx_http_mall_cache_entry_t) + e.ctype_len;
    names.len = e.headers_len;
    slots = names.data + names.len;
    n = e.body_len / sizeof(ngx_http_mall_cache_slot_t);

    ngx_http_mall_cache_vary_hash(r, &names, hash);

    for (i = 0; i < n; i++) {
        ngx_memcpy(&slot, slots + i * sizeof(slot), sizeof(slot));

        if (ngx_memcmp(slot.hash, hash, 16) == 0) {
            slot.used = now;
            ngx_memcpy(slots + i * sizeof(slot), &slot, sizeof(slot));
            break;
        }
    }

    return ngx_http_mall_cache_vary_key(r->pool, &ctx->base, e.stored, hash,
                                        &ctx->key);
}


/*
 * At store, the zone locked: writes the value v as this request's variant
 * of the response's names (ctx->vary_names), making or updating the list
 * at ctx->base. The variant's key is returned in key (for the tag index).
 */

ngx_int_t
ngx_http_mall_cache_vary_store_locked(ngx_http_request_t *r,
    ngx_http_mall_cache_ctx_t *ctx, u_char *v, size_t vlen, uint64_t now,
    ngx_str_t *key)
{
    u_char                       hash[16], *lv, *p, *old;
    size_t                       llen;
    uint64_t                     gen, lexpire;
    ngx_int_t                    rc;
    ngx_str_t                    names, vkey;
    ngx_uint_t                   i, n, max, lru;
    ngx_shm_zone_t              *zone;
    ngx_http_mall_shm_node_t    *sn;
    ngx_http_mall_cache_entry_t  e, le;
    ngx_http_mall_cache_slot_t   slot, *slots;

    zone = ctx->czone->zone;
    max = ctx->conf->max_variants;

    ngx_http_mall_cache_vary_hash(r, &ctx->vary_names, hash);

    slots = ngx_palloc(r->pool, (max + 1) * sizeof(slot));
    if (slots == NULL) {
        return NGX_ERROR;
    }

    n = 0;
    gen = 0;
    lexpire = ctx->expire;

    /* the list as it is, if it lists the same names */

    sn = ngx_http_mall_shm_find_locked(zone, ctx->base.data, ctx->base.len,
                                       now);

    if (sn && sn->value_len >= sizeof(ngx_http_mall_cache_entry_t)) {
        old = ngx_http_mall_shm_value(sn);
        ngx_memcpy(&le, old, sizeof(ngx_http_mall_cache_entry_t));

        names.data = old + sizeof(ngx_http_mall_cache_entry_t)
                     + le.ctype_len;
        names.len = le.headers_len;

        if (le.magic == NGX_HTTP_MALL_CACHE_MAGIC
            && (le.flags & NGX_HTTP_MALL_CACHE_F_VARY)
            && names.len == ctx->vary_names.len
            && ngx_memcmp(names.data, ctx->vary_names.data, names.len) == 0)
        {
            gen = le.stored;
            lexpire = ngx_max(lexpire, sn->expire);
            n = ngx_min(le.body_len / sizeof(slot), max);
            ngx_memcpy(slots, names.data + names.len, n * sizeof(slot));
        }
    }

    if (gen == 0) {
        gen = (now << 16) ^ (uint64_t) ngx_random();
    }

    /* this variant's slot: found, added, or the least recently used one */

    for (i = 0; i < n; i++) {
        if (ngx_memcmp(slots[i].hash, hash, 16) == 0) {
            break;
        }
    }

    if (i == n && n == max) {
        lru = 0;

        for (i = 1; i < n; i++) {
            if (slots[i].used < slots[lru].used) {
                lru = i;
            }
        }

        i = lru;

        if (ngx_http_mall_cache_vary_key(r->pool, &ctx->base, gen,
                                         slots[i].hash, &vkey)
            == NGX_OK)
        {
            (void) ngx_http_mall_shm_delete_locked(zone, vkey.data,
                                                   vkey.len);
        }

    } else if (i == n) {
        n++;
    }

    ngx_memcpy(slots[i].hash, hash, 16);
    slots[i].used = now;

    rc = ngx_http_mall_cache_vary_key(r->pool, &ctx->base, gen, hash, key);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_http_mall_shm_set_locked(zone, key->data, key->len, v, vlen,
                                      ctx->expire, now,
                                      NGX_HTTP_MALL_SHM_SOFT);
    if (rc != NGX_OK) {
        return rc;
    }

    /* the list, written again */

    llen = sizeof(ngx_http_mall_cache_entry_t) + ctx->vary_names.len
           + n * sizeof(slot);

    lv = ngx_pnalloc(r->pool, llen);
    if (lv == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(&e, sizeof(ngx_http_mall_cache_entry_t));
    e.magic = NGX_HTTP_MALL_CACHE_MAGIC;
    e.flags = NGX_HTTP_MALL_CACHE_F_VARY;
    e.stored = gen;
    e.headers_len = (uint32_t) ctx->vary_names.len;
    e.body_len = (uint32_t) (n * sizeof(slot));

    p = ngx_cpymem(lv, &e, sizeof(ngx_http_mall_cache_entry_t));
    p = ngx_cpymem(p, ctx->vary_names.data, ctx->vary_names.len);
    ngx_memcpy(p, slots, n * sizeof(slot));

    rc = ngx_http_mall_shm_set_locked(zone, ctx->base.data, ctx->base.len,
                                      lv, llen, lexpire, now,
                                      NGX_HTTP_MALL_SHM_SOFT);
    if (rc != NGX_OK) {
        /* a variant no list leads to is of no use */
        (void) ngx_http_mall_shm_delete_locked(zone, key->data, key->len);
    }

    return rc;
}
