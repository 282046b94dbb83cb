/*
 * Daily reconciliation (see reconcile.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/sha.h>

#include "mall_b64.h"
#include "mall_batch.h"
#include "mall_json.h"
#include "mall_log.h"
#include "mall_tool.h"
#include "order_store.h"
#include "pay_anomaly.h"
#include "pay_keys.h"
#include "reconcile.h"
#include "wxpay_bill.h"
#include "wxpay_client.h"
#include "wxpay_time.h"

#define BILL_MAX            (64 * 1024 * 1024)
#define ANOMALIES_PER_RUN   100
#define CLAIM_TTL           "600"

/* One local entry of a day's ledger: key -> "{id} {fen}". */
typedef struct {
    const char  *key;
    char         id[WXPAY_STR_MAX];
    int64_t      fen;
    int          seen;
} ledger_entry_t;

typedef struct {
    ledger_entry_t  *e;
    size_t           n;
    redisReply      *hash;          /* owns the key strings */
} ledger_t;

typedef struct {
    cJSON   *mismatches;
    size_t   anomalies;
    mall_ctx_t  *ctx;
    char     date[11];
} report_t;


/* ------------------------------------------------------------ the bill */

/* The download answer's SHA-1 against hash_value (hex). */
static int
bill_hash_ok(const char *body, size_t len, const char *hex)
{
    unsigned char  md[SHA_DIGEST_LENGTH];
    char           mine[SHA_DIGEST_LENGTH * 2 + 1];

    SHA1((const unsigned char *) body, len, md);
    mall_hex_encode(md, sizeof(md), mine);
    mine[sizeof(mine) - 1] = '\0';
    return strlen(hex) == sizeof(mine) - 1 && strcasecmp(mine, hex) == 0;
}


/*
 * The trade bill of date into *bill (empty when WeChat has none for that
 * day). MALL_OK, MALL_RETRY, MALL_ERR.
 */
static int
fetch_bill(mall_ctx_t *ctx, const char *date, wxpay_bill_t *bill,
    mall_err_t *err)
{
    wxpay_answer_t  ans;
    const cJSON    *type, *hash, *url;
    char            path[96], *body;
    size_t          len;
    int             rc;

    memset(bill, 0, sizeof(*bill));
    snprintf(path, sizeof(path), "/v3/bill/tradebill?bill_date=%s"
             "&bill_type=ALL", date);
    rc = wxpay_call(ctx->conf, "GET", path, NULL, &ans, err);
    if (rc != MALL_OK) {
        return rc;
    }
    if (ans.status == 400 && strcmp(ans.code, "NO_STATEMENT_EXIST") == 0) {
        wxpay_answer_free(&ans);
        return MALL_OK;                     /* no payments that day */
    }
    if (ans.status == 400 && strcmp(ans.code, "STATEMENT_CREATING") == 0) {
        wxpay_answer_free(&ans);
        mall_err_set(err, 503, "the bill of %s is being made", date);
        return MALL_RETRY;
    }
    type = cJSON_GetObjectItemCaseSensitive(ans.json, "hash_type");
    hash = cJSON_GetObjectItemCaseSensitive(ans.json, "hash_value");
    url = cJSON_GetObjectItemCaseSensitive(ans.json, "download_url");
    if (ans.status != 200 || !cJSON_IsString(type) || !cJSON_IsString(hash)
        || !cJSON_IsString(url) || strcmp(type->valuestring, "SHA1") != 0)
    {
        rc = mall_err_set(err, 502, "bill of %s: HTTP %ld %s", date,
                          ans.status, ans.code);
        wxpay_answer_free(&ans);
        return rc;
    }
    rc = wxpay_download(ctx->conf, url->valuestring, BILL_MAX, &body, &len,
                        err);
    if (rc == MALL_OK && !bill_hash_ok(body, len, hash->valuestring)) {
        rc = mall_err_set(err, 502, "the bill of %s does not match its "
                          "SHA-1", date);
    }
    if (rc == MALL_OK) {
        rc = wxpay_bill_parse(body, len, bill, err);
    }
    free(body);
    wxpay_answer_free(&ans);
    return rc;
}


/* ---------------------------------------------------------- our ledger */

