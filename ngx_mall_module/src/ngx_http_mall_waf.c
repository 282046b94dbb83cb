
/*
 * WAF: directives, the ACCESS-phase check and its variables. Rules are
 * compiled once at config load (a broken file fails nginx -t with its
 * file:line); each location's policy is built at merge time; a worker
 * allocates the engine's scratch once, in init_process, and every scan runs
 * to its end inside one handler call (nothing of it waits on the network),
 * so one scratch per worker serves every request.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_mall_module.h"


#define NGX_HTTP_MALL_WAF_VALUE_MIN  (16 * 1024)
#define NGX_HTTP_MALL_WAF_POLICY_MAX 64


static ngx_int_t ngx_http_mall_waf_body(ngx_http_request_t *r,
    size_t limit, ngx_str_t *body);
static void ngx_http_mall_waf_rules_cleanup(void *data);
static void ngx_http_mall_waf_policy_cleanup(void *data);


ngx_conf_enum_t  ngx_http_mall_waf_modes[] = {
    { ngx_string("off"), NGX_HTTP_MALL_WAF_OFF },
    { ngx_string("detect"), NGX_HTTP_MALL_WAF_DETECT },
    { ngx_string("on"), NGX_HTTP_MALL_WAF_ON },
    { ngx_null_string, 0 }
};


ngx_conf_enum_t  ngx_http_mall_waf_over[] = {
    { ngx_string("reject"), NGX_HTTP_MALL_WAF_OVER_REJECT },
    { ngx_string("pass"), NGX_HTTP_MALL_WAF_OVER_PASS },
    { ngx_null_string, 0 }
};


/* the engine's scratch of this worker (init_process, cycle pool) */
static u_char  *ngx_http_mall_waf_scratch;
static size_t   ngx_http_mall_waf_scratch_len;


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


ngx_int_t
ngx_http_mall_waf_init_process(ngx_cycle_t *cycle)
{
    size_t                      max;
    ngx_http_mall_main_conf_t  *mmcf;

    mmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_mall_module);

    if (mmcf == NULL || mmcf->waf.rules == NULL) {
        return NGX_OK;
    }

    max = ngx_max(mmcf->waf.max_value, NGX_HTTP_MALL_WAF_VALUE_MIN);

    ngx_http_mall_waf_scratch_len = mall_waf_scan_size(mmcf->waf.rules, max);

    ngx_http_mall_waf_scratch = ngx_palloc(cycle->pool,
                                           ngx_http_mall_waf_scratch_len);
    if (ngx_http_mall_waf_scratch == NULL) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* ------------------------------ request ---------------------------------- */


/*
 * ACCESS, before the token: the body is read first (shared with the
 * signature check), then every part of the request is scanned in one go.
 * Returns NGX_DECLINED to go on, NGX_DONE when denied or while the body is
 * read, or an HTTP status.
 */

