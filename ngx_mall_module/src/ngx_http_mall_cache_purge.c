
/*
 * Catalog cache: counters, the tag index and purges (mall:purge stream
 * events, POST /cache/purge). Counters are shown by mall_metrics.
 *
 * A tag node ('t' + tag) lists the keys of the entries that carry the tag.
 * It is pinned (LRU churn cannot drop it while its entries live) and grows
 * by doubling up to NGX_HTTP_MALL_CACHE_TAG_MAX bytes; past that it is
 * marked overflowed and a purge of that tag empties the whole zone, so a
 * purge never misses an entry. Keys of entries evicted since are left in
 * the list: purging them again is harmless.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <mall_json_flat.h>

#include "ngx_http_mall_module.h"


#define NGX_HTTP_MALL_CACHE_TAG_MIN  256      /* bytes, first allocation */
#define NGX_HTTP_MALL_CACHE_PURGE_MAX  256    /* tags/keys per request */


/* The value head of a 't' node (memcpy: not aligned in shm). */
typedef struct {
    uint32_t                       used;      /* bytes of keys that follow */
    uint32_t                       overflow;  /* keys were dropped */
} ngx_http_mall_cache_tag_t;


typedef struct {
    ngx_pool_t                    *pool;
    ngx_array_t                   *keys;      /* ngx_str_t, copies */
} ngx_http_mall_cache_walk_t;


static ngx_uint_t ngx_http_mall_cache_flush_locked(
    ngx_http_mall_cache_zone_t *czone, ngx_pool_t *pool, uint64_t now);
static ngx_int_t ngx_http_mall_cache_collect(ngx_http_mall_shm_node_t *sn,
    void *data);
static ngx_uint_t ngx_http_mall_cache_purge_list(
    ngx_http_mall_cache_main_conf_t *cmcf, ngx_pool_t *pool,
    ngx_http_mall_cache_loc_conf_t *conf, ngx_str_t *tags, ngx_uint_t ntags,
    ngx_str_t *keys, ngx_uint_t nkeys);
static void ngx_http_mall_cache_purge_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_mall_cache_json_list(ngx_pool_t *pool,
    const mall_json_member_t *m, ngx_str_t *out, ngx_uint_t *n);
static ngx_int_t ngx_http_mall_cache_send_text(ngx_http_request_t *r,
    ngx_str_t *type, u_char *p, size_t len);


/*
 * The zone's counters: a pinned node whose value is 8-byte aligned (the key
 * length pads it), found once per process. NULL if the zone is full.
 */

ngx_http_mall_cache_stats_t *
ngx_http_mall_cache_stats(ngx_http_mall_cache_zone_t *czone)
{
    u_char                     key[8];
    size_t                     klen;
    ngx_uint_t                 created;
    ngx_http_mall_shm_node_t  *sn;

    if (czone->stats) {
        return czone->stats;
    }

    klen = 8 - offsetof(ngx_http_mall_shm_node_t, data) % 8;
    ngx_memzero(key, sizeof(key));
    key[0] = 'c';

    ngx_http_mall_shm_lock(czone->zone);

    sn = ngx_http_mall_shm_upsert_locked(czone->zone, key, klen,
                                         sizeof(ngx_http_mall_cache_stats_t),
                                         ngx_http_mall_now_ms(),
                                         NGX_HTTP_MALL_SHM_PINNED, &created);
    if (sn) {
        sn->expire = 0;
        czone->stats = (ngx_http_mall_cache_stats_t *)
                           ngx_http_mall_shm_value(sn);
    }

    ngx_http_mall_shm_unlock(czone->zone);

    return czone->stats;
}


/*
 * Adds key to the list of every tag in tags (space separated); the zone is
 * locked. Tag nodes expire no earlier than expire. NGX_ERROR when a tag
 * cannot be indexed: the caller must then drop the entry.
 */

