/*
 * Master process: prefork, respawn, signals, reload, binary upgrade (see
 * mall_proc.h, mall_upgrade.h).
 *
 * Signal handlers only set flags. The signals are blocked except while
 * the master sleeps in ppoll(), which unblocks them atomically, so a flag
 * is never set between the check and the sleep.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "mall_log.h"
#include "mall_metrics.h"
#include "mall_proc.h"
#include "mall_server.h"
#include "mall_upgrade.h"

#define PROC_MAX_CHILDREN     256
#define PROC_BACKOFF_MIN_MS   100
#define PROC_BACKOFF_MAX_MS   10000
#define PROC_STABLE_MS        10000    /* a child this old resets backoff */

typedef struct {
    pid_t     pid;
    int       slot;            /* index in the generation, for respawn */
    unsigned  generation;
    int       stopping;        /* asked to stop: never respawned */
    int64_t   kill_at_ms;      /* SIGKILL deadline when stopping, else 0 */
    int64_t   started_ms;
} proc_child_t;

typedef struct {
    int64_t   respawn_at_ms;   /* 0 = nothing pending */
    int       failures;        /* consecutive short-lived exits */
    int       disabled;        /* exited with EX_CONFIG: not restarted */
} proc_slot_t;

static volatile sig_atomic_t  sig_chld, sig_hup, sig_term, sig_quit,
                              sig_usr1, sig_usr2;

static proc_child_t   children[PROC_MAX_CHILDREN];
static proc_slot_t    slots[64];
static unsigned       generation;
static int            listen_fd = -1;
static int            admin_fd = -1;
static mall_conf_t   *cur_conf;


static void
proc_signal_handler(int sig)
{
    switch (sig) {
    case SIGCHLD: sig_chld = 1; break;
    case SIGHUP:  sig_hup = 1; break;
    case SIGQUIT: sig_quit = 1; break;
    case SIGUSR1: sig_usr1 = 1; break;
    case SIGUSR2: sig_usr2 = 1; break;
    default:      sig_term = 1; break;     /* SIGTERM, SIGINT */
    }
}


int
mall_proc_listen(const char *host, int port, int backlog, mall_err_t *err)
{
    struct addrinfo   hints, *res, *ai;
    char              portstr[8];
    int               fd, one, rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(portstr, sizeof(portstr), "%d", port);

    rc = getaddrinfo(host, portstr, &hints, &res);
    if (rc != 0) {
        mall_err_set(err, 0, "listen %s:%d: %s", host, port,
                     gai_strerror(rc));
        return -1;
    }

    fd = -1;
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family,
                    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd == -1) {
            continue;
        }
        one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0
            && listen(fd, backlog) == 0)
        {
            break;
        }
        mall_err_set(err, 0, "listen %s:%d: %s", host, port,
                     strerror(errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);

    if (fd == -1 && err != NULL && err->msg[0] == '\0') {
        mall_err_set(err, 0, "listen %s:%d: no usable address", host, port);
    }
    return fd;
}


static int
proc_write_pidfile(const char *path)
{
    FILE  *f;
    char   tmp[MALL_CONF_PATH_MAX + 8];

    if (path[0] == '\0') {
        return MALL_OK;
    }

    /* write then rename, so readers never see a half-written file */
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    f = fopen(tmp, "we");
    if (f == NULL) {
        mall_log(MALL_LOG_ERROR, "master", "pidfile \"%s\": %s", tmp,
                 strerror(errno));
        return MALL_ERR;
    }
    fprintf(f, "%d\n", (int) getpid());
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        mall_log(MALL_LOG_ERROR, "master", "pidfile \"%s\": %s", path,
                 strerror(errno));
        unlink(tmp);
        return MALL_ERR;
    }
    return MALL_OK;
}


static int
proc_count_children(void)
{
    int  i, n;

    n = 0;
    for (i = 0; i < PROC_MAX_CHILDREN; i++) {
        if (children[i].pid > 0) {
            n++;
        }
    }
    return n;
}


