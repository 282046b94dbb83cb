/*
 * The Kuaidi100 query protocol (see kd100.h). Pure code.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "kd100.h"
#include "mall_b64.h"
#include "mall_json.h"
#include "mall_query.h"
#include "mall_sign.h"

#define KD100_FORM_VALUE_MAX  2048


int
kd100_needs_phone(const char *carrier)
{
    return strncmp(carrier, "shunfeng", 8) == 0;
}


int
kd100_sign(const char *param, const char *key, const char *customer,
    char out[KD100_SIGN_LEN + 1])
{
    unsigned char   md[EVP_MAX_MD_SIZE];
    unsigned int    n;
    EVP_MD_CTX     *c;
    int             ok;
    size_t          i;

    c = EVP_MD_CTX_new();
    ok = c != NULL && EVP_DigestInit_ex(c, EVP_md5(), NULL) == 1
         && EVP_DigestUpdate(c, param, strlen(param)) == 1
         && EVP_DigestUpdate(c, key, strlen(key)) == 1
         && EVP_DigestUpdate(c, customer, strlen(customer)) == 1
         && EVP_DigestFinal_ex(c, md, &n) == 1 && n == 16;
    EVP_MD_CTX_free(c);
    if (!ok) {
        return MALL_ERR;
    }
    mall_hex_encode(md, 16, out);
    for (i = 0; i < KD100_SIGN_LEN; i++) {
        out[i] = (char) toupper((unsigned char) out[i]);
    }
    out[KD100_SIGN_LEN] = '\0';
    return MALL_OK;
}


/* Appends "&name=" (no '&' first) and value percent-encoded. */
static void
form_field(mall_buf_t *b, const char *name, const char *value)
{
    char    enc[3 * KD100_FORM_VALUE_MAX];
    size_t  pos = 0;

    if (strlen(value) > KD100_FORM_VALUE_MAX
        || mall_sign_pct_encode(value, strlen(value), enc, &pos,
                                sizeof(enc)) != 0)
    {
        b->oom = 1;
        return;
    }
    mall_buf_printf(b, "%s%s=", b->len > 0 ? "&" : "", name);
    mall_buf_add(b, enc, pos);
}


int
kd100_form(const carrier_query_t *q, const char *customer,
    const char *key, mall_buf_t *b)
{
    char   sign[KD100_SIGN_LEN + 1];
    cJSON *p;
    char  *param;
    int    rc;

    p = cJSON_CreateObject();
    if (p == NULL || mall_json_add_str(p, "com", q->carrier) != MALL_OK
        || mall_json_add_str(p, "num", q->tracking_no) != MALL_OK
        || (q->phone != NULL && q->phone[0] != '\0'
            && kd100_needs_phone(q->carrier)
            && mall_json_add_str(p, "phone", q->phone) != MALL_OK))
    {
        cJSON_Delete(p);
        return MALL_ERR;
    }
    param = cJSON_PrintUnformatted(p);
    cJSON_Delete(p);
    if (param == NULL) {
        return MALL_ERR;
    }
    rc = kd100_sign(param, key, customer, sign);
    if (rc == MALL_OK) {
        form_field(b, "customer", customer);
        form_field(b, "sign", sign);
        form_field(b, "param", param);
        rc = b->oom ? MALL_ERR : MALL_OK;
    }
    cJSON_free(param);
    return rc;
}


/*
 * A member that Kuaidi100 sends as a string of digits (some gateways
 * send a number): its value in [min, max] or -1.
 */
static long
num_member(const cJSON *o, const char *name, long min, long max)
{
    const cJSON  *v = cJSON_GetObjectItemCaseSensitive(o, name);
    int64_t       n;
    long long     l;

    if (cJSON_IsString(v)
        && mall_parse_int(v->valuestring, min, max, &l) == MALL_OK)
    {
        return (long) l;
    }
    if (cJSON_IsNumber(v) && mall_json_get_int(v, min, max, &n) == MALL_OK) {
        return (long) n;
    }
    return -1;
}


/* The text of string member name of o, or NULL. */
static const char *
str_member(const cJSON *o, const char *name)
{
    const cJSON  *v = cJSON_GetObjectItemCaseSensitive(o, name);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}