static int
entry_cmp(const void *a, const void *b)
{
    return strcmp(((const ledger_entry_t *) a)->key,
                  ((const ledger_entry_t *) b)->key);
}


/* HGETALL of a day's ledger, sorted by key. */
static int
ledger_load(mall_ctx_t *ctx, const char *fmt, const char *day, ledger_t *l,
    mall_err_t *err)
{
    char     key[ORDER_KEY_MAX], id[WXPAY_STR_MAX];
    size_t   i;
    long long fen;
    int      rc;

    memset(l, 0, sizeof(*l));
    order_key(key, sizeof(key), fmt, day, NULL);
    rc = mall_cmd(ctx->redis, &l->hash, err, 2, "HGETALL", key);
    if (rc != MALL_OK) {
        return rc;
    }
    if (l->hash->type != REDIS_REPLY_ARRAY || l->hash->elements == 0) {
        return MALL_OK;
    }
    l->e = calloc(l->hash->elements / 2, sizeof(*l->e));
    if (l->e == NULL) {
        return mall_err_set(err, 500, "out of memory");
    }
    for (i = 0; i + 1 < l->hash->elements; i += 2) {
        if (sscanf(l->hash->element[i + 1]->str, "%71s %lld", id, &fen)
            != 2)
        {
            continue;
        }
        l->e[l->n].key = l->hash->element[i]->str;
        snprintf(l->e[l->n].id, sizeof(l->e[l->n].id), "%s", id);
        l->e[l->n++].fen = fen;
    }
    qsort(l->e, l->n, sizeof(*l->e), entry_cmp);
    return MALL_OK;
}


static void
ledger_free(ledger_t *l)
{
    free(l->e);
    if (l->hash != NULL) {
        freeReplyObject(l->hash);
    }
    memset(l, 0, sizeof(*l));
}


static ledger_entry_t *
ledger_find(const ledger_t *l, const char *key)
{
    ledger_entry_t  probe;

    probe.key = key;
    return l->n > 0 ? bsearch(&probe, l->e, l->n, sizeof(*l->e), entry_cmp)
                    : NULL;
}


/* -------------------------------------------------------------- compare */

static void
mismatch(report_t *r, const char *kind, const char *otn, const char *orn,
    int64_t local, int64_t wechat)
{
    char           detail[128];
    cJSON         *m;

    m = cJSON_CreateObject();
    if (m == NULL || mall_json_add_str(m, "kind", kind) != MALL_OK
        || (otn != NULL && mall_json_add_str(m, "out_trade_no", otn)
                           != MALL_OK)
        || (orn != NULL && mall_json_add_str(m, "out_refund_no", orn)
                           != MALL_OK)
        || (local >= 0 && mall_json_add_int(m, "local_fen", local)
                          != MALL_OK)
        || (wechat >= 0 && mall_json_add_int(m, "wechat_fen", wechat)
                           != MALL_OK)
        || !cJSON_AddItemToArray(r->mismatches, m))
    {
        cJSON_Delete(m);
    }
    if (r->anomalies++ < ANOMALIES_PER_RUN) {
        snprintf(detail, sizeof(detail), "reconciliation of %s: local %lld "
                 "fen, WeChat %lld fen", r->date, (long long) local,
                 (long long) wechat);
        pay_anomaly(r->ctx, &(pay_anomaly_t) {
            .kind = kind,
            .out_trade_no = otn,
            .out_refund_no = orn,
            .detail = detail,
        });
    }
}


