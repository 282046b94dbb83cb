/*
 * Binary upgrade without dropping a request (SIGUSR2 to the master).
 *
 * The old master forks and execs the binary found at the path it was
 * started from (a newly installed file) with the same arguments. The
 * listening sockets stay open across the exec: their fd numbers go in
 * MALL_INHERIT_FDS ("5,6"), and the write end of a pipe in
 * MALL_UPGRADE_READY_FD. The new master takes the inherited sockets that
 * match its config's listen / admin_listen addresses (so the kernel's
 * accept queue is never closed), starts its children and, once each of
 * them serves, writes its pid file and one byte on the pipe. The old
 * master then stops its children gracefully (in-flight requests finish)
 * and exits. If the new master exits, closes the pipe or does not report
 * within upgrade_timeout seconds, it is killed and the old one keeps
 * serving as if nothing happened.
 *
 * Both generations accept on the same sockets meanwhile, and the
 * background jobs (order expiry, payments, ...) are safe in any number of
 * processes at once: Redis claims decide who does each item.
 */
#ifndef MALL_UPGRADE_H
#define MALL_UPGRADE_H

#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

/* main(): the command line, for the exec, and the binary's path. */
void mall_upgrade_set_argv(int argc, char **argv);
const char *mall_upgrade_binary(void);

/* ---- the new master ---------------------------------------------------- */

/* Reads and clears MALL_INHERIT_FDS / MALL_UPGRADE_READY_FD. */
void mall_upgrade_inherit_init(void);

/* An inherited listening socket bound to host:port (taken), or -1. */
int mall_upgrade_take(const char *host, int port);

/* Closes the inherited sockets nothing took (the config changed). */
void mall_upgrade_close_untaken(void);

/* 1 when this master was started by an upgrade and has not reported. */
int mall_upgrade_must_report(void);

/* Tells the old master: this one serves. */
void mall_upgrade_report_ready(void);

/* In a worker child after fork: drop the upgrade's pipe ends. */
void mall_upgrade_child_cleanup(void);

/* ---- the old master ---------------------------------------------------- */

typedef enum {
    MALL_UPGRADE_IDLE = 0,       /* nothing going on */
    MALL_UPGRADE_WAITING,        /* the new master has not reported yet */
    MALL_UPGRADE_DONE,           /* it serves: time to hand over */
    MALL_UPGRADE_FAILED          /* it failed: killed, keep serving */
} mall_upgrade_state_e;

/*
 * Forks and execs the new binary with fds[0..nfds) inherited; mask is
 * the signal mask it should start with. MALL_OK or MALL_ERR (logged).
 */
int mall_upgrade_start(const int *fds, int nfds, int timeout_s,
    const sigset_t *mask);

/* The pipe's read end while waiting (for ppoll), else -1. */
int mall_upgrade_fd(void);

/* Ms until the deadline while waiting, else -1. */
int64_t mall_upgrade_wait_ms(int64_t now);

/*
 * Reads the pipe (when readable) and enforces the deadline. Returns the
 * state; DONE and FAILED are returned once, then the state is IDLE.
 */
mall_upgrade_state_e mall_upgrade_check(int64_t now, int readable);

/* Stopping meanwhile: a new master that has not reported is killed. */
void mall_upgrade_abort(void);

/* SIGCHLD: 1 when pid is the new master (reaped here), else 0. */
int mall_upgrade_reaped(pid_t pid, int status);

#endif
