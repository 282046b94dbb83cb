/*
 * Orders in Redis (see order_store.h; the data model is order_keys.h and
 * the atomicity argument docs/orders.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "address_rules.h"
#include "catalog.h"
#include "catalog_keys.h"
#include <openssl/crypto.h>

#include "mall_crypto.h"
#include "mall_json.h"
#include "mall_log.h"
#include "mall_reply.h"
#include "mall_seal.h"
#include "merchant.h"
#include "order_store.h"

#define ORDER_SEALED_MAX  4096
#define ORDER_PLAIN_MAX   2048

static const char  order_alphabet[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";


int
order_id_valid(const char *s)
{
    size_t  i;

    if (s == NULL || strlen(s) != ORDER_ID_LEN) {
        return 0;
    }
    for (i = 0; i < ORDER_ID_LEN; i++) {
        if (strchr(order_alphabet, s[i]) == NULL) {
            return 0;
        }
    }
    return 1;
}


int
order_new_id(char out[ORDER_ID_MAX])
{
    unsigned char  rnd[64];
    struct tm      tm;
    time_t         now;
    size_t         i, n;

    now = time(NULL);
    gmtime_r(&now, &tm);
    strftime(out, 9, "%Y%m%d", &tm);
    n = 8;
    while (n < ORDER_ID_LEN) {
        if (mall_random(rnd, sizeof(rnd)) != 0) {
            return MALL_ERR;
        }
        /* 248 = 4 * 62: rejection keeps every character equally likely */
        for (i = 0; i < sizeof(rnd) && n < ORDER_ID_LEN; i++) {
            if (rnd[i] < 248) {
                out[n++] = order_alphabet[rnd[i] % 62];
            }
        }
    }
    out[ORDER_ID_LEN] = '\0';
    OPENSSL_cleanse(rnd, sizeof(rnd));
    return MALL_OK;
}


void
order_key(char *buf, size_t sz, const char *fmt, const char *a,
    const char *b)
{
    snprintf(buf, sz, fmt, a, b);
}


int64_t
order_reply_int(const redisReply *r, int64_t def)
{
    long long  v;

    if (r == NULL || r->type != REDIS_REPLY_STRING
        || mall_parse_int(r->str, -(1LL << 62), 1LL << 62, &v) != MALL_OK)
    {
        return def;
    }
    return v;
}


/* ------------------------------------------------------------ loading */

int
order_items_parse(const char *json, size_t len, order_head_t *h)
{
    cJSON             *arr, *it;
    order_item_ref_t  *ref;
    int                rc;

    h->nitems = 0;
    arr = cJSON_ParseWithLength(json, len);
    if (!cJSON_IsArray(arr)) {
        cJSON_Delete(arr);
        return MALL_ERR;
    }
    rc = MALL_OK;
    cJSON_ArrayForEach(it, arr) {
        if (h->nitems >= ORDER_LINES_MAX) {
            rc = MALL_ERR;
            break;
        }
        ref = &h->items[h->nitems];
        ref->threshold = -1;
        if (mall_json_get_int(cJSON_GetObjectItemCaseSensitive(it, "sku_id"),
                              1, 1LL << 53, &ref->sku_id) != MALL_OK
            || mall_json_get_int(cJSON_GetObjectItemCaseSensitive(it,
                                     "product_id"), 0, 1LL << 53,
                                 &ref->product_id) != MALL_OK
            || mall_json_get_int(cJSON_GetObjectItemCaseSensitive(it,
                                     "quantity"), 1, 1000000,
                                 &ref->quantity) != MALL_OK)
        {
            rc = MALL_ERR;
            break;
        }
        h->nitems++;
    }
    cJSON_Delete(arr);
    return rc;
}


