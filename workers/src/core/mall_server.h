/*
 * The HTTP side of a worker child: libevent evhttp on the listen socket the
 * master bound, one blocking Redis connection, the route table, edge
 * trust, the access log. Runs until a stop signal, then drains.
 */
#ifndef MALL_SERVER_H
#define MALL_SERVER_H

#include "mall_conf.h"

/*
 * Serves on listen_fd until SIGTERM/SIGINT/SIGQUIT (graceful: stop
 * accepting, finish in-flight requests, exit). Returns the process exit
 * code (0, or a sysexits.h code).
 */
int mall_server_run(const mall_conf_t *conf, int listen_fd);

#endif
