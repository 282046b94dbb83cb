/*
 * The HTTP side of a worker process: one libevent loop carrying the evhttp
 * server on the listen socket the master bound, the async Redis client
 * (mall_redis.h), the outbound HTTP client (mall_http_client.h) and the
 * background jobs. Each request runs on its own fiber (mall_fiber.h), so
 * the process serves up to max_inflight requests at once; beyond that it
 * sheds load with 503 UNAVAILABLE + Retry-After at once. Runs until a
 * stop signal, then drains.
 */
#ifndef MALL_SERVER_H
#define MALL_SERVER_H

#include "mall_conf.h"

/*
 * Serves on listen_fd (and the admin listener on admin_fd, -1: none)
 * until SIGTERM/SIGINT/SIGQUIT (graceful: stop accepting, finish in-flight
 * requests, exit); SIGUSR1 reopens the log file. Returns the process exit
 * code (0, or a sysexits.h code).
 */
int mall_server_run(const mall_conf_t *conf, int listen_fd, int admin_fd);

/* 1 once this process is stopping: every answer then closes its
 * connection (mall_reply.c adds Connection: close). */
int mall_server_stopping(void);

#endif
