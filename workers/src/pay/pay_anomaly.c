/*
 * Payment anomalies (see pay_anomaly.h) and their admin listing.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mall_audit.h"
#include "mall_log.h"
#include "mall_query.h"
#include "mall_reply.h"
#include "merchant.h"
#include "storefront.h"
#include "pay_anomaly.h"
#include "pay_keys.h"

#define ANOMALY_PAGE_DEFAULT  50
#define ANOMALY_PAGE_MAX      500

static int anomalies_list(mall_ctx_t *ctx);

const mall_route_t  mall_pay_anomaly_routes[] = {
    { "GET", "/admin/api/v1/payments/anomalies", anomalies_list, 0 },
    { NULL, NULL, NULL, 0 }
};


void
pay_batch_anomaly(mall_batch_t *b, const pay_anomaly_t *a)
{
    const char  *argv[18];
    char         at[24];
    int          n;

    snprintf(at, sizeof(at), "%lld", (long long) time(NULL));
    n = 0;
    argv[n++] = "XADD";
    argv[n++] = PAY_KEY_ANOMALIES;
    argv[n++] = "MAXLEN";
    argv[n++] = "~";
    argv[n++] = PAY_ANOMALIES_MAX;
    argv[n++] = "*";
    argv[n++] = "kind";
    argv[n++] = a->kind;
    argv[n++] = "ts";
    argv[n++] = at;
    argv[n++] = "out_trade_no";
    argv[n++] = a->out_trade_no != NULL ? a->out_trade_no : "";
    argv[n++] = "out_refund_no";
    argv[n++] = a->out_refund_no != NULL ? a->out_refund_no : "";
    argv[n++] = "notification";
    argv[n++] = a->notification != NULL ? a->notification : "";
    argv[n++] = "detail";
    argv[n++] = a->detail != NULL ? a->detail : "";
    mall_batch_add(b, n, argv);
}


void
pay_anomaly(mall_ctx_t *ctx, const pay_anomaly_t *a)
{
    mall_batch_t  b;
    mall_err_t    err;

    mall_log_req(MALL_LOG_WARN, "pay", ctx->request_id, "-",
                 "payment anomaly %s: order %s%s%s: %s", a->kind,
                 a->out_trade_no != NULL ? a->out_trade_no : "-",
                 a->out_refund_no != NULL ? " refund " : "",
                 a->out_refund_no != NULL ? a->out_refund_no : "",
                 a->detail != NULL ? a->detail : "");
    mall_batch_init(&b);
    pay_batch_anomaly(&b, a);
    err.msg[0] = '\0';
    if (mall_batch_exec(&b, ctx->redis, 0, NULL, &err) != MALL_OK) {
        mall_log(MALL_LOG_ERROR, "pay", "anomaly %s not recorded: %s",
                 a->kind, err.msg);
    }
    mall_batch_free(&b);
}


/* GET /admin/api/v1/payments/anomalies?count=N: newest first. */
static int
anomalies_list(mall_ctx_t *ctx)
{
    const char  *v;
    long long    count;
    cJSON       *arr, *root;
    mall_err_t   err;
    int          rc;

    if (merch_role(ctx, 0, "payments.anomalies") != MALL_OK) {
        return MALL_OK;
    }
    count = ANOMALY_PAGE_DEFAULT;
    v = mall_query_get(&ctx->query, "count");
    if (v != NULL
        && mall_parse_int(v, 1, ANOMALY_PAGE_MAX, &count) != MALL_OK)
    {
        return mall_reply_error(ctx, 400, "VALIDATION_FAILED",
                                "count must be 1..%d", ANOMALY_PAGE_MAX);
    }
    err.msg[0] = '\0';
    rc = mall_stream_recent(ctx->redis, PAY_KEY_ANOMALIES, (long) count, &arr,
                            &err);
    if (rc != MALL_OK) {
        return sf_fail(ctx, rc, "payment anomalies", &err);
    }
    root = cJSON_CreateObject();
    if (root == NULL || !cJSON_AddItemToObject(root, "anomalies", arr)) {
        cJSON_Delete(root);
        cJSON_Delete(arr);
        return mall_reply_error(ctx, 500, "INTERNAL", "out of memory");
    }
    rc = mall_reply_json_nostore(ctx, 200, root);
    cJSON_Delete(root);
    return rc;
}
