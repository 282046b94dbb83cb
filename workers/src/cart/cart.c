/*
 * The shopper's cart: /api/v1/cart/items[/{sku_id}].
 *
 *   mall:cart:{uid}          hash  sku id -> quantity (1..99)
 *   mall:cart:{uid}:added    zset  sku id -> time added (ms); list order
 *   mall:cart:{uid}:unsel    set   sku ids the shopper deselected (an item
 *                                  is selected unless listed here)
 *
 * Writes WATCH the quantity hash, read it, then MULTI/EXEC, so two
 * concurrent adds of one SKU merge and the 100-item cap holds. Prices and
 * stock are read live on every GET; an item whose product was delisted or
 * whose SKU was removed stays in the cart, flagged unavailable.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cart_body.h"
#include "catalog.h"
#include "catalog_keys.h"
#include "mall_batch.h"
#include "mall_json.h"
#include "mall_reply.h"
#include "storefront.h"

#define CART_ITEMS_MAX   100
#define CART_TRIES       5

static int cart_list(mall_ctx_t *ctx);
static int cart_add(mall_ctx_t *ctx);
static int cart_patch(mall_ctx_t *ctx);
static int cart_delete(mall_ctx_t *ctx);

const mall_route_t  mall_cart_routes[] = {
    { "GET", "/api/v1/cart/items", cart_list, 0 },
    { "POST", "/api/v1/cart/items", cart_add, 0 },
    { "PATCH", "/api/v1/cart/items/{sku_id}", cart_patch, 0 },
    { "DELETE", "/api/v1/cart/items/{sku_id}", cart_delete, 0 },
    { NULL, NULL, NULL, 0 }
};

typedef struct {
    char  qty[SF_UID_MAX + 16];
    char  added[SF_UID_MAX + 24];
    char  unsel[SF_UID_MAX + 24];
} cart_keys_t;


static void
cart_keys(const char *uid, cart_keys_t *k)
{
    snprintf(k->qty, sizeof(k->qty), "mall:cart:%s", uid);
    snprintf(k->added, sizeof(k->added), "mall:cart:%s:added", uid);
    snprintf(k->unsel, sizeof(k->unsel), "mall:cart:%s:unsel", uid);
}


static const char *
stock_state(int64_t stock, int low)
{
    if (stock <= 0) {
        return "out_of_stock";
    }
    return stock <= low ? "low" : "in_stock";
}


/* One cart line: SKU (price, stock, attrs, product) and its product. */
static int
cart_item_json(mall_ctx_t *ctx, cJSON *items, int64_t sku, int64_t qty,
    int selected, const redisReply *s, const redisReply *p,
    int64_t *total_fen, int64_t *total_qty, int64_t *nsel)
{
    /* s: product_id price_fen stock attrs; p: name_zh image status */
    cJSON       *it, *attrs;
    int64_t      price, stock, pid;
    const char  *reason;
    int          available;

    it = cJSON_CreateObject();
    if (it == NULL || !cJSON_AddItemToArray(items, it)) {
        cJSON_Delete(it);
        return MALL_ERR;
    }
    reason = NULL;
    price = stock = pid = 0;
    if (s->type != REDIS_REPLY_ARRAY || s->elements != 4
        || catalog_reply_int(s->element[0], &pid) != MALL_OK
        || catalog_reply_int(s->element[1], &price) != MALL_OK
        || catalog_reply_int(s->element[2], &stock) != MALL_OK)
    {
        reason = "removed";
    } else if (p == NULL || p->type != REDIS_REPLY_ARRAY
               || p->elements != 3
               || p->element[0]->type != REDIS_REPLY_STRING)
    {
        reason = "removed";
    } else if (p->element[2]->type == REDIS_REPLY_STRING
               && strcmp(p->element[2]->str, "delisted") == 0)
    {
        reason = "delisted";
    } else if (stock <= 0) {
        reason = "out_of_stock";
    }
    available = reason == NULL;

    if (mall_json_add_int(it, "sku_id", sku) != MALL_OK
        || mall_json_add_int(it, "quantity", qty) != MALL_OK
        || cJSON_AddBoolToObject(it, "selected", selected) == NULL
        || cJSON_AddBoolToObject(it, "available", available) == NULL)
    {
        return MALL_ERR;
    }
    if (reason != NULL && mall_json_add_str(it, "reason", reason) != MALL_OK)
    {
        return MALL_ERR;
    }
    if (pid > 0 && mall_json_add_int(it, "product_id", pid) != MALL_OK) {
        return MALL_ERR;
    }
    if (p != NULL && p->type == REDIS_REPLY_ARRAY && p->elements == 3
        && p->element[0]->type == REDIS_REPLY_STRING)
    {
        if (mall_json_add_str(it, "name", p->element[0]->str) != MALL_OK
            || mall_json_add_str(it, "image",
                                 p->element[1]->type == REDIS_REPLY_STRING
                                 ? p->element[1]->str : "") != MALL_OK)
        {
            return MALL_ERR;
        }
    }
    if (s->type == REDIS_REPLY_ARRAY && s->elements == 4
        && strcmp(reason != NULL ? reason : "", "removed") != 0)
    {
        attrs = NULL;
        if (s->element[3]->type == REDIS_REPLY_STRING) {
            attrs = cJSON_ParseWithLength(s->element[3]->str,
                                          s->element[3]->len);
        }
        if (attrs != NULL && !cJSON_AddItemToObject(it, "attrs", attrs)) {
            cJSON_Delete(attrs);
            return MALL_ERR;
        }
        if (mall_json_add_int(it, "price_fen", price) != MALL_OK
            || mall_json_add_str(it, "stock_state",
                                 stock_state(stock,
                                             ctx->conf->low_stock_threshold))
               != MALL_OK
            || cJSON_AddBoolToObject(it, "exceeds_stock", qty > stock)
               == NULL
            || mall_json_add_int(it, "subtotal_fen", price * qty) != MALL_OK)
        {
            return MALL_ERR;
        }
    }
    if (selected && available) {
        *total_fen += price * qty;
        *total_qty += qty;
        (*nsel)++;
    }
    return MALL_OK;
}


