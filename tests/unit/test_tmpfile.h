/*
 * Temporary files for the unit tests that read keys and secrets from
 * disk. Define _POSIX_C_SOURCE 200809L (mkstemp) before any include.
 */
#ifndef TEST_TMPFILE_H
#define TEST_TMPFILE_H

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * Creates a file named from the mkstemp template tmpl (the name goes to
 * path, strlen(tmpl) + 1 bytes) and writes content to it. 0 or -1.
 */
static inline int
test_tmpfile(char *path, const char *tmpl, const char *content)
{
    int  fd;

    strcpy(path, tmpl);
    fd = mkstemp(path);
    if (fd == -1) {
        return -1;
    }
    if (write(fd, content, strlen(content)) != (ssize_t) strlen(content)) {
        close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

#endif