int
order_load_head(mall_ctx_t *ctx, const char *oid, int watch,
    order_head_t *h, mall_err_t *err)
{
    char         key[ORDER_KEY_MAX];
    redisReply  *r;
    int          rc;

    memset(h, 0, sizeof(*h));
    snprintf(h->id, sizeof(h->id), "%s", oid);
    order_key(key, sizeof(key), ORDER_KEY_ORDER, oid, NULL);
    if (watch) {
        rc = mall_cmd(ctx->redis, &r, err, 2, "WATCH", key);
        if (rc != MALL_OK) {
            return rc;
        }
        freeReplyObject(r);
    }
    rc = mall_cmd(ctx->redis, &r, err, 8, "HMGET", key, "user_id", "status",
                  "items", "created_ms", "refund_from", "idem_key");
    if (rc != MALL_OK) {
        return rc;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 6
        || r->element[0]->type != REDIS_REPLY_STRING
        || r->element[1]->type != REDIS_REPLY_STRING
        || r->element[2]->type != REDIS_REPLY_STRING)
    {
        freeReplyObject(r);
        return MALL_OK;                 /* no such order */
    }
    snprintf(h->uid, sizeof(h->uid), "%s", r->element[0]->str);
    h->status = order_status_parse(r->element[1]->str, 0);
    h->created_ms = order_reply_int(r->element[3], 0);
    h->refund_from = r->element[4]->type == REDIS_REPLY_STRING
                     ? order_status_parse(r->element[4]->str, 0)
                     : ORDER_ST_NONE;
    if (r->element[5]->type == REDIS_REPLY_STRING) {
        snprintf(h->idem_key, sizeof(h->idem_key), "%s", r->element[5]->str);
    }
    if (order_items_parse(r->element[2]->str, r->element[2]->len, h)
        != MALL_OK || h->status == ORDER_ST_NONE)
    {
        freeReplyObject(r);
        return mall_err_set(err, 500, "order %s: corrupt record", oid);
    }
    freeReplyObject(r);
    return MALL_OK;
}


int
order_load_thresholds(mall_ctx_t *ctx, order_head_t *h, mall_err_t *err)
{
    mall_redis_cmd_t   cmds[ORDER_LINES_MAX];
    redisReply        *reps[ORDER_LINES_MAX];
    const char        *argv[ORDER_LINES_MAX][3];
    char               keys[ORDER_LINES_MAX][48];
    size_t             i;
    int                rc;

    if (h->nitems == 0) {
        return MALL_OK;
    }
    for (i = 0; i < h->nitems; i++) {
        snprintf(keys[i], sizeof(keys[i]), CATALOG_KEY_SKU_FMT,
                 (long long) h->items[i].sku_id);
        argv[i][0] = "HGET";
        argv[i][1] = keys[i];
        argv[i][2] = "low_stock_threshold";
        cmds[i].argc = 3;
        cmds[i].argv = argv[i];
        cmds[i].argvlen = NULL;
    }
    rc = mall_redis_pipeline(ctx->redis, h->nitems, cmds, reps, err);
    if (rc != MALL_OK) {
        return rc;
    }
    for (i = 0; i < h->nitems; i++) {
        h->items[i].threshold = order_reply_int(reps[i], -1);
    }
    mall_redis_free_replies(reps, h->nitems);
    return MALL_OK;
}


/* ------------------------------------------------------- transactions */