static int
cart_list(mall_ctx_t *ctx)
{
    char               uid[SF_UID_MAX], (*skeys)[48], (*pkeys)[48];
    cart_keys_t        k;
    mall_redis_cmd_t   cmds[3], *scmds;
    redisReply        *reps[3], **sreps;
    const char        *argv[3][5], **sargv;
    int64_t           *skus, *qtys, total_fen, total_qty, nsel, v;
    cJSON             *root, *items;
    mall_err_t         err;
    size_t             n, i, j, nsreps;
    int                rc, selected;

    if (sf_require_user(ctx, uid) != MALL_OK) {
        return MALL_OK;
    }
    cart_keys(uid, &k);
    memset(reps, 0, sizeof(reps));
    root = NULL;
    skus = qtys = NULL;
    scmds = NULL;
    sreps = NULL;
    sargv = NULL;
    skeys = pkeys = NULL;
    nsreps = 0;
    err.msg[0] = '\0';

    argv[0][0] = "ZREVRANGE"; argv[0][1] = k.added; argv[0][2] = "0";
    argv[0][3] = "-1";
    argv[1][0] = "HGETALL"; argv[1][1] = k.qty;
    argv[2][0] = "SMEMBERS"; argv[2][1] = k.unsel;
    cmds[0].argc = 4;
    cmds[1].argc = 2;
    cmds[2].argc = 2;
    for (i = 0; i < 3; i++) {
        cmds[i].argv = argv[i];
        cmds[i].argvlen = NULL;
    }
    rc = mall_redis_pipeline(ctx->redis, 3, cmds, reps, &err);
    if (rc != MALL_OK) {
        goto done;
    }
    rc = MALL_ERR;
    for (i = 0; i < 3; i++) {
        if (reps[i]->type != REDIS_REPLY_ARRAY) {
            mall_err_set(&err, 500, "unexpected cart reply");
            goto done;
        }
    }

    /* newest first; the quantity hash decides membership */
    n = reps[0]->elements;
    skus = calloc(n + 1, sizeof(int64_t));
    qtys = calloc(n + 1, sizeof(int64_t));
    if (skus == NULL || qtys == NULL) {
        goto done;
    }
    j = 0;
    for (i = 0; i < n; i++) {
        const redisReply  *q;

        if (catalog_reply_int(reps[0]->element[i], &skus[j]) != MALL_OK) {
            continue;
        }
        q = mall_redis_hash_field(reps[1], reps[0]->element[i]->str);
        if (q != NULL && catalog_reply_int(q, &v) == MALL_OK) {
            qtys[j++] = v;
        }
    }
    n = j;

    /* SKU rows, then their products, in one round trip each */
    nsreps = 2 * n;
    scmds = calloc(nsreps + 1, sizeof(*scmds));
    sreps = calloc(nsreps + 1, sizeof(*sreps));
    sargv = calloc(nsreps * 6 + 1, sizeof(*sargv));
    skeys = calloc(n + 1, sizeof(*skeys));
    pkeys = calloc(n + 1, sizeof(*pkeys));
    if (scmds == NULL || sreps == NULL || sargv == NULL || skeys == NULL
        || pkeys == NULL)
    {
        goto done;
    }
    for (i = 0; i < n; i++) {
        snprintf(skeys[i], sizeof(skeys[i]), CATALOG_KEY_SKU_FMT,
                 (long long) skus[i]);
        sargv[i * 6] = "HMGET"; sargv[i * 6 + 1] = skeys[i];
        sargv[i * 6 + 2] = "product_id"; sargv[i * 6 + 3] = "price_fen";
        sargv[i * 6 + 4] = "stock"; sargv[i * 6 + 5] = "attrs";
        scmds[i].argc = 6;
        scmds[i].argv = &sargv[i * 6];
    }
    if (n > 0) {
        rc = mall_redis_pipeline(ctx->redis, n, scmds, sreps, &err);
        if (rc != MALL_OK) {
            goto done;
        }
        rc = MALL_ERR;
    }
    for (i = 0; i < n; i++) {
        int64_t  pid = 0;

        if (sreps[i]->type == REDIS_REPLY_ARRAY && sreps[i]->elements == 4) {
            catalog_reply_int(sreps[i]->element[0], &pid);
        }
        snprintf(pkeys[i], sizeof(pkeys[i]), CATALOG_KEY_PRODUCT_FMT,
                 (long long) pid);
        sargv[(n + i) * 6] = "HMGET"; sargv[(n + i) * 6 + 1] = pkeys[i];
        sargv[(n + i) * 6 + 2] = "name_zh";
        sargv[(n + i) * 6 + 3] = "image";
        sargv[(n + i) * 6 + 4] = "status";
        scmds[n + i].argc = 5;
        scmds[n + i].argv = &sargv[(n + i) * 6];
    }
    if (n > 0) {
        rc = mall_redis_pipeline(ctx->redis, n, scmds + n, sreps + n, &err);
        if (rc != MALL_OK) {
            goto done;
        }
        rc = MALL_ERR;
    }

    root = cJSON_CreateObject();
    items = root != NULL ? cJSON_AddArrayToObject(root, "items") : NULL;
    if (items == NULL) {
        goto done;
    }
    total_fen = total_qty = nsel = 0;
    for (i = 0; i < n; i++) {
        char  s[24];

        snprintf(s, sizeof(s), "%lld", (long long) skus[i]);
        selected = 1;
        for (j = 0; j < reps[2]->elements; j++) {
            if (strcmp(reps[2]->element[j]->str, s) == 0) {
                selected = 0;
            }
        }
        if (cart_item_json(ctx, items, skus[i], qtys[i], selected, sreps[i],
                           sreps[n + i], &total_fen, &total_qty, &nsel)
            != MALL_OK)
        {
            goto done;
        }
    }
    if (mall_json_add_int(root, "count", (int64_t) n) != MALL_OK
        || mall_json_add_int(root, "selected_count", nsel) != MALL_OK
        || mall_json_add_int(root, "selected_quantity", total_qty) != MALL_OK
        || mall_json_add_int(root, "total_fen", total_fen) != MALL_OK)
    {
        goto done;
    }
    rc = sf_reply(ctx, 200, root);

done:
    if (rc == MALL_ERR && !ctx->replied) {
        sf_log_fail(ctx, "cart list", &err);
    }
    cJSON_Delete(root);
    mall_redis_free_replies(reps, 3);
    if (sreps != NULL) {
        mall_redis_free_replies(sreps, nsreps);
    }
    free(skus);
    free(qtys);
    free(scmds);
    free(sreps);
    free(sargv);
    free(skeys);
    free(pkeys);
    return rc;
}


