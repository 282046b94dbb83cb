
/*
 * Token auth: see ngx_http_mall_auth.h.
 *
 * Keys inside the auth zone, by first byte:
 *   't' + SHA-256(token)  -> mall_jwt_claims_t, expires at the token's exp
 *   'i' + jti             -> SHA-256(token), to drop a revoked jti's entry
 *   'j' + jti             -> (empty), jti revoked until the token's exp
 *   'u' + sub             -> int64_t until: tokens with iat < until refused
 *   's' + stream key      -> last stream id read (ngx_http_mall_redis.c)
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <mall_jwt.h>
#include <mall_crypto.h>

#include "ngx_http_mall_module.h"


#define NGX_HTTP_MALL_AUTH_KEY_LEN  (1 + MALL_JWT_ID_MAX)

/* room for the token remembered on a connection; longer ones are not */
#define NGX_HTTP_MALL_AUTH_CONN_TOKEN  512


/*
 * The last token accepted on a connection and its verified claims. A
 * keepalive client sends the same token again and again: comparing it with
 * the remembered bytes is cheaper than its SHA-256 and the zone lookup.
 * Only the token -> claims mapping is remembered; time, key set, issuer and
 * audience of the location and the deny set are still checked per request.
 */
typedef struct {
    size_t                         len;      /* 0: nothing remembered */
    mall_jwt_claims_t              claims;
    u_char                         token[NGX_HTTP_MALL_AUTH_CONN_TOKEN];
} ngx_http_mall_auth_conn_t;


static void ngx_http_mall_auth_keys_cleanup(void *data);
static ngx_http_mall_auth_conn_t *ngx_http_mall_auth_conn(
    ngx_connection_t *c, ngx_uint_t create);
static void ngx_http_mall_auth_conn_cleanup(void *data);
static ngx_uint_t ngx_http_mall_auth_same(const u_char *a, const u_char *b,
    size_t len);
static void ngx_http_mall_auth_remember(ngx_http_request_t *r,
    ngx_str_t *token, mall_jwt_claims_t *c);
static ngx_uint_t ngx_http_mall_auth_revoked_locked(ngx_shm_zone_t *zone,
    mall_jwt_claims_t *c, uint64_t now);
static ngx_int_t ngx_http_mall_auth_check(ngx_http_request_t *r,
    ngx_http_mall_ctx_t *ctx, mall_jwt_claims_t *c, ngx_uint_t cached);
static ngx_int_t ngx_http_mall_auth_verify(ngx_http_request_t *r,
    ngx_str_t *token, u_char *hash, mall_jwt_claims_t *c);
static ngx_int_t ngx_http_mall_auth_refuse(ngx_http_request_t *r,
    mall_jwt_rc_e rc);
static void ngx_http_mall_auth_revoke(void *data, ngx_str_t *id,
    ngx_str_t *fields, ngx_uint_t nfields, ngx_log_t *log);
static size_t ngx_http_mall_auth_id_key(u_char *key, u_char type,
    const char *id);


static ngx_str_t  ngx_http_mall_revoked_stream = ngx_string("mall:revoked");


/* mall_auth_zone <name>:<size> */

