/*
 * Routing table: (method, path pattern, handler, flags). A pattern is a
 * path whose segments are literals or "{name}" (one non-empty segment).
 * Features add routes by exporting a table (see mall_routes.c); the server
 * never changes for a new endpoint.
 */
#ifndef MALL_ROUTER_H
#define MALL_ROUTER_H

#include <stddef.h>

#include "mall_common.h"

struct mall_ctx_s;

/*
 * A handler sends exactly one reply through the mall_reply_* helpers and
 * returns MALL_OK; MALL_RETRY means "storage unavailable" (the server
 * answers 503) and MALL_ERR without a reply means 500.
 */
typedef int (*mall_handler_pt)(struct mall_ctx_s *ctx);

/* route flags */
#define MALL_ROUTE_NO_EDGE_SIG  0x01   /* served without an edge signature */
#define MALL_ROUTE_FROZEN_OWN   0x02   /* checks a frozen account itself */
#define MALL_ROUTE_ORDER_CREATE 0x04   /* outcomes counted as orders
                                          (mall_metrics.h) */

typedef struct {
    const char       *method;      /* "GET", "POST", ...; NULL ends a table */
    const char       *pattern;     /* "/api/v1/products/{id}" */
    mall_handler_pt   handler;
    unsigned          flags;
} mall_route_t;

#define MALL_ROUTE_MAX_PARAMS     4
#define MALL_ROUTE_PARAM_NAME     32
#define MALL_ROUTE_PARAM_VALUE    128

typedef struct {
    size_t  n;
    struct {
        char  name[MALL_ROUTE_PARAM_NAME];
        char  value[MALL_ROUTE_PARAM_VALUE];   /* raw segment bytes */
    } p[MALL_ROUTE_MAX_PARAMS];
} mall_route_params_t;

typedef enum {
    MALL_ROUTE_FOUND = 0,
    MALL_ROUTE_NOT_FOUND,
    MALL_ROUTE_METHOD_NOT_ALLOWED
} mall_route_rc_e;

/*
 * Finds the route for method + path (path without the query) among
 * routes[0..n). On FOUND sets *found and params. On METHOD_NOT_ALLOWED
 * writes the methods the path accepts, comma separated, into allow.
 * Literal segments win over "{name}" segments only by table order: list
 * the more specific pattern first.
 */
mall_route_rc_e mall_router_match(const mall_route_t *routes, size_t n,
    const char *method, const char *path, mall_route_params_t *params,
    const mall_route_t **found, char *allow, size_t allowsz);

/* Value of a path parameter, or NULL. */
const char *mall_route_param(const mall_route_params_t *params,
    const char *name);

#endif
