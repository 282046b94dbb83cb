
/*
 * Request signatures: see ngx_http_mall_sign.h.
 *
 * PATH in the canonical string is the path part of the request target as
 * the client sent it (r->unparsed_uri up to '?', not percent-decoded, not
 * merged); QUERY is canonicalised from the raw query (r->args).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/crypto.h>

#include <mall_sign.h>
#include <mall_crypto.h>

#include "ngx_http_mall_module.h"
#include "ngx_http_mall_nonce.h"


#define NGX_HTTP_MALL_SIGN_BAD  "BAD_SIGNATURE"


/*
 * The sign key of the last token verified on a connection, with its HMAC
 * key prepared: a keep-alive client signs every request with the same key,
 * so deriving it (an HMAC) and preparing it (two SHA-256 blocks) once per
 * connection rather than per request takes a third of the signature's
 * hashing off the request path. Wiped when the connection closes.
 */
typedef struct {
    ngx_http_mall_secret_t        *secret;   /* NULL: nothing remembered */
    size_t                         jti_len;
    u_char                         jti[MALL_JWT_ID_MAX];
    u_char                         key[MALL_SIGN_KEY_LEN];
    mall_hmac_key_t                hmac;
} ngx_http_mall_sign_conn_t;


/* 1 for every byte outside [A-Za-z0-9_-], the nonce alphabet */
static const u_char  ngx_http_mall_nonce_bad[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,   /* 0x00 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,   /* 0x10 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1,   /* 0x20: '-' */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1,   /* 0x30: 0-9 */
    1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,   /* 0x40: A-O */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0,   /* 0x50: P-Z _ */
    1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,   /* 0x60: a-o */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1,   /* 0x70: p-z */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,   /* 0x80 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};


static ngx_http_mall_sign_conn_t *ngx_http_mall_sign_key(
    ngx_http_request_t *r, ngx_http_mall_secret_t *secret,
    mall_jwt_claims_t *claims);
static void ngx_http_mall_sign_conn_cleanup(void *data);
static ngx_int_t ngx_http_mall_sign_verify(ngx_http_request_t *r,
    ngx_http_mall_ctx_t *ctx, ngx_str_t *ts, ngx_str_t *nonce,
    ngx_str_t *sig, ngx_str_t *idem, time_t when);


/* mall_sign_zone <name>:<size> [per_user=N|N%|off] */

char *
ngx_http_mall_sign_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mall_main_conf_t *mmcf = conf;

    ngx_str_t  *value;

    if (mmcf->sign.zone) {
        return "is duplicate";
    }

    value = cf->args->elts;

    mmcf->sign.zone = ngx_http_mall_nonce_zone_add(cf, &value[1],
                                                   cf->args->nelts > 2
                                                   ? &value[2] : NULL,
                                                   &ngx_http_mall_module);
    if (mmcf->sign.zone == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* mall_sign_secret <id> <file>: sign-key derivation secrets, by skid */

char *
ngx_http_mall_sign_secret(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mall_main_conf_t *mmcf = conf;

    ngx_str_t  *value;

    value = cf->args->elts;

    return ngx_http_mall_secret_add(cf, &mmcf->sign.secrets, &value[1],
                                    "has an invalid secret id",
                                    "has a duplicate secret id");
}


void
ngx_http_mall_sign_create_loc_conf(ngx_http_mall_sign_loc_conf_t *conf)
{
    conf->mode = NGX_CONF_UNSET_UINT;
    conf->window = NGX_CONF_UNSET;
    conf->v1 = NGX_CONF_UNSET;

    /*
     * set by ngx_pcalloc():
     *
     *     conf->methods = 0;
     */
}


char *
ngx_http_mall_sign_merge_loc_conf(ngx_conf_t *cf,
    ngx_http_mall_sign_loc_conf_t *prev, ngx_http_mall_sign_loc_conf_t *conf,
    ngx_uint_t auth_mode)
{
    ngx_http_mall_main_conf_t  *mmcf;

    ngx_conf_merge_uint_value(conf->mode, prev->mode, NGX_HTTP_MALL_OFF);
    ngx_conf_merge_sec_value(conf->window, prev->window, 300);

    /* the transition to v2 (the Idempotency-Key signed): v1 still taken */
    ngx_conf_merge_value(conf->v1, prev->v1, 1);

    /* Writes are signed; reads are left to the token check by default. */
    ngx_conf_merge_bitmask_value(conf->methods, prev->methods,
                                 (NGX_CONF_BITMASK_SET|NGX_HTTP_POST
                                  |NGX_HTTP_PUT|NGX_HTTP_PATCH
                                  |NGX_HTTP_DELETE));

    if (conf->mode == NGX_HTTP_MALL_OFF) {
        return NGX_CONF_OK;
    }

    mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_mall_module);

    if (mmcf->sign.zone == NULL || mmcf->sign.secrets == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mall_sign\" requires \"mall_sign_zone\" and "
                           "\"mall_sign_secret\"");
        return NGX_CONF_ERROR;
    }

    if (auth_mode == NGX_HTTP_MALL_OFF) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mall_sign\" requires \"mall_auth\": the sign "
                           "key derives from the token");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * ACCESS phase, after auth. Cheap header checks first; then the body is
 * read without blocking (the mirror module's way: the phases re-run from
 * the body handler) and hashed; then the signature is compared and only
 * then the nonce recorded. Returns NGX_DECLINED to go on, NGX_DONE when a
 * response was sent or the body is being read, or an HTTP status from
 * reading the body.
 */

