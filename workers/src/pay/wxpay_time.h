/*
 * WeChat Pay times: RFC 3339 with an offset ("2026-12-07T10:30:00+08:00"),
 * and days in Beijing time (UTC+8), which is how WeChat dates its bills.
 * Pure code.
 */
#ifndef WXPAY_TIME_H
#define WXPAY_TIME_H

#include <stdint.h>

#define WXPAY_TIME_MAX  32
#define WXPAY_CST       (8 * 3600)        /* Beijing: UTC+8, no DST */

/* Parses "YYYY-MM-DDThh:mm:ss[.frac](Z|+hh:mm|-hh:mm)" into unix seconds. */
int wxpay_time_parse(const char *s, int64_t *t);

/* Unix seconds as RFC 3339 in Beijing time (+08:00). */
void wxpay_time_format(int64_t t, char out[WXPAY_TIME_MAX]);

/* The Beijing date of unix time t: "YYYYMMDD" (key) or "YYYY-MM-DD". */
void wxpay_day_key(int64_t t, char out[9]);
void wxpay_day_iso(int64_t t, char out[11]);

/* Parses "YYYY-MM-DD" into the unix time of its Beijing midnight. */
int wxpay_day_parse(const char *s, int64_t *midnight);

#endif
