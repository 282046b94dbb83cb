/*
 * WeChat Pay keys of a process (see wxpay_keys.h).
 */
#include <string.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "mall_log.h"
#include "wxpay_keys.h"


/* A public key from a PEM public key or certificate. */
static EVP_PKEY *
public_key(const wxpay_pem_t *p)
{
    BIO       *bio;
    X509      *x;
    EVP_PKEY  *k;

    bio = BIO_new_mem_buf(p->pem, (int) p->pem_len);
    if (bio == NULL) {
        return NULL;
    }
    if (strstr(p->pem, "BEGIN CERTIFICATE") != NULL) {
        x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        k = x != NULL ? X509_get_pubkey(x) : NULL;
        X509_free(x);
    } else {
        k = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    }
    BIO_free(bio);
    return k;
}


int
wxpay_keys_load(wxpay_keys_t *k, const wxpay_conf_t *c, mall_err_t *err)
{
    BIO     *bio;
    size_t   i;

    memset(k, 0, sizeof(*k));
    bio = BIO_new_mem_buf(c->merchant_key.pem, (int) c->merchant_key.pem_len);
    k->merchant = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)
                              : NULL;
    BIO_free(bio);
    if (k->merchant == NULL) {
        return mall_err_set(err, 0, "the merchant key does not load");
    }
    for (i = 0; i < c->n_platform; i++) {
        k->platform[i].id = c->platform[i].id;
        k->platform[i].key = public_key(&c->platform[i]);
        if (k->platform[i].key == NULL) {
            wxpay_keys_free(k);
            return mall_err_set(err, 0, "platform key %s does not load",
                                c->platform[i].id);
        }
        k->n_platform++;
    }
    return MALL_OK;
}


void
wxpay_keys_free(wxpay_keys_t *k)
{
    size_t  i;

    EVP_PKEY_free(k->merchant);
    for (i = 0; i < k->n_platform; i++) {
        EVP_PKEY_free(k->platform[i].key);
    }
    memset(k, 0, sizeof(*k));
}


const wxpay_keys_t *
wxpay_keys(const wxpay_conf_t *c)
{
    static wxpay_keys_t         keys;
    static const wxpay_conf_t  *loaded;
    mall_err_t                  err;

    if (loaded == c) {
        return &keys;
    }
    if (loaded != NULL) {
        wxpay_keys_free(&keys);
        loaded = NULL;
    }
    if (wxpay_keys_load(&keys, c, &err) != MALL_OK) {
        mall_log(MALL_LOG_ERROR, "pay", "WeChat Pay keys: %s", err.msg);
        return NULL;
    }
    loaded = c;
    return &keys;
}