ngx_int_t
ngx_http_mall_sign_handler(ngx_http_request_t *r, ngx_http_mall_ctx_t *ctx)
{
    u_char                     bad;
    time_t                     when;
    ngx_int_t                  rc;
    ngx_str_t                  ts, nonce, sig, version, idem;
    ngx_uint_t                 i;
    ngx_http_mall_loc_conf_t  *mlcf;

    ngx_http_mall_header_want_t  want[5] = {
        { ngx_string("x-mall-timestamp"), ngx_null_string },
        { ngx_string("x-mall-nonce"), ngx_null_string },
        { ngx_string("x-mall-signature"), ngx_null_string },
        { ngx_string("x-mall-sign-version"), ngx_null_string },
        { ngx_string("idempotency-key"), ngx_null_string },
    };

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_mall_module);

    if (mlcf->sign.mode == NGX_HTTP_MALL_OFF || ctx->sign_done
        || !(r->method & mlcf->sign.methods))
    {
        return NGX_DECLINED;
    }

    ngx_http_mall_find_headers_in(r, want, 5);

    ts = want[0].value;
    nonce = want[1].value;
    sig = want[2].value;
    version = want[3].value;
    idem = want[4].value;

    if (ts.data == NULL && nonce.data == NULL && sig.data == NULL
        && mlcf->sign.mode == NGX_HTTP_MALL_OPTIONAL)
    {
        ctx->sign_done = 1;
        return NGX_DECLINED;
    }

    if (sig.data == NULL) {
        ngx_http_mall_metrics_sign(NGX_HTTP_MALL_M_SIGN_MISSING);
        return ngx_http_mall_deny(r, NGX_HTTP_UNAUTHORIZED,
                                  NGX_HTTP_MALL_SIGN_BAD,
                                  "missing X-Mall-Signature header");
    }

    if (ts.data == NULL) {
        ngx_http_mall_metrics_sign(NGX_HTTP_MALL_M_SIGN_MISSING);
        return ngx_http_mall_deny(r, NGX_HTTP_UNAUTHORIZED,
                                  NGX_HTTP_MALL_SIGN_BAD,
                                  "missing X-Mall-Timestamp header");
    }

    if (nonce.data == NULL) {
        ngx_http_mall_metrics_sign(NGX_HTTP_MALL_M_SIGN_MISSING);
        return ngx_http_mall_deny(r, NGX_HTTP_UNAUTHORIZED,
                                  NGX_HTTP_MALL_SIGN_BAD,
                                  "missing X-Mall-Nonce header");
    }

    /*
     * v2 covers the Idempotency-Key too; v1 (no version header) is taken
     * while mall_sign_v1 is on. idem.data NULL below: a v1 signature.
     */

    if (version.data == NULL
        || (version.len == 1 && version.data[0] == '1'))
    {
        if (!mlcf->sign.v1) {
            ngx_http_mall_metrics_sign(NGX_HTTP_MALL_M_SIGN_MISSING);
            return ngx_http_mall_deny(r, NGX_HTTP_UNAUTHORIZED,
                                      NGX_HTTP_MALL_SIGN_BAD,
                                      "signature version 1 is no longer "
                                      "accepted: send X-Mall-Sign-Version: 2");
        }

        ngx_str_null(&idem);

    } else if (version.len == 1 && version.data[0] == '2') {
        if (idem.data == NULL) {
            ngx_str_set(&idem, "");
        }

    } else {
        ngx_http_mall_metrics_sign(NGX_HTTP_MALL_M_SIGN_MISSING);
        return ngx_http_mall_deny(r, NGX_HTTP_UNAUTHORIZED,
                                  NGX_HTTP_MALL_SIGN_BAD,
                                  "unsupported X-Mall-Sign-Version");
    }

    if (ctx->auth_state != NGX_HTTP_MALL_AUTH_VERIFIED) {
        ngx_http_mall_metrics_sign(NGX_HTTP_MALL_M_SIGN_NO_TOKEN);
        return ngx_http_mall_deny(r, NGX_HTTP_UNAUTHORIZED,
                                  NGX_HTTP_MALL_SIGN_BAD,
                                  "signed request needs a bearer token");
    }

    when = (ts.len > 0 && ts.len <= 12) ? ngx_atotm(ts.data, ts.len)
                                         : NGX_ERROR;

    if (when == NGX_ERROR) {
        ngx_http_mall_metrics_sign(NGX_HTTP_MALL_M_SIGN_BAD_TIMESTAMP);
        return ngx_http_mall_deny(r, NGX_HTTP_UNAUTHORIZED,
                                  NGX_HTTP_MALL_SIGN_BAD,
                                  "malformed timestamp");
    }

    if (when < ngx_time() - mlcf->sign.window
        || when > ngx_time() + mlcf->sign.window)
    {
        ngx_http_mall_metrics_sign(NGX_HTTP_MALL_M_SIGN_EXPIRED);
        return ngx_http_mall_deny(r, NGX_HTTP_UNAUTHORIZED,
                                  NGX_HTTP_MALL_SIGN_BAD,
                                  "timestamp outside window");
    }

    if (nonce.len < NGX_HTTP_MALL_NONCE_MIN
        || nonce.len > NGX_HTTP_MALL_NONCE_MAX)
    {
        ngx_http_mall_metrics_sign(NGX_HTTP_MALL_M_SIGN_BAD_NONCE);
        return ngx_http_mall_deny(r, NGX_HTTP_UNAUTHORIZED,
                                  NGX_HTTP_MALL_SIGN_BAD,
                                  "nonce must be 16 to 64 characters");
    }

    /* one table lookup per byte: random nonces mispredict range tests */

    bad = 0;

    for (i = 0; i < nonce.len; i++) {
        bad |= ngx_http_mall_nonce_bad[nonce.data[i]];
    }

    if (bad) {
        ngx_http_mall_metrics_sign(NGX_HTTP_MALL_M_SIGN_BAD_NONCE);
        return ngx_http_mall_deny(r, NGX_HTTP_UNAUTHORIZED,
                                  NGX_HTTP_MALL_SIGN_BAD,
                                  "nonce has invalid characters");
    }

    /* read once, shared with the WAF (which usually read it already) */

    rc = ngx_http_mall_read_body(r, ctx);
    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_http_mall_sign_verify(r, ctx, &ts, &nonce, &sig, &idem, when);
}


