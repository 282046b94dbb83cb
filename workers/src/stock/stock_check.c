/*
 * The stock reconciliation (see stock_check.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog_keys.h"
#include "mall_batch.h"
#include "mall_job.h"
#include "mall_json.h"
#include "mall_log.h"
#include "order_store.h"
#include "stock_check.h"

#define SCAN_COUNT  "500"

typedef struct {
    mall_ctx_t  *ctx;
    int          repair;
    cJSON       *findings;
    int64_t      holds, skus;
    mall_err_t  *err;
} check_t;

/* Runs for each key of one SCAN page; MALL_OK to go on. */
typedef int (*check_key_pt)(check_t *c, const char *key);


static int
scan_all(check_t *c, const char *match, check_key_pt each)
{
    char         cursor[32] = "0";
    redisReply  *r;
    size_t       i;
    int          rc;

    do {
        rc = mall_cmd(c->ctx->redis, &r, c->err, 6, "SCAN", cursor, "MATCH",
                      match, "COUNT", SCAN_COUNT);
        if (rc != MALL_OK) {
            return rc;
        }
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            freeReplyObject(r);
            return mall_err_set(c->err, 500, "bad SCAN reply");
        }
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        for (i = 0; rc == MALL_OK && i < r->element[1]->elements; i++) {
            rc = each(c, r->element[1]->element[i]->str);
        }
        freeReplyObject(r);
    } while (rc == MALL_OK && strcmp(cursor, "0") != 0);
    return rc;
}


static void
finding(check_t *c, const char *kind, const char *oid, int64_t sku,
    int64_t stock, int repaired)
{
    cJSON  *f = cJSON_CreateObject();

    if (f == NULL || mall_json_add_str(f, "kind", kind) != MALL_OK
        || (oid != NULL && mall_json_add_str(f, "order_id", oid) != MALL_OK)
        || (sku != 0 && mall_json_add_int(f, "sku_id", sku) != MALL_OK)
        || (kind[0] == 'n' && mall_json_add_int(f, "stock", stock)
                              != MALL_OK)
        || cJSON_AddBoolToObject(f, "repaired", repaired) == NULL
        || !cJSON_AddItemToArray(c->findings, f))
    {
        cJSON_Delete(f);
        return;
    }
    mall_log(MALL_LOG_WARN, "stock", "check-stock: %s order %s sku %lld%s",
             kind, oid != NULL ? oid : "-", (long long) sku,
             repaired ? " (repaired)" : "");
}


/* One command for a repair; MALL_OK or an error. */
static int
repair_cmd(check_t *c, int argc, const char *a, const char *b,
    const char *d, const char *e)
{
    redisReply  *r;
    int          rc;

    rc = mall_cmd(c->ctx->redis, &r, c->err, argc, a, b, d, e);
    if (rc == MALL_OK) {
        freeReplyObject(r);
    }
    return rc;
}


/* mall:order:{oid}:hold:{sku} */
static int
check_hold(check_t *c, const char *key)
{
    char           oid[ORDER_ID_MAX], dl[24];
    const char    *p = key + strlen("mall:order:"), *q;
    order_head_t   h;
    redisReply    *r;
    int64_t        sku;
    int            rc, voided;

    q = strstr(p, ":hold:");
    if (q == NULL || (size_t) (q - p) != ORDER_ID_LEN) {
        return MALL_OK;
    }
    memcpy(oid, p, ORDER_ID_LEN);
    oid[ORDER_ID_LEN] = '\0';
    sku = strtoll(q + 6, NULL, 10);
    c->holds++;
    rc = order_load_head(c->ctx, oid, 0, &h, c->err);
    if (rc != MALL_OK) {
        return rc == MALL_ERR ? MALL_OK : rc;   /* corrupt: not ours */
    }
    if (h.status != ORDER_ST_UNPAID) {
        finding(c, "orphan_hold", oid, sku, 0, c->repair);
        return c->repair ? repair_cmd(c, 2, "DEL", key, NULL, NULL)
                         : MALL_OK;
    }
    rc = order_void_if_short(c->ctx, &h, &voided, c->err);
    if (rc != MALL_OK || voided) {
        if (voided) {
            finding(c, "short_hold_voided", oid, sku, 0, 1);
        }
        return rc;
    }
    if (h.pay_deadline + STOCK_CHECK_GRACE >= (int64_t) time(NULL)) {
        return MALL_OK;
    }
    rc = mall_cmd(c->ctx->redis, &r, c->err, 3, "ZSCORE", ORDER_KEY_EXPIRY,
                  oid);
    if (rc != MALL_OK) {
        return rc;
    }
    rc = r->type == REDIS_REPLY_NIL;
    freeReplyObject(r);
    if (!rc) {
        return MALL_OK;                 /* the expiry has it */
    }
    finding(c, "expiry_requeued", oid, sku, 0, c->repair);
    snprintf(dl, sizeof(dl), "%lld", (long long) h.pay_deadline);
    return c->repair ? repair_cmd(c, 4, "ZADD", ORDER_KEY_EXPIRY, dl, oid)
                     : MALL_OK;
}


