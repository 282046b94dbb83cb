
/*
 * GeoIP (libmaxminddb): the client's country and autonomous system, and the
 * per-location country allow/deny lists.
 *
 * mall_geoip (country) and mall_geoip_asn open their database once per
 * cycle with MMDB_MODE_MMAP and close it in a cf->pool cleanup, so
 * `nginx -s reload` (mallctl reload) maps a database shipped by atomic
 * rename; old workers keep theirs until they exit. A lookup walks the mmap:
 * no I/O, no allocation. The lookup paths are configurable: "country_code"
 * for the ip-location-db files the build fetches, "country iso_code" for
 * MaxMind GeoIP2/GeoLite2; "autonomous_system_number" for GeoLite2-ASN and
 * the one the build makes (tools/mall_mmdb_asn.c).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <maxminddb.h>

#include "ngx_http_mall_module.h"


static void ngx_http_mall_geoip_cleanup(void *data);
static ngx_int_t ngx_http_mall_geodb_get(ngx_http_request_t *r,
    ngx_http_mall_geodb_t *db, MMDB_entry_data_s *data);
static ngx_int_t ngx_http_mall_country_add(ngx_conf_t *cf, ngx_array_t *a,
    u_char *p, size_t len);
static ngx_int_t ngx_http_mall_country_file(ngx_conf_t *cf, ngx_array_t *a,
    ngx_str_t *path);


/*
 * mall_geoip | mall_geoip_asn FILE [PATH_COMPONENT...]: http level;
 * cmd->offset names the database in the main conf, cmd->post its default
 * lookup path.
 */

char *
ngx_http_mall_geoip(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mall_geodb_t  *db = (void *) ((char *) conf + cmd->offset);

    int                  rc;
    ngx_str_t           *value;
    ngx_uint_t           i;
    MMDB_s              *mmdb;
    ngx_pool_cleanup_t  *cln;

    if (db->mmdb) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts - 2 > NGX_HTTP_MALL_GEO_PATH_MAX) {
        return "has too long a lookup path";
    }

    if (ngx_conf_full_name(cf->cycle, &value[1], 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    mmdb = ngx_pcalloc(cf->pool, sizeof(MMDB_s));
    if (mmdb == NULL) {
        return NGX_CONF_ERROR;
    }

    rc = MMDB_open((char *) value[1].data, MMDB_MODE_MMAP, mmdb);

    if (rc != MMDB_SUCCESS) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "%V: cannot open \"%V\": %s", &cmd->name,
                           &value[1], MMDB_strerror(rc));
        return NGX_CONF_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        MMDB_close(mmdb);
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_http_mall_geoip_cleanup;
    cln->data = mmdb;

    db->mmdb = mmdb;

    if (cf->args->nelts == 2) {
        db->path[0] = cmd->post;
        return NGX_CONF_OK;
    }

    for (i = 2; i < cf->args->nelts; i++) {
        /* value[i] is NUL-terminated by the conf parser */
        db->path[i - 2] = (const char *) value[i].data;
    }

    return NGX_CONF_OK;
}


static void
ngx_http_mall_geoip_cleanup(void *data)
{
    MMDB_close(data);
}


/*
 * The value at db's lookup path for the client's address (after real_ip:
 * the connection's address is the client's). NGX_DECLINED when the
 * database is not configured or does not know the address.
 */

static ngx_int_t
ngx_http_mall_geodb_get(ngx_http_request_t *r, ngx_http_mall_geodb_t *db,
    MMDB_entry_data_s *data)
{
    int                    err;
    MMDB_lookup_result_s   res;

    if (db->mmdb == NULL) {
        return NGX_DECLINED;
    }

    res = MMDB_lookup_sockaddr(db->mmdb, r->connection->sockaddr, &err);

    if (err != MMDB_SUCCESS || !res.found_entry
        || MMDB_aget_value(&res.entry, data, db->path) != MMDB_SUCCESS
        || !data->has_data)
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/*
 * The client's country, once per request. NGX_OK with fctx->has_country
 * set when the database knows the address, NGX_DECLINED when it does not.
 */

ngx_int_t
ngx_http_mall_geoip_country(ngx_http_request_t *r,
    ngx_http_mall_fraud_ctx_t *fctx)
{
    MMDB_entry_data_s           data;
    ngx_http_mall_main_conf_t  *mmcf;

    if (fctx->geo_done) {
        return fctx->has_country ? NGX_OK : NGX_DECLINED;
    }

    fctx->geo_done = 1;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_mall_module);

    if (ngx_http_mall_geodb_get(r, &mmcf->fraud.country, &data) != NGX_OK
        || data.type != MMDB_DATA_TYPE_UTF8_STRING || data.data_size != 2)
    {
        return NGX_DECLINED;
    }

    fctx->country[0] = ngx_toupper(data.utf8_string[0]);
    fctx->country[1] = ngx_toupper(data.utf8_string[1]);
    fctx->has_country = 1;

    return NGX_OK;
}


/* $mall_asn: the client's autonomous system number, or empty */

