/*
 * Logging (see mall_log.h). The target is a file descriptor shared by the
 * master and, through fork, every child; O_APPEND keeps concurrent
 * writes whole. A worker process buffers its lines (the access log is a
 * line per request) and writes whole lines at once: when the buffer is
 * nearly full, at a warning or worse, every flush interval, and at exit.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L    /* gmtime_r, O_CLOEXEC without -D */
#endif

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "mall_log.h"

#define LOG_LINE_MAX  2048
#define LOG_BUF_SIZE  (64 * 1024)

int         mall_log_level = MALL_LOG_INFO;
static int  log_fd = STDERR_FILENO;
static int  log_pid;               /* cached: getpid() is a system call */

/* the buffer of a worker process (mall_log_buffer) */
static struct {
    char           *p;
    size_t          len;
    struct event   *timer;
} log_buf;

/* the second the cached timestamp prefix is for */
static time_t  log_sec = -1;
static char    log_stamp[24];

static const char  *level_names[] = {
    "error", "warn", "notice", "info", "debug"
};


int
mall_log_level_parse(const char *name)
{
    size_t  i;

    for (i = 0; i < MALL_ARRAY_LEN(level_names); i++) {
        if (strcmp(name, level_names[i]) == 0) {
            return (int) i;
        }
    }
    if (strcmp(name, "warning") == 0) {
        return MALL_LOG_WARN;
    }
    return -1;
}


int
mall_log_open(const char *path, mall_err_t *err)
{
    int  fd;

    if (path == NULL || path[0] == '\0' || strcmp(path, "stderr") == 0) {
        fd = STDERR_FILENO;

    } else {
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (fd == -1) {
            return mall_err_set(err, 0, "open(\"%s\"): %s", path,
                                strerror(errno));
        }
    }

    if (log_fd != STDERR_FILENO && log_fd != fd) {
        close(log_fd);
    }
    log_fd = fd;

    return MALL_OK;
}


static void
log_write_all(const char *p, size_t n)
{
    ssize_t  w;

    while (n > 0) {
        w = write(log_fd, p, n);
        if (w == -1 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return;                      /* nowhere to report it */
        }
        p += w;
        n -= (size_t) w;
    }
}


void
mall_log_flush(void)
{
    if (log_buf.len > 0) {
        log_write_all(log_buf.p, log_buf.len);
        log_buf.len = 0;
    }
}


static void
log_flush_cb(evutil_socket_t fd, short what, void *arg)
{
    (void) fd;
    (void) what;
    (void) arg;
    mall_log_flush();
}


int
mall_log_buffer(struct event_base *base, int flush_ms)
{
    struct timeval  tv;

    log_buf.p = malloc(LOG_BUF_SIZE);
    log_buf.timer = event_new(base, -1, EV_PERSIST, log_flush_cb, NULL);
    if (log_buf.p == NULL || log_buf.timer == NULL) {
        return MALL_ERR;
    }
    tv.tv_sec = flush_ms / 1000;
    tv.tv_usec = (flush_ms % 1000) * 1000;
    return event_add(log_buf.timer, &tv) == 0 ? MALL_OK : MALL_ERR;
}


void
mall_log_unbuffer(void)
{
    mall_log_flush();
    if (log_buf.timer != NULL) {
        event_free(log_buf.timer);
    }
    free(log_buf.p);
    memset(&log_buf, 0, sizeof(log_buf));
}


void
mall_log_process(void)
{
    log_pid = (int) getpid();
}


/* One line out: into the buffer when there is one, else written now. */
static void
log_emit(int level, const char *line, size_t n)
{
    if (log_buf.p == NULL) {
        log_write_all(line, n);
        return;
    }
    if (log_buf.len + n > LOG_BUF_SIZE) {
        mall_log_flush();
    }
    memcpy(log_buf.p + log_buf.len, line, n);
    log_buf.len += n;
    if (level <= MALL_LOG_WARN) {
        mall_log_flush();                /* problems are seen at once */
    }
}


void
mall_log_write(int level, const char *comp, const char *rid,
    const char *user, const char *fmt, ...)
{
    char            line[LOG_LINE_MAX];
    size_t          n;
    int             rc;
    va_list         ap;
    struct tm       tm;
    struct timeval  tv;

    if (level < 0 || level >= (int) MALL_ARRAY_LEN(level_names)) {
        level = MALL_LOG_ERROR;
    }
    if (log_pid == 0) {
        log_pid = (int) getpid();
    }

    gettimeofday(&tv, NULL);
    if (tv.tv_sec != log_sec) {
        gmtime_r(&tv.tv_sec, &tm);
        strftime(log_stamp, sizeof(log_stamp), "%Y-%m-%dT%H:%M:%S", &tm);
        log_sec = tv.tv_sec;
    }
    n = strlen(log_stamp);
    memcpy(line, log_stamp, n);
    rc = snprintf(line + n, sizeof(line) - n, ".%03dZ %s %d %s ",
                  (int) (tv.tv_usec / 1000), level_names[level], log_pid,
                  comp);
    if (rc > 0) {
        n += (size_t) rc;
    }

    if (rid != NULL && n < sizeof(line)) {
        rc = snprintf(line + n, sizeof(line) - n, "rid=%s user=%s ", rid,
                      (user != NULL && user[0] != '\0') ? user : "-");
        if (rc > 0) {
            n += (size_t) rc;
        }
    }

    if (n < sizeof(line)) {
        va_start(ap, fmt);
        rc = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
        va_end(ap);
        if (rc > 0) {
            n += (size_t) rc;
        }
    }

    /* truncated lines still end with a newline */
    if (n > sizeof(line) - 1) {
        n = sizeof(line) - 1;
    }
    line[n++] = '\n';
    log_emit(level, line, n);
}


void
mall_log_raw_from_handler(const char *msg)
{
    ssize_t  rc;

    rc = write(log_fd, msg, strlen(msg));
    (void) rc;
}
