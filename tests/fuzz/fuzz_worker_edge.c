/*
 * workers/src/core/mall_edge.c: mall_edge_check, the workers' check of
 * the edge signature over a request's headers and body (header values
 * arrive as evhttp's C strings, absent ones as NULL). Pure: no server.
 *
 * Input: a flags byte, then twelve '\0'-separated header values (method,
 * uri, request id, client ip, user, role, token id, token exp, ts, kid,
 * signature, Idempotency-Key; an empty key is an absent header) and the
 * body. Flag bits make a header absent; bit 7 replaces
 * the signature with the one the edge would have made, so the fuzzer also
 * reaches the identity copy behind a valid signature. Oracles: a check
 * passes only with that signature, a known kid and a timestamp within the
 * skew, and an identity is NUL-terminated in each of its fields.
 */
#include "fuzz_common.h"
#include "fuzz_keys.h"
#include "mall_crypto.h"
#include "mall_edge.h"
#include "mall_edge_sig.h"
#include "mall_query.h"

#define NOW  1700000000

static mall_conf_t  conf;


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    mall_conf_init(&conf);
    strcpy(conf.edge_keys[0].kid, "e1");
    memcpy(conf.edge_keys[0].key, test_only_edge_key,
           sizeof(test_only_edge_key) - 1);
    conf.edge_keys[0].key_len = sizeof(test_only_edge_key) - 1;
    conf.n_edge_keys = 1;
    return 0;
}


#define S(s)  ((s) != NULL ? (s) : "")

/* The edge's signature over in (lib/mall_edge_sig.h); 0 or -1. */
static int
edge_sig(const mall_edge_input_t *in, char sig[MALL_EDGE_SIG_LEN + 1])
{
    char                hex[MALL_SHA256_HEX_LEN];
    mall_edge_fields_t  f;

    mall_sha256_hex(in->body != NULL ? (const void *) in->body
                                     : (const void *) "",
                    in->body_len, hex);
    memset(&f, 0, sizeof(f));
    f.method = S(in->method);            f.method_len = strlen(f.method);
    f.uri = S(in->uri);                  f.uri_len = strlen(f.uri);
    f.request_id = S(in->request_id);
    f.request_id_len = strlen(f.request_id);
    f.client_ip = S(in->client_ip);
    f.client_ip_len = strlen(f.client_ip);
    f.user = S(in->user);                f.user_len = strlen(f.user);
    f.role = S(in->role);                f.role_len = strlen(f.role);
    f.token_id = S(in->token_id);        f.token_id_len = strlen(f.token_id);
    f.token_exp = S(in->token_exp);
    f.token_exp_len = strlen(f.token_exp);
    f.ts = S(in->ts);                    f.ts_len = strlen(f.ts);
    f.idem_key = S(in->idem_key);
    f.idem_key_len = strlen(f.idem_key);
    f.body_sha256_hex = hex;
    if (mall_edge_sign((const uint8_t *) test_only_edge_key,
                       sizeof(test_only_edge_key) - 1, &f, sig) != 0)
    {
        return -1;
    }
    sig[MALL_EDGE_SIG_LEN] = '\0';
    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                 i, rc;
    char               *h[12], good[MALL_EDGE_SIG_LEN + 1];
    uint8_t             flags;
    fz_in_t             in;
    mall_err_t          err;
    long long           ts;
    mall_identity_t     id;
    mall_edge_input_t   e;

    in.p = data;
    in.n = size;
    flags = fz_byte(&in);
    for (i = 0; i < 12; i++) {
        h[i] = fz_str_field(&in, '\0');
    }

    memset(&e, 0, sizeof(e));
    e.method = h[0];
    e.uri = h[1];
    e.request_id = (flags & 1) ? NULL : h[2];
    e.client_ip = h[3];
    e.user = (flags & 2) ? NULL : h[4];
    e.role = (flags & 2) ? NULL : h[5];
    e.token_id = (flags & 4) ? NULL : h[6];
    e.token_exp = (flags & 4) ? NULL : h[7];
    e.ts = (flags & 8) ? NULL : h[8];
    e.kid = (flags & 16) ? "e1" : h[9];
    e.signature = (flags & 32) ? NULL : h[10];
    e.idem_key = h[11][0] != '\0' ? h[11] : NULL;
    e.body = (flags & 64) ? NULL : in.p;
    e.body_len = (flags & 64) ? 0 : in.n;

    if ((flags & 128) && edge_sig(&e, good) == 0 && e.signature != NULL) {
        e.signature = good;
    }

    rc = mall_edge_check(&conf, &e, NOW, &id, &err);
    if (rc == MALL_OK) {
        FZ_ASSERT(id.verified == 1);
        FZ_ASSERT(e.ts != NULL && e.kid != NULL && strcmp(e.kid, "e1") == 0);
        FZ_ASSERT(mall_parse_int(e.ts, 0, 1LL << 40, &ts) == MALL_OK
                  && ts >= NOW - conf.edge_clock_skew
                  && ts <= NOW + conf.edge_clock_skew);
        FZ_ASSERT(edge_sig(&e, good) == 0
                  && strcmp(good, e.signature) == 0);
        FZ_ASSERT(memchr(id.user, '\0', sizeof(id.user)) != NULL);
        FZ_ASSERT(memchr(id.role, '\0', sizeof(id.role)) != NULL);
        FZ_ASSERT(memchr(id.token_id, '\0', sizeof(id.token_id)) != NULL);
        FZ_ASSERT(memchr(id.token_exp, '\0', sizeof(id.token_exp)));
        FZ_ASSERT(memchr(id.client_ip, '\0', sizeof(id.client_ip)));
    } else {
        FZ_ASSERT(id.verified == 0 && err.code == 401);
    }

    for (i = 0; i < 12; i++) {
        free(h[i]);
    }
    return 0;
}