void
order_batch_status(mall_batch_t *b, const order_head_t *h,
    order_status_e to, order_event_e ev, order_actor_e actor,
    const char *actor_id, time_t now)
{
    char    key[ORDER_KEY_MAX], from_k[ORDER_KEY_MAX], to_k[ORDER_KEY_MAX];
    char    ekey[ORDER_KEY_MAX], ts[24], score[24], *ej;
    cJSON  *e;

    order_key(key, sizeof(key), ORDER_KEY_ORDER, h->id, NULL);
    order_key(ekey, sizeof(ekey), ORDER_KEY_EVENTS, h->id, NULL);
    order_key(from_k, sizeof(from_k), ORDER_KEY_USER_STATUS, h->uid,
              order_status_name(h->status));
    order_key(to_k, sizeof(to_k), ORDER_KEY_USER_STATUS, h->uid,
              order_status_name(to));
    snprintf(ts, sizeof(ts), "%lld", (long long) now);
    snprintf(score, sizeof(score), "%lld", (long long) h->created_ms);

    mall_batch_addl(b, 6, "HSET", key, "status", order_status_name(to),
                    "updated_at", ts);
    if (to == ORDER_ST_REFUND_REQUESTED) {
        mall_batch_addl(b, 4, "HSET", key, "refund_from",
                        order_status_name(h->status));
    }
    if (h->status != ORDER_ST_RESERVING) {
        mall_batch_addl(b, 3, "ZREM", from_k, h->id);
    }
    mall_batch_addl(b, 4, "ZADD", to_k, score, h->id);

    e = cJSON_CreateObject();
    if (e == NULL || mall_json_add_int(e, "at", (int64_t) now) != MALL_OK
        || mall_json_add_str(e, "actor", order_actor_name(actor)) != MALL_OK
        || mall_json_add_str(e, "actor_id", actor_id != NULL ? actor_id
                                                              : "")
           != MALL_OK
        || mall_json_add_str(e, "event", order_event_name(ev)) != MALL_OK
        || mall_json_add_str(e, "from", order_status_name(h->status))
           != MALL_OK
        || mall_json_add_str(e, "to", order_status_name(to)) != MALL_OK
        || (ej = cJSON_PrintUnformatted(e)) == NULL)
    {
        cJSON_Delete(e);
        b->oom = 1;
        return;
    }
    cJSON_Delete(e);
    mall_batch_addl(b, 3, "RPUSH", ekey, ej);
    cJSON_free(ej);
}


void
order_batch_release(mall_batch_t *b, const order_head_t *h)
{
    char    skey[48], q[24], bkey[ORDER_KEY_MAX], sid[24];
    size_t  i;

    order_key(bkey, sizeof(bkey), ORDER_KEY_BOUGHT, h->uid, NULL);
    for (i = 0; i < h->nitems; i++) {
        snprintf(skey, sizeof(skey), CATALOG_KEY_SKU_FMT,
                 (long long) h->items[i].sku_id);
        snprintf(q, sizeof(q), "%lld", (long long) h->items[i].quantity);
        mall_batch_addl(b, 4, "HINCRBY", skey, "stock", q);
    }
    for (i = 0; i < h->nitems; i++) {
        snprintf(sid, sizeof(sid), "%lld", (long long) h->items[i].sku_id);
        snprintf(q, sizeof(q), "-%lld", (long long) h->items[i].quantity);
        mall_batch_addl(b, 4, "HINCRBY", bkey, sid, q);
    }
}


void
order_batch_confirm(mall_batch_t *b, const order_head_t *h, time_t now)
{
    order_batch_status(b, h, ORDER_ST_UNPAID, ORDER_EV_CONFIRM,
                       ORDER_ACTOR_SYSTEM, "", now);
    mall_batch_addl(b, 3, "ZREM", ORDER_KEY_RESERVING, h->id);
}


void
order_batch_discard(mall_batch_t *b, const order_head_t *h)
{
    char  key[ORDER_KEY_MAX];

    order_batch_release(b, h);
    order_key(key, sizeof(key), ORDER_KEY_ORDER, h->id, NULL);
    mall_batch_addl(b, 2, "DEL", key);
    order_key(key, sizeof(key), ORDER_KEY_EVENTS, h->id, NULL);
    mall_batch_addl(b, 2, "DEL", key);
    order_key(key, sizeof(key), ORDER_KEY_USER_ALL, h->uid, NULL);
    mall_batch_addl(b, 3, "ZREM", key, h->id);
    mall_batch_addl(b, 3, "ZREM", ORDER_KEY_EXPIRY, h->id);
    mall_batch_addl(b, 3, "ZREM", ORDER_KEY_RESERVING, h->id);
    if (h->idem_key[0] != '\0') {
        /* a retry with the same key starts afresh */
        mall_batch_addl(b, 2, "DEL", h->idem_key);
    }
}


/* -------------------------------------------------- stock follow-up */

