/*
 * The signed headers in one pass (see mall_edge_headers.h). A request
 * from the edge carries some fifteen headers; looking each of the eleven
 * up on its own compared most names against most headers, seven shared
 * "X-Mall-" characters at a time. Here a header is compared only with the
 * names of its own length.
 */
#include <stddef.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include "mall_edge_headers.h"

typedef struct {
    const char  *name;
    size_t       len;
    size_t       field;       /* offset of the const char * in the input */
} edge_header_t;

#define EDGE_HEADER(name, member) \
    { name, sizeof(name) - 1, offsetof(mall_edge_input_t, member) }

static const edge_header_t  edge_headers[] = {
    EDGE_HEADER("X-Request-Id", request_id),
    EDGE_HEADER("X-Mall-Client-Ip", client_ip),
    EDGE_HEADER("X-Mall-User", user),
    EDGE_HEADER("X-Mall-Role", role),
    EDGE_HEADER("X-Mall-Token-Id", token_id),
    EDGE_HEADER("X-Mall-Token-Exp", token_exp),
    EDGE_HEADER("X-Mall-Edge-Ts", ts),
    /* the handlers read this same (first) one: it is signed */
    EDGE_HEADER("Idempotency-Key", idem_key),
    EDGE_HEADER("X-Mall-Edge-Kid", kid),
    EDGE_HEADER("X-Mall-Edge-Signature", signature),
    EDGE_HEADER("X-Mall-Risk", risk),
};

#define EDGE_NHEADERS  (sizeof(edge_headers) / sizeof(edge_headers[0]))


static const char **
edge_field(mall_edge_input_t *e, const edge_header_t *h)
{
    return (const char **) (void *) ((char *) e + h->field);
}


void
mall_edge_headers(const struct evkeyvalq *in, mall_edge_input_t *e)
{
    const struct evkeyval  *kv;
    const char            **slot;
    size_t                  i, len;

    for (i = 0; i < EDGE_NHEADERS; i++) {
        *edge_field(e, &edge_headers[i]) = NULL;
    }
    TAILQ_FOREACH(kv, in, next) {
        len = strlen(kv->key);
        for (i = 0; i < EDGE_NHEADERS; i++) {
            if (edge_headers[i].len != len
                || strcasecmp(kv->key, edge_headers[i].name) != 0)
            {
                continue;
            }
            slot = edge_field(e, &edge_headers[i]);
            if (*slot == NULL) {
                *slot = kv->value;
            }
            break;
        }
    }
}
