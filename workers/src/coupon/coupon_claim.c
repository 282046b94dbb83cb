/*
 * POST /api/v1/coupons/{template_id}/claim: a buyer claims one coupon of
 * a template, atomically against its total and per-user limit, and
 * idempotently with an Idempotency-Key (optional: without one, each call
 * is a new claim).
 *
 *   read   one pipeline on an exclusive connection: WATCH of the
 *          template and its per-user counts, the template, this buyer's
 *          count, the wallet's size, the key's record, and (first try)
 *          INCR of the coupon id sequence
 *   check  404 no template; 409 COUPON_UNAVAILABLE (disabled, not yet or
 *          no longer claimable), COUPON_SOLD_OUT, COUPON_LIMIT (per_user,
 *          or a wallet of COUPON_WALLET_MAX)
 *   write  MULTI: claimed +1, the buyer's count +1, the coupon into the
 *          wallet (its rule and window fixed now), the key's record
 *   reply  201 the coupon (a replayed key: 200 the same coupon)
 *
 * A nil EXEC means another claim of the template went first: read again
 * (concurrent claims are served one per round, so CLAIM_TRIES bounds how
 * many may race for one template at once before one gets 409 CONFLICT).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/http.h>

#include "coupon_keys.h"
#include "coupon_store.h"
#include "mall_json.h"
#include "mall_reply.h"
#include "order_request.h"
#include "order_store.h"
#include "storefront.h"

#define CLAIM_TRIES     100
#define CLAIM_IDEM_TTL  "86400"

static int coupon_claim(mall_ctx_t *ctx);

const mall_route_t  mall_coupon_claim_routes[] = {
    { "POST", "/api/v1/coupons/{template_id}/claim", coupon_claim, 0 },
    { NULL, NULL, NULL, 0 }
};

typedef struct {
    char     uid[SF_UID_MAX];
    int64_t  tid;
    char     tkey[COUPON_KEY_BUF];      /* the template */
    char     ukey[COUPON_KEY_BUF];      /* its per-user counts */
    char     wallet[ORDER_KEY_MAX];
    char     idem[ORDER_KEY_MAX];       /* "" without a key */
    int64_t  coupon_id;                 /* from the sequence, once */
} claim_t;

/* replies of the read: WATCH, then these, then [the key's record],
 * [the INCR] */
#define R_TPL     1
#define R_MINE    2
#define R_HELD    3
#define R_MORE    4


/* Replies with the wallet's coupon id (a replayed key). */
static int
claim_replay(mall_ctx_t *ctx, claim_t *c, const redisReply *rec)
{
    redisReply  *r;
    mall_err_t   err;
    int          rc;

    rc = mall_cmd(ctx->redis, &r, &err, 3, "HGET", c->wallet, rec->str);
    if (rc != MALL_OK) {
        return rc;
    }
    rc = r->type == REDIS_REPLY_STRING
         ? sf_reply_raw(ctx, 200, r->str, r->len)
         : mall_reply_error(ctx, 409, "CONFLICT", "the coupon this "
                            "Idempotency-Key claimed is gone");
    freeReplyObject(r);
    return rc;
}


/* The checks on what was read. MALL_OK to write; MALL_ERR replied. */
static int
claim_check(mall_ctx_t *ctx, const coupon_tpl_t *t, int64_t claimed,
    int64_t mine, int64_t held, int64_t now)
{
    if (!coupon_tpl_open(t, claimed, now) && claimed < t->total) {
        mall_reply_error(ctx, 409, "COUPON_UNAVAILABLE", "this coupon is "
                         "not open for claiming now");
        return MALL_ERR;
    }
    if (claimed >= t->total) {
        mall_reply_error(ctx, 409, "COUPON_SOLD_OUT", "all %lld coupons "
                         "have been claimed", (long long) t->total);
        return MALL_ERR;
    }
    if (mine >= t->per_user) {
        mall_reply_error(ctx, 409, "COUPON_LIMIT", "at most %lld of this "
                         "coupon per customer", (long long) t->per_user);
        return MALL_ERR;
    }
    if (held >= COUPON_WALLET_MAX) {
        mall_reply_error(ctx, 409, "COUPON_LIMIT", "you hold %d coupons, "
                         "the most one customer can", COUPON_WALLET_MAX);
        return MALL_ERR;
    }
    return MALL_OK;
}


/* The MULTI of one claim; MALL_OK, MALL_BATCH_ABORTED, ... */
static int
claim_write(mall_ctx_t *ctx, claim_t *c, const char *json, mall_err_t *err)
{
    char          cid[24];
    mall_batch_t  b;
    int           rc;

    snprintf(cid, sizeof(cid), "%lld", (long long) c->coupon_id);
    mall_batch_init(&b);
    mall_batch_addl(&b, 4, "HINCRBY", c->tkey, "claimed", "1");
    mall_batch_addl(&b, 4, "HINCRBY", c->ukey, c->uid, "1");
    mall_batch_addl(&b, 4, "HSET", c->wallet, cid, json);
    if (c->idem[0] != '\0') {
        mall_batch_addl(&b, 5, "SET", c->idem, cid, "EX", CLAIM_IDEM_TTL);
    }
    rc = mall_batch_exec(&b, ctx->redis, 1, NULL, err);
    mall_batch_free(&b);
    return rc;
}


