/*
 * Identity directives of mall-worker.conf (see auth_conf.h).
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "auth_conf.h"
#include "conf_value.h"
#include "mall_query.h"

enum {
    SEEN_SIGN_KID = 1 << 0, SEEN_ACCESS_TTL = 1 << 1,
    SEEN_REFRESH_TTL = 1 << 2, SEEN_ADMIN_TTL = 1 << 3,
    SEEN_ISSUER = 1 << 4, SEEN_AUDIENCE = 1 << 5, SEEN_ADMIN_AUD = 1 << 6,
    SEEN_WX_BASE = 1 << 7, SEEN_WX_APPID = 1 << 8, SEEN_WX_SECRET = 1 << 9,
    SEEN_WX_TIMEOUT = 1 << 10, SEEN_BOOTSTRAP = 1 << 11
};


void
auth_conf_init(auth_conf_t *a)
{
    memset(a, 0, sizeof(*a));
    a->access_ttl = 7200;
    a->refresh_ttl = 30 * 86400;
    a->admin_access_ttl = 3600;
    snprintf(a->token_issuer, sizeof(a->token_issuer), "mall-edge");
    snprintf(a->token_audience, sizeof(a->token_audience), "mall-mini");
    snprintf(a->admin_audience, sizeof(a->admin_audience), "mall-admin");
    snprintf(a->wechat_api_base, sizeof(a->wechat_api_base),
             "https://api.weixin.qq.com");
    a->wechat_timeout_ms = 3000;
}


void
auth_conf_wipe(auth_conf_t *a)
{
    OPENSSL_cleanse(a->jwt_keys, sizeof(a->jwt_keys));
    OPENSSL_cleanse(a->sign_secrets, sizeof(a->sign_secrets));
    OPENSSL_cleanse(a->data_keys, sizeof(a->data_keys));
    OPENSSL_cleanse(a->wechat_secret, sizeof(a->wechat_secret));
    a->n_jwt_keys = a->n_sign_secrets = a->n_data_keys = 0;
}


static int
auth_id_ok(const char *id)
{
    size_t  i, len;

    len = strlen(id);
    if (len == 0 || len >= AUTH_ID_MAX) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        char c = id[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
              || (c >= 'A' && c <= 'Z') || c == '-' || c == '_' || c == '.'))
        {
            return 0;
        }
    }
    return 1;
}


int
auth_conf_jwt_key(const auth_jwt_pem_t *p, mall_jwt_key_t *key,
    mall_err_t *err)
{
    BIO       *bio;
    EVP_PKEY  *pkey;

    memset(key, 0, sizeof(*key));
    bio = BIO_new_mem_buf(p->pem, (int) p->pem_len);
    if (bio == NULL) {
        return mall_err_set(err, 0, "out of memory");
    }
    pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    ERR_clear_error();

    if (pkey == NULL) {
        return mall_err_set(err, 0, "jwt_key \"%s\" is not a PEM private "
                            "key", p->kid);
    }
    if (!EVP_PKEY_is_a(pkey, "EC") || EVP_PKEY_get_bits(pkey) != 256) {
        EVP_PKEY_free(pkey);
        return mall_err_set(err, 0, "jwt_key \"%s\" is not an EC P-256 key",
                            p->kid);
    }

    snprintf(key->kid, sizeof(key->kid), "%s", p->kid);
    key->alg = MALL_JWT_ALG_ES256;
    key->pkey = pkey;
    return MALL_OK;
}


static int
auth_jwt_key_line(auth_conf_t *a, char **argv, int argc, mall_err_t *err)
{
    auth_jwt_pem_t  *p;
    mall_jwt_key_t   key;
    size_t           i;

    if (argc != 3 || !auth_id_ok(argv[1])) {
        return mall_err_set(err, 0, "jwt_key takes <kid> <pem file>");
    }
    for (i = 0; i < a->n_jwt_keys; i++) {
        if (strcmp(a->jwt_keys[i].kid, argv[1]) == 0) {
            return mall_err_set(err, 0, "jwt_key \"%s\" is duplicate",
                                argv[1]);
        }
    }
    if (a->n_jwt_keys == AUTH_MAX_KEYS) {
        return mall_err_set(err, 0, "more than %d jwt_key lines",
                            AUTH_MAX_KEYS);
    }

    p = &a->jwt_keys[a->n_jwt_keys];
    snprintf(p->kid, sizeof(p->kid), "%s", argv[1]);
    if (conf_value_file(argv[2], "", p->pem, sizeof(p->pem), &p->pem_len,
                        err) != MALL_OK)
    {
        return MALL_ERR;
    }
    if (auth_conf_jwt_key(p, &key, err) != MALL_OK) {
        OPENSSL_cleanse(p, sizeof(*p));
        return MALL_ERR;
    }
    mall_jwt_key_free(&key);
    a->n_jwt_keys++;
    return MALL_OK;
}


/* sign_secret <id> <file> and data_key <id> <file> */
static int
auth_secret_line(auth_conf_t *a, char **argv, int argc, int data,
    mall_err_t *err)
{
    char     buf[AUTH_SECRET_MAX + 1];
    size_t   i, n, len;
    int      rc;

    n = data ? a->n_data_keys : a->n_sign_secrets;
    if (argc != 3 || !auth_id_ok(argv[1])) {
        return mall_err_set(err, 0, "%s takes <id> <file>", argv[0]);
    }
    for (i = 0; i < n; i++) {
        if (strcmp(data ? a->data_keys[i].id : a->sign_secrets[i].id,
                   argv[1]) == 0)
        {
            return mall_err_set(err, 0, "%s \"%s\" is duplicate", argv[0],
                                argv[1]);
        }
    }
    if (n == AUTH_MAX_KEYS) {
        return mall_err_set(err, 0, "more than %d %s lines", AUTH_MAX_KEYS,
                            argv[0]);
    }

    if (conf_value_file(argv[2], "", buf, sizeof(buf), &len, err) != MALL_OK) {
        return MALL_ERR;
    }

    rc = MALL_OK;
    if (data) {
        if (mall_seal_key_from_hex(buf, len, a->data_keys[n].key)
            != MALL_OK)
        {
            rc = mall_err_set(err, 0, "data_key \"%s\": file must hold 64 "
                              "hex digits", argv[1]);
        } else {
            snprintf(a->data_keys[n].id, sizeof(a->data_keys[n].id), "%s",
                     argv[1]);
            a->n_data_keys++;
        }

    } else if (len < 16 || len > AUTH_SECRET_MAX) {
        rc = mall_err_set(err, 0, "sign_secret \"%s\" must hold 16..%d "
                          "bytes", argv[1], AUTH_SECRET_MAX);

    } else {
        memcpy(a->sign_secrets[n].key, buf, len);
        a->sign_secrets[n].len = len;
        snprintf(a->sign_secrets[n].id, sizeof(a->sign_secrets[n].id), "%s",
                 argv[1]);
        a->n_sign_secrets++;
    }

    OPENSSL_cleanse(buf, sizeof(buf));
    return rc;
}


