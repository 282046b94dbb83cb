/*
 * workers/src/pay/wxpay_bill.c: WeChat Pay's trade bill, as reconcile.c
 * reads the downloaded file (after its SHA-1 matched: the bytes are
 * WeChat's, the parser still trusts nothing), and the yuan amounts in it.
 *
 * Input: the file. Oracles: every row has an out_trade_no, refund rows an
 * out_refund_no; no more rows than lines; amounts are not negative; an
 * amount printed back in yuan parses to itself.
 */
#include "fuzz_common.h"
#include "wxpay_bill.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wxpay_bill_t   bill;
    mall_err_t     err;
    char          *text, yuan[32];
    size_t         i, lines;
    int64_t        fen;
    int            n;

    text = fz_dup(data, size);
    if (wxpay_bill_parse(text, size, &bill, &err) == MALL_OK) {
        lines = 0;
        for (i = 0; i < size; i++) {
            lines += data[i] == '\n';
        }
        FZ_ASSERT(bill.n <= lines + 1);
        for (i = 0; i < bill.n; i++) {
            const wxpay_bill_row_t  *r = &bill.rows[i];

            FZ_ASSERT(r->out_trade_no[0] != '\0' && r->total_fen >= 0);
            FZ_ASSERT(strcmp(r->state, "REFUND") != 0
                      || (r->out_refund_no[0] != '\0' && r->refund_fen >= 0));
            n = snprintf(yuan, sizeof(yuan), "%lld.%02lld",
                         (long long) (r->total_fen / 100),
                         (long long) (r->total_fen % 100));
            FZ_ASSERT(wxpay_yuan_to_fen(yuan, (size_t) n, &fen) == MALL_OK
                      && fen == r->total_fen);
        }
        wxpay_bill_free(&bill);
    }
    if (size <= 20 && wxpay_yuan_to_fen(text, size, &fen) == MALL_OK) {
        FZ_ASSERT(fen >= 0);
    }
    free(text);
    return 0;
}
