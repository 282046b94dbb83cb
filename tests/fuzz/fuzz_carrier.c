/*
 * workers/src/logistics/kd100.c: a carrier-tracking answer as
 * kd100_client.c reads it (the whole body, kd100_parse), then the
 * timeline logistics_timeline.c builds from its events (logistics_merge)
 * and the cache record text round trip.
 *
 * Oracles: an accepted answer is either an error (a code of digits, no
 * events) or events: at most CARRIER_EVENTS_MAX, each with a normalised
 * Beijing time that parses back to its "at", a non-empty context and a
 * location within their bounds; the merged timeline keeps every event,
 * newest first. A refusal leaves no events and says why.
 */
#include "fuzz_common.h"
#include "carrier.h"
#include "kd100.h"
#include "logistics.h"
#include "mall_json.h"


static int64_t
item_at(const cJSON *ev)
{
    int64_t  at = -1;

    FZ_ASSERT(mall_json_get_int(cJSON_GetObjectItemCaseSensitive(ev, "at"),
                                0, INT64_C(1) << 40, &at) == MALL_OK);
    return at;
}


static void
check_events(const cJSON *events)
{
    const cJSON  *ev, *t, *c, *l;
    int64_t       at;
    int           n;

    n = cJSON_GetArraySize(events);
    FZ_ASSERT(n >= 0 && n <= CARRIER_EVENTS_MAX);
    cJSON_ArrayForEach(ev, events) {
        t = cJSON_GetObjectItemCaseSensitive(ev, "time");
        c = cJSON_GetObjectItemCaseSensitive(ev, "context");
        l = cJSON_GetObjectItemCaseSensitive(ev, "location");
        FZ_ASSERT(cJSON_IsString(t) && cJSON_IsString(c)
                  && cJSON_IsString(l));
        FZ_ASSERT(carrier_time_parse(t->valuestring, &at) == MALL_OK);
        FZ_ASSERT(at == item_at(ev));
        FZ_ASSERT(c->valuestring[0] != '\0'
                  && strlen(c->valuestring) < CARRIER_CONTEXT_MAX);
        FZ_ASSERT(strlen(l->valuestring) < CARRIER_PLACE_MAX);
    }
}


static void
check_merge(const cJSON *events)
{
    const cJSON  *ev;
    int64_t       prev, at;
    cJSON        *tl;

    tl = logistics_merge(events, NULL);
    FZ_ASSERT(tl != NULL);
    FZ_ASSERT(cJSON_GetArraySize(tl) == cJSON_GetArraySize(events));
    prev = INT64_MAX;
    cJSON_ArrayForEach(ev, tl) {
        at = item_at(ev);
        FZ_ASSERT(at <= prev);
        prev = at;
    }
    cJSON_Delete(tl);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    carrier_result_t  res;
    mall_err_t        err;
    char             *body;
    size_t            n;

    body = fz_dup(data, size);
    err.msg[0] = '\0';
    if (kd100_parse(body, size, &res, &err) == MALL_OK) {
        if (res.events == NULL) {
            n = strlen(res.code);
            FZ_ASSERT(n > 0 && n < sizeof(res.code));
            FZ_ASSERT(strspn(res.code, "0123456789") == n);
        } else {
            FZ_ASSERT(res.code[0] == '\0');
            FZ_ASSERT(res.state >= -1 && res.state <= 14);
            check_events(res.events);
            check_merge(res.events);
        }
    } else {
        FZ_ASSERT(res.events == NULL && err.msg[0] != '\0');
    }
    carrier_result_free(&res);
    free(body);
    return 0;
}
