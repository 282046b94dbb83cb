/*
 * Builds and sends one subscription message (see notify.h): the data
 * comes from the order (and the refund) as it is now, the template from
 * the worker conf, the permission from the buyer's one-time
 * subscriptions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth_wechat.h"
#include "mall_batch.h"
#include "mall_json.h"
#include "notify.h"
#include "notify_send.h"
#include "order_keys.h"
#include "order_store.h"
#include "pay_keys.h"

/* the fields the sources read, in HMGET order: the order's, the refund's */
enum { F_UID, F_ITEMS, F_TOTAL, F_CARRIER, F_TRACKING, F_STATUS, F_N };
enum { R_AMOUNT, R_STATUS, R_N };

typedef struct {
    notify_event_e   ev;
    char             oid[ORDER_KEY_MAX];
    char             ref[NOTIFY_MSG_MAX];     /* out_refund_no or "" */
    char             mkey[NOTIFY_MSG_MAX + 32];
    redisReply      *order;                   /* F_N fields */
    redisReply      *refund;                  /* R_N fields, or NULL */
    redisReply      *msg;                     /* attempts, consumed */
    redisReply      *openid;
} msg_t;

static const struct {
    const char  *name;
    const char  *text;
} status_texts[] = {
    { "unpaid", "待支付" }, { "paid", "已支付" }, { "shipped", "已发货" },
    { "received", "已收货" }, { "completed", "已完成" },
    { "cancelled", "已取消" }, { "refund_requested", "退款中" },
    { "refunded", "已退款" }, { "success", "退款成功" },
    { "closed", "退款关闭" }, { "abnormal", "退款异常" },
    { "failed", "退款失败" }
};


static const char *
str_of(const redisReply *r)
{
    return r != NULL && r->type == REDIS_REPLY_STRING ? r->str : "";
}


static const char *
field(const redisReply *arr, size_t i)
{
    return arr != NULL && arr->type == REDIS_REPLY_ARRAY && i < arr->elements
           ? str_of(arr->element[i]) : "";
}


/* Copies at most max UTF-8 code points of s (WeChat's field limits). */
static void
clip(char *dst, size_t sz, const char *s, size_t max)
{
    size_t  i, cps;

    for (i = 0, cps = 0; s[i] != '\0' && i + 4 < sz; i++) {
        if (((unsigned char) s[i] & 0xc0) != 0x80 && ++cps > max) {
            break;
        }
        dst[i] = s[i];
    }
    dst[i] = '\0';
}


static void
status_text(const char *s, char *out, size_t sz)
{
    size_t  i;

    for (i = 0; i < MALL_ARRAY_LEN(status_texts); i++) {
        if (strcmp(s, status_texts[i].name) == 0) {
            snprintf(out, sz, "%s", status_texts[i].text);
            return;
        }
    }
    snprintf(out, sz, "%s", s);
}


static void
source_value(const char *src, const msg_t *g, char *out, size_t sz)
{
    cJSON         *items;
    const cJSON   *name;
    long long      fen;
    time_t         now;
    struct tm      tm;
    int            refund = g->refund != NULL;

    out[0] = '\0';
    if (strcmp(src, "order_id") == 0) {
        snprintf(out, sz, "%s", g->oid);
    } else if (strcmp(src, "amount") == 0) {
        fen = strtoll(refund ? field(g->refund, R_AMOUNT)
                             : field(g->order, F_TOTAL), NULL, 10);
        snprintf(out, sz, "%lld.%02lld元", fen / 100, fen % 100);
    } else if (strcmp(src, "carrier") == 0) {
        snprintf(out, sz, "%s", field(g->order, F_CARRIER));
    } else if (strcmp(src, "tracking_no") == 0) {
        snprintf(out, sz, "%s", field(g->order, F_TRACKING));
    } else if (strcmp(src, "status") == 0) {
        status_text(refund ? field(g->refund, R_STATUS)
                           : field(g->order, F_STATUS), out, sz);
    } else if (strcmp(src, "time") == 0) {
        now = time(NULL);
        localtime_r(&now, &tm);
        strftime(out, sz, "%Y-%m-%d %H:%M:%S", &tm);
    } else {                                        /* product */
        items = cJSON_Parse(field(g->order, F_ITEMS));
        name = cJSON_GetObjectItemCaseSensitive(
                   cJSON_GetArrayItem(items, 0), "name");
        if (cJSON_IsString(name)) {
            snprintf(out, sz, "%s", name->valuestring);
        }
        cJSON_Delete(items);
    }
}


