/*
 * The worker admin listener (loopback, MALL_WORKER_ADMIN_PORT): GET
 * /metrics (Prometheus text, mall_metrics.h) and GET /status (JSON: the
 * master, its config, the children, Redis, the delay-queue lag). The
 * master binds it next to the service socket; every child accepts on it
 * with an evhttp of its own on its event loop, so whichever child takes
 * a scrape reads the same shared counters. No edge signature: it never
 * carries edge traffic and should stay on loopback.
 */
#ifndef MALL_ADMIN_H
#define MALL_ADMIN_H

#include <stddef.h>

#include "mall_redis.h"
#include "mall_router.h"

struct event_base;

typedef struct mall_admin_s  mall_admin_t;

/*
 * Starts accepting on fd (the admin socket the master bound). idle(arg)
 * runs whenever an admin request ends (the server's drain check). NULL
 * on failure (logged).
 */
mall_admin_t *mall_admin_start(struct event_base *base, int fd,
    mall_redis_t *redis, const mall_route_t *routes, size_t nroutes,
    void (*idle)(void *arg), void *arg);

/* Stops accepting (graceful stop); requests in flight finish. */
void mall_admin_close(mall_admin_t *a);

/* Admin requests in flight. */
int mall_admin_busy(const mall_admin_t *a);

void mall_admin_free(mall_admin_t *a);

#endif