ngx_int_t
ngx_http_mall_waf_handler(ngx_http_request_t *r, ngx_http_mall_ctx_t *ctx)
{
    ngx_int_t                   rc, reached;
    ngx_str_t                   body;
    ngx_uint_t                  status;
    mall_waf_scan_t            *s;
    mall_waf_result_t           res;
    ngx_http_mall_loc_conf_t   *mlcf;
    ngx_http_mall_main_conf_t  *mmcf;

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_mall_module);

    if (mlcf->waf.mode == NGX_HTTP_MALL_WAF_OFF || ctx->waf.done) {
        return NGX_DECLINED;
    }

    if (r->headers_in.content_length_n > (off_t) mlcf->waf.body_limit) {
        if (mlcf->waf.body_over == NGX_HTTP_MALL_WAF_OVER_REJECT) {
            goto too_large;
        }

        ctx->waf.body_over = 1;
    }

    rc = ngx_http_mall_read_body(r, ctx);
    if (rc != NGX_OK) {
        return rc;
    }

    ngx_str_null(&body);

    rc = ctx->waf.body_over ? NGX_OK
                            : ngx_http_mall_waf_body(r, mlcf->waf.body_limit,
                                                     &body);
    if (rc != NGX_OK) {
        /* chunked past the limit, or spilled to a temp file */
        if (mlcf->waf.body_over == NGX_HTTP_MALL_WAF_OVER_REJECT) {
            goto too_large;
        }

        ctx->waf.body_over = 1;
        ctx->waf.body_in_file = (rc == NGX_ABORT);
    }

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_mall_module);

    s = mall_waf_scan_init(ngx_http_mall_waf_scratch,
                           ngx_http_mall_waf_scratch_len, mmcf->waf.rules,
                           mlcf->waf.policy);
    if (s == NULL) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "mall_waf: scan init failed");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    reached = ngx_http_mall_waf_scan_request(r, s, &mlcf->waf,
                                   mlcf->waf.mode == NGX_HTTP_MALL_WAF_ON,
                                   ctx->waf.body_over ? NULL : &body);
    if (ctx->waf.body_over
        && mall_waf_scan_anomaly(s, ctx->waf.body_in_file
                                    ? MALL_WAF_ANOMALY_BODY_NOT_INSPECTED
                                    : MALL_WAF_ANOMALY_BODY_OVER_LIMIT)
           == 1)
    {
        reached = 1;
    }

    mall_waf_scan_result(s, &res);

    ctx->waf.done = 1;
    ctx->waf.score = res.score;

    if (res.blocked && mlcf->waf.mode == NGX_HTTP_MALL_WAF_ON) {
        status = NGX_HTTP_MALL_WAF_ST_BLOCK;

    } else if (reached || res.blocked) {
        status = NGX_HTTP_MALL_WAF_ST_DETECT;

    } else {
        status = NGX_HTTP_MALL_WAF_ST_PASS;
    }

    ctx->waf.status = status;

    if (status != NGX_HTTP_MALL_WAF_ST_PASS && mlcf->waf.audit) {
        ngx_http_mall_waf_audit(r, mlcf->waf.audit, &res, status);
    }

    if (status == NGX_HTTP_MALL_WAF_ST_BLOCK) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "mall_waf: blocked, score %d", res.score);
        return ngx_http_mall_deny(r, NGX_HTTP_FORBIDDEN, "WAF_BLOCKED",
                                  "request blocked");
    }

    return NGX_DECLINED;

too_large:

    ctx->waf.done = 1;
    ctx->waf.status = NGX_HTTP_MALL_WAF_ST_BLOCK;

    return ngx_http_mall_deny(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                              "PAYLOAD_TOO_LARGE",
                              "request body over the inspection limit");
}


/*
 * The body as one piece of memory: its buffer, or a copy in r->pool when
 * it came in several. NGX_DECLINED when it is over the limit, NGX_ABORT
 * when it is (partly) in a temp file, which this phase cannot read without
 * blocking.
 */

static ngx_int_t
ngx_http_mall_waf_body(ngx_http_request_t *r, size_t limit, ngx_str_t *body)
{
    size_t                    len;
    ngx_buf_t                *b;
    ngx_chain_t              *cl;
    ngx_http_request_body_t  *rb;

    rb = r->request_body;

    if (rb == NULL || rb->bufs == NULL) {
        return NGX_OK;
    }

    if (rb->temp_file) {
        return NGX_ABORT;
    }

    len = 0;

    for (cl = rb->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (b->in_file || (!ngx_buf_in_memory(b) && ngx_buf_size(b) > 0)) {
            return NGX_ABORT;
        }

        len += b->last - b->pos;
    }

    if (len > limit) {
        return NGX_DECLINED;
    }

    if (rb->bufs->next == NULL) {
        body->data = rb->bufs->buf->pos;
        body->len = len;
        return NGX_OK;
    }

    body->data = ngx_pnalloc(r->pool, len);
    if (body->data == NULL) {
        return NGX_DECLINED;
    }

    (void) ngx_http_mall_chain_copy(body->data, rb->bufs);

    body->len = len;

    return NGX_OK;
}


/* ------------------------------ variables -------------------------------- */


ngx_int_t
ngx_http_mall_waf_status_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_mall_ctx_t  *ctx;

    static ngx_str_t  names[] = {
        ngx_string(""),
        ngx_string("pass"),
        ngx_string("detect"),
        ngx_string("block")
    };

    ngx_http_mall_variable_empty(v);

    ctx = ngx_http_mall_get_ctx(r->main);

    if (ctx) {
        v->len = names[ctx->waf.status].len;
        v->data = names[ctx->waf.status].data;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_mall_waf_score_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char               *p;
    ngx_http_mall_ctx_t  *ctx;

    ngx_http_mall_variable_empty(v);

    ctx = ngx_http_mall_get_ctx(r->main);

    if (ctx == NULL || !ctx->waf.done) {
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->data = p;
    v->len = ngx_sprintf(p, "%d", ctx->waf.score) - p;

    return NGX_OK;
}
