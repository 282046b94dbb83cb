
/*
 * WAF: the ACCESS-phase check and its variables (directives in
 * ngx_http_mall_waf_conf.c). A worker allocates the engine's scratch and its
 * clean-value cache once, in init_process, and every scan runs to its end
 * inside one handler call (nothing of it waits on the network), so one
 * scratch per worker serves every request.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_mall_module.h"

#include <openssl/rand.h>


#define NGX_HTTP_MALL_WAF_VALUE_MIN  (16 * 1024)


static ngx_int_t ngx_http_mall_waf_body(ngx_http_request_t *r,
    size_t limit, ngx_str_t *body);
static ngx_int_t ngx_http_mall_waf_cache_init(ngx_cycle_t *cycle,
    ngx_uint_t entries);


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

/* this worker's clean-value cache, under a key of its own; NULL: off */
static mall_waf_cache_t  *ngx_http_mall_waf_cache;


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

    return ngx_http_mall_waf_cache_init(cycle, mmcf->waf.value_cache);
}


/*
 * The clean-value cache: a new one with each cycle (new rules, new
 * policies), its SipHash key from the CSPRNG so that no one can make an
 * attack look like a cached value.
 */

static ngx_int_t
ngx_http_mall_waf_cache_init(ngx_cycle_t *cycle, ngx_uint_t entries)
{
    u_char   key[16];
    size_t   size;
    void    *mem;

    ngx_http_mall_waf_cache = NULL;

    if (entries == 0) {
        return NGX_OK;
    }

    if (RAND_bytes(key, sizeof(key)) != 1) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "mall_waf_value_cache: no random key");
        return NGX_ERROR;
    }

    size = mall_waf_cache_size(entries);

    mem = ngx_palloc(cycle->pool, size);
    if (mem == NULL) {
        return NGX_ERROR;
    }

    ngx_http_mall_waf_cache = mall_waf_cache_init(mem, size, key);
    ngx_explicit_memzero(key, sizeof(key));

    return ngx_http_mall_waf_cache ? NGX_OK : NGX_ERROR;
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

    if (ngx_http_mall_waf_cache) {
        mall_waf_scan_use_cache(s, ngx_http_mall_waf_cache);
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