/* The request body of /cgi-bin/message/subscribe/send (caller frees). */
static char *
message_body(const notify_conf_t *c, const notify_template_t *t,
    const msg_t *g)
{
    cJSON   *o, *data, *v;
    char     page[256], raw[256], val[160], *json;
    size_t   i, max;

    snprintf(page, sizeof(page), "%s?id=%s", t->page, g->oid);
    o = cJSON_CreateObject();
    data = NULL;
    if (o == NULL
        || mall_json_add_str(o, "touser", str_of(g->openid)) != MALL_OK
        || mall_json_add_str(o, "template_id", t->template_id) != MALL_OK
        || mall_json_add_str(o, "page", page) != MALL_OK
        || (data = cJSON_AddObjectToObject(o, "data")) == NULL
        || mall_json_add_str(o, "miniprogram_state", c->state) != MALL_OK
        || mall_json_add_str(o, "lang", c->lang) != MALL_OK)
    {
        cJSON_Delete(o);
        return NULL;
    }
    for (i = 0; i < t->nfields; i++) {
        source_value(t->fields[i].source, g, raw, sizeof(raw));
        /* WeChat's limits per data type: thing 20, phrase 5, name 10,
           the others 32 */
        max = strncmp(t->fields[i].key, "thing", 5) == 0 ? 20
              : strncmp(t->fields[i].key, "phrase", 6) == 0 ? 5
              : strncmp(t->fields[i].key, "name", 4) == 0 ? 10 : 32;
        clip(val, sizeof(val), raw, max);
        v = cJSON_AddObjectToObject(data, t->fields[i].key);
        if (v == NULL || mall_json_add_str(v, "value", val) != MALL_OK) {
            cJSON_Delete(o);
            return NULL;
        }
    }
    json = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return json;
}


/*
 * Spends one of uid's subscriptions of tpl, once per message (marked in
 * the message record in the same MULTI, so a retry does not spend
 * another). 1 when allowed, 0 when none is left, -1 when Redis failed.
 */
static int
spend(mall_ctx_t *ctx, const char *uid, const char *tpl, const msg_t *g,
    mall_err_t *err)
{
    mall_batch_t   b;
    redisReply    *exec, *r;
    char           key[ORDER_KEY_MAX + 32];
    long long      left;

    if (field(g->msg, 1)[0] == '1') {
        return 1;                       /* spent by an earlier attempt */
    }
    order_key(key, sizeof(key), NOTIFY_KEY_SUBS, uid, NULL);
    mall_batch_init(&b);
    mall_batch_addl(&b, 4, "HINCRBY", key, tpl, "-1");
    mall_batch_addl(&b, 4, "HSET", g->mkey, "consumed", "1");
    if (mall_batch_exec(&b, ctx->redis, 1, &exec, err) != MALL_OK) {
        mall_batch_free(&b);
        return -1;
    }
    mall_batch_free(&b);
    left = exec->type == REDIS_REPLY_ARRAY && exec->elements == 2
           && exec->element[0]->type == REDIS_REPLY_INTEGER
           ? exec->element[0]->integer : -1;
    freeReplyObject(exec);
    if (left >= 0) {
        return 1;
    }
    /* none was left: undo both */
    mall_batch_init(&b);
    mall_batch_addl(&b, 4, "HINCRBY", key, tpl, "1");
    mall_batch_addl(&b, 3, "HDEL", g->mkey, "consumed");
    if (mall_batch_exec(&b, ctx->redis, 1, &r, err) == MALL_OK) {
        freeReplyObject(r);
    }
    mall_batch_free(&b);
    return 0;
}


/* Reads the order, the refund, the message record and the buyer. */
static int
load(mall_ctx_t *ctx, msg_t *g, mall_err_t *err)
{
    char  key[ORDER_KEY_MAX + 32];
    int   rc;

    order_key(key, sizeof(key), ORDER_KEY_ORDER, g->oid, NULL);
    rc = mall_cmd(ctx->redis, &g->order, err, 8, "HMGET", key, "user_id",
                  "items", "total_fen", "carrier", "tracking_no", "status");
    if (rc == MALL_OK) {
        rc = mall_cmd(ctx->redis, &g->msg, err, 4, "HMGET", g->mkey,
                      "attempts", "consumed");
    }
    if (rc == MALL_OK && g->ref[0] != '\0') {
        order_key(key, sizeof(key), PAY_KEY_REFUND, g->ref, NULL);
        rc = mall_cmd(ctx->redis, &g->refund, err, 4, "HMGET", key,
                      "amount", "status");
    }
    if (rc == MALL_OK && field(g->order, F_UID)[0] != '\0') {
        snprintf(key, sizeof(key), "mall:user:%s", field(g->order, F_UID));
        rc = mall_cmd(ctx->redis, &g->openid, err, 3, "HGET", key,
                      "openid");
    }
    return rc;
}