/*
 * The session's sign key for these claims, from the connection's memory
 * or derived now (and remembered), or NULL.
 */

static ngx_http_mall_sign_conn_t *
ngx_http_mall_sign_key(ngx_http_request_t *r, ngx_http_mall_secret_t *secret,
    mall_jwt_claims_t *claims)
{
    size_t                      len;
    ngx_http_mall_sign_conn_t  *sc;

    len = ngx_strlen(claims->jti);

    sc = ngx_http_mall_conn_data(r->connection,
                                 ngx_http_mall_sign_conn_cleanup,
                                 sizeof(ngx_http_mall_sign_conn_t), 1);
    if (sc == NULL) {
        return NULL;
    }

    /* a jti is an identifier, not a secret: an ordinary compare will do */

    if (sc->secret == secret
        && sc->jti_len == len
        && ngx_memcmp(sc->jti, claims->jti, len) == 0)
    {
        return sc;
    }

    sc->secret = NULL;

    if (mall_sign_derive_key_keyed(secret->hmac, claims->jti, len,
                                   (char *) sc->key)
        != 0)
    {
        return NULL;
    }

    mall_hmac_key_init(&sc->hmac, sc->key, MALL_SIGN_KEY_LEN);

    ngx_memcpy(sc->jti, claims->jti, len);
    sc->jti_len = len;
    sc->secret = secret;

    return sc;
}