/* Forks the child for slot of the current generation. */
static void
proc_spawn(int slot, const sigset_t *child_mask)
{
    proc_child_t  *ch;
    pid_t          pid, master;
    int            i;

    ch = NULL;
    for (i = 0; i < PROC_MAX_CHILDREN; i++) {
        if (children[i].pid == 0) {
            ch = &children[i];
            break;
        }
    }
    if (ch == NULL) {
        mall_log(MALL_LOG_ERROR, "master", "child table full");
        slots[slot].respawn_at_ms = mall_mono_ms() + PROC_BACKOFF_MAX_MS;
        return;
    }

    master = getpid();
    pid = fork();

    if (pid == -1) {
        mall_log(MALL_LOG_ERROR, "master", "fork: %s", strerror(errno));
        slots[slot].respawn_at_ms = mall_mono_ms() + PROC_BACKOFF_MIN_MS;
        return;
    }

    if (pid == 0) {
        struct sigaction  sa;

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = SIG_DFL;
        sigaction(SIGCHLD, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGQUIT, &sa, NULL);
        sa.sa_handler = SIG_IGN;      /* until the loop watches them */
        sigaction(SIGUSR1, &sa, NULL);
        sigaction(SIGUSR2, &sa, NULL);

        /* stop gracefully if the master dies without telling us */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != master) {
            _exit(0);
        }
        sigprocmask(SIG_SETMASK, child_mask, NULL);
        mall_log_process();
        mall_metrics_child(i);
        mall_upgrade_child_cleanup();

        _exit(mall_server_run(cur_conf, listen_fd, admin_fd));
    }

    ch->pid = pid;
    ch->slot = slot;
    ch->generation = generation;
    ch->stopping = 0;
    ch->kill_at_ms = 0;
    ch->started_ms = mall_mono_ms();
    slots[slot].respawn_at_ms = 0;
    mall_metrics_slot_start(i, pid);

    mall_log(MALL_LOG_INFO, "master", "started worker %d (slot %d, "
             "generation %u)", (int) pid, slot, generation);
}


/* Asks every child (or only those of older generations) to stop. */
static void
proc_stop_children(int sig, int only_old, int64_t deadline_ms)
{
    int  i;

    for (i = 0; i < PROC_MAX_CHILDREN; i++) {
        if (children[i].pid <= 0
            || (only_old && children[i].generation == generation))
        {
            continue;
        }
        children[i].stopping = 1;
        if (children[i].kill_at_ms == 0
            || children[i].kill_at_ms > deadline_ms)
        {
            children[i].kill_at_ms = deadline_ms;
        }
        kill(children[i].pid, sig);
    }
}


/* Reaps exited children and schedules respawns for crashed ones. */
static void
proc_reap(int shutting_down)
{
    proc_child_t  *ch;
    proc_slot_t   *sl;
    pid_t          pid;
    int            status, i, code, delay;
    int64_t        lived;

    for ( ;; ) {
        pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0) {
            return;
        }

        if (mall_upgrade_reaped(pid, status)) {
            continue;                    /* the new master of an upgrade */
        }
        ch = NULL;
        for (i = 0; i < PROC_MAX_CHILDREN; i++) {
            if (children[i].pid == pid) {
                ch = &children[i];
                break;
            }
        }
        if (ch == NULL) {
            continue;
        }
        mall_metrics_slot_end(i);

        code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        if (WIFSIGNALED(status)) {
            mall_log(ch->stopping ? MALL_LOG_NOTICE : MALL_LOG_ERROR,
                     "master", "worker %d killed by signal %d", (int) pid,
                     WTERMSIG(status));
        } else {
            mall_log(ch->stopping ? MALL_LOG_INFO : MALL_LOG_ERROR,
                     "master", "worker %d exited with code %d", (int) pid,
                     code);
        }

        ch->pid = 0;
        if (ch->stopping || shutting_down || ch->generation != generation) {
            continue;
        }

        sl = &slots[ch->slot];
        if (code == EX_CONFIG) {
            sl->disabled = 1;
            mall_log(MALL_LOG_ERROR, "master", "slot %d exited with a "
                     "config error: not restarting it", ch->slot);
            continue;
        }

        lived = mall_mono_ms() - ch->started_ms;
        sl->failures = lived >= PROC_STABLE_MS ? 0 : sl->failures + 1;
        delay = PROC_BACKOFF_MIN_MS;
        for (i = 1; i < sl->failures && delay < PROC_BACKOFF_MAX_MS; i++) {
            delay *= 2;
        }
        if (delay > PROC_BACKOFF_MAX_MS) {
            delay = PROC_BACKOFF_MAX_MS;
        }
        sl->respawn_at_ms = mall_mono_ms() + delay;
        mall_log(MALL_LOG_NOTICE, "master", "restarting slot %d in %d ms",
                 ch->slot, delay);
    }
}


/*
 * SIGHUP: load and validate the new config; on success switch to it,
 * start a new generation and stop the old one gracefully. On failure the
 * running config stays.
 */