/*
 * Checks that sku exists and its product is on sale. MALL_OK, or
 * MALL_ERR after replying 404/422, or MALL_RETRY.
 */
static int
cart_check_sku(mall_ctx_t *ctx, int64_t sku)
{
    char         key[48], pkey[48];
    redisReply  *r;
    mall_err_t   err;
    int64_t      pid;
    int          rc, delisted;

    snprintf(key, sizeof(key), CATALOG_KEY_SKU_FMT, (long long) sku);
    rc = mall_cmd(ctx->redis, &r, &err, 3, "HGET", key, "product_id");
    if (rc != MALL_OK) {
        return rc == MALL_RETRY ? MALL_RETRY : MALL_ERR;
    }
    if (catalog_reply_int(r, &pid) != MALL_OK) {
        freeReplyObject(r);
        mall_reply_error(ctx, 404, "NOT_FOUND", "no such sku");
        return MALL_ERR;
    }
    freeReplyObject(r);

    snprintf(pkey, sizeof(pkey), CATALOG_KEY_PRODUCT_FMT, (long long) pid);
    rc = mall_cmd(ctx->redis, &r, &err, 3, "HGET", pkey, "status");
    if (rc != MALL_OK) {
        return rc == MALL_RETRY ? MALL_RETRY : MALL_ERR;
    }
    delisted = r->type == REDIS_REPLY_STRING
               && strcmp(r->str, "delisted") == 0;
    freeReplyObject(r);
    if (delisted) {
        sf_reply_invalid(ctx, "sku_id", "the product is no longer on sale");
        return MALL_ERR;
    }
    return MALL_OK;
}