/* WeChat's lines of one kind against our ledger of that kind. */
static void
compare(report_t *r, const wxpay_bill_t *bill, ledger_t *l, int refunds,
    int64_t *count, int64_t *fen)
{
    const char      *pre = refunds ? "refund_" : "";
    char             kind[48];
    ledger_entry_t  *e;
    size_t           i;

    for (i = 0; i < bill->n; i++) {
        const wxpay_bill_row_t  *w = &bill->rows[i];
        const char              *key, *id;
        int64_t                  amount;

        if ((strcmp(w->state, "REFUND") == 0) != refunds) {
            continue;
        }
        key = refunds ? w->out_refund_no : w->out_trade_no;
        id = refunds ? w->refund_id : w->transaction_id;
        amount = refunds ? w->refund_fen : w->total_fen;
        (*count)++;
        *fen += amount;
        e = ledger_find(l, key);
        if (e == NULL || e->seen) {
            snprintf(kind, sizeof(kind), "%smissing_locally", pre);
        } else if (e->fen != amount) {
            snprintf(kind, sizeof(kind), "%samount_mismatch", pre);
        } else if (strcmp(e->id, id) != 0) {
            snprintf(kind, sizeof(kind), "%stransaction_mismatch", pre);
        } else {
            e->seen = 1;
            continue;
        }
        if (e != NULL) {
            e->seen = 1;
        }
        mismatch(r, kind, refunds ? w->out_trade_no : key,
                 refunds ? key : NULL, e != NULL ? e->fen : -1, amount);
    }
    for (i = 0; i < l->n; i++) {
        if (!l->e[i].seen) {
            snprintf(kind, sizeof(kind), "%smissing_at_wechat", pre);
            mismatch(r, kind, refunds ? NULL : l->e[i].key,
                     refunds ? l->e[i].key : NULL, l->e[i].fen, -1);
        }
    }
}


/* {"payments", "payment_fen", "refunds", "refund_fen"} */
static cJSON *
totals(const ledger_t *pay, const ledger_t *ref, const int64_t *wechat)
{
    int64_t  v[4];
    size_t   i;
    cJSON   *o;

    if (wechat != NULL) {
        memcpy(v, wechat, sizeof(v));
    } else {
        memset(v, 0, sizeof(v));
        v[0] = (int64_t) pay->n;
        v[2] = (int64_t) ref->n;
        for (i = 0; i < pay->n; i++) {
            v[1] += pay->e[i].fen;
        }
        for (i = 0; i < ref->n; i++) {
            v[3] += ref->e[i].fen;
        }
    }
    o = cJSON_CreateObject();
    if (o != NULL) {
        mall_json_add_int(o, "payments", v[0]);
        mall_json_add_int(o, "payment_fen", v[1]);
        mall_json_add_int(o, "refunds", v[2]);
        mall_json_add_int(o, "refund_fen", v[3]);
    }
    return o;
}


/* Keeps the report and logs its summary. */
static int
store(mall_ctx_t *ctx, const char *date, const cJSON *report, size_t n,
    mall_err_t *err)
{
    char          key[ORDER_KEY_MAX], now[24], *text;
    mall_batch_t  b;
    int           rc;

    text = cJSON_PrintUnformatted(report);
    if (text == NULL) {
        return mall_err_set(err, 500, "out of memory");
    }
    order_key(key, sizeof(key), PAY_KEY_RECONCILE, date, NULL);
    snprintf(now, sizeof(now), "%lld", (long long) time(NULL));
    mall_batch_init(&b);
    mall_batch_addl(&b, 5, "SET", key, text, "EX", RECONCILE_TTL);
    mall_batch_addl(&b, 4, "ZADD", PAY_KEY_RECONCILE_RUNS, now, date);
    rc = mall_batch_exec(&b, ctx->redis, 1, NULL, err);
    mall_batch_free(&b);
    cJSON_free(text);
    mall_log(n > 0 ? MALL_LOG_WARN : MALL_LOG_NOTICE, "pay",
             "reconciliation of %s: %zu mismatch%s", date, n,
             n == 1 ? "" : "es");
    return rc;
}


