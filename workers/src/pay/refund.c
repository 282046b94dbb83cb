/*
 * Refunds through WeChat Pay (see refund.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aftersale.h"
#include "mall_json.h"
#include "mall_log.h"
#include "notify.h"
#include "pay_anomaly.h"
#include "pay_keys.h"
#include "refund.h"
#include "wxpay_client.h"
#include "wxpay_time.h"

#define REFUND_CLAIM_S   30           /* one process works on a due refund */
#define REFUND_RETRY_MAX 3600

static const char  *status_names[REFUND_COUNT] = {
    "", "submitting", "processing", "success", "closed", "abnormal", "failed"
};


const char *
refund_status_name(refund_status_e s)
{
    return (unsigned) s < REFUND_COUNT ? status_names[s] : "";
}


static refund_status_e
status_parse(const char *s)
{
    unsigned  i;

    for (i = REFUND_SUBMITTING; i < REFUND_COUNT; i++) {
        if (strcmp(s, status_names[i]) == 0) {
            return (refund_status_e) i;
        }
    }
    return REFUND_NONE;
}


/* WeChat's refund status words. */
static refund_status_e
status_of_wechat(const char *s)
{
    static const struct {
        const char       *word;
        refund_status_e   st;
    } map[] = {
        { "PROCESSING", REFUND_PROCESSING }, { "SUCCESS", REFUND_SUCCESS },
        { "CLOSED", REFUND_CLOSED }, { "ABNORMAL", REFUND_ABNORMAL },
    };
    size_t  i;

    for (i = 0; i < MALL_ARRAY_LEN(map); i++) {
        if (strcmp(s, map[i].word) == 0) {
            return map[i].st;
        }
    }
    return REFUND_NONE;
}


static int
terminal(refund_status_e s)
{
    return s == REFUND_SUCCESS || s == REFUND_CLOSED || s == REFUND_FAILED;
}


int
refund_load(mall_ctx_t *ctx, const char *no, int watch, refund_rec_t *r,
    mall_err_t *err)
{
    static const char *const  fields[] = {
        "order_id", "status", "amount", "total", "attempts", "refund_id",
        "reason", "accepted", "aftersale_id"
    };
    char         key[ORDER_KEY_MAX];
    redisReply  *f;
    int          rc;

    memset(r, 0, sizeof(*r));
    snprintf(r->no, sizeof(r->no), "%s", no);
    order_key(key, sizeof(key), PAY_KEY_REFUND, no, NULL);
    rc = mall_hmget(ctx->redis, key, watch, fields, MALL_ARRAY_LEN(fields),
                    &f, err);
    if (rc != MALL_OK) {
        return rc;
    }
    if (f->element[0]->type == REDIS_REPLY_STRING
        && f->element[1]->type == REDIS_REPLY_STRING)
    {
        snprintf(r->oid, sizeof(r->oid), "%s", f->element[0]->str);
        r->status = status_parse(f->element[1]->str);
        r->amount = order_reply_int(f->element[2], 0);
        r->total = order_reply_int(f->element[3], 0);
        r->attempts = order_reply_int(f->element[4], 0);
        if (f->element[5]->type == REDIS_REPLY_STRING) {
            snprintf(r->refund_id, sizeof(r->refund_id), "%s",
                     f->element[5]->str);
        }
        if (f->element[6]->type == REDIS_REPLY_STRING) {
            snprintf(r->reason, sizeof(r->reason), "%s", f->element[6]->str);
        }
        r->accepted = f->element[7]->type == REDIS_REPLY_STRING;
        r->aftersale = order_reply_int(f->element[8], 0);
    }
    freeReplyObject(f);
    return MALL_OK;
}


/* ------------------------------------------------------------ applying */

typedef struct {
    const wxpay_refund_t  *r;
    const char            *source;
    refund_rec_t           rec;
    refund_status_e        to;
    pay_outcome_e          outcome;
    const char            *why;
    int                    stock_back;
    mall_err_t            *err;
} apply_t;


/* 1 when the goods of h never left (a full refund returns the stock). */
static int
not_shipped(const order_head_t *h)
{
    return h->status == ORDER_ST_PAID
           || (h->status == ORDER_ST_REFUND_REQUESTED
               && h->refund_from == ORDER_ST_PAID);
}


