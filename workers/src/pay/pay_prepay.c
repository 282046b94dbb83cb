/*
 * POST /api/v1/orders/{id}/pay: the WeChat Pay JSAPI prepay of an unpaid
 * order, answered with the wx.requestPayment parameters.
 *
 * Only the buyer who owns the order, only while it is unpaid and before
 * its pay_deadline. Everything WeChat is told comes from the stored order,
 * never from the client: out_trade_no = the order id, amount.total = its
 * total_fen, time_expire = its pay_deadline, payer.openid = the buyer's.
 * A prepay still valid is reused (WeChat returns the same prepay_id for
 * the same parameters anyway); the prepay is stored under WATCH of the
 * order, so an order cancelled meanwhile is closed at WeChat instead of
 * being handed out for payment.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mall_json.h"
#include "mall_log.h"
#include "mall_reply.h"
#include "order_store.h"
#include "pay_close.h"
#include "pay_keys.h"
#include "pay_query.h"
#include "risk_store.h"
#include "wxpay_client.h"
#include "wxpay_keys.h"
#include "wxpay_time.h"

#define PREPAY_MIN_LEFT     10       /* s: a deadline closer is past */
#define DESCRIPTION_BYTES   127

static int pay_prepay(mall_ctx_t *ctx);

const mall_route_t  mall_pay_prepay_routes[] = {
    { "POST", "/api/v1/orders/{id}/pay", pay_prepay, 0 },
    { NULL, NULL, NULL, 0 }
};


/* "first item name" or "first item name等N件" cut at a character, <= 127 B */
static void
description(const char *items_json, size_t len, size_t nitems,
    char out[DESCRIPTION_BYTES + 1])
{
    const cJSON  *first, *name;
    cJSON        *arr;
    char          tail[32];
    size_t        n, room;

    snprintf(out, DESCRIPTION_BYTES + 1, "Mall Edge");
    arr = cJSON_ParseWithLength(items_json, len);
    first = cJSON_IsArray(arr) ? cJSON_GetArrayItem(arr, 0) : NULL;
    name = first != NULL ? cJSON_GetObjectItemCaseSensitive(first, "name")
                         : NULL;
    if (cJSON_IsString(name) && name->valuestring[0] != '\0') {
        tail[0] = '\0';
        if (nitems > 1) {
            snprintf(tail, sizeof(tail), "等%zu件", nitems);
        }
        room = DESCRIPTION_BYTES - strlen(tail);
        n = strlen(name->valuestring);
        if (n > room) {
            n = room;
            while (n > 0 && ((unsigned char) name->valuestring[n] & 0xc0)
                            == 0x80)
            {
                n--;                /* not inside a UTF-8 character */
            }
        }
        snprintf(out, DESCRIPTION_BYTES + 1, "%.*s%s", (int) n,
                 name->valuestring, tail);
    }
    cJSON_Delete(arr);
}


/* The JSAPI body of order h for the buyer openid. NULL: out of memory. */
static char *
jsapi_body(const mall_conf_t *conf, const order_head_t *h,
    const char *openid, const char *desc)
{
    char    expire[WXPAY_TIME_MAX];
    cJSON  *o, *amount, *payer;
    char   *text;

    wxpay_time_format(h->pay_deadline, expire);
    o = cJSON_CreateObject();
    text = NULL;
    if (o != NULL
        && mall_json_add_str(o, "appid", conf->auth.wechat_appid) == MALL_OK
        && mall_json_add_str(o, "mchid", conf->pay.mchid) == MALL_OK
        && mall_json_add_str(o, "description", desc) == MALL_OK
        && mall_json_add_str(o, "out_trade_no", h->id) == MALL_OK
        && mall_json_add_str(o, "time_expire", expire) == MALL_OK
        && mall_json_add_str(o, "notify_url", conf->pay.notify_url)
           == MALL_OK
        && (amount = cJSON_AddObjectToObject(o, "amount")) != NULL
        && mall_json_add_int(amount, "total", h->total_fen) == MALL_OK
        && mall_json_add_str(amount, "currency", "CNY") == MALL_OK
        && (payer = cJSON_AddObjectToObject(o, "payer")) != NULL
        && mall_json_add_str(payer, "openid", openid) == MALL_OK)
    {
        text = cJSON_PrintUnformatted(o);
    }
    cJSON_Delete(o);
    return text;
}