int
reconcile_run(mall_ctx_t *ctx, const char *date, cJSON **out,
    mall_err_t *err)
{
    wxpay_bill_t   bill;
    ledger_t       pay, ref;
    report_t       r;
    int64_t        midnight, w[4];
    char           day[9];
    cJSON         *root;
    int            rc;

    *out = NULL;
    if (wxpay_day_parse(date, &midnight) != MALL_OK) {
        return mall_err_set(err, 400, "date must be YYYY-MM-DD");
    }
    wxpay_day_key(midnight, day);
    rc = fetch_bill(ctx, date, &bill, err);
    if (rc != MALL_OK) {
        return rc;
    }
    memset(&pay, 0, sizeof(pay));
    memset(&ref, 0, sizeof(ref));
    rc = ledger_load(ctx, PAY_KEY_DAY, day, &pay, err);
    if (rc == MALL_OK) {
        rc = ledger_load(ctx, PAY_KEY_REFUND_DAY, day, &ref, err);
    }
    root = rc == MALL_OK ? cJSON_CreateObject() : NULL;
    memset(&r, 0, sizeof(r));
    r.ctx = ctx;
    snprintf(r.date, sizeof(r.date), "%s", date);
    r.mismatches = cJSON_CreateArray();
    if (root == NULL || r.mismatches == NULL) {
        rc = rc == MALL_OK ? mall_err_set(err, 500, "out of memory") : rc;
        cJSON_Delete(r.mismatches);
        goto done;
    }
    memset(w, 0, sizeof(w));
    compare(&r, &bill, &pay, 0, &w[0], &w[1]);
    compare(&r, &bill, &ref, 1, &w[2], &w[3]);
    mall_json_add_str(root, "date", date);
    mall_json_add_int(root, "generated_at", (int64_t) time(NULL));
    cJSON_AddBoolToObject(root, "ok", cJSON_GetArraySize(r.mismatches) == 0);
    cJSON_AddItemToObject(root, "wechat", totals(NULL, NULL, w));
    cJSON_AddItemToObject(root, "local", totals(&pay, &ref, NULL));
    cJSON_AddItemToObject(root, "mismatches", r.mismatches);
    rc = store(ctx, date, root, (size_t) cJSON_GetArraySize(r.mismatches),
               err);
    if (rc == MALL_OK) {
        *out = root;
        root = NULL;
    }

done:
    cJSON_Delete(root);
    ledger_free(&pay);
    ledger_free(&ref);
    wxpay_bill_free(&bill);
    return rc;
}


int
reconcile_daily(mall_ctx_t *ctx, mall_err_t *err)
{
    char         date[11], key[ORDER_KEY_MAX];
    redisReply  *r;
    cJSON       *report;
    int64_t      now;
    int          rc, due;

    now = (int64_t) time(NULL);
    if (ctx->conf->pay.reconcile_minute < 0
        || (now + WXPAY_CST) % 86400 / 60 < ctx->conf->pay.reconcile_minute)
    {
        return MALL_OK;
    }
    wxpay_day_iso(now - 86400, date);
    order_key(key, sizeof(key), PAY_KEY_RECONCILE, date, NULL);
    rc = mall_cmd(ctx->redis, &r, err, 2, "EXISTS", key);
    if (rc != MALL_OK) {
        return rc;
    }
    due = r->type == REDIS_REPLY_INTEGER && r->integer == 0;
    freeReplyObject(r);
    if (!due) {
        return MALL_OK;
    }
    order_key(key, sizeof(key), PAY_KEY_RECONCILE_CLAIM, date, NULL);
    rc = mall_cmd(ctx->redis, &r, err, 6, "SET", key, "1", "NX", "EX",
                  CLAIM_TTL);
    if (rc != MALL_OK) {
        return rc;
    }
    due = r->type == REDIS_REPLY_STATUS;
    freeReplyObject(r);
    if (!due) {
        return MALL_OK;
    }
    rc = reconcile_run(ctx, date, &report, err);
    if (rc != MALL_OK) {
        mall_log(MALL_LOG_WARN, "pay", "reconciliation of %s: %s (tried "
                 "again in 10 minutes)", date, err->msg);
    }
    cJSON_Delete(report);
    return rc;
}


static int
tool_run(mall_ctx_t *ctx, void *date, cJSON **report, mall_err_t *err)
{
    return reconcile_run(ctx, date, report, err);
}


int
reconcile_tool(const mall_conf_t *conf, const char *date)
{
    char  day[11];

    if (!wxpay_conf_enabled(&conf->pay)) {
        fprintf(stderr, "reconcile: WeChat Pay is not configured\n");
        return 78;
    }
    if (strcmp(date, "yesterday") == 0) {
        wxpay_day_iso((int64_t) time(NULL) - 86400, day);
        date = day;
    }
    return mall_tool_report(conf, "reconcile", tool_run, (void *) date);
}
