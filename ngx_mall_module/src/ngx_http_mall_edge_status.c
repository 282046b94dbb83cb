
/*
 * mall_edge_status: the edge's own part of `mallctl status --json`, as
 * JSON, for the loopback admin port:
 *
 *   {"edge":{"pid","master_pid","conf_file","loaded_at","waf_rules",
 *    "geoip":{"database_type","build_epoch"}|null,
 *    "shm_zones":[{"zone","size_bytes","used_bytes"[,"entries"]}],
 *    "redis_follower_connected"}}
 *
 * loaded_at is when the configuration this worker runs was parsed (unix
 * s): after a reload, old workers still finishing answer with the old one.
 * Everything is read from memory (the zones under their own locks, as
 * mall_metrics does): no I/O on the request path.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <maxminddb.h>

#include "ngx_http_mall_module.h"
#include "ngx_http_mall_metrics.h"


static ngx_int_t ngx_http_mall_edge_status_handler(ngx_http_request_t *r);
static u_char *ngx_http_mall_edge_status_str(u_char *p, const u_char *s,
    size_t len);


/* set when a configuration with mall_edge_status is parsed (the master) */
static time_t  ngx_http_mall_edge_status_loaded;


char *
ngx_http_mall_edge_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_mall_edge_status_handler;

    ngx_http_mall_edge_status_loaded = ngx_time();

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_mall_edge_status_handler(ngx_http_request_t *r)
{
    u_char                        *body, *p;
    size_t                         len;
    ngx_int_t                      rc;
    ngx_uint_t                     i;
    ngx_array_t                   *zones;
    const char                    *dbtype;
    struct MMDB_s                 *mmdb;
    ngx_http_mall_main_conf_t     *mmcf;
    ngx_http_mall_metrics_zone_t  *z;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_mall_module);

    zones = ngx_array_create(r->pool, 8, sizeof(ngx_http_mall_metrics_zone_t));
    if (zones == NULL || ngx_http_mall_metrics_zones(r, zones) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    mmdb = mmcf->fraud.country.mmdb;
    dbtype = mmdb && mmdb->metadata.database_type
             ? mmdb->metadata.database_type : "";

    /* JSON escaping at most doubles a byte into \u00XX: 6 bytes each */

    len = sizeof("{\"edge\":{\"pid\":,\"master_pid\":,\"conf_file\":\"\","
                 "\"loaded_at\":,\"waf_rules\":,\"geoip\":{\"database_type\":"
                 "\"\",\"build_epoch\":},\"shm_zones\":[],"
                 "\"redis_follower_connected\":false}}\n")
          + 5 * NGX_INT64_LEN
          + 6 * (ngx_cycle->conf_file.len + ngx_strlen(dbtype));

    z = zones->elts;

    for (i = 0; i < zones->nelts; i++) {
        len += sizeof("{\"zone\":\"\",\"size_bytes\":,\"used_bytes\":,"
                      "\"entries\":},")
               + 6 * z[i].name.len + 3 * NGX_INT64_LEN;
    }

    body = ngx_pnalloc(r->pool, len);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(body, "{\"edge\":{\"pid\":%P,\"master_pid\":%P,"
                    "\"conf_file\":", ngx_pid, ngx_parent);
    p = ngx_http_mall_edge_status_str(p, ngx_cycle->conf_file.data,
                                      ngx_cycle->conf_file.len);
    p = ngx_sprintf(p, ",\"loaded_at\":%T,\"waf_rules\":%uz,\"geoip\":",
                    ngx_http_mall_edge_status_loaded,
                    mall_waf_rule_count(mmcf->waf.rules));

    if (mmdb) {
        p = ngx_cpymem(p, "{\"database_type\":",
                       sizeof("{\"database_type\":") - 1);
        p = ngx_http_mall_edge_status_str(p, (const u_char *) dbtype,
                                          ngx_strlen(dbtype));
        p = ngx_sprintf(p, ",\"build_epoch\":%uL}",
                        (uint64_t) mmdb->metadata.build_epoch);

    } else {
        p = ngx_cpymem(p, "null", 4);
    }

    p = ngx_cpymem(p, ",\"shm_zones\":[", sizeof(",\"shm_zones\":[") - 1);

    for (i = 0; i < zones->nelts; i++) {
        p = ngx_cpymem(p, i ? ",{\"zone\":" : "{\"zone\":",
                       i ? sizeof(",{\"zone\":") - 1 : sizeof("{\"zone\":") - 1);
        p = ngx_http_mall_edge_status_str(p, z[i].name.data, z[i].name.len);
        p = ngx_sprintf(p, ",\"size_bytes\":%uL,\"used_bytes\":%uL",
                        z[i].size, z[i].used);
        if (z[i].store) {
            p = ngx_sprintf(p, ",\"entries\":%uL", z[i].c[0]);
        }
        *p++ = '}';
    }

    p = ngx_sprintf(p, "],\"redis_follower_connected\":%s}}\n",
                    ngx_http_mall_metrics_redis_up() ? "true" : "false");

    return ngx_http_mall_send_json(r, NGX_HTTP_OK, body, p - body);
}


/* "s" as a JSON string (the caller sized p for 6 bytes a byte + 2) */

static u_char *
ngx_http_mall_edge_status_str(u_char *p, const u_char *s, size_t len)
{
    *p++ = '"';
    p = (u_char *) ngx_escape_json(p, (u_char *) s, len);
    *p++ = '"';

    return p;
}
