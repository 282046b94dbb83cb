/*
 * Outbound HTTP(S) for the workers (WeChat login, WeChat Pay): libcurl's
 * multi interface driven by the process's libevent loop. A fiber calls
 * mall_http_fetch, which adds the transfer to the multi handle and parks;
 * the loop drives every transfer's sockets and timers and wakes the fiber
 * when its answer (or its failure) is complete. Connections to a host are
 * kept alive and reused across requests by the multi handle. Name
 * resolution is libcurl's asynchronous resolver. Outside a worker process
 * (no mall_http_client_init) the same call runs blocking, for tools.
 */
#ifndef MALL_HTTP_CLIENT_H
#define MALL_HTTP_CLIENT_H

#include <stddef.h>

#include "mall_common.h"

struct event_base;

typedef struct {
    const char          *method;           /* "GET", "POST", ... */
    const char          *url;
    const char *const   *headers;          /* "Name: value", NULL-ended */
    const char          *body;             /* NULL: no body */
    size_t               body_len;
    long                 timeout_ms;       /* whole exchange */
    long                 connect_timeout_ms;
    size_t               max_body;         /* answer cap (bytes) */
} mall_http_request_t;

typedef struct {
    long     status;                       /* HTTP status */
    char    *body;                         /* NUL-terminated, malloc'd */
    size_t   body_len;
    char    *headers;                      /* raw header block, malloc'd */
    size_t   headers_len;
} mall_http_response_t;

/* Binds the client to base. MALL_OK / MALL_ERR. */
int mall_http_client_init(struct event_base *base);

/* Aborts transfers in flight and frees the multi handle. */
void mall_http_client_shutdown(void);

/*
 * Performs one exchange. MALL_OK when an HTTP answer arrived (any status;
 * resp filled, release with mall_http_response_free); MALL_ERR on a
 * network failure, timeout or an answer over max_body (err says which).
 * Must run on a fiber once the client is bound to a loop.
 */
int mall_http_fetch(const mall_http_request_t *req,
    mall_http_response_t *resp, mall_err_t *err);

void mall_http_response_free(mall_http_response_t *resp);

/*
 * The value of response header name (case-insensitive, last one wins),
 * copied NUL-terminated into out; MALL_OK, or MALL_ERR when absent or
 * longer than outsz - 1.
 */
int mall_http_response_header(const mall_http_response_t *resp,
    const char *name, char *out, size_t outsz);

#endif
