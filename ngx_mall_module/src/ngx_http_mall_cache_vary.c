
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


typedef struct {
    u_char                         hash[16];
    uint64_t                       used;       /* unix ms */
} ngx_http_mall_cache_slot_t;


static ngx_int_t ngx_http_mall_cache_vary_hash(ngx_http_request_t *r,
    ngx_str_t *names, u_char *hash);
static ngx_int_t ngx_http_mall_cache_vary_value(ngx_http_request_t *r,
    ngx_str_t *name, ngx_md5_t *md5);
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
    u_char     *rec, *hlast;
    ngx_str_t   key, value;

    ngx_str_null(names);

    rec = headers->data;
    hlast = rec + headers->len;

    while (ngx_http_mall_cache_header_next(&rec, hlast, &key, &value)
           == NGX_OK)
    {
        if (key.len != 4
            || ngx_strncasecmp(key.data, (u_char *) "Vary", 4) != 0)
        {
            continue;
        }

        if (names->data == NULL) {
            /*
             * each value needs its length + 1 (a comma) here: every record
             * has a 4-byte length prefix the names do not copy
             */
            names->data = ngx_pnalloc(pool, headers->len);
            if (names->data == NULL) {
                return NGX_ERROR;
            }
        }

        if (mall_http_cache_vary_names((const char *) value.data, value.len,
                                       (char *) names->data, &names->len)
            != 0)
        {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


/* MD5 over "name: normalised value\n" for each selecting field. */

static ngx_int_t
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
        if (ngx_http_mall_cache_vary_value(r, &name, &md5) != NGX_OK) {
            return NGX_ERROR;
        }

        ngx_md5_update(&md5, "\n", 1);

        if (p < last) {
            p++;
        }
    }

    ngx_md5_final(hash, &md5);

    return NGX_OK;
}


/*
 * Every line of a request field, joined by ",", normalised by
 * mall_http_cache_vary_value() (Accept-Language: lowercased, in order of
 * weight). An absent field hashes unlike an empty one.
 */

static ngx_int_t
ngx_http_mall_cache_vary_value(ngx_http_request_t *r, ngx_str_t *name,
    ngx_md5_t *md5)
{
    u_char           *buf, *p;
    size_t            len, n;
    ngx_uint_t        i, found, pass;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    found = 0;
    len = 0;
    buf = NULL;
    p = NULL;

    /* pass 0 measures the joined lines, pass 1 copies them */

    for (pass = 0; pass < 2; pass++) {
        part = &r->headers_in.headers.part;
        i = 0;

        while ((h = ngx_http_mall_header_next(&part, &i)) != NULL) {

            if (!ngx_http_mall_header_is(h, (char *) name->data,
                                         name->len))
            {
                continue;
            }

            if (pass == 0) {
                len += (found ? 1 : 0) + h->value.len;
                found = 1;
                continue;
            }

            if (p != buf) {
                *p++ = ',';
            }

            p = ngx_cpymem(p, h->value.data, h->value.len);
        }

        if (!found) {
            ngx_md5_update(md5, "\x01", 1);
            return NGX_OK;
        }

        if (pass == 0) {
            /* the joined lines, then room to normalise them */
            buf = ngx_pnalloc(r->pool, 3 * len + 1);
            if (buf == NULL) {
                return NGX_ERROR;
            }

            p = buf;
        }
    }

    n = mall_http_cache_vary_value((const char *) buf, len,
                                   name->len == 15
                                   && ngx_strncmp(name->data,
                                                  "accept-language", 15)
                                      == 0,
                                   (char *) buf + len);

    ngx_md5_update(md5, buf + len, n);

    return NGX_OK;
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

    if (ngx_http_mall_cache_vary_hash(r, &names, hash) != NGX_OK) {
        return NGX_ERROR;
    }

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

    if (ngx_http_mall_cache_vary_hash(r, &ctx->vary_names, hash) != NGX_OK) {
        return NGX_ERROR;
    }

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
