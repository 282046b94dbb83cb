/*
 * Between the two modes of the Redis client (mall_redis.c, async;
 * mall_redis_blocking.c, tools and start-up). Not for other callers.
 */
#ifndef MALL_REDIS_INTERNAL_H
#define MALL_REDIS_INTERNAL_H

#include "mall_redis.h"

int mall_redis_blocking_pipeline(mall_redis_t *r, size_t n,
    const mall_redis_cmd_t *cmds, redisReply **replies, mall_err_t *err);
void mall_redis_blocking_close(mall_redis_t *r);

#endif
