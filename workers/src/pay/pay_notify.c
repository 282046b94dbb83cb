/*
 * POST /api/v1/payments/wechat/notify: WeChat Pay notifications (payments
 * and refunds). No user token; the edge passes it without one, and this
 * handler trusts nothing before the checks below:
 *
 *   1. Wechatpay-Signature over "timestamp\nnonce\nRAW_BODY\n" verifies
 *      with the platform key named by Wechatpay-Serial (any configured
 *      one: rotation); WECHATPAY/SIGNTEST/ probes, unknown serials and
 *      timestamps older than wxpay_notify_max_age are refused;
 *   2. the resource opens with the APIv3 key (AEAD_AES_256_GCM);
 *   3. what it says is checked against the stored order and applied
 *      exactly once (pay_apply, refund_apply).
 *
 * Success is 204 (duplicates too: WeChat stops retrying); a refusal is
 * 4xx, a failure on our side 5xx, both {"code":"FAIL","message"}, so that
 * WeChat retries; every refusal goes to the payment-anomaly stream.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/http.h>

#include "mall_buf.h"
#include "mall_log.h"
#include "mall_metrics.h"
#include "mall_reply.h"
#include "pay_anomaly.h"
#include "pay_order.h"
#include "refund.h"
#include "wxpay_keys.h"

static int pay_notify(mall_ctx_t *ctx);

const mall_route_t  mall_pay_notify_routes[] = {
    { "POST", "/api/v1/payments/wechat/notify", pay_notify, 0 },
    { NULL, NULL, NULL, 0 }
};


/* {"code":"FAIL","message":msg} with status (WeChat retries). */
static int
reply_fail(mall_ctx_t *ctx, int status, const char *msg)
{
    mall_buf_t  b;
    int         rc;

    mall_buf_init(&b);
    mall_buf_str(&b, "{\"code\":\"FAIL\",\"message\":");
    mall_buf_json_str(&b, msg);
    mall_buf_str(&b, "}");
    rc = b.oom ? mall_reply_raw(ctx, status, "{\"code\":\"FAIL\"}", 15)
               : mall_reply_raw(ctx, status, b.p, b.len);
    mall_buf_free(&b);
    return rc;
}


/* A refusal: recorded, then answered. */
static int
refuse(mall_ctx_t *ctx, int status, const char *kind, const char *nid,
    const char *detail)
{

    pay_anomaly(ctx, &(pay_anomaly_t) {
        .kind = kind,
        .notification = nid,
        .detail = detail,
    });
    return reply_fail(ctx, status, kind);
}


static const char *
header(mall_ctx_t *ctx, const char *name)
{
    return evhttp_find_header(evhttp_request_get_input_headers(ctx->req),
                              name);
}


/* The signature check of step 1; MALL_OK or replied. */
static int
verify(mall_ctx_t *ctx, const wxpay_keys_t *keys)
{
    wxpay_signed_t   h;
    wxpay_sig_e      v;
    const char      *type;
    char             detail[128];

    h.timestamp = header(ctx, "Wechatpay-Timestamp");
    h.nonce = header(ctx, "Wechatpay-Nonce");
    h.signature = header(ctx, "Wechatpay-Signature");
    h.serial = header(ctx, "Wechatpay-Serial");
    type = header(ctx, "Wechatpay-Signature-Type");
    v = type != NULL && strcmp(type, WXPAY_AUTH_SCHEME) != 0
        ? WXPAY_SIG_MISSING
        : wxpay_verify(keys->platform, keys->n_platform, &h,
                       (const char *) ctx->body, ctx->body_len,
                       (int64_t) time(NULL), ctx->conf->pay.notify_max_age);
    mall_metrics_verification((int) v);
    if (v == WXPAY_SIG_OK) {
        return MALL_OK;
    }
    snprintf(detail, sizeof(detail), "notification refused: %s (serial "
             "%.64s)", wxpay_sig_name(v),
             h.serial != NULL ? h.serial : "-");
    refuse(ctx, 401, wxpay_sig_name(v), NULL, detail);
    return MALL_ERR;
}


