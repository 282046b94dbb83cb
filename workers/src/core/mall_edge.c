/*
 * Edge signature check (see mall_edge.h).
 */
#include <string.h>

#include "mall_crypto.h"
#include "mall_edge.h"
#include "mall_edge_sig.h"
#include "mall_query.h"

#define EDGE_S(s)  ((s) != NULL ? (s) : "")


/* Copies src into dst[dstsz]; MALL_ERR when it does not fit. */
static int
edge_copy(char *dst, size_t dstsz, const char *src)
{
    size_t  len;

    len = strlen(EDGE_S(src));
    if (len >= dstsz) {
        return MALL_ERR;
    }
    memcpy(dst, EDGE_S(src), len + 1);
    return MALL_OK;
}


int
mall_edge_check(const mall_conf_t *conf, const mall_edge_input_t *in,
    time_t now, mall_identity_t *ident, mall_err_t *err)
{
    const mall_edge_key_t  *key;
    mall_edge_fields_t      f;
    char                    body_hex[MALL_SHA256_HEX_LEN];
    long long               ts;

    memset(ident, 0, sizeof(*ident));

    if (in->signature == NULL || in->kid == NULL || in->ts == NULL) {
        return mall_err_set(err, 401, "edge signature headers missing");
    }

    if (mall_parse_int(in->ts, 0, 1LL << 40, &ts) != MALL_OK) {
        return mall_err_set(err, 401, "bad edge timestamp");
    }
    if (ts > (long long) now + conf->edge_clock_skew
        || ts < (long long) now - conf->edge_clock_skew)
    {
        return mall_err_set(err, 401, "edge timestamp outside %ds",
                            conf->edge_clock_skew);
    }

    key = mall_conf_edge_key(conf, in->kid, strlen(in->kid));
    if (key == NULL) {
        return mall_err_set(err, 401, "unknown edge kid");
    }

    mall_sha256_hex(in->body != NULL ? (const void *) in->body
                                     : (const void *) "",
                    in->body_len, body_hex);

    f.method = EDGE_S(in->method);
    f.method_len = strlen(f.method);
    f.uri = EDGE_S(in->uri);
    f.uri_len = strlen(f.uri);
    f.request_id = EDGE_S(in->request_id);
    f.request_id_len = strlen(f.request_id);
    f.client_ip = EDGE_S(in->client_ip);
    f.client_ip_len = strlen(f.client_ip);
    f.user = EDGE_S(in->user);
    f.user_len = strlen(f.user);
    f.role = EDGE_S(in->role);
    f.role_len = strlen(f.role);
    f.token_id = EDGE_S(in->token_id);
    f.token_id_len = strlen(f.token_id);
    f.token_exp = EDGE_S(in->token_exp);
    f.token_exp_len = strlen(f.token_exp);
    f.ts = in->ts;
    f.ts_len = strlen(in->ts);
    f.idem_key = EDGE_S(in->idem_key);
    f.idem_key_len = strlen(f.idem_key);
    f.body_sha256_hex = body_hex;
    f.risk = EDGE_S(in->risk);
    f.risk_len = strlen(f.risk);

    if (!mall_edge_verify(key->key, key->key_len, &f, in->signature,
                          strlen(in->signature)))
    {
        return mall_err_set(err, 401, "edge signature mismatch (kid %s)",
                            key->kid);
    }

    if (edge_copy(ident->user, sizeof(ident->user), in->user) != MALL_OK
        || edge_copy(ident->role, sizeof(ident->role), in->role) != MALL_OK
        || edge_copy(ident->token_id, sizeof(ident->token_id), in->token_id)
           != MALL_OK
        || edge_copy(ident->token_exp, sizeof(ident->token_exp),
                     in->token_exp) != MALL_OK
        || edge_copy(ident->client_ip, sizeof(ident->client_ip),
                     in->client_ip) != MALL_OK
        || edge_copy(ident->risk, sizeof(ident->risk), in->risk) != MALL_OK)
    {
        memset(ident, 0, sizeof(*ident));
        return mall_err_set(err, 401, "edge identity field too long");
    }

    ident->verified = 1;
    return MALL_OK;
}