static void
proc_reload(const char *conf_path, const sigset_t *child_mask)
{
    static mall_conf_t   next;
    mall_conf_t          old;
    mall_err_t           err;
    int                  fd, afd, i, listen_changed, admin_changed;

    mall_log(MALL_LOG_NOTICE, "master", "reloading \"%s\"", conf_path);

    if (mall_conf_load(conf_path, &next, &err) != MALL_OK) {
        mall_log(MALL_LOG_ERROR, "master", "reload failed, keeping the "
                 "running config: %s", err.msg);
        return;
    }

    fd = afd = -1;
    listen_changed = strcmp(next.listen_host, cur_conf->listen_host) != 0
                     || next.listen_port != cur_conf->listen_port;
    if (listen_changed) {
        fd = mall_proc_listen(next.listen_host, next.listen_port,
                              next.backlog, &err);
        if (fd == -1) {
            mall_log(MALL_LOG_ERROR, "master", "reload failed, keeping the "
                     "running config: %s", err.msg);
            mall_conf_wipe(&next);
            return;
        }
    }

    admin_changed = strcmp(next.admin_host, cur_conf->admin_host) != 0
                    || next.admin_port != cur_conf->admin_port;
    if (admin_changed && next.admin_port != 0) {
        afd = mall_proc_listen(next.admin_host, next.admin_port, 64, &err);
        if (afd == -1) {
            mall_log(MALL_LOG_ERROR, "master", "reload failed, keeping the "
                     "running config: admin_listen %s", err.msg);
            if (fd != -1) {
                close(fd);
            }
            mall_conf_wipe(&next);
            return;
        }
    }

    /* reopened even when unchanged: a HUP after log rotation lands in
     * the new file */
    if (mall_log_open(next.error_log, &err) != MALL_OK) {
        mall_log(MALL_LOG_ERROR, "master", "reload failed, keeping the "
                 "running config: error_log %s", err.msg);
        if (fd != -1) {
            close(fd);
        }
        if (afd != -1) {
            close(afd);
        }
        mall_conf_wipe(&next);
        return;
    }

    old = *cur_conf;
    *cur_conf = next;
    mall_conf_wipe(&next);
    mall_log_level = cur_conf->log_level;

    if (listen_changed) {
        close(listen_fd);
        listen_fd = fd;
    }
    if (admin_changed) {
        if (admin_fd != -1) {
            close(admin_fd);
        }
        admin_fd = afd;
    }
    mall_metrics_config_loaded(conf_path);
    if (strcmp(old.pidfile, cur_conf->pidfile) != 0) {
        if (old.pidfile[0] != '\0') {
            unlink(old.pidfile);
        }
        proc_write_pidfile(cur_conf->pidfile);
    }

    generation++;
    memset(slots, 0, sizeof(slots));
    for (i = 0; i < cur_conf->workers; i++) {
        proc_spawn(i, child_mask);
    }

    /* old children drain with the old deadline */
    proc_stop_children(SIGQUIT, 1,
                       mall_mono_ms() + (int64_t) old.shutdown_timeout * 1000);
    mall_conf_wipe(&old);

    mall_log(MALL_LOG_NOTICE, "master", "reloaded: generation %u, %d "
             "worker(s)", generation, cur_conf->workers);
}


/* Milliseconds until the next timed action, at most 1000. */
static int64_t
proc_next_wakeup(int64_t now)
{
    int64_t  wait, t;
    int      i;

    wait = 1000;
    for (i = 0; i < cur_conf->workers; i++) {
        t = slots[i].respawn_at_ms;
        if (t != 0 && !slots[i].disabled && t - now < wait) {
            wait = t - now;
        }
    }
    for (i = 0; i < PROC_MAX_CHILDREN; i++) {
        t = children[i].kill_at_ms;
        if (children[i].pid > 0 && t != 0 && t - now < wait) {
            wait = t - now;
        }
    }
    return wait < 0 ? 0 : wait;
}


/* SIGKILLs stopping children whose deadline has passed. */
static void
proc_enforce_deadlines(int64_t now)
{
    int  i;

    for (i = 0; i < PROC_MAX_CHILDREN; i++) {
        if (children[i].pid > 0 && children[i].kill_at_ms != 0
            && now >= children[i].kill_at_ms)
        {
            mall_log(MALL_LOG_WARN, "master", "worker %d did not stop in "
                     "time: SIGKILL", (int) children[i].pid);
            kill(children[i].pid, SIGKILL);
            children[i].kill_at_ms = 0;
        }
    }
}


