
/*
 * WAF audit log: one JSON line per blocked or detected request, to a file
 * (ngx_conf_open_file: nginx reopens it on USR1, as access_log) or syslog.
 * The line names rules, scores, targets and the engine's sanitised excerpt;
 * it never holds a token, a cookie value, a signature or a body (excerpts
 * of those targets are replaced by "[redacted]"). docs/waf-audit.md gives
 * the format.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_mall_module.h"


#define NGX_HTTP_MALL_WAF_AUDIT_HITS   16
#define NGX_HTTP_MALL_WAF_AUDIT_PATH   256
/* ","asn":"4294967295 */
#define NGX_HTTP_MALL_AUDIT_ASN_LEN  (sizeof("\",\"asn\":\"") + NGX_INT32_LEN)
#define NGX_HTTP_MALL_WAF_SYSLOG_HEAD  (sizeof("<255>Jan 01 00:00:00 ") - 1 \
                                        + NGX_MAXHOSTNAMELEN + 32 + 2)


static ngx_uint_t ngx_http_mall_waf_secret(const mall_waf_hit_t *hit);
static void ngx_http_mall_waf_var(ngx_http_request_t *r, ngx_int_t index,
    ngx_str_t *out);
static u_char *ngx_http_mall_audit_head(ngx_http_request_t *r,
    ngx_http_mall_waf_audit_t *audit, u_char *line, ngx_str_t *id,
    ngx_str_t *country, size_t plen);
static void ngx_http_mall_audit_write(ngx_http_request_t *r,
    ngx_http_mall_waf_audit_t *audit, u_char *line, u_char *p);


/* mall_waf_audit_log PATH | syslog:... | off */

