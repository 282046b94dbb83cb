/*
 * A growable list of Redis commands whose arguments are copied, sent in
 * one round trip, optionally wrapped in MULTI/EXEC. Used where a write
 * touches many keys (catalog edits keep every index in step) and must be
 * seen all at once or not at all.
 */
#ifndef MALL_BATCH_H
#define MALL_BATCH_H

#include <stddef.h>
#include <hiredis/hiredis.h>

#include "mall_common.h"
#include "mall_redis.h"

#define MALL_BATCH_ABORTED  1      /* EXEC returned nil: a WATCHed key moved */

typedef struct {
    mall_redis_cmd_t  *cmds;
    size_t             n;
    size_t             cap;
    int                oom;        /* an add failed: exec refuses */
} mall_batch_t;

void mall_batch_init(mall_batch_t *b);
void mall_batch_free(mall_batch_t *b);

/* Appends one command (argument strings copied, lengths by strlen). */
int mall_batch_add(mall_batch_t *b, int argc, const char **argv);

/* printf-style convenience: each of argc arguments is a const char *. */
int mall_batch_addl(mall_batch_t *b, int argc, ...);

/*
 * Sends the commands; with multi set, inside MULTI/EXEC. MALL_OK (and, if
 * exec is not NULL, *exec = the EXEC reply or NULL without multi; the
 * caller frees it), MALL_BATCH_ABORTED (EXEC nil), MALL_ERR (a command
 * failed: message in err) or MALL_RETRY (Redis down). The batch is kept;
 * free it with mall_batch_free.
 */
int mall_batch_exec(mall_batch_t *b, mall_redis_t *r, int multi,
    redisReply **exec, mall_err_t *err);

/*
 * The same, then the commands of after (outside the MULTI) in the same
 * round trip: e.g. a WATCH for the next step. Their replies are checked
 * for errors and dropped; after a MALL_BATCH_ABORTED they have run too.
 */
int mall_batch_exec_then(mall_batch_t *b, mall_redis_t *r, int multi,
    const mall_batch_t *after, redisReply **exec, mall_err_t *err);

/*
 * Sends the commands as one pipeline (no MULTI) and puts their replies in
 * reps[0..b->n) (the caller frees them; error replies are kept, so check
 * ->type). MALL_OK, MALL_ERR (out of memory) or MALL_RETRY.
 */
int mall_batch_send(const mall_batch_t *b, mall_redis_t *r, redisReply **reps,
    mall_err_t *err);

/* Runs one command of NUL-terminated strings; see mall_redis_command. */
int mall_cmd(mall_redis_t *r, redisReply **reply, mall_err_t *err, int argc,
    ...);

/*
 * HMGET of fields[0..n) of key, WATCHing key first in the same round trip
 * when watch is set. MALL_OK with *reply the array of n replies (the
 * caller frees it), MALL_ERR or MALL_RETRY.
 */
int mall_hmget(mall_redis_t *r, const char *key, int watch,
    const char *const *fields, size_t n, redisReply **reply, mall_err_t *err);

/*
 * Drops the connection's WATCHes after a transaction is given up. Best
 * effort: if it fails, the next EXEC or the reconnect drops them anyway.
 */
void mall_unwatch(mall_redis_t *r);

#endif