/*
 * WATCHes the quantity hash and reads the quantity of ssku (0 when not in
 * the cart). MALL_OK, MALL_ERR, MALL_RETRY.
 */
static int
cart_watch_qty(mall_ctx_t *ctx, const cart_keys_t *k, const char *ssku,
    int64_t *cur, mall_err_t *err)
{
    redisReply  *r;
    int          rc;

    rc = mall_cmd(ctx->redis, &r, err, 2, "WATCH", k->qty);
    if (rc != MALL_OK) {
        return rc;
    }
    freeReplyObject(r);
    rc = mall_cmd(ctx->redis, &r, err, 3, "HGET", k->qty, ssku);
    if (rc != MALL_OK) {
        return rc;
    }
    *cur = 0;
    catalog_reply_int(r, cur);
    freeReplyObject(r);
    return MALL_OK;
}


/*
 * Ends a write whose WATCH loop stopped with rc (MALL_BATCH_ABORTED: every
 * try lost a race): replies 409, or drops the WATCH and fails.
 */
static int
cart_end(mall_ctx_t *ctx, int rc, const char *what, mall_err_t *err)
{
    if (rc == MALL_BATCH_ABORTED) {
        return mall_reply_error(ctx, 409, "CONFLICT", "the cart changed "
                                "concurrently; try again");
    }
    if (rc != MALL_RETRY) {
        mall_unwatch(ctx->redis);
    }
    return sf_fail(ctx, rc, what, err);
}


