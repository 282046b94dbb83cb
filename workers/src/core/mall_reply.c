/*
 * Response helpers over evhttp (see mall_reply.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "mall_log.h"
#include "mall_reply.h"
#include "mall_server.h"


const char *
mall_reply_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default:  return status < 400 ? "OK" : "Error";
    }
}


int
mall_reply_header(mall_ctx_t *ctx, const char *name, const char *value)
{
    struct evkeyvalq  *h;

    if (ctx->replied) {
        /* the request may be freed once its reply is written */
        return MALL_ERR;
    }
    h = evhttp_request_get_output_headers(ctx->req);
    evhttp_remove_header(h, name);
    return evhttp_add_header(h, name, value) == 0 ? MALL_OK : MALL_ERR;
}


int
mall_reply_raw(mall_ctx_t *ctx, int status, const char *body, size_t len)
{
    struct evbuffer  *buf;
    int               rc;

    if (ctx->replied) {
        mall_log_req(MALL_LOG_ERROR, "reply", ctx->request_id,
                     ctx->ident.user, "second reply for %s dropped",
                     ctx->method);
        return MALL_ERR;
    }

    buf = evbuffer_new();
    if (buf == NULL) {
        return MALL_ERR;
    }

    rc = MALL_ERR;
    if (evbuffer_add(buf, body, len) != 0) {
        goto done;
    }

    mall_reply_header(ctx, "Content-Type", "application/json; charset=utf-8");
    if (mall_server_stopping()) {
        /* at reply time: a request that came in before the stop too */
        mall_reply_header(ctx, "Connection", "close");
    }
    evhttp_send_reply(ctx->req, status, mall_reply_reason(status), buf);
    ctx->req = NULL;            /* libevent frees it once it is written */
    ctx->uri = ctx->path = NULL;
    ctx->body = NULL;
    ctx->replied = 1;
    ctx->status = status;
    rc = MALL_OK;

done:
    evbuffer_free(buf);
    return rc;
}


int
mall_reply_json(mall_ctx_t *ctx, int status, const cJSON *root)
{
    char  *text;
    int    rc;

    text = cJSON_PrintUnformatted(root);
    if (text == NULL) {
        return MALL_ERR;
    }
    rc = mall_reply_raw(ctx, status, text, strlen(text));
    cJSON_free(text);
    return rc;
}


int
mall_reply_json_nostore(mall_ctx_t *ctx, int status, const cJSON *root)
{
    mall_reply_header(ctx, "Cache-Control", "no-store");
    return mall_reply_json(ctx, status, root);
}


int
mall_reply_json_drop(mall_ctx_t *ctx, int status, cJSON *root)
{
    int  rc;

    if (root == NULL) {
        return MALL_ERR;
    }
    rc = mall_reply_json_nostore(ctx, status, root);
    cJSON_Delete(root);
    return rc;
}


int
mall_reply_error(mall_ctx_t *ctx, int status, const char *code,
    const char *fmt, ...)
{
    char      msg[256];
    va_list   ap;
    cJSON    *root, *err;
    int       rc;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    if (ctx->replied) {
        mall_log_req(MALL_LOG_ERROR, "reply", ctx->request_id,
                     ctx->ident.user, "second reply (%s) for %s dropped",
                     code, ctx->method);
        return MALL_ERR;
    }
    rc = MALL_ERR;
    ctx->error_code = code;
    root = cJSON_CreateObject();
    if (root == NULL) {
        goto done;
    }
    err = cJSON_AddObjectToObject(root, "error");
    if (err == NULL
        || cJSON_AddStringToObject(err, "code", code) == NULL
        || cJSON_AddStringToObject(err, "message", msg) == NULL
        || cJSON_AddStringToObject(err, "request_id", ctx->request_id)
           == NULL)
    {
        goto done;
    }

    mall_reply_header(ctx, "Cache-Control", "no-store");
    evhttp_remove_header(evhttp_request_get_output_headers(ctx->req),
                         "Surrogate-Key");   /* errors are never cached */
    rc = mall_reply_json(ctx, status, root);

done:
    cJSON_Delete(root);
    if (rc != MALL_OK && !ctx->replied) {
        /* last resort when even cJSON cannot allocate */
        static const char  oom[] =
            "{\"error\":{\"code\":\"INTERNAL\",\"message\":\"out of memory\"}}";
        rc = mall_reply_raw(ctx, 500, oom, sizeof(oom) - 1);
    }
    return rc;
}
