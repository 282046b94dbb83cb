/*
 * The client's view of an order (see order_view.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "address_rules.h"
#include "logistics.h"
#include "mall_json.h"
#include "mall_query.h"
#include "mall_seal.h"
#include "order_store.h"
#include "order_view.h"

#define ORDER_PLAIN_MAX   2048


const char *
order_field(const order_fields_t *f, const char *name)
{
    size_t  i;

    for (i = 0; i < f->n; i++) {
        if (strcmp(f->kv[2 * i], name) == 0) {
            return f->kv[2 * i + 1];
        }
    }
    return NULL;
}


int
order_fields_of_hash(const redisReply *hash, const char **kv,
    order_fields_t *f)
{
    size_t  i;

    f->kv = kv;
    f->n = 0;
    if (hash == NULL || hash->type != REDIS_REPLY_ARRAY) {
        return MALL_ERR;
    }
    for (i = 0; i + 1 < hash->elements; i += 2) {
        if (hash->element[i]->type == REDIS_REPLY_STRING
            && hash->element[i + 1]->type == REDIS_REPLY_STRING)
        {
            kv[2 * f->n] = hash->element[i]->str;
            kv[2 * f->n + 1] = hash->element[i + 1]->str;
            f->n++;
        }
    }
    return MALL_OK;
}


static int64_t
field_int(const order_fields_t *f, const char *name)
{
    const char  *v = order_field(f, name);
    long long    n;

    if (v == NULL || mall_parse_int(v, -(1LL << 62), 1LL << 62, &n)
                     != MALL_OK)
    {
        return 0;
    }
    return n;
}


/*
 * The order's address with the phone masked; NULL if absent. It is the
 * address-book record copied sealed at ordering time (AAD of the book:
 * mall:addr:{uid}:{aid}); orders of the previous layout re-sealed it
 * under mall:order:{oid}:address.
 */
