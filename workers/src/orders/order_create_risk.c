/*
 * Order creation: the abnormal-order rules (see order_create.h and
 * docs/orders.md "Abnormal orders"). What the read decides is decided
 * here, before anything is written; the counters of the hour are added to
 * the order's MULTI (risk_batch_order) and judged on what its EXEC
 * returned (order_create_write.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "address_record.h"
#include "catalog.h"
#include "mall_reply.h"
#include "order_create.h"


/* A string member of rec, or "". */
static const char *
create_rec_str(const cJSON *rec, const char *name)
{
    const cJSON  *v = cJSON_GetObjectItemCaseSensitive(rec, name);

    return cJSON_IsString(v) ? v->valuestring : "";
}


/* The shipping address's fingerprint (c->fp), when a rule counts it. */
static void
create_address_fp(mall_ctx_t *ctx, create_t *c)
{
    const risk_conf_t  *conf = &ctx->conf->risk;
    cJSON              *rec;

    c->fp[0] = '\0';
    if ((conf->orders_per_address <= 0 && conf->addresses_per_user <= 0)
        || c->address == NULL)
    {
        return;
    }
    rec = addr_open(ctx, c->uid, c->req.address_id, c->address,
                    strlen(c->address));
    if (rec == NULL) {
        return;                 /* unreadable (a retired key): not counted */
    }
    risk_address_fp(create_rec_str(rec, "province"),
                    create_rec_str(rec, "city"),
                    create_rec_str(rec, "district"),
                    create_rec_str(rec, "detail"), c->fp);
    cJSON_Delete(rec);
}


int
create_freeze(mall_ctx_t *ctx, const create_t *c, const risk_hit_t *hit,
    mall_err_t *err)
{
    risk_alert_t  a;
    int           rc;

    a.uid = c->uid;
    a.order_id = c->oid;            /* refused: it never exists */
    a.device = c->device[0] != '\0' ? c->device : NULL;
    a.reasons = c->reasons[0] != '\0' ? c->reasons : NULL;
    a.edge_score = c->edge_score;
    a.total_fen = c->amounts.total_fen;
    rc = risk_freeze(ctx, hit, &a, err);
    if (rc != MALL_OK) {
        return rc;
    }
    return risk_reply_frozen(ctx);
}


int
create_check_risk(mall_ctx_t *ctx, create_t *c, mall_err_t *err)
{
    const redisReply  *u = c->read[c->at_user];
    risk_counters_t    k;
    risk_hit_t         hit;
    int64_t            now = (int64_t) time(NULL);

    risk_counters_init(&k, now);
    if (u->type == REDIS_REPLY_ARRAY && u->elements == 2) {
        k.created_at = order_reply_int(u->element[1], 0);
    }
    k.total_fen = c->amounts.total_fen;
    k.edge_score = c->edge_score;
    if (risk_evaluate(&ctx->conf->risk, &k, &hit)) {
        (void) create_freeze(ctx, c, &hit, err);
        return MALL_ERR;
    }

    create_address_fp(ctx, c);
    c->risk.uid = c->uid;
    c->risk.device = c->device[0] != '\0' ? c->device : NULL;
    c->risk.fp = c->fp[0] != '\0' ? c->fp : NULL;
    c->risk.skus = c->skus;
    c->risk.nskus = c->req.nlines;
    c->risk.now = now;
    return MALL_OK;
}