char *
ngx_http_mall_auth_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mall_main_conf_t *mmcf = conf;

    ngx_str_t  *value;

    if (mmcf->auth.zone) {
        return "is duplicate";
    }

    value = cf->args->elts;

    mmcf->auth.zone = ngx_http_mall_shm_zone_add(cf, &value[1],
                                                 &ngx_http_mall_module);
    if (mmcf->auth.zone == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* mall_auth_key <kid> ES256|HS256 <file>: several kids live at once */

char *
ngx_http_mall_auth_key(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mall_main_conf_t *mmcf = conf;

    char                 err[256];
    ngx_str_t           *value, path;
    ngx_uint_t           i;
    mall_jwt_alg_e       alg;
    mall_jwt_key_t      *key;
    ngx_pool_cleanup_t  *cln;

    value = cf->args->elts;

    if (mmcf->auth.keys == NULL) {
        mmcf->auth.keys = ngx_array_create(cf->pool,
                                           NGX_HTTP_MALL_AUTH_MAX_KEYS,
                                           sizeof(mall_jwt_key_t));
        if (mmcf->auth.keys == NULL) {
            return NGX_CONF_ERROR;
        }

        cln = ngx_pool_cleanup_add(cf->pool, 0);
        if (cln == NULL) {
            return NGX_CONF_ERROR;
        }

        cln->handler = ngx_http_mall_auth_keys_cleanup;
        cln->data = mmcf->auth.keys;
    }

    /* a full array would be copied, leaving secrets behind: never grow */

    if (mmcf->auth.keys->nelts == NGX_HTTP_MALL_AUTH_MAX_KEYS) {
        return "has too many keys";
    }

    if (value[1].len == 0 || value[1].len >= MALL_JWT_ID_MAX) {
        return "has an invalid key id";
    }

    if (ngx_strcasecmp(value[2].data, (u_char *) "ES256") == 0) {
        alg = MALL_JWT_ALG_ES256;

    } else if (ngx_strcasecmp(value[2].data, (u_char *) "HS256") == 0) {
        alg = MALL_JWT_ALG_HS256;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "mall_auth_key: unsupported algorithm \"%V\"",
                           &value[2]);
        return NGX_CONF_ERROR;
    }

    key = mmcf->auth.keys->elts;

    for (i = 0; i < mmcf->auth.keys->nelts; i++) {
        if (ngx_strcmp(key[i].kid, value[1].data) == 0) {
            return "has a duplicate key id";
        }
    }

    path = value[3];

    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    key = ngx_array_push(mmcf->auth.keys);
    if (key == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(key, sizeof(mall_jwt_key_t));

    if (mall_jwt_key_load(key, (char *) value[1].data, alg,
                          (char *) path.data, err, sizeof(err))
        != 0)
    {
        mall_jwt_key_free(key);
        ngx_explicit_memzero(key, sizeof(mall_jwt_key_t));
        mmcf->auth.keys->nelts--;

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "mall_auth_key: cannot load key \"%V\" "
                           "from \"%V\": %s", &value[1], &path, err);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static void
ngx_http_mall_auth_keys_cleanup(void *data)
{
    ngx_array_t *keys = data;

    ngx_uint_t       i;
    mall_jwt_key_t  *key;

    key = keys->elts;

    for (i = 0; i < keys->nelts; i++) {
        mall_jwt_key_free(&key[i]);
        ngx_explicit_memzero(&key[i], sizeof(mall_jwt_key_t));
    }
}


void
ngx_http_mall_auth_create_loc_conf(ngx_http_mall_auth_loc_conf_t *conf)
{
    /*
     * set by ngx_pcalloc():
     *
     *     conf->issuer = { 0, NULL };
     *     conf->audience = { 0, NULL };
     *     conf->role = { 0, NULL };
     */

    conf->mode = NGX_CONF_UNSET_UINT;
    conf->leeway = NGX_CONF_UNSET;
}


char *
ngx_http_mall_auth_merge_loc_conf(ngx_conf_t *cf,
    ngx_http_mall_auth_loc_conf_t *prev, ngx_http_mall_auth_loc_conf_t *conf)
{
    ngx_http_mall_main_conf_t  *mmcf;

    ngx_conf_merge_uint_value(conf->mode, prev->mode, NGX_HTTP_MALL_OFF);
    ngx_conf_merge_str_value(conf->issuer, prev->issuer, "");
    ngx_conf_merge_str_value(conf->audience, prev->audience, "");
    ngx_conf_merge_str_value(conf->role, prev->role, "");
    ngx_conf_merge_sec_value(conf->leeway, prev->leeway, 30);

    if (conf->mode == NGX_HTTP_MALL_OFF) {
        return NGX_CONF_OK;
    }

    mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_mall_module);

    if (mmcf->auth.zone == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mall_auth\" requires \"mall_auth_zone\"");
        return NGX_CONF_ERROR;
    }

    if (mmcf->auth.keys == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mall_auth\" requires \"mall_auth_key\"");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* postconfiguration: follow the revocation stream when Redis is set */

ngx_int_t
ngx_http_mall_auth_init(ngx_conf_t *cf)
{
    ngx_http_mall_main_conf_t  *mmcf;

    mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_mall_module);

    if (mmcf->auth.revoke_ttl == NGX_CONF_UNSET) {
        mmcf->auth.revoke_ttl = 86400;
    }

    if (mmcf->auth.zone == NULL || mmcf->redis.port == 0) {
        return NGX_OK;
    }

    return ngx_http_mall_redis_follow(cf, &mmcf->redis,
                                      &ngx_http_mall_revoked_stream,
                                      ngx_http_mall_auth_revoke, mmcf,
                                      mmcf->auth.zone);
}


