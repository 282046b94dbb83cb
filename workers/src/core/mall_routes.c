/*
 * Registry of the feature route tables (see mall_routes.h).
 */
#include <stdlib.h>
#include <string.h>

#include "mall_routes.h"

static const mall_route_t  *route_tables[] = {
    mall_health_routes,
    mall_catalog_routes,
    mall_auth_routes,
    mall_users_routes,
    mall_admin_auth_routes,
    mall_search_routes,
    mall_cart_routes,
    mall_address_routes,
    mall_favorite_routes,
    mall_merchant_product_routes,
    mall_merchant_sku_routes,
    mall_merchant_category_routes,
    mall_order_create_routes,
    mall_order_preview_routes,
    mall_coupon_admin_routes,
    mall_coupon_claim_routes,
    mall_coupon_wallet_routes,
    mall_aftersale_buyer_routes,
    mall_aftersale_admin_routes,
    mall_order_confirm_routes,      /* before query: /orders/counts */
    mall_order_ship_routes,
    mall_logistics_routes,
    mall_order_query_routes,
    mall_order_cancel_routes,
    mall_pay_prepay_routes,
    mall_pay_notify_routes,
    mall_pay_anomaly_routes,
    mall_risk_routes,
    mall_refund_routes,
    mall_reconcile_routes,
    mall_notify_routes,
};

static mall_route_t  *routes_flat;
static size_t         routes_n;


const mall_route_t *
mall_routes_all(size_t *n)
{
    const mall_route_t  *t;
    size_t               i, total;

    if (routes_flat != NULL) {
        *n = routes_n;
        return routes_flat;
    }

    total = 0;
    for (i = 0; i < MALL_ARRAY_LEN(route_tables); i++) {
        for (t = route_tables[i]; t->method != NULL; t++) {
            total++;
        }
    }

    routes_flat = calloc(total + 1, sizeof(mall_route_t));
    if (routes_flat == NULL) {
        return NULL;
    }

    routes_n = 0;
    for (i = 0; i < MALL_ARRAY_LEN(route_tables); i++) {
        for (t = route_tables[i]; t->method != NULL; t++) {
            routes_flat[routes_n++] = *t;
        }
    }

    *n = routes_n;
    return routes_flat;
}