char *
ngx_http_mall_waf_audit_log(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mall_loc_conf_t *mlcf = conf;

    ngx_str_t                  *value;
    ngx_http_mall_waf_audit_t  *audit;

    if (mlcf->waf.audit != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        mlcf->waf.audit = NULL;
        return NGX_CONF_OK;
    }

    audit = ngx_pcalloc(cf->pool, sizeof(ngx_http_mall_waf_audit_t));
    if (audit == NULL) {
        return NGX_CONF_ERROR;
    }

    if (ngx_strncmp(value[1].data, "syslog:", 7) == 0) {
        audit->syslog = ngx_pcalloc(cf->pool, sizeof(ngx_syslog_peer_t));
        if (audit->syslog == NULL) {
            return NGX_CONF_ERROR;
        }

        if (ngx_syslog_process_conf(cf, audit->syslog) != NGX_CONF_OK) {
            return NGX_CONF_ERROR;
        }

    } else {
        audit->file = ngx_conf_open_file(cf->cycle, &value[1]);
        if (audit->file == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    mlcf->waf.audit = audit;

    return NGX_CONF_OK;
}


/* A target whose bytes are credentials: its excerpt is never logged. */

static ngx_uint_t
ngx_http_mall_waf_secret(const mall_waf_hit_t *hit)
{
    if (hit->target == MALL_WAF_COOKIE_VALUE) {
        return 1;
    }

    if (hit->target != MALL_WAF_HEADER_VALUE) {
        return 0;
    }

    return ngx_strcasecmp((u_char *) hit->name, (u_char *) "authorization")
               == 0
           || ngx_strcasecmp((u_char *) hit->name,
                             (u_char *) "proxy-authorization") == 0
           || ngx_strncasecmp((u_char *) hit->name, (u_char *) "x-mall-", 7)
              == 0;
}


static void
ngx_http_mall_waf_var(ngx_http_request_t *r, ngx_int_t index, ngx_str_t *out)
{
    ngx_http_variable_value_t  *vv;

    ngx_str_null(out);

    if (index == NGX_ERROR) {
        return;
    }

    vv = ngx_http_get_indexed_variable(r, index);

    if (vv && !vv->not_found && vv->len <= 8) {
        out->data = vv->data;
        out->len = vv->len;
    }
}


/*
 * One line: time, request id, client address, country, method, path,
 * action, score and the hits. Bounded: at most 16 hits, the path cut at
 * 256 bytes, names and excerpts at the engine's 64.
 */

void
ngx_http_mall_waf_audit(ngx_http_request_t *r,
    ngx_http_mall_waf_audit_t *audit, const mall_waf_result_t *res,
    ngx_uint_t status)
{
    u_char                     *line, *p;
    size_t                      len, nlen, elen, plen;
    ngx_str_t                   id, country, target, excerpt;
    ngx_uint_t                  i, n;
    const mall_waf_hit_t       *hit;
    ngx_http_mall_main_conf_t  *mmcf;

    static ngx_str_t  redacted = ngx_string("[redacted]");
    static ngx_str_t  unknown = ngx_string("unknown");

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_mall_module);

    ngx_http_mall_request_id(r, &id);
    ngx_http_mall_waf_var(r, mmcf->waf.country_index, &country);

    n = ngx_min(res->nhits, NGX_HTTP_MALL_WAF_AUDIT_HITS);
    plen = ngx_min(r->uri.len, NGX_HTTP_MALL_WAF_AUDIT_PATH);

    /* every escaped byte takes at most 6 ("\u00XX") */

    len = NGX_HTTP_MALL_WAF_SYSLOG_HEAD
          + sizeof("{\"time\":\"\",\"request_id\":\"\",\"client_ip\":\"\","
                   "\"country\":\"\",\"method\":\"\",\"path\":\"\","
                   "\"action\":\"detect\",\"score\":,\"rules\":[]}\n")
          + sizeof("1970-09-28T12:00:00+06:00") + NGX_INT_T_LEN
          + NGX_HTTP_MALL_AUDIT_ASN_LEN
          + 6 * (id.len + r->connection->addr_text.len + country.len
                 + r->method_name.len + plen)
          + n * (sizeof("{\"id\":,\"score\":,\"target\":\"\",\"name\":\"\","
                        "\"excerpt\":\"\"},") + 2 * NGX_INT_T_LEN
                 + sizeof("headers_names")
                 + 6 * (sizeof(hit->name) + sizeof(hit->excerpt)));

    line = ngx_pnalloc(r->pool, len);
    if (line == NULL) {
        return;
    }

    p = ngx_http_mall_audit_head(r, audit, line, &id, &country, plen);

    p = ngx_sprintf(p, "\",\"action\":\"%s\",\"score\":%d,\"rules\":[",
                    status == NGX_HTTP_MALL_WAF_ST_BLOCK ? "block" : "detect",
                    res->score);

    for (i = 0; i < n; i++) {
        hit = &res->hits[i];

        target.data = (u_char *) mall_waf_target_name(hit->target);
        target.len = target.data ? ngx_strlen(target.data) : 0;

        if (target.data == NULL) {
            target = unknown;
        }

        nlen = ngx_strnlen((u_char *) hit->name, sizeof(hit->name));

        if (ngx_http_mall_waf_secret(hit)) {
            excerpt = redacted;

        } else {
            elen = ngx_strnlen((u_char *) hit->excerpt,
                               sizeof(hit->excerpt));
            excerpt.data = (u_char *) hit->excerpt;
            excerpt.len = elen;
        }

        p = ngx_sprintf(p, "%s{\"id\":%uD,\"score\":%uD,\"target\":\"%V\","
                        "\"name\":\"", i ? "," : "", hit->rule_id,
                        (uint32_t) hit->score, &target);
        p = ngx_http_mall_json_escape(p, (u_char *) hit->name, nlen);
        p = ngx_cpymem(p, "\",\"excerpt\":\"", sizeof("\",\"excerpt\":\"") - 1);
        p = ngx_http_mall_json_escape(p, excerpt.data, excerpt.len);
        *p++ = '"';
        *p++ = '}';
    }

    *p++ = ']';
    *p++ = '}';

    ngx_http_mall_audit_write(r, audit, line, p);
}


/*
 * The start of every audit line in line (sized by the caller): the syslog
 * header when it goes to syslog, then from '{' to the path: time, request
 * id, client address, country ("unknown" when none), autonomous system
 * (when known), method, path (plen
 * bytes of it). Returns where the caller goes on.
 */

static u_char *
ngx_http_mall_audit_head(ngx_http_request_t *r,
    ngx_http_mall_waf_audit_t *audit, u_char *line, ngx_str_t *id,
    ngx_str_t *country, size_t plen)
{
    u_char                     *p, *head;
    ngx_http_variable_value_t   asn;

    static ngx_str_t  unknown = ngx_string("unknown");

    head = line;

    if (audit->syslog) {
        head = ngx_syslog_add_header(audit->syslog, line);
    }

    p = ngx_cpymem(head, "{\"time\":\"", sizeof("{\"time\":\"") - 1);
    p = ngx_cpymem(p, ngx_cached_http_log_iso8601.data,
                   ngx_cached_http_log_iso8601.len);

    p = ngx_cpymem(p, "\",\"request_id\":\"",
                   sizeof("\",\"request_id\":\"") - 1);
    p = ngx_http_mall_json_escape(p, id->data, id->len);

    p = ngx_cpymem(p, "\",\"client_ip\":\"", sizeof("\",\"client_ip\":\"") - 1);
    p = ngx_http_mall_json_escape(p, r->connection->addr_text.data,
                                  r->connection->addr_text.len);

    p = ngx_cpymem(p, "\",\"country\":\"", sizeof("\",\"country\":\"") - 1);
    p = ngx_http_mall_json_escape(p, country->len ? country->data
                                                 : unknown.data,
                                  country->len ? country->len : unknown.len);

    /* the autonomous system, when mall_geoip_asn knows the address */
    if (ngx_http_mall_asn_variable(r, &asn, 0) == NGX_OK && asn.len) {
        p = ngx_cpymem(p, "\",\"asn\":\"", sizeof("\",\"asn\":\"") - 1);
        p = ngx_cpymem(p, asn.data, asn.len);
    }

    p = ngx_cpymem(p, "\",\"method\":\"", sizeof("\",\"method\":\"") - 1);
    p = ngx_http_mall_json_escape(p, r->method_name.data, r->method_name.len);

    p = ngx_cpymem(p, "\",\"path\":\"", sizeof("\",\"path\":\"") - 1);
    p = ngx_http_mall_json_escape(p, r->uri.data, plen);

    return p;
}


/* Sends a line to syslog, or appends it (and a new line) to the file. */

static void
ngx_http_mall_audit_write(ngx_http_request_t *r,
    ngx_http_mall_waf_audit_t *audit, u_char *line, u_char *p)
{
    if (audit->syslog) {
        (void) ngx_syslog_send(audit->syslog, line, p - line);
        return;
    }

    *p++ = '\n';

    /* as access_log: one append-mode write, a short one is not retried */

    if (ngx_write_fd(audit->file->fd, line, p - line) == -1) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, ngx_errno,
                      ngx_write_fd_n " to \"%V\" failed", &audit->file->name);
    }
}