static size_t
ngx_http_mall_auth_id_key(u_char *key, u_char type, const char *id)
{
    size_t  len;

    /* libc's strnlen: ngx_strnlen goes byte by byte, twice per request */
    len = strnlen(id, MALL_JWT_ID_MAX - 1);

    key[0] = type;
    ngx_memcpy(key + 1, id, len);

    return 1 + len;
}


/*
 * ACCESS phase, first check. Returns NGX_DECLINED to go on (ctx->claims set
 * when a token was verified) or NGX_DONE after a 401 was sent. Never blocks;
 * the signature is verified only on a cache miss.
 */

ngx_int_t
ngx_http_mall_auth_handler(ngx_http_request_t *r, ngx_http_mall_ctx_t *ctx)
{
    u_char                     *p, *last;
    u_char                      hash[1 + MALL_SHA256_LEN];
    size_t                      len;
    ngx_int_t                   rc;
    ngx_str_t                   token;
    mall_jwt_claims_t           claims;
    ngx_table_elt_t            *h;
    ngx_http_mall_loc_conf_t   *mlcf;
    ngx_http_mall_auth_conn_t  *conn;
    ngx_http_mall_main_conf_t  *mmcf;

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_mall_module);

    if (mlcf->auth.mode == NGX_HTTP_MALL_OFF) {
        return NGX_DECLINED;
    }

    if (ctx->auth_state == NGX_HTTP_MALL_AUTH_VERIFIED) {
        /* phases re-run (body read, redirect): this location's rules */
        return ngx_http_mall_auth_check(r, ctx, ctx->claims, 1);
    }

    h = r->headers_in.authorization;

    if (h == NULL) {
        if (mlcf->auth.mode == NGX_HTTP_MALL_OPTIONAL) {
            ctx->auth_state = NGX_HTTP_MALL_AUTH_ANON;
            return NGX_DECLINED;
        }

        ngx_http_mall_metrics_auth(NGX_HTTP_MALL_M_AUTH_MISSING);
        return ngx_http_mall_deny(r, NGX_HTTP_UNAUTHORIZED, "UNAUTHORIZED",
                                  "missing bearer token");
    }

    p = h->value.data;
    last = p + h->value.len;

    if (h->value.len < sizeof("Bearer ") - 1
        || ngx_strncasecmp(p, (u_char *) "Bearer ", sizeof("Bearer ") - 1)
           != 0)
    {
        ngx_http_mall_metrics_auth(NGX_HTTP_MALL_M_AUTH_BAD_SCHEME);
        return ngx_http_mall_deny(r, NGX_HTTP_UNAUTHORIZED, "UNAUTHORIZED",
                                  "authorization scheme must be Bearer");
    }

    p += sizeof("Bearer ") - 1;

    while (p < last && *p == ' ') {
        p++;
    }

    while (last > p && last[-1] == ' ') {
        last--;
    }

    token.data = p;
    token.len = last - p;

    if (token.len == 0) {
        ngx_http_mall_metrics_auth(NGX_HTTP_MALL_M_AUTH_MISSING);
        return ngx_http_mall_deny(r, NGX_HTTP_UNAUTHORIZED, "UNAUTHORIZED",
                                  "empty bearer token");
    }

    if (token.len > MALL_JWT_MAX_LEN) {
        ngx_http_mall_metrics_auth(NGX_HTTP_MALL_M_AUTH_TOO_LONG);
        return ngx_http_mall_deny(r, NGX_HTTP_UNAUTHORIZED, "UNAUTHORIZED",
                                  "token too long");
    }

    conn = ngx_http_mall_auth_conn(r->connection, 0);

    if (conn
        && conn->len == token.len
        && ngx_http_mall_auth_same(conn->token, token.data, token.len))
    {
        return ngx_http_mall_auth_check(r, ctx, &conn->claims, 1);
    }

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_mall_module);

    hash[0] = 't';
    mall_sha256(token.data, token.len, hash + 1);

    len = sizeof(mall_jwt_claims_t);

    rc = ngx_http_mall_shm_get(mmcf->auth.zone, hash, sizeof(hash),
                               ngx_http_mall_now_ms(), (u_char *) &claims,
                               &len);

    if (rc == NGX_OK && len == sizeof(mall_jwt_claims_t)) {
        rc = ngx_http_mall_auth_check(r, ctx, &claims, 1);

    } else {
        rc = ngx_http_mall_auth_verify(r, &token, hash, &claims);

        if (rc != NGX_OK) {
            return rc;
        }

        rc = ngx_http_mall_auth_check(r, ctx, &claims, 0);
    }

    if (rc == NGX_DECLINED) {
        ngx_http_mall_auth_remember(r, &token, &claims);
    }

    return rc;
}


