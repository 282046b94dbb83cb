/*
 * Trade bill parsing (see wxpay_bill.h).
 */
#include <stdlib.h>
#include <string.h>

#include "wxpay_bill.h"

#define BILL_MAX_COLS   64
#define FEN_MAX         100000000000LL
#define SUMMARY         "总交易单数"

/* The columns we read, by their names in the header. */
enum {
    COL_OTN, COL_TXN, COL_STATE, COL_TOTAL, COL_SETTLE, COL_ORN, COL_RID,
    COL_REFUND, COL_REFUND_ASKED, COL_RSTATE, COL_N
};

static const char  *col_names[COL_N] = {
    "商户订单号", "微信订单号", "交易状态", "订单金额", "应结订单金额",
    "商户退款单号", "微信退款单号", "退款金额", "申请退款金额", "退款状态"
};

typedef struct {
    const char  *p;
    size_t       len;
} span_t;


int
wxpay_yuan_to_fen(const char *s, size_t len, int64_t *fen)
{
    int64_t  v;
    size_t   i, dec;
    int      dot;

    if (len > 0 && s[0] == '`') {
        s++;
        len--;
    }
    if (len == 0 || len > 16) {
        return MALL_ERR;
    }
    v = 0;
    dot = 0;
    dec = 0;
    for (i = 0; i < len; i++) {
        if (s[i] == '.' && !dot && i > 0) {
            dot = 1;
            continue;
        }
        if (s[i] < '0' || s[i] > '9' || (dot && ++dec > 2)) {
            return MALL_ERR;
        }
        v = v * 10 + (s[i] - '0');
    }
    if (dot && dec == 0) {
        return MALL_ERR;
    }
    for (; dec < 2; dec++) {
        v *= 10;
    }
    if (v > FEN_MAX) {
        return MALL_ERR;
    }
    *fen = v;
    return MALL_OK;
}


/* The next line of [*p, end) without its \r\n; 0 at the end. */
static int
next_line(const char **p, const char *end, span_t *line)
{
    const char  *nl;

    if (*p >= end) {
        return 0;
    }
    nl = memchr(*p, '\n', (size_t) (end - *p));
    line->p = *p;
    line->len = (size_t) ((nl != NULL ? nl : end) - *p);
    *p = nl != NULL ? nl + 1 : end;
    if (line->len > 0 && line->p[line->len - 1] == '\r') {
        line->len--;
    }
    return 1;
}


/*
 * Splits line into fields at sep (",", or ",`" for detail lines whose
 * fields all start with '`', so a comma inside a value stays in it).
 * Returns the number of fields, or -1 when there are more than max.
 */
static int
split(span_t line, const char *sep, span_t *f, int max)
{
    size_t  seplen = strlen(sep), i, start;
    int     n;

    n = 0;
    start = 0;
    for (i = 0; i + seplen <= line.len; i++) {
        if (memcmp(line.p + i, sep, seplen) != 0) {
            continue;
        }
        if (n == max) {
            return -1;
        }
        f[n].p = line.p + start;
        f[n++].len = i - start;
        start = i + seplen;
        i += seplen - 1;
    }
    if (n == max) {
        return -1;
    }
    f[n].p = line.p + start;
    f[n++].len = line.len - start;
    return n;
}


static int
span_is(span_t s, const char *text)
{
    return s.len == strlen(text) && memcmp(s.p, text, s.len) == 0;
}


static void
span_copy(span_t s, char *dst, size_t dstsz)
{
    size_t  n = s.len < dstsz - 1 ? s.len : dstsz - 1;

    memcpy(dst, s.p, n);
    dst[n] = '\0';
}


/* Column index of each name we read in the header, -1 when absent. */
static int
header_columns(span_t line, int idx[COL_N], int *ncols, mall_err_t *err)
{
    span_t  f[BILL_MAX_COLS];
    int     n, i, c;

    if (line.len >= 3 && memcmp(line.p, "\xEF\xBB\xBF", 3) == 0) {
        line.p += 3;                        /* UTF-8 BOM */
        line.len -= 3;
    }
    n = split(line, ",", f, BILL_MAX_COLS);
    if (n < 0) {
        return mall_err_set(err, 0, "bill header: too many columns");
    }
    for (c = 0; c < COL_N; c++) {
        idx[c] = -1;
        for (i = 0; i < n; i++) {
            if (span_is(f[i], col_names[c])) {
                idx[c] = i;
                break;
            }
        }
    }
    if (idx[COL_OTN] < 0 || idx[COL_STATE] < 0
        || (idx[COL_TOTAL] < 0 && idx[COL_SETTLE] < 0))
    {
        return mall_err_set(err, 0, "bill header lacks 商户订单号, 交易状态 "
                            "or 订单金额");
    }
    *ncols = n;
    return MALL_OK;
}


/* A field by column (empty when the column is absent). */
static span_t
field(const span_t *f, const int idx[COL_N], int c)
{
    span_t  none = { "", 0 };

    return idx[c] >= 0 ? f[idx[c]] : none;
}


