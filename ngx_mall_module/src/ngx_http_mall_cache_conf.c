
/*
 * Catalog cache: its directives, and postconfiguration.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_mall_module.h"


static ngx_str_t  ngx_http_mall_purge_stream = ngx_string("mall:purge");


/* mall_cache_zone name=NAME:SIZE [max_entry=256k] */

char *
ngx_http_mall_cache_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mall_main_conf_t *mmcf = conf;

    ssize_t                      size;
    ngx_str_t                   *value, s;
    ngx_uint_t                   i;
    ngx_http_mall_cache_zone_t  *czone;

    value = cf->args->elts;

    if (mmcf->cache.zones == NULL) {
        mmcf->cache.zones = ngx_array_create(cf->pool, 2,
                                       sizeof(ngx_http_mall_cache_zone_t));
        if (mmcf->cache.zones == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    czone = ngx_array_push(mmcf->cache.zones);
    if (czone == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(czone, sizeof(ngx_http_mall_cache_zone_t));
    czone->max_entry = 256 * 1024;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "name=", 5) == 0) {
            s.data = value[i].data + 5;
            s.len = value[i].len - 5;

            czone->zone = ngx_http_mall_shm_zone_add(cf, &s,
                                                     &ngx_http_mall_module);
            if (czone->zone == NULL) {
                return NGX_CONF_ERROR;
            }

            czone->name = czone->zone->shm.name;
            continue;
        }

        if (ngx_strncmp(value[i].data, "max_entry=", 10) == 0) {
            s.data = value[i].data + 10;
            s.len = value[i].len - 10;

            size = ngx_parse_size(&s);
            if (size == NGX_ERROR || size == 0) {
                goto invalid;
            }

            czone->max_entry = size;
            continue;
        }

        goto invalid;
    }

    if (czone->zone == NULL) {
        return "requires name=NAME:SIZE";
    }

    /* eviction frees room for an entry only if entries are small */

    if (czone->max_entry > czone->zone->shm.size / 8) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "mall_cache_zone: max_entry must be at most "
                           "1/8 of the zone size in \"%V\"", &czone->name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "mall_cache_zone: invalid parameter \"%V\"",
                       &value[i]);

    return NGX_CONF_ERROR;
}


static ngx_http_mall_cache_zone_t *
ngx_http_mall_cache_find_zone(ngx_conf_t *cf, ngx_str_t *value)
{
    ngx_str_t                    name;
    ngx_uint_t                   i;
    ngx_http_mall_main_conf_t   *mmcf;
    ngx_http_mall_cache_zone_t  *czone;

    if (ngx_strncmp(value->data, "zone=", 5) != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "mall_cache: expected \"zone=NAME\", got \"%V\"",
                           value);
        return NULL;
    }

    name.data = value->data + 5;
    name.len = value->len - 5;

    mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_mall_module);

    if (mmcf->cache.zones) {
        czone = mmcf->cache.zones->elts;

        for (i = 0; i < mmcf->cache.zones->nelts; i++) {
            if (czone[i].name.len == name.len
                && ngx_strncmp(czone[i].name.data, name.data, name.len) == 0)
            {
                return &czone[i];
            }
        }
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "mall_cache: unknown zone \"%V\" (declare it with "
                       "mall_cache_zone first)", &name);

    return NULL;
}


/* mall_cache zone=NAME | off */

