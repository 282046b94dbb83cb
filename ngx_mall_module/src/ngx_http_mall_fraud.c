
/*
 * Anti-fraud decisions (see ngx_http_mall_fraud.h): the cheap guards of
 * PREACCESS (allow list, IP/CIDR block list, country lists, device block
 * list), and at the end of ACCESS the user block list, a required
 * X-Mall-Device and the risk score (mini-program checks, velocity), whose
 * action is allow, tag (X-Mall-Risk to the workers, inside the edge signature),
 * challenge or block. Every refusal and every non-allow score is written
 * to the WAF's JSON audit log (mall_waf_audit_log).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_mall_module.h"


static ngx_int_t ngx_http_mall_fraud_refuse(ngx_http_request_t *r,
    ngx_http_mall_fraud_ctx_t *fctx, ngx_uint_t status, char *code,
    char *reason, char *message);
static ngx_uint_t ngx_http_mall_fraud_write(ngx_http_request_t *r);


static ngx_str_t  ngx_http_mall_risk_names[NGX_HTTP_MALL_RISK_NREASONS] = {
    ngx_string("no_device"),
    ngx_string("not_wechat"),
    ngx_string("bad_referer"),
    ngx_string("device_users"),
    ngx_string("user_devices"),
    ngx_string("device_rate"),
    ngx_string("ip_orders"),
    ngx_string("device_orders"),
    ngx_string("user_orders"),
};

static char  *ngx_http_mall_risk_actions[] = {
    "allow", "tag", "challenge", "block"
};


/* ------------------------------ configuration ---------------------------- */


void
ngx_http_mall_fraud_create_loc_conf(ngx_http_mall_fraud_loc_conf_t *c)
{
    ngx_uint_t  i;

    c->enabled = NGX_CONF_UNSET;
    c->country_deny = NGX_CONF_UNSET_PTR;
    c->country_allow = NGX_CONF_UNSET_PTR;
    c->device = NGX_CONF_UNSET_UINT;
    c->wechat = NGX_CONF_UNSET;
    c->window = NGX_CONF_UNSET_MSEC;
    c->device_users = NGX_CONF_UNSET_UINT;
    c->user_devices = NGX_CONF_UNSET_UINT;
    c->device_rate = NGX_CONF_UNSET_UINT;
    c->order_window = NGX_CONF_UNSET_MSEC;
    c->ip_orders = NGX_CONF_UNSET_UINT;
    c->device_orders = NGX_CONF_UNSET_UINT;
    c->user_orders = NGX_CONF_UNSET_UINT;

    for (i = 0; i < NGX_HTTP_MALL_RISK_NREASONS; i++) {
        c->weight[i] = NGX_CONF_UNSET;
    }

    c->tag = NGX_CONF_UNSET;
    c->challenge = NGX_CONF_UNSET;
    c->block = NGX_CONF_UNSET;
}