/* The buyer's openid and the order's items JSON, one round trip. */
static int
load_buyer(mall_ctx_t *ctx, const order_head_t *h, char *openid,
    size_t openidsz, char *desc, mall_err_t *err)
{
    char           ukey[ORDER_KEY_MAX], okey[ORDER_KEY_MAX];
    mall_batch_t   b;
    redisReply    *reps[2];
    int            rc;

    snprintf(ukey, sizeof(ukey), "mall:user:%s", h->uid);
    order_key(okey, sizeof(okey), ORDER_KEY_ORDER, h->id, NULL);
    mall_batch_init(&b);
    mall_batch_addl(&b, 3, "HGET", ukey, "openid");
    mall_batch_addl(&b, 3, "HGET", okey, "items");
    rc = mall_batch_send(&b, ctx->redis, reps, err);
    mall_batch_free(&b);
    if (rc != MALL_OK) {
        return rc;
    }
    openid[0] = '\0';
    if (reps[0]->type == REDIS_REPLY_STRING && reps[0]->len > 0
        && reps[0]->len < openidsz)
    {
        memcpy(openid, reps[0]->str, reps[0]->len + 1);
    }
    description(reps[1]->type == REDIS_REPLY_STRING ? reps[1]->str : "[]",
                reps[1]->type == REDIS_REPLY_STRING ? reps[1]->len : 2,
                h->nitems, desc);
    mall_redis_free_replies(reps, 2);
    return openid[0] != '\0' ? MALL_OK
           : mall_err_set(err, 500, "user %s has no openid", h->uid);
}


typedef struct {
    const char      *prepay_id;
    int64_t          expires;
    order_status_e   cur;
} store_t;


static int
store_plan(mall_ctx_t *ctx, const order_head_t *h, mall_batch_t *b,
    void *arg)
{
    store_t  *s = arg;
    char      key[ORDER_KEY_MAX], exp[24], deadline[24];

    (void) ctx;
    s->cur = h->status;
    if (h->status != ORDER_ST_UNPAID || h->pay_closed) {
        return ORDER_ILLEGAL;
    }
    order_key(key, sizeof(key), ORDER_KEY_ORDER, h->id, NULL);
    snprintf(exp, sizeof(exp), "%lld", (long long) s->expires);
    snprintf(deadline, sizeof(deadline), "%lld", (long long) h->pay_deadline);
    mall_batch_addl(b, 6, "HSET", key, "pay_prepay_id", s->prepay_id,
                    "pay_prepay_expires", exp);
    mall_batch_addl(b, 4, "ZADD", ORDER_KEY_PAY_WATCH, deadline, h->id);
    return MALL_OK;
}


