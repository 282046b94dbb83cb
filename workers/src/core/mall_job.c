/*
 * Periodic jobs on fibers (see mall_job.h).
 */
#include <stdlib.h>

#include <event2/event.h>

#include "mall_common.h"
#include "mall_fiber.h"
#include "mall_job.h"
#include "mall_log.h"

struct mall_job_s {
    struct event   *ev;
    const char     *name;
    void          (*fn)(void *arg);
    void           *arg;
    int             running;
    int             stopped;         /* freed by the run in progress */
};


static void
job_fiber(void *arg)
{
    mall_job_t  *job = arg;

    job->fn(job->arg);
    job->running = 0;
    if (job->stopped) {
        free(job);
    }
}


static void
job_tick(evutil_socket_t fd, short what, void *arg)
{
    mall_job_t  *job = arg;

    (void) fd;
    (void) what;
    if (job->running) {
        return;
    }
    job->running = 1;
    if (mall_fiber_spawn(job_fiber, job) != MALL_OK) {
        job->running = 0;
        mall_log(MALL_LOG_WARN, "job", "%s: no fiber for this tick",
                 job->name);
    }
}


mall_job_t *
mall_job_every(struct event_base *base, int interval_ms, const char *name,
    void (*fn)(void *arg), void *arg)
{
    mall_job_t      *job;
    struct timeval   tv;

    job = calloc(1, sizeof(*job));
    if (job == NULL) {
        mall_log(MALL_LOG_ERROR, "job", "%s: out of memory", name);
        return NULL;
    }
    job->name = name;
    job->fn = fn;
    job->arg = arg;
    job->ev = event_new(base, -1, EV_PERSIST, job_tick, job);
    tv.tv_sec = interval_ms / 1000;
    tv.tv_usec = (interval_ms % 1000) * 1000;
    if (job->ev == NULL || event_add(job->ev, &tv) != 0) {
        mall_log(MALL_LOG_ERROR, "job", "%s: cannot start its timer", name);
        if (job->ev != NULL) {
            event_free(job->ev);
        }
        free(job);
        return NULL;
    }
    return job;
}


void
mall_job_stop(mall_job_t *job)
{
    if (job == NULL) {
        return;
    }
    event_free(job->ev);
    job->ev = NULL;
    if (job->running) {
        job->stopped = 1;
        return;
    }
    free(job);
}
