/*
 * The merchant's after-sale routes (see aftersale.h); admin role for the
 * decisions, staff for reading:
 *
 *   GET  /admin/api/v1/after-sales?status=   newest first (100)
 *   GET  /admin/api/v1/after-sales/{id}
 *   POST /admin/api/v1/after-sales/{id}/approve {"note"?}   refund_only:
 *        the WeChat refund is issued; return: the buyer may send it back
 *   POST /admin/api/v1/after-sales/{id}/reject {"reason"}
 *   POST /admin/api/v1/after-sales/{id}/receive   the return arrived: its
 *        goods back in stock, the refund issued
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aftersale.h"
#include "mall_audit.h"
#include "mall_json.h"
#include "mall_reply.h"
#include "merchant.h"
#include "pay_keys.h"
#include "refund.h"

#define AS_ILLEGAL   (ORDER_PLAN_NONE + 20)

typedef enum { STEP_APPROVE, STEP_REJECT, STEP_RECEIVE } step_e;

static int as_list(mall_ctx_t *ctx);
static int as_get(mall_ctx_t *ctx);
static int as_approve(mall_ctx_t *ctx);
static int as_reject(mall_ctx_t *ctx);
static int as_receive(mall_ctx_t *ctx);

const mall_route_t  mall_aftersale_admin_routes[] = {
    { "GET", "/admin/api/v1/after-sales", as_list, 0 },
    { "GET", "/admin/api/v1/after-sales/{id}", as_get, 0 },
    { "POST", "/admin/api/v1/after-sales/{id}/approve", as_approve, 0 },
    { "POST", "/admin/api/v1/after-sales/{id}/reject", as_reject, 0 },
    { "POST", "/admin/api/v1/after-sales/{id}/receive", as_receive, 0 },
    { NULL, NULL, NULL, 0 }
};

typedef struct {
    step_e         step;
    int64_t        id;
    const char    *text;                /* note or reason */
    const char    *actor;
    aftersale_t    a;
    char           no[REFUND_NO_MAX];   /* the refund issued, or "" */
    order_head_t   returned;            /* the goods back in stock */
    int            restock;
    mall_err_t    *err;
} step_t;


/* The refund of the after-sale, in the same EXEC. */
static void
plan_refund(mall_batch_t *b, const order_head_t *h, step_t *s,
    const char **extra)
{
    char  tag[32], key[ORDER_KEY_MAX], sid[24];

    snprintf(tag, sizeof(tag), "AS%lld", (long long) s->id);
    refund_number(h->id, tag, s->no);
    refund_batch_new(b, h, s->no, s->a.amount, "after-sale", "admin",
                     s->actor);
    snprintf(sid, sizeof(sid), "%lld", (long long) s->id);
    order_key(key, sizeof(key), PAY_KEY_REFUND, s->no, NULL);
    mall_batch_addl(b, 4, "HSET", key, "aftersale_id", sid);
    extra[0] = "out_refund_no";
    extra[1] = s->no;
}


/* The returned goods (all of the order when none are listed). */
static void
plan_restock(mall_batch_t *b, const order_head_t *h, step_t *s)
{
    size_t  i, j;

    s->returned = *h;
    s->returned.counted = 0;        /* a sale returned is still a sale */
    if (s->a.nitems > 0) {
        s->returned.nitems = 0;
        for (i = 0; i < s->a.nitems; i++) {
            for (j = 0; j < h->nitems; j++) {
                if (h->items[j].sku_id == s->a.items[i].sku_id) {
                    order_item_ref_t  *r;

                    r = &s->returned.items[s->returned.nitems++];
                    *r = h->items[j];
                    r->quantity = s->a.items[i].quantity;
                }
            }
        }
    }
    s->restock = s->returned.nitems > 0;
    if (s->restock) {
        order_batch_release(b, &s->returned);   /* first: follow-up */
    }
}


