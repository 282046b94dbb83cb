/*
 * Reconciliation reports in the back office:
 *
 *   GET  /admin/api/v1/payments/reconciliations          recent runs
 *   GET  /admin/api/v1/payments/reconciliations/{date}   one report
 *   POST /admin/api/v1/payments/reconciliations {"date"} run it now (admin;
 *        the date defaults to yesterday, Beijing time)
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mall_json.h"
#include "mall_reply.h"
#include "merchant.h"
#include "order_store.h"
#include "pay_keys.h"
#include "reconcile.h"
#include "storefront.h"
#include "wxpay_time.h"

#define RECENT_LAST  "29"              /* ZREVRANGE 0..29: 30 runs */

static int reconcile_list(mall_ctx_t *ctx);
static int reconcile_get(mall_ctx_t *ctx);
static int reconcile_post(mall_ctx_t *ctx);

const mall_route_t  mall_reconcile_routes[] = {
    { "GET", "/admin/api/v1/payments/reconciliations", reconcile_list, 0 },
    { "GET", "/admin/api/v1/payments/reconciliations/{date}",
      reconcile_get, 0 },
    { "POST", "/admin/api/v1/payments/reconciliations", reconcile_post, 0 },
    { NULL, NULL, NULL, 0 }
};


/* {"reconciliations": [{"date", "ran_at"}, ...]}, newest run first. */
static int
reconcile_list(mall_ctx_t *ctx)
{
    redisReply  *r;
    cJSON       *root, *arr, *o;
    mall_err_t   err;
    long long    at;
    size_t       i;
    int          rc;

    if (merch_role(ctx, 0, "payments.reconciliations") != MALL_OK) {
        return MALL_OK;
    }
    err.msg[0] = '\0';
    rc = mall_cmd(ctx->redis, &r, &err, 5, "ZREVRANGE",
                  PAY_KEY_RECONCILE_RUNS, "0", RECENT_LAST, "WITHSCORES");
    if (rc != MALL_OK) {
        return sf_fail(ctx, rc, "reconciliations", &err);
    }
    root = cJSON_CreateObject();
    arr = root != NULL ? cJSON_AddArrayToObject(root, "reconciliations")
                       : NULL;
    for (i = 0; arr != NULL && r->type == REDIS_REPLY_ARRAY
                && i + 1 < r->elements; i += 2)
    {
        o = cJSON_CreateObject();
        at = 0;
        sscanf(r->element[i + 1]->str, "%lld", &at);
        if (o == NULL
            || mall_json_add_str(o, "date", r->element[i]->str) != MALL_OK
            || mall_json_add_int(o, "ran_at", at) != MALL_OK
            || !cJSON_AddItemToArray(arr, o))
        {
            cJSON_Delete(o);
        }
    }
    freeReplyObject(r);
    if (arr == NULL) {
        cJSON_Delete(root);
        return mall_reply_error(ctx, 500, "INTERNAL", "out of memory");
    }
    rc = mall_reply_json_nostore(ctx, 200, root);
    cJSON_Delete(root);
    return rc;
}


static int
reconcile_get(mall_ctx_t *ctx)
{
    const char  *date = mall_route_param(&ctx->params, "date");
    char         key[ORDER_KEY_MAX];
    redisReply  *r;
    mall_err_t   err;
    int64_t      midnight;
    int          rc;

    if (merch_role(ctx, 0, "payments.reconciliations") != MALL_OK) {
        return MALL_OK;
    }
    if (date == NULL || wxpay_day_parse(date, &midnight) != MALL_OK) {
        return mall_reply_error(ctx, 404, "NOT_FOUND", "no such report");
    }
    err.msg[0] = '\0';
    order_key(key, sizeof(key), PAY_KEY_RECONCILE, date, NULL);
    rc = mall_cmd(ctx->redis, &r, &err, 2, "GET", key);
    if (rc != MALL_OK) {
        return sf_fail(ctx, rc, "reconciliation", &err);
    }
    if (r->type != REDIS_REPLY_STRING) {
        freeReplyObject(r);
        return mall_reply_error(ctx, 404, "NOT_FOUND", "no report for %s "
                                "yet", date);
    }
    mall_reply_header(ctx, "Cache-Control", "no-store");
    rc = mall_reply_raw(ctx, 200, r->str, r->len);
    freeReplyObject(r);
    return rc;
}


static int
reconcile_post(mall_ctx_t *ctx)
{
    char          date[11];
    const cJSON  *d;
    cJSON        *body, *report;
    mall_err_t    err;
    int           rc;

    if (merch_role(ctx, 1, "payments.reconcile") != MALL_OK) {
        return MALL_OK;
    }
    if (!wxpay_conf_enabled(&ctx->conf->pay)) {
        return mall_reply_error(ctx, 503, "UNAVAILABLE", "payments are not "
                                "configured");
    }
    wxpay_day_iso((int64_t) time(NULL) - 86400, date);
    if (ctx->body_len > 0) {
        if (sf_body(ctx, &body) != MALL_OK) {
            return MALL_OK;
        }
        d = cJSON_GetObjectItemCaseSensitive(body, "date");
        if (d != NULL && (!cJSON_IsString(d)
                          || strlen(d->valuestring) != 10))
        {
            cJSON_Delete(body);
            return sf_reply_invalid(ctx, "date", "date must be YYYY-MM-DD");
        }
        if (d != NULL) {
            memcpy(date, d->valuestring, 11);
        }
        cJSON_Delete(body);
    }
    err.msg[0] = '\0';
    rc = reconcile_run(ctx, date, &report, &err);
    if (rc == MALL_ERR && err.code == 400) {
        return sf_reply_invalid(ctx, "date", err.msg);
    }
    if (rc == MALL_ERR && err.code == 502) {
        return mall_reply_error(ctx, 502, "UPSTREAM_ERROR", "%s", err.msg);
    }
    if (rc != MALL_OK) {
        return sf_fail(ctx, rc, "reconciliation", &err);
    }
    rc = mall_reply_json_nostore(ctx, 200, report);
    cJSON_Delete(report);
    return rc;
}
