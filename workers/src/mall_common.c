/*
 * mall_err_t helper (see mall_common.h).
 */
#include <stdarg.h>
#include <stdio.h>

#include "mall_common.h"


int
mall_err_set(mall_err_t *err, int code, const char *fmt, ...)
{
    va_list  ap;

    if (err == NULL) {
        return MALL_ERR;
    }

    err->code = code;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);

    return MALL_ERR;
}
