/*
 * The pure half of logistics.h: the merchant's manual entry and the
 * merged timeline.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carrier.h"
#include "logistics.h"
#include "mall_json.h"

#define MANUAL_EPOCH  946684800              /* 2000-01-01T00:00:00Z */


/* A text member into dst: 1..max-1 bytes (0.. when optional). */
static int
manual_text(const cJSON *body, const char *name, int optional, char *dst,
    size_t max, mall_err_t *err)
{
    const cJSON  *v = cJSON_GetObjectItemCaseSensitive(body, name);
    size_t        n;

    dst[0] = '\0';
    if (v == NULL && optional) {
        return MALL_OK;
    }
    if (!cJSON_IsString(v)) {
        return mall_err_set(err, 0, "%s must be a string", name);
    }
    n = strlen(v->valuestring);
    if ((n == 0 && !optional) || n >= max) {
        return mall_err_set(err, 0, "%s must be %d..%zu bytes", name,
                            optional ? 0 : 1, max - 1);
    }
    memcpy(dst, v->valuestring, n + 1);
    return MALL_OK;
}


int
logistics_manual_parse(const cJSON *body, int64_t now,
    logistics_manual_t *m, const char **field, mall_err_t *err)
{
    const cJSON  *t;

    *field = "body";
    if (!cJSON_IsObject(body)) {
        return mall_err_set(err, 0, "the body must be a JSON object");
    }
    *field = "time";
    t = cJSON_GetObjectItemCaseSensitive(body, "time");
    if (cJSON_IsString(t)) {
        if (carrier_time_parse(t->valuestring, &m->at) != MALL_OK) {
            return mall_err_set(err, 0, "time must be unix seconds or "
                                "\"YYYY-MM-DD hh:mm:ss\" (Beijing time)");
        }
    } else if (mall_json_get_int(t, 0, INT64_C(1) << 40, &m->at)
               != MALL_OK)
    {
        return mall_err_set(err, 0, "time must be unix seconds or "
                            "\"YYYY-MM-DD hh:mm:ss\" (Beijing time)");
    }
    if (m->at < MANUAL_EPOCH || m->at > now + 86400) {
        return mall_err_set(err, 0, "time must be after 2000 and not more "
                            "than a day ahead");
    }
    *field = "context";
    if (manual_text(body, "context", 0, m->context, sizeof(m->context), err)
        != MALL_OK)
    {
        return MALL_ERR;
    }
    *field = "location";
    return manual_text(body, "location", 1, m->location,
                       sizeof(m->location), err);
}


/* A copy of event ev (at, context, location) with time and source. */
static cJSON *
timeline_event(const cJSON *ev, const char *source)
{
    const cJSON  *c, *l;
    char          tm[20];
    int64_t       at;
    cJSON        *o;

    c = cJSON_GetObjectItemCaseSensitive(ev, "context");
    l = cJSON_GetObjectItemCaseSensitive(ev, "location");
    if (mall_json_get_int(cJSON_GetObjectItemCaseSensitive(ev, "at"), 0,
                          INT64_C(1) << 40, &at) != MALL_OK
        || !cJSON_IsString(c))
    {
        return NULL;
    }
    carrier_time_format(at, tm);
    o = cJSON_CreateObject();
    if (o == NULL || mall_json_add_str(o, "time", tm) != MALL_OK
        || mall_json_add_int(o, "at", at) != MALL_OK
        || mall_json_add_str(o, "context", c->valuestring) != MALL_OK
        || mall_json_add_str(o, "location", cJSON_IsString(l)
                             ? l->valuestring : "") != MALL_OK
        || mall_json_add_str(o, "source", source) != MALL_OK)
    {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}


typedef struct {
    int64_t   at;
    size_t    seq;                  /* input order: ties stay stable */
    cJSON    *ev;
} merge_item_t;


static int
merge_cmp(const void *a, const void *b)
{
    const merge_item_t  *x = a, *y = b;

    if (x->at != y->at) {
        return x->at > y->at ? -1 : 1;
    }
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}


/* Appends ev to items (owned from here); MALL_ERR when it is unusable. */
static int
merge_add(merge_item_t *items, size_t *n, cJSON *ev)
{
    int64_t  at;

    if (ev == NULL
        || mall_json_get_int(cJSON_GetObjectItemCaseSensitive(ev, "at"), 0,
                             INT64_C(1) << 40, &at) != MALL_OK)
    {
        cJSON_Delete(ev);
        return MALL_ERR;
    }
    items[*n].at = at;
    items[*n].seq = *n;
    items[*n].ev = ev;
    (*n)++;
    return MALL_OK;
}


cJSON *
logistics_merge(const cJSON *carrier, const redisReply *manual)
{
    const cJSON    *it;
    merge_item_t   *items;
    cJSON          *arr, *stored;
    size_t          n, cap, i;

    cap = (size_t) cJSON_GetArraySize(carrier);
    if (manual != NULL && manual->type == REDIS_REPLY_ARRAY) {
        cap += manual->elements;
    }
    items = calloc(cap + 1, sizeof(*items));
    arr = cJSON_CreateArray();
    if (items == NULL || arr == NULL) {
        free(items);
        cJSON_Delete(arr);
        return NULL;
    }
    n = 0;
    cJSON_ArrayForEach(it, carrier) {
        merge_add(items, &n, timeline_event(it, "carrier"));
    }
    for (i = 0; manual != NULL && manual->type == REDIS_REPLY_ARRAY
                && i < manual->elements; i++)
    {
        if (manual->element[i]->type != REDIS_REPLY_STRING) {
            continue;
        }
        stored = mall_json_object(manual->element[i]->str,
                                  manual->element[i]->len);
        merge_add(items, &n, timeline_event(stored, "merchant"));
        cJSON_Delete(stored);
    }
    qsort(items, n, sizeof(*items), merge_cmp);
    for (i = 0; i < n; i++) {
        if (arr != NULL && cJSON_AddItemToArray(arr, items[i].ev)) {
            continue;
        }
        cJSON_Delete(items[i].ev);
        cJSON_Delete(arr);
        arr = NULL;
    }
    free(items);
    return arr;
}
