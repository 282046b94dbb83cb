
/*
 * WAF directives: rules compiled once at config load (a broken file fails
 * nginx -t with its file:line), each location's policy built at merge time
 * from its mall_waf_policy arguments, and the postconfiguration lookup of
 * the country variable for audit lines.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_mall_module.h"


#define NGX_HTTP_MALL_WAF_POLICY_MAX 64


static void ngx_http_mall_waf_rules_cleanup(void *data);
static void ngx_http_mall_waf_policy_cleanup(void *data);


/* ------------------------------ configuration ---------------------------- */


/*
 * mall_waf_rules PATH_GLOB...: every file the globs match (sorted, as
 * include does), compiled into one rule set now.
 */

char *
ngx_http_mall_waf_rules(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mall_main_conf_t *mmcf = conf;

    char                **path;
    u_char                err[512];
    ngx_str_t            *value, name;
    ngx_uint_t            i;
    ngx_glob_t            gl;
    ngx_array_t           paths;
    ngx_pool_cleanup_t   *cln;

    if (mmcf->waf.rules) {
        return "is duplicate";
    }

    if (ngx_array_init(&paths, cf->temp_pool, 8, sizeof(char *)) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        name = value[i];

        if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        ngx_memzero(&gl, sizeof(ngx_glob_t));
        gl.pattern = name.data;
        gl.log = cf->log;
        gl.test = 1;

        if (ngx_open_glob(&gl) != NGX_OK) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                               ngx_open_glob_n " \"%s\" failed", name.data);
            return NGX_CONF_ERROR;
        }

        while (ngx_read_glob(&gl, &name) == NGX_OK) {
            path = ngx_array_push(&paths);
            if (path == NULL) {
                ngx_close_glob(&gl);
                return NGX_CONF_ERROR;
            }

            name.len++;    /* with its NUL */
            *path = (char *) ngx_pstrdup(cf->temp_pool, &name);
            if (*path == NULL) {
                ngx_close_glob(&gl);
                return NGX_CONF_ERROR;
            }
        }

        ngx_close_glob(&gl);
    }

    if (paths.nelts == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "mall_waf_rules: no rule file matches");
        return NGX_CONF_ERROR;
    }

    err[0] = '\0';

    mmcf->waf.rules = mall_waf_compile((const char *const *) paths.elts,
                                       paths.nelts, (char *) err,
                                       sizeof(err));
    if (mmcf->waf.rules == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "mall_waf_rules: %s", err);
        return NGX_CONF_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        mall_waf_free(mmcf->waf.rules);
        mmcf->waf.rules = NULL;
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_http_mall_waf_rules_cleanup;
    cln->data = mmcf->waf.rules;

    return NGX_CONF_OK;
}


/*
 * A directive's arguments as an array of ngx_str_t (the conf parser leaves
 * each word NUL-terminated), or NULL.
 */

ngx_array_t *
ngx_http_mall_waf_conf_args(ngx_conf_t *cf)
{
    ngx_str_t    *value, *arg;
    ngx_uint_t    i;
    ngx_array_t  *args;

    args = ngx_array_create(cf->pool, cf->args->nelts - 1,
                            sizeof(ngx_str_t));
    if (args == NULL) {
        return NULL;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        arg = ngx_array_push(args);
        if (arg == NULL) {
            return NULL;
        }

        *arg = value[i];
    }

    return args;
}


/* mall_waf_policy key=value...: handed to the engine at merge time. */

