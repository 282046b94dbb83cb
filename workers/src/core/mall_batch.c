/*
 * Command batches (see mall_batch.h).
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "mall_batch.h"

#define BATCH_MAX_ARGS  64


void
mall_batch_init(mall_batch_t *b)
{
    memset(b, 0, sizeof(*b));
}


void
mall_batch_free(mall_batch_t *b)
{
    size_t  i;

    for (i = 0; i < b->n; i++) {
        free((void *) b->cmds[i].argv);   /* one block per command */
    }
    free(b->cmds);
    memset(b, 0, sizeof(*b));
}


int
mall_batch_add(mall_batch_t *b, int argc, const char **argv)
{
    mall_redis_cmd_t  *cmds;
    size_t             total, len, *lens;
    const char       **args;
    char              *p;
    int                i;

    if (b->oom) {
        return MALL_ERR;
    }
    if (b->n == b->cap) {
        cmds = realloc(b->cmds, (b->cap ? b->cap * 2 : 16) * sizeof(*cmds));
        if (cmds == NULL) {
            b->oom = 1;
            return MALL_ERR;
        }
        b->cmds = cmds;
        b->cap = b->cap ? b->cap * 2 : 16;
    }

    /* pointers, lengths and the bytes in one allocation */
    total = (size_t) argc * (sizeof(char *) + sizeof(size_t));
    for (i = 0; i < argc; i++) {
        total += strlen(argv[i]) + 1;
    }
    args = malloc(total);
    if (args == NULL) {
        b->oom = 1;
        return MALL_ERR;
    }
    lens = (size_t *) (args + argc);
    p = (char *) (lens + argc);
    for (i = 0; i < argc; i++) {
        len = strlen(argv[i]);
        memcpy(p, argv[i], len + 1);
        args[i] = p;
        lens[i] = len;
        p += len + 1;
    }
    b->cmds[b->n].argc = argc;
    b->cmds[b->n].argv = args;
    b->cmds[b->n].argvlen = lens;
    b->n++;
    return MALL_OK;
}


int
mall_batch_addl(mall_batch_t *b, int argc, ...)
{
    const char  *argv[BATCH_MAX_ARGS];
    va_list      ap;
    int          i;

    if (argc > BATCH_MAX_ARGS) {
        b->oom = 1;
        return MALL_ERR;
    }
    va_start(ap, argc);
    for (i = 0; i < argc; i++) {
        argv[i] = va_arg(ap, const char *);
    }
    va_end(ap);
    return mall_batch_add(b, argc, argv);
}


int
mall_batch_exec(mall_batch_t *b, mall_redis_t *r, int multi,
    redisReply **exec, mall_err_t *err)
{
    return mall_batch_exec_then(b, r, multi, NULL, exec, err);
}


