/*
 * WeChat Pay directives (see wxpay_conf.h).
 */
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "conf_value.h"
#include "mall_query.h"
#include "wxpay_conf.h"

enum {
    SEEN_BASE = 1 << 0, SEEN_MCHID = 1 << 1, SEEN_MKEY = 1 << 2,
    SEEN_MSERIAL = 1 << 3, SEEN_APIV3 = 1 << 4, SEEN_NOTIFY = 1 << 5,
    SEEN_TIMEOUT = 1 << 6, SEEN_MAX_AGE = 1 << 7, SEEN_QINTERVAL = 1 << 8,
    SEEN_QLEAD = 1 << 9, SEEN_RETRY = 1 << 10, SEEN_RECONCILE = 1 << 11
};


void
wxpay_conf_init(wxpay_conf_t *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->api_base, sizeof(c->api_base),
             "https://api.mch.weixin.qq.com");
    c->timeout_ms = 5000;
    c->notify_max_age = 300;
    c->query_interval = 5;
    c->query_lead = 300;
    c->refund_retry = 30;
    c->reconcile_minute = 10 * 60 + 30;
}


void
wxpay_conf_wipe(wxpay_conf_t *c)
{
    OPENSSL_cleanse(&c->merchant_key, sizeof(c->merchant_key));
    OPENSSL_cleanse(c->apiv3_key, sizeof(c->apiv3_key));
    c->apiv3_len = 0;
}


int
wxpay_conf_enabled(const wxpay_conf_t *c)
{
    return c->mchid[0] != '\0';
}


/* The serial of a PEM certificate, upper-case hex, into id. */
static int
cert_serial(const char *pem, size_t len, char id[WXPAY_ID_MAX])
{
    BIO     *bio;
    X509    *x;
    BIGNUM  *bn;
    char    *hex;
    int      rc;

    rc = MALL_ERR;
    bio = BIO_new_mem_buf(pem, (int) len);
    x = bio != NULL ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    bn = x != NULL ? ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL)
                   : NULL;
    hex = bn != NULL ? BN_bn2hex(bn) : NULL;
    if (hex != NULL && strlen(hex) < WXPAY_ID_MAX) {
        snprintf(id, WXPAY_ID_MAX, "%s", hex);
        rc = MALL_OK;
    }
    OPENSSL_free(hex);
    BN_free(bn);
    X509_free(x);
    BIO_free(bio);
    return rc;
}


/* 1 when pem holds an RSA key of 2048 bits or more (public or private). */
static int
pem_rsa_ok(const char *pem, size_t len, int private)
{
    BIO       *bio;
    EVP_PKEY  *k;
    X509      *x;
    int        ok;

    bio = BIO_new_mem_buf(pem, (int) len);
    if (bio == NULL) {
        return 0;
    }
    x = NULL;
    if (private) {
        k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    } else if (strstr(pem, "BEGIN CERTIFICATE") != NULL) {
        x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        k = x != NULL ? X509_get_pubkey(x) : NULL;
    } else {
        k = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    }
    ok = k != NULL && EVP_PKEY_base_id(k) == EVP_PKEY_RSA
         && EVP_PKEY_bits(k) >= 2048;
    EVP_PKEY_free(k);
    X509_free(x);
    BIO_free(bio);
    return ok;
}


/* An id: 1..71 chars of [0-9A-Za-z_]. */
static int
id_ok(const char *s)
{
    size_t  i, n;

    n = strlen(s);
    if (n == 0 || n >= WXPAY_ID_MAX) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        char  ch = s[i];

        if (!((ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z')
              || (ch >= 'a' && ch <= 'z') || ch == '_'))
        {
            return 0;
        }
    }
    return 1;
}