void
order_stock_after(mall_ctx_t *ctx, const order_head_t *h,
    const int64_t *new_stock, const int64_t *delta)
{
    char        member[64];
    int64_t     old, nw, t;
    mall_err_t  err;
    redisReply *r;
    size_t      i;
    int         rc;

    for (i = 0; i < h->nitems; i++) {
        nw = new_stock[i];
        old = nw - delta[i];
        t = h->items[i].threshold >= 0 ? h->items[i].threshold
                                       : ctx->conf->low_stock_threshold;
        if ((old > 0) == (nw > 0) && (old > t) == (nw > t)) {
            continue;               /* the SKU's stock state is unchanged */
        }
        err.msg[0] = '\0';
        rc = merchant_stock_sync(ctx, h->items[i].product_id,
                                 h->items[i].sku_id, old, &err);
        if (rc == MALL_OK) {
            continue;
        }
        mall_log_req(MALL_LOG_WARN, "order", ctx->request_id, h->uid,
                     "stock state of sku %lld deferred: %s",
                     (long long) h->items[i].sku_id,
                     rc == MALL_BATCH_ABORTED ? "contended" : err.msg);
        snprintf(member, sizeof(member), "%lld:%lld",
                 (long long) h->items[i].product_id,
                 (long long) h->items[i].sku_id);
        if (mall_cmd(ctx->redis, &r, &err, 3, "SADD", ORDER_KEY_RESYNC,
                     member) == MALL_OK)
        {
            freeReplyObject(r);
        }
    }
}


/* Reads the first n integer replies of an EXEC (HINCRBY results). */
static int
exec_ints(const redisReply *exec, size_t n, int64_t *out)
{
    size_t  i;

    if (exec == NULL || exec->type != REDIS_REPLY_ARRAY
        || exec->elements < n)
    {
        return MALL_ERR;
    }
    for (i = 0; i < n; i++) {
        if (exec->element[i]->type != REDIS_REPLY_INTEGER) {
            return MALL_ERR;
        }
        out[i] = exec->element[i]->integer;
    }
    return MALL_OK;
}


int
order_transition(mall_ctx_t *ctx, const char *oid, const char *owner,
    order_event_e ev, order_actor_e actor, const char *actor_id,
    order_status_e *cur, mall_err_t *err)
{
    order_head_t    h;
    order_status_e  to;
    mall_batch_t    b;
    redisReply     *exec;
    int64_t         stock[ORDER_LINES_MAX], delta[ORDER_LINES_MAX];
    size_t          i;
    int             rc, tries, release;

    *cur = ORDER_ST_NONE;
    rc = MALL_BATCH_ABORTED;
    for (tries = 0; tries < ORDER_TRIES; tries++) {
        rc = order_load_head(ctx, oid, 1, &h, err);
        if (rc != MALL_OK) {
            break;
        }
        if (h.status == ORDER_ST_NONE
            || (owner != NULL && strcmp(owner, h.uid) != 0))
        {
            mall_unwatch(ctx->redis);
            return ORDER_NOT_FOUND;
        }
        *cur = h.status;
        to = order_state_next(h.status, ev, actor, h.refund_from);
        if (to == ORDER_ST_NONE) {
            mall_unwatch(ctx->redis);
            return ORDER_ILLEGAL;
        }
        release = order_state_releases_stock(h.status, to);

        mall_batch_init(&b);
        if (release) {
            order_batch_release(&b, &h);
        }
        order_batch_status(&b, &h, to, ev, actor, actor_id, time(NULL));
        if (h.status == ORDER_ST_UNPAID) {
            /* no longer waiting for payment */
            mall_batch_addl(&b, 3, "ZREM", ORDER_KEY_EXPIRY, h.id);
        }
        mall_batch_addl(&b, 3, "ZREM", ORDER_KEY_CLAIMED, h.id);
        rc = mall_batch_exec(&b, ctx->redis, 1, &exec, err);
        mall_batch_free(&b);
        if (rc == MALL_BATCH_ABORTED) {
            continue;               /* a concurrent change won: re-read */
        }
        if (rc != MALL_OK) {
            break;
        }
        *cur = to;
        if (release && exec_ints(exec, h.nitems, stock) == MALL_OK) {
            freeReplyObject(exec);
            for (i = 0; i < h.nitems; i++) {
                delta[i] = h.items[i].quantity;
            }
            if (order_load_thresholds(ctx, &h, err) == MALL_OK) {
                order_stock_after(ctx, &h, stock, delta);
            }
        } else {
            freeReplyObject(exec);
        }
        return MALL_OK;
    }
    if (rc != MALL_RETRY && rc != MALL_BATCH_ABORTED) {
        mall_unwatch(ctx->redis);
    }
    return rc;
}


