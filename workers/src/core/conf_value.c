/*
 * Directive value readers (see conf_value.h).
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L    /* O_CLOEXEC without -D (unit tests) */
#endif

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "conf_value.h"


int
conf_value_str(char *dst, size_t dstsz, const char *src, const char *name,
    mall_err_t *err)
{
    size_t  len;

    len = strlen(src);
    if (len == 0 || len >= dstsz) {
        return mall_err_set(err, 0, "%s must be 1..%zu chars", name,
                            dstsz - 1);
    }
    memcpy(dst, src, len + 1);
    return MALL_OK;
}


int
conf_value_file(const char *path, const char *what, char *buf, size_t bufsz,
    size_t *len, mall_err_t *err)
{
    ssize_t  n;
    size_t   got;
    int      fd, rc;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        return mall_err_set(err, 0, "cannot open %s\"%s\": %s", what, path,
                            strerror(errno));
    }

    rc = MALL_ERR;
    got = 0;
    for ( ;; ) {
        if (got == bufsz) {
            mall_err_set(err, 0, "%s\"%s\" is too large", what, path);
            goto done;
        }
        n = read(fd, buf + got, bufsz - got);
        if (n == -1 && errno == EINTR) {
            continue;
        }
        if (n == -1) {
            mall_err_set(err, 0, "cannot read %s\"%s\": %s", what, path,
                         strerror(errno));
            goto done;
        }
        if (n == 0) {
            break;
        }
        got += (size_t) n;
    }

    if (got > 0 && buf[got - 1] == '\n') {
        got--;
        if (got > 0 && buf[got - 1] == '\r') {
            got--;
        }
    }
    if (got < bufsz) {
        buf[got] = '\0';
    }
    *len = got;
    rc = MALL_OK;

done:
    if (rc != MALL_OK) {
        OPENSSL_cleanse(buf, bufsz);
    }
    close(fd);
    return rc;
}


int
conf_value_text_file(const char *path, char *dst, size_t dstsz,
    const char *name, mall_err_t *err)
{
    char    buf[512];
    size_t  len, i;

    if (conf_value_file(path, "", buf, sizeof(buf), &len, err) != MALL_OK) {
        return MALL_ERR;
    }
    if (len == 0 || len >= dstsz) {
        OPENSSL_cleanse(buf, sizeof(buf));
        return mall_err_set(err, 0, "%s: \"%s\" must hold 1..%zu chars",
                            name, path, dstsz - 1);
    }
    for (i = 0; i < len; i++) {
        if ((unsigned char) buf[i] <= ' ' || buf[i] == 0x7f) {
            OPENSSL_cleanse(buf, sizeof(buf));
            return mall_err_set(err, 0, "%s: \"%s\" holds spaces or control "
                                "characters", name, path);
        }
    }
    memcpy(dst, buf, len);
    dst[len] = '\0';
    OPENSSL_cleanse(buf, sizeof(buf));
    return MALL_OK;
}


/* An http(s) URL without a query or fragment into dst, trailing '/' cut. */
int
conf_value_url(char *dst, size_t dstsz, const char *v, const char *name,
    int strip_slash, mall_err_t *err)
{
    size_t  len;

    if ((strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0)
        || strpbrk(v, "?# \t") != NULL)
    {
        return mall_err_set(err, 0, "%s must be an http(s) URL without a "
                            "query string", name);
    }
    if (conf_value_str(dst, dstsz, v, name, err) != MALL_OK) {
        return MALL_ERR;
    }
    len = strlen(dst);
    while (strip_slash && len > 0 && dst[len - 1] == '/') {
        dst[--len] = '\0';
    }
    return MALL_OK;
}
