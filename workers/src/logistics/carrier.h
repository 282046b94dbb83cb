/*
 * The carrier-tracking interface: one query "where is parcel num of
 * carrier com" answered with the carrier's events. The order detail
 * (logistics_timeline.c) knows only this header; kd100_client.c is the
 * one implementation (a Kuaidi100-style query API). Another provider is
 * another carrier_client_t.
 *
 * Events are cJSON objects {"time": "YYYY-MM-DD hh:mm:ss" (Beijing),
 * "at": unix seconds, "context", "location"}, newest first.
 */
#ifndef CARRIER_H
#define CARRIER_H

#include <cjson/cJSON.h>

#include "logistics_conf.h"
#include "mall_common.h"

#define CARRIER_CODE_MAX     16
#define CARRIER_EVENTS_MAX   200     /* more in one answer: the rest cut */
#define CARRIER_CONTEXT_MAX  1024    /* bytes of one event's text */
#define CARRIER_PLACE_MAX    256     /* bytes of one event's location */

typedef struct {
    const char  *carrier;            /* company code ("shunfeng") */
    const char  *tracking_no;
    const char  *phone;              /* last 4 digits of the receiver's
                                        phone, or NULL; a client sends it
                                        only where the carrier needs it */
} carrier_query_t;

typedef struct {
    int      state;                  /* 0..14 (carrier_state_name), -1 */
    int      delivered;              /* ischeck: the parcel is signed for */
    cJSON   *events;                 /* array (owned), NULL on an error */
    char     code[CARRIER_CODE_MAX]; /* error answer's code, "" when ok */
    char     message[128];           /* error answer's message (logs) */
} carrier_result_t;

/*
 * Codes of error answers worth telling apart: no tracking yet (the
 * parcel is not in the carrier's system: normal right after shipping).
 */
#define CARRIER_CODE_NO_RESULT  "500"

typedef struct {
    const char  *name;               /* "kuaidi100" */
    /*
     * One query from a fiber (the process's loop goes on). MALL_OK: the
     * carrier answered; res holds either events or an error code.
     * MALL_RETRY: no usable answer (network, timeout, HTTP error, an
     * answer that does not parse; err says which). MALL_ERR: the query
     * could not be built. Free res with carrier_result_free either way.
     */
    int        (*query)(const logistics_conf_t *conf,
                        const carrier_query_t *q, carrier_result_t *res,
                        mall_err_t *err);
} carrier_client_t;

/* The configured client, or NULL when the carrier API is off. */
const carrier_client_t *carrier_client(const logistics_conf_t *conf);

/* "in_transit", "collected", ... for a Kuaidi100 state, "unknown". */
const char *carrier_state_name(int state);

void carrier_result_free(carrier_result_t *res);

/*
 * "YYYY-MM-DD hh:mm:ss" in Beijing time <-> unix seconds (the carriers'
 * clock). Parse: MALL_OK or MALL_ERR. Format: out has 20 bytes.
 */
int carrier_time_parse(const char *s, int64_t *t);
void carrier_time_format(int64_t t, char out[20]);

#endif