int
order_resolve(mall_ctx_t *ctx, const char *oid, order_status_e *cur,
    mall_err_t *err)
{
    order_head_t       h;
    mall_redis_cmd_t   cmds[ORDER_LINES_MAX];
    redisReply        *reps[ORDER_LINES_MAX], *exec;
    const char        *argv[ORDER_LINES_MAX][3];
    char               keys[ORDER_LINES_MAX][48];
    mall_batch_t       b;
    int64_t            stock[ORDER_LINES_MAX], delta[ORDER_LINES_MAX];
    size_t             i;
    int                rc, short_stock;

    *cur = ORDER_ST_NONE;
    rc = order_load_head(ctx, oid, 1, &h, err);
    if (rc != MALL_OK) {
        if (rc == MALL_ERR) {
            mall_unwatch(ctx->redis);
        }
        return rc;
    }
    if (h.status != ORDER_ST_RESERVING) {
        /* settled (or never written): only the index entry is left */
        mall_unwatch(ctx->redis);
        *cur = h.status;
        if (mall_cmd(ctx->redis, &exec, err, 3, "ZREM", ORDER_KEY_RESERVING,
                     oid) == MALL_OK)
        {
            freeReplyObject(exec);
        }
        return MALL_OK;
    }

    for (i = 0; i < h.nitems; i++) {
        snprintf(keys[i], sizeof(keys[i]), CATALOG_KEY_SKU_FMT,
                 (long long) h.items[i].sku_id);
        argv[i][0] = "HGET";
        argv[i][1] = keys[i];
        argv[i][2] = "stock";
        cmds[i].argc = 3;
        cmds[i].argv = argv[i];
        cmds[i].argvlen = NULL;
    }
    rc = mall_redis_pipeline(ctx->redis, h.nitems, cmds, reps, err);
    if (rc != MALL_OK) {
        return rc;
    }
    short_stock = 0;
    for (i = 0; i < h.nitems; i++) {
        if (order_reply_int(reps[i], 0) < 0) {
            short_stock = 1;
        }
    }
    mall_redis_free_replies(reps, h.nitems);

    mall_batch_init(&b);
    if (short_stock) {
        order_batch_discard(&b, &h);
    } else {
        order_batch_confirm(&b, &h, time(NULL));
    }
    rc = mall_batch_exec(&b, ctx->redis, 1, &exec, err);
    mall_batch_free(&b);
    if (rc != MALL_OK) {
        if (rc == MALL_ERR) {
            mall_unwatch(ctx->redis);
        }
        return rc;
    }
    mall_log_req(MALL_LOG_NOTICE, "order", ctx->request_id, h.uid,
                 "order %s: stuck reservation %s", oid,
                 short_stock ? "discarded" : "confirmed");
    if (short_stock && exec_ints(exec, h.nitems, stock) == MALL_OK) {
        for (i = 0; i < h.nitems; i++) {
            delta[i] = h.items[i].quantity;
        }
        freeReplyObject(exec);
        if (order_load_thresholds(ctx, &h, err) == MALL_OK) {
            order_stock_after(ctx, &h, stock, delta);
        }
    } else {
        freeReplyObject(exec);
    }
    *cur = short_stock ? ORDER_ST_NONE : ORDER_ST_UNPAID;
    return MALL_OK;
}


/* --------------------------------------------------------------- view */