char *
ngx_http_mall_cache(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mall_loc_conf_t *mlcf = conf;

    ngx_str_t  *value;

    if (mlcf->cache.zone != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        mlcf->cache.zone = NULL;
        return NGX_CONF_OK;
    }

    mlcf->cache.zone = ngx_http_mall_cache_find_zone(cf, &value[1]);
    if (mlcf->cache.zone == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* mall_cache_purge zone=NAME: the admin purge content handler */

char *
ngx_http_mall_cache_purge(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mall_loc_conf_t *mlcf = conf;

    ngx_str_t                 *value;
    ngx_http_core_loc_conf_t  *clcf;

    if (mlcf->cache.purge) {
        return "is duplicate";
    }

    value = cf->args->elts;

    mlcf->cache.purge = ngx_http_mall_cache_find_zone(cf, &value[1]);
    if (mlcf->cache.purge == NULL) {
        return NGX_CONF_ERROR;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_mall_cache_purge_handler;

    return NGX_CONF_OK;
}


/* mall_cache_status: an alias of mall_metrics (its cache_* families) */

char *
ngx_http_mall_cache_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_mall_metrics_handler;

    return NGX_CONF_OK;
}


/* mall_cache_ignore_args name|prefix* ... */

char *
ngx_http_mall_cache_args(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mall_loc_conf_t *mlcf = conf;

    ngx_str_t   *value, *s;
    ngx_uint_t   i;

    if (mlcf->cache.ignore_args != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    mlcf->cache.ignore_args = ngx_array_create(cf->pool, cf->args->nelts,
                                               sizeof(ngx_str_t));
    if (mlcf->cache.ignore_args == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 1; i < cf->args->nelts; i++) {
        if (value[i].len == 0 || ngx_strlchr(value[i].data, value[i].data
                                             + value[i].len - 1, '*'))
        {
            return "takes names, or prefixes ending with \"*\"";
        }

        s = ngx_array_push(mlcf->cache.ignore_args);
        if (s == NULL) {
            return NGX_CONF_ERROR;
        }

        *s = value[i];
    }

    return NGX_CONF_OK;
}


/* mall_cache_default_args name=value ... */

char *
ngx_http_mall_cache_defaults(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mall_loc_conf_t *mlcf = conf;

    u_char        *eq;
    ngx_str_t     *value;
    ngx_uint_t     i;
    ngx_keyval_t  *kv;

    if (mlcf->cache.default_args != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    mlcf->cache.default_args = ngx_array_create(cf->pool, cf->args->nelts,
                                                sizeof(ngx_keyval_t));
    if (mlcf->cache.default_args == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 1; i < cf->args->nelts; i++) {
        eq = ngx_strlchr(value[i].data, value[i].data + value[i].len, '=');

        if (eq == NULL || eq == value[i].data) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "mall_cache_default_args: expected "
                               "\"name=value\", got \"%V\"", &value[i]);
            return NGX_CONF_ERROR;
        }

        kv = ngx_array_push(mlcf->cache.default_args);
        if (kv == NULL) {
            return NGX_CONF_ERROR;
        }

        kv->key.data = value[i].data;
        kv->key.len = eq - value[i].data;
        kv->value.data = eq + 1;
        kv->value.len = value[i].data + value[i].len - eq - 1;
    }

    return NGX_CONF_OK;
}


/* mall_cache_heuristic <N>% <max-time> | off */

char *
ngx_http_mall_cache_heuristic(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mall_loc_conf_t *mlcf = conf;

    ngx_int_t   n;
    ngx_str_t  *value;

    if (mlcf->cache.heuristic != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 2 && ngx_strcmp(value[1].data, "off") == 0) {
        mlcf->cache.heuristic = 0;
        mlcf->cache.heuristic_max = 0;
        return NGX_CONF_OK;
    }

    if (cf->args->nelts != 3 || value[1].len < 2
        || value[1].data[value[1].len - 1] != '%')
    {
        return "takes \"<N>% <max-time>\" or \"off\"";
    }

    n = ngx_atoi(value[1].data, value[1].len - 1);
    if (n == NGX_ERROR || n > 100) {
        return "takes a percentage of 0% to 100%";
    }

    mlcf->cache.heuristic = n;
    mlcf->cache.heuristic_max = ngx_parse_time(&value[2], 1);

    if (mlcf->cache.heuristic_max == (time_t) NGX_ERROR) {
        return "has an invalid max-time";
    }

    return NGX_CONF_OK;
}


/* mall_cache_targeted_fields <Field> ... | off (RFC 9213) */

char *
ngx_http_mall_cache_targeted(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mall_loc_conf_t *mlcf = conf;

    ngx_str_t   *value, *s;
    ngx_uint_t   i;

    if (mlcf->cache.targeted != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 2 && ngx_strcmp(value[1].data, "off") == 0) {
        mlcf->cache.targeted = NULL;
        return NGX_CONF_OK;
    }

    mlcf->cache.targeted = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                            sizeof(ngx_str_t));
    if (mlcf->cache.targeted == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 1; i < cf->args->nelts; i++) {
        if (value[i].len == 0 || value[i].len > 0xffff) {
            return "takes field names";
        }

        s = ngx_array_push(mlcf->cache.targeted);
        if (s == NULL) {
            return NGX_CONF_ERROR;
        }

        *s = value[i];
    }

    return NGX_CONF_OK;
}


void
ngx_http_mall_cache_create_loc_conf(ngx_http_mall_cache_loc_conf_t *conf)
{
    /*
     * set by ngx_pcalloc():
     *
     *     conf->purge = NULL;
     */

    conf->zone = NGX_CONF_UNSET_PTR;
    conf->key = NGX_CONF_UNSET_PTR;
    conf->ignore_args = NGX_CONF_UNSET_PTR;
    conf->default_args = NGX_CONF_UNSET_PTR;
    conf->valid = NGX_CONF_UNSET;
    conf->swr = NGX_CONF_UNSET;
    conf->sie = NGX_CONF_UNSET;
    conf->lock_timeout = NGX_CONF_UNSET_MSEC;
    conf->status_header = NGX_CONF_UNSET;
    conf->heuristic = NGX_CONF_UNSET_UINT;
    conf->heuristic_max = NGX_CONF_UNSET;
    conf->targeted = NGX_CONF_UNSET_PTR;
    conf->set_cookie = NGX_CONF_UNSET_UINT;
    conf->max_variants = NGX_CONF_UNSET_UINT;
    conf->ranges = NGX_CONF_UNSET;
    conf->keep = NGX_CONF_UNSET;
}


char *
ngx_http_mall_cache_merge_loc_conf(ngx_conf_t *cf,
    ngx_http_mall_cache_loc_conf_t *prev, ngx_http_mall_cache_loc_conf_t *conf)
{
    ngx_str_t  *s;

    ngx_conf_merge_ptr_value(conf->zone, prev->zone, NULL);
    ngx_conf_merge_ptr_value(conf->key, prev->key, NULL);
    ngx_conf_merge_ptr_value(conf->ignore_args, prev->ignore_args, NULL);
    ngx_conf_merge_ptr_value(conf->default_args, prev->default_args, NULL);
    ngx_conf_merge_sec_value(conf->valid, prev->valid, 0);
    ngx_conf_merge_sec_value(conf->swr, prev->swr, 0);
    ngx_conf_merge_sec_value(conf->sie, prev->sie, 0);
    ngx_conf_merge_msec_value(conf->lock_timeout, prev->lock_timeout, 3000);
    ngx_conf_merge_value(conf->status_header, prev->status_header, 1);

    if (conf->heuristic == NGX_CONF_UNSET_UINT) {
        conf->heuristic = (prev->heuristic == NGX_CONF_UNSET_UINT)
                          ? 10 : prev->heuristic;
        conf->heuristic_max = (prev->heuristic_max == NGX_CONF_UNSET)
                              ? 86400 : prev->heuristic_max;
    }

    if (conf->targeted == NGX_CONF_UNSET_PTR) {
        if (prev->targeted == NGX_CONF_UNSET_PTR) {
            prev->targeted = ngx_array_create(cf->pool, 1, sizeof(ngx_str_t));
            if (prev->targeted == NULL) {
                return NGX_CONF_ERROR;
            }

            s = ngx_array_push(prev->targeted);
            if (s == NULL) {
                return NGX_CONF_ERROR;
            }

            ngx_str_set(s, "CDN-Cache-Control");
        }

        conf->targeted = prev->targeted;
    }

    ngx_conf_merge_uint_value(conf->set_cookie, prev->set_cookie, 0);
    ngx_conf_merge_uint_value(conf->max_variants, prev->max_variants, 8);
    ngx_conf_merge_value(conf->ranges, prev->ranges, 1);
    ngx_conf_merge_sec_value(conf->keep, prev->keep, 600);

    return NGX_CONF_OK;
}


/* postconfiguration: the store filters, and the purge stream follower */

ngx_int_t
ngx_http_mall_cache_init(ngx_conf_t *cf)
{
    ngx_http_mall_loc_conf_t        *mlcf;
    ngx_http_mall_main_conf_t       *mmcf;
    ngx_http_mall_cache_zone_t      *czone;
    ngx_http_mall_cache_loc_conf_t  *keys;

    mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_mall_module);

    if (mmcf->cache.zones == NULL) {
        return NGX_OK;
    }

    /* purge events name keys with the http{} level argument rules */

    mlcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_mall_module);

    keys = ngx_pcalloc(cf->pool, sizeof(ngx_http_mall_cache_loc_conf_t));
    if (keys == NULL) {
        return NGX_ERROR;
    }

    if (mlcf->cache.ignore_args != NGX_CONF_UNSET_PTR) {
        keys->ignore_args = mlcf->cache.ignore_args;
    }

    if (mlcf->cache.default_args != NGX_CONF_UNSET_PTR) {
        keys->default_args = mlcf->cache.default_args;
    }

    mmcf->cache.keys = keys;

    ngx_http_mall_cache_filter_init();

    if (mmcf->redis.port == 0) {
        return NGX_OK;
    }

    czone = mmcf->cache.zones->elts;

    return ngx_http_mall_redis_follow(cf, &mmcf->redis,
                                      &ngx_http_mall_purge_stream,
                                      ngx_http_mall_cache_purge_event,
                                      &mmcf->cache, czone[0].zone);
}