char *
ngx_http_mall_waf_policy(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mall_loc_conf_t *mlcf = conf;

    if (mlcf->waf.policy_args != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    if (cf->args->nelts - 1 > NGX_HTTP_MALL_WAF_POLICY_MAX) {
        return "has too many arguments";
    }

    mlcf->waf.policy_args = ngx_http_mall_waf_conf_args(cf);

    return mlcf->waf.policy_args ? NGX_CONF_OK : NGX_CONF_ERROR;
}


void
ngx_http_mall_waf_create_loc_conf(ngx_http_mall_waf_loc_conf_t *conf)
{
    conf->mode = NGX_CONF_UNSET_UINT;
    conf->policy_args = NGX_CONF_UNSET_PTR;
    conf->body_limit = NGX_CONF_UNSET_SIZE;
    conf->body_over = NGX_CONF_UNSET_UINT;
    conf->max_args = NGX_CONF_UNSET_UINT;
    conf->max_headers = NGX_CONF_UNSET_UINT;
    conf->audit = NGX_CONF_UNSET_PTR;
    conf->csrf = NGX_CONF_UNSET;
    conf->csrf_origins = NGX_CONF_UNSET_PTR;
}


static mall_waf_policy_t *
ngx_http_mall_waf_policy_new(ngx_conf_t *cf, mall_waf_rules_t *rules,
    ngx_array_t *args)
{
    char                *argv[NGX_HTTP_MALL_WAF_POLICY_MAX];
    u_char               err[256];
    size_t               n;
    ngx_str_t           *a;
    ngx_uint_t           i;
    mall_waf_policy_t   *p;
    ngx_pool_cleanup_t  *cln;

    n = 0;

    if (args) {
        a = args->elts;

        for (i = 0; i < args->nelts; i++) {
            argv[n++] = (char *) a[i].data;
        }
    }

    err[0] = '\0';

    p = mall_waf_policy_new(rules, (const char *const *) argv, n,
                            (char *) err, sizeof(err));
    if (p == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "mall_waf_policy: %s", err);
        return NULL;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        mall_waf_policy_free(p);
        return NULL;
    }

    cln->handler = ngx_http_mall_waf_policy_cleanup;
    cln->data = p;

    return p;
}


char *
ngx_http_mall_waf_merge_loc_conf(ngx_conf_t *cf,
    ngx_http_mall_waf_loc_conf_t *prev, ngx_http_mall_waf_loc_conf_t *conf)
{
    ngx_http_mall_main_conf_t  *mmcf;

    ngx_conf_merge_uint_value(conf->mode, prev->mode, NGX_HTTP_MALL_WAF_OFF);
    ngx_conf_merge_ptr_value(conf->policy_args, prev->policy_args, NULL);
    ngx_conf_merge_size_value(conf->body_limit, prev->body_limit,
                              64 * 1024);
    ngx_conf_merge_uint_value(conf->body_over, prev->body_over,
                              NGX_HTTP_MALL_WAF_OVER_REJECT);
    ngx_conf_merge_uint_value(conf->max_args, prev->max_args, 256);
    ngx_conf_merge_uint_value(conf->max_headers, prev->max_headers, 64);
    ngx_conf_merge_ptr_value(conf->audit, prev->audit, NULL);
    ngx_conf_merge_value(conf->csrf, prev->csrf, 0);
    ngx_conf_merge_ptr_value(conf->csrf_origins, prev->csrf_origins, NULL);

    if (conf->mode == NGX_HTTP_MALL_WAF_OFF) {
        return NGX_CONF_OK;
    }

    mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_mall_module);

    if (mmcf->waf.rules == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "mall_waf needs mall_waf_rules at http level");
        return NGX_CONF_ERROR;
    }

    if (mmcf->waf.max_value < conf->body_limit) {
        mmcf->waf.max_value = conf->body_limit;
    }

    if (prev->policy && prev->policy_args == conf->policy_args) {
        conf->policy = prev->policy;
        return NGX_CONF_OK;
    }

    conf->policy = ngx_http_mall_waf_policy_new(cf, mmcf->waf.rules,
                                                conf->policy_args);

    return conf->policy ? NGX_CONF_OK : NGX_CONF_ERROR;
}


static void
ngx_http_mall_waf_rules_cleanup(void *data)
{
    mall_waf_free(data);
}


static void
ngx_http_mall_waf_policy_cleanup(void *data)
{
    mall_waf_policy_free(data);
}


/*
 * Postconfiguration: the country of audit lines comes from
 * $mall_geo_country when something defines it (the fraud module, a map).
 */

ngx_int_t
ngx_http_mall_waf_init(ngx_conf_t *cf)
{
    ngx_str_t                   name = ngx_string("mall_geo_country");
    ngx_uint_t                  i;
    ngx_hash_key_t             *key;
    ngx_http_mall_main_conf_t  *mmcf;
    ngx_http_core_main_conf_t  *cmcf;

    mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_mall_module);
    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    mmcf->waf.country_index = NGX_ERROR;

    if (mmcf->waf.rules == NULL || cmcf->variables_keys == NULL) {
        return NGX_OK;
    }

    key = cmcf->variables_keys->keys.elts;

    for (i = 0; i < cmcf->variables_keys->keys.nelts; i++) {
        if (key[i].key.len == name.len
            && ngx_strncmp(key[i].key.data, name.data, name.len) == 0)
        {
            mmcf->waf.country_index = ngx_http_get_variable_index(cf, &name);
            break;
        }
    }

    return NGX_OK;
}
