/*
 * Binary upgrade (see mall_upgrade.h).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mall_log.h"
#include "mall_upgrade.h"

#define UPGRADE_MAX_FDS  8

static char   **up_argv;
static char     up_binary[PATH_MAX];

/* new master: what the old one passed */
static int      inherited[UPGRADE_MAX_FDS];
static int      ninherited;
static int      ready_fd = -1;

/* old master: the upgrade in progress */
static pid_t    new_pid;
static int      pipe_rd = -1;
static int64_t  deadline_ms;
static int      new_ready;
static mall_upgrade_state_e  outcome;


void
mall_upgrade_set_argv(int argc, char **argv)
{
    char     cwd[PATH_MAX];
    ssize_t  n;

    (void) argc;
    up_argv = argv;
    /* the path as started (not resolved: a symlink switched to a new
     * release must be followed at the upgrade, not now) */
    if (strchr(argv[0], '/') != NULL) {
        up_binary[0] = '\0';
        if (argv[0][0] != '/' && getcwd(cwd, sizeof(cwd)) != NULL
            && strlen(cwd) + strlen(argv[0]) + 2 <= sizeof(up_binary))
        {
            strcat(strcat(strcpy(up_binary, cwd), "/"), argv[0]);
        }
        if (up_binary[0] == '\0') {
            snprintf(up_binary, sizeof(up_binary), "%s", argv[0]);
        }
        return;
    }
    n = readlink("/proc/self/exe", up_binary, sizeof(up_binary) - 1);
    up_binary[n > 0 ? n : 0] = '\0';
}


const char *
mall_upgrade_binary(void)
{
    return up_binary;
}


/* ---- the new master ---------------------------------------------------- */

void
mall_upgrade_inherit_init(void)
{
    const char  *v;
    char        *end;
    long         fd;

    v = getenv("MALL_INHERIT_FDS");
    while (v != NULL && *v != '\0' && ninherited < UPGRADE_MAX_FDS) {
        fd = strtol(v, &end, 10);
        if (end == v || fd < 3 || fd > 65535) {
            break;
        }
        /* close-on-exec again: the next upgrade passes them explicitly */
        if (fcntl((int) fd, F_SETFD, FD_CLOEXEC) == 0) {
            inherited[ninherited++] = (int) fd;
        }
        v = *end == ',' ? end + 1 : end;
    }
    v = getenv("MALL_UPGRADE_READY_FD");
    if (v != NULL) {
        fd = strtol(v, &end, 10);
        if (end != v && fd >= 3 && fcntl((int) fd, F_SETFD, FD_CLOEXEC) == 0)
        {
            ready_fd = (int) fd;
        }
    }
    unsetenv("MALL_INHERIT_FDS");
    unsetenv("MALL_UPGRADE_READY_FD");
}


/* 1 when fd is a listening TCP socket bound to host:port. */
static int
upgrade_fd_matches(int fd, const char *host, int port)
{
    struct sockaddr_storage  ss;
    struct addrinfo          hints, *res, *ai;
    socklen_t                len;
    char                     portstr[8];
    int                      listening, match;

    len = sizeof(ss);
    listening = 0;
    if (getsockname(fd, (struct sockaddr *) &ss, &len) != 0) {
        return 0;
    }
    len = sizeof(listening);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0
        || !listening)
    {
        return 0;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = ss.ss_family;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(portstr, sizeof(portstr), "%d", port);
    if (getaddrinfo(host, portstr, &hints, &res) != 0) {
        return 0;
    }
    match = 0;
    for (ai = res; ai != NULL && !match; ai = ai->ai_next) {
        if (ss.ss_family == AF_INET && ai->ai_family == AF_INET) {
            const struct sockaddr_in  *a = (void *) &ss, *b = (void *) ai->ai_addr;
            match = a->sin_port == b->sin_port
                    && a->sin_addr.s_addr == b->sin_addr.s_addr;
        } else if (ss.ss_family == AF_INET6 && ai->ai_family == AF_INET6) {
            const struct sockaddr_in6  *a = (void *) &ss, *b = (void *) ai->ai_addr;
            match = a->sin6_port == b->sin6_port
                    && memcmp(&a->sin6_addr, &b->sin6_addr,
                              sizeof(a->sin6_addr)) == 0;
        }
    }
    freeaddrinfo(res);
    return match;
}


int
mall_upgrade_take(const char *host, int port)
{
    int  i, fd;

    for (i = 0; i < ninherited; i++) {
        if (inherited[i] != -1 && upgrade_fd_matches(inherited[i], host, port))
        {
            fd = inherited[i];
            inherited[i] = -1;
            fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
            return fd;
        }
    }
    return -1;
}


void
mall_upgrade_close_untaken(void)
{
    int  i;

    for (i = 0; i < ninherited; i++) {
        if (inherited[i] != -1) {
            close(inherited[i]);
            inherited[i] = -1;
        }
    }
    ninherited = 0;
}


int
mall_upgrade_must_report(void)
{
    return ready_fd != -1;
}


void
mall_upgrade_report_ready(void)
{
    ssize_t  rc;

    if (ready_fd == -1) {
        return;
    }
    rc = write(ready_fd, "R", 1);
    (void) rc;                      /* the old master is gone: nobody asks */
    close(ready_fd);
    ready_fd = -1;
}


void
mall_upgrade_child_cleanup(void)
{
    if (ready_fd != -1) {
        close(ready_fd);
        ready_fd = -1;
    }
    if (pipe_rd != -1) {
        close(pipe_rd);
        pipe_rd = -1;
    }
}


/* ---- the old master ---------------------------------------------------- */

