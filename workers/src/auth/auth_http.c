/*
 * Identity request helpers (see auth_http.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth_http.h"
#include "auth_phone.h"
#include "mall_json.h"
#include "mall_log.h"
#include "mall_reply.h"


int
auth_body_object(mall_ctx_t *ctx, cJSON **root)
{
    *root = mall_json_object(ctx->body, ctx->body_len);
    if (*root == NULL) {
        mall_reply_error(ctx, 400, "VALIDATION_FAILED",
                         "body must be a JSON object");
        return MALL_ERR;
    }
    return MALL_OK;
}


const char *
auth_json_str(const cJSON *root, const char *name, size_t maxlen)
{
    const cJSON  *v;
    size_t        i, len;

    v = cJSON_GetObjectItemCaseSensitive(root, name);
    if (!cJSON_IsString(v) || v->valuestring == NULL) {
        return NULL;
    }
    len = strlen(v->valuestring);
    if (len == 0 || len > maxlen) {
        return NULL;
    }
    for (i = 0; i < len; i++) {
        if ((unsigned char) v->valuestring[i] < 0x20
            || v->valuestring[i] == 0x7f)
        {
            return NULL;
        }
    }
    return v->valuestring;
}


int
auth_require_user(mall_ctx_t *ctx)
{
    if (!ctx->ident.verified || !auth_uid_valid(ctx->ident.user)) {
        mall_reply_error(ctx, 401, "UNAUTHORIZED", "login required");
        return MALL_ERR;
    }
    return MALL_OK;
}


int
auth_require_admin(mall_ctx_t *ctx, const char *role)
{
    if (!ctx->ident.verified
        || strncmp(ctx->ident.user, "admin:", 6) != 0
        || ctx->ident.user[6] == '\0'
        || (strcmp(ctx->ident.role, "admin") != 0
            && strcmp(ctx->ident.role, "operator") != 0))
    {
        mall_reply_error(ctx, 401, "UNAUTHORIZED", "admin login required");
        return MALL_ERR;
    }
    if (role != NULL && strcmp(ctx->ident.role, role) != 0) {
        mall_reply_error(ctx, 403, "FORBIDDEN", "role \"%s\" required",
                         role);
        return MALL_ERR;
    }
    return MALL_OK;
}


cJSON *
auth_profile_json(const auth_conf_t *a, const auth_user_t *u)
{
    cJSON       *o;
    mall_err_t   err;
    char         phone[AUTH_PHONE_MAX], masked[AUTH_PHONE_MAX];
    long long    id;
    int          ok;

    o = cJSON_CreateObject();
    if (o == NULL) {
        return NULL;
    }

    id = strtoll(u->id, NULL, 10);
    ok = mall_json_add_int(o, "id", id) == MALL_OK
         && mall_json_add_str(o, "nickname", u->nickname) == MALL_OK
         && (u->avatar_url[0] != '\0'
             ? mall_json_add_str(o, "avatar_url", u->avatar_url) == MALL_OK
             : cJSON_AddNullToObject(o, "avatar_url") != NULL);

    if (ok && u->phone[0] != '\0'
        && auth_user_open_sealed(a, u->id, "phone", u->phone, phone,
                                 sizeof(phone), &err) == MALL_OK)
    {
        auth_phone_mask(phone, masked, sizeof(masked));
        ok = mall_json_add_str(o, "phone", masked) == MALL_OK;
    } else if (ok) {
        ok = cJSON_AddNullToObject(o, "phone") != NULL;
    }

    ok = ok && mall_json_add_int(o, "created_at", u->created_at) == MALL_OK;
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}


int
auth_reply_retry(mall_ctx_t *ctx, int status, const char *code,
    int retry_after, const char *msg)
{
    char  v[16];

    snprintf(v, sizeof(v), "%d", retry_after > 0 ? retry_after : 1);
    mall_reply_header(ctx, "Retry-After", v);
    return mall_reply_error(ctx, status, code, "%s", msg);
}


int
auth_reply_internal(mall_ctx_t *ctx, int rc, const char *what,
    const mall_err_t *err)
{
    mall_log_req(MALL_LOG_ERROR, "auth", ctx->request_id, ctx->ident.user,
                 "%s: %s", what, err->msg);
    if (rc == MALL_RETRY) {
        return MALL_RETRY;            /* the server answers 503 */
    }
    return mall_reply_error(ctx, 500, "INTERNAL", "internal error");
}


int
auth_utf8_text(const char *s, size_t maxchars)
{
    const unsigned char  *p = (const unsigned char *) s;
    size_t                chars, need, i;
    uint32_t              cp;
    int                   visible;

    chars = 0;
    visible = 0;
    while (*p != '\0') {
        if (*p < 0x80) {
            if (*p < 0x20 || *p == 0x7f) {
                return 0;
            }
            visible |= *p != ' ';
            p++;
            chars++;
            continue;
        }
        if ((*p & 0xe0) == 0xc0) {
            need = 1; cp = *p & 0x1f;
        } else if ((*p & 0xf0) == 0xe0) {
            need = 2; cp = *p & 0x0f;
        } else if ((*p & 0xf8) == 0xf0) {
            need = 3; cp = *p & 0x07;
        } else {
            return 0;
        }
        for (i = 1; i <= need; i++) {
            if ((p[i] & 0xc0) != 0x80) {
                return 0;
            }
            cp = cp << 6 | (p[i] & 0x3f);
        }
        /* overlong forms, surrogates, beyond U+10FFFF, C1 controls */
        if ((need == 1 && cp < 0x80) || (need == 2 && cp < 0x800)
            || (need == 3 && cp < 0x10000) || cp > 0x10ffff
            || (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp < 0xa0))
        {
            return 0;
        }
        visible = 1;
        p += need + 1;
        chars++;
    }
    return chars >= 1 && chars <= maxchars && visible;
}