/* The listening sockets: inherited from an upgrade, else bound now. */
static int
proc_open_listeners(mall_conf_t *conf)
{
    mall_err_t  err;

    mall_upgrade_inherit_init();
    listen_fd = mall_upgrade_take(conf->listen_host, conf->listen_port);
    if (listen_fd == -1) {
        listen_fd = mall_proc_listen(conf->listen_host, conf->listen_port,
                                     conf->backlog, &err);
        if (listen_fd == -1) {
            mall_log(MALL_LOG_ERROR, "master", "%s", err.msg);
            return MALL_ERR;
        }
    }
    if (conf->admin_port != 0) {
        admin_fd = mall_upgrade_take(conf->admin_host, conf->admin_port);
        if (admin_fd == -1) {
            admin_fd = mall_proc_listen(conf->admin_host, conf->admin_port,
                                        64, &err);
            if (admin_fd == -1) {
                mall_log(MALL_LOG_ERROR, "master", "admin_listen %s",
                         err.msg);
                close(listen_fd);
                listen_fd = -1;
                return MALL_ERR;
            }
        }
    }
    mall_upgrade_close_untaken();
    return MALL_OK;
}


/* Unlinks the pid file only while it names this process. */
static void
proc_remove_pidfile(const char *path)
{
    FILE  *f;
    int    pid;

    if (path[0] == '\0') {
        return;
    }
    f = fopen(path, "re");
    if (f == NULL) {
        return;
    }
    pid = 0;
    if (fscanf(f, "%d", &pid) != 1) {
        pid = 0;
    }
    fclose(f);
    if (pid == (int) getpid()) {
        unlink(path);
    }
}


/* 1 once every child of the current generation has said it serves. */
static int
proc_generation_ready(void)
{
    int  i, n;

    n = 0;
    for (i = 0; i < PROC_MAX_CHILDREN; i++) {
        if (children[i].pid > 0 && children[i].generation == generation) {
            if (!mall_metrics_slot_ready(i)) {
                return 0;
            }
            n++;
        }
    }
    return n > 0;
}


/* SIGUSR1: this process's log file again, and every child's. */
static void
proc_reopen_logs(void)
{
    mall_err_t  err;
    int         i;

    if (mall_log_reopen(&err) != MALL_OK) {
        mall_log(MALL_LOG_ERROR, "master", "log reopen: %s", err.msg);
    } else {
        mall_log(MALL_LOG_NOTICE, "master", "log file reopened");
    }
    for (i = 0; i < PROC_MAX_CHILDREN; i++) {
        if (children[i].pid > 0) {
            kill(children[i].pid, SIGUSR1);
        }
    }
}


