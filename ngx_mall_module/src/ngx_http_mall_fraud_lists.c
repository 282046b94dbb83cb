
/*
 * Fraud lists in shm: IP/CIDR block and allow lists (IPv4, IPv6), device
 * and user block lists, one lib/mall_iptab table in the lists zone.
 *
 * Sources: the mall_fraud_list files, read at configuration time and put
 * into the table by the zone's init (on a reload the old file entries are
 * dropped first and the new files put, under the zone mutex, while old
 * workers keep reading), and the mall:fraud:blocks stream, which the
 * Redis follower (ngx_http_mall_redis.c, worker 0) applies as it comes.
 * Pushed entries live in shm, so they survive reloads (the stream side is
 * ngx_http_mall_fraud_push.c).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_mall_module.h"


#define NGX_HTTP_MALL_FRAUD_FILE_MAX  (64 * 1024 * 1024)


static ngx_int_t ngx_http_mall_fraud_lists_init_zone(ngx_shm_zone_t *zone,
    void *data);


/* mall_fraud_zone lists=NAME:SIZE velocity=NAME:SIZE: http level */

char *
ngx_http_mall_fraud_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mall_main_conf_t *mmcf = conf;

    ngx_str_t                    *value, s;
    ngx_uint_t                    i;
    ngx_http_mall_fraud_lists_t  *fl;

    if (mmcf->fraud.lists) {
        return "is duplicate";
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "lists=", 6) == 0) {
            s.data = value[i].data + 6;
            s.len = value[i].len - 6;

            fl = ngx_pcalloc(cf->pool, sizeof(ngx_http_mall_fraud_lists_t));
            if (fl == NULL) {
                return NGX_CONF_ERROR;
            }

            mmcf->fraud.lists = ngx_http_mall_shm_zone_declare(cf, &s,
                                    &ngx_http_mall_module,
                                    ngx_http_mall_fraud_lists_init_zone, fl);
            if (mmcf->fraud.lists == NULL) {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "velocity=", 9) == 0) {
            s.data = value[i].data + 9;
            s.len = value[i].len - 9;

            mmcf->fraud.velocity = ngx_http_mall_shm_zone_add(cf, &s,
                                                     &ngx_http_mall_module);
            if (mmcf->fraud.velocity == NULL) {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "mall_fraud_zone: invalid parameter \"%V\"",
                           &value[i]);
        return NGX_CONF_ERROR;
    }

    if (mmcf->fraud.lists == NULL || mmcf->fraud.velocity == NULL) {
        return "needs both lists= and velocity=";
    }

    return NGX_CONF_OK;
}


/* mall_fraud_list block|allow|device|user FILE: http level, repeatable */

