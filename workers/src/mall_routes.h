/*
 * The worker's route table, assembled from the per-feature tables. To add
 * an endpoint: write the handler in its own file, export a table ending in
 * { NULL }, and list the table in mall_routes.c.
 */
#ifndef MALL_ROUTES_H
#define MALL_ROUTES_H

#include "mall_router.h"

extern const mall_route_t  mall_health_routes[];
extern const mall_route_t  mall_catalog_routes[];

/*
 * Builds (once) and returns the flat table of all routes; *n is set to its
 * length. MALL_ERR-free: returns NULL only when memory runs out.
 */
const mall_route_t *mall_routes_all(size_t *n);

#endif
