/*
 * Signed calls to WeChat Pay (see wxpay_client.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "mall_http_client.h"
#include "mall_json.h"
#include "mall_log.h"
#include "wxpay_client.h"
#include "wxpay_keys.h"

#define WXPAY_ANSWER_MAX  (256 * 1024)
#define WXPAY_TRIES       2
#define WXPAY_AUTH_MAX    1024


/* The Authorization header line for one attempt into hdr. */
static int
sign_request(const mall_conf_t *conf, const wxpay_keys_t *keys,
    const char *method, const char *path, const char *body, size_t len,
    char *hdr, size_t hdrsz)
{
    const wxpay_conf_t  *p = &conf->pay;
    char                 nonce[WXPAY_NONCE_LEN + 1], ts[24];
    char                 sig[WXPAY_SIG_B64_MAX];
    mall_buf_t           msg;
    int                  rc;

    if (wxpay_nonce(nonce) != MALL_OK) {
        return MALL_ERR;
    }
    snprintf(ts, sizeof(ts), "%lld", (long long) time(NULL));
    mall_buf_init(&msg);
    wxpay_request_message(&msg, method, path, ts, nonce, body, len);
    rc = msg.oom ? MALL_ERR
         : wxpay_rsa_sign(keys->merchant, msg.p, msg.len, sig, sizeof(sig));
    mall_buf_free(&msg);
    if (rc != MALL_OK) {
        return MALL_ERR;
    }
    memcpy(hdr, "Authorization: ", 15);
    return wxpay_authorization(hdr + 15, hdrsz - 15, p->mchid,
                               p->merchant_serial, nonce, ts, sig);
}


/* One HTTP exchange, signed; the deadline bounds it. */
static int
exchange(const mall_conf_t *conf, const wxpay_keys_t *keys,
    const char *method, const char *url, const char *path, const char *body,
    int64_t deadline_ms, size_t max, mall_http_response_t *resp,
    mall_err_t *err)
{
    char                  auth[WXPAY_AUTH_MAX];
    const char           *hdrs[5];
    mall_http_request_t   req;
    size_t                len;
    int64_t               left;

    len = body != NULL ? strlen(body) : 0;
    if (sign_request(conf, keys, method, path, body, len, auth, sizeof(auth))
        != MALL_OK)
    {
        return mall_err_set(err, 0, "cannot sign the request");
    }
    left = deadline_ms - mall_mono_ms();
    if (left < 50) {
        return mall_err_set(err, 0, "no time left for WeChat Pay");
    }
    hdrs[0] = auth;
    hdrs[1] = "Accept: application/json";
    hdrs[2] = body != NULL ? "Content-Type: application/json" : NULL;
    hdrs[3] = NULL;

    memset(&req, 0, sizeof(req));
    req.method = method;
    req.url = url;
    req.headers = hdrs;
    req.body = body;
    req.body_len = len;
    req.timeout_ms = (long) left;
    req.connect_timeout_ms = (long) (left / 3 > 0 ? left / 3 : 1);
    req.max_body = max;
    if (mall_http_fetch(&req, resp, err) != MALL_OK) {
        return MALL_RETRY;
    }
    return MALL_OK;
}


/* Whether the answer is signed by a platform key; MALL_OK or MALL_RETRY. */
static int
answer_verified(const mall_conf_t *conf, const wxpay_keys_t *keys,
    const mall_http_response_t *resp, mall_err_t *err)
{
    char            ts[32], nonce[80], sig[WXPAY_SIG_B64_MAX], serial[80];
    wxpay_signed_t  h;
    wxpay_sig_e     v;

    h.timestamp = mall_http_response_header(resp, "Wechatpay-Timestamp", ts,
                                            sizeof(ts)) == MALL_OK ? ts : NULL;
    h.nonce = mall_http_response_header(resp, "Wechatpay-Nonce", nonce,
                                        sizeof(nonce)) == MALL_OK
              ? nonce : NULL;
    h.signature = mall_http_response_header(resp, "Wechatpay-Signature", sig,
                                            sizeof(sig)) == MALL_OK
                  ? sig : NULL;
    h.serial = mall_http_response_header(resp, "Wechatpay-Serial", serial,
                                         sizeof(serial)) == MALL_OK
               ? serial : NULL;
    v = wxpay_verify(keys->platform, keys->n_platform, &h, resp->body,
                     resp->body_len, (int64_t) time(NULL),
                     conf->pay.notify_max_age);
    if (v != WXPAY_SIG_OK) {
        return mall_err_set(err, 0, "answer not verified (%s, HTTP %ld)",
                            wxpay_sig_name(v), resp->status);
    }
    return MALL_OK;
}