static int auth_conf_single(auth_conf_t *a, unsigned bit, const char *key,
    const char *v, mall_err_t *err);


int
auth_conf_directive(auth_conf_t *a, char **argv, int argc, mall_err_t *err)
{
    static const struct {
        const char  *name;
        unsigned     bit;
    } singles[] = {
        { "jwt_sign_kid", SEEN_SIGN_KID },
        { "access_ttl", SEEN_ACCESS_TTL },
        { "refresh_ttl", SEEN_REFRESH_TTL },
        { "admin_access_ttl", SEEN_ADMIN_TTL },
        { "token_issuer", SEEN_ISSUER },
        { "token_audience", SEEN_AUDIENCE },
        { "admin_audience", SEEN_ADMIN_AUD },
        { "wechat_api_base", SEEN_WX_BASE },
        { "wechat_appid_file", SEEN_WX_APPID },
        { "wechat_secret_file", SEEN_WX_SECRET },
        { "wechat_timeout_ms", SEEN_WX_TIMEOUT },
        { "admin_bootstrap_password_file", SEEN_BOOTSTRAP },
    };
    const char  *key;
    unsigned     bit;
    size_t       i;

    key = argv[0];

    if (strcmp(key, "jwt_key") == 0) {
        return auth_jwt_key_line(a, argv, argc, err);
    }
    if (strcmp(key, "sign_secret") == 0) {
        return auth_secret_line(a, argv, argc, 0, err);
    }
    if (strcmp(key, "data_key") == 0) {
        return auth_secret_line(a, argv, argc, 1, err);
    }

    bit = 0;
    for (i = 0; i < MALL_ARRAY_LEN(singles); i++) {
        if (strcmp(key, singles[i].name) == 0) {
            bit = singles[i].bit;
            break;
        }
    }
    if (bit == 0) {
        return AUTH_CONF_NOT_MINE;
    }
    if (argc != 2) {
        return mall_err_set(err, 0, "\"%s\" takes exactly one value", key);
    }
    if (a->seen & bit) {
        return mall_err_set(err, 0, "\"%s\" is duplicate", key);
    }
    if (auth_conf_single(a, bit, key, argv[1], err) != MALL_OK) {
        return MALL_ERR;
    }
    a->seen |= bit;
    return MALL_OK;
}