char *
ngx_http_mall_fraud_list(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mall_main_conf_t *mmcf = conf;

    ngx_str_t                   *value;
    ngx_uint_t                   kind;
    ngx_http_mall_fraud_file_t  *f;

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "block") == 0) {
        kind = MALL_IPTAB_BLOCK4;

    } else if (ngx_strcmp(value[1].data, "allow") == 0) {
        kind = MALL_IPTAB_ALLOW4;

    } else if (ngx_strcmp(value[1].data, "device") == 0) {
        kind = MALL_IPTAB_DEVICE;

    } else if (ngx_strcmp(value[1].data, "user") == 0) {
        kind = MALL_IPTAB_USER;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "mall_fraud_list: unknown list \"%V\", expected "
                           "block, allow, device or user", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (mmcf->fraud.files == NULL) {
        mmcf->fraud.files = ngx_array_create(cf->pool, 4,
                                        sizeof(ngx_http_mall_fraud_file_t));
        if (mmcf->fraud.files == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    f = ngx_array_push(mmcf->fraud.files);
    if (f == NULL) {
        return NGX_CONF_ERROR;
    }

    f->kind = kind;
    f->path = value[2];

    f->values = ngx_array_create(cf->pool, 64, sizeof(ngx_str_t));
    if (f->values == NULL) {
        return NGX_CONF_ERROR;
    }

    /* tokens point into cf->pool: they outlive the zone's init */

    if (ngx_http_mall_fraud_read_tokens(cf, &f->path, f->values) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * Reads a list file at configuration time into tokens (ngx_str_t in
 * cf->pool): values separated by blanks, commas or new lines, '#' to the
 * end of the line a comment. A missing file is an error; an empty one is
 * an empty list.
 */

ngx_int_t
ngx_http_mall_fraud_read_tokens(ngx_conf_t *cf, ngx_str_t *path,
    ngx_array_t *tokens)
{
    u_char           *buf, *p, *last, *start;
    size_t            len;
    ssize_t           n;
    ngx_str_t         name, *tok;
    ngx_file_t        file;

    if (ngx_http_mall_conf_open(cf, path, &file, &len) != NGX_OK) {
        return NGX_ERROR;
    }

    name = file.name;
    buf = NULL;
    n = 0;

    if (len <= NGX_HTTP_MALL_FRAUD_FILE_MAX) {
        buf = ngx_pnalloc(cf->pool, len + 1);
        n = buf ? ngx_read_file(&file, buf, len, 0) : -1;
    }

    if (ngx_close_file(file.fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, cf->log, ngx_errno,
                      ngx_close_file_n " \"%V\" failed", &name);
    }

    if (buf == NULL || n != (ssize_t) len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cannot read list file \"%V\"", &name);
        return NGX_ERROR;
    }

    p = buf;
    last = buf + len;

    while (p < last) {

        if (*p == '#') {
            while (p < last && *p != '\n') {
                p++;
            }
            continue;
        }

        if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n' || *p == ',')
        {
            p++;
            continue;
        }

        start = p;

        while (p < last && *p != ' ' && *p != '\t' && *p != '\r'
               && *p != '\n' && *p != ',' && *p != '#')
        {
            p++;
        }

        tok = ngx_array_push(tokens);
        if (tok == NULL) {
            return NGX_ERROR;
        }

        tok->data = start;
        tok->len = p - start;
    }

    return NGX_OK;
}


/*
 * The lists zone: a fresh zone gets an empty table as big as 3/4 of it
 * allows; a zone kept across a reload keeps its pushed entries and gets
 * this cycle's files instead of the old ones.
 */

static ngx_int_t
ngx_http_mall_fraud_lists_init_zone(ngx_shm_zone_t *zone, void *data)
{
    ngx_http_mall_fraud_lists_t  *ofl = data;

    size_t                        size, want;
    uint32_t                      slots;
    ngx_str_t                    *v;
    ngx_uint_t                    fresh, i, j, bad, level;
    ngx_http_mall_fraud_file_t   *f;
    ngx_http_mall_fraud_lists_t  *fl;

    fl = zone->data;

    slots = 16;
    while ((size_t) slots * 2 * sizeof(mall_iptab_entry_t)
           <= zone->shm.size / 4 * 3)
    {
        slots *= 2;
    }

    want = mall_iptab_size(slots);

    fl->shpool = ngx_http_mall_shm_zone_pool(zone, ofl, want,
                                             "mall fraud lists zone", &fresh);
    if (fl->shpool == NULL) {
        return NGX_ERROR;
    }

    if (fresh) {
        fl->tab = mall_iptab_init(fl->shpool->data, want);
        if (fl->tab == NULL) {
            return NGX_ERROR;
        }

    } else {
        fl->tab = fl->shpool->data;
    }

    size = 0;
    bad = 0;

    ngx_shmtx_lock(&fl->shpool->mutex);

    mall_iptab_drop_source(fl->tab, MALL_IPTAB_SRC_FILE);
    mall_iptab_drop_expired(fl->tab, ngx_http_mall_now_ms());

    /* zone->data's files: this cycle's (set in postconfiguration) */

    f = fl->files ? fl->files->elts : NULL;

    for (i = 0; f && i < fl->files->nelts; i++) {
        v = f[i].values->elts;

        for (j = 0; j < f[i].values->nelts; j++) {
            if (ngx_http_mall_fraud_put(fl, f[i].kind, &v[j], 1, 0,
                                        MALL_IPTAB_SRC_FILE, zone->shm.log)
                == NGX_OK)
            {
                size++;

            } else {
                bad++;
            }
        }
    }

    ngx_shmtx_unlock(&fl->shpool->mutex);

    level = bad ? NGX_LOG_WARN : NGX_LOG_NOTICE;

    ngx_log_error(level, zone->shm.log, 0,
                  "mall_fraud: %uz list entries loaded from files, %ui "
                  "refused, table of %uD slots", size, bad,
                  fl->tab->capacity);

    return NGX_OK;
}


/*
 * Puts (add) or removes one value of a list kind (the IPv4 kind of an IP
 * list; an IPv6 value goes to its twin). Caller holds the zone mutex.
 */

ngx_int_t
ngx_http_mall_fraud_put(ngx_http_mall_fraud_lists_t *fl, ngx_uint_t kind,
    ngx_str_t *value, ngx_uint_t add, uint64_t expire, ngx_uint_t source,
    ngx_log_t *log)
{
    int      plen, family, rc;
    uint8_t  key[16];

    if (kind == MALL_IPTAB_BLOCK4 || kind == MALL_IPTAB_ALLOW4) {
        family = mall_iptab_parse((char *) value->data, value->len, key,
                                  &plen);
        if (family < 0) {
            ngx_log_error(NGX_LOG_WARN, log, 0,
                          "mall_fraud: \"%V\" is not an address or CIDR",
                          value);
            return NGX_ERROR;
        }

        if (family == 6) {
            kind++;
        }

    } else {
        if (value->len == 0 || value->len > NGX_HTTP_MALL_DEVICE_MAX) {
            return NGX_ERROR;
        }

        mall_iptab_digest((char *) value->data, value->len, key);
        plen = 0;
    }

    if (add) {
        rc = mall_iptab_put(fl->tab, (int) kind, plen, key, expire,
                            (int) source);
        if (rc != 0) {
            ngx_log_error(NGX_LOG_ALERT, log, 0,
                          "mall_fraud: lists zone full, \"%V\" not added "
                          "(raise lists= of mall_fraud_zone)", value);
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    (void) mall_iptab_del(fl->tab, (int) kind, plen, key);

    return NGX_OK;
}


/* ------------------------------ lookups ---------------------------------- */


/*
 * The client address (after real_ip) against the lists, under one lock:
 * NGX_HTTP_MALL_IP_ALLOWED when the allow list holds it (it then skips the
 * block list), NGX_HTTP_MALL_IP_BLOCKED when the block list does, else 0.
 * An IPv4-mapped IPv6 address counts as IPv4. No lock at all while both
 * lists of its family are empty.
 */

ngx_uint_t
ngx_http_mall_fraud_ip_lookup(ngx_http_request_t *r, ngx_shm_zone_t *zone)
{
    int                           v6;
    uint8_t                       addr[16];
    uint64_t                      now;
    ngx_uint_t                    rc;
    struct sockaddr_in           *sin;
    ngx_http_mall_fraud_lists_t  *fl;
#if (NGX_HAVE_INET6)
    struct sockaddr_in6          *sin6;
#endif

    fl = zone->data;
    v6 = 0;
    ngx_memzero(addr, sizeof(addr));

    switch (r->connection->sockaddr->sa_family) {

    case AF_INET:
        sin = (struct sockaddr_in *) r->connection->sockaddr;
        ngx_memcpy(addr, &sin->sin_addr, 4);
        break;

#if (NGX_HAVE_INET6)
    case AF_INET6:
        sin6 = (struct sockaddr_in6 *) r->connection->sockaddr;

        if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
            ngx_memcpy(addr, sin6->sin6_addr.s6_addr + 12, 4);

        } else {
            ngx_memcpy(addr, sin6->sin6_addr.s6_addr, 16);
            v6 = 1;
        }

        break;
#endif

    default:
        return 0;
    }

    /* read without the lock: a count is a word, a stale one costs a probe */

    if (fl->tab->kinds[MALL_IPTAB_BLOCK4 + v6] == 0
        && fl->tab->kinds[MALL_IPTAB_ALLOW4 + v6] == 0)
    {
        return 0;
    }

    now = ngx_http_mall_now_ms();
    rc = 0;

    ngx_shmtx_lock(&fl->shpool->mutex);

    if (mall_iptab_match(fl->tab, MALL_IPTAB_ALLOW4 + v6, addr, now) >= 0) {
        rc = NGX_HTTP_MALL_IP_ALLOWED;

    } else if (mall_iptab_match(fl->tab, MALL_IPTAB_BLOCK4 + v6, addr, now)
               >= 0)
    {
        rc = NGX_HTTP_MALL_IP_BLOCKED;
    }

    ngx_shmtx_unlock(&fl->shpool->mutex);

    return rc;
}


/* 1 when a device or user id is in its block list, else 0. */

ngx_int_t
ngx_http_mall_fraud_id_listed(ngx_shm_zone_t *zone, ngx_uint_t kind,
    u_char *id, size_t len)
{
    int                           rc;
    ngx_http_mall_fraud_lists_t  *fl;

    fl = zone->data;

    if (len == 0 || fl->tab->kinds[kind] == 0) {
        return 0;                   /* no lock, no digest: list empty */
    }

    ngx_shmtx_lock(&fl->shpool->mutex);
    rc = mall_iptab_has(fl->tab, (int) kind, (char *) id, len,
                        ngx_http_mall_now_ms());
    ngx_shmtx_unlock(&fl->shpool->mutex);

    return rc;
}
