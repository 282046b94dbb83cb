/*
 * The Kuaidi100-style carrier client (carrier.h): one form POST to
 * {logistics_api_base}/poll/query.do through mall_http_client (libcurl
 * multi on the process's event loop: the calling fiber parks, nothing
 * blocks). A query is read-only, so nothing is retried here: the
 * timeline keeps its last good answer and asks again after
 * logistics_error_retry.
 */
#include <stdio.h>
#include <string.h>

#include "kd100.h"
#include "mall_http_client.h"

#define KD100_ANSWER_MAX  (256 * 1024)

static int kd100_query(const logistics_conf_t *conf,
    const carrier_query_t *q, carrier_result_t *res, mall_err_t *err);

static const carrier_client_t  kd100_client = { "kuaidi100", kd100_query };


/* The one implementation there is (another provider: choose it here). */
const carrier_client_t *
carrier_client(const logistics_conf_t *conf)
{
    return logistics_conf_enabled(conf) ? &kd100_client : NULL;
}


static int
kd100_query(const logistics_conf_t *conf, const carrier_query_t *q,
    carrier_result_t *res, mall_err_t *err)
{
    static const char *const  hdrs[] = {
        "Content-Type: application/x-www-form-urlencoded",
        "Accept: application/json",
        NULL
    };
    mall_http_request_t   req;
    mall_http_response_t  resp;
    mall_buf_t            form;
    char                  url[LOGISTICS_URL_MAX + sizeof(KD100_PATH)];
    int                   rc;

    memset(res, 0, sizeof(*res));
    res->state = -1;
    snprintf(url, sizeof(url), "%s%s", conf->api_base, KD100_PATH);
    mall_buf_init(&form);
    if (kd100_form(q, conf->customer, conf->key, &form) != MALL_OK) {
        mall_buf_free(&form);
        return mall_err_set(err, 0, "cannot build the query");
    }
    memset(&req, 0, sizeof(req));
    req.method = "POST";
    req.url = url;
    req.headers = hdrs;
    req.body = form.p;
    req.body_len = form.len;
    req.timeout_ms = conf->timeout_ms;
    req.connect_timeout_ms = conf->timeout_ms / 2;
    req.max_body = KD100_ANSWER_MAX;
    memset(&resp, 0, sizeof(resp));
    rc = mall_http_fetch(&req, &resp, err);
    mall_buf_free(&form);
    if (rc != MALL_OK) {
        return MALL_RETRY;
    }
    if (resp.status != 200) {
        mall_err_set(err, 0, "carrier answered HTTP %ld", resp.status);
        rc = MALL_RETRY;
    } else if (kd100_parse(resp.body, resp.body_len, res, err) != MALL_OK) {
        rc = MALL_RETRY;
    }
    mall_http_response_free(&resp);
    return rc;
}