int
mall_upgrade_start(const int *fds, int nfds, int timeout_s,
    const sigset_t *mask)
{
    char   list[128], rfd[16];
    int    p[2], i, n;
    pid_t  pid;

    if (new_pid != 0) {
        mall_log(MALL_LOG_WARN, "master", "upgrade already in progress "
                 "(new master %d)", (int) new_pid);
        return MALL_ERR;
    }
    if (access(up_binary, X_OK) != 0) {
        mall_log(MALL_LOG_ERROR, "master", "upgrade: \"%s\": %s", up_binary,
                 strerror(errno));
        return MALL_ERR;
    }
    if (pipe2(p, O_CLOEXEC) != 0) {
        mall_log(MALL_LOG_ERROR, "master", "upgrade: pipe: %s",
                 strerror(errno));
        return MALL_ERR;
    }

    n = 0;
    list[0] = '\0';
    for (i = 0; i < nfds; i++) {
        if (fds[i] != -1) {
            n += snprintf(list + n, sizeof(list) - (size_t) n, "%s%d",
                          n > 0 ? "," : "", fds[i]);
        }
    }
    snprintf(rfd, sizeof(rfd), "%d", p[1]);

    pid = fork();
    if (pid == -1) {
        mall_log(MALL_LOG_ERROR, "master", "upgrade: fork: %s",
                 strerror(errno));
        close(p[0]);
        close(p[1]);
        return MALL_ERR;
    }

    if (pid == 0) {
        /* the exec keeps these open; everything else closes on exec */
        for (i = 0; i < nfds; i++) {
            if (fds[i] != -1) {
                fcntl(fds[i], F_SETFD, 0);
            }
        }
        fcntl(p[1], F_SETFD, 0);
        if (mall_log_early_fd() != -1) {
            /* its output until it opens the log: where ours went (the
             * service's own, e.g. workers.out), not into the JSON log */
            (void) dup2(mall_log_early_fd(), STDERR_FILENO);
        }
        setenv("MALL_INHERIT_FDS", list, 1);
        setenv("MALL_UPGRADE_READY_FD", rfd, 1);
        sigprocmask(SIG_SETMASK, mask, NULL);
        execv(up_binary, up_argv);
        mall_log(MALL_LOG_ERROR, "master", "upgrade: exec \"%s\": %s",
                 up_binary, strerror(errno));
        _exit(127);
    }

    close(p[1]);
    pipe_rd = p[0];
    new_pid = pid;
    new_ready = 0;
    outcome = MALL_UPGRADE_WAITING;
    deadline_ms = mall_mono_ms() + (int64_t) timeout_s * 1000;
    mall_log(MALL_LOG_NOTICE, "master", "upgrade: started \"%s\" as new "
             "master %d, waiting up to %d s for it to serve", up_binary,
             (int) pid, timeout_s);
    return MALL_OK;
}


int
mall_upgrade_fd(void)
{
    return outcome == MALL_UPGRADE_WAITING ? pipe_rd : -1;
}


int64_t
mall_upgrade_wait_ms(int64_t now)
{
    if (outcome != MALL_UPGRADE_WAITING) {
        return -1;
    }
    return deadline_ms > now ? deadline_ms - now : 0;
}


/* The new master failed: kill it (its children follow: PDEATHSIG). */
static void
upgrade_fail(const char *why)
{
    mall_log(MALL_LOG_ERROR, "master", "upgrade failed (%s): new master %d "
             "killed, the running one keeps serving", why, (int) new_pid);
    if (new_pid > 0) {
        kill(new_pid, SIGKILL);
    }
    if (pipe_rd != -1) {
        close(pipe_rd);
        pipe_rd = -1;
    }
    outcome = MALL_UPGRADE_FAILED;
}


mall_upgrade_state_e
mall_upgrade_check(int64_t now, int readable)
{
    mall_upgrade_state_e  st;
    char                  c;
    ssize_t               n;

    if (outcome == MALL_UPGRADE_WAITING && readable && pipe_rd != -1) {
        n = read(pipe_rd, &c, 1);
        if (n == 1 && c == 'R') {
            new_ready = 1;
            close(pipe_rd);
            pipe_rd = -1;
            outcome = MALL_UPGRADE_DONE;
            mall_log(MALL_LOG_NOTICE, "master", "upgrade: new master %d "
                     "serves; handing over", (int) new_pid);
        } else if (n == 0 || (n == -1 && errno != EINTR && errno != EAGAIN)) {
            upgrade_fail("it closed the pipe without serving");
        }
    }
    if (outcome == MALL_UPGRADE_WAITING && now >= deadline_ms) {
        upgrade_fail("not serving within upgrade_timeout");
    }
    st = outcome;
    if (st == MALL_UPGRADE_DONE || st == MALL_UPGRADE_FAILED) {
        outcome = MALL_UPGRADE_IDLE;
    }
    return st;
}


void
mall_upgrade_abort(void)
{
    if (outcome == MALL_UPGRADE_WAITING) {
        upgrade_fail("this master is stopping");
        outcome = MALL_UPGRADE_IDLE;
    }
}


int
mall_upgrade_reaped(pid_t pid, int status)
{
    if (new_pid == 0 || pid != new_pid) {
        return 0;
    }
    if (outcome == MALL_UPGRADE_WAITING) {
        mall_log(MALL_LOG_ERROR, "master", "upgrade: new master %d %s %d",
                 (int) pid, WIFSIGNALED(status) ? "killed by signal"
                 : "exited with code", WIFSIGNALED(status)
                 ? WTERMSIG(status) : WEXITSTATUS(status));
        upgrade_fail("the new master exited");
    }
    new_pid = 0;
    return 1;
}
