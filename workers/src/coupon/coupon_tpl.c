/*
 * Coupon templates and buyers' coupons as JSON (see coupon_tpl.h).
 */
#include <stdio.h>
#include <string.h>

#include "coupon_tpl.h"
#include "mall_json.h"
#include "order_request.h"

#define TIME_MAX  4102444800LL          /* 2100-01-01: a sane window end */


static int
bad(const char **field, const char *name, mall_err_t *err, const char *msg)
{
    *field = name;
    return mall_err_set(err, 422, "%s", msg);
}


/* An optional integer member in [min, max] (def when absent). */
static int
opt_int(const cJSON *body, const char *name, int64_t min, int64_t max,
    int64_t def, int64_t *out)
{
    const cJSON  *v = cJSON_GetObjectItemCaseSensitive(body, name);

    if (v == NULL || cJSON_IsNull(v)) {
        *out = def;
        return MALL_OK;
    }
    return mall_json_get_int(v, min, max, out);
}


/* Reads an id list member into s; MALL_OK or MALL_ERR. */
static int
scope_ids(const cJSON *arr, coupon_scope_t *s)
{
    const cJSON  *id;
    int64_t       v;
    size_t        i;

    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) == 0
        || cJSON_GetArraySize(arr) > COUPON_SCOPE_MAX)
    {
        return MALL_ERR;
    }
    s->n = 0;
    cJSON_ArrayForEach(id, arr) {
        if (mall_json_get_int(id, 1, INT64_C(1) << 53, &v) != MALL_OK) {
            return MALL_ERR;
        }
        for (i = 0; i < s->n && s->ids[i] != v; i++) {
            /* duplicates are kept once */
        }
        if (i == s->n) {
            s->ids[s->n++] = v;
        }
    }
    return MALL_OK;
}


static int
parse_scope(const cJSON *scope, coupon_scope_t *s)
{
    const cJSON  *v;

    memset(s, 0, sizeof(*s));
    if (scope == NULL || cJSON_IsNull(scope)) {
        return MALL_OK;                     /* all goods */
    }
    if (!cJSON_IsObject(scope) || cJSON_GetArraySize(scope) != 1) {
        return MALL_ERR;
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(scope, "all")) != NULL) {
        return cJSON_IsTrue(v) ? MALL_OK : MALL_ERR;
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(scope, "category_ids"))
        != NULL)
    {
        s->type = COUPON_SCOPE_CATEGORIES;
        return scope_ids(v, s);
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(scope, "product_ids"))
        != NULL)
    {
        s->type = COUPON_SCOPE_PRODUCTS;
        return scope_ids(v, s);
    }
    return MALL_ERR;
}


/* The amounts of the rule, checked against its kind. */
static int
parse_amounts(const cJSON *body, coupon_t *r, const char **field,
    mall_err_t *err)
{
    int64_t  pct;

    if (opt_int(body, "threshold_fen", 0, ORDER_PRICE_MAX, 0,
                &r->threshold_fen) != MALL_OK)
    {
        return bad(field, "threshold_fen", err, "threshold_fen must be an "
                   "amount in fen");
    }
    if (opt_int(body, "off_fen", 0, ORDER_PRICE_MAX, 0, &r->off_fen)
        != MALL_OK)
    {
        return bad(field, "off_fen", err, "off_fen must be an amount in fen");
    }
    if (opt_int(body, "percent", 0, 99, 0, &pct) != MALL_OK
        || opt_int(body, "max_off_fen", 0, ORDER_PRICE_MAX, 0,
                   &r->max_off_fen) != MALL_OK)
    {
        return bad(field, "percent", err, "percent must be 1..99 (% off) "
                   "and max_off_fen an amount in fen");
    }
    r->percent = (int) pct;

    switch (r->kind) {
    case COUPON_KIND_THRESHOLD:
        if (r->off_fen < 1 || r->threshold_fen <= r->off_fen) {
            return bad(field, "off_fen", err, "a threshold coupon takes "
                       "off_fen (> 0) off from threshold_fen (> off_fen)");
        }
        break;
    case COUPON_KIND_PERCENT:
        if (r->percent < 1) {
            return bad(field, "percent", err, "a percent coupon needs "
                       "percent 1..99 (the % taken off)");
        }
        r->off_fen = 0;
        break;
    default:                                /* no threshold */
        if (r->off_fen < 1) {
            return bad(field, "off_fen", err, "a no-threshold coupon needs "
                       "off_fen > 0");
        }
        r->threshold_fen = 0;
        break;
    }
    return MALL_OK;
}