/* The refund's own record and the day's ledger entry. */
static void
batch_record(mall_batch_t *b, const apply_t *a)
{
    char     key[ORDER_KEY_MAX], now[24], day[9], entry[120];
    int64_t  accepted;

    order_key(key, sizeof(key), PAY_KEY_REFUND, a->rec.no, NULL);
    snprintf(now, sizeof(now), "%lld", (long long) time(NULL));
    mall_batch_addl(b, 8, "HSET", key, "status", refund_status_name(a->to),
                    "updated_at", now, "refund_id", a->r->refund_id);
    if (a->r->success_time[0] != '\0') {
        mall_batch_addl(b, 4, "HSET", key, "success_time",
                        a->r->success_time);
    }
    if (!a->rec.accepted) {
        /* WeChat accepted it: the bill lists it on that day */
        if (a->r->create_time[0] == '\0'
            || wxpay_time_parse(a->r->create_time, &accepted) != MALL_OK)
        {
            accepted = (int64_t) time(NULL);
        }
        wxpay_day_key(accepted, day);
        mall_batch_addl(b, 4, "HSET", key, "accepted", day);
        order_key(key, sizeof(key), PAY_KEY_REFUND_DAY, day, NULL);
        snprintf(entry, sizeof(entry), "%s %lld", a->r->refund_id,
                 (long long) a->rec.amount);
        mall_batch_addl(b, 4, "HSET", key, a->rec.no, entry);
    }
}


/* What a successful refund does to its order (and its after-sale). */
static void
batch_success(mall_batch_t *b, const order_head_t *h, apply_t *a)
{
    char            key[ORDER_KEY_MAX], fen[24];
    order_status_e  to;
    order_event_e   ev = ORDER_EV_REFUND_DONE;

    order_key(key, sizeof(key), ORDER_KEY_ORDER, h->id, NULL);
    snprintf(fen, sizeof(fen), "%lld", (long long) a->rec.amount);
    mall_batch_addl(b, 4, "HINCRBY", key, "refunded_fen", fen);
    if (a->rec.aftersale != 0) {
        aftersale_batch_refunded(b, h, a->rec.aftersale);
    }
    if (h->refunded + a->rec.amount < h->pay_total) {
        if (a->rec.aftersale == 0 || h->status != ORDER_ST_REFUND_REQUESTED) {
            return;                         /* partial: the order stays */
        }
        ev = ORDER_EV_REFUND_PARTIAL;       /* back to where it was */
    }
    to = order_state_next(h->status, ev, ORDER_ACTOR_SYSTEM, h->refund_from);
    if (to != ORDER_ST_NONE) {
        order_batch_transition(b, h, to, ev, ORDER_ACTOR_SYSTEM, "wechat");
    }
}


static int
apply_reject(apply_t *a, const char *why)
{
    a->outcome = PAY_REJECTED;
    a->why = why;
    return ORDER_PLAN_NONE;
}


