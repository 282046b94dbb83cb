/*
 * The master process (nginx master model): binds the listen socket and
 * the admin listener (or takes them over from an upgrade), maps the
 * metrics region (mall_metrics.h), forks the worker children, restarts
 * crashed ones with backoff, and acts on the flags its signal handlers
 * set: HUP reload, USR1 reopen the log files (its own, then each child's),
 * USR2 binary upgrade (mall_upgrade.h), TERM/INT/QUIT graceful stop with
 * a deadline, CHLD reap. The master never talks to Redis.
 */
#ifndef MALL_PROC_H
#define MALL_PROC_H

#include "mall_conf.h"

/*
 * Runs the master with the already validated conf (taken over: the master
 * may replace and wipe it on reload) read from conf_path. Returns the exit
 * code of the master process.
 */
int mall_master_run(const char *conf_path, mall_conf_t *conf);

/*
 * Creates a non-blocking, close-on-exec TCP socket listening on host:port.
 * Returns the fd, or -1 with err filled.
 */
int mall_proc_listen(const char *host, int port, int backlog,
    mall_err_t *err);

#endif