char *
ngx_http_mall_fraud_merge_loc_conf(ngx_conf_t *cf,
    ngx_http_mall_fraud_loc_conf_t *prev, ngx_http_mall_fraud_loc_conf_t *conf)
{
    ngx_uint_t  i;

    static ngx_int_t  weights[NGX_HTTP_MALL_RISK_NREASONS] = {
        20, 10, 10, 40, 30, 50, 20, 30, 30
    };

    ngx_conf_merge_value(conf->enabled, prev->enabled, 0);
    ngx_conf_merge_ptr_value(conf->country_deny, prev->country_deny, NULL);
    ngx_conf_merge_ptr_value(conf->country_allow, prev->country_allow, NULL);
    ngx_conf_merge_uint_value(conf->device, prev->device,
                              NGX_HTTP_MALL_OPTIONAL);
    ngx_conf_merge_value(conf->wechat, prev->wechat, 0);
    ngx_conf_merge_msec_value(conf->window, prev->window, 60000);
    ngx_conf_merge_uint_value(conf->device_users, prev->device_users, 3);
    ngx_conf_merge_uint_value(conf->user_devices, prev->user_devices, 5);
    ngx_conf_merge_uint_value(conf->device_rate, prev->device_rate, 300);

    /* mall_fraud_orders sets all four or none: inherit them together */
    if (conf->order_window == NGX_CONF_UNSET_MSEC) {
        conf->order_window = prev->order_window;
        conf->ip_orders = prev->ip_orders;
        conf->device_orders = prev->device_orders;
        conf->user_orders = prev->user_orders;
    }

    ngx_conf_merge_msec_value(conf->order_window, prev->order_window,
                              3600000);
    ngx_conf_merge_uint_value(conf->ip_orders, prev->ip_orders, 0);
    ngx_conf_merge_uint_value(conf->device_orders, prev->device_orders, 0);
    ngx_conf_merge_uint_value(conf->user_orders, prev->user_orders, 0);

    for (i = 0; i < NGX_HTTP_MALL_RISK_NREASONS; i++) {
        ngx_conf_merge_value(conf->weight[i], prev->weight[i], weights[i]);
    }

    ngx_conf_merge_value(conf->tag, prev->tag, 10);
    ngx_conf_merge_value(conf->challenge, prev->challenge, 60);
    ngx_conf_merge_value(conf->block, prev->block, 90);

    return NGX_CONF_OK;
}


/* mall_fraud_velocity window=T device_users=N user_devices=N device_rate=N */

char *
ngx_http_mall_fraud_velocity(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mall_fraud_loc_conf_t  *flcf = (void *) ((char *) conf
                                                      + cmd->offset);

    ngx_int_t    n;
    ngx_str_t   *value, s;
    ngx_uint_t   i, *field;

    if (flcf->window != NGX_CONF_UNSET_MSEC) {
        return "is duplicate";
    }

    value = cf->args->elts;
    flcf->window = 60000;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "window=", 7) == 0) {
            s.data = value[i].data + 7;
            s.len = value[i].len - 7;
            flcf->window = ngx_parse_time(&s, 0);

            if (flcf->window == (ngx_msec_t) NGX_ERROR
                || flcf->window < 1000)
            {
                return "has an invalid window (1s or more)";
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "device_users=", 13) == 0) {
            field = &flcf->device_users;
            s.data = value[i].data + 13;

        } else if (ngx_strncmp(value[i].data, "user_devices=", 13) == 0) {
            field = &flcf->user_devices;
            s.data = value[i].data + 13;

        } else if (ngx_strncmp(value[i].data, "device_rate=", 12) == 0) {
            field = &flcf->device_rate;
            s.data = value[i].data + 12;

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "mall_fraud_velocity: invalid parameter "
                               "\"%V\"", &value[i]);
            return NGX_CONF_ERROR;
        }

        s.len = value[i].data + value[i].len - s.data;
        n = ngx_atoi(s.data, s.len);

        if (n == NGX_ERROR
            || (field != &flcf->device_rate
                && n >= NGX_HTTP_MALL_VELO_SLOTS))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "mall_fraud_velocity: invalid \"%V\" "
                               "(distinct counts go to %d, 0 is off)",
                               &value[i], NGX_HTTP_MALL_VELO_SLOTS - 1);
            return NGX_CONF_ERROR;
        }

        *field = (ngx_uint_t) n;
    }

    ngx_conf_init_uint_value(flcf->device_users, 3);
    ngx_conf_init_uint_value(flcf->user_devices, 5);
    ngx_conf_init_uint_value(flcf->device_rate, 300);

    return NGX_CONF_OK;
}


/* mall_risk_score REASON POINTS */

