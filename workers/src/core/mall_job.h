/*
 * Periodic background jobs of a worker process (the order timer, ...).
 * Each tick spawns a fiber that runs the job, so a job waits on Redis the
 * way a request does, without blocking the loop; a tick that finds the
 * previous run still going is skipped.
 */
#ifndef MALL_JOB_H
#define MALL_JOB_H

struct event_base;

typedef struct mall_job_s  mall_job_t;

/* Runs fn(arg) on a fiber every interval_ms; NULL on failure (logged). */
mall_job_t *mall_job_every(struct event_base *base, int interval_ms,
    const char *name, void (*fn)(void *arg), void *arg);

/* Stops the ticks (a run in progress finishes on its own) and frees. */
void mall_job_stop(mall_job_t *job);

#endif
