
/*
 * Order velocity (mall_fraud_orders): the writes of an order location
 * counted per client address, device and user in a sliding window of their
 * own (typically an hour), in the fraud velocity zone next to the device
 * counters of ngx_http_mall_velocity.c:
 *
 *   "vI" address (4 or 16 bytes, after real_ip), "vD" device, "vU" user
 *        -> orders in the window.
 *
 * A count over its threshold is a risk reason (ip_orders, device_orders,
 * user_orders): it adds points to the score rather than refusing, because
 * one address may be a campus or a carrier's NAT. The workers count per
 * user, device and address again, exactly, in the order's own EXEC
 * (workers/src/risk); this is the edge's cheap early view of the same
 * storm, before a worker is reached.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_mall_module.h"


static void ngx_http_mall_client_addr(ngx_http_request_t *r, ngx_str_t *addr);
static ngx_uint_t ngx_http_mall_order_count(ngx_shm_zone_t *zone, u_char kind,
    ngx_str_t *key, uint64_t now, uint64_t window, ngx_uint_t limit);


/* mall_fraud_orders window=T ip=N device=N user=N */

char *
ngx_http_mall_fraud_orders(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mall_fraud_loc_conf_t  *flcf = (void *) ((char *) conf
                                                      + cmd->offset);

    size_t       skip;
    ngx_int_t    n;
    ngx_str_t   *value, s;
    ngx_uint_t   i, *field;

    if (flcf->order_window != NGX_CONF_UNSET_MSEC) {
        return "is duplicate";
    }

    value = cf->args->elts;
    flcf->order_window = 3600000;
    flcf->ip_orders = 0;
    flcf->device_orders = 0;
    flcf->user_orders = 0;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "window=", 7) == 0) {
            s.data = value[i].data + 7;
            s.len = value[i].len - 7;
            flcf->order_window = ngx_parse_time(&s, 0);

            if (flcf->order_window == (ngx_msec_t) NGX_ERROR
                || flcf->order_window < 1000)
            {
                return "has an invalid window (1s or more)";
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "ip=", 3) == 0) {
            field = &flcf->ip_orders;
            skip = 3;

        } else if (ngx_strncmp(value[i].data, "device=", 7) == 0) {
            field = &flcf->device_orders;
            skip = 7;

        } else if (ngx_strncmp(value[i].data, "user=", 5) == 0) {
            field = &flcf->user_orders;
            skip = 5;

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "mall_fraud_orders: invalid parameter \"%V\"",
                               &value[i]);
            return NGX_CONF_ERROR;
        }

        n = ngx_atoi(value[i].data + skip, value[i].len - skip);

        if (n == NGX_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "mall_fraud_orders: invalid \"%V\" "
                               "(a count, 0 is off)", &value[i]);
            return NGX_CONF_ERROR;
        }

        *field = (ngx_uint_t) n;
    }

    return NGX_CONF_OK;
}


/* The client's address after real_ip, as 4 or 16 bytes (empty: neither). */

static void
ngx_http_mall_client_addr(ngx_http_request_t *r, ngx_str_t *addr)
{
    struct sockaddr_in   *sin;
#if (NGX_HAVE_INET6)
    struct sockaddr_in6  *sin6;
#endif

    ngx_str_null(addr);

    switch (r->connection->sockaddr->sa_family) {

    case AF_INET:
        sin = (struct sockaddr_in *) r->connection->sockaddr;
        addr->data = (u_char *) &sin->sin_addr;
        addr->len = 4;
        break;

#if (NGX_HAVE_INET6)
    case AF_INET6:
        sin6 = (struct sockaddr_in6 *) r->connection->sockaddr;
        addr->data = sin6->sin6_addr.s6_addr;
        addr->len = 16;
        break;
#endif
    }
}


/* Counts one order of key; 1 when the window's count passes limit. */

static ngx_uint_t
ngx_http_mall_order_count(ngx_shm_zone_t *zone, u_char kind, ngx_str_t *key,
    uint64_t now, uint64_t window, ngx_uint_t limit)
{
    ngx_uint_t  rate;

    if (limit == 0 || key->len == 0 || key->len > NGX_HTTP_MALL_DEVICE_MAX) {
        return 0;
    }

    rate = 0;

    if (ngx_http_mall_velo_update(zone, kind, key, NULL, now, window, NULL,
                                  &rate)
        != NGX_OK)
    {
        return 0;
    }

    return rate > limit;
}


/*
 * Counts this request as an order when the location has mall_fraud_orders
 * and it is a POST; returns the reasons (bits) whose thresholds it passes.
 */

ngx_uint_t
ngx_http_mall_order_velocity(ngx_http_request_t *r,
    ngx_http_mall_fraud_loc_conf_t *flcf, ngx_shm_zone_t *zone,
    ngx_str_t *device, ngx_str_t *user)
{
    uint64_t    now, window;
    ngx_str_t   addr;
    ngx_uint_t  reasons;

    if (zone == NULL || r->method != NGX_HTTP_POST
        || (flcf->ip_orders | flcf->device_orders | flcf->user_orders) == 0)
    {
        return 0;
    }

    now = ngx_http_mall_now_ms();
    window = flcf->order_window;
    ngx_http_mall_client_addr(r, &addr);

    reasons = 0;

    if (ngx_http_mall_order_count(zone, 'I', &addr, now, window,
                                  flcf->ip_orders))
    {
        reasons |= 1 << NGX_HTTP_MALL_RISK_IP_ORDERS;
    }

    if (ngx_http_mall_order_count(zone, 'D', device, now, window,
                                  flcf->device_orders))
    {
        reasons |= 1 << NGX_HTTP_MALL_RISK_DEVICE_ORDERS;
    }

    if (ngx_http_mall_order_count(zone, 'U', user, now, window,
                                  flcf->user_orders))
    {
        reasons |= 1 << NGX_HTTP_MALL_RISK_USER_ORDERS;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "mall_fraud: order velocity reasons:%ui", reasons);

    return reasons;
}