int
mall_master_run(const char *conf_path, mall_conf_t *conf)
{
    static const int   sigs[] = { SIGCHLD, SIGHUP, SIGTERM, SIGINT,
                                  SIGQUIT, SIGUSR1, SIGUSR2 };
    struct sigaction   sa;
    struct timespec    ts;
    struct pollfd      pfd;
    sigset_t           block, wait_mask;
    int64_t            now, wait, uw;
    int                i, shutting_down, rc, all_disabled, npfd, handed_over;
    int                fds[2];
    mall_upgrade_state_e  ust;

    cur_conf = conf;
    rc = EX_UNAVAILABLE;
    shutting_down = 0;
    handed_over = 0;

    if (proc_open_listeners(conf) != MALL_OK) {
        return EX_UNAVAILABLE;
    }
    if (mall_metrics_init(mall_upgrade_binary(), conf_path) != MALL_OK) {
        goto done;
    }

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = proc_signal_handler;
    sigemptyset(&sa.sa_mask);
    sigemptyset(&block);
    for (i = 0; i < (int) MALL_ARRAY_LEN(sigs); i++) {
        sigaction(sigs[i], &sa, NULL);
        sigaddset(&block, sigs[i]);
    }
    signal(SIGPIPE, SIG_IGN);
    sigprocmask(SIG_BLOCK, &block, &wait_mask);
    /* wait_mask: the mask before blocking, i.e. ours unblocked in ppoll */
    for (i = 0; i < (int) MALL_ARRAY_LEN(sigs); i++) {
        sigdelset(&wait_mask, sigs[i]);
    }

    /* after an upgrade the pid file changes hands once this one serves */
    if (!mall_upgrade_must_report()
        && proc_write_pidfile(conf->pidfile) != MALL_OK)
    {
        goto done;
    }

    mall_log(MALL_LOG_NOTICE, "master", "listening on %s:%d%s, starting %d "
             "worker(s)%s", conf->listen_host, conf->listen_port,
             conf->admin_port != 0 ? " (admin listener too)" : "",
             conf->workers, mall_upgrade_must_report()
             ? " on inherited sockets" : "");

    generation = 1;
    for (i = 0; i < conf->workers; i++) {
        proc_spawn(i, &wait_mask);
    }

    for ( ;; ) {
        now = mall_mono_ms();
        wait = proc_next_wakeup(now);
        if (mall_upgrade_must_report() && wait > 50) {
            wait = 50;                   /* watching the children get ready */
        }
        uw = mall_upgrade_wait_ms(now);
        if (uw >= 0 && uw < wait) {
            wait = uw;
        }
        ts.tv_sec = wait / 1000;
        ts.tv_nsec = (wait % 1000) * 1000000;

        npfd = 0;
        pfd.fd = mall_upgrade_fd();
        pfd.events = POLLIN;
        pfd.revents = 0;
        if (pfd.fd != -1) {
            npfd = 1;
        }
        if (ppoll(npfd ? &pfd : NULL, (nfds_t) npfd, &ts, &wait_mask) == -1
            && errno != EINTR)
        {
            mall_log(MALL_LOG_ERROR, "master", "ppoll: %s", strerror(errno));
        }

        if (sig_chld) {
            sig_chld = 0;
            proc_reap(shutting_down);
        }

        if ((sig_term || sig_quit) && !shutting_down) {
            shutting_down = 1;
            mall_upgrade_abort();
            mall_log(MALL_LOG_NOTICE, "master", "%s: stopping %d worker(s), "
                     "deadline %ds", sig_term ? "SIGTERM/SIGINT" : "SIGQUIT",
                     proc_count_children(), cur_conf->shutdown_timeout);
            proc_stop_children(sig_quit ? SIGQUIT : SIGTERM, 0,
                               mall_mono_ms()
                               + (int64_t) cur_conf->shutdown_timeout * 1000);
        }

        if (sig_hup) {
            sig_hup = 0;
            if (!shutting_down) {
                proc_reload(conf_path, &wait_mask);
            }
        }

        if (sig_usr1) {
            sig_usr1 = 0;
            proc_reopen_logs();
        }

        if (sig_usr2) {
            sig_usr2 = 0;
            if (mall_upgrade_must_report()) {
                mall_log(MALL_LOG_WARN, "master", "SIGUSR2 ignored: this "
                         "master is not serving yet");
            } else if (!shutting_down) {
                fds[0] = listen_fd;
                fds[1] = admin_fd;
                mall_upgrade_start(fds, 2, cur_conf->upgrade_timeout,
                                   &wait_mask);
            }
        }

        now = mall_mono_ms();
        ust = mall_upgrade_check(now, npfd && (pfd.revents & (POLLIN | POLLHUP
                                                              | POLLERR)));
        if (ust == MALL_UPGRADE_DONE && !shutting_down) {
            /* the new master serves on the same sockets: drain and go */
            shutting_down = 1;
            handed_over = 1;
            proc_stop_children(SIGQUIT, 0, now
                               + (int64_t) cur_conf->shutdown_timeout * 1000);
        }

        if (mall_upgrade_must_report() && proc_generation_ready()) {
            if (proc_write_pidfile(cur_conf->pidfile) == MALL_OK) {
                mall_upgrade_report_ready();
                mall_log(MALL_LOG_NOTICE, "master", "upgrade: serving, "
                         "told the old master");
            }
        }

        proc_enforce_deadlines(now);

        if (shutting_down) {
            if (proc_count_children() == 0) {
                break;
            }
            continue;
        }

        all_disabled = 1;
        for (i = 0; i < cur_conf->workers; i++) {
            if (!slots[i].disabled) {
                all_disabled = 0;
            }
            if (slots[i].respawn_at_ms != 0 && !slots[i].disabled
                && now >= slots[i].respawn_at_ms)
            {
                proc_spawn(i, &wait_mask);
            }
        }
        if (all_disabled && proc_count_children() == 0) {
            mall_log(MALL_LOG_ERROR, "master", "every worker exited with a "
                     "config error, giving up");
            rc = EX_CONFIG;
            goto done;
        }
    }

    mall_log(MALL_LOG_NOTICE, "master", "%s", handed_over
             ? "stopped: the upgraded master serves" : "stopped");
    rc = 0;

done:
    proc_remove_pidfile(cur_conf->pidfile);
    if (listen_fd != -1) {
        close(listen_fd);
        listen_fd = -1;
    }
    if (admin_fd != -1) {
        close(admin_fd);
        admin_fd = -1;
    }
    return rc;
}