char *
ngx_http_mall_risk_score(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mall_fraud_loc_conf_t  *flcf = (void *) ((char *) conf
                                                      + cmd->offset);

    ngx_int_t    n;
    ngx_str_t   *value;
    ngx_uint_t   i;

    value = cf->args->elts;

    for (i = 0; i < NGX_HTTP_MALL_RISK_NREASONS; i++) {
        if (value[1].len == ngx_http_mall_risk_names[i].len
            && ngx_strncmp(value[1].data, ngx_http_mall_risk_names[i].data,
                           value[1].len) == 0)
        {
            break;
        }
    }

    if (i == NGX_HTTP_MALL_RISK_NREASONS) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "mall_risk_score: unknown reason \"%V\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    if (flcf->weight[i] != NGX_CONF_UNSET) {
        return "is duplicate for this reason";
    }

    n = ngx_atoi(value[2].data, value[2].len);

    if (n == NGX_ERROR || n > 1000) {
        return "has invalid points (0 to 1000)";
    }

    flcf->weight[i] = n;

    return NGX_CONF_OK;
}


/* mall_risk_action tag=N challenge=N block=N (0: that action is off) */

char *
ngx_http_mall_risk_action(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mall_fraud_loc_conf_t  *flcf = (void *) ((char *) conf
                                                      + cmd->offset);

    u_char      *p;
    ngx_int_t    n, *field;
    ngx_str_t   *value;
    ngx_uint_t   i;

    if (flcf->tag != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;
    flcf->tag = 0;
    flcf->challenge = 0;
    flcf->block = 0;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "tag=", 4) == 0) {
            field = &flcf->tag;

        } else if (ngx_strncmp(value[i].data, "challenge=", 10) == 0) {
            field = &flcf->challenge;

        } else if (ngx_strncmp(value[i].data, "block=", 6) == 0) {
            field = &flcf->block;

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "mall_risk_action: invalid parameter \"%V\"",
                               &value[i]);
            return NGX_CONF_ERROR;
        }

        p = (u_char *) ngx_strchr(value[i].data, '=') + 1;
        n = ngx_atoi(p, value[i].data + value[i].len - p);

        if (n == NGX_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "mall_risk_action: invalid \"%V\"",
                               &value[i]);
            return NGX_CONF_ERROR;
        }

        *field = n;
    }

    return NGX_CONF_OK;
}


/* ------------------------------ decisions -------------------------------- */


static ngx_uint_t
ngx_http_mall_fraud_write(ngx_http_request_t *r)
{
    return !(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_OPTIONS));
}


/* Audits a refusal of a list or check, then sends the contract error. */

static ngx_int_t
ngx_http_mall_fraud_refuse(ngx_http_request_t *r,
    ngx_http_mall_fraud_ctx_t *fctx, ngx_uint_t status, char *code,
    char *reason, char *message)
{
    ngx_str_t                  why;
    ngx_http_mall_loc_conf_t  *mlcf;

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_mall_module);

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "mall_fraud: refused (%s)", reason);

    if (mlcf->waf.audit) {
        why.data = (u_char *) reason;
        why.len = ngx_strlen(reason);
        ngx_http_mall_risk_audit(r, mlcf->waf.audit, "block", fctx->score,
                                 &why);
    }

    return ngx_http_mall_deny(r, status, code, message);
}


/*
 * PREACCESS, after the limits. NGX_DECLINED to go on, or NGX_DONE after a
 * refusal. Allow-listed addresses skip the address and country checks.
 */

