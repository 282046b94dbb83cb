/*
 * Logging (see mall_log.h). The target is a file descriptor shared by the
 * master and, through fork, every child; O_APPEND keeps concurrent lines
 * whole.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L    /* gmtime_r, O_CLOEXEC without -D */
#endif

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "mall_log.h"

#define LOG_LINE_MAX  2048

int         mall_log_level = MALL_LOG_INFO;
static int  log_fd = STDERR_FILENO;

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

    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);

    n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    rc = snprintf(line + n, sizeof(line) - n, ".%03dZ %s %d %s ",
                  (int) (tv.tv_usec / 1000), level_names[level],
                  (int) getpid(), comp);
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

    while (write(log_fd, line, n) == -1 && errno == EINTR) {
        /* retry */
    }
}


void
mall_log_raw_from_handler(const char *msg)
{
    ssize_t  rc;

    rc = write(log_fd, msg, strlen(msg));
    (void) rc;
}