/* The connection's remembered token, created on demand, or NULL. */

static ngx_http_mall_auth_conn_t *
ngx_http_mall_auth_conn(ngx_connection_t *c, ngx_uint_t create)
{
    return ngx_http_mall_conn_data(c, ngx_http_mall_auth_conn_cleanup,
                                   sizeof(ngx_http_mall_auth_conn_t), create);
}


static void
ngx_http_mall_auth_conn_cleanup(void *data)
{
    ngx_explicit_memzero(data, sizeof(ngx_http_mall_auth_conn_t));
}


/*
 * Constant time like CRYPTO_memcmp (no early exit, no data-dependent
 * branch), but a word at a time: CRYPTO_memcmp goes byte by byte and costs
 * about as much as the SHA-256 this comparison saves.
 */

static ngx_uint_t
ngx_http_mall_auth_same(const u_char *a, const u_char *b, size_t len)
{
    size_t    i;
    uint64_t  x, y, diff;

    diff = 0;

    for (i = 0; i + sizeof(uint64_t) <= len; i += sizeof(uint64_t)) {
        ngx_memcpy(&x, a + i, sizeof(uint64_t));
        ngx_memcpy(&y, b + i, sizeof(uint64_t));
        diff |= x ^ y;
    }

    for ( /* void */ ; i < len; i++) {
        diff |= (uint64_t) (a[i] ^ b[i]);
    }

    return diff == 0;
}


/* Remembers an accepted token and its verified claims on the connection. */

static void
ngx_http_mall_auth_remember(ngx_http_request_t *r, ngx_str_t *token,
    mall_jwt_claims_t *c)
{
    ngx_http_mall_auth_conn_t  *conn;

    if (token->len > NGX_HTTP_MALL_AUTH_CONN_TOKEN) {
        return;
    }

    conn = ngx_http_mall_auth_conn(r->connection, 1);
    if (conn == NULL) {
        return;
    }

    ngx_memcpy(conn->token, token->data, token->len);
    conn->len = token->len;
    conn->claims = *c;
}


/*
 * Cache miss: parses and verifies the token (the expensive part), then
 * remembers it until its exp. Returns NGX_OK or NGX_DONE (401 sent).
 */

static ngx_int_t
ngx_http_mall_auth_verify(ngx_http_request_t *r, ngx_str_t *token,
    u_char *hash, mall_jwt_claims_t *c)
{
    u_char                      key[NGX_HTTP_MALL_AUTH_KEY_LEN];
    size_t                      klen;
    uint64_t                    now;
    mall_jwt_t                  jwt;
    mall_jwt_rc_e               rc;
    ngx_shm_zone_t             *zone;
    ngx_http_mall_main_conf_t  *mmcf;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_mall_module);

    rc = mall_jwt_parse((const char *) token->data, token->len, &jwt);

    if (rc == MALL_JWT_OK) {
        rc = mall_jwt_verify(&jwt, mmcf->auth.keys->elts,
                             mmcf->auth.keys->nelts);
    }

    if (rc != MALL_JWT_OK) {
        return ngx_http_mall_auth_refuse(r, rc);
    }

    *c = jwt.claims;

    now = ngx_http_mall_now_ms();

    if (c->exp <= 0 || (uint64_t) c->exp * 1000 <= now) {
        /* expired: check_claims refuses it (or lets leeway pass it) */
        return NGX_OK;
    }

    zone = mmcf->auth.zone;

    ngx_http_mall_shm_lock(zone);

    (void) ngx_http_mall_shm_set_locked(zone, hash, 1 + MALL_SHA256_LEN,
                                        (u_char *) c,
                                        sizeof(mall_jwt_claims_t),
                                        (uint64_t) c->exp * 1000, now, 0);

    klen = ngx_http_mall_auth_id_key(key, 'i', c->jti);

    (void) ngx_http_mall_shm_set_locked(zone, key, klen, hash + 1,
                                        MALL_SHA256_LEN,
                                        (uint64_t) c->exp * 1000, now, 0);

    ngx_http_mall_shm_unlock(zone);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "mall_auth: verified token of kid \"%s\"", c->kid);

    return NGX_OK;
}


