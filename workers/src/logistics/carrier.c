/*
 * What every carrier client shares (see carrier.h): the state names, the
 * carriers' clock, the result. Pure code.
 */
#include <stdio.h>
#include <string.h>

#include "carrier.h"
#include "wxpay_time.h"

const char *
carrier_state_name(int state)
{
    /* Kuaidi100's states (快递单当前状态), by number */
    static const char  *names[] = {
        "in_transit",           /* 0 在途 */
        "collected",            /* 1 揽收 */
        "problem",              /* 2 疑难 */
        "delivered",            /* 3 签收 */
        "returned_to_sender",   /* 4 退签 */
        "out_for_delivery",     /* 5 派件 */
        "returning",            /* 6 退回 */
        "forwarded",            /* 7 转投 */
        "customs",              /* 8 清关 */
        "unknown",              /* 9 (unused) */
        "customs_pending",      /* 10 待清关 */
        "customs_in_progress",  /* 11 清关中 */
        "customs_cleared",      /* 12 已清关 */
        "customs_problem",      /* 13 清关异常 */
        "refused",              /* 14 拒签 */
    };

    if (state < 0 || (size_t) state >= MALL_ARRAY_LEN(names)) {
        return "unknown";
    }
    return names[state];
}


void
carrier_result_free(carrier_result_t *res)
{
    cJSON_Delete(res->events);
    res->events = NULL;
}


int
carrier_time_parse(const char *s, int64_t *t)
{
    static const char  shape[] = "dddd-dd-dd dd:dd:dd";
    char               rfc[32];
    size_t             i;

    if (strlen(s) != sizeof(shape) - 1) {
        return MALL_ERR;
    }
    for (i = 0; i < sizeof(shape) - 1; i++) {
        if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i]) {
            return MALL_ERR;
        }
    }
    /* the same instant as RFC 3339 at +08:00, which wxpay_time reads */
    snprintf(rfc, sizeof(rfc), "%.10sT%.8s+08:00", s, s + 11);
    return wxpay_time_parse(rfc, t);
}


void
carrier_time_format(int64_t t, char out[20])
{
    char  rfc[WXPAY_TIME_MAX];

    wxpay_time_format(t, rfc);
    snprintf(out, 20, "%.10s %.8s", rfc, rfc + 11);
}
