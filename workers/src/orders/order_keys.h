/*
 * Redis data model of orders (prefix "mall:"); docs/orders.md explains
 * the atomicity argument.
 *
 *   mall:order:{oid}              hash  id, user_id, status, items (JSON
 *                                       array: sku_id, product_id, name,
 *                                       image, attrs, price_fen, quantity,
 *                                       subtotal_fen), items_fen,
 *                                       shipping_fen, discount_fen,
 *                                       total_fen, coupon (JSON), remark,
 *                                       address_id, address (sealed
 *                                       snapshot, aad mall:order:{oid}:
 *                                       address), created_at (s),
 *                                       created_ms, pay_deadline (s),
 *                                       updated_at, idem_key, idem_digest,
 *                                       counted (its units are in the
 *                                       purchase-limit counters) or limit
 *                                       (off);
 *                                       refund_from; payment fields
 *                                       (pay_keys.h); logistics (JSON
 *                                       {carrier, tracking_no,
 *                                       shipped_at}), carrier,
 *                                       tracking_no, shipped_at,
 *                                       received_at, completed_at; the
 *                                       tracking timeline's keys are
 *                                       mall:logistics:{oid}*
 *                                       (logistics.h)
 *   mall:order:{oid}:events       list  JSON {at, actor, actor_id, event,
 *                                       from, to} of every transition after
 *                                       the creation, oldest first
 *   mall:order:{oid}:hold:{sku}   hash  the SKU right after the order took
 *                                       its units (stock.h), while unpaid
 *   mall:user:{uid}:orders        zset  oid -> created_ms (every order)
 *   mall:user:{uid}:orders:{st}   zset  oid -> created_ms, per status
 *   mall:user:{uid}:bought        hash  sku id -> units in non-cancelled
 *                                       orders (purchase limit)
 *   mall:idem:order:{uid}:{key}   string "v1 {digest} {oid} {sealed
 *                                       answer}": the Idempotency-Key, the
 *                                       request it was used with and the
 *                                       201 answer it got, 24 h
 *   mall:orders:expiry            zset  oid -> pay_deadline (s)
 *   mall:orders:expiry:claimed    zset  oid -> claim time (ms): expiry in
 *                                       progress (re-run when stale)
 *   mall:pay:watch                zset  oid -> pay_deadline: unpaid orders
 *                                       with a prepay (pay_keys.h)
 *   mall:orders:all               zset  oid -> created_ms: every order that
 *                                       changed status once (merchant list)
 *   mall:orders:status:{st}       zset  oid -> created_ms, per status, from
 *                                       the first change on (merchant)
 *   mall:orders:shipped           zset  oid -> shipped_at (s): auto-receive
 *   mall:orders:received          zset  oid -> received_at (s): completion
 *                                       after the after-sales window
 */
#ifndef ORDER_KEYS_H
#define ORDER_KEYS_H

#define ORDER_KEY_ORDER         "mall:order:%s"
#define ORDER_KEY_EVENTS        "mall:order:%s:events"
#define ORDER_KEY_ADDRESS_AAD   "mall:order:%s:address"
#define ORDER_KEY_USER_ALL      "mall:user:%s:orders"
#define ORDER_KEY_USER_STATUS   "mall:user:%s:orders:%s"
#define ORDER_KEY_BOUGHT        "mall:user:%s:bought"
#define ORDER_KEY_IDEM          "mall:idem:order:%s:%s"
#define ORDER_KEY_EXPIRY        "mall:orders:expiry"
#define ORDER_KEY_CLAIMED       "mall:orders:expiry:claimed"
#define ORDER_KEY_PAY_WATCH     "mall:pay:watch"
#define ORDER_KEY_ALL           "mall:orders:all"
#define ORDER_KEY_STATUS        "mall:orders:status:%s"
#define ORDER_KEY_SHIPPED       "mall:orders:shipped"
#define ORDER_KEY_RECEIVED      "mall:orders:received"

#define ORDER_IDEM_TTL          "86400"    /* seconds: keys kept 24 h */
#define ORDER_IDEM_VERSION      "v1"
#define ORDER_ID_LEN            24         /* YYYYMMDD + 16 random */
#define ORDER_ID_MAX            (ORDER_ID_LEN + 1)
#define ORDER_KEY_MAX           160

#endif