static int
step_plan(mall_ctx_t *ctx, const order_head_t *h, mall_batch_t *b,
    void *arg)
{
    step_t          *s = arg;
    const char      *extra[4];
    order_status_e   to;
    int              rc;

    rc = aftersale_load(ctx, s->id, &s->a, s->err);
    if (rc != MALL_OK) {
        return rc;
    }
    if (s->a.id == 0 || h->status == ORDER_ST_NONE) {
        return ORDER_NOT_FOUND;
    }
    if (s->step != STEP_REJECT
        && s->a.amount > h->pay_total - h->refund_reserved)
    {
        return AS_ILLEGAL;                  /* refunded otherwise since */
    }
    switch (s->step) {
    case STEP_APPROVE:
        if (strcmp(s->a.status, "requested") != 0) {
            return AS_ILLEGAL;
        }
        extra[0] = "note";
        extra[1] = s->text;
        if (strcmp(s->a.type, "return") == 0) {
            aftersale_batch_status(b, &s->a, "awaiting_return", extra, 1);
            return MALL_OK;
        }
        plan_refund(b, h, s, extra + 2);
        aftersale_batch_status(b, &s->a, "refunding", extra, 2);
        return MALL_OK;
    case STEP_REJECT:
        to = order_state_next(h->status, ORDER_EV_REFUND_REJECT,
                              ORDER_ACTOR_ADMIN, h->refund_from);
        if (to == ORDER_ST_NONE || (strcmp(s->a.status, "requested") != 0
                                    && strcmp(s->a.status,
                                              "awaiting_return") != 0))
        {
            return AS_ILLEGAL;
        }
        extra[0] = "reject_reason";
        extra[1] = s->text;
        aftersale_batch_status(b, &s->a, "rejected", extra, 1);
        order_batch_transition(b, h, to, ORDER_EV_REFUND_REJECT,
                               ORDER_ACTOR_ADMIN, s->actor);
        return MALL_OK;
    default:                                    /* receive */
        if (strcmp(s->a.type, "return") != 0
            || (strcmp(s->a.status, "returning") != 0
                && strcmp(s->a.status, "awaiting_return") != 0))
        {
            return AS_ILLEGAL;
        }
        plan_restock(b, h, s);
        plan_refund(b, h, s, extra);
        aftersale_batch_status(b, &s->a, "refunding", extra, 1);
        if (s->restock) {
            order_batch_thresholds(b, &s->returned);    /* last */
        }
        return MALL_OK;
    }
}


/* Reads the text member (required for a rejection), runs the step. */
static int
as_step(mall_ctx_t *ctx, step_e step, const char *member, int required)
{
    char           text[REFUND_REASON_BYTES];
    const char    *action[] = { "aftersale.approve", "aftersale.reject",
                                "aftersale.receive" };
    step_t         s;
    order_head_t   h;
    redisReply    *exec;
    cJSON         *body = NULL;
    mall_err_t     err;
    int            rc;

    memset(&s, 0, sizeof(s));
    if (merch_role(ctx, 1, action[step]) != MALL_OK
        || sf_target(ctx, "id", "no such after-sale", &s.id,
                     member != NULL ? &body : NULL) != MALL_OK)
    {
        return MALL_OK;
    }
    text[0] = '\0';
    err.code = 0;
    err.msg[0] = '\0';
    if (member != NULL) {
        rc = merch_body_text(body, member, text, sizeof(text), required,
                             &err);
        cJSON_Delete(body);
        if (rc != MALL_OK) {
            return sf_reply_invalid(ctx, member, err.msg);
        }
    }
    s.step = step;
    s.text = text;
    s.actor = ctx->ident.user;
    s.err = &err;
    rc = aftersale_load(ctx, s.id, &s.a, &err);
    if (rc == MALL_OK && s.a.id == 0) {
        return mall_reply_error(ctx, 404, "NOT_FOUND", "no such after-sale");
    }
    if (rc == MALL_OK) {
        rc = order_update(ctx, s.a.oid, step_plan, &s, &h, &exec, &err);
    }
    switch (rc) {
    case MALL_OK:
        if (s.restock) {
            order_release_follow_up(ctx, &s.returned, exec);
        }
        freeReplyObject(exec);
        mall_audit_ctx(ctx, ctx->ident.user, action[step], "ok", NULL, 0);
        if (s.no[0] != '\0') {
            (void) refund_submit(ctx, s.no, &err);   /* else the job does */
        }
        return aftersale_reply(ctx, 200, s.id);
    case ORDER_NOT_FOUND:
        return mall_reply_error(ctx, 404, "NOT_FOUND", "no such after-sale");
    case AS_ILLEGAL:
        return mall_reply_error(ctx, 409, "CONFLICT", "the after-sale is %s",
                                s.a.status);
    default:
        return sf_fail(ctx, rc == MALL_BATCH_ABORTED ? MALL_RETRY : rc,
                       "after-sale", &err);
    }
}


