/*
 * Redis data model of coupons (prefix "mall:"); docs/orders.md explains
 * claiming and the use by orders.
 *
 *   mall:coupon:tpl:{id}            hash  json (the template, coupon_tpl.h),
 *                                         claimed (coupons issued)
 *   mall:coupon:tpl:{id}:users      hash  uid -> coupons claimed (per_user)
 *   mall:coupon:tpls                zset  template id -> id (every one)
 *   mall:user:{uid}:coupons         hash  coupon id -> the coupon as issued
 *                                         (JSON, never changed after)
 *   mall:user:{uid}:coupons:used    hash  coupon id -> the order using it
 *                                         (set in the order's EXEC, dropped
 *                                         when the order is cancelled or
 *                                         fully refunded)
 *   mall:idem:claim:{uid}:{key}     string the coupon id a claim with that
 *                                         Idempotency-Key got, 24 h
 *   mall:seq:coupon_tpl, mall:seq:coupon   id sequences
 */
#ifndef COUPON_KEYS_H
#define COUPON_KEYS_H

#define COUPON_KEY_TPL        "mall:coupon:tpl:%s"
#define COUPON_KEY_TPL_USERS  "mall:coupon:tpl:%s:users"
#define COUPON_KEY_TPLS       "mall:coupon:tpls"
#define COUPON_KEY_WALLET     "mall:user:%s:coupons"
#define COUPON_KEY_USED       "mall:user:%s:coupons:used"
#define COUPON_KEY_IDEM       "mall:idem:claim:%s:%s"
#define COUPON_SEQ_TPL        "coupon_tpl"
#define COUPON_SEQ            "coupon"

#define COUPON_WALLET_MAX     200     /* coupons one buyer may hold */
#define COUPON_TPLS_LISTED    200     /* templates a list shows at most */

#endif