/* Applies a single-valued directive (bit) with value v. */
static int
auth_conf_single(auth_conf_t *a, unsigned bit, const char *key,
    const char *v, mall_err_t *err)
{
    long long  n;
    size_t     len;

    switch (bit) {

    case SEEN_SIGN_KID:
        if (!auth_id_ok(v)) {
            return mall_err_set(err, 0, "invalid jwt_sign_kid");
        }
        snprintf(a->jwt_sign_kid, sizeof(a->jwt_sign_kid), "%s", v);
        return MALL_OK;

    case SEEN_ACCESS_TTL:
        if (mall_parse_int(v, 60, 86400, &n) != MALL_OK) {
            return mall_err_set(err, 0, "access_ttl must be 60..86400");
        }
        a->access_ttl = n;
        return MALL_OK;

    case SEEN_REFRESH_TTL:
        if (mall_parse_int(v, 300, 366LL * 86400, &n) != MALL_OK) {
            return mall_err_set(err, 0, "refresh_ttl must be 300..31622400");
        }
        a->refresh_ttl = n;
        return MALL_OK;

    case SEEN_ADMIN_TTL:
        if (mall_parse_int(v, 60, 86400, &n) != MALL_OK) {
            return mall_err_set(err, 0, "admin_access_ttl must be 60..86400");
        }
        a->admin_access_ttl = n;
        return MALL_OK;

    case SEEN_ISSUER:
        return conf_value_str(a->token_issuer, sizeof(a->token_issuer), v, key,
                         err);

    /* an audience the lib can issue (and so accept): MALL_JWT_NAME_MAX - 2 */
    case SEEN_AUDIENCE:
        return conf_value_str(a->token_audience, MALL_JWT_NAME_MAX - 1, v,
                         key, err);

    case SEEN_ADMIN_AUD:
        return conf_value_str(a->admin_audience, MALL_JWT_NAME_MAX - 1, v,
                         key, err);

    case SEEN_WX_BASE:
        if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0)
        {
            return mall_err_set(err, 0, "wechat_api_base must be an http(s) "
                                "URL");
        }
        if (conf_value_str(a->wechat_api_base,
                           sizeof(a->wechat_api_base), v, key,
                      err) != MALL_OK)
        {
            return MALL_ERR;
        }
        len = strlen(a->wechat_api_base);
        while (len > 0 && a->wechat_api_base[len - 1] == '/') {
            a->wechat_api_base[--len] = '\0';
        }
        return MALL_OK;

    case SEEN_WX_APPID:
        return conf_value_text_file(v, a->wechat_appid, sizeof(a->wechat_appid),
                              key, err);

    case SEEN_WX_SECRET:
        return conf_value_text_file(v, a->wechat_secret, sizeof(a->wechat_secret),
                              key, err);

    case SEEN_WX_TIMEOUT:
        if (mall_parse_int(v, 100, 30000, &n) != MALL_OK) {
            return mall_err_set(err, 0, "wechat_timeout_ms must be "
                                "100..30000");
        }
        a->wechat_timeout_ms = (int) n;
        return MALL_OK;

    case SEEN_BOOTSTRAP:
        return conf_value_str(a->admin_bootstrap_password_file,
                         sizeof(a->admin_bootstrap_password_file), v, key,
                         err);
    }

    return mall_err_set(err, 0, "unhandled directive \"%s\"", key);
}


int
auth_conf_validate(auth_conf_t *a, mall_err_t *err)
{
    if (a->jwt_sign_kid[0] != '\0' && auth_conf_signing_pem(a) == NULL) {
        return mall_err_set(err, 0, "jwt_sign_kid \"%s\" names no jwt_key",
                            a->jwt_sign_kid);
    }
    if (a->n_jwt_keys > 0 && a->n_sign_secrets == 0) {
        return mall_err_set(err, 0, "jwt_key needs a \"sign_secret\"");
    }
    if ((a->wechat_appid[0] == '\0') != (a->wechat_secret[0] == '\0')) {
        return mall_err_set(err, 0, "wechat_appid_file and "
                            "wechat_secret_file go together");
    }
    return MALL_OK;
}


const auth_jwt_pem_t *
auth_conf_signing_pem(const auth_conf_t *a)
{
    size_t  i;

    if (a->n_jwt_keys == 0) {
        return NULL;
    }
    if (a->jwt_sign_kid[0] == '\0') {
        return &a->jwt_keys[0];
    }
    for (i = 0; i < a->n_jwt_keys; i++) {
        if (strcmp(a->jwt_keys[i].kid, a->jwt_sign_kid) == 0) {
            return &a->jwt_keys[i];
        }
    }
    return NULL;
}


int64_t
auth_conf_max_access_ttl(const auth_conf_t *a)
{
    return a->access_ttl > a->admin_access_ttl ? a->access_ttl
                                               : a->admin_access_ttl;
}