static int
as_approve(mall_ctx_t *ctx)
{
    return as_step(ctx, STEP_APPROVE, "note", 0);
}


static int
as_reject(mall_ctx_t *ctx)
{
    return as_step(ctx, STEP_REJECT, "reason", 1);
}


static int
as_receive(mall_ctx_t *ctx)
{
    return as_step(ctx, STEP_RECEIVE, NULL, 0);
}


static int
as_get(mall_ctx_t *ctx)
{
    int64_t  id;

    if (merch_role(ctx, 0, "aftersale.read") != MALL_OK
        || sf_target(ctx, "id", "no such after-sale", &id, NULL) != MALL_OK)
    {
        return MALL_OK;
    }
    if (aftersale_reply(ctx, 200, id) != MALL_OK) {
        return mall_reply_error(ctx, 404, "NOT_FOUND", "no such after-sale");
    }
    return MALL_OK;
}


static int
as_list(mall_ctx_t *ctx)
{
    static const char  *known[] = { "requested", "awaiting_return",
                                    "returning", "refunding", "refunded",
                                    "rejected", "withdrawn" };
    char                key[96];
    const char         *st;
    redisReply         *ids;
    mall_err_t          err;
    cJSON              *root, *arr, *o;
    size_t              i;
    int                 rc;

    if (merch_role(ctx, 0, "aftersale.read") != MALL_OK) {
        return MALL_OK;
    }
    st = mall_query_get(&ctx->query, "status");
    for (i = 0; st != NULL && i < MALL_ARRAY_LEN(known)
                && strcmp(st, known[i]) != 0; i++) {
    }
    if (st != NULL && i == MALL_ARRAY_LEN(known)) {
        return mall_reply_error(ctx, 400, "VALIDATION_FAILED", "unknown "
                                "after-sale status");
    }
    if (st != NULL) {
        snprintf(key, sizeof(key), AS_KEY_STATUS, st);
    } else {
        snprintf(key, sizeof(key), "%s", AS_KEY_ALL);
    }
    rc = mall_cmd(ctx->redis, &ids, &err, 4, "ZREVRANGE", key, "0", "99");
    if (rc != MALL_OK) {
        return sf_fail(ctx, rc, "after-sale list", &err);
    }
    root = cJSON_CreateObject();
    arr = cJSON_AddArrayToObject(root, "after_sales");
    for (i = 0; arr != NULL && ids->type == REDIS_REPLY_ARRAY
                && i < ids->elements; i++) {
        o = aftersale_view(ctx, strtoll(ids->element[i]->str, NULL, 10),
                           &err);
        if (o != NULL) {
            cJSON_AddItemToArray(arr, o);
        }
    }
    freeReplyObject(ids);
    rc = arr != NULL ? mall_reply_json_nostore(ctx, 200, root) : MALL_ERR;
    cJSON_Delete(root);
    return rc;
}
