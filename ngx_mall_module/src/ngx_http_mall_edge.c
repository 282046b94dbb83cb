
/*
 * Edge -> worker signature: see ngx_http_mall_edge.h and
 * lib/mall_edge_sig.h for the canonical string.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_mall_module.h"


static ngx_int_t ngx_http_mall_edge_compute(ngx_http_request_t *r,
    ngx_http_mall_ctx_t *ctx);


/* mall_edge_key <kid> <file>: http level, repeatable; the first one signs */

char *
ngx_http_mall_edge_key(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mall_main_conf_t *mmcf = conf;

    ngx_str_t  *value;

    value = cf->args->elts;

    return ngx_http_mall_secret_add(cf, &mmcf->edge.keys, &value[1],
                                    "has an invalid key id",
                                    "has a duplicate key id");
}


/*
 * Signs the request as it is forwarded, once: proxy evaluates the
 * variables after it has read the body, so the body hash is the one the
 * worker receives. Returns NGX_OK, or NGX_DECLINED when no signature can be
 * made (no key, body not in memory); the variables are then empty and the
 * worker refuses the request.
 */

static ngx_int_t
ngx_http_mall_edge_compute(ngx_http_request_t *r, ngx_http_mall_ctx_t *ctx)
{
    u_char                     *p, exp[NGX_INT64_LEN];
    u_char                      risk[NGX_HTTP_MALL_RISK_LEN];
    ngx_str_t                   id;
    ngx_http_mall_header_want_t  idem = { ngx_string("idempotency-key"),
                                          ngx_null_string };
    mall_edge_fields_t          f;
    ngx_http_mall_secret_t     *key;
    ngx_http_mall_main_conf_t  *mmcf;

    if (ctx->edge_done) {
        return NGX_OK;
    }

    if (r != r->main && !ctx->subrequest) {
        /* a subrequest would reuse the main request's ctx: never sign it */
        return NGX_DECLINED;
    }

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_mall_module);

    if (mmcf->edge.keys == NULL) {
        return NGX_DECLINED;
    }

    if (r->request_body == NULL
        && (r->headers_in.content_length_n > 0 || r->headers_in.chunked))
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "mall_edge: request body not read, not signing");
        return NGX_DECLINED;
    }

    if (ngx_http_mall_body_sha256(r, ctx) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "mall_edge: request body is not in memory, not "
                      "signing (client_body_buffer_size is smaller than "
                      "client_max_body_size)");
        return NGX_DECLINED;
    }

    key = mmcf->edge.keys->elts;

    ngx_http_mall_request_id(r, &id);

    ngx_memzero(&f, sizeof(mall_edge_fields_t));

    f.method = (const char *) r->method_name.data;
    f.method_len = r->method_name.len;
    f.uri = (const char *) r->unparsed_uri.data;
    f.uri_len = r->unparsed_uri.len;
    f.request_id = (const char *) id.data;
    f.request_id_len = id.len;
    f.client_ip = (const char *) r->connection->addr_text.data;
    f.client_ip_len = r->connection->addr_text.len;
    f.user = "";
    f.role = "";
    f.token_id = "";
    f.token_exp = "";

    if (ctx->auth_state == NGX_HTTP_MALL_AUTH_VERIFIED) {
        f.user = ctx->claims->sub;
        f.user_len = ngx_strlen(ctx->claims->sub);
        f.role = ctx->claims->role;
        f.role_len = ngx_strlen(ctx->claims->role);
        f.token_id = ctx->claims->jti;
        f.token_id_len = ngx_strlen(ctx->claims->jti);

        p = ngx_sprintf(exp, "%L", (int64_t) ctx->claims->exp);
        f.token_exp = (const char *) exp;
        f.token_exp_len = p - exp;
    }

    ctx->edge_ts_len = ngx_sprintf(ctx->edge_ts, "%T", ngx_time())
                       - ctx->edge_ts;

    f.ts = (const char *) ctx->edge_ts;
    f.ts_len = ctx->edge_ts_len;

    /*
     * the key the worker decides by: conf/ forwards exactly this value
     * ($mall_idempotency_key), so a second header cannot differ from it
     */

    ngx_http_mall_find_headers_in(r, &idem, 1);
    ctx->edge_idem = idem.value;

    f.idem_key = (const char *) idem.value.data;
    f.idem_key_len = idem.value.len;
    f.body_sha256_hex = (const char *) ctx->body_sha256;

    /* the same bytes as $mall_risk, which conf/ sends as X-Mall-Risk */

    if (ctx->fraud.scored && ctx->fraud.action == NGX_HTTP_MALL_RISK_TAG) {
        f.risk = (const char *) risk;
        f.risk_len = ngx_http_mall_risk_format(&ctx->fraud, risk);
    }

    if (mall_edge_sign_keyed(key[0].hmac, &f, (char *) ctx->edge_sig)
        != 0)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "mall_edge: request too large to sign");
        return NGX_DECLINED;
    }

    ctx->edge_kid = key[0].id;
    ctx->edge_done = 1;

    return NGX_OK;
}


/*
 * Common part of the three variables: empty unless the signature can be
 * made. Returns the ctx holding the signature, or NULL.
 */

static ngx_http_mall_ctx_t *
ngx_http_mall_edge_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v)
{
    ngx_http_mall_ctx_t  *ctx;

    ngx_http_mall_variable_empty(v);

    ctx = ngx_http_mall_create_ctx(r);
    if (ctx == NULL) {
        return NULL;
    }

    if (ngx_http_mall_edge_compute(r, ctx) != NGX_OK) {
        return NULL;
    }

    return ctx;
}


ngx_int_t
ngx_http_mall_edge_ts_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_mall_ctx_t  *ctx;

    ctx = ngx_http_mall_edge_variable(r, v);

    if (ctx) {
        v->data = ctx->edge_ts;
        v->len = ctx->edge_ts_len;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_mall_edge_kid_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_mall_ctx_t  *ctx;

    ctx = ngx_http_mall_edge_variable(r, v);

    if (ctx) {
        v->data = ctx->edge_kid.data;
        v->len = ctx->edge_kid.len;
    }

    return NGX_OK;
}


/*
 * $mall_idempotency_key: the Idempotency-Key the edge signature covers;
 * not found (so proxy_set_header sends none) when the request has none.
 */

ngx_int_t
ngx_http_mall_edge_idem_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_mall_ctx_t  *ctx;

    ctx = ngx_http_mall_edge_variable(r, v);

    if (ctx == NULL || ctx->edge_idem.len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->data = ctx->edge_idem.data;
    v->len = ctx->edge_idem.len;

    return NGX_OK;
}


ngx_int_t
ngx_http_mall_edge_signature_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_mall_ctx_t  *ctx;

    ctx = ngx_http_mall_edge_variable(r, v);

    if (ctx) {
        v->data = ctx->edge_sig;
        v->len = MALL_EDGE_SIG_LEN;
    }

    return NGX_OK;
}
