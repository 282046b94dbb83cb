/*
 * Calls to WeChat Pay API v3 from a fiber (mall_http_client.h underneath:
 * libcurl multi on the process's event loop, nothing blocks).
 *
 * Every request is signed with the merchant key (Authorization:
 * WECHATPAY2-SHA256-RSA2048 over METHOD\nURL\nTIMESTAMP\nNONCE\nBODY\n);
 * every answer, errors and 204 included, must carry a Wechatpay-Signature
 * that verifies with a configured platform key, by Wechatpay-Serial, with
 * a fresh timestamp, before anything in it is looked at: an answer that
 * fails is treated as no answer at all.
 *
 * Retries: every call this project makes is one WeChat documents as safe
 * to repeat with the same parameters (a query; a close; a JSAPI prepay of
 * the same out_trade_no and body returns the same prepay_id; a refund of
 * the same out_refund_no refunds once), so a call without a trustworthy
 * answer (network failure, timeout, failed verification, HTTP 5xx
 * SYSTEM_ERROR) is sent once more, re-signed, within wxpay_timeout_ms.
 */
#ifndef WXPAY_CLIENT_H
#define WXPAY_CLIENT_H

#include <stddef.h>
#include <cjson/cJSON.h>

#include "mall_conf.h"

#define WXPAY_CODE_MAX  48

typedef struct {
    long    status;                  /* HTTP status */
    cJSON  *json;                    /* the body when it is JSON, or NULL */
    char    code[WXPAY_CODE_MAX];    /* "code" of an error answer, or "" */
    char    message[160];            /* its "message" (for logs) */
} wxpay_answer_t;

/*
 * One call: method, path (with its query, e.g. "/v3/pay/transactions/
 * out-trade-no/X?mchid=Y"), body (NULL for none). MALL_OK: a verified
 * answer of any status is in ans (release with wxpay_answer_free);
 * MALL_RETRY: no trustworthy answer (err says why); MALL_ERR: payments
 * are not configured or the request could not be built.
 */
int wxpay_call(const mall_conf_t *conf, const char *method, const char *path,
    const char *body, wxpay_answer_t *ans, mall_err_t *err);

void wxpay_answer_free(wxpay_answer_t *ans);

/*
 * Downloads a bill from the download_url of a bill answer (which must be
 * under wxpay_api_base): a signed GET whose answer WeChat does not sign;
 * the caller checks its hash. *body is malloc'd (free it). MALL_OK,
 * MALL_RETRY, MALL_ERR.
 */
int wxpay_download(const mall_conf_t *conf, const char *url, size_t max,
    char **body, size_t *len, mall_err_t *err);

#endif
