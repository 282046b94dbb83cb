
/*
 * Mini-program expectations: a request from the WeChat client carries a
 * User-Agent with MicroMessenger and miniProgram, and the Referer
 * https://servicewechat.com/<appid>/<version>/page-frame.html of our
 * mini-program. A miss adds risk (not_wechat, bad_referer); it never
 * blocks by itself.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_mall_module.h"


/* mall_fraud_appid APPID | file=PATH: http level */

char *
ngx_http_mall_fraud_appid(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mall_main_conf_t *mmcf = conf;

    u_char     *p;
    ngx_str_t  *value, path;

    if (mmcf->fraud.appid.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strncmp(value[1].data, "file=", 5) == 0) {
        path.data = value[1].data + 5;
        path.len = value[1].len - 5;

        if (ngx_http_mall_load_secret(cf, &path, &mmcf->fraud.appid, 1, 64)
            != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }

    } else {
        mmcf->fraud.appid = value[1];
    }

    for (p = mmcf->fraud.appid.data;
         p < mmcf->fraud.appid.data + mmcf->fraud.appid.len;
         p++)
    {
        if (!isalnum(*p) && *p != '_' && *p != '-') {
            return "has an invalid appid";
        }
    }

    return NGX_CONF_OK;
}


/*
 * 1 << NOT_WECHAT when the User-Agent lacks MicroMessenger or miniProgram,
 * 1 << BAD_REFERER unless the Referer is
 * https://servicewechat.com/<appid>/<version>/page-frame.html.
 */

ngx_uint_t
ngx_http_mall_fraud_wechat(ngx_http_request_t *r, ngx_str_t *appid)
{
    u_char           *p, *last;
    ngx_str_t        *ua, *ref;
    ngx_uint_t        reasons;
    ngx_table_elt_t  *h;

    static ngx_str_t  prefix = ngx_string("https://servicewechat.com/");
    static ngx_str_t  frame = ngx_string("/page-frame.html");

    reasons = 0;

    h = r->headers_in.user_agent;
    ua = h ? &h->value : NULL;

    if (ua == NULL
        || ngx_strnstr(ua->data, "MicroMessenger", ua->len) == NULL
        || ngx_strnstr(ua->data, "miniProgram", ua->len) == NULL)
    {
        reasons |= 1 << NGX_HTTP_MALL_RISK_NOT_WECHAT;
    }

    h = r->headers_in.referer;
    ref = h ? &h->value : NULL;

    if (ref == NULL || appid->len == 0
        || ref->len < prefix.len + appid->len + 2 + frame.len
        || ngx_strncmp(ref->data, prefix.data, prefix.len) != 0
        || ngx_strncmp(ref->data + prefix.len, appid->data, appid->len) != 0
        || ref->data[prefix.len + appid->len] != '/'
        || ngx_strncmp(ref->data + ref->len - frame.len, frame.data,
                       frame.len) != 0)
    {
        return reasons | 1 << NGX_HTTP_MALL_RISK_BAD_REFERER;
    }

    /* the version: one path segment of digits, letters, '.', '-', '_' */

    p = ref->data + prefix.len + appid->len + 1;
    last = ref->data + ref->len - frame.len;

    if (p == last) {
        return reasons | 1 << NGX_HTTP_MALL_RISK_BAD_REFERER;
    }

    for ( /* void */ ; p < last; p++) {
        if (!(isalnum(*p) || *p == '.' || *p == '-' || *p == '_')) {
            return reasons | 1 << NGX_HTTP_MALL_RISK_BAD_REFERER;
        }
    }

    return reasons;
}