/* mall:sku:{id} */
static int
check_sku(check_t *c, const char *key)
{
    const char  *id = key + strlen("mall:sku:");
    redisReply  *r;
    int64_t      stock;
    int          rc;

    if (*id < '0' || *id > '9' || strchr(id, ':') != NULL) {
        return MALL_OK;
    }
    c->skus++;
    rc = mall_cmd(c->ctx->redis, &r, c->err, 3, "HGET", key, "stock");
    if (rc != MALL_OK) {
        return rc == MALL_ERR ? MALL_OK : rc;   /* another type */
    }
    stock = order_reply_int(r, 0);
    freeReplyObject(r);
    if (stock < 0) {
        /* the holds were checked first: an order racing now, or a
         * disagreement for the merchant */
        finding(c, "negative_stock", NULL, strtoll(id, NULL, 10), stock, 0);
    }
    return MALL_OK;
}


int
stock_check_run(mall_ctx_t *ctx, int repair, cJSON **report,
    mall_err_t *err)
{
    check_t  c;
    cJSON   *root;
    int      rc;

    *report = NULL;
    root = cJSON_CreateObject();
    memset(&c, 0, sizeof(c));
    c.ctx = ctx;
    c.repair = repair;
    c.err = err;
    c.findings = root != NULL ? cJSON_AddArrayToObject(root, "findings")
                              : NULL;
    if (c.findings == NULL) {
        cJSON_Delete(root);
        return mall_err_set(err, 500, "out of memory");
    }
    rc = scan_all(&c, "mall:order:*:hold:*", check_hold);
    if (rc == MALL_OK) {
        rc = scan_all(&c, "mall:sku:*", check_sku);
    }
    if (rc != MALL_OK) {
        cJSON_Delete(root);
        return rc;
    }
    cJSON_AddBoolToObject(root, "ok", cJSON_GetArraySize(c.findings) == 0);
    mall_json_add_int(root, "holds", c.holds);
    mall_json_add_int(root, "skus", c.skus);
    *report = root;
    return MALL_OK;
}


int
stock_check_tool(const mall_conf_t *conf)
{
    mall_redis_t  redis;
    mall_ctx_t    ctx;
    mall_err_t    err;
    cJSON        *report;
    char         *text;
    int           rc;

    memset(&ctx, 0, sizeof(ctx));
    mall_redis_init(&redis, conf->redis_host, conf->redis_port,
                    conf->redis_timeout_ms);
    mall_ctx_background(&ctx, conf, &redis, "check-stock");
    err.msg[0] = '\0';
    rc = stock_check_run(&ctx, 1, &report, &err);
    mall_redis_close(&redis);
    if (rc != MALL_OK) {
        fprintf(stderr, "check-stock: %s\n", err.msg);
        return rc == MALL_RETRY ? 75 : 1;
    }
    text = cJSON_Print(report);
    printf("%s\n", text != NULL ? text : "{}");
    cJSON_free(text);
    rc = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(report, "ok")) ? 0 : 2;
    cJSON_Delete(report);
    return rc;
}


/* ---- the periodic pass ------------------------------------------------ */

struct stock_check_job_s {
    mall_job_t  *job;
    mall_ctx_t   ctx;
};


static void
stock_check_tick(void *arg)
{
    stock_check_job_t  *j = arg;
    redisReply         *r;
    mall_err_t          err;
    cJSON              *report;
    char                ttl[24];
    int                 mine;

    /* one process of one node at a time, once per interval */
    snprintf(ttl, sizeof(ttl), "%d", j->ctx.conf->order.stock_check_interval);
    if (mall_cmd(j->ctx.redis, &r, &err, 6, "SET", STOCK_CHECK_LOCK, "1",
                 "NX", "EX", ttl) != MALL_OK)
    {
        return;
    }
    mine = r->type == REDIS_REPLY_STATUS;
    freeReplyObject(r);
    if (mine && stock_check_run(&j->ctx, 1, &report, &err) == MALL_OK) {
        cJSON_Delete(report);       /* findings are logged one by one */
    }
}


stock_check_job_t *
stock_check_start(struct event_base *base, const mall_conf_t *conf,
    mall_redis_t *redis)
{
    stock_check_job_t  *j;

    if (conf->order.stock_check_interval <= 0) {
        return NULL;
    }
    j = calloc(1, sizeof(*j));
    if (j == NULL) {
        return NULL;
    }
    mall_ctx_background(&j->ctx, conf, redis, "stock-check");
    /* a tick each minute tries the lock; the lock's TTL is the interval */
    j->job = mall_job_every(base, 60000, "stock check", stock_check_tick, j);
    if (j->job == NULL) {
        free(j);
        return NULL;
    }
    return j;
}


void
stock_check_stop(stock_check_job_t *j)
{
    if (j != NULL) {
        mall_job_stop(j->job);
        free(j);
    }
}