static int
apply_plan(mall_ctx_t *ctx, const order_head_t *h, mall_batch_t *b,
    void *arg)
{
    apply_t        *a = arg;
    char            okey[ORDER_KEY_MAX], fen[24];
    int             rc;

    rc = refund_load(ctx, a->r->out_refund_no, 1, &a->rec, a->err);
    if (rc != MALL_OK) {
        return rc;
    }
    if (h->status == ORDER_ST_NONE || a->rec.status == REFUND_NONE
        || strcmp(a->rec.oid, h->id) != 0)
    {
        return apply_reject(a, "unknown_refund");
    }
    if (a->r->refund != a->rec.amount) {
        return apply_reject(a, "refund_amount_mismatch");
    }
    a->to = status_of_wechat(a->r->status);
    if (a->to == REFUND_NONE) {
        return apply_reject(a, "unknown_refund_status");
    }
    if (terminal(a->rec.status) || a->rec.status == a->to) {
        a->outcome = PAY_DUPLICATE;
        return ORDER_PLAN_NONE;
    }

    a->stock_back = a->to == REFUND_SUCCESS && not_shipped(h)
                    && h->refunded + a->rec.amount >= h->pay_total;
    if (a->stock_back) {
        order_batch_release(b, h);          /* first: see follow-up */
    }
    batch_record(b, a);
    order_key(okey, sizeof(okey), ORDER_KEY_ORDER, h->id, NULL);
    snprintf(fen, sizeof(fen), "-%lld", (long long) a->rec.amount);
    switch (a->to) {
    case REFUND_PROCESSING:
        snprintf(fen, sizeof(fen), "%lld", (long long) time(NULL)
                 + ctx->conf->pay.refund_retry);
        mall_batch_addl(b, 4, "ZADD", PAY_KEY_REFUNDS_DUE, fen, a->rec.no);
        break;
    case REFUND_SUCCESS:
        mall_batch_addl(b, 3, "ZREM", PAY_KEY_REFUNDS_DUE, a->rec.no);
        batch_success(b, h, a);
        break;
    case REFUND_CLOSED:
        mall_batch_addl(b, 3, "ZREM", PAY_KEY_REFUNDS_DUE, a->rec.no);
        mall_batch_addl(b, 4, "HINCRBY", okey, "refund_reserved_fen", fen);
        break;
    default:                                /* abnormal */
        mall_batch_addl(b, 3, "ZREM", PAY_KEY_REFUNDS_DUE, a->rec.no);
        pay_batch_anomaly(b, &(pay_anomaly_t) {
            .kind = "refund_abnormal",
            .out_trade_no = h->id,
            .out_refund_no = a->rec.no,
            .detail = "WeChat could not pay the refund out; settle it by hand",
        });
        break;
    }
    if (a->to != REFUND_PROCESSING) {
        /* the result, whichever it is, is the buyer's to know */
        notify_batch_event(b, NOTIFY_EV_REFUND, h->id, a->rec.no);
    }
    if (a->stock_back) {
        order_batch_thresholds(b, h);       /* last: see follow-up */
    }
    a->outcome = PAY_APPLIED;
    return MALL_OK;
}


int
refund_apply(mall_ctx_t *ctx, const wxpay_refund_t *r, const char *source,
    const char *nid, pay_outcome_e *outcome, mall_err_t *err)
{
    order_head_t    h;
    redisReply     *exec;
    apply_t         a;
    int             rc;

    memset(&a, 0, sizeof(a));
    a.r = r;
    a.source = source;
    a.err = err;
    if ((r->mchid[0] != '\0' && strcmp(r->mchid, ctx->conf->pay.mchid) != 0)
        || !order_id_valid(r->out_trade_no))
    {
        rc = ORDER_PLAN_NONE;
        apply_reject(&a, r->mchid[0] != '\0'
                         && strcmp(r->mchid, ctx->conf->pay.mchid) != 0
                         ? "wrong_mchid" : "unknown_refund");
    } else {
        rc = order_update(ctx, r->out_trade_no, apply_plan, &a, &h, &exec,
                          err);
    }
    if (rc == MALL_BATCH_ABORTED) {
        mall_err_set(err, 503, "order %s keeps changing", r->out_trade_no);
        return MALL_RETRY;
    }
    if (rc != MALL_OK && rc != ORDER_PLAN_NONE) {
        return rc;
    }
    *outcome = a.outcome;
    if (a.outcome == PAY_REJECTED) {
        pay_anomaly(ctx, &(pay_anomaly_t) {
            .kind = a.why,
            .out_trade_no = r->out_trade_no,
            .out_refund_no = r->out_refund_no,
            .notification = nid,
            .detail = source,
        });
        mall_err_set(err, 400, "%s", a.why);
        return MALL_OK;
    }
    if (rc == MALL_OK) {
        if (a.stock_back) {
            order_release_follow_up(ctx, &h, exec);
        }
        freeReplyObject(exec);
        mall_log_req(MALL_LOG_INFO, "pay", ctx->request_id, h.uid,
                     "refund %s of order %s: %s (%s)", a.rec.no, h.id,
                     refund_status_name(a.to), source);
    }
    return MALL_OK;
}


/* ----------------------------------------------------------- submitting */