static cJSON *
view_address(mall_ctx_t *ctx, const order_fields_t *f)
{
    const char          *oid = order_field(f, "id");
    const char          *uid = order_field(f, "user_id");
    const char          *sealed = order_field(f, "address");
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

    if (sealed == NULL || uid == NULL) {
        return NULL;
    }
    snprintf(aad, sizeof(aad), "mall:addr:%s:%lld", uid,
             (long long) field_int(f, "address_id"));
    if (mall_unseal(a->data_keys, a->n_data_keys, aad, sealed,
                    strlen(sealed), plain, sizeof(plain), &n, &err)
        != MALL_OK)
    {
        order_key(aad, sizeof(aad), ORDER_KEY_ADDRESS_AAD, oid, NULL);
        if (mall_unseal(a->data_keys, a->n_data_keys, aad, sealed,
                        strlen(sealed), plain, sizeof(plain), &n, &err)
            != MALL_OK)
        {
            return NULL;
        }
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
add_json_field(cJSON *o, const char *name, const char *text)
{
    cJSON  *v;

    v = text != NULL ? cJSON_Parse(text) : NULL;
    if (v == NULL) {
        v = cJSON_CreateNull();
    }
    if (v == NULL || !cJSON_AddItemToObject(o, name, v)) {
        cJSON_Delete(v);
        return MALL_ERR;
    }
    return MALL_OK;
}


/* The history: the creation (implied by the record), then transitions. */
static int
view_events(cJSON *o, const order_fields_t *f, const redisReply *events)
{
    const char  *uid = order_field(f, "user_id");
    const cJSON *name;
    cJSON       *arr, *ev;
    size_t       i;

    arr = cJSON_AddArrayToObject(o, "events");
    if (arr == NULL) {
        return MALL_ERR;
    }
    ev = cJSON_CreateObject();
    if (ev == NULL || !cJSON_AddItemToArray(arr, ev)) {
        cJSON_Delete(ev);
        return MALL_ERR;
    }
    /* ev belongs to arr from here */
    if (mall_json_add_int(ev, "at", field_int(f, "created_at")) != MALL_OK
        || mall_json_add_str(ev, "actor", "user") != MALL_OK
        || mall_json_add_str(ev, "actor_id", uid != NULL ? uid : "")
           != MALL_OK
        || mall_json_add_str(ev, "event", "create") != MALL_OK
        || mall_json_add_str(ev, "from", "") != MALL_OK
        || mall_json_add_str(ev, "to", "unpaid") != MALL_OK)
    {
        return MALL_ERR;
    }
    for (i = 0; events != NULL && events->type == REDIS_REPLY_ARRAY
                && i < events->elements; i++)
    {
        if (events->element[i]->type != REDIS_REPLY_STRING) {
            continue;
        }
        ev = cJSON_ParseWithLength(events->element[i]->str,
                                   events->element[i]->len);
        name = cJSON_GetObjectItemCaseSensitive(ev, "event");
        if (ev == NULL || (cJSON_IsString(name)
                           && strcmp(name->valuestring, "create") == 0))
        {
            cJSON_Delete(ev);            /* a record of the old layout */
            continue;
        }
        if (!cJSON_AddItemToArray(arr, ev)) {
            cJSON_Delete(ev);
            return MALL_ERR;
        }
    }
    return MALL_OK;
}


/*
 * "payment": {transaction_id, paid_at, total_fen, refunded_fen,
 * refunding_fen, late} once WeChat took the money, else null.
 */
static int
view_payment(cJSON *o, const order_fields_t *f)
{
    const char  *txn = order_field(f, "pay_transaction_id");
    int64_t      reserved, refunded;
    cJSON       *p;

    if (txn == NULL) {
        return cJSON_AddNullToObject(o, "payment") != NULL ? MALL_OK
                                                           : MALL_ERR;
    }
    reserved = field_int(f, "refund_reserved_fen");
    refunded = field_int(f, "refunded_fen");
    p = cJSON_AddObjectToObject(o, "payment");
    if (p == NULL || mall_json_add_str(p, "transaction_id", txn) != MALL_OK
        || mall_json_add_int(p, "paid_at", field_int(f, "paid_at"))
           != MALL_OK
        || mall_json_add_int(p, "total_fen", field_int(f, "pay_total"))
           != MALL_OK
        || mall_json_add_int(p, "refunded_fen", refunded) != MALL_OK
        || mall_json_add_int(p, "refunding_fen", reserved - refunded)
           != MALL_OK
        || cJSON_AddBoolToObject(p, "late",
                                 field_int(f, "pay_late") == 1) == NULL)
    {
        return MALL_ERR;
    }
    return MALL_OK;
}


cJSON *
order_view(mall_ctx_t *ctx, const order_fields_t *f,
    const redisReply *events, unsigned flags)
{
    static const char  *ints[] = {
        "items_fen", "shipping_fen", "discount_fen", "total_fen",
        "pay_deadline", "created_at", "updated_at"
    };
    const char         *id, *st, *remark;
    cJSON              *o, *addr;
    size_t              i;

    id = order_field(f, "id");
    st = order_field(f, "status");
    if (id == NULL || st == NULL) {
        return NULL;
    }
    o = cJSON_CreateObject();
    if (o == NULL || mall_json_add_str(o, "order_id", id) != MALL_OK
        || mall_json_add_str(o, "status", st) != MALL_OK
        || add_json_field(o, "items", order_field(f, "items")) != MALL_OK)
    {
        goto fail;
    }
    for (i = 0; i < MALL_ARRAY_LEN(ints); i++) {
        if (mall_json_add_int(o, ints[i], field_int(f, ints[i])) != MALL_OK) {
            goto fail;
        }
    }
    remark = order_field(f, "remark");
    if (mall_json_add_str(o, "remark", remark != NULL ? remark : "")
        != MALL_OK
        || add_json_field(o, "coupon", order_field(f, "coupon")) != MALL_OK
        || add_json_field(o, "logistics", order_field(f, "logistics"))
           != MALL_OK)
    {
        goto fail;
    }
    if (flags & ORDER_VIEW_ADDRESS) {
        if (mall_json_add_int(o, "address_id", field_int(f, "address_id"))
            != MALL_OK)
        {
            goto fail;
        }
        addr = view_address(ctx, f);
        if (addr == NULL) {
            addr = cJSON_CreateNull();
        }
        if (addr == NULL || !cJSON_AddItemToObject(o, "address", addr)) {
            cJSON_Delete(addr);
            goto fail;
        }
    }
    if ((flags & ORDER_VIEW_EVENTS) && view_events(o, f, events) != MALL_OK) {
        goto fail;
    }
    if (view_payment(o, f) != MALL_OK) {
        goto fail;
    }
    return o;

fail:
    cJSON_Delete(o);
    return NULL;
}


int
order_load_full(mall_ctx_t *ctx, const char *oid, redisReply *reps[2],
    mall_err_t *err)
{
    char          key[ORDER_KEY_MAX], ekey[ORDER_KEY_MAX];
    mall_batch_t  b;
    int           rc;

    order_key(key, sizeof(key), ORDER_KEY_ORDER, oid, NULL);
    order_key(ekey, sizeof(ekey), ORDER_KEY_EVENTS, oid, NULL);
    mall_batch_init(&b);
    mall_batch_addl(&b, 2, "HGETALL", key);
    mall_batch_addl(&b, 4, "LRANGE", ekey, "0", "-1");
    rc = mall_batch_send(&b, ctx->redis, reps, err);
    mall_batch_free(&b);
    return rc;
}


int
order_reply_stored(mall_ctx_t *ctx, const char *oid, int status,
    mall_err_t *err)
{
    redisReply      *reps[2];
    order_fields_t   f;
    const char     **kv;
    cJSON           *o;
    int              rc;

    rc = order_load_full(ctx, oid, reps, err);
    if (rc != MALL_OK) {
        return rc;
    }
    o = NULL;
    kv = calloc(reps[0]->elements + 1, sizeof(*kv));
    if (kv != NULL && order_fields_of_hash(reps[0], kv, &f) == MALL_OK) {
        o = order_view(ctx, &f, reps[1],
                       ORDER_VIEW_ADDRESS | ORDER_VIEW_EVENTS);
    }
    free(kv);
    mall_redis_free_replies(reps, 2);
    if (o == NULL) {
        return mall_err_set(err, 500, "order %s: unreadable record", oid);
    }
    logistics_attach(ctx, oid, o);
    rc = sf_reply(ctx, status, o);
    cJSON_Delete(o);
    return rc;
}