int
mall_batch_exec_then(mall_batch_t *b, mall_redis_t *r, int multi,
    const mall_batch_t *after, redisReply **exec, mall_err_t *err)
{
    static const char   *multi_argv[] = { "MULTI" }, *exec_argv[] = {
        "EXEC"
    };
    mall_redis_cmd_t    *cmds;
    redisReply         **reps;
    size_t               n, na, i, ex;
    int                  rc;

    if (exec != NULL) {
        *exec = NULL;
    }
    if (b->oom || (after != NULL && after->oom)) {
        return mall_err_set(err, 500, "out of memory");
    }
    na = after != NULL ? after->n : 0;
    n = b->n + (multi ? 2 : 0) + na;
    if (n == 0) {
        return MALL_OK;
    }
    cmds = calloc(n, sizeof(*cmds));
    reps = calloc(n, sizeof(*reps));
    if (cmds == NULL || reps == NULL) {
        free(cmds);
        free(reps);
        return mall_err_set(err, 500, "out of memory");
    }
    ex = b->n + 1;                      /* EXEC's index, with multi */
    if (multi) {
        cmds[0].argc = 1;
        cmds[0].argv = multi_argv;
        memcpy(cmds + 1, b->cmds, b->n * sizeof(*cmds));
        cmds[ex].argc = 1;
        cmds[ex].argv = exec_argv;
    } else {
        memcpy(cmds, b->cmds, b->n * sizeof(*cmds));
    }
    if (na > 0) {
        memcpy(cmds + n - na, after->cmds, na * sizeof(*cmds));
    }

    rc = mall_redis_pipeline(r, n, cmds, reps, err);
    if (rc != MALL_OK) {
        goto done;
    }
    for (i = 0; i < n; i++) {
        if (reps[i]->type == REDIS_REPLY_ERROR) {
            rc = mall_err_set(err, 500, "redis: %s", reps[i]->str);
            goto done;
        }
    }
    if (multi && reps[ex]->type != REDIS_REPLY_ARRAY) {
        rc = MALL_BATCH_ABORTED;
        goto done;
    }
    if (multi) {
        for (i = 0; i < reps[ex]->elements; i++) {
            if (reps[ex]->element[i]->type == REDIS_REPLY_ERROR) {
                rc = mall_err_set(err, 500, "redis: %s",
                                  reps[ex]->element[i]->str);
                goto done;
            }
        }
        if (exec != NULL) {
            *exec = reps[ex];
            reps[ex] = NULL;
        }
    }

done:
    mall_redis_free_replies(reps, n);
    free(reps);
    free(cmds);
    return rc;
}


int
mall_batch_send(const mall_batch_t *b, mall_redis_t *r, redisReply **reps,
    mall_err_t *err)
{
    if (b->oom) {
        return mall_err_set(err, 500, "out of memory");
    }
    return mall_redis_pipeline(r, b->n, b->cmds, reps, err);
}


int
mall_cmd(mall_redis_t *r, redisReply **reply, mall_err_t *err, int argc,
    ...)
{
    const char  *argv[BATCH_MAX_ARGS];
    va_list      ap;
    int          i;

    if (argc > BATCH_MAX_ARGS) {
        return mall_err_set(err, 500, "too many arguments");
    }
    va_start(ap, argc);
    for (i = 0; i < argc; i++) {
        argv[i] = va_arg(ap, const char *);
    }
    va_end(ap);
    return mall_redis_command(r, reply, err, argc, argv, NULL);
}


int
mall_hmget(mall_redis_t *r, const char *key, int watch,
    const char *const *fields, size_t n, redisReply **reply, mall_err_t *err)
{
    const char    *argv[BATCH_MAX_ARGS];
    mall_batch_t   b;
    redisReply    *reps[2];
    size_t         i, nc;
    int            rc;

    if (n + 2 > BATCH_MAX_ARGS) {
        return mall_err_set(err, 500, "too many fields");
    }
    argv[0] = "HMGET";
    argv[1] = key;
    for (i = 0; i < n; i++) {
        argv[2 + i] = fields[i];
    }
    mall_batch_init(&b);
    if (watch) {
        mall_batch_addl(&b, 2, "WATCH", key);
    }
    mall_batch_add(&b, (int) n + 2, argv);
    nc = b.n;
    rc = mall_batch_send(&b, r, reps, err);
    mall_batch_free(&b);
    if (rc != MALL_OK) {
        return rc;
    }
    if (nc == 2) {
        freeReplyObject(reps[0]);
    }
    *reply = reps[nc - 1];
    if ((*reply)->type != REDIS_REPLY_ARRAY || (*reply)->elements != n) {
        freeReplyObject(*reply);
        *reply = NULL;
        return mall_err_set(err, 500, "unexpected HMGET reply");
    }
    return MALL_OK;
}


void
mall_unwatch(mall_redis_t *r)
{
    redisReply  *reply;
    mall_err_t   err;

    if (mall_cmd(r, &reply, &err, 1, "UNWATCH") == MALL_OK) {
        freeReplyObject(reply);
    }
}