/* Round trip 1 into reps (see R_*); MALL_OK, MALL_ERR, MALL_RETRY. */
static int
claim_read(mall_ctx_t *ctx, claim_t *c, redisReply **reps, size_t *n,
    mall_err_t *err)
{
    mall_batch_t  b;
    int           rc;

    mall_batch_init(&b);
    mall_batch_addl(&b, 3, "WATCH", c->tkey, c->ukey);
    coupon_batch_tpl(&b, c->tid);
    mall_batch_addl(&b, 3, "HGET", c->ukey, c->uid);
    mall_batch_addl(&b, 2, "HLEN", c->wallet);
    if (c->idem[0] != '\0') {
        mall_batch_addl(&b, 2, "GET", c->idem);
    }
    if (c->coupon_id == 0) {
        mall_batch_addl(&b, 2, "INCR", "mall:seq:" COUPON_SEQ);
    }
    *n = b.n;
    rc = mall_batch_send(&b, ctx->redis, reps, err);
    mall_batch_free(&b);
    if (rc == MALL_OK && c->coupon_id == 0
        && reps[*n - 1]->type == REDIS_REPLY_INTEGER)
    {
        c->coupon_id = reps[*n - 1]->integer;
    }
    return rc;
}


/* Check and write what was read. MALL_OK (replied), MALL_BATCH_ABORTED,
 * MALL_ERR, MALL_RETRY; *wrote when the EXEC ran. */
static int
claim_decide(mall_ctx_t *ctx, claim_t *c, redisReply **reps, int *wrote,
    mall_err_t *err)
{
    coupon_tpl_t   t;
    cJSON         *o;
    char          *json;
    int64_t        claimed, mine, held, now = (int64_t) time(NULL);
    int            rc;

    if (c->idem[0] != '\0' && reps[R_MORE]->type == REDIS_REPLY_STRING) {
        return claim_replay(ctx, c, reps[R_MORE]);
    }
    rc = coupon_tpl_reply(reps[R_TPL], &t, &claimed);
    if (rc == COUPON_TPL_NONE) {
        return mall_reply_error(ctx, 404, "NOT_FOUND", "no such coupon");
    }
    if (rc != MALL_OK || c->coupon_id <= 0) {
        return mall_err_set(err, 500, "coupon template %lld: corrupt",
                            (long long) c->tid);
    }
    mine = order_reply_int(reps[R_MINE], 0);
    held = reps[R_HELD]->type == REDIS_REPLY_INTEGER
           ? reps[R_HELD]->integer : 0;
    if (claim_check(ctx, &t, claimed, mine, held, now) != MALL_OK) {
        return MALL_OK;
    }
    o = coupon_issue_json(&t, c->coupon_id, now);
    json = o != NULL ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (json == NULL) {
        return mall_err_set(err, 500, "out of memory");
    }
    *wrote = 1;
    rc = claim_write(ctx, c, json, err);
    if (rc == MALL_OK) {
        rc = sf_reply_raw(ctx, 201, json, strlen(json));
    }
    cJSON_free(json);
    return rc;
}


/* One round: read under WATCH, check, write. */
static int
claim_attempt(mall_ctx_t *ctx, claim_t *c, mall_err_t *err)
{
    redisReply  *reps[6];
    size_t       n;
    int          rc, wrote = 0;

    rc = claim_read(ctx, c, reps, &n, err);
    if (rc != MALL_OK) {
        return rc;
    }
    rc = claim_decide(ctx, c, reps, &wrote, err);
    mall_redis_free_replies(reps, n);
    if (!wrote) {
        mall_unwatch(ctx->redis);       /* no EXEC ended the WATCH */
    }
    return rc;
}


static int
coupon_claim(mall_ctx_t *ctx)
{
    claim_t      c;
    const char  *key;
    mall_err_t   err;
    int          rc, tries;

    memset(&c, 0, sizeof(c));
    if (sf_require_user(ctx, c.uid) != MALL_OK) {
        return MALL_OK;
    }
    c.tid = sf_param_id(ctx, "template_id");
    if (c.tid <= 0) {
        return mall_reply_error(ctx, 404, "NOT_FOUND", "no such coupon");
    }
    key = evhttp_find_header(evhttp_request_get_input_headers(ctx->req),
                             "Idempotency-Key");
    if (key != NULL && !order_idem_key_valid(key)) {
        return mall_reply_error(ctx, 400, "VALIDATION_FAILED", "the "
                                "Idempotency-Key header must be 1..64 "
                                "characters of [A-Za-z0-9_-]");
    }
    coupon_key_id(c.tkey, sizeof(c.tkey), COUPON_KEY_TPL, c.tid);
    coupon_key_id(c.ukey, sizeof(c.ukey), COUPON_KEY_TPL_USERS, c.tid);
    order_key(c.wallet, sizeof(c.wallet), COUPON_KEY_WALLET, c.uid, NULL);
    if (key != NULL) {
        order_key(c.idem, sizeof(c.idem), COUPON_KEY_IDEM, c.uid, key);
    }
    err.code = 0;
    err.msg[0] = '\0';
    rc = MALL_BATCH_ABORTED;
    for (tries = 0; tries < CLAIM_TRIES && rc == MALL_BATCH_ABORTED;
         tries++)
    {
        rc = claim_attempt(ctx, &c, &err);
    }
    if (rc == MALL_BATCH_ABORTED) {
        return mall_reply_error(ctx, 409, "CONFLICT", "too many claims of "
                                "this coupon at once; retry");
    }
    return rc == MALL_OK ? MALL_OK : sf_fail(ctx, rc, "coupon claim", &err);
}