/* No answer: due again later (doubling), one more attempt counted. */
static void
reschedule(mall_ctx_t *ctx, const refund_rec_t *rec, const char *why)
{
    char          key[ORDER_KEY_MAX], when[24];
    int64_t       delay;
    mall_batch_t  b;
    mall_err_t    err;

    delay = (int64_t) ctx->conf->pay.refund_retry
            << (rec->attempts < 10 ? rec->attempts : 10);
    if (delay > REFUND_RETRY_MAX) {
        delay = REFUND_RETRY_MAX;
    }
    snprintf(when, sizeof(when), "%lld", (long long) time(NULL) + delay);
    order_key(key, sizeof(key), PAY_KEY_REFUND, rec->no, NULL);
    mall_batch_init(&b);
    mall_batch_addl(&b, 4, "HINCRBY", key, "attempts", "1");
    mall_batch_addl(&b, 4, "HSET", key, "error", why);
    mall_batch_addl(&b, 4, "ZADD", PAY_KEY_REFUNDS_DUE, when, rec->no);
    err.msg[0] = '\0';
    if (mall_batch_exec(&b, ctx->redis, 0, NULL, &err) != MALL_OK) {
        mall_log(MALL_LOG_WARN, "pay", "refund %s: %s", rec->no, err.msg);
    }
    mall_batch_free(&b);
}


typedef struct {
    const char    *no;
    const char    *code;
    refund_rec_t   rec;
    mall_err_t    *err;
} failed_t;


static int
failed_plan(mall_ctx_t *ctx, const order_head_t *h, mall_batch_t *b,
    void *arg)
{
    failed_t       *f = arg;
    char            key[ORDER_KEY_MAX], fen[24], now[24], detail[96];
    int             rc;

    rc = refund_load(ctx, f->no, 1, &f->rec, f->err);
    if (rc != MALL_OK) {
        return rc;
    }
    if (f->rec.status != REFUND_SUBMITTING || strcmp(f->rec.oid, h->id) != 0)
    {
        return ORDER_PLAN_NONE;
    }
    order_key(key, sizeof(key), ORDER_KEY_ORDER, h->id, NULL);
    snprintf(fen, sizeof(fen), "-%lld", (long long) f->rec.amount);
    mall_batch_addl(b, 4, "HINCRBY", key, "refund_reserved_fen", fen);
    order_key(key, sizeof(key), PAY_KEY_REFUND, f->no, NULL);
    snprintf(now, sizeof(now), "%lld", (long long) time(NULL));
    mall_batch_addl(b, 8, "HSET", key, "status", "failed", "error", f->code,
                    "updated_at", now);
    mall_batch_addl(b, 3, "ZREM", PAY_KEY_REFUNDS_DUE, f->no);
    snprintf(detail, sizeof(detail), "WeChat refused the refund: %s",
             f->code);
    pay_batch_anomaly(b, &(pay_anomaly_t) {
        .kind = "refund_refused",
        .out_trade_no = h->id,
        .out_refund_no = f->no,
        .detail = detail,
    });
    notify_batch_event(b, NOTIFY_EV_REFUND, h->id, f->no);
    return MALL_OK;
}


/* WeChat refused the request for good: failed, reservation freed. */
static int
mark_failed(mall_ctx_t *ctx, const refund_rec_t *rec, const char *code,
    mall_err_t *err)
{
    order_head_t   h;
    redisReply    *exec;
    failed_t       f;
    int            rc;

    memset(&f, 0, sizeof(f));
    f.no = rec->no;
    f.code = code[0] != '\0' ? code : "refused";
    f.err = err;
    rc = order_update(ctx, rec->oid, failed_plan, &f, &h, &exec, err);
    if (rc == MALL_OK) {
        freeReplyObject(exec);
        mall_log_req(MALL_LOG_WARN, "pay", ctx->request_id, h.uid,
                     "refund %s of order %s refused by WeChat: %s", rec->no,
                     rec->oid, f.code);
    }
    return rc == ORDER_PLAN_NONE ? MALL_OK : rc;
}


/* The refund request body of rec. NULL when memory runs out. */
static char *
refund_body(const mall_conf_t *conf, const refund_rec_t *rec)
{
    cJSON  *o, *amount;
    char   *text;

    o = cJSON_CreateObject();
    amount = cJSON_CreateObject();
    text = NULL;
    if (o != NULL && amount != NULL
        && mall_json_add_str(o, "out_trade_no", rec->oid) == MALL_OK
        && mall_json_add_str(o, "out_refund_no", rec->no) == MALL_OK
        && (rec->reason[0] == '\0'
            || mall_json_add_str(o, "reason", rec->reason) == MALL_OK)
        && mall_json_add_str(o, "notify_url", conf->pay.notify_url)
           == MALL_OK
        && mall_json_add_int(amount, "refund", rec->amount) == MALL_OK
        && mall_json_add_int(amount, "total", rec->total) == MALL_OK
        && mall_json_add_str(amount, "currency", "CNY") == MALL_OK
        && cJSON_AddItemToObject(o, "amount", amount))
    {
        amount = NULL;
        text = cJSON_PrintUnformatted(o);
    }
    cJSON_Delete(amount);
    cJSON_Delete(o);
    return text;
}