/* An error answer {"result":false,"returnCode","message"}. */
static int
parse_error(const cJSON *root, carrier_result_t *res, mall_err_t *err)
{
    const cJSON  *rc = cJSON_GetObjectItemCaseSensitive(root, "returnCode");
    const char   *m = str_member(root, "message");
    long          n;

    if (cJSON_IsString(rc) && rc->valuestring[0] != '\0'
        && strlen(rc->valuestring) < sizeof(res->code)
        && strspn(rc->valuestring, "0123456789") == strlen(rc->valuestring))
    {
        snprintf(res->code, sizeof(res->code), "%s", rc->valuestring);
    } else if ((n = num_member(root, "returnCode", 0, 99999)) >= 0) {
        snprintf(res->code, sizeof(res->code), "%d", (int) n);
    } else {
        return mall_err_set(err, 0, "error answer without a returnCode");
    }
    snprintf(res->message, sizeof(res->message), "%s", m != NULL ? m : "");
    return MALL_OK;
}


/* One entry of "data" as an event, or NULL when it is unusable. */
static cJSON *
parse_event(const cJSON *it)
{
    const char  *tm, *ctx, *loc;
    char         norm[20];
    int64_t      at;
    cJSON       *ev;

    tm = str_member(it, "ftime");
    if (tm == NULL || carrier_time_parse(tm, &at) != MALL_OK) {
        tm = str_member(it, "time");
        if (tm == NULL || carrier_time_parse(tm, &at) != MALL_OK) {
            return NULL;
        }
    }
    if (at < 0 || at > (INT64_C(1) << 40)) {
        return NULL;                    /* a year the timeline cannot hold */
    }
    ctx = str_member(it, "context");
    loc = str_member(it, "location");
    if (ctx == NULL || ctx[0] == '\0' || strlen(ctx) >= CARRIER_CONTEXT_MAX
        || (loc != NULL && strlen(loc) >= CARRIER_PLACE_MAX))
    {
        return NULL;
    }
    carrier_time_format(at, norm);
    ev = cJSON_CreateObject();
    if (ev == NULL || mall_json_add_str(ev, "time", norm) != MALL_OK
        || mall_json_add_int(ev, "at", at) != MALL_OK
        || mall_json_add_str(ev, "context", ctx) != MALL_OK
        || mall_json_add_str(ev, "location", loc != NULL ? loc : "")
           != MALL_OK)
    {
        cJSON_Delete(ev);
        return NULL;
    }
    return ev;
}


int
kd100_parse(const char *body, size_t len, carrier_result_t *res,
    mall_err_t *err)
{
    const cJSON  *data, *it, *result;
    cJSON        *root, *ev;
    int           rc, n;

    memset(res, 0, sizeof(*res));
    res->state = -1;
    root = mall_json_object(body, len);
    if (root == NULL) {
        return mall_err_set(err, 0, "answer is not a JSON object");
    }
    rc = MALL_ERR;
    result = cJSON_GetObjectItemCaseSensitive(root, "result");
    if (cJSON_IsFalse(result)
        || cJSON_GetObjectItemCaseSensitive(root, "returnCode") != NULL)
    {
        rc = parse_error(root, res, err);
        goto done;
    }
    if (num_member(root, "status", 0, 999) != 200) {
        mall_err_set(err, 0, "answer without status 200");
        goto done;
    }
    data = cJSON_GetObjectItemCaseSensitive(root, "data");
    if (!cJSON_IsArray(data)) {
        mall_err_set(err, 0, "answer without a data array");
        goto done;
    }
    res->state = (int) num_member(root, "state", 0, 14);
    res->delivered = num_member(root, "ischeck", 0, 1) == 1;
    res->events = cJSON_CreateArray();
    if (res->events == NULL) {
        mall_err_set(err, 0, "out of memory");
        goto done;
    }
    n = 0;
    cJSON_ArrayForEach(it, data) {
        if (n == CARRIER_EVENTS_MAX) {
            break;
        }
        ev = cJSON_IsObject(it) ? parse_event(it) : NULL;
        if (ev != NULL) {
            if (!cJSON_AddItemToArray(res->events, ev)) {
                cJSON_Delete(ev);
                mall_err_set(err, 0, "out of memory");
                goto done;
            }
            n++;
        }
    }
    rc = MALL_OK;

done:
    cJSON_Delete(root);
    if (rc != MALL_OK) {
        carrier_result_free(res);
    }
    return rc;
}
