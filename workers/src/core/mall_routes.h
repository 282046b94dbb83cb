/*
 * The worker's route table, assembled from the per-feature tables. To add
 * an endpoint: write the handler in its own file, export a table ending in
 * { NULL }, and list the table in mall_routes.c.
 */
#ifndef MALL_ROUTES_H
#define MALL_ROUTES_H

#include "mall_router.h"

extern const mall_route_t  mall_health_routes[];
extern const mall_route_t  mall_catalog_routes[];
extern const mall_route_t  mall_auth_routes[];         /* auth_login.c */
extern const mall_route_t  mall_users_routes[];        /* users_me.c */
extern const mall_route_t  mall_admin_auth_routes[];   /* admin_auth.c */
extern const mall_route_t  mall_search_routes[];       /* search.c */
extern const mall_route_t  mall_cart_routes[];         /* cart.c */
extern const mall_route_t  mall_address_routes[];      /* address.c */
extern const mall_route_t  mall_favorite_routes[];     /* favorites.c */
extern const mall_route_t  mall_merchant_product_routes[];
extern const mall_route_t  mall_merchant_sku_routes[];
extern const mall_route_t  mall_merchant_category_routes[];
extern const mall_route_t  mall_order_create_routes[]; /* order_create.c */
extern const mall_route_t  mall_order_preview_routes[];  /* order_preview.c */
extern const mall_route_t  mall_coupon_admin_routes[];  /* coupon_admin.c */
extern const mall_route_t  mall_coupon_claim_routes[];  /* coupon_claim.c */
extern const mall_route_t  mall_coupon_wallet_routes[]; /* coupon_wallet.c */
extern const mall_route_t  mall_aftersale_buyer_routes[];
extern const mall_route_t  mall_aftersale_admin_routes[];
extern const mall_route_t  mall_order_confirm_routes[]; /* order_confirm.c */
extern const mall_route_t  mall_order_ship_routes[];   /* order_ship.c */
extern const mall_route_t  mall_logistics_routes[];    /* logistics_routes.c */
extern const mall_route_t  mall_order_query_routes[];  /* order_query.c */
extern const mall_route_t  mall_order_cancel_routes[]; /* order_cancel.c */
extern const mall_route_t  mall_pay_prepay_routes[];   /* pay_prepay.c */
extern const mall_route_t  mall_pay_notify_routes[];   /* pay_notify.c */
extern const mall_route_t  mall_pay_anomaly_routes[];  /* pay_anomaly.c */
extern const mall_route_t  mall_risk_routes[];         /* risk_alerts.c */
extern const mall_route_t  mall_refund_routes[];       /* refund_routes.c */
extern const mall_route_t  mall_reconcile_routes[];    /* reconcile_routes.c */
extern const mall_route_t  mall_notify_routes[];     /* notify_subscribe.c */

/*
 * Builds (once) and returns the flat table of all routes; *n is set to its
 * length. MALL_ERR-free: returns NULL only when memory runs out.
 */
const mall_route_t *mall_routes_all(size_t *n);

#endif