ngx_int_t
ngx_http_mall_asn_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                     *p;
    MMDB_entry_data_s           d;
    ngx_http_mall_ctx_t        *ctx;
    ngx_http_mall_fraud_ctx_t  *fctx;
    ngx_http_mall_main_conf_t  *mmcf;

    ngx_http_mall_variable_empty(v);

    ctx = ngx_http_mall_create_ctx(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    fctx = &ctx->fraud;

    if (!fctx->asn_done) {
        fctx->asn_done = 1;
        mmcf = ngx_http_get_module_main_conf(r, ngx_http_mall_module);

        if (ngx_http_mall_geodb_get(r, &mmcf->fraud.asn, &d) == NGX_OK) {
            if (d.type == MMDB_DATA_TYPE_UINT32) {
                fctx->asn = d.uint32;
                fctx->has_asn = 1;

            } else if (d.type == MMDB_DATA_TYPE_UINT16) {
                fctx->asn = d.uint16;
                fctx->has_asn = 1;
            }
        }
    }

    if (!fctx->has_asn) {
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, NGX_INT32_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->data = p;
    v->len = ngx_sprintf(p, "%uD", fctx->asn) - p;

    return NGX_OK;
}


/* $mall_country, $mall_geo_country: two letters, or empty */

ngx_int_t
ngx_http_mall_country_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_mall_ctx_t  *ctx;

    ngx_http_mall_variable_empty(v);

    ctx = ngx_http_mall_create_ctx(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_mall_geoip_country(r, &ctx->fraud) == NGX_OK) {
        v->data = ctx->fraud.country;
        v->len = 2;
    }

    return NGX_OK;
}


/*
 * 1 when the location's country lists refuse the client: a deny list that
 * names its country, or an allow list that does not. An address the
 * database does not know (private, loopback) is refused by neither.
 */

ngx_int_t
ngx_http_mall_country_denied(ngx_http_request_t *r,
    ngx_http_mall_fraud_loc_conf_t *flcf, ngx_http_mall_fraud_ctx_t *fctx)
{
    uint16_t    code, *c;
    ngx_uint_t  i;

    if (ngx_http_mall_geoip_country(r, fctx) != NGX_OK) {
        return 0;
    }

    code = (uint16_t) (fctx->country[0] << 8 | fctx->country[1]);

    if (flcf->country_deny) {
        c = flcf->country_deny->elts;

        for (i = 0; i < flcf->country_deny->nelts; i++) {
            if (c[i] == code) {
                return 1;
            }
        }
    }

    if (flcf->country_allow) {
        c = flcf->country_allow->elts;

        for (i = 0; i < flcf->country_allow->nelts; i++) {
            if (c[i] == code) {
                return 0;
            }
        }

        return 1;
    }

    return 0;
}


/* mall_country_deny|mall_country_allow CODE... | file=PATH ... | off */

char *
ngx_http_mall_country_list(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_array_t  **list = (void *) ((char *) conf + cmd->offset);

    ngx_str_t   *value, path;
    ngx_uint_t   i;

    if (*list != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 2 && ngx_strcmp(value[1].data, "off") == 0) {
        *list = NULL;
        return NGX_CONF_OK;
    }

    *list = ngx_array_create(cf->pool, 8, sizeof(uint16_t));
    if (*list == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "file=", 5) == 0) {
            path.data = value[i].data + 5;
            path.len = value[i].len - 5;

            if (ngx_http_mall_country_file(cf, *list, &path) != NGX_OK) {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_http_mall_country_add(cf, *list, value[i].data,
                                      value[i].len)
            != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_mall_country_add(ngx_conf_t *cf, ngx_array_t *a, u_char *p,
    size_t len)
{
    uint16_t  *c;

    if (len != 2 || !isalpha(p[0]) || !isalpha(p[1])) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "mall_country: \"%*s\" is not a two-letter "
                           "country code", len, p);
        return NGX_ERROR;
    }

    c = ngx_array_push(a);
    if (c == NULL) {
        return NGX_ERROR;
    }

    *c = (uint16_t) (ngx_toupper(p[0]) << 8 | ngx_toupper(p[1]));

    return NGX_OK;
}


/* A file of codes, one or more a line; '#' starts a comment. */

static ngx_int_t
ngx_http_mall_country_file(ngx_conf_t *cf, ngx_array_t *a, ngx_str_t *path)
{
    ngx_str_t    *tok;
    ngx_uint_t    i;
    ngx_array_t   tokens;

    if (ngx_array_init(&tokens, cf->temp_pool, 16, sizeof(ngx_str_t))
        != NGX_OK
        || ngx_http_mall_fraud_read_tokens(cf, path, &tokens) != NGX_OK)
    {
        return NGX_ERROR;
    }

    tok = tokens.elts;

    for (i = 0; i < tokens.nelts; i++) {
        if (ngx_http_mall_country_add(cf, a, tok[i].data, tok[i].len)
            != NGX_OK)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "in \"%V\"", path);
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}