/*
 * A fraud decision as an audit line of the same log: the common head, then
 * "source":"fraud", the action (block, challenge, tag), the score and the
 * reasons (a comma-separated list of names, at most 128 bytes).
 */

void
ngx_http_mall_risk_audit(ngx_http_request_t *r,
    ngx_http_mall_waf_audit_t *audit, char *action, ngx_uint_t score,
    ngx_str_t *reasons)
{
    u_char                     *line, *p;
    size_t                      len, plen, rlen;
    ngx_str_t                   id, country;
    ngx_http_mall_main_conf_t  *mmcf;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_mall_module);

    ngx_http_mall_request_id(r, &id);
    ngx_http_mall_waf_var(r, mmcf->waf.country_index, &country);

    plen = ngx_min(r->uri.len, NGX_HTTP_MALL_WAF_AUDIT_PATH);
    rlen = ngx_min(reasons->len, 128);

    len = NGX_HTTP_MALL_WAF_SYSLOG_HEAD
          + sizeof("{\"time\":\"\",\"request_id\":\"\",\"client_ip\":\"\","
                   "\"country\":\"\",\"method\":\"\",\"path\":\"\","
                   "\"source\":\"fraud\",\"action\":\"challenge\","
                   "\"score\":,\"reasons\":\"\"}\n")
          + sizeof("1970-09-28T12:00:00+06:00") + NGX_INT_T_LEN
          + NGX_HTTP_MALL_AUDIT_ASN_LEN
          + 6 * (id.len + r->connection->addr_text.len + country.len
                 + r->method_name.len + plen + rlen);

    line = ngx_pnalloc(r->pool, len);
    if (line == NULL) {
        return;
    }

    p = ngx_http_mall_audit_head(r, audit, line, &id, &country, plen);

    p = ngx_sprintf(p, "\",\"source\":\"fraud\",\"action\":\"%s\","
                    "\"score\":%ui,\"reasons\":\"", action, score);
    p = ngx_http_mall_json_escape(p, reasons->data, rlen);
    *p++ = '"';
    *p++ = '}';

    ngx_http_mall_audit_write(r, audit, line, p);
}
