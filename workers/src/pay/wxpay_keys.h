/*
 * The WeChat Pay keys of one worker process, built from the PEM text of
 * the config (wxpay_conf.h) on first use and kept for the life of the
 * process (a reload starts new processes). Never logged, never written
 * anywhere.
 */
#ifndef WXPAY_KEYS_H
#define WXPAY_KEYS_H

#include <openssl/evp.h>

#include "wxpay_conf.h"
#include "wxpay_crypto.h"

typedef struct {
    EVP_PKEY        *merchant;
    wxpay_pubkey_t   platform[WXPAY_MAX_PLATFORM];
    size_t           n_platform;
} wxpay_keys_t;

/* Builds every key of c into k. MALL_OK, or MALL_ERR (err says which). */
int wxpay_keys_load(wxpay_keys_t *k, const wxpay_conf_t *c, mall_err_t *err);

void wxpay_keys_free(wxpay_keys_t *k);

/* This process's keys for c (built once); NULL when they do not load. */
const wxpay_keys_t *wxpay_keys(const wxpay_conf_t *c);

#endif