/* The wx.requestPayment parameters for prepay_id. */
static int
reply_payment(mall_ctx_t *ctx, const order_head_t *h, const char *prepay_id)
{
    const wxpay_keys_t  *keys;
    char                 ts[24], nonce[WXPAY_NONCE_LEN + 1], package[96];
    char                 sig[WXPAY_SIG_B64_MAX];
    mall_buf_t           msg;
    cJSON               *o;
    int                  rc;

    keys = wxpay_keys(&ctx->conf->pay);
    snprintf(ts, sizeof(ts), "%lld", (long long) time(NULL));
    snprintf(package, sizeof(package), "prepay_id=%s", prepay_id);
    mall_buf_init(&msg);
    wxpay_paysign_message(&msg, ctx->conf->auth.wechat_appid, ts,
                          wxpay_nonce(nonce) == MALL_OK ? nonce : "", package);
    rc = keys != NULL && !msg.oom
         ? wxpay_rsa_sign(keys->merchant, msg.p, msg.len, sig, sizeof(sig))
         : MALL_ERR;
    mall_buf_free(&msg);
    o = rc == MALL_OK ? cJSON_CreateObject() : NULL;
    if (o == NULL
        || mall_json_add_str(o, "order_id", h->id) != MALL_OK
        || mall_json_add_int(o, "total_fen", h->total_fen) != MALL_OK
        || mall_json_add_int(o, "pay_deadline", h->pay_deadline) != MALL_OK
        || mall_json_add_str(o, "appId", ctx->conf->auth.wechat_appid)
           != MALL_OK
        || mall_json_add_str(o, "timeStamp", ts) != MALL_OK
        || mall_json_add_str(o, "nonceStr", nonce) != MALL_OK
        || mall_json_add_str(o, "package", package) != MALL_OK
        || mall_json_add_str(o, "signType", "RSA") != MALL_OK
        || mall_json_add_str(o, "paySign", sig) != MALL_OK)
    {
        cJSON_Delete(o);
        return mall_reply_error(ctx, 500, "INTERNAL", "cannot sign the "
                                "payment");
    }
    rc = mall_reply_json_nostore(ctx, 200, o);
    cJSON_Delete(o);
    return rc;
}


/* WeChat refused the prepay: what the buyer is told. */
static int
reply_refused(mall_ctx_t *ctx, const order_head_t *h,
    const wxpay_answer_t *ans)
{
    char            state[WXPAY_STR_MAX];
    order_head_t    now;
    mall_err_t      err;

    if (strcmp(ans->code, "ORDERPAID") == 0) {
        /* paid already: learn it now rather than wait for the notice */
        err.msg[0] = '\0';
        if (pay_query(ctx, h->id, "query", state, &err) == MALL_OK
            && order_load_head(ctx, h->id, 0, &now, &err) == MALL_OK)
        {
            return order_reply_conflict(ctx, now.status, "the order is "
                                        "paid already");
        }
        return order_reply_conflict(ctx, ORDER_ST_PAID, "the order is paid "
                                    "already");
    }
    if (strcmp(ans->code, "ORDER_CLOSED") == 0) {
        return order_reply_conflict(ctx, h->status, "the payment of this "
                                    "order is closed");
    }
    mall_log_req(MALL_LOG_WARN, "pay", ctx->request_id, h->uid,
                 "prepay of order %s refused: HTTP %ld %s %s", h->id,
                 ans->status, ans->code, ans->message);
    /* a failed payment: repeated ones freeze the account (risk_store.h) */
    if (risk_pay_failed(ctx, h->uid, h->id)) {
        return risk_reply_frozen(ctx);
    }
    return mall_reply_error(ctx, 502, "UPSTREAM_ERROR", "WeChat Pay refused "
                            "the payment (%s)", ans->code);
}