ngx_int_t
ngx_http_mall_fraud_guard(ngx_http_request_t *r, ngx_http_mall_ctx_t *ctx)
{
    ngx_uint_t                       ip;
    ngx_table_elt_t                 *h;
    ngx_http_mall_loc_conf_t        *mlcf;
    ngx_http_mall_main_conf_t       *mmcf;
    ngx_http_mall_fraud_ctx_t       *fctx;
    ngx_http_mall_fraud_loc_conf_t  *flcf;

    fctx = &ctx->fraud;

    if (fctx->guarded) {
        return NGX_DECLINED;
    }

    fctx->guarded = 1;

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_mall_module);
    mmcf = ngx_http_get_module_main_conf(r, ngx_http_mall_module);
    flcf = &mlcf->fraud;

    ip = 0;

    if (flcf->enabled && mmcf->fraud.lists) {
        ip = ngx_http_mall_fraud_ip_lookup(r, mmcf->fraud.lists);

        if (ip == NGX_HTTP_MALL_IP_BLOCKED) {
            return ngx_http_mall_fraud_refuse(r, fctx, NGX_HTTP_FORBIDDEN,
                                              "RISK_BLOCKED", "ip_list",
                                              "your address is blocked");
        }
    }

    if (ip != NGX_HTTP_MALL_IP_ALLOWED
        && (flcf->country_deny || flcf->country_allow)
        && ngx_http_mall_country_denied(r, flcf, fctx))
    {
        return ngx_http_mall_fraud_refuse(r, fctx, NGX_HTTP_FORBIDDEN,
                                          "RISK_BLOCKED", "country",
                                          "not available in your country "
                                          "or region");
    }

    if (!flcf->enabled) {
        return NGX_DECLINED;
    }

    h = ngx_http_mall_find_header(&r->headers_in.headers, "x-mall-device",
                                  sizeof("x-mall-device") - 1);

    if (h && h->value.len) {
        if (h->value.len > NGX_HTTP_MALL_DEVICE_MAX) {
            return ngx_http_mall_deny(r, NGX_HTTP_BAD_REQUEST,
                                      "VALIDATION_FAILED",
                                      "X-Mall-Device is too long");
        }

        fctx->device = h->value;

        if (mmcf->fraud.lists
            && ngx_http_mall_fraud_id_listed(mmcf->fraud.lists,
                                             MALL_IPTAB_DEVICE,
                                             h->value.data, h->value.len))
        {
            return ngx_http_mall_fraud_refuse(r, fctx, NGX_HTTP_FORBIDDEN,
                                              "RISK_BLOCKED", "device_list",
                                              "this device is blocked");
        }
    }

    return NGX_DECLINED;
}


/*
 * End of ACCESS (after the token and signature): the user block list, then
 * the score. NGX_DECLINED to go on (tagged or not), NGX_DONE after a
 * challenge or a block.
 */