/*
 * The checks that run for every request, cached or not: the key is still
 * configured, time, issuer and audience of this location, and the deny set.
 * Returns NGX_DECLINED (allowed) or NGX_DONE (401 sent).
 */

static ngx_int_t
ngx_http_mall_auth_check(ngx_http_request_t *r, ngx_http_mall_ctx_t *ctx,
    mall_jwt_claims_t *c, ngx_uint_t cached)
{
    ngx_uint_t                  i, revoked;
    mall_jwt_rc_e               rc;
    mall_jwt_key_t             *key;
    ngx_http_mall_loc_conf_t   *mlcf;
    ngx_http_mall_main_conf_t  *mmcf;

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_mall_module);
    mmcf = ngx_http_get_module_main_conf(r, ngx_http_mall_module);

    if (cached) {
        /* a key removed by a reload must not keep its tokens alive */

        key = mmcf->auth.keys->elts;

        for (i = 0; i < mmcf->auth.keys->nelts; i++) {
            if (ngx_strcmp(key[i].kid, c->kid) == 0) {
                break;
            }
        }

        if (i == mmcf->auth.keys->nelts) {
            return ngx_http_mall_auth_refuse(r, MALL_JWT_UNKNOWN_KID);
        }
    }

    rc = mall_jwt_check_claims(c, (int64_t) ngx_time(), mlcf->auth.leeway,
                               mlcf->auth.issuer.len
                               ? (const char *) mlcf->auth.issuer.data : NULL,
                               mlcf->auth.audience.len
                               ? (const char *) mlcf->auth.audience.data
                               : NULL);

    if (rc != MALL_JWT_OK) {
        return ngx_http_mall_auth_refuse(r, rc);
    }

    ngx_http_mall_shm_lock(mmcf->auth.zone);
    revoked = ngx_http_mall_auth_revoked_locked(mmcf->auth.zone, c,
                                                ngx_http_mall_now_ms());
    ngx_http_mall_shm_unlock(mmcf->auth.zone);

    if (revoked) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "mall_auth: revoked token \"%s\" of user \"%s\"",
                      c->jti, c->sub);

        ngx_http_mall_metrics_auth(NGX_HTTP_MALL_M_AUTH_REVOKED);
        return ngx_http_mall_deny(r, NGX_HTTP_UNAUTHORIZED, "UNAUTHORIZED",
                                  "token revoked");
    }

    if (mlcf->auth.role.len
        && ngx_strcmp(c->role, mlcf->auth.role.data) != 0)
    {
        /* a valid token of another role: operators, read-only admins */
        return ngx_http_mall_deny(r, NGX_HTTP_FORBIDDEN, "FORBIDDEN",
                                  "this action needs another admin role");
    }

    if (c != ctx->claims) {
        if (ctx->claims == NULL) {
            ctx->claims = ngx_palloc(r->pool, sizeof(mall_jwt_claims_t));
            if (ctx->claims == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }
        }

        *ctx->claims = *c;
        ngx_http_mall_metrics_auth(cached ? NGX_HTTP_MALL_M_AUTH_CACHE
                                          : NGX_HTTP_MALL_M_AUTH_FULL);
    }

    ctx->auth_state = NGX_HTTP_MALL_AUTH_VERIFIED;

    return NGX_DECLINED;
}


/* Is the token revoked by jti or by user? The zone must be locked. */