ngx_int_t
ngx_http_mall_cache_index_locked(ngx_http_mall_cache_zone_t *czone,
    ngx_pool_t *pool, ngx_str_t *key, ngx_str_t *tags, uint64_t expire,
    uint64_t now)
{
    u_char                     *p, *last, *t, *v, *q, *qe, *buf;
    u_char                      tkey[NGX_HTTP_MALL_SHM_KEY_MAX];
    size_t                      tlen, cap, need, ncap;
    u_short                     klen;
    uint64_t                    texp;
    ngx_uint_t                  n, found;
    ngx_http_mall_shm_node_t   *sn;
    ngx_http_mall_cache_tag_t   th;

    p = tags->data;
    last = p + tags->len;
    need = sizeof(u_short) + key->len;
    n = 0;

    while (p < last) {
        while (p < last && (*p == ' ' || *p == ',')) {
            p++;
        }

        t = p;
        while (p < last && *p != ' ' && *p != ',') {
            p++;
        }

        tlen = p - t;

        if (tlen == 0) {
            continue;
        }

        if (tlen + 1 > NGX_HTTP_MALL_SHM_KEY_MAX
            || ++n > NGX_HTTP_MALL_CACHE_TAGS_MAX)
        {
            return NGX_ERROR;
        }

        tkey[0] = 't';
        ngx_memcpy(tkey + 1, t, tlen);
        tlen++;

        sn = ngx_http_mall_shm_find_locked(czone->zone, tkey, tlen, now);

        if (sn == NULL) {
            cap = ngx_max(NGX_HTTP_MALL_CACHE_TAG_MIN,
                          sizeof(ngx_http_mall_cache_tag_t) + need);
            buf = ngx_pcalloc(pool, cap);
            if (buf == NULL) {
                return NGX_ERROR;
            }

            th.used = need;
            th.overflow = 0;
            ngx_memcpy(buf, &th, sizeof(th));

            q = buf + sizeof(th);
            klen = (u_short) key->len;
            q = ngx_cpymem(q, &klen, sizeof(u_short));
            ngx_memcpy(q, key->data, key->len);

            if (ngx_http_mall_shm_set_locked(czone->zone, tkey, tlen, buf,
                                             cap, expire, now,
                                             NGX_HTTP_MALL_SHM_PINNED
                                             |NGX_HTTP_MALL_SHM_SOFT)
                != NGX_OK)
            {
                return NGX_ERROR;
            }

            continue;
        }

        v = ngx_http_mall_shm_value(sn);
        ngx_memcpy(&th, v, sizeof(th));

        if (sn->expire && sn->expire < expire) {
            sn->expire = expire;
        }

        if (th.overflow) {
            continue;
        }

        /* already listed (a refresh of the same key)? */

        found = 0;
        q = v + sizeof(th);
        qe = q + th.used;

        while (q + sizeof(u_short) <= qe) {
            ngx_memcpy(&klen, q, sizeof(u_short));
            q += sizeof(u_short);

            if (klen == key->len && ngx_memcmp(q, key->data, klen) == 0) {
                found = 1;
                break;
            }

            q += klen;
        }

        if (found) {
            continue;
        }

        cap = sn->value_len;

        if (sizeof(th) + th.used + need <= cap) {
            q = v + sizeof(th) + th.used;
            klen = (u_short) key->len;
            q = ngx_cpymem(q, &klen, sizeof(u_short));
            ngx_memcpy(q, key->data, key->len);

            th.used += need;
            ngx_memcpy(v, &th, sizeof(th));
            continue;
        }

        if (sizeof(th) + th.used + need > NGX_HTTP_MALL_CACHE_TAG_MAX) {
            th.overflow = 1;
            ngx_memcpy(v, &th, sizeof(th));
            continue;
        }

        /* grow: double, into a new node that replaces this one */

        ncap = ngx_min(ngx_max(2 * cap, sizeof(th) + th.used + need),
                       NGX_HTTP_MALL_CACHE_TAG_MAX);
        texp = sn->expire;

        buf = ngx_pcalloc(pool, ncap);
        if (buf == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(buf, v, sizeof(th) + th.used);

        q = buf + sizeof(th) + th.used;
        klen = (u_short) key->len;
        q = ngx_cpymem(q, &klen, sizeof(u_short));
        ngx_memcpy(q, key->data, key->len);

        th.used += need;
        ngx_memcpy(buf, &th, sizeof(th));

        if (ngx_http_mall_shm_set_locked(czone->zone, tkey, tlen, buf, ncap,
                                         texp, now,
                                         NGX_HTTP_MALL_SHM_PINNED
                                         |NGX_HTTP_MALL_SHM_SOFT)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * Deletes every entry carrying tag, and the tag; the zone is locked.
 * Returns how many entries went. Bumps purge_seq so that answers being
 * stored right now (possibly older than the change) are not kept.
 */

ngx_uint_t
ngx_http_mall_cache_purge_tag_locked(ngx_http_mall_cache_zone_t *czone,
    ngx_pool_t *pool, u_char *tag, size_t len, uint64_t now)
{
    u_char                     *v, *q, *qe;
    u_char                      tkey[NGX_HTTP_MALL_SHM_KEY_MAX];
    u_short                     klen;
    ngx_uint_t                  n;
    ngx_http_mall_shm_node_t   *sn;
    ngx_http_mall_cache_tag_t   th;

    (void) ngx_atomic_fetch_add(&czone->stats->purge_seq, 1);

    if (len == 0 || len + 1 > NGX_HTTP_MALL_SHM_KEY_MAX) {
        return 0;
    }

    tkey[0] = 't';
    ngx_memcpy(tkey + 1, tag, len);

    sn = ngx_http_mall_shm_find_locked(czone->zone, tkey, len + 1, now);

    if (sn == NULL) {
        return 0;
    }

    v = ngx_http_mall_shm_value(sn);
    ngx_memcpy(&th, v, sizeof(th));

    if (th.overflow) {
        n = ngx_http_mall_cache_flush_locked(czone, pool, now);

    } else {
        n = 0;
        q = v + sizeof(th);
        qe = q + th.used;

        /* deleting other nodes never moves this one */

        while (q + sizeof(u_short) <= qe) {
            ngx_memcpy(&klen, q, sizeof(u_short));
            q += sizeof(u_short);

            if (ngx_http_mall_shm_delete_locked(czone->zone, q, klen)
                == NGX_OK)
            {
                n++;
            }

            q += klen;
        }
    }

    (void) ngx_http_mall_shm_delete_locked(czone->zone, tkey, len + 1);

    return n;
}


/* Deletes every entry of the zone (an overflowed tag was purged). */

static ngx_uint_t
ngx_http_mall_cache_flush_locked(ngx_http_mall_cache_zone_t *czone,
    ngx_pool_t *pool, uint64_t now)
{
    ngx_str_t                   *k;
    ngx_uint_t                   i, n;
    ngx_http_mall_cache_walk_t   w;

    w.pool = pool;
    w.keys = ngx_array_create(pool, 64, sizeof(ngx_str_t));
    if (w.keys == NULL) {
        return 0;
    }

    ngx_http_mall_shm_walk_locked(czone->zone, now,
                                  ngx_http_mall_cache_collect, &w);

    k = w.keys->elts;
    n = 0;

    for (i = 0; i < w.keys->nelts; i++) {
        if (ngx_http_mall_shm_delete_locked(czone->zone, k[i].data, k[i].len)
            == NGX_OK)
        {
            n++;
        }
    }

    ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                  "mall_cache: zone \"%V\" flushed (%ui entries): an "
                  "overflowed tag was purged", &czone->name, n);

    return n;
}


static ngx_int_t
ngx_http_mall_cache_collect(ngx_http_mall_shm_node_t *sn, void *data)
{
    ngx_http_mall_cache_walk_t *w = data;

    ngx_str_t  *k;

    if (sn->key_len == 0 || sn->data[0] != 'e') {
        return NGX_OK;
    }

    k = ngx_array_push(w->keys);
    if (k == NULL) {
        return NGX_ERROR;
    }

    k->len = sn->key_len;
    k->data = ngx_pnalloc(w->pool, k->len);
    if (k->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(k->data, sn->data, k->len);

    return NGX_OK;
}


/*
 * Purges tags and keys (URIs "path?query", normalized with conf's argument
 * rules, or as they are without conf) in every zone. Returns the number
 * of entries deleted.
 */

static ngx_uint_t
ngx_http_mall_cache_purge_list(ngx_http_mall_cache_main_conf_t *cmcf,
    ngx_pool_t *pool, ngx_http_mall_cache_loc_conf_t *conf, ngx_str_t *tags,
    ngx_uint_t ntags, ngx_str_t *keys, ngx_uint_t nkeys)
{
    u_char                          *q;
    uint64_t                         now;
    ngx_str_t                        path, args, key;
    ngx_uint_t                       i, z, n;
    ngx_http_mall_cache_zone_t      *czone;
    ngx_http_mall_cache_loc_conf_t   none;

    if (conf == NULL) {
        ngx_memzero(&none, sizeof(ngx_http_mall_cache_loc_conf_t));
        conf = &none;
    }

    n = 0;
    now = ngx_http_mall_now_ms();
    czone = cmcf->zones->elts;

    for (z = 0; z < cmcf->zones->nelts; z++) {

        if (ngx_http_mall_cache_stats(&czone[z]) == NULL) {
            continue;
        }

        ngx_http_mall_shm_lock(czone[z].zone);

        for (i = 0; i < ntags; i++) {
            n += ngx_http_mall_cache_purge_tag_locked(&czone[z], pool,
                                                      tags[i].data,
                                                      tags[i].len, now);
        }

        for (i = 0; i < nkeys; i++) {
            (void) ngx_atomic_fetch_add(&czone[z].stats->purge_seq, 1);

            q = ngx_strlchr(keys[i].data, keys[i].data + keys[i].len, '?');

            path.data = keys[i].data;
            path.len = (q ? q : keys[i].data + keys[i].len) - keys[i].data;
            args.data = q ? q + 1 : keys[i].data + keys[i].len;
            args.len = keys[i].data + keys[i].len - args.data;

            if (ngx_http_mall_cache_key(pool, conf, &path, &args, &key)
                == NGX_OK
                && ngx_http_mall_shm_delete_locked(czone[z].zone, key.data,
                                                   key.len)
                   == NGX_OK)
            {
                n++;
            }
        }

        ngx_http_mall_shm_unlock(czone[z].zone);

        (void) ngx_atomic_fetch_add(&czone[z].stats->purges, 1);
        (void) ngx_atomic_fetch_add(&czone[z].stats->purged, n);
    }

    return n;
}


/* ------------------------------ mall:purge ------------------------------- */


/*
 * A mall:purge entry, in worker 0: fields "tags" and/or "keys", each a
 * space separated list. The shm change is seen by every worker at once.
 */

void
ngx_http_mall_cache_purge_event(void *data, ngx_str_t *id, ngx_str_t *fields,
    ngx_uint_t nfields, ngx_log_t *log)
{
    ngx_http_mall_cache_main_conf_t *cmcf = data;

    u_char       *p, *last, *t;
    ngx_str_t    *s;
    ngx_uint_t    i, n, ntags, purged;
    ngx_pool_t   *pool;
    ngx_array_t  *tags, *keys, *dst;

    pool = ngx_create_pool(4096, log);
    if (pool == NULL) {
        return;
    }

    tags = ngx_array_create(pool, 8, sizeof(ngx_str_t));
    keys = ngx_array_create(pool, 8, sizeof(ngx_str_t));

    if (tags == NULL || keys == NULL) {
        goto done;
    }

    for (i = 0; i + 1 < 2 * nfields; i += 2) {

        if (fields[i].len != 4) {
            continue;
        }

        if (ngx_strncmp(fields[i].data, "tags", 4) == 0) {
            dst = tags;

        } else if (ngx_strncmp(fields[i].data, "keys", 4) == 0) {
            dst = keys;

        } else {
            continue;
        }

        p = fields[i + 1].data;
        last = p + fields[i + 1].len;

        while (p < last) {
            while (p < last && *p == ' ') {
                p++;
            }

            t = p;
            while (p < last && *p != ' ') {
                p++;
            }

            if (p == t) {
                continue;
            }

            s = ngx_array_push(dst);
            if (s == NULL) {
                goto done;
            }

            s->data = t;
            s->len = p - t;
        }
    }

    ntags = tags->nelts;
    n = keys->nelts;

    if (ntags == 0 && n == 0) {
        goto done;
    }

    purged = ngx_http_mall_cache_purge_list(cmcf, pool, cmcf->keys,
                                            tags->elts, ntags, keys->elts, n);

    ngx_log_error(NGX_LOG_INFO, log, 0,
                  "mall_cache: purge event %V: %ui tag(s), %ui key(s), "
                  "%ui entries purged", id, ntags, n, purged);

done:

    ngx_destroy_pool(pool);
}


/* ------------------------------ POST /cache/purge ------------------------ */


ngx_int_t
ngx_http_mall_cache_purge_handler(ngx_http_request_t *r)
{
    ngx_int_t  rc;
    ngx_str_t  code = ngx_string("METHOD_NOT_ALLOWED");
    ngx_str_t  msg = ngx_string("use POST");

    if (r->method != NGX_HTTP_POST) {
        return ngx_http_mall_send_error(r, NGX_HTTP_NOT_ALLOWED, &code, &msg,
                                        0);
    }

    rc = ngx_http_read_client_request_body(r, ngx_http_mall_cache_purge_body);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


/*
 * Body {"tags":[...]} and/or {"keys":[...]}, or ?tag=T / ?key=K; answers
 * {"purged":N}.
 */

static void
ngx_http_mall_cache_purge_body(ngx_http_request_t *r)
{
    int                              m;
    u_char                          *body, *p, out[64];
    size_t                           len;
    ngx_int_t                        rc;
    ngx_str_t                        tags[NGX_HTTP_MALL_CACHE_PURGE_MAX];
    ngx_str_t                        keys[NGX_HTTP_MALL_CACHE_PURGE_MAX];
    ngx_str_t                        arg, type;
    ngx_uint_t                       ntags, nkeys, n;
    ngx_chain_t                     *cl;
    mall_json_member_t               mem[8];
    const mall_json_member_t        *jm;
    ngx_http_mall_loc_conf_t        *mlcf;
    ngx_http_mall_main_conf_t       *mmcf;

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_mall_module);
    mmcf = ngx_http_get_module_main_conf(r, ngx_http_mall_module);

    ntags = 0;
    nkeys = 0;

    if (ngx_http_arg(r, (u_char *) "tag", 3, &arg) == NGX_OK && arg.len) {
        tags[ntags++] = arg;
    }

    if (ngx_http_arg(r, (u_char *) "key", 3, &arg) == NGX_OK && arg.len) {
        p = ngx_pnalloc(r->pool, arg.len);
        if (p == NULL) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        keys[nkeys].data = p;
        ngx_unescape_uri(&p, &arg.data, arg.len, NGX_UNESCAPE_URI);
        keys[nkeys].len = p - keys[nkeys].data;
        nkeys++;
    }

    len = 0;

    if (r->request_body && r->request_body->temp_file) {
        (void) ngx_http_mall_deny(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                  "VALIDATION_FAILED", "body too large");
        return;
    }

    if (r->request_body) {
        for (cl = r->request_body->bufs; cl; cl = cl->next) {
            len += cl->buf->last - cl->buf->pos;
        }
    }

    if (len) {
        body = ngx_pnalloc(r->pool, len);
        if (body == NULL) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        (void) ngx_http_mall_chain_copy(body, r->request_body->bufs);

        m = mall_json_flat_parse((char *) body, len, mem, 8);

        if (m < 0) {
            goto invalid;
        }

        n = NGX_HTTP_MALL_CACHE_PURGE_MAX - ntags;
        jm = mall_json_flat_get(mem, m, "tags");
        if (jm && ngx_http_mall_cache_json_list(r->pool, jm, tags + ntags, &n)
                  != NGX_OK)
        {
            goto invalid;
        }

        ntags += jm ? n : 0;

        n = NGX_HTTP_MALL_CACHE_PURGE_MAX - nkeys;
        jm = mall_json_flat_get(mem, m, "keys");
        if (jm && ngx_http_mall_cache_json_list(r->pool, jm, keys + nkeys, &n)
                  != NGX_OK)
        {
            goto invalid;
        }

        nkeys += jm ? n : 0;
    }

    if (ntags == 0 && nkeys == 0) {
        goto invalid;
    }

    n = 0;

    if (mlcf->cache.purge && mmcf->cache.zones) {
        n = ngx_http_mall_cache_purge_list(&mmcf->cache, r->pool, &mlcf->cache,
                                           tags, ntags, keys, nkeys);
    }

    ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                  "mall_cache: admin purge: %ui tag(s), %ui key(s), "
                  "%ui entries purged", ntags, nkeys, n);

    p = ngx_sprintf(out, "{\"purged\":%ui}\n", n);
    ngx_str_set(&type, "application/json");

    rc = ngx_http_mall_cache_send_text(r, &type, out, p - out);
    ngx_http_finalize_request(r, rc);
    return;

invalid:

    (void) ngx_http_mall_deny(r, NGX_HTTP_BAD_REQUEST, "VALIDATION_FAILED",
                              "expected {\"tags\":[...]} or {\"keys\":[...]}");
}


/* The strings of a JSON array member (no escapes: tags and URIs). */

static ngx_int_t
ngx_http_mall_cache_json_list(ngx_pool_t *pool, const mall_json_member_t *m,
    ngx_str_t *out, ngx_uint_t *n)
{
    u_char      *p, *last, *s;
    ngx_uint_t   max;

    if (m->type != MALL_JSON_ARRAY) {
        return NGX_ERROR;
    }

    max = *n;
    *n = 0;
    p = (u_char *) m->val;
    last = p + m->val_len;

    while (p < last) {
        if (*p != '"') {
            if (*p != '[' && *p != ']' && *p != ',' && *p != ' '
                && *p != '\n' && *p != '\r' && *p != '\t')
            {
                return NGX_ERROR;
            }

            p++;
            continue;
        }

        s = ++p;

        while (p < last && *p != '"') {
            if (*p == '\\') {
                return NGX_ERROR;
            }

            p++;
        }

        if (p == last || *n == max) {
            return NGX_ERROR;
        }

        out[*n].data = s;
        out[*n].len = p - s;
        (*n)++;
        p++;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_mall_cache_send_text(ngx_http_request_t *r, ngx_str_t *type,
    u_char *p, size_t len)
{
    ngx_int_t    rc;
    ngx_buf_t   *b;
    ngx_chain_t  out;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_type = *type;
    r->headers_out.content_type_len = type->len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.content_length_n = len;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_create_temp_buf(r->pool, len ? len : 1);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->last = ngx_cpymem(b->pos, p, len);
    b->last_buf = 1;
    b->last_in_chain = 1;

    if (len == 0) {
        b->temporary = 0;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}
