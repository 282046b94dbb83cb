/*
 * Fibers: the asynchronous plumbing of a worker process, written once.
 *
 * Every request (and every timer job) runs on a fiber: a small stack of its
 * own on which the handler's code reads top-down as plain steps. When a
 * step must wait for the network (a Redis round trip, an outbound HTTPS
 * call), the wait function queues the I/O on the process's libevent loop
 * and suspends the fiber; the loop goes on serving other requests and,
 * when the answer arrives, resumes the fiber where it stopped. Nothing
 * ever blocks the loop, and no handler is cut into callbacks.
 *
 * One process = one thread = one event loop; fibers never run in
 * parallel, so they need no locks, and a fiber only loses the CPU inside a
 * wait function. Stacks are mmap'd (a guard page below each, so an
 * overflow faults instead of corrupting memory), lazily backed by the
 * kernel, and recycled.
 *
 * The context switch is a few instructions of assembly on x86-64 (callee-
 * saved registers and the stack pointer, as the ABI defines); elsewhere it
 * falls back to ucontext. AddressSanitizer is told about every switch.
 */
#ifndef MALL_FIBER_H
#define MALL_FIBER_H

#include <stddef.h>

struct event_base;

typedef struct mall_fiber_s  mall_fiber_t;
typedef void (*mall_fiber_fn)(void *arg);

/*
 * Prepares the scheduler on base: stacks of stack_size bytes (rounded up
 * to pages), at most keep idle stacks cached. MALL_OK or MALL_ERR.
 */
int mall_fiber_init(struct event_base *base, size_t stack_size, size_t keep);

/* Releases the cached stacks (no fiber may still be alive). */
void mall_fiber_shutdown(void);

/*
 * Creates a fiber running fn(arg) and runs it at once, until its first
 * wait or its end. Call from the event loop (not from a fiber). Returns
 * MALL_OK, or MALL_ERR when no stack could be had (fn did not run).
 */
int mall_fiber_spawn(mall_fiber_fn fn, void *arg);

/* The running fiber, or NULL on the event loop's own stack. */
mall_fiber_t *mall_fiber_self(void);

/*
 * Suspends the running fiber until someone calls mall_fiber_wake(f).
 * Must be called on a fiber.
 */
void mall_fiber_park(void);

/*
 * Makes a parked fiber runnable: it resumes from the event loop shortly
 * after (never inside the caller, so I/O callbacks stay short and a
 * library calling us is never re-entered).
 */
void mall_fiber_wake(mall_fiber_t *f);

/* Per-fiber slot for the Redis client (its exclusive connection). */
void **mall_fiber_redis_slot(mall_fiber_t *f);

/* Called for every fiber as it ends (before its stack is recycled). */
void mall_fiber_on_exit(void (*hook)(mall_fiber_t *f));

/* Live fibers (running or parked), for load accounting and metrics. */
size_t mall_fiber_count(void);

#endif
