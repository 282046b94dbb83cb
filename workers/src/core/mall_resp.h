/*
 * RESP2 request encoding: a command as the bytes Redis reads ("*argc\r\n",
 * then "$len\r\n" argument "\r\n" each). The worker formats a pipeline
 * itself, into one block a batch, and hands each command to hiredis
 * preformatted: hiredis's own formatter (redisFormatSdsCommandArgv) builds
 * an sds with sdscatfmt and grows it argument by argument, several
 * allocations a command, the largest single cost of a pipeline.
 */
#ifndef MALL_RESP_H
#define MALL_RESP_H

#include <stddef.h>

/* Bytes of the encoded command (argvlen NULL: strlen of each argument). */
size_t mall_resp_size(int argc, const char **argv, const size_t *argvlen);

/* Encodes the command at p (mall_resp_size bytes there); returns its
 * length. */
size_t mall_resp_write(char *p, int argc, const char **argv,
    const size_t *argvlen);

#endif