/* wxpay_platform_key FILE [ID | ID_FILE] */
static int
platform_key_line(wxpay_conf_t *c, char **argv, int argc, mall_err_t *err)
{
    wxpay_pem_t  *p;
    int           cert;

    if (argc != 2 && argc != 3) {
        return mall_err_set(err, 0, "usage: wxpay_platform_key <pem file> "
                            "[<id> | <id file>]");
    }
    if (c->n_platform == WXPAY_MAX_PLATFORM) {
        return mall_err_set(err, 0, "at most %d wxpay_platform_key lines",
                            WXPAY_MAX_PLATFORM);
    }
    p = &c->platform[c->n_platform];
    memset(p, 0, sizeof(*p));
    if (conf_value_file(argv[1], "key file ", p->pem, sizeof(p->pem),
                        &p->pem_len, err) != MALL_OK)
    {
        return MALL_ERR;
    }
    cert = strstr(p->pem, "BEGIN CERTIFICATE") != NULL;
    if (!pem_rsa_ok(p->pem, p->pem_len, 0)) {
        return mall_err_set(err, 0, "\"%s\" is no RSA-2048 public key or "
                            "certificate", argv[1]);
    }
    if (argc == 3 && argv[2][0] == '/') {
        if (conf_value_text_file(argv[2], p->id, sizeof(p->id),
                                 "wxpay_platform_key", err) != MALL_OK)
        {
            return MALL_ERR;
        }
    } else if (argc == 3) {
        snprintf(p->id, sizeof(p->id), "%s", argv[2]);
    } else if (!cert || cert_serial(p->pem, p->pem_len, p->id) != MALL_OK) {
        return mall_err_set(err, 0, "\"%s\": a public key needs its id "
                            "(PUB_KEY_ID_...)", argv[1]);
    }
    if (!id_ok(p->id)) {
        return mall_err_set(err, 0, "wxpay_platform_key: bad id");
    }
    c->n_platform++;
    return MALL_OK;
}


/* The APIv3 key file: exactly 32 bytes (a trailing newline is cut). */
static int
apiv3_file(wxpay_conf_t *c, const char *path, mall_err_t *err)
{
    char    buf[128];
    size_t  len;

    if (conf_value_file(path, "key file ", buf, sizeof(buf), &len, err)
        != MALL_OK)
    {
        return MALL_ERR;
    }
    if (len != WXPAY_APIV3_KEY_LEN) {
        OPENSSL_cleanse(buf, sizeof(buf));
        return mall_err_set(err, 0, "wxpay_apiv3_key_file must hold the "
                            "32-character APIv3 key");
    }
    memcpy(c->apiv3_key, buf, len);
    c->apiv3_len = len;
    OPENSSL_cleanse(buf, sizeof(buf));
    return MALL_OK;
}


/* "HH:MM" or "off" into minutes of the day (-1). */
static int
reconcile_at(wxpay_conf_t *c, const char *v, mall_err_t *err)
{
    int   h, m;
    char  tail;

    if (strcmp(v, "off") == 0) {
        c->reconcile_minute = -1;
        return MALL_OK;
    }
    if (sscanf(v, "%2d:%2d%c", &h, &m, &tail) != 2 || h < 0 || h > 23
        || m < 0 || m > 59)
    {
        return mall_err_set(err, 0, "wxpay_reconcile_at must be HH:MM or "
                            "off");
    }
    c->reconcile_minute = h * 60 + m;
    return MALL_OK;
}


/* One of the integer directives: MALL_OK, MALL_ERR or NOT_MINE. */
static int
int_directive(wxpay_conf_t *c, unsigned bit, const char *key, const char *v,
    mall_err_t *err)
{
    static const struct {
        unsigned    bit;
        size_t      off;
        long long   min, max;
    } ints[] = {
        { SEEN_TIMEOUT, offsetof(wxpay_conf_t, timeout_ms), 200, 30000 },
        { SEEN_MAX_AGE, offsetof(wxpay_conf_t, notify_max_age), 30, 3600 },
        { SEEN_QINTERVAL, offsetof(wxpay_conf_t, query_interval), 1, 3600 },
        { SEEN_QLEAD, offsetof(wxpay_conf_t, query_lead), 0, 86400 },
        { SEEN_RETRY, offsetof(wxpay_conf_t, refund_retry), 1, 3600 },
    };
    long long  n;
    size_t     i;

    for (i = 0; i < MALL_ARRAY_LEN(ints); i++) {
        if (ints[i].bit != bit) {
            continue;
        }
        if (mall_parse_int(v, ints[i].min, ints[i].max, &n) != MALL_OK) {
            return mall_err_set(err, 0, "%s must be %lld..%lld", key,
                                ints[i].min, ints[i].max);
        }
        *(int *) ((char *) c + ints[i].off) = (int) n;
        return MALL_OK;
    }
    return WXPAY_CONF_NOT_MINE;
}