/* "{event}:{order}[:{ref}]" into g; MALL_ERR when malformed. */
static int
parse(const char *m, msg_t *g)
{
    char         ev[16];
    const char  *a, *b;

    a = strchr(m, ':');
    if (a == NULL || (size_t) (a - m) >= sizeof(ev)) {
        return MALL_ERR;
    }
    memcpy(ev, m, (size_t) (a - m));
    ev[a - m] = '\0';
    g->ev = notify_event_parse(ev);
    b = strchr(a + 1, ':');
    if (b == NULL) {
        b = a + 1 + strlen(a + 1);
    } else {
        snprintf(g->ref, sizeof(g->ref), "%s", b + 1);
    }
    if (g->ev == NOTIFY_EV_COUNT || (size_t) (b - a - 1) >= sizeof(g->oid)
        || (g->ev == NOTIFY_EV_REFUND) != (g->ref[0] != '\0'))
    {
        return MALL_ERR;
    }
    memcpy(g->oid, a + 1, (size_t) (b - a - 1));
    g->oid[b - a - 1] = '\0';
    snprintf(g->mkey, sizeof(g->mkey), NOTIFY_KEY_MSG, m);
    return order_id_valid(g->oid) ? MALL_OK : MALL_ERR;
}


/* What WeChat's answer means for the message. */
static void
outcome(const notify_conf_t *c, int rc, const mall_err_t *err,
    notify_result_t *res)
{
    if (rc == MALL_OK && res->errcode == 0) {
        res->status = "sent";
    } else if (rc == MALL_OK && res->errcode == 43101) {
        res->status = "refused";            /* the buyer said no */
    } else if (rc == MALL_OK && (res->errcode == 40037
                                 || res->errcode == 47003))
    {
        res->status = "failed";             /* the conf is wrong */
    } else {
        res->status = res->attempts < c->retry_max ? "retry" : "failed";
    }
    snprintf(res->detail, sizeof(res->detail), "%s",
             rc == MALL_OK ? "" : err->msg);
}


void
notify_send(mall_ctx_t *ctx, const char *m, notify_result_t *res)
{
    const notify_conf_t      *c = &ctx->conf->notify;
    const notify_template_t  *t;
    cJSON                    *answer;
    mall_err_t                err;
    msg_t                     g;
    char                     *json;
    int                       ok;

    memset(res, 0, sizeof(*res));
    memset(&g, 0, sizeof(g));
    res->status = "failed";
    err.msg[0] = '\0';
    if (parse(m, &g) != MALL_OK) {
        snprintf(res->detail, sizeof(res->detail), "malformed entry");
        return;
    }
    t = &c->tpl[g.ev];
    if (t->template_id[0] == '\0') {
        res->status = "skipped";
        snprintf(res->detail, sizeof(res->detail), "no template for %s",
                 notify_event_name(g.ev));
        return;
    }
    if (load(ctx, &g, &err) != MALL_OK) {
        res->status = "retry";
        snprintf(res->detail, sizeof(res->detail), "%s", err.msg);
        goto done;
    }
    res->attempts = (int) strtol(field(g.msg, 0), NULL, 10) + 1;
    if (str_of(g.openid)[0] == '\0') {
        snprintf(res->detail, sizeof(res->detail), "no such order or buyer");
        goto done;
    }
    ok = spend(ctx, field(g.order, F_UID), t->template_id, &g, &err);
    if (ok <= 0) {
        res->status = ok < 0 ? "retry" : "not_subscribed";
        res->attempts--;
        snprintf(res->detail, sizeof(res->detail), "%s",
                 ok < 0 ? err.msg : "the buyer has no subscription left");
        goto done;
    }
    json = message_body(c, t, &g);
    if (json == NULL) {
        res->status = "retry";
        snprintf(res->detail, sizeof(res->detail), "out of memory");
        goto done;
    }
    answer = NULL;
    ok = auth_wx_call(ctx->redis, &ctx->conf->auth,
                      "/cgi-bin/message/subscribe/send", json, &res->errcode,
                      &answer, &err);
    cJSON_free(json);
    cJSON_Delete(answer);
    outcome(c, ok, &err, res);

done:
    freeReplyObject(g.order);
    freeReplyObject(g.refund);
    freeReplyObject(g.msg);
    freeReplyObject(g.openid);
}