static int
cart_item_reply(mall_ctx_t *ctx, int status, int64_t sku, int64_t qty,
    int selected)
{
    cJSON  *root;
    int     rc;

    root = cJSON_CreateObject();
    if (root == NULL || mall_json_add_int(root, "sku_id", sku) != MALL_OK
        || mall_json_add_int(root, "quantity", qty) != MALL_OK
        || cJSON_AddBoolToObject(root, "selected", selected) == NULL)
    {
        cJSON_Delete(root);
        return MALL_ERR;
    }
    rc = sf_reply(ctx, status, root);
    cJSON_Delete(root);
    return rc;
}


static int
cart_add(mall_ctx_t *ctx)
{
    char          uid[SF_UID_MAX], ssku[24], sqty[24], sts[24];
    cart_keys_t   k;
    cJSON        *body;
    redisReply   *r;
    mall_batch_t  b;
    mall_err_t    err;
    int64_t       sku, qty, cur, count;
    int           rc, tries;
    const char   *field, *msg;

    if (sf_require_user(ctx, uid) != MALL_OK || sf_body(ctx, &body)
                                                != MALL_OK)
    {
        return MALL_OK;
    }
    rc = cart_body_add(body, &sku, &qty, &field, &msg);
    cJSON_Delete(body);
    if (rc != MALL_OK) {
        return sf_reply_invalid(ctx, field, msg);
    }

    rc = cart_check_sku(ctx, sku);
    if (rc != MALL_OK) {
        return rc == MALL_RETRY ? MALL_RETRY : MALL_OK;
    }

    cart_keys(uid, &k);
    snprintf(ssku, sizeof(ssku), "%lld", (long long) sku);
    err.msg[0] = '\0';

    rc = MALL_BATCH_ABORTED;
    for (tries = 0; tries < CART_TRIES; tries++) {
        rc = cart_watch_qty(ctx, &k, ssku, &cur, &err);
        if (rc != MALL_OK) {
            break;
        }
        rc = mall_cmd(ctx->redis, &r, &err, 2, "HLEN", k.qty);
        if (rc != MALL_OK) {
            break;
        }
        count = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
        freeReplyObject(r);

        if (cur == 0 && count >= CART_ITEMS_MAX) {
            mall_unwatch(ctx->redis);
            return mall_reply_error(ctx, 409, "CONFLICT", "the cart holds "
                                    "at most %d items", CART_ITEMS_MAX);
        }
        if (cur + qty > CART_QTY_MAX) {
            mall_unwatch(ctx->redis);
            return sf_reply_invalid(ctx, "quantity", "at most 99 of one sku");
        }

        snprintf(sqty, sizeof(sqty), "%lld", (long long) (cur + qty));
        snprintf(sts, sizeof(sts), "%lld", (long long) mall_wall_ms());
        mall_batch_init(&b);
        mall_batch_addl(&b, 4, "HSET", k.qty, ssku, sqty);
        mall_batch_addl(&b, 5, "ZADD", k.added, "NX", sts, ssku);
        if (cur == 0) {
            mall_batch_addl(&b, 3, "SREM", k.unsel, ssku);
        }
        rc = mall_batch_exec(&b, ctx->redis, 1, NULL, &err);
        mall_batch_free(&b);
        if (rc == MALL_OK) {
            return cart_item_reply(ctx, cur == 0 ? 201 : 200, sku, cur + qty,
                                   1);
        }
        if (rc != MALL_BATCH_ABORTED) {
            break;
        }
    }
    return cart_end(ctx, rc, "cart add", &err);
}