static ngx_uint_t
ngx_http_mall_auth_revoked_locked(ngx_shm_zone_t *zone, mall_jwt_claims_t *c,
    uint64_t now)
{
    u_char   key[NGX_HTTP_MALL_AUTH_KEY_LEN];
    size_t   klen, len;
    int64_t  until;

    klen = ngx_http_mall_auth_id_key(key, 'j', c->jti);

    if (ngx_http_mall_shm_get_locked(zone, key, klen, now, NULL, NULL)
        == NGX_OK)
    {
        return 1;
    }

    klen = ngx_http_mall_auth_id_key(key, 'u', c->sub);
    len = sizeof(int64_t);

    if (ngx_http_mall_shm_get_locked(zone, key, klen, now, (u_char *) &until,
                                     &len)
        == NGX_OK
        && len == sizeof(int64_t)
        && c->iat < until)
    {
        return 1;
    }

    return 0;
}


/* 401 UNAUTHORIZED saying what failed, never echoing the token. */

static ngx_int_t
ngx_http_mall_auth_refuse(ngx_http_request_t *r, mall_jwt_rc_e rc)
{
    char  *msg;

    switch (rc) {

    case MALL_JWT_TOO_LONG:
        msg = "token too long";
        break;

    case MALL_JWT_MALFORMED:
        msg = "malformed token";
        break;

    case MALL_JWT_BAD_ALG:
        msg = "unsupported token algorithm";
        break;

    case MALL_JWT_UNKNOWN_KID:
        msg = "unknown token key";
        break;

    case MALL_JWT_BAD_SIGNATURE:
        msg = "bad token signature";
        break;

    case MALL_JWT_EXPIRED:
        msg = "token expired";
        break;

    case MALL_JWT_NOT_YET_VALID:
        msg = "token not yet valid";
        break;

    case MALL_JWT_BAD_ISSUER:
        msg = "wrong token issuer";
        break;

    case MALL_JWT_BAD_AUDIENCE:
        msg = "wrong token audience";
        break;

    case MALL_JWT_MISSING_CLAIM:
        msg = "token lacks a required claim";
        break;

    default:
        msg = "token verification failed";
        break;
    }

    ngx_http_mall_metrics_auth_jwt(rc);

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "mall_auth: token refused: %s", msg);

    return ngx_http_mall_deny(r, NGX_HTTP_UNAUTHORIZED, "UNAUTHORIZED", msg);
}


/*
 * Follower of mall:revoked (runs in worker 0, outside any request). Fields:
 * type=jti with jti and exp (unix s), or type=user with sub and until.
 */