/* The answer to WeChat once the change is decided. */
static int
reply_outcome(mall_ctx_t *ctx, int rc, pay_outcome_e outcome,
    const mall_err_t *err)
{
    mall_err_t  werr;

    if (rc != MALL_OK) {
        mall_log_req(MALL_LOG_WARN, "pay", ctx->request_id, "-",
                     "notification not applied: %s", err->msg);
        return reply_fail(ctx, 500, "try again later");
    }
    if (outcome == PAY_REJECTED) {
        return reply_fail(ctx, 400, err->msg);
    }
    /* a duplicate too: its first delivery may have been refused for want
     * of a replica (order_update waits for the change it makes) */
    if (outcome == PAY_DUPLICATE
        && mall_redis_durable(ctx->redis, &werr) != MALL_OK)
    {
        mall_log_req(MALL_LOG_WARN, "pay", ctx->request_id, "-",
                     "notification not acknowledged: %s", werr.msg);
        return reply_fail(ctx, 500, "try again later");
    }
    return mall_reply_raw(ctx, 204, "", 0);
}


/* REFUND.<STATUS> must carry that status. */
static int
refund_event(mall_ctx_t *ctx, const wxpay_event_t *ev)
{
    wxpay_refund_t  r;
    pay_outcome_e   outcome;
    mall_err_t      err;
    int             rc;

    err.msg[0] = '\0';
    if (wxpay_refund_parse_text(ev->plain, ev->plain_len, &r, &err)
        != MALL_OK
        || strcmp(ev->event_type + sizeof("REFUND.") - 1, r.status) != 0)
    {
        return refuse(ctx, 400, "bad_refund_resource", ev->id,
                      err.msg[0] != '\0' ? err.msg
                                         : "event and refund status differ");
    }
    rc = refund_apply(ctx, &r, "notify", ev->id, &outcome, &err);
    return reply_outcome(ctx, rc, outcome, &err);
}


static int
transaction_event(mall_ctx_t *ctx, const wxpay_event_t *ev)
{
    wxpay_txn_t     t;
    pay_outcome_e   outcome;
    mall_err_t      err;
    int             rc;

    err.msg[0] = '\0';
    if (wxpay_txn_parse_text(ev->plain, ev->plain_len, &t, &err) != MALL_OK) {
        return refuse(ctx, 400, "bad_transaction_resource", ev->id, err.msg);
    }
    rc = pay_apply(ctx, &t, "notify", ev->id, &outcome, &err);
    return reply_outcome(ctx, rc, outcome, &err);
}


static int
pay_notify(mall_ctx_t *ctx)
{
    const wxpay_keys_t  *keys;
    wxpay_event_t        ev;
    mall_err_t           err;
    int                  rc;

    keys = wxpay_conf_enabled(&ctx->conf->pay) ? wxpay_keys(&ctx->conf->pay)
                                                : NULL;
    if (keys == NULL) {
        return reply_fail(ctx, 503, "payments are not configured");
    }
    if (verify(ctx, keys) != MALL_OK) {
        return MALL_OK;
    }
    err.msg[0] = '\0';
    if (wxpay_event_open(ctx->conf->pay.apiv3_key, ctx->conf->pay.apiv3_len,
                         (const char *) ctx->body, ctx->body_len, &ev, &err)
        != MALL_OK)
    {
        return refuse(ctx, 400, "bad_resource", NULL, err.msg);
    }
    if (strcmp(ev.event_type, "TRANSACTION.SUCCESS") == 0) {
        rc = transaction_event(ctx, &ev);
    } else if (strcmp(ev.event_type, "REFUND.SUCCESS") == 0
               || strcmp(ev.event_type, "REFUND.ABNORMAL") == 0
               || strcmp(ev.event_type, "REFUND.CLOSED") == 0)
    {
        rc = refund_event(ctx, &ev);
    } else {
        rc = refuse(ctx, 400, "unknown_event", ev.id, ev.event_type);
    }
    wxpay_event_free(&ev);
    return rc;
}