ngx_int_t
ngx_http_mall_fraud_score(ngx_http_request_t *r, ngx_http_mall_ctx_t *ctx)
{
    u_char                           buf[NGX_HTTP_MALL_RISK_LEN];
    ngx_str_t                        user, why;
    ngx_int_t                        score;
    ngx_uint_t                       i, reasons;
    ngx_http_mall_loc_conf_t        *mlcf;
    ngx_http_mall_main_conf_t       *mmcf;
    ngx_http_mall_fraud_ctx_t       *fctx;
    ngx_http_mall_fraud_loc_conf_t  *flcf;

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_mall_module);
    flcf = &mlcf->fraud;
    fctx = &ctx->fraud;

    if (!flcf->enabled || fctx->scored) {
        return NGX_DECLINED;
    }

    fctx->scored = 1;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_mall_module);

    ngx_str_null(&user);

    if (ctx->auth_state == NGX_HTTP_MALL_AUTH_VERIFIED) {
        user.data = (u_char *) ctx->claims->sub;
        user.len = ngx_strlen(ctx->claims->sub);

        if (mmcf->fraud.lists
            && ngx_http_mall_fraud_id_listed(mmcf->fraud.lists,
                                             MALL_IPTAB_USER, user.data,
                                             user.len))
        {
            return ngx_http_mall_fraud_refuse(r, fctx, NGX_HTTP_FORBIDDEN,
                                              "RISK_BLOCKED", "user_list",
                                              "this account is blocked");
        }
    }

    reasons = 0;

    /* after the token and the signature: an anonymous or forged write
     * learns that first */
    if (fctx->device.len == 0 && ngx_http_mall_fraud_write(r)) {
        if (flcf->device == NGX_HTTP_MALL_REQUIRED) {
            return ngx_http_mall_deny(r, NGX_HTTP_BAD_REQUEST,
                                      "VALIDATION_FAILED",
                                      "X-Mall-Device header is required");
        }

        reasons |= 1 << NGX_HTTP_MALL_RISK_NO_DEVICE;
    }

    if (flcf->wechat) {
        reasons |= ngx_http_mall_fraud_wechat(r, &mmcf->fraud.appid);
    }

    reasons |= ngx_http_mall_velocity(r, flcf, mmcf->fraud.velocity,
                                      &fctx->device, &user);
    reasons |= ngx_http_mall_order_velocity(r, flcf, mmcf->fraud.velocity,
                                            &fctx->device, &user);

    score = 0;

    for (i = 0; i < NGX_HTTP_MALL_RISK_NREASONS; i++) {
        if (reasons & (1 << i)) {
            score += flcf->weight[i];
        }
    }

    fctx->score = score;
    fctx->reasons = reasons;

    if (flcf->block && score >= flcf->block) {
        fctx->action = NGX_HTTP_MALL_RISK_BLOCK;

    } else if (flcf->challenge && score >= flcf->challenge) {
        fctx->action = NGX_HTTP_MALL_RISK_CHALLENGE;

    } else if (flcf->tag && score >= flcf->tag) {
        fctx->action = NGX_HTTP_MALL_RISK_TAG;

    } else {
        fctx->action = NGX_HTTP_MALL_RISK_ALLOW;
        return NGX_DECLINED;
    }

    why.data = buf;
    why.len = ngx_http_mall_risk_format(fctx, buf);

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "mall_fraud: %s risk \"%V\"",
                  ngx_http_mall_risk_actions[fctx->action], &why);

    if (mlcf->waf.audit) {
        /* the reasons alone: the score has its own field */
        why.data = (u_char *) ngx_strlchr(buf, buf + why.len, ';') + 1;
        why.len = buf + why.len - why.data;
        ngx_http_mall_risk_audit(r, mlcf->waf.audit,
                                 ngx_http_mall_risk_actions[fctx->action],
                                 score, &why);
    }

    switch (fctx->action) {

    case NGX_HTTP_MALL_RISK_BLOCK:
        return ngx_http_mall_deny(r, NGX_HTTP_FORBIDDEN, "RISK_BLOCKED",
                                  "request refused by risk rules");

    case NGX_HTTP_MALL_RISK_CHALLENGE:
        return ngx_http_mall_deny(r, NGX_HTTP_FORBIDDEN, "RISK_BLOCKED",
                                  "challenge required: verify with a "
                                  "captcha or SMS code, then retry");

    default:
        return NGX_DECLINED;
    }
}


/* "<score>;<reason>,<reason>" into buf (NGX_HTTP_MALL_RISK_LEN bytes). */

size_t
ngx_http_mall_risk_format(ngx_http_mall_fraud_ctx_t *fctx, u_char *buf)
{
    u_char      *p;
    ngx_uint_t   i, n;

    p = ngx_sprintf(buf, "%ui;", ngx_min(fctx->score, 9999));

    for (i = 0, n = 0; i < NGX_HTTP_MALL_RISK_NREASONS; i++) {
        if (fctx->reasons & (1 << i)) {
            if (n++) {
                *p++ = ',';
            }

            p = ngx_cpymem(p, ngx_http_mall_risk_names[i].data,
                           ngx_http_mall_risk_names[i].len);
        }
    }

    return p - buf;
}


/* $mall_risk: "<score>;<reasons>" when the request is tagged, else empty */

ngx_int_t
ngx_http_mall_risk_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char               *p;
    ngx_http_mall_ctx_t  *ctx;

    ngx_http_mall_variable_empty(v);

    ctx = ngx_http_mall_get_ctx(r);

    if (ctx == NULL || !ctx->fraud.scored
        || ctx->fraud.action != NGX_HTTP_MALL_RISK_TAG)
    {
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, NGX_HTTP_MALL_RISK_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->len = ngx_http_mall_risk_format(&ctx->fraud, p);
    v->data = p;

    return NGX_OK;
}