/* The unsealed address snapshot with the phone masked; NULL if absent. */
static cJSON *
order_address_view(mall_ctx_t *ctx, const char *oid, const redisReply *s)
{
    static const char   *fields[] = {
        "name", "province", "city", "district", "detail"
    };
    const auth_conf_t   *a = &ctx->conf->auth;
    const cJSON         *ph, *v;
    char                 aad[ORDER_KEY_MAX], masked[16];
    uint8_t              plain[ORDER_PLAIN_MAX];
    size_t               n, i;
    cJSON               *rec, *o;
    mall_err_t           err;

    if (s == NULL || s->type != REDIS_REPLY_STRING) {
        return NULL;
    }
    order_key(aad, sizeof(aad), ORDER_KEY_ADDRESS_AAD, oid, NULL);
    if (mall_unseal(a->data_keys, a->n_data_keys, aad, s->str, s->len, plain,
                    sizeof(plain), &n, &err) != MALL_OK)
    {
        return NULL;
    }
    rec = mall_json_object(plain, n);
    OPENSSL_cleanse(plain, sizeof(plain));
    if (rec == NULL) {
        return NULL;
    }
    o = cJSON_CreateObject();
    for (i = 0; o != NULL && i < MALL_ARRAY_LEN(fields); i++) {
        v = cJSON_GetObjectItemCaseSensitive(rec, fields[i]);
        if (mall_json_add_str(o, fields[i], cJSON_IsString(v)
                              ? v->valuestring : "") != MALL_OK)
        {
            cJSON_Delete(o);
            o = NULL;
        }
    }
    ph = cJSON_GetObjectItemCaseSensitive(rec, "phone");
    addr_phone_mask(cJSON_IsString(ph) ? ph->valuestring : NULL, masked,
                    sizeof(masked));
    if (o != NULL && mall_json_add_str(o, "phone", masked) != MALL_OK) {
        cJSON_Delete(o);
        o = NULL;
    }
    cJSON_Delete(rec);
    return o;
}


/* Adds a stored JSON field (parsed) or null. */
static int
add_json_field(cJSON *o, const char *name, const redisReply *r)
{
    cJSON  *v;

    v = r != NULL && r->type == REDIS_REPLY_STRING
        ? cJSON_ParseWithLength(r->str, r->len) : NULL;
    if (v == NULL) {
        v = cJSON_CreateNull();
    }
    if (v == NULL || !cJSON_AddItemToObject(o, name, v)) {
        cJSON_Delete(v);
        return MALL_ERR;
    }
    return MALL_OK;
}


cJSON *
order_view(mall_ctx_t *ctx, const redisReply *hash, const redisReply *events,
    int address)
{
    static const char  *ints[] = {
        "items_fen", "shipping_fen", "discount_fen", "total_fen",
        "pay_deadline", "created_at", "updated_at"
    };
    const redisReply   *id, *st, *f;
    order_status_e      status;
    cJSON              *o, *arr, *ev, *addr;
    size_t              i;

    id = mall_redis_hash_field(hash, "id");
    st = mall_redis_hash_field(hash, "status");
    if (id == NULL || st == NULL || id->type != REDIS_REPLY_STRING
        || st->type != REDIS_REPLY_STRING)
    {
        return NULL;
    }
    status = order_status_parse(st->str, 0);
    o = cJSON_CreateObject();
    if (o == NULL || mall_json_add_str(o, "order_id", id->str) != MALL_OK
        || mall_json_add_str(o, "status", status == ORDER_ST_RESERVING
                             ? "unpaid" : st->str) != MALL_OK
        || add_json_field(o, "items", mall_redis_hash_field(hash, "items"))
           != MALL_OK)
    {
        goto fail;
    }
    for (i = 0; i < MALL_ARRAY_LEN(ints); i++) {
        f = mall_redis_hash_field(hash, ints[i]);
        if (mall_json_add_int(o, ints[i], order_reply_int(f, 0)) != MALL_OK) {
            goto fail;
        }
    }
    f = mall_redis_hash_field(hash, "remark");
    if (mall_json_add_str(o, "remark", f != NULL
                          && f->type == REDIS_REPLY_STRING ? f->str : "")
        != MALL_OK
        || add_json_field(o, "coupon", mall_redis_hash_field(hash, "coupon"))
           != MALL_OK
        || add_json_field(o, "logistics", mall_redis_hash_field(hash,
                                                                "logistics"))
           != MALL_OK)
    {
        goto fail;
    }
    if (address) {
        f = mall_redis_hash_field(hash, "address_id");
        if (mall_json_add_int(o, "address_id", order_reply_int(f, 0)) != MALL_OK) {
            goto fail;
        }
        addr = order_address_view(ctx, id->str,
                                  mall_redis_hash_field(hash, "address"));
        if (addr == NULL) {
            addr = cJSON_CreateNull();
        }
        if (addr == NULL || !cJSON_AddItemToObject(o, "address", addr)) {
            cJSON_Delete(addr);
            goto fail;
        }
    }
    if (events != NULL && events->type == REDIS_REPLY_ARRAY) {
        arr = cJSON_AddArrayToObject(o, "events");
        if (arr == NULL) {
            goto fail;
        }
        for (i = 0; i < events->elements; i++) {
            if (events->element[i]->type != REDIS_REPLY_STRING) {
                continue;
            }
            ev = cJSON_ParseWithLength(events->element[i]->str,
                                       events->element[i]->len);
            if (ev != NULL && !cJSON_AddItemToArray(arr, ev)) {
                cJSON_Delete(ev);
                goto fail;
            }
        }
    }
    return o;

fail:
    cJSON_Delete(o);
    return NULL;
}