static void
ngx_http_mall_auth_revoke(void *data, ngx_str_t *id, ngx_str_t *fields,
    ngx_uint_t nfields, ngx_log_t *log)
{
    ngx_http_mall_main_conf_t *mmcf = data;

    u_char           key[NGX_HTTP_MALL_AUTH_KEY_LEN];
    u_char           tkey[1 + MALL_SHA256_LEN];
    char             ident[MALL_JWT_ID_MAX];
    size_t           klen, len;
    int64_t          until, old;
    uint64_t         now, expire;
    ngx_str_t       *type, *name, *when;
    ngx_uint_t       i;
    ngx_shm_zone_t  *zone;

    type = NULL;
    name = NULL;
    when = NULL;

    for (i = 0; i + 1 < nfields * 2; i += 2) {
        if (fields[i].len == 4
            && ngx_strncmp(fields[i].data, "type", 4) == 0)
        {
            type = &fields[i + 1];

        } else if ((fields[i].len == 3
                    && ngx_strncmp(fields[i].data, "jti", 3) == 0)
                   || (fields[i].len == 3
                       && ngx_strncmp(fields[i].data, "sub", 3) == 0))
        {
            name = &fields[i + 1];

        } else if ((fields[i].len == 3
                    && ngx_strncmp(fields[i].data, "exp", 3) == 0)
                   || (fields[i].len == 5
                       && ngx_strncmp(fields[i].data, "until", 5) == 0))
        {
            when = &fields[i + 1];
        }
    }

    if (type == NULL || name == NULL || name->len == 0
        || name->len >= MALL_JWT_ID_MAX)
    {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "mall_auth: ignoring malformed revocation \"%V\"", id);
        return;
    }

    ngx_memcpy(ident, name->data, name->len);
    ident[name->len] = '\0';

    now = ngx_http_mall_now_ms();
    until = 0;

    if (when) {
        until = ngx_atotm(when->data, when->len);
        if (until == NGX_ERROR) {
            until = 0;
        }
    }

    zone = mmcf->auth.zone;

    if (type->len == 3 && ngx_strncmp(type->data, "jti", 3) == 0) {

        expire = until ? (uint64_t) until * 1000
                       : now + (uint64_t) mmcf->auth.revoke_ttl * 1000;

        if (expire <= now) {
            return;
        }

        ngx_http_mall_shm_lock(zone);

        klen = ngx_http_mall_auth_id_key(key, 'j', ident);
        (void) ngx_http_mall_shm_set_locked(zone, key, klen, NULL, 0,
                                            expire, now,
                                            NGX_HTTP_MALL_SHM_PINNED);

        /* drop the verified entry as well: it will never be used again */

        klen = ngx_http_mall_auth_id_key(key, 'i', ident);
        len = MALL_SHA256_LEN;

        if (ngx_http_mall_shm_get_locked(zone, key, klen, now, tkey + 1,
                                         &len)
            == NGX_OK
            && len == MALL_SHA256_LEN)
        {
            tkey[0] = 't';
            (void) ngx_http_mall_shm_delete_locked(zone, tkey, sizeof(tkey));
            (void) ngx_http_mall_shm_delete_locked(zone, key, klen);
        }

        ngx_http_mall_shm_unlock(zone);

        ngx_http_mall_metrics_auth(NGX_HTTP_MALL_M_AUTH_REVOCATION);

        ngx_log_error(NGX_LOG_INFO, log, 0,
                      "mall_auth: token \"%s\" revoked", ident);
        return;
    }

    if (type->len == 4 && ngx_strncmp(type->data, "user", 4) == 0) {

        if (until == 0) {
            until = (int64_t) (now / 1000);
        }

        expire = ((uint64_t) until + mmcf->auth.revoke_ttl) * 1000;

        if (expire <= now) {
            return;
        }

        klen = ngx_http_mall_auth_id_key(key, 'u', ident);
        len = sizeof(int64_t);

        ngx_http_mall_shm_lock(zone);

        if (ngx_http_mall_shm_get_locked(zone, key, klen, now, (u_char *) &old,
                                         &len)
            != NGX_OK
            || len != sizeof(int64_t)
            || old < until)
        {
            (void) ngx_http_mall_shm_set_locked(zone, key, klen,
                                                (u_char *) &until,
                                                sizeof(int64_t), expire, now,
                                                NGX_HTTP_MALL_SHM_PINNED);
        }

        ngx_http_mall_shm_unlock(zone);

        ngx_http_mall_metrics_auth(NGX_HTTP_MALL_M_AUTH_REVOCATION);

        ngx_log_error(NGX_LOG_INFO, log, 0,
                      "mall_auth: tokens of user \"%s\" issued before %L "
                      "revoked", ident, until);
        return;
    }

    ngx_log_error(NGX_LOG_WARN, log, 0,
                  "mall_auth: unknown revocation type \"%V\" in \"%V\"",
                  type, id);
}


/*
 * $mall_user_id, $mall_user_role, $mall_token_id, $mall_token_exp: empty
 * when the request is anonymous. data selects the claim (0..3).
 */

ngx_int_t
ngx_http_mall_user_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char               *p;
    ngx_http_mall_ctx_t  *ctx;

    ngx_http_mall_variable_empty(v);

    ctx = ngx_http_mall_get_ctx(r);

    if (ctx == NULL || ctx->auth_state != NGX_HTTP_MALL_AUTH_VERIFIED) {
        return NGX_OK;
    }

    switch (data) {

    case 0:
        v->data = (u_char *) ctx->claims->sub;
        break;

    case 1:
        v->data = (u_char *) ctx->claims->role;
        break;

    case 2:
        v->data = (u_char *) ctx->claims->jti;
        break;

    default:
        p = ngx_pnalloc(r->pool, NGX_INT64_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        v->len = ngx_sprintf(p, "%L", (int64_t) ctx->claims->exp) - p;
        v->data = p;
        return NGX_OK;
    }

    v->len = ngx_strlen(v->data);

    return NGX_OK;
}