static int
cart_patch(mall_ctx_t *ctx)
{
    char          uid[SF_UID_MAX], ssku[24], sqty[24];
    cart_keys_t   k;
    cJSON        *body;
    redisReply   *r;
    mall_batch_t  b;
    mall_err_t    err;
    int64_t       sku, qty, cur;
    int           rc, tries, selected;
    const char   *field, *msg;

    if (sf_require_user(ctx, uid) != MALL_OK
        || sf_target(ctx, "sku_id", "no such cart item", &sku, &body)
           != MALL_OK)
    {
        return MALL_OK;
    }
    rc = cart_body_patch(body, &qty, &selected, &field, &msg);
    cJSON_Delete(body);
    if (rc != MALL_OK) {
        return sf_reply_invalid(ctx, field, msg);
    }

    cart_keys(uid, &k);
    snprintf(ssku, sizeof(ssku), "%lld", (long long) sku);
    err.msg[0] = '\0';

    rc = MALL_BATCH_ABORTED;
    for (tries = 0; tries < CART_TRIES; tries++) {
        rc = cart_watch_qty(ctx, &k, ssku, &cur, &err);
        if (rc != MALL_OK) {
            break;
        }
        if (cur == 0) {
            mall_unwatch(ctx->redis);
            return mall_reply_error(ctx, 404, "NOT_FOUND",
                                    "no such cart item");
        }
        if (qty == 0) {
            qty = cur;
        }
        snprintf(sqty, sizeof(sqty), "%lld", (long long) qty);
        mall_batch_init(&b);
        mall_batch_addl(&b, 4, "HSET", k.qty, ssku, sqty);
        if (selected == 1) {
            mall_batch_addl(&b, 3, "SREM", k.unsel, ssku);
        } else if (selected == 0) {
            mall_batch_addl(&b, 3, "SADD", k.unsel, ssku);
        }
        rc = mall_batch_exec(&b, ctx->redis, 1, NULL, &err);
        mall_batch_free(&b);
        if (rc == MALL_OK) {
            if (selected < 0) {
                rc = mall_cmd(ctx->redis, &r, &err, 3, "SISMEMBER", k.unsel,
                              ssku);
                if (rc != MALL_OK) {
                    break;
                }
                selected = !(r->type == REDIS_REPLY_INTEGER
                             && r->integer == 1);
                freeReplyObject(r);
            }
            return cart_item_reply(ctx, 200, sku, qty, selected);
        }
        if (rc != MALL_BATCH_ABORTED) {
            break;
        }
    }
    return cart_end(ctx, rc, "cart patch", &err);
}


static int
cart_delete(mall_ctx_t *ctx)
{
    char          uid[SF_UID_MAX], ssku[24];
    cart_keys_t   k;
    redisReply   *exec;
    mall_batch_t  b;
    mall_err_t    err;
    int64_t       sku;
    int           rc, gone;

    if (sf_require_user(ctx, uid) != MALL_OK
        || sf_target(ctx, "sku_id", "no such cart item", &sku, NULL)
           != MALL_OK)
    {
        return MALL_OK;
    }
    cart_keys(uid, &k);
    snprintf(ssku, sizeof(ssku), "%lld", (long long) sku);
    err.msg[0] = '\0';

    mall_batch_init(&b);
    mall_batch_addl(&b, 3, "HDEL", k.qty, ssku);
    mall_batch_addl(&b, 3, "ZREM", k.added, ssku);
    mall_batch_addl(&b, 3, "SREM", k.unsel, ssku);
    rc = mall_batch_exec(&b, ctx->redis, 1, &exec, &err);
    mall_batch_free(&b);
    if (rc != MALL_OK) {
        return sf_fail(ctx, rc, "cart delete", &err);
    }
    gone = exec->elements > 0 && exec->element[0]->type
           == REDIS_REPLY_INTEGER && exec->element[0]->integer == 1;
    freeReplyObject(exec);
    if (!gone) {
        return mall_reply_error(ctx, 404, "NOT_FOUND", "no such cart item");
    }
    return sf_reply_ack(ctx, 200, "sku_id", sku, "deleted");
}
