/*
 * Redis client, durability on replicas (see mall_redis_durable in
 * mall_redis.h). Redis replicates asynchronously: a write it answered may
 * be lost when its primary dies before a replica has it, and Sentinel
 * then promotes that replica. An order or payment change is acknowledged
 * to the client only once WAIT has seen it on redis_wait_replicas
 * replicas.
 *
 * WAIT counts the offset of its own connection's last write, not the
 * server's. The batches of many requests share connections, and a
 * transaction runs on an exclusive one, so the WAIT goes after a write of
 * its own on the connection it uses: a PUBLISH to a channel nobody
 * listens on, which Redis propagates to its replicas (it changes no key),
 * sent after the change was answered, so its offset covers the change.
 * The PUBLISH and the WAIT go in one batch: one round trip, plus the time
 * a replica takes to acknowledge (it is asked at once, REPLCONF GETACK).
 */
#include <stdio.h>
#include <string.h>

#include "mall_log.h"
#include "mall_metrics.h"
#include "mall_redis.h"

#define REDIS_WAIT_CHANNEL  "mall:repl:barrier"


int
mall_redis_durable(mall_redis_t *r, mall_err_t *err)
{
    mall_redis_cmd_t   cmds[2];
    redisReply        *reps[2];
    const char        *publish[3], *wait[3];
    char               n[16], ms[16];
    long long          got;
    int                rc;

    if (r->ha.wait_replicas <= 0) {
        return MALL_OK;
    }
    snprintf(n, sizeof(n), "%d", r->ha.wait_replicas);
    snprintf(ms, sizeof(ms), "%d", r->ha.wait_timeout_ms);
    publish[0] = "PUBLISH";
    publish[1] = REDIS_WAIT_CHANNEL;
    publish[2] = "";
    wait[0] = "WAIT";
    wait[1] = n;
    wait[2] = ms;
    cmds[0] = (mall_redis_cmd_t) { 3, publish, NULL };
    cmds[1] = (mall_redis_cmd_t) { 3, wait, NULL };

    rc = mall_redis_pipeline(r, 2, cmds, reps, err);
    if (rc != MALL_OK) {
        return MALL_RETRY;
    }
    got = reps[1]->type == REDIS_REPLY_INTEGER ? reps[1]->integer : -1;
    if (reps[1]->type == REDIS_REPLY_ERROR) {
        mall_err_set(err, 503, "redis WAIT: %.100s", reps[1]->str);
    }
    mall_redis_free_replies(reps, 2);
    if (got >= r->ha.wait_replicas) {
        return MALL_OK;
    }
    r->stats.wait_short++;
    mall_metrics_redis_wait_short();
    if (got >= 0) {
        mall_err_set(err, 503, "stored on the primary, but %lld of %d "
                     "replicas confirmed it within %d ms", got,
                     r->ha.wait_replicas, r->ha.wait_timeout_ms);
    }
    mall_log(MALL_LOG_WARN, "redis", "%s", err != NULL ? err->msg : "WAIT");
    return MALL_RETRY;
}
