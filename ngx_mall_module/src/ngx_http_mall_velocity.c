
/*
 * Device velocity in the fraud velocity zone (the generic store of
 * ngx_http_mall_shm.c: bounded, LRU-evicted, entries expire two windows
 * after their last use):
 *
 *   "vd" device -> requests in a sliding window (two fixed windows,
 *                  weighted) and the distinct users seen on it;
 *   "vu" user   -> the distinct devices it used.
 *
 * Distinct ids are remembered in 8 slots (a CRC32 and the last time each
 * was seen), so a threshold can count up to 8; the oldest slot is reused.
 * All of it is O(1) under the zone mutex; nothing is allocated.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_mall_module.h"


typedef struct {
    uint64_t                       win;       /* window start, unix ms */
    uint32_t                       cur;       /* requests in it */
    uint32_t                       prev;      /* in the window before */
    uint32_t                       id[NGX_HTTP_MALL_VELO_SLOTS];   /* crc32 */
    uint64_t                       seen[NGX_HTTP_MALL_VELO_SLOTS]; /* ms */
} ngx_http_mall_velo_t;


static ngx_uint_t ngx_http_mall_velo_distinct(ngx_http_mall_velo_t *v,
    uint32_t id, uint64_t now, uint64_t window);


/* Records id in the slots; returns the distinct ids seen in the window. */

static ngx_uint_t
ngx_http_mall_velo_distinct(ngx_http_mall_velo_t *v, uint32_t id,
    uint64_t now, uint64_t window)
{
    ngx_uint_t  i, n, old;

    old = 0;

    for (i = 0; i < NGX_HTTP_MALL_VELO_SLOTS; i++) {
        if (v->seen[i] && v->id[i] == id) {
            old = i;
            break;
        }

        if (v->seen[i] < v->seen[old]) {
            old = i;
        }
    }

    v->id[old] = id;
    v->seen[old] = now;

    n = 0;

    for (i = 0; i < NGX_HTTP_MALL_VELO_SLOTS; i++) {
        if (v->seen[i] && v->seen[i] + window > now) {
            n++;
        }
    }

    return n;
}


/*
 * One entry: counts the request (rate, when asked for) and the other id
 * (distinct, when other is not empty). NGX_OK, or NGX_DECLINED when the
 * zone had no room (the counters then say nothing). key is at most
 * NGX_HTTP_MALL_DEVICE_MAX bytes.
 */

ngx_int_t
ngx_http_mall_velo_update(ngx_shm_zone_t *zone, u_char kind, ngx_str_t *key,
    ngx_str_t *other, uint64_t now, uint64_t window, ngx_uint_t *distinct,
    ngx_uint_t *rate)
{
    u_char                     k[2 + NGX_HTTP_MALL_DEVICE_MAX];
    uint64_t                   w, part;
    ngx_uint_t                 created;
    ngx_http_mall_velo_t       v;
    ngx_http_mall_shm_node_t  *sn;

    k[0] = 'v';
    k[1] = kind;
    ngx_memcpy(k + 2, key->data, key->len);

    ngx_http_mall_shm_lock(zone);

    sn = ngx_http_mall_shm_upsert_locked(zone, k, 2 + key->len, sizeof(v),
                                         now, NGX_HTTP_MALL_SHM_SOFT,
                                         &created);
    if (sn == NULL) {
        ngx_http_mall_shm_unlock(zone);
        return NGX_DECLINED;
    }

    /* the value is not aligned in the node: work on a copy */
    ngx_memcpy(&v, ngx_http_mall_shm_value(sn), sizeof(v));

    if (rate) {
        w = now - now % window;

        if (v.win != w) {
            v.prev = (v.win + window == w) ? v.cur : 0;
            v.cur = 0;
            v.win = w;
        }

        v.cur++;

        part = window - (now - w);
        *rate = v.cur + (ngx_uint_t) ((uint64_t) v.prev * part / window);
    }

    if (other && other->len) {
        *distinct = ngx_http_mall_velo_distinct(&v,
                                        ngx_crc32_short(other->data,
                                                        other->len),
                                        now, window);
    }

    ngx_memcpy(ngx_http_mall_shm_value(sn), &v, sizeof(v));
    sn->expire = now + 2 * window;

    ngx_http_mall_shm_unlock(zone);

    return NGX_OK;
}


/*
 * Counts this request for its device and user and returns the risk
 * reasons (bits) whose thresholds it reaches: distinct users on the device,
 * distinct devices of the user, requests of the device in the window.
 */

ngx_uint_t
ngx_http_mall_velocity(ngx_http_request_t *r,
    ngx_http_mall_fraud_loc_conf_t *flcf, ngx_shm_zone_t *zone,
    ngx_str_t *device, ngx_str_t *user)
{
    uint64_t    now, window;
    ngx_uint_t  reasons, users, devices, rate;

    if (zone == NULL || flcf->window == 0) {
        return 0;
    }

    now = ngx_http_mall_now_ms();
    window = flcf->window;
    reasons = 0;
    users = 0;
    devices = 0;
    rate = 0;

    if (device->len
        && (flcf->device_rate || flcf->device_users)
        && ngx_http_mall_velo_update(zone, 'd', device,
                                     flcf->device_users ? user : NULL,
                                     now, window, &users,
                                     flcf->device_rate ? &rate : NULL)
           == NGX_OK)
    {
        if (flcf->device_rate && rate > flcf->device_rate) {
            reasons |= 1 << NGX_HTTP_MALL_RISK_DEVICE_RATE;
        }

        if (flcf->device_users && users > flcf->device_users) {
            reasons |= 1 << NGX_HTTP_MALL_RISK_DEVICE_USERS;
        }
    }

    if (device->len && user->len && flcf->user_devices
        && user->len <= NGX_HTTP_MALL_DEVICE_MAX
        && ngx_http_mall_velo_update(zone, 'u', user, device, now, window,
                                     &devices, NULL)
           == NGX_OK
        && devices > flcf->user_devices)
    {
        reasons |= 1 << NGX_HTTP_MALL_RISK_USER_DEVICES;
    }

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "mall_fraud: velocity rate:%ui users:%ui devices:%ui "
                   "reasons:%ui", rate, users, devices, reasons);

    return reasons;
}