/* One detail line into row. */
static int
detail_row(span_t line, const int idx[COL_N], int ncols,
    wxpay_bill_row_t *row, mall_err_t *err)
{
    span_t  f[BILL_MAX_COLS], amount;

    line.p++;                               /* the first field's '`' */
    line.len--;
    if (split(line, ",`", f, BILL_MAX_COLS) != ncols) {
        return mall_err_set(err, 0, "bill line with a wrong field count");
    }
    memset(row, 0, sizeof(*row));
    span_copy(field(f, idx, COL_OTN), row->out_trade_no,
              sizeof(row->out_trade_no));
    span_copy(field(f, idx, COL_TXN), row->transaction_id,
              sizeof(row->transaction_id));
    span_copy(field(f, idx, COL_STATE), row->state, sizeof(row->state));
    span_copy(field(f, idx, COL_ORN), row->out_refund_no,
              sizeof(row->out_refund_no));
    span_copy(field(f, idx, COL_RID), row->refund_id, sizeof(row->refund_id));
    span_copy(field(f, idx, COL_RSTATE), row->refund_status,
              sizeof(row->refund_status));
    amount = field(f, idx, idx[COL_TOTAL] >= 0 ? COL_TOTAL : COL_SETTLE);
    if (wxpay_yuan_to_fen(amount.p, amount.len, &row->total_fen) != MALL_OK) {
        return mall_err_set(err, 0, "bill line with a bad amount");
    }
    if (strcmp(row->state, "REFUND") == 0) {
        amount = field(f, idx, idx[COL_REFUND] >= 0 ? COL_REFUND
                                                    : COL_REFUND_ASKED);
        if (wxpay_yuan_to_fen(amount.p, amount.len, &row->refund_fen)
            != MALL_OK || row->out_refund_no[0] == '\0')
        {
            return mall_err_set(err, 0, "bill refund line without its "
                                "refund number or amount");
        }
    }
    return row->out_trade_no[0] != '\0' ? MALL_OK
           : mall_err_set(err, 0, "bill line without 商户订单号");
}


/* The summary line's first field: the number of detail lines. */
static int
summary_count(span_t line, size_t *count)
{
    span_t    f[BILL_MAX_COLS];
    int64_t   v;
    size_t    i;

    if (split(line, ",", f, BILL_MAX_COLS) < 1 || f[0].len < 2
        || f[0].p[0] != '`' || f[0].len > 12)
    {
        return MALL_ERR;
    }
    v = 0;
    for (i = 1; i < f[0].len; i++) {
        if (f[0].p[i] < '0' || f[0].p[i] > '9') {
            return MALL_ERR;
        }
        v = v * 10 + (f[0].p[i] - '0');
    }
    *count = (size_t) v;
    return MALL_OK;
}


static int
add_row(wxpay_bill_t *bill, size_t *cap, const wxpay_bill_row_t *row)
{
    wxpay_bill_row_t  *grown;

    if (bill->n == *cap) {
        if (*cap >= WXPAY_BILL_MAX_ROWS) {
            return MALL_ERR;
        }
        *cap = *cap == 0 ? 64 : *cap * 2;
        grown = realloc(bill->rows, *cap * sizeof(*grown));
        if (grown == NULL) {
            return MALL_ERR;
        }
        bill->rows = grown;
    }
    bill->rows[bill->n++] = *row;
    return MALL_OK;
}


int
wxpay_bill_parse(const char *text, size_t len, wxpay_bill_t *bill,
    mall_err_t *err)
{
    const char        *p = text, *end = text + len;
    wxpay_bill_row_t   row;
    span_t             line;
    size_t             cap, count;
    int                idx[COL_N], ncols = 0;

    memset(bill, 0, sizeof(*bill));
    err->msg[0] = '\0';
    cap = 0;
    if (!next_line(&p, end, &line)
        || header_columns(line, idx, &ncols, err) != MALL_OK)
    {
        return err->msg[0] != '\0' ? MALL_ERR
               : mall_err_set(err, 0, "empty bill");
    }
    while (next_line(&p, end, &line)) {
        if (line.len == 0) {
            continue;
        }
        if (line.p[0] != '`') {
            break;                          /* the summary header */
        }
        if (detail_row(line, idx, ncols, &row, err) != MALL_OK
            || add_row(bill, &cap, &row) != MALL_OK)
        {
            wxpay_bill_free(bill);
            return err->msg[0] != '\0' ? MALL_ERR
                   : mall_err_set(err, 0, "bill too large");
        }
    }
    if (line.len < sizeof(SUMMARY) - 1
        || memcmp(line.p, SUMMARY, sizeof(SUMMARY) - 1) != 0
        || !next_line(&p, end, &line) || summary_count(line, &count)
        != MALL_OK || count != bill->n)
    {
        wxpay_bill_free(bill);
        return mall_err_set(err, 0, "bill summary missing or its count "
                            "differs from the lines");
    }
    return MALL_OK;
}


void
wxpay_bill_free(wxpay_bill_t *bill)
{
    free(bill->rows);
    memset(bill, 0, sizeof(*bill));
}
