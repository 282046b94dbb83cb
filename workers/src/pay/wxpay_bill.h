/*
 * WeChat Pay's trade bill (交易账单, GET /v3/bill/tradebill, then its
 * download_url), parsed. The file is text: a header line of column names,
 * one line per payment or refund whose every field starts with '`', then
 * the summary header (总交易单数,...) and the summary line. Columns are
 * found by name, not position; amounts are in yuan with two decimals. The
 * summary's count must match the lines read. Pure code, fuzzed in
 * tests/fuzz/fuzz_wxpay_bill.c.
 */
#ifndef WXPAY_BILL_H
#define WXPAY_BILL_H

#include <stddef.h>
#include <stdint.h>

#include "mall_common.h"
#include "wxpay_resource.h"

#define WXPAY_BILL_MAX_ROWS  1000000

typedef struct {
    char     out_trade_no[WXPAY_STR_MAX];
    char     transaction_id[WXPAY_STR_MAX];
    char     state[WXPAY_STR_MAX];          /* SUCCESS, REFUND, REVOKED */
    int64_t  total_fen;                     /* 订单金额 */
    char     out_refund_no[WXPAY_STR_MAX];  /* refund lines */
    char     refund_id[WXPAY_STR_MAX];
    char     refund_status[WXPAY_STR_MAX];
    int64_t  refund_fen;                    /* 退款金额 */
} wxpay_bill_row_t;

typedef struct {
    wxpay_bill_row_t  *rows;                /* malloc'd */
    size_t             n;
} wxpay_bill_t;

/* Parses a bill. MALL_OK (release with wxpay_bill_free) or MALL_ERR. */
int wxpay_bill_parse(const char *text, size_t len, wxpay_bill_t *bill,
    mall_err_t *err);

void wxpay_bill_free(wxpay_bill_t *bill);

/* "12.34" (yuan, up to two decimals, optional leading '`') into fen. */
int wxpay_yuan_to_fen(const char *s, size_t len, int64_t *fen);

#endif
