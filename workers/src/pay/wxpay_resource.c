/*
 * Notification envelopes and Pay objects (see wxpay_resource.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "mall_json.h"
#include "wxpay_crypto.h"
#include "wxpay_resource.h"

#define FEN_MAX  100000000000LL        /* a billion yuan */


/* A string member into dst: required ones must be there and fit. */
static int
str_member(const cJSON *o, const char *name, char *dst, size_t dstsz,
    int required, mall_err_t *err)
{
    const cJSON  *v;
    size_t        len;

    dst[0] = '\0';
    v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (v == NULL && !required) {
        return MALL_OK;
    }
    if (!cJSON_IsString(v) || v->valuestring == NULL) {
        return mall_err_set(err, 400, "\"%s\" must be a string", name);
    }
    len = strlen(v->valuestring);
    if ((required && len == 0) || len >= dstsz) {
        return mall_err_set(err, 400, "\"%s\" is empty or too long", name);
    }
    memcpy(dst, v->valuestring, len + 1);
    return MALL_OK;
}


/* An amount member of obj (fen); absent and optional gives -1. */
static int
fen_member(const cJSON *o, const char *name, int required, int64_t *out,
    mall_err_t *err)
{
    const cJSON  *v;

    *out = -1;
    v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (v == NULL && !required) {
        return MALL_OK;
    }
    if (mall_json_get_int(v, 0, FEN_MAX, out) != MALL_OK) {
        return mall_err_set(err, 400, "\"amount.%s\" must be an amount in "
                            "fen", name);
    }
    return MALL_OK;
}


int
wxpay_event_open(const uint8_t *key, size_t keylen, const char *body,
    size_t len, wxpay_event_t *ev, mall_err_t *err)
{
    char          rtype[WXPAY_STR_MAX], alg[WXPAY_STR_MAX];
    const cJSON  *res, *ct, *nonce, *aad;
    cJSON        *root;
    int           rc;

    memset(ev, 0, sizeof(*ev));
    root = mall_json_object(body, len);
    if (root == NULL) {
        return mall_err_set(err, 400, "the body is not a JSON object");
    }
    rc = MALL_ERR;
    res = cJSON_GetObjectItemCaseSensitive(root, "resource");
    if (str_member(root, "id", ev->id, sizeof(ev->id), 1, err) != MALL_OK
        || str_member(root, "event_type", ev->event_type,
                      sizeof(ev->event_type), 1, err) != MALL_OK
        || str_member(root, "resource_type", rtype, sizeof(rtype), 1, err)
           != MALL_OK)
    {
        goto done;
    }
    if (strcmp(rtype, "encrypt-resource") != 0 || !cJSON_IsObject(res)) {
        mall_err_set(err, 400, "no encrypted resource");
        goto done;
    }
    if (str_member(res, "algorithm", alg, sizeof(alg), 1, err) != MALL_OK
        || str_member(res, "original_type", ev->original_type,
                      sizeof(ev->original_type), 0, err) != MALL_OK)
    {
        goto done;
    }
    ct = cJSON_GetObjectItemCaseSensitive(res, "ciphertext");
    nonce = cJSON_GetObjectItemCaseSensitive(res, "nonce");
    aad = cJSON_GetObjectItemCaseSensitive(res, "associated_data");
    if (strcmp(alg, "AEAD_AES_256_GCM") != 0 || !cJSON_IsString(ct)
        || !cJSON_IsString(nonce)
        || (aad != NULL && !cJSON_IsString(aad) && !cJSON_IsNull(aad)))
    {
        mall_err_set(err, 400, "the resource is not AEAD_AES_256_GCM with a "
                     "ciphertext and a nonce");
        goto done;
    }
    if (wxpay_aead_open(key, keylen, nonce->valuestring,
                        strlen(nonce->valuestring),
                        cJSON_IsString(aad) ? aad->valuestring : "",
                        cJSON_IsString(aad) ? strlen(aad->valuestring) : 0,
                        ct->valuestring, strlen(ct->valuestring), &ev->plain,
                        &ev->plain_len) != MALL_OK)
    {
        mall_err_set(err, 400, "the resource does not decrypt");
        goto done;
    }
    rc = MALL_OK;

done:
    cJSON_Delete(root);
    return rc;
}


void
wxpay_event_free(wxpay_event_t *ev)
{
    if (ev->plain != NULL) {
        OPENSSL_cleanse(ev->plain, ev->plain_len);
        free(ev->plain);
    }
    memset(ev, 0, sizeof(*ev));
}


