
/*
 * The mall:fraud:blocks stream: blocks and unblocks pushed through Redis
 * (`mallctl block|unblock`, the workers when they freeze an account),
 * applied to the lists zone by the Redis follower (ngx_http_mall_redis.c,
 * worker 0) as they come. A fresh edge reads the stream from its start, so
 * every node converges on the same lists.
 *
 * Entries (docs/architecture.md "Fraud lists"):
 *   XADD mall:fraud:blocks MAXLEN ~ 100000 * op block|unblock
 *        kind ip|cidr|allow|device|user value VALUE until UNIX_SECONDS|0
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_mall_module.h"


static void ngx_http_mall_fraud_stream(void *data, ngx_str_t *id,
    ngx_str_t *fields, ngx_uint_t nfields, ngx_log_t *log);


static ngx_str_t  ngx_http_mall_fraud_stream_key =
    ngx_string("mall:fraud:blocks");


/* postconfiguration: hand the files to the zone, follow the stream */

ngx_int_t
ngx_http_mall_fraud_lists_init(ngx_conf_t *cf)
{
    ngx_http_mall_main_conf_t    *mmcf;
    ngx_http_mall_fraud_lists_t  *fl;

    mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_mall_module);

    if (mmcf->fraud.lists == NULL) {
        if (mmcf->fraud.files) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"mall_fraud_list\" requires "
                               "\"mall_fraud_zone\"");
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    fl = mmcf->fraud.lists->data;
    fl->files = mmcf->fraud.files;

    if (mmcf->redis.port == 0) {
        return NGX_OK;
    }

    return ngx_http_mall_redis_follow(cf, &mmcf->redis,
                                      &ngx_http_mall_fraud_stream_key,
                                      ngx_http_mall_fraud_stream, mmcf,
                                      mmcf->fraud.velocity);
}


/* One entry of mall:fraud:blocks, in worker 0. */

static void
ngx_http_mall_fraud_stream(void *data, ngx_str_t *id, ngx_str_t *fields,
    ngx_uint_t nfields, ngx_log_t *log)
{
    ngx_http_mall_main_conf_t *mmcf = data;

    time_t                        until;
    uint64_t                      expire, now;
    ngx_str_t                    *op, *kind, *value, *when, *name;
    ngx_uint_t                    i, k, add;
    ngx_http_mall_fraud_lists_t  *fl;

    op = NULL;
    kind = NULL;
    value = NULL;
    when = NULL;

    for (i = 0; i + 1 < nfields * 2; i += 2) {
        name = &fields[i];

        if (name->len == 2 && ngx_strncmp(name->data, "op", 2) == 0) {
            op = &fields[i + 1];

        } else if (name->len == 4 && ngx_strncmp(name->data, "kind", 4) == 0) {
            kind = &fields[i + 1];

        } else if (name->len == 5
                   && ngx_strncmp(name->data, "value", 5) == 0)
        {
            value = &fields[i + 1];

        } else if (name->len == 5
                   && ngx_strncmp(name->data, "until", 5) == 0)
        {
            when = &fields[i + 1];
        }
    }

    if (op == NULL || kind == NULL || value == NULL || value->len == 0) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "mall_fraud: ignoring malformed block \"%V\"", id);
        return;
    }

    if (op->len == 5 && ngx_strncmp(op->data, "block", 5) == 0) {
        add = 1;

    } else if (op->len == 7 && ngx_strncmp(op->data, "unblock", 7) == 0) {
        add = 0;

    } else {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "mall_fraud: unknown op \"%V\" in \"%V\"", op, id);
        return;
    }

    if ((kind->len == 2 && ngx_strncmp(kind->data, "ip", 2) == 0)
        || (kind->len == 4 && ngx_strncmp(kind->data, "cidr", 4) == 0))
    {
        k = MALL_IPTAB_BLOCK4;

    } else if (kind->len == 5 && ngx_strncmp(kind->data, "allow", 5) == 0) {
        k = MALL_IPTAB_ALLOW4;

    } else if (kind->len == 6 && ngx_strncmp(kind->data, "device", 6) == 0) {
        k = MALL_IPTAB_DEVICE;

    } else if (kind->len == 4 && ngx_strncmp(kind->data, "user", 4) == 0) {
        k = MALL_IPTAB_USER;

    } else {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "mall_fraud: unknown kind \"%V\" in \"%V\"", kind, id);
        return;
    }

    now = ngx_http_mall_now_ms();
    expire = 0;

    if (when && when->len && !(when->len == 1 && when->data[0] == '0')) {
        until = ngx_atotm(when->data, when->len);

        if (until == NGX_ERROR) {
            ngx_log_error(NGX_LOG_WARN, log, 0,
                          "mall_fraud: bad until in \"%V\"", id);
            return;
        }

        expire = (uint64_t) until * 1000;

        if (add && expire <= now) {
            return;                 /* a replayed block that has run out */
        }
    }

    fl = mmcf->fraud.lists->data;

    ngx_shmtx_lock(&fl->shpool->mutex);
    (void) ngx_http_mall_fraud_put(fl, k, value, add, expire,
                                   MALL_IPTAB_SRC_PUSH, log);
    ngx_shmtx_unlock(&fl->shpool->mutex);

    ngx_log_error(NGX_LOG_INFO, log, 0, "mall_fraud: %V %V \"%V\"",
                  op, kind, value);
}
