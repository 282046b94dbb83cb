/*
 * Builds and sends one subscription message (see notify.h): the data
 * comes from the order as it is now, the template from the worker conf,
 * the permission from the buyer's one-time subscriptions.
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

/* the fields of the order the sources read, in HMGET order */
enum { F_UID, F_ITEMS, F_TOTAL, F_CARRIER, F_TRACKING, F_STATUS, F_N };


static const char *
str_of(const redisReply *r)
{
    return r != NULL && r->type == REDIS_REPLY_STRING ? r->str : "";
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
source_value(const char *src, const char *oid, redisReply **f, char *out,
    size_t sz)
{
    cJSON         *items;
    const cJSON   *name;
    long long      fen;
    time_t         now;
    struct tm      tm;

    out[0] = '\0';
    if (strcmp(src, "order_id") == 0) {
        snprintf(out, sz, "%s", oid);
    } else if (strcmp(src, "amount") == 0) {
        fen = strtoll(str_of(f[F_TOTAL]), NULL, 10);
        snprintf(out, sz, "%lld.%02lld元", fen / 100, fen % 100);
    } else if (strcmp(src, "carrier") == 0) {
        snprintf(out, sz, "%s", str_of(f[F_CARRIER]));
    } else if (strcmp(src, "tracking_no") == 0) {
        snprintf(out, sz, "%s", str_of(f[F_TRACKING]));
    } else if (strcmp(src, "status") == 0) {
        snprintf(out, sz, "%s", str_of(f[F_STATUS]));
    } else if (strcmp(src, "time") == 0) {
        now = time(NULL);
        localtime_r(&now, &tm);
        strftime(out, sz, "%Y-%m-%d %H:%M:%S", &tm);
    } else {                                        /* product */
        items = cJSON_Parse(str_of(f[F_ITEMS]));
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
    const char *openid, const char *oid, redisReply **f)
{
    cJSON   *o, *data, *v;
    char     page[256], raw[256], val[128], *json;
    size_t   i, max;

    snprintf(page, sizeof(page), "%s?id=%s", t->page, oid);
    o = cJSON_CreateObject();
    if (o == NULL || mall_json_add_str(o, "touser", openid) != MALL_OK
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
        source_value(t->fields[i].source, oid, f, raw, sizeof(raw));
        /* WeChat's limits per data type: thing 20, others 32 */
        max = strncmp(t->fields[i].key, "thing", 5) == 0 ? 20 : 32;
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
 * Spends one of uid's subscriptions of tpl once per message (kept in the
 * message record, so a retry does not spend another). 1 when allowed.
 */
static int
spend(mall_ctx_t *ctx, const char *uid, const char *tpl, const char *mkey,
    int consumed, mall_err_t *err)
{
    redisReply  *r;
    char         key[128];
    long long    left;

    if (consumed) {
        return 1;
    }
    snprintf(key, sizeof(key), NOTIFY_KEY_SUBS, uid);
    if (mall_cmd(ctx->redis, &r, err, 4, "HINCRBY", key, tpl, "-1")
        != MALL_OK)
    {
        return -1;
    }
    left = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    if (left < 0) {
        if (mall_cmd(ctx->redis, &r, err, 4, "HINCRBY", key, tpl, "1")
            == MALL_OK)
        {
            freeReplyObject(r);
        }
        return 0;
    }
    if (mall_cmd(ctx->redis, &r, err, 4, "HSET", mkey, "consumed", "1")
        == MALL_OK)
    {
        freeReplyObject(r);
    }
    return 1;
}


/* Reads order, buyer and message record; NULL *st when it can go on. */
static int
load(mall_ctx_t *ctx, const char *oid, const char *mkey, redisReply **order,
    redisReply **msg, redisReply **user, mall_err_t *err)
{
    char  okey[96], ukey[128];
    int   rc;

    *order = *msg = *user = NULL;
    snprintf(okey, sizeof(okey), "mall:order:%s", oid);
    rc = mall_cmd(ctx->redis, order, err, 8, "HMGET", okey, "user_id",
                  "items", "total_fen", "carrier", "tracking_no", "status");
    if (rc == MALL_OK) {
        rc = mall_cmd(ctx->redis, msg, err, 4, "HMGET", mkey, "attempts",
                      "consumed");
    }
    if (rc == MALL_OK && (*order)->type == REDIS_REPLY_ARRAY
        && (*order)->elements == F_N && str_of((*order)->element[F_UID])[0])
    {
        snprintf(ukey, sizeof(ukey), "mall:user:%s",
                 str_of((*order)->element[F_UID]));
        rc = mall_cmd(ctx->redis, user, err, 3, "HGET", ukey, "openid");
    }
    return rc;
}


void
notify_send(mall_ctx_t *ctx, const char *m, notify_result_t *res)
{
    const notify_conf_t      *c = &ctx->conf->notify;
    const notify_template_t  *t;
    redisReply               *order, *msg, *user;
    cJSON                    *answer;
    mall_err_t                err;
    char                      ev[16], mkey[96], *json;
    const char               *oid, *colon;
    int                       ok;

    memset(res, 0, sizeof(*res));
    res->status = "failed";
    err.msg[0] = '\0';
    colon = strchr(m, ':');
    if (colon == NULL || (size_t) (colon - m) >= sizeof(ev)) {
        snprintf(res->detail, sizeof(res->detail), "malformed entry");
        return;
    }
    memcpy(ev, m, (size_t) (colon - m));
    ev[colon - m] = '\0';
    oid = colon + 1;
    snprintf(mkey, sizeof(mkey), NOTIFY_KEY_MSG, m);
    if (notify_event_parse(ev) == NOTIFY_EV_COUNT) {
        snprintf(res->detail, sizeof(res->detail), "unknown event");
        return;
    }
    t = &c->tpl[notify_event_parse(ev)];
    if (t->template_id[0] == '\0') {
        res->status = "skipped";
        snprintf(res->detail, sizeof(res->detail), "no template for %s", ev);
        return;
    }
    if (load(ctx, oid, mkey, &order, &msg, &user, &err) != MALL_OK) {
        res->status = "retry";
        snprintf(res->detail, sizeof(res->detail), "%s", err.msg);
        goto done;
    }
    if (user == NULL || str_of(user)[0] == '\0') {
        snprintf(res->detail, sizeof(res->detail), "no such order or buyer");
        goto done;
    }
    res->attempts = (int) strtol(str_of(msg->element[0]), NULL, 10) + 1;
    ok = spend(ctx, str_of(order->element[F_UID]), t->template_id, mkey,
               str_of(msg->element[1])[0] == '1', &err);
    if (ok <= 0) {
        res->status = ok < 0 ? "retry" : "not_subscribed";
        res->attempts--;
        goto done;
    }
    json = message_body(c, t, str_of(user), oid, order->element);
    if (json == NULL) {
        res->status = "retry";
        goto done;
    }
    answer = NULL;
    ok = auth_wx_call(ctx->redis, &ctx->conf->auth,
                      "/cgi-bin/message/subscribe/send", json, &res->errcode,
                      &answer, &err);
    cJSON_free(json);
    cJSON_Delete(answer);
    if (ok == MALL_OK && res->errcode == 0) {
        res->status = "sent";
    } else if (ok == MALL_OK && res->errcode == 43101) {
        res->status = "refused";            /* the buyer said no */
    } else if (ok == MALL_OK && (res->errcode == 40037
                                 || res->errcode == 47003))
    {
        res->status = "failed";             /* the conf is wrong */
    } else {
        res->status = res->attempts < c->retry_max ? "retry" : "failed";
    }
    snprintf(res->detail, sizeof(res->detail), "%s",
             ok == MALL_OK ? "" : err.msg);

done:
    freeReplyObject(order);
    freeReplyObject(msg);
    freeReplyObject(user);
}