/* Fills ans from a verified answer (takes nothing from resp). */
static void
answer_fill(const mall_http_response_t *resp, wxpay_answer_t *ans)
{
    const cJSON  *c, *m;

    memset(ans, 0, sizeof(*ans));
    ans->status = resp->status;
    if (resp->body_len > 0) {
        ans->json = mall_json_object(resp->body, resp->body_len);
    }
    if (resp->status >= 300 && ans->json != NULL) {
        c = cJSON_GetObjectItemCaseSensitive(ans->json, "code");
        m = cJSON_GetObjectItemCaseSensitive(ans->json, "message");
        if (cJSON_IsString(c)) {
            snprintf(ans->code, sizeof(ans->code), "%s", c->valuestring);
        }
        if (cJSON_IsString(m)) {
            snprintf(ans->message, sizeof(ans->message), "%s",
                     m->valuestring);
        }
    }
}


int
wxpay_call(const mall_conf_t *conf, const char *method, const char *path,
    const char *body, wxpay_answer_t *ans, mall_err_t *err)
{
    const wxpay_keys_t    *keys;
    mall_http_response_t   resp;
    char                   url[WXPAY_URL_MAX + 512];
    int64_t                deadline;
    int                    tries, rc;

    memset(ans, 0, sizeof(*ans));
    keys = wxpay_conf_enabled(&conf->pay) ? wxpay_keys(&conf->pay) : NULL;
    if (keys == NULL) {
        return mall_err_set(err, 503, "WeChat Pay is not configured");
    }
    if ((size_t) snprintf(url, sizeof(url), "%s%s", conf->pay.api_base, path)
        >= sizeof(url))
    {
        return mall_err_set(err, 0, "WeChat Pay URL too long");
    }
    deadline = mall_mono_ms() + conf->pay.timeout_ms;
    rc = MALL_RETRY;
    for (tries = 0; tries < WXPAY_TRIES; tries++) {
        memset(&resp, 0, sizeof(resp));
        rc = exchange(conf, keys, method, url, path, body, deadline,
                      WXPAY_ANSWER_MAX, &resp, err);
        if (rc == MALL_OK) {
            rc = answer_verified(conf, keys, &resp, err);
        }
        if (rc == MALL_OK && resp.status < 500) {
            answer_fill(&resp, ans);
            mall_http_response_free(&resp);
            return MALL_OK;
        }
        if (rc == MALL_OK) {
            rc = MALL_RETRY;
            mall_err_set(err, 0, "WeChat Pay answered HTTP %ld",
                         resp.status);
        }
        mall_http_response_free(&resp);
        if (rc == MALL_ERR) {
            break;
        }
        mall_log(MALL_LOG_WARN, "pay", "%s %.*s: %s%s", method,
                 (int) strcspn(path, "?"), path, err->msg,
                 tries + 1 < WXPAY_TRIES ? "; retrying" : "");
    }
    return rc;
}


void
wxpay_answer_free(wxpay_answer_t *ans)
{
    cJSON_Delete(ans->json);
    ans->json = NULL;
}


int
wxpay_download(const mall_conf_t *conf, const char *url, size_t max,
    char **body, size_t *len, mall_err_t *err)
{
    const wxpay_keys_t    *keys;
    mall_http_response_t   resp;
    size_t                 base;
    int                    rc;

    *body = NULL;
    *len = 0;
    keys = wxpay_conf_enabled(&conf->pay) ? wxpay_keys(&conf->pay) : NULL;
    if (keys == NULL) {
        return mall_err_set(err, 503, "WeChat Pay is not configured");
    }
    base = strlen(conf->pay.api_base);
    if (strncmp(url, conf->pay.api_base, base) != 0 || url[base] != '/') {
        return mall_err_set(err, 0, "download_url is not under "
                            "wxpay_api_base");
    }
    memset(&resp, 0, sizeof(resp));
    rc = exchange(conf, keys, "GET", url, url + base, NULL,
                  mall_mono_ms() + conf->pay.timeout_ms, max, &resp, err);
    if (rc != MALL_OK) {
        return rc;
    }
    if (resp.status != 200) {
        mall_err_set(err, 0, "bill download answered HTTP %ld", resp.status);
        mall_http_response_free(&resp);
        return MALL_RETRY;
    }
    *body = resp.body;
    *len = resp.body_len;
    resp.body = NULL;
    mall_http_response_free(&resp);
    return MALL_OK;
}