int
order_reply_conflict(mall_ctx_t *ctx, order_status_e cur, const char *msg)
{
    cJSON  *root, *e;
    int     rc;

    root = cJSON_CreateObject();
    e = root != NULL ? cJSON_AddObjectToObject(root, "error") : NULL;
    if (e == NULL
        || cJSON_AddStringToObject(e, "code", "CONFLICT") == NULL
        || cJSON_AddStringToObject(e, "message", msg) == NULL
        || cJSON_AddStringToObject(e, "current_status",
                                   order_status_name(cur)) == NULL
        || cJSON_AddStringToObject(e, "request_id", ctx->request_id) == NULL)
    {
        cJSON_Delete(root);
        return mall_reply_error(ctx, 409, "CONFLICT", "%s", msg);
    }
    rc = mall_reply_json_nostore(ctx, 409, root);
    cJSON_Delete(root);
    return rc;
}


int
order_load_full(mall_ctx_t *ctx, const char *oid, redisReply *reps[2],
    mall_err_t *err)
{
    char               key[ORDER_KEY_MAX], ekey[ORDER_KEY_MAX];
    const char        *argv[2][4];
    mall_redis_cmd_t   cmds[2];

    order_key(key, sizeof(key), ORDER_KEY_ORDER, oid, NULL);
    order_key(ekey, sizeof(ekey), ORDER_KEY_EVENTS, oid, NULL);
    argv[0][0] = "HGETALL"; argv[0][1] = key;
    argv[1][0] = "LRANGE"; argv[1][1] = ekey; argv[1][2] = "0";
    argv[1][3] = "-1";
    cmds[0].argc = 2; cmds[0].argv = argv[0]; cmds[0].argvlen = NULL;
    cmds[1].argc = 4; cmds[1].argv = argv[1]; cmds[1].argvlen = NULL;
    return mall_redis_pipeline(ctx->redis, 2, cmds, reps, err);
}


int
order_route_oid(mall_ctx_t *ctx, char uid[SF_UID_MAX], const char **oid)
{
    if (sf_require_user(ctx, uid) != MALL_OK) {
        return MALL_ERR;
    }
    *oid = mall_route_param(&ctx->params, "id");
    if (!order_id_valid(*oid)) {
        mall_reply_error(ctx, 404, "NOT_FOUND", "no such order");
        return MALL_ERR;
    }
    return MALL_OK;
}


int
order_reply_stored(mall_ctx_t *ctx, const char *oid, int status,
    mall_err_t *err)
{
    redisReply        *reps[2];
    cJSON             *o;
    int                rc;

    rc = order_load_full(ctx, oid, reps, err);
    if (rc != MALL_OK) {
        return rc;
    }
    o = order_view(ctx, reps[0], reps[1], 1);
    mall_redis_free_replies(reps, 2);
    if (o == NULL) {
        return mall_err_set(err, 500, "order %s: unreadable record", oid);
    }
    rc = sf_reply(ctx, status, o);
    cJSON_Delete(o);
    return rc;
}
