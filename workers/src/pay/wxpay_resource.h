/*
 * What WeChat Pay sends us, parsed into bounded structs: a notification
 * envelope with its AEAD_AES_256_GCM resource opened, the transaction
 * object (payment notifications and order queries) and the refund object
 * (refund notifications, refund answers and queries). Pure code; nothing
 * here is trusted until wxpay_verify() accepted the signature of the
 * bytes it came from. Fuzzed in tests/fuzz/fuzz_wxpay_notify.c.
 */
#ifndef WXPAY_RESOURCE_H
#define WXPAY_RESOURCE_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "mall_common.h"

#define WXPAY_STR_MAX   72            /* ids, states, times + NUL */

typedef struct {
    char     id[WXPAY_STR_MAX];       /* notification id */
    char     event_type[WXPAY_STR_MAX];
    char     original_type[WXPAY_STR_MAX];
    char    *plain;                   /* the opened resource (malloc'd) */
    size_t   plain_len;
} wxpay_event_t;

/*
 * Parses a notification body and opens its resource with the APIv3 key.
 * MALL_OK (release with wxpay_event_free), or MALL_ERR with err->msg
 * naming what is wrong.
 */
int wxpay_event_open(const uint8_t *key, size_t keylen, const char *body,
    size_t len, wxpay_event_t *ev, mall_err_t *err);

void wxpay_event_free(wxpay_event_t *ev);

typedef struct {
    char     appid[WXPAY_STR_MAX];
    char     mchid[WXPAY_STR_MAX];
    char     out_trade_no[WXPAY_STR_MAX];
    char     transaction_id[WXPAY_STR_MAX];   /* "" until paid */
    char     trade_state[WXPAY_STR_MAX];
    char     trade_type[WXPAY_STR_MAX];
    char     bank_type[WXPAY_STR_MAX];
    char     success_time[WXPAY_STR_MAX];
    char     currency[WXPAY_STR_MAX];
    int64_t  total;                           /* fen */
    int64_t  payer_total;                     /* -1 when absent */
} wxpay_txn_t;

/* A transaction object. MALL_OK, or MALL_ERR (err says which field). */
int wxpay_txn_parse(const cJSON *o, wxpay_txn_t *t, mall_err_t *err);

typedef struct {
    char     mchid[WXPAY_STR_MAX];            /* notifications only */
    char     out_trade_no[WXPAY_STR_MAX];
    char     transaction_id[WXPAY_STR_MAX];
    char     out_refund_no[WXPAY_STR_MAX];
    char     refund_id[WXPAY_STR_MAX];
    char     status[WXPAY_STR_MAX];           /* SUCCESS, PROCESSING, ... */
    char     create_time[WXPAY_STR_MAX];      /* answers only */
    char     success_time[WXPAY_STR_MAX];
    int64_t  total;
    int64_t  refund;
} wxpay_refund_t;

/*
 * A refund object: an answer or query ("status") or the resource of a
 * refund notification ("refund_status"). MALL_OK or MALL_ERR.
 */
int wxpay_refund_parse(const cJSON *o, wxpay_refund_t *r, mall_err_t *err);

/* Parses text[0..len) as a JSON object, then one of the above. */
int wxpay_txn_parse_text(const char *text, size_t len, wxpay_txn_t *t,
    mall_err_t *err);
int wxpay_refund_parse_text(const char *text, size_t len, wxpay_refund_t *r,
    mall_err_t *err);

#endif
