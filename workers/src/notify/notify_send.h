/*
 * One subscription message of the outbox (see notify.h).
 */
#ifndef NOTIFY_SEND_H
#define NOTIFY_SEND_H

#include "mall_ctx.h"

typedef struct {
    const char  *status;    /* sent, retry, failed, refused, skipped,
                               not_subscribed */
    long         errcode;   /* WeChat's, 0 when none */
    int          attempts;  /* sends tried so far, this one included */
    char         detail[128];
} notify_result_t;

/* Sends message m ("{event}:{order}") and says how it went. */
void notify_send(mall_ctx_t *ctx, const char *m, notify_result_t *res);

#endif
