/*
 * Order notifications (小程序订阅消息) in mall-worker.conf:
 *
 *   notify_template <paid|shipped|refund> <template_id> <page> \
 *       <data key>=<source> ...     e.g. thing1=product
 *   notify_template <paid|shipped|refund> off ... (no message; the rest
 *                                                of the line is ignored)
 *   notify_miniprogram_state formal        (formal | trial | developer)
 *   notify_lang zh_CN
 *   notify_retry_max 8                     attempts before giving up
 *   notify_retry_base_ms 1000              first backoff; doubles, <= 1 h
 *
 * Sources: order_id, product (first line's name), amount (the order's
 * total in yuan; a refund's amount for refund), carrier, tracking_no,
 * time (of the send), status (the order's status in Chinese; the
 * refund's result for refund). Values are cut to WeChat's lengths
 * (thing 20 characters, the other types 32).
 */
#ifndef NOTIFY_CONF_H
#define NOTIFY_CONF_H

#include <stddef.h>

#include "mall_common.h"

#define NOTIFY_CONF_NOT_MINE  1
#define NOTIFY_FIELDS_MAX     8
#define NOTIFY_TPL_MAX        128

typedef enum {
    NOTIFY_EV_PAID = 0,
    NOTIFY_EV_SHIPPED,
    NOTIFY_EV_REFUND,
    NOTIFY_EV_COUNT
} notify_event_e;

typedef struct {
    char  key[32];                  /* "thing1" */
    char  source[16];               /* "product" */
} notify_field_t;

typedef struct {
    char            template_id[NOTIFY_TPL_MAX];   /* "" = not sent */
    char            page[128];
    notify_field_t  fields[NOTIFY_FIELDS_MAX];
    size_t          nfields;
} notify_template_t;

typedef struct {
    notify_template_t  tpl[NOTIFY_EV_COUNT];
    char               state[16];
    char               lang[16];
    int                retry_max;
    int                retry_base_ms;
} notify_conf_t;

void notify_conf_init(notify_conf_t *c);

/* MALL_OK, MALL_ERR (err), or NOTIFY_CONF_NOT_MINE. */
int notify_conf_directive(notify_conf_t *c, char **argv, int argc,
    mall_err_t *err);

/* "paid", "shipped", "refund"; NOTIFY_EV_COUNT when unknown. */
notify_event_e notify_event_parse(const char *s);

/* 1 when tpl is the template id of an event in c. */
int notify_conf_has_template(const notify_conf_t *c, const char *tpl);
const char *notify_event_name(notify_event_e e);

#endif
