/*
 * Coupon templates in Redis (coupon_keys.h): read one or many with their
 * claimed counts, and the view answered to merchants and buyers. Every
 * call parks the calling fiber until Redis answers.
 */
#ifndef COUPON_STORE_H
#define COUPON_STORE_H

#include <stdint.h>
#include <hiredis/hiredis.h>
#include <cjson/cJSON.h>

#include "coupon_tpl.h"
#include "mall_batch.h"
#include "mall_ctx.h"

#define COUPON_KEY_BUF  160

/* The key of fmt (coupon_keys.h) for an integer id. */
void coupon_key_id(char *buf, size_t sz, const char *fmt, int64_t id);

/* Appends HMGET of template id's json and claimed. */
void coupon_batch_tpl(mall_batch_t *b, int64_t id);

#define COUPON_TPL_NONE  1

/*
 * A template from the reply of coupon_batch_tpl: MALL_OK, COUPON_TPL_NONE
 * when there is no such template, MALL_ERR when it is corrupt.
 */
int coupon_tpl_reply(const redisReply *r, coupon_tpl_t *t, int64_t *claimed);
/* The template as shown: coupon_tpl_json + claimed, remaining. */
cJSON *coupon_tpl_view(const coupon_tpl_t *t, int64_t claimed);

/*
 * 1 when t can be claimed at now: enabled, some left, before its end;
 * a valid_days template from its starts_at, a fixed window's coupons
 * also ahead of the window.
 */
int coupon_tpl_open(const coupon_tpl_t *t, int64_t claimed, int64_t now);

#endif