/* The validity: valid_days after claiming, or a starts_at/ends_at window. */
static int
parse_validity(const cJSON *body, coupon_tpl_t *t, const char **field,
    mall_err_t *err)
{
    if (opt_int(body, "valid_days", 0, COUPON_DAYS_MAX, 0, &t->valid_days)
        != MALL_OK
        || opt_int(body, "starts_at", 0, TIME_MAX, 0, &t->starts_at)
           != MALL_OK
        || opt_int(body, "ends_at", 0, TIME_MAX, 0, &t->ends_at) != MALL_OK)
    {
        return bad(field, "valid_days", err, "valid_days must be 1..3650, "
                   "starts_at/ends_at unix seconds");
    }
    if (t->valid_days > 0) {
        /* a window still bounds when it can be claimed */
        if (t->ends_at != 0 && t->ends_at <= t->starts_at) {
            return bad(field, "ends_at", err, "ends_at must be after "
                       "starts_at");
        }
        return MALL_OK;
    }
    if (t->ends_at == 0 || t->ends_at <= t->starts_at) {
        return bad(field, "ends_at", err, "give valid_days, or ends_at "
                   "after starts_at");
    }
    return MALL_OK;
}


static int
parse_group(const cJSON *body, coupon_t *r, const char **field,
    mall_err_t *err)
{
    const cJSON  *v = cJSON_GetObjectItemCaseSensitive(body, "stack_group");
    size_t        i, len;

    r->stack_group[0] = '\0';
    if (v == NULL || cJSON_IsNull(v)) {
        return MALL_OK;
    }
    len = cJSON_IsString(v) ? strlen(v->valuestring) : 0;
    for (i = 0; i < len; i++) {
        char  ch = v->valuestring[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
              || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
        {
            break;
        }
    }
    if (len == 0 || len >= sizeof(r->stack_group) || i != len) {
        return bad(field, "stack_group", err, "stack_group must be 1..32 "
                   "characters of [A-Za-z0-9_-]");
    }
    memcpy(r->stack_group, v->valuestring, len + 1);
    return MALL_OK;
}


int
coupon_tpl_parse(const cJSON *body, coupon_tpl_t *t, const char **field,
    mall_err_t *err)
{
    const cJSON  *v;
    long          chars;

    memset(t, 0, sizeof(*t));
    *field = NULL;
    if (!cJSON_IsObject(body)) {
        return bad(field, "body", err, "the body must be a JSON object");
    }
    v = cJSON_GetObjectItemCaseSensitive(body, "name");
    chars = cJSON_IsString(v) ? order_utf8_chars(v->valuestring) : -1;
    if (chars < 1 || chars > COUPON_NAME_CHARS
        || strchr(v->valuestring, '\n') != NULL)
    {
        return bad(field, "name", err, "name must be 1..60 characters on "
                   "one line");
    }
    memcpy(t->name, v->valuestring, strlen(v->valuestring) + 1);

    v = cJSON_GetObjectItemCaseSensitive(body, "kind");
    t->rule.kind = cJSON_IsString(v) ? coupon_kind_parse(v->valuestring)
                                     : COUPON_KIND_NONE;
    if (t->rule.kind == COUPON_KIND_NONE) {
        return bad(field, "kind", err, "kind must be \"threshold\", "
                   "\"percent\" or \"no_threshold\"");
    }
    if (parse_amounts(body, &t->rule, field, err) != MALL_OK) {
        return MALL_ERR;
    }
    if (parse_scope(cJSON_GetObjectItemCaseSensitive(body, "scope"),
                    &t->rule.scope) != MALL_OK)
    {
        return bad(field, "scope", err, "scope must be {\"all\": true}, "
                   "{\"category_ids\": [...]} or {\"product_ids\": [...]} "
                   "(1..50 ids)");
    }
    if (parse_validity(body, t, field, err) != MALL_OK) {
        return MALL_ERR;
    }
    if (opt_int(body, "total", 1, COUPON_TOTAL_MAX, -1, &t->total) != MALL_OK
        || t->total < 1)
    {
        return bad(field, "total", err, "total must be 1..100000000");
    }
    if (opt_int(body, "per_user", 1, COUPON_PER_USER_MAX, 1, &t->per_user)
        != MALL_OK)
    {
        return bad(field, "per_user", err, "per_user must be 1..100");
    }
    if (parse_group(body, &t->rule, field, err) != MALL_OK) {
        return MALL_ERR;
    }
    v = cJSON_GetObjectItemCaseSensitive(body, "stackable");
    if (v != NULL && !cJSON_IsBool(v)) {
        return bad(field, "stackable", err, "stackable must be a boolean");
    }
    t->rule.stackable = cJSON_IsTrue(v);
    if (t->rule.stackable && t->rule.kind != COUPON_KIND_NO_THRESHOLD) {
        return bad(field, "stackable", err, "stackable is for no_threshold "
                   "coupons (the others stack unless they share a group)");
    }
    v = cJSON_GetObjectItemCaseSensitive(body, "enabled");
    if (v != NULL && !cJSON_IsBool(v)) {
        return bad(field, "enabled", err, "enabled must be a boolean");
    }
    t->enabled = v == NULL || cJSON_IsTrue(v);
    return MALL_OK;
}


/* ---- JSON out ----------------------------------------------------------- */

static int
add_scope(cJSON *o, const coupon_scope_t *s)
{
    cJSON   *sc, *ids;
    size_t   i;

    sc = cJSON_AddObjectToObject(o, "scope");
    if (sc == NULL) {
        return MALL_ERR;
    }
    if (s->type == COUPON_SCOPE_ALL) {
        return cJSON_AddTrueToObject(sc, "all") != NULL ? MALL_OK : MALL_ERR;
    }
    ids = cJSON_AddArrayToObject(sc, s->type == COUPON_SCOPE_CATEGORIES
                                     ? "category_ids" : "product_ids");
    for (i = 0; ids != NULL && i < s->n; i++) {
        cJSON  *n = mall_json_int(s->ids[i]);

        if (n == NULL || !cJSON_AddItemToArray(ids, n)) {
            cJSON_Delete(n);
            return MALL_ERR;
        }
    }
    return ids != NULL ? MALL_OK : MALL_ERR;
}


/* The rule's members, common to templates and coupons. */
static int
add_rule(cJSON *o, const char *name, const coupon_t *r)
{
    if (mall_json_add_str(o, "name", name) != MALL_OK
        || mall_json_add_str(o, "kind", coupon_kind_name(r->kind)) != MALL_OK
        || mall_json_add_int(o, "threshold_fen", r->threshold_fen) != MALL_OK
        || mall_json_add_int(o, "off_fen", r->off_fen) != MALL_OK
        || mall_json_add_int(o, "percent", r->percent) != MALL_OK
        || mall_json_add_int(o, "max_off_fen", r->max_off_fen) != MALL_OK
        || add_scope(o, &r->scope) != MALL_OK
        || (r->stack_group[0] != '\0'
            ? mall_json_add_str(o, "stack_group", r->stack_group)
            : (cJSON_AddNullToObject(o, "stack_group") != NULL
               ? MALL_OK : MALL_ERR)) != MALL_OK
        || cJSON_AddBoolToObject(o, "stackable", r->stackable) == NULL)
    {
        return MALL_ERR;
    }
    return MALL_OK;
}


cJSON *
coupon_tpl_json(const coupon_tpl_t *t)
{
    cJSON  *o = cJSON_CreateObject();

    if (o == NULL || mall_json_add_int(o, "template_id", t->id) != MALL_OK
        || add_rule(o, t->name, &t->rule) != MALL_OK
        || mall_json_add_int(o, "valid_days", t->valid_days) != MALL_OK
        || mall_json_add_int(o, "starts_at", t->starts_at) != MALL_OK
        || mall_json_add_int(o, "ends_at", t->ends_at) != MALL_OK
        || mall_json_add_int(o, "total", t->total) != MALL_OK
        || mall_json_add_int(o, "per_user", t->per_user) != MALL_OK
        || cJSON_AddBoolToObject(o, "enabled", t->enabled) == NULL)
    {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}


cJSON *
coupon_issue_json(const coupon_tpl_t *t, int64_t coupon_id, int64_t now)
{
    cJSON    *o = cJSON_CreateObject();
    int64_t   from, until;

    if (t->valid_days > 0) {
        from = now;
        until = now + t->valid_days * 86400;
    } else {
        from = t->starts_at;
        until = t->ends_at;
    }
    if (o == NULL || mall_json_add_int(o, "coupon_id", coupon_id) != MALL_OK
        || mall_json_add_int(o, "template_id", t->id) != MALL_OK
        || add_rule(o, t->name, &t->rule) != MALL_OK
        || mall_json_add_int(o, "valid_from", from) != MALL_OK
        || mall_json_add_int(o, "valid_until", until) != MALL_OK
        || mall_json_add_int(o, "claimed_at", now) != MALL_OK)
    {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}


/* ---- JSON in (our own stored documents) --------------------------------- */

static int
get_int(const cJSON *o, const char *name, int64_t *out)
{
    return mall_json_get_int(cJSON_GetObjectItemCaseSensitive(o, name),
                             INT64_MIN / 2, INT64_MAX / 2, out);
}


/* The rule members of a stored template or coupon. */
static int
rule_from(const cJSON *o, coupon_t *r, char name[COUPON_NAME_BYTES])
{
    const cJSON  *v;
    int64_t       pct;

    v = cJSON_GetObjectItemCaseSensitive(o, "name");
    if (!cJSON_IsString(v) || strlen(v->valuestring) >= COUPON_NAME_BYTES) {
        return MALL_ERR;
    }
    memcpy(name, v->valuestring, strlen(v->valuestring) + 1);
    v = cJSON_GetObjectItemCaseSensitive(o, "kind");
    r->kind = cJSON_IsString(v) ? coupon_kind_parse(v->valuestring)
                                : COUPON_KIND_NONE;
    if (r->kind == COUPON_KIND_NONE
        || get_int(o, "threshold_fen", &r->threshold_fen) != MALL_OK
        || get_int(o, "off_fen", &r->off_fen) != MALL_OK
        || get_int(o, "percent", &pct) != MALL_OK || pct < 0 || pct > 99
        || get_int(o, "max_off_fen", &r->max_off_fen) != MALL_OK
        || parse_scope(cJSON_GetObjectItemCaseSensitive(o, "scope"),
                       &r->scope) != MALL_OK)
    {
        return MALL_ERR;
    }
    r->percent = (int) pct;
    v = cJSON_GetObjectItemCaseSensitive(o, "stack_group");
    r->stack_group[0] = '\0';
    if (cJSON_IsString(v)) {
        snprintf(r->stack_group, sizeof(r->stack_group), "%s",
                 v->valuestring);
    }
    r->stackable = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o,
                                                               "stackable"));
    return MALL_OK;
}


int
coupon_tpl_from_json(const char *text, size_t len, coupon_tpl_t *t)
{
    cJSON  *o = mall_json_object(text, len);
    int     rc;

    memset(t, 0, sizeof(*t));
    rc = o != NULL && get_int(o, "template_id", &t->id) == MALL_OK
         && rule_from(o, &t->rule, t->name) == MALL_OK
         && get_int(o, "valid_days", &t->valid_days) == MALL_OK
         && get_int(o, "starts_at", &t->starts_at) == MALL_OK
         && get_int(o, "ends_at", &t->ends_at) == MALL_OK
         && get_int(o, "total", &t->total) == MALL_OK
         && get_int(o, "per_user", &t->per_user) == MALL_OK
         ? MALL_OK : MALL_ERR;
    if (rc == MALL_OK) {
        t->rule.id = t->rule.template_id = t->id;
        t->enabled = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o,
                                                                "enabled"));
    }
    cJSON_Delete(o);
    return rc;
}


int
coupon_from_json(const char *text, size_t len, coupon_t *c,
    char name[COUPON_NAME_BYTES])
{
    cJSON  *o = mall_json_object(text, len);
    int     rc;

    memset(c, 0, sizeof(*c));
    rc = o != NULL && get_int(o, "coupon_id", &c->id) == MALL_OK
         && get_int(o, "template_id", &c->template_id) == MALL_OK
         && rule_from(o, c, name) == MALL_OK
         && get_int(o, "valid_from", &c->valid_from) == MALL_OK
         && get_int(o, "valid_until", &c->valid_until) == MALL_OK
         ? MALL_OK : MALL_ERR;
    cJSON_Delete(o);
    return rc;
}