static void
ngx_http_mall_sign_conn_cleanup(void *data)
{
    ngx_explicit_memzero(data, sizeof(ngx_http_mall_sign_conn_t));
}


/*
 * The body is known: canonical string, expected signature, constant-time
 * compare, then the nonce. Returns NGX_DECLINED or NGX_DONE (denied).
 */

static ngx_int_t
ngx_http_mall_sign_verify(ngx_http_request_t *r, ngx_http_mall_ctx_t *ctx,
    ngx_str_t *ts, ngx_str_t *nonce, ngx_str_t *sig, ngx_str_t *idem,
    time_t when)
{
    u_char                        *p, *canonical, *cquery, *scratch;
    char                           expected[MALL_SIGN_SIG_LEN];
    long                           cqlen, clen;
    size_t                         len;
    ngx_int_t                      rc;
    ngx_str_t                      path;
    mall_sign_param_t             *params;
    ngx_http_mall_secret_t        *secret;
    ngx_http_mall_sign_conn_t     *sc;
    ngx_http_mall_loc_conf_t      *mlcf;
    ngx_http_mall_main_conf_t     *mmcf;
    ngx_http_mall_nonce_ticket_t   ticket;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_mall_module);
    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_mall_module);

    secret = ngx_http_mall_secret_find(mmcf->sign.secrets,
                                       (u_char *) ctx->claims->skid,
                                       ngx_strlen(ctx->claims->skid));

    if (secret == NULL) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "mall_sign: unknown sign secret \"%s\"",
                      ctx->claims->skid);

        ngx_http_mall_metrics_sign(NGX_HTTP_MALL_M_SIGN_UNKNOWN_KEY);
        return ngx_http_mall_deny(r, NGX_HTTP_UNAUTHORIZED,
                                  NGX_HTTP_MALL_SIGN_BAD,
                                  "unknown sign key id");
    }

    sc = ngx_http_mall_sign_key(r, secret, ctx->claims);
    if (sc == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the nonce's buckets load while the body is hashed */

    ngx_http_mall_nonce_prepare(mmcf->sign.zone, sc->key, MALL_SIGN_KEY_LEN,
                                nonce->data, nonce->len,
                                (u_char *) ctx->claims->sub,
                                ngx_strlen(ctx->claims->sub), &ticket);

    if (ngx_http_mall_body_sha256(r, ctx) != NGX_OK) {
        ngx_http_mall_metrics_sign(NGX_HTTP_MALL_M_SIGN_TOO_LARGE);
        return ngx_http_mall_deny(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                  "PAYLOAD_TOO_LARGE",
                                  "request body too large to verify");
    }

    /* PATH: the raw path of the request target, before '?' */

    path = r->unparsed_uri;
    p = ngx_strlchr(path.data, path.data + path.len, '?');

    if (p) {
        path.len = p - path.data;
    }

    cquery = NULL;
    cqlen = 0;

    if (r->args.len) {
        params = ngx_palloc(r->pool,
                            MALL_SIGN_MAX_PARAMS * sizeof(mall_sign_param_t));
        scratch = ngx_pnalloc(r->pool, MALL_SIGN_SCRATCH_SIZE(r->args.len));
        cquery = ngx_pnalloc(r->pool, MALL_SIGN_CQUERY_SIZE(r->args.len));

        if (params == NULL || scratch == NULL || cquery == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        cqlen = mall_sign_canonical_query((const char *) r->args.data,
                                          r->args.len, params,
                                          MALL_SIGN_MAX_PARAMS,
                                          (char *) scratch, (char *) cquery);
        if (cqlen < 0) {
            ngx_http_mall_metrics_sign(NGX_HTTP_MALL_M_SIGN_BAD_QUERY);
            return ngx_http_mall_deny(r, NGX_HTTP_UNAUTHORIZED,
                                      NGX_HTTP_MALL_SIGN_BAD,
                                      "malformed query string");
        }
    }

    len = r->method_name.len + path.len + cqlen + ts->len + nonce->len
          + idem->len + MALL_SHA256_HEX_LEN + 6;

    canonical = ngx_pnalloc(r->pool, len);
    if (canonical == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (idem->data == NULL) {
        clen = mall_sign_canonical((const char *) r->method_name.data,
                                   r->method_name.len,
                                   (const char *) path.data, path.len,
                                   (const char *) cquery, (size_t) cqlen,
                                   (const char *) ts->data, ts->len,
                                   (const char *) nonce->data, nonce->len,
                                   (const char *) ctx->body_sha256,
                                   (char *) canonical, len);

    } else {
        clen = mall_sign_canonical_v2((const char *) r->method_name.data,
                                      r->method_name.len,
                                      (const char *) path.data, path.len,
                                      (const char *) cquery, (size_t) cqlen,
                                      (const char *) ts->data, ts->len,
                                      (const char *) nonce->data, nonce->len,
                                      (const char *) idem->data, idem->len,
                                      (const char *) ctx->body_sha256,
                                      (char *) canonical, len);
    }

    if (clen < 0) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    mall_sign_compute_keyed(&sc->hmac, (const char *) canonical,
                            (size_t) clen, expected);

    if (sig->len != MALL_SIGN_SIG_LEN
        || CRYPTO_memcmp(sig->data, expected, MALL_SIGN_SIG_LEN) != 0)
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "mall_sign: signature mismatch for token \"%s\"",
                      ctx->claims->jti);

        ngx_http_mall_metrics_sign(NGX_HTTP_MALL_M_SIGN_BAD_SIGNATURE);
        return ngx_http_mall_deny(r, NGX_HTTP_UNAUTHORIZED,
                                  NGX_HTTP_MALL_SIGN_BAD,
                                  "signature mismatch");
    }

    /*
     * valid: only now may the nonce be burnt, per sign key, until its
     * timestamp leaves the window
     */

    rc = ngx_http_mall_nonce_add(mmcf->sign.zone, &ticket,
                                 when + mlcf->sign.window + 1, ngx_time(),
                                 2 * mlcf->sign.window + 1);

    switch (rc) {

    case NGX_OK:
        break;

    case NGX_BUSY:
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "mall_sign: replayed nonce for token \"%s\"",
                      ctx->claims->jti);

        ngx_http_mall_metrics_sign(NGX_HTTP_MALL_M_SIGN_REPLAY);
        return ngx_http_mall_deny(r, NGX_HTTP_UNAUTHORIZED, "REPLAYED",
                                  "nonce already used");

    case NGX_DECLINED:
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "mall_sign: user \"%s\" holds its share of the "
                      "replay cache", ctx->claims->sub);

        ngx_http_mall_metrics_sign(NGX_HTTP_MALL_M_SIGN_USER_LIMITED);
        return ngx_http_mall_deny_retry(r, NGX_HTTP_TOO_MANY_REQUESTS,
                                        "RATE_LIMITED",
                                        "too many signed requests",
                                        ticket.retry);

    case NGX_AGAIN:
        /* no room to remember the nonce: refuse rather than allow a replay */
        ngx_http_mall_metrics_sign(NGX_HTTP_MALL_M_SIGN_UNAVAILABLE);
        return ngx_http_mall_deny_retry(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                        "UNAVAILABLE", "replay cache full",
                                        ticket.retry);

    default:
        ngx_http_mall_metrics_sign(NGX_HTTP_MALL_M_SIGN_UNAVAILABLE);
        return ngx_http_mall_deny_retry(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                        "UNAVAILABLE",
                                        "replay cache unavailable", 1);
    }

    ctx->sign_done = 1;
    ngx_http_mall_metrics_sign(NGX_HTTP_MALL_M_SIGN_ACCEPTED);

    return NGX_DECLINED;
}
