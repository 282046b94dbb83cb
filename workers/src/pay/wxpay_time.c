/*
 * WeChat Pay times (see wxpay_time.h).
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "mall_common.h"
#include "wxpay_time.h"


/* Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm). */
static int64_t
days_from_civil(int64_t y, int64_t m, int64_t d)
{
    int64_t  era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}


static void
civil_from_days(int64_t z, int *y, int *m, int *d)
{
    int64_t  era, doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int) (doy - (153 * mp + 2) / 5 + 1);
    *m = (int) (mp < 10 ? mp + 3 : mp - 9);
    *y = (int) (yoe + era * 400 + (*m <= 2));
}


/* n decimal digits at s into *v. */
static int
digits(const char *s, int n, int *v)
{
    int  i;

    *v = 0;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return MALL_ERR;
        }
        *v = *v * 10 + (s[i] - '0');
    }
    return MALL_OK;
}


static int
date_part(const char *s, int *y, int *mo, int *d)
{
    if (digits(s, 4, y) != MALL_OK || s[4] != '-'
        || digits(s + 5, 2, mo) != MALL_OK || s[7] != '-'
        || digits(s + 8, 2, d) != MALL_OK || *mo < 1 || *mo > 12 || *d < 1
        || *d > 31 || *y < 1970)
    {
        return MALL_ERR;
    }
    return MALL_OK;
}


int
wxpay_time_parse(const char *s, int64_t *t)
{
    int          y, mo, d, h, mi, sec, oh, om, sign;
    const char  *p;

    if (strlen(s) < 20 || date_part(s, &y, &mo, &d) != MALL_OK
        || (s[10] != 'T' && s[10] != 't')
        || digits(s + 11, 2, &h) != MALL_OK || s[13] != ':'
        || digits(s + 14, 2, &mi) != MALL_OK || s[16] != ':'
        || digits(s + 17, 2, &sec) != MALL_OK || h > 23 || mi > 59
        || sec > 60)
    {
        return MALL_ERR;
    }
    p = s + 19;
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++) { /* fraction ignored */ }
    }
    oh = om = 0;
    sign = 1;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p == '-' ? -1 : 1;
        if (digits(p + 1, 2, &oh) != MALL_OK || p[3] != ':'
            || digits(p + 4, 2, &om) != MALL_OK || oh > 23 || om > 59)
        {
            return MALL_ERR;
        }
        p += 6;
    } else {
        return MALL_ERR;
    }
    if (*p != '\0') {
        return MALL_ERR;
    }
    *t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec
         - sign * (oh * 3600 + om * 60);
    return MALL_OK;
}


void
wxpay_time_format(int64_t t, char out[WXPAY_TIME_MAX])
{
    int64_t  l = t + WXPAY_CST, days, rem;
    int      y, m, d;

    days = l >= 0 ? l / 86400 : (l - 86399) / 86400;
    rem = l - days * 86400;
    civil_from_days(days, &y, &m, &d);
    snprintf(out, WXPAY_TIME_MAX, "%04d-%02d-%02dT%02d:%02d:%02d+08:00", y, m,
             d, (int) (rem / 3600), (int) (rem / 60 % 60), (int) (rem % 60));
}


static void
beijing_date(int64_t t, int *y, int *m, int *d)
{
    int64_t  l = t + WXPAY_CST;

    civil_from_days(l >= 0 ? l / 86400 : (l - 86399) / 86400, y, m, d);
}


/* The Beijing date of t as YYYY{sep}MM{sep}DD ("" or "-"). */
static void
day_format(int64_t t, const char *sep, char *out, size_t outsz)
{
    int  y, m, d;

    beijing_date(t, &y, &m, &d);
    snprintf(out, outsz, "%04u%s%02u%s%02u", (unsigned) y % 10000u, sep,
             (unsigned) m % 100u, sep, (unsigned) d % 100u);
}


void
wxpay_day_key(int64_t t, char out[9])
{
    day_format(t, "", out, 9);
}


void
wxpay_day_iso(int64_t t, char out[11])
{
    day_format(t, "-", out, 11);
}


int
wxpay_day_parse(const char *s, int64_t *midnight)
{
    int  y, m, d, cy, cm, cd;

    if (strlen(s) != 10 || date_part(s, &y, &m, &d) != MALL_OK) {
        return MALL_ERR;
    }
    *midnight = days_from_civil(y, m, d) * 86400 - WXPAY_CST;
    civil_from_days(days_from_civil(y, m, d), &cy, &cm, &cd);
    return cy == y && cm == m && cd == d ? MALL_OK : MALL_ERR;  /* 02-30 */
}