/* Applies a single-valued directive (bit) with value v. */
static int
single(wxpay_conf_t *c, unsigned bit, const char *key, const char *v,
    mall_err_t *err)
{
    int  rc;

    switch (bit) {
    case SEEN_BASE:
        return conf_value_url(c->api_base, sizeof(c->api_base), v, key, 1, err);
    case SEEN_NOTIFY:
        return conf_value_url(c->notify_url, sizeof(c->notify_url), v, key, 0, err);
    case SEEN_MCHID:
        return conf_value_text_file(v, c->mchid, sizeof(c->mchid), key, err);
    case SEEN_MSERIAL:
        rc = conf_value_text_file(v, c->merchant_serial,
                                  sizeof(c->merchant_serial), key, err);
        if (rc == MALL_OK && !id_ok(c->merchant_serial)) {
            return mall_err_set(err, 0, "%s: bad serial", key);
        }
        return rc;
    case SEEN_MKEY:
        if (conf_value_file(v, "key file ", c->merchant_key.pem,
                            sizeof(c->merchant_key.pem),
                            &c->merchant_key.pem_len, err) != MALL_OK)
        {
            return MALL_ERR;
        }
        if (!pem_rsa_ok(c->merchant_key.pem, c->merchant_key.pem_len, 1)) {
            OPENSSL_cleanse(&c->merchant_key, sizeof(c->merchant_key));
            return mall_err_set(err, 0, "\"%s\" is no RSA-2048 private key",
                                v);
        }
        return MALL_OK;
    case SEEN_APIV3:
        return apiv3_file(c, v, err);
    case SEEN_RECONCILE:
        return reconcile_at(c, v, err);
    }
    return int_directive(c, bit, key, v, err);
}


int
wxpay_conf_directive(wxpay_conf_t *c, char **argv, int argc,
    mall_err_t *err)
{
    static const struct {
        const char  *name;
        unsigned     bit;
    } singles[] = {
        { "wxpay_api_base", SEEN_BASE },
        { "wxpay_mchid_file", SEEN_MCHID },
        { "wxpay_merchant_key", SEEN_MKEY },
        { "wxpay_merchant_serial_file", SEEN_MSERIAL },
        { "wxpay_apiv3_key_file", SEEN_APIV3 },
        { "wxpay_notify_url", SEEN_NOTIFY },
        { "wxpay_timeout_ms", SEEN_TIMEOUT },
        { "wxpay_notify_max_age", SEEN_MAX_AGE },
        { "wxpay_query_interval", SEEN_QINTERVAL },
        { "wxpay_query_lead", SEEN_QLEAD },
        { "wxpay_refund_retry", SEEN_RETRY },
        { "wxpay_reconcile_at", SEEN_RECONCILE },
    };
    size_t  i;
    int     rc;

    if (strcmp(argv[0], "wxpay_platform_key") == 0) {
        return platform_key_line(c, argv, argc, err);
    }
    for (i = 0; i < MALL_ARRAY_LEN(singles); i++) {
        if (strcmp(argv[0], singles[i].name) != 0) {
            continue;
        }
        if (argc != 2) {
            return mall_err_set(err, 0, "\"%s\" takes exactly one value",
                                argv[0]);
        }
        if (c->seen & singles[i].bit) {
            return mall_err_set(err, 0, "\"%s\" is duplicate", argv[0]);
        }
        rc = single(c, singles[i].bit, argv[0], argv[1], err);
        if (rc == MALL_OK) {
            c->seen |= singles[i].bit;
        }
        return rc;
    }
    return WXPAY_CONF_NOT_MINE;
}


int
wxpay_conf_validate(const wxpay_conf_t *c, const char *appid,
    mall_err_t *err)
{
    unsigned  keys = SEEN_MKEY | SEEN_MSERIAL | SEEN_APIV3 | SEEN_NOTIFY;

    if (!wxpay_conf_enabled(c)) {
        if ((c->seen & keys) != 0 || c->n_platform > 0) {
            return mall_err_set(err, 0, "WeChat Pay keys are set but "
                                "wxpay_mchid_file is not");
        }
        return MALL_OK;
    }
    if ((c->seen & keys) != keys || c->n_platform == 0) {
        return mall_err_set(err, 0, "WeChat Pay needs wxpay_merchant_key, "
                            "wxpay_merchant_serial_file, "
                            "wxpay_apiv3_key_file, wxpay_notify_url and at "
                            "least one wxpay_platform_key");
    }
    if (appid == NULL || appid[0] == '\0') {
        return mall_err_set(err, 0, "WeChat Pay needs wechat_appid_file "
                            "(the mini-program's appid)");
    }
    return MALL_OK;
}