/* Error codes after which the same request may succeed later. */
static int
code_retryable(const char *code)
{
    return strcmp(code, "NOT_ENOUGH") == 0
           || strcmp(code, "FREQUENCY_LIMITED") == 0
           || strcmp(code, "SYSTEM_ERROR") == 0
           || strcmp(code, "SIGN_ERROR") == 0;
}


int
refund_submit(mall_ctx_t *ctx, const char *no, mall_err_t *err)
{
    refund_rec_t     rec;
    wxpay_answer_t   ans;
    wxpay_refund_t   r;
    pay_outcome_e    outcome;
    char             path[160], *body;
    int              rc;

    rc = refund_load(ctx, no, 0, &rec, err);
    if (rc != MALL_OK) {
        return rc;
    }
    if (rec.status != REFUND_SUBMITTING && rec.status != REFUND_PROCESSING) {
        return MALL_OK;                     /* settled, or none */
    }
    if (rec.status == REFUND_SUBMITTING) {
        body = refund_body(ctx->conf, &rec);
        if (body == NULL) {
            return mall_err_set(err, 500, "out of memory");
        }
        rc = wxpay_call(ctx->conf, "POST", "/v3/refund/domestic/refunds",
                        body, &ans, err);
        cJSON_free(body);
    } else {
        snprintf(path, sizeof(path), "/v3/refund/domestic/refunds/%s", no);
        rc = wxpay_call(ctx->conf, "GET", path, NULL, &ans, err);
    }
    if (rc != MALL_OK) {
        reschedule(ctx, &rec, err->msg);
        return rc;
    }
    if (ans.status == 200
        && wxpay_refund_parse(ans.json, &r, err) == MALL_OK
        && strcmp(r.out_refund_no, no) == 0)
    {
        rc = refund_apply(ctx, &r, rec.status == REFUND_SUBMITTING
                                   ? "answer" : "query", NULL, &outcome, err);
        if (rc == MALL_OK && outcome == PAY_DUPLICATE
            && rec.status == REFUND_PROCESSING)
        {
            reschedule(ctx, &rec, "still processing");
        }
    } else if (ans.status >= 400 && ans.status < 500
               && rec.status == REFUND_SUBMITTING
               && !code_retryable(ans.code))
    {
        rc = mark_failed(ctx, &rec, ans.code, err);
    } else {
        mall_err_set(err, 0, "refund %s: HTTP %ld %s", no, ans.status,
                     ans.code);
        reschedule(ctx, &rec, err->msg);
        rc = MALL_RETRY;
    }
    wxpay_answer_free(&ans);
    return rc;
}


int
refund_run_due(mall_ctx_t *ctx, size_t max, mall_err_t *err)
{
    char          now[24], n[16], key[ORDER_KEY_MAX];
    redisReply   *due, *claim;
    size_t        i;
    int           rc;

    snprintf(now, sizeof(now), "%lld", (long long) time(NULL));
    snprintf(n, sizeof(n), "%zu", max);
    rc = mall_cmd(ctx->redis, &due, err, 7, "ZRANGEBYSCORE",
                  PAY_KEY_REFUNDS_DUE, "-inf", now, "LIMIT", "0", n);
    if (rc != MALL_OK) {
        return rc;
    }
    for (i = 0; due->type == REDIS_REPLY_ARRAY && i < due->elements; i++) {
        const char  *no = due->element[i]->str;
        char         ttl[16];

        snprintf(key, sizeof(key), PAY_KEY_REFUND ":claim", no);
        snprintf(ttl, sizeof(ttl), "%d", REFUND_CLAIM_S);
        rc = mall_cmd(ctx->redis, &claim, err, 6, "SET", key, "1", "NX",
                      "EX", ttl);
        if (rc != MALL_OK) {
            break;
        }
        if (claim->type == REDIS_REPLY_STATUS) {
            (void) refund_submit(ctx, no, err);
        }
        freeReplyObject(claim);
    }
    freeReplyObject(due);
    return rc == MALL_RETRY ? rc : MALL_OK;
}
