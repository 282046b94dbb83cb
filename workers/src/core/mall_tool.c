/*
 * The one-shot tools of mall-worker (see mall_tool.h).
 */
#include <stdio.h>
#include <string.h>

#include "mall_tool.h"


int
mall_tool_report(const mall_conf_t *conf, const char *name,
    mall_tool_pt run, void *arg)
{
    mall_redis_t  redis;
    mall_ctx_t    ctx;
    mall_err_t    err;
    cJSON        *report = NULL;
    char         *text;
    int           rc;

    memset(&ctx, 0, sizeof(ctx));
    mall_redis_init(&redis, conf->redis_host, conf->redis_port,
                    conf->redis_timeout_ms);
    mall_redis_set_ha(&redis, &conf->redis_ha);
    mall_ctx_background(&ctx, conf, &redis, name);
    err.msg[0] = '\0';
    rc = run(&ctx, arg, &report, &err);
    mall_redis_close(&redis);
    if (rc != MALL_OK) {
        fprintf(stderr, "%s: %s\n", name, err.msg);
        return rc == MALL_RETRY ? 75 : 1;
    }
    text = cJSON_Print(report);
    printf("%s\n", text != NULL ? text : "{}");
    cJSON_free(text);
    rc = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(report, "ok")) ? 0 : 2;
    cJSON_Delete(report);
    return rc;
}
