/*
 * Address records: keys, sealing, view, validation (see address_record.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "address_record.h"
#include "address_rules.h"
#include "mall_json.h"
#include "mall_reply.h"
#include "mall_seal.h"


void
addr_keys(const char *uid, addr_keys_t *k)
{
    snprintf(k->hash, sizeof(k->hash), "mall:addr:%s", uid);
    snprintf(k->ids, sizeof(k->ids), "mall:addr:%s:ids", uid);
    snprintf(k->def, sizeof(k->def), "mall:addr:%s:default", uid);
}


void
addr_aad(const char *uid, int64_t id, char *aad, size_t sz)
{
    snprintf(aad, sz, "mall:addr:%s:%lld", uid, (long long) id);
}


/* Seals rec into out; MALL_OK or MALL_ERR. */
int
addr_seal(mall_ctx_t *ctx, const char *uid, int64_t id, const cJSON *rec,
    char *out, size_t outsz, mall_err_t *err)
{
    const auth_conf_t  *a = &ctx->conf->auth;
    char                aad[SF_UID_MAX + 48], *text;
    size_t              len;
    int                 rc;

    if (a->n_data_keys == 0) {
        return mall_err_set(err, 500, "no data_key configured");
    }
    text = cJSON_PrintUnformatted(rec);
    if (text == NULL) {
        return mall_err_set(err, 500, "out of memory");
    }
    addr_aad(uid, id, aad, sizeof(aad));
    rc = mall_seal(&a->data_keys[0], aad, text, strlen(text), out, outsz,
                   &len, err);
    memset(text, 0, strlen(text));
    cJSON_free(text);
    return rc;
}


/* Opens a sealed record; NULL when it does not open. */
cJSON *
addr_open(mall_ctx_t *ctx, const char *uid, int64_t id, const char *sealed,
    size_t len)
{
    const auth_conf_t  *a = &ctx->conf->auth;
    char                aad[SF_UID_MAX + 48];
    uint8_t             plain[ADDR_PLAIN_MAX];
    size_t              n;
    mall_err_t          err;
    cJSON              *rec;

    addr_aad(uid, id, aad, sizeof(aad));
    if (mall_unseal(a->data_keys, a->n_data_keys, aad, sealed, len, plain,
                    sizeof(plain), &n, &err) != MALL_OK)
    {
        return NULL;
    }
    rec = mall_json_object(plain, n);
    memset(plain, 0, sizeof(plain));
    return rec;
}


/* The client's view of a record. NULL on OOM. */
cJSON *
addr_view(const cJSON *rec, int64_t id, int is_default, int reveal)
{
    static const char  *fields[] = {
        "name", "province", "city", "district", "detail"
    };
    const cJSON        *ph;
    cJSON              *o;
    char                masked[16];
    size_t              i;
    int64_t             created;

    o = cJSON_CreateObject();
    if (o == NULL || mall_json_add_int(o, "address_id", id) != MALL_OK) {
        cJSON_Delete(o);
        return NULL;
    }
    for (i = 0; i < MALL_ARRAY_LEN(fields); i++) {
        const cJSON  *v = cJSON_GetObjectItemCaseSensitive(rec, fields[i]);

        if (mall_json_add_str(o, fields[i], cJSON_IsString(v)
                              ? v->valuestring : "") != MALL_OK)
        {
            cJSON_Delete(o);
            return NULL;
        }
    }
    ph = cJSON_GetObjectItemCaseSensitive(rec, "phone");
    addr_phone_mask(cJSON_IsString(ph) ? ph->valuestring : NULL, masked,
                    sizeof(masked));
    if (mall_json_add_str(o, "phone", reveal && cJSON_IsString(ph)
                          ? ph->valuestring : masked) != MALL_OK
        || cJSON_AddBoolToObject(o, "is_default", is_default) == NULL)
    {
        cJSON_Delete(o);
        return NULL;
    }
    if (mall_json_get_int(cJSON_GetObjectItemCaseSensitive(rec,
                              "created_at"), 0, 1LL << 40, &created)
        == MALL_OK
        && mall_json_add_int(o, "created_at", created) != MALL_OK)
    {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}


/*
 * Validates the fields present in body into rec (copying them). With
 * all set every text field is required. Replies 422 and returns MALL_ERR
 * on the first bad field. *is_default is -1 when absent.
 */
int
addr_validate(mall_ctx_t *ctx, const cJSON *body, cJSON *rec, int all,
    int *is_default)
{
    const cJSON  *v, *d;
    const char   *msg;
    size_t        i, given;

    given = 0;
    for (i = 0; i < MALL_ARRAY_LEN(addr_rules); i++) {
        v = cJSON_GetObjectItemCaseSensitive(body, addr_rules[i].field);
        if (v == NULL && !all) {
            continue;
        }
        if (v == NULL || !cJSON_IsString(v)) {
            sf_reply_invalid(ctx, addr_rules[i].field,
                             v == NULL ? "is required" : "must be a string");
            return MALL_ERR;
        }
        msg = addr_field_check(addr_rules[i].field, v->valuestring);
        if (msg != NULL) {
            sf_reply_invalid(ctx, addr_rules[i].field, msg);
            return MALL_ERR;
        }
        cJSON_DeleteItemFromObjectCaseSensitive(rec, addr_rules[i].field);
        if (mall_json_add_str(rec, addr_rules[i].field, v->valuestring)
            != MALL_OK)
        {
            mall_reply_error(ctx, 500, "INTERNAL", "out of memory");
            return MALL_ERR;
        }
        given++;
    }
    d = cJSON_GetObjectItemCaseSensitive(body, "is_default");
    *is_default = -1;
    if (d != NULL && !cJSON_IsNull(d)) {
        if (!cJSON_IsBool(d)) {
            sf_reply_invalid(ctx, "is_default", "must be a boolean");
            return MALL_ERR;
        }
        *is_default = cJSON_IsTrue(d);
        given++;
    }
    if (given == 0) {
        sf_reply_invalid(ctx, "body", "no field to change");
        return MALL_ERR;
    }
    return MALL_OK;
}


