/*
 * Edge trust: checks the edge's signature over the request (lib/
 * mall_edge_sig.h) and, only when it is valid, copies the identity the
 * edge asserted. Pure: the server passes header values in, no I/O here.
 */
#ifndef MALL_EDGE_H
#define MALL_EDGE_H

#include <stddef.h>
#include <time.h>

#include "mall_common.h"
#include "mall_conf.h"

typedef struct {
    int   verified;          /* 1 only after mall_edge_check() succeeded */
    char  user[65];          /* "" when anonymous */
    char  role[33];
    char  token_id[65];
    char  token_exp[24];     /* decimal unix seconds or "" */
    char  client_ip[64];
    char  risk[128];         /* X-Mall-Risk "<score>;<reasons>" or "" */
} mall_identity_t;

/* Raw header values as received; NULL means the header is absent. */
typedef struct {
    const char           *method;
    const char           *uri;            /* raw request target */
    const char           *request_id;
    const char           *client_ip;
    const char           *user;
    const char           *role;
    const char           *token_id;
    const char           *token_exp;
    const char           *ts;
    const char           *idem_key;       /* Idempotency-Key */
    const char           *kid;
    const char           *signature;
    const char           *risk;           /* X-Mall-Risk, signed if set */
    const unsigned char  *body;
    size_t                body_len;
} mall_edge_input_t;

/*
 * Verifies in against the configured keys and clock skew at time now.
 * MALL_OK fills ident (verified = 1); MALL_ERR leaves ident zeroed and says
 * why in err (for the log only: clients get one generic message).
 */
int mall_edge_check(const mall_conf_t *conf, const mall_edge_input_t *in,
    time_t now, mall_identity_t *ident, mall_err_t *err);

#endif
