/*
 * The one-shot tools of mall-worker (-r reconcile, -k check-stock): a
 * background context on the blocking Redis client, one run that builds a
 * JSON report, the report on stdout and the exit status from its "ok".
 */
#ifndef MALL_TOOL_H
#define MALL_TOOL_H

#include <cjson/cJSON.h>

#include "mall_ctx.h"

typedef int (*mall_tool_pt)(mall_ctx_t *ctx, void *arg, cJSON **report,
    mall_err_t *err);

/*
 * Runs run(arg) as name and prints its report. Exit status: 0 when the
 * report says "ok": true, 2 when it does not, 75 when Redis (or WeChat)
 * did not answer, 1 on any other error (printed to stderr).
 */
int mall_tool_report(const mall_conf_t *conf, const char *name,
    mall_tool_pt run, void *arg);

#endif