/* A new prepay from WeChat, stored on the order, then the parameters. */
static int
prepay_new(mall_ctx_t *ctx, const order_head_t *h)
{
    char            openid[160], desc[DESCRIPTION_BYTES + 1];
    char            prepay[ORDER_PREPAY_MAX], *body;
    const cJSON    *id;
    wxpay_answer_t  ans;
    order_head_t    cur;
    store_t         s;
    mall_err_t      err;
    int             rc;

    err.msg[0] = '\0';
    rc = load_buyer(ctx, h, openid, sizeof(openid), desc, &err);
    if (rc != MALL_OK) {
        return sf_fail(ctx, rc, "prepay", &err);
    }
    body = jsapi_body(ctx->conf, h, openid, desc);
    if (body == NULL) {
        return mall_reply_error(ctx, 500, "INTERNAL", "out of memory");
    }
    rc = wxpay_call(ctx->conf, "POST", "/v3/pay/transactions/jsapi", body,
                    &ans, &err);
    cJSON_free(body);
    if (rc != MALL_OK) {
        mall_log_req(MALL_LOG_WARN, "pay", ctx->request_id, h->uid,
                     "prepay of order %s: %s", h->id, err.msg);
        return mall_reply_error(ctx, 502, "UPSTREAM_ERROR", "WeChat Pay did "
                                "not answer; try again");
    }
    id = ans.status == 200 && ans.json != NULL
         ? cJSON_GetObjectItemCaseSensitive(ans.json, "prepay_id") : NULL;
    if (!cJSON_IsString(id) || strlen(id->valuestring) >= sizeof(prepay)
        || id->valuestring[0] == '\0')
    {
        rc = reply_refused(ctx, h, &ans);
        wxpay_answer_free(&ans);
        return rc;
    }
    snprintf(prepay, sizeof(prepay), "%s", id->valuestring);
    wxpay_answer_free(&ans);

    s.prepay_id = prepay;
    s.expires = (int64_t) time(NULL) + PAY_PREPAY_TTL;
    s.cur = h->status;
    rc = order_update(ctx, h->id, store_plan, &s, &cur, NULL, &err);
    if (rc == ORDER_ILLEGAL) {
        /* cancelled meanwhile: nobody may pay it now */
        (void) pay_close(ctx, h->id, &err);
        return order_reply_conflict(ctx, s.cur, "the order can no longer "
                                    "be paid");
    }
    if (rc != MALL_OK) {
        return sf_fail(ctx, rc == MALL_BATCH_ABORTED ? MALL_RETRY : rc,
                       "prepay", &err);
    }
    return reply_payment(ctx, &cur, prepay);
}


static int
pay_prepay(mall_ctx_t *ctx)
{
    char            uid[SF_UID_MAX];
    const char     *oid;
    order_head_t    h;
    order_status_e  cur;
    mall_err_t      err;
    int64_t         now;
    int             rc, voided;

    if (order_route_oid(ctx, uid, &oid) != MALL_OK) {
        return MALL_OK;
    }
    if (!wxpay_conf_enabled(&ctx->conf->pay)) {
        return mall_reply_error(ctx, 503, "UNAVAILABLE", "payments are not "
                                "configured");
    }
    err.msg[0] = '\0';
    rc = order_load_head(ctx, oid, 0, &h, &err);
    if (rc != MALL_OK) {
        return sf_fail(ctx, rc, "prepay", &err);
    }
    if (h.status == ORDER_ST_NONE || strcmp(h.uid, uid) != 0) {
        return mall_reply_error(ctx, 404, "NOT_FOUND", "no such order");
    }
    if (h.status != ORDER_ST_UNPAID) {
        return order_reply_conflict(ctx, h.status, "only an unpaid order "
                                    "can be paid");
    }
    now = (int64_t) time(NULL);
    if (h.pay_deadline - now < PREPAY_MIN_LEFT || h.pay_closed) {
        cur = h.status;
        (void) pay_cancel_order(ctx, oid, NULL, ORDER_EV_EXPIRE,
                                ORDER_ACTOR_SYSTEM, "expiry", &cur, &err);
        return order_reply_conflict(ctx, cur, "the order's payment deadline "
                                    "has passed");
    }
    if (h.prepay_id[0] != '\0' && h.prepay_expires > now + PAY_PREPAY_MARGIN)
    {
        return reply_payment(ctx, &h, h.prepay_id);
    }
    rc = order_void_if_short(ctx, &h, &voided, &err);
    if (rc != MALL_OK) {
        return sf_fail(ctx, rc, "prepay", &err);
    }
    if (voided) {
        return order_reply_conflict(ctx, ORDER_ST_CANCELLED, "the order did "
                                    "not get its stock and was cancelled");
    }
    return prepay_new(ctx, &h);
}
