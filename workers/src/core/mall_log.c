/*
 * Logging (see mall_log.h): JSON lines. The target is a file descriptor
 * shared by the master and, through fork, every child (until a reopen
 * gives each process its own, on the same path); O_APPEND keeps concurrent
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
static char log_path[1024];        /* what mall_log_reopen opens again */
static int  early_fd = -1;         /* stderr as started (mall_log_early_fd) */

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


/*
 * The file also becomes this process's stderr: what writes there (a
 * sanitizer, libevent, a new binary started by an upgrade, children through
 * fork) follows the log across a reopen instead of keeping a renamed file
 * open.
 */
int
mall_log_open(const char *path, mall_err_t *err)
{
    int  fd;

    if (path != log_path) {
        snprintf(log_path, sizeof(log_path), "%s", path != NULL ? path : "");
    }

    if (path == NULL || path[0] == '\0' || strcmp(path, "stderr") == 0) {
        fd = STDERR_FILENO;

    } else {
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (fd == -1) {
            return mall_err_set(err, 0, "open(\"%s\"): %s", path,
                                strerror(errno));
        }
    }

    if (fd != STDERR_FILENO) {
        if (early_fd == -1) {
            early_fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
        }
        /* should it fail, stderr stays where it was; the log still works */
        (void) dup2(fd, STDERR_FILENO);
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


/* Appends s as a JSON string body (no quotes), escaped; stays in line. */
static size_t
log_json_str(char *line, size_t n, size_t cap, const char *s)
{
    static const char   hex[] = "0123456789abcdef";
    unsigned char       c;

    for ( ; *s != '\0' && n + 7 < cap; s++) {
        c = (unsigned char) *s;
        if (c == '"' || c == '\\') {
            line[n++] = '\\';
            line[n++] = (char) c;
        } else if (c == '\n') {
            line[n++] = '\\';
            line[n++] = 'n';
        } else if (c < 0x20 || c == 0x7f) {
            memcpy(line + n, "\\u00", 4);
            line[n + 4] = hex[c >> 4];
            line[n + 5] = hex[c & 0xf];
            n += 6;
        } else {
            line[n++] = (char) c;
        }
    }
    return n;
}


static size_t
log_raw(char *line, size_t n, size_t cap, const char *s)
{
    size_t  len = strlen(s);

    if (n + len < cap) {
        memcpy(line + n, s, len);
        n += len;
    }
    return n;
}


/*
 * ,"name":"value" (escaped); a NULL value is JSON null. All or nothing
 * for the name, so a line cut short stays valid JSON (the value may be
 * cut, never an escape).
 */
static size_t
log_field(char *line, size_t n, size_t cap, const char *name,
    const char *value)
{
    if (n + strlen(name) + 10 >= cap) {
        return n;
    }
    n = log_raw(line, n, cap, ",\"");
    n = log_raw(line, n, cap, name);
    if (value == NULL) {
        return log_raw(line, n, cap, "\":null");
    }
    n = log_raw(line, n, cap, "\":\"");
    n = log_json_str(line, n, cap, value);
    line[n++] = '"';                 /* log_json_str left room for it */
    return n;
}


/* {"ts":..,"level":..,"pid":..,"comp":..,"request_id":..[,"user_id"] */
static size_t
log_head(char *line, size_t cap, int level, const char *comp,
    const char *rid, const char *user)
{
    struct tm       tm;
    struct timeval  tv;
    size_t          n;
    int             rc;

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
    rc = snprintf(line, cap, "{\"ts\":\"%s.%03dZ\",\"level\":\"%s\","
                  "\"pid\":%d", log_stamp, (int) (tv.tv_usec / 1000),
                  level_names[level], log_pid);
    n = rc > 0 && (size_t) rc < cap ? (size_t) rc : 0;
    n = log_field(line, n, cap, "comp", comp);
    n = log_field(line, n, cap, "request_id", rid);
    if (rid != NULL) {
        /* "-" is what callers pass for "no user" */
        n = log_field(line, n, cap, "user_id",
                      user != NULL && user[0] != '\0' && strcmp(user, "-") != 0
                      ? user : NULL);
    }
    return n;
}


/* Closes the object and the line, even when the line was cut short. */
static void
log_end(int level, char *line, size_t n, size_t cap)
{
    if (n + 3 > cap) {
        n = cap - 3;
    }
    line[n++] = '}';
    line[n++] = '\n';
    log_emit(level, line, n);
}


void
mall_log_write(int level, const char *comp, const char *rid,
    const char *user, const char *fmt, ...)
{
    char     line[LOG_LINE_MAX], msg[LOG_LINE_MAX / 2];
    size_t   n;
    va_list  ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    /* room kept for the closing quote and brace */
    n = log_head(line, sizeof(line) - 8, level, comp, rid, user);
    n = log_field(line, n, sizeof(line) - 8, "msg", msg);
    log_end(level, line, n, sizeof(line));
}


void
mall_log_access(const mall_log_access_t *a)
{
    char    line[LOG_LINE_MAX], num[64];
    size_t  n, cap;
    int     level;

    level = MALL_LOG_INFO;
    if (level > mall_log_level) {
        return;
    }
    cap = sizeof(line) - 8;
    n = log_head(line, cap, level, "access", a->request_id, a->user_id);
    snprintf(num, sizeof(num), "%s %s %d", a->method, a->path, a->status);
    n = log_field(line, n, cap, "msg", num);
    n = log_field(line, n, cap, "method", a->method);
    n = log_field(line, n, cap, "route", a->route);
    n = log_field(line, n, cap, "path", a->path);
    snprintf(num, sizeof(num), ",\"status\":%d,\"latency_ms\":%.3f",
             a->status, a->latency_ms);
    n = log_raw(line, n, cap, num);
    if (a->client_ip != NULL && a->client_ip[0] != '\0') {
        n = log_field(line, n, cap, "client_ip", a->client_ip);
    }
    if (a->risk != NULL && a->risk[0] != '\0') {
        n = log_field(line, n, cap, "risk", a->risk);
    }
    if (a->error_code != NULL) {
        n = log_field(line, n, cap, "error_code", a->error_code);
    }
    log_end(level, line, n, sizeof(line));
}


int
mall_log_reopen(mall_err_t *err)
{
    mall_log_flush();
    return mall_log_open(log_path, err);
}


int
mall_log_early_fd(void)
{
    return early_fd;
}


void
mall_log_raw_from_handler(const char *msg)
{
    ssize_t  rc;

    rc = write(log_fd, msg, strlen(msg));
    (void) rc;
}