int
wxpay_txn_parse(const cJSON *o, wxpay_txn_t *t, mall_err_t *err)
{
    const cJSON  *amount;

    memset(t, 0, sizeof(*t));
    if (!cJSON_IsObject(o)) {
        return mall_err_set(err, 400, "the transaction is not an object");
    }
    amount = cJSON_GetObjectItemCaseSensitive(o, "amount");
    if (str_member(o, "appid", t->appid, sizeof(t->appid), 1, err)
           != MALL_OK
        || str_member(o, "mchid", t->mchid, sizeof(t->mchid), 1, err)
           != MALL_OK
        || str_member(o, "out_trade_no", t->out_trade_no,
                      sizeof(t->out_trade_no), 1, err) != MALL_OK
        || str_member(o, "trade_state", t->trade_state,
                      sizeof(t->trade_state), 1, err) != MALL_OK
        || str_member(o, "transaction_id", t->transaction_id,
                      sizeof(t->transaction_id), 0, err) != MALL_OK
        || str_member(o, "trade_type", t->trade_type, sizeof(t->trade_type),
                      0, err) != MALL_OK
        || str_member(o, "bank_type", t->bank_type, sizeof(t->bank_type), 0,
                      err) != MALL_OK
        || str_member(o, "success_time", t->success_time,
                      sizeof(t->success_time), 0, err) != MALL_OK)
    {
        return MALL_ERR;
    }
    if (!cJSON_IsObject(amount)) {
        return mall_err_set(err, 400, "the transaction has no amount");
    }
    if (fen_member(amount, "total", 1, &t->total, err) != MALL_OK
        || fen_member(amount, "payer_total", 0, &t->payer_total, err)
           != MALL_OK
        || str_member(amount, "currency", t->currency, sizeof(t->currency), 0,
                      err) != MALL_OK)
    {
        return MALL_ERR;
    }
    if (t->currency[0] == '\0') {
        snprintf(t->currency, sizeof(t->currency), "CNY");
    }
    return MALL_OK;
}


int
wxpay_refund_parse(const cJSON *o, wxpay_refund_t *r, mall_err_t *err)
{
    const cJSON  *amount, *st;

    memset(r, 0, sizeof(*r));
    if (!cJSON_IsObject(o)) {
        return mall_err_set(err, 400, "the refund is not an object");
    }
    st = cJSON_GetObjectItemCaseSensitive(o, "refund_status");
    amount = cJSON_GetObjectItemCaseSensitive(o, "amount");
    if (str_member(o, "out_trade_no", r->out_trade_no,
                   sizeof(r->out_trade_no), 1, err) != MALL_OK
        || str_member(o, "out_refund_no", r->out_refund_no,
                      sizeof(r->out_refund_no), 1, err) != MALL_OK
        || str_member(o, "refund_id", r->refund_id, sizeof(r->refund_id), 1,
                      err) != MALL_OK
        || str_member(o, st != NULL ? "refund_status" : "status", r->status,
                      sizeof(r->status), 1, err) != MALL_OK
        || str_member(o, "mchid", r->mchid, sizeof(r->mchid), 0, err)
           != MALL_OK
        || str_member(o, "transaction_id", r->transaction_id,
                      sizeof(r->transaction_id), 0, err) != MALL_OK
        || str_member(o, "create_time", r->create_time,
                      sizeof(r->create_time), 0, err) != MALL_OK
        || str_member(o, "success_time", r->success_time,
                      sizeof(r->success_time), 0, err) != MALL_OK)
    {
        return MALL_ERR;
    }
    if (!cJSON_IsObject(amount)) {
        return mall_err_set(err, 400, "the refund has no amount");
    }
    return fen_member(amount, "total", 1, &r->total, err) != MALL_OK
           || fen_member(amount, "refund", 1, &r->refund, err) != MALL_OK
           ? MALL_ERR : MALL_OK;
}


/* text as a JSON object handed to parse (one of the two above). */
static int
parse_text(const char *text, size_t len, const char *what,
    int (*parse)(const cJSON *, void *, mall_err_t *), void *out,
    size_t outsz, mall_err_t *err)
{
    cJSON  *o;
    int     rc;

    o = mall_json_object(text, len);
    if (o == NULL) {
        memset(out, 0, outsz);
        return mall_err_set(err, 400, "the %s is not JSON", what);
    }
    rc = parse(o, out, err);
    cJSON_Delete(o);
    return rc;
}


static int
txn_parse(const cJSON *o, void *out, mall_err_t *err)
{
    return wxpay_txn_parse(o, out, err);
}


static int
refund_parse(const cJSON *o, void *out, mall_err_t *err)
{
    return wxpay_refund_parse(o, out, err);
}


int
wxpay_txn_parse_text(const char *text, size_t len, wxpay_txn_t *t,
    mall_err_t *err)
{
    return parse_text(text, len, "transaction", txn_parse, t, sizeof(*t),
                      err);
}


int
wxpay_refund_parse_text(const char *text, size_t len, wxpay_refund_t *r,
    mall_err_t *err)
{
    return parse_text(text, len, "refund", refund_parse, r, sizeof(*r), err);
}
