/*
 * Fibers over one libevent loop (see mall_fiber.h).
 *
 * The loop's own stack is the "scheduler": a fiber runs only between a
 * switch from the loop (spawn, or the ready queue) and its next park or
 * its end, which switch back. Wakes are deferred through one libevent
 * event, so whoever wakes a fiber (a hiredis or libcurl callback) returns
 * before the fiber runs.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <event2/event.h>

#include "mall_common.h"
#include "mall_fiber.h"
#include "mall_log.h"

#if defined(__x86_64__) && defined(__ELF__)
#define FIBER_ASM  1
#else
#define FIBER_ASM  0
#include <ucontext.h>
#endif

#if defined(__SANITIZE_ADDRESS__)
#define FIBER_ASAN  1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FIBER_ASAN  1
#endif
#endif

#ifdef FIBER_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

struct mall_fiber_s {
    void           *sp;             /* saved stack pointer (asm switch) */
#if !FIBER_ASM
    ucontext_t      uc;
#endif
    unsigned char  *map;            /* the mapping: guard page + stack */
    size_t          map_size;
    unsigned char  *stack;          /* lowest usable byte */
    size_t          stack_size;
    mall_fiber_fn   fn;
    void           *arg;
    void           *redis;          /* mall_fiber_redis_slot() */
    void           *asan_fake;
    mall_fiber_t   *next;           /* ready queue or free list */
    unsigned        done:1;
    unsigned        queued:1;
};

static struct {
    struct event     *ready_ev;
    mall_fiber_t     *ready_head, *ready_tail;
    mall_fiber_t     *free_list;
    size_t            nfree, keep, stack_size, page, live;
    mall_fiber_t     *current;
    void             *loop_sp;      /* the loop's stack pointer while a
                                       fiber runs */
#if !FIBER_ASM
    ucontext_t        loop_uc;
#endif
    const void       *loop_stack_bottom;   /* ASan bookkeeping */
    size_t            loop_stack_size;
    void            (*exit_hook)(mall_fiber_t *f);
} sched;


/* ---- the switch ------------------------------------------------------- */

#if FIBER_ASM

/*
 * mall_fiber_swap(save, to): pushes the callee-saved registers (and the
 * SSE/x87 control words, which the ABI also makes callee-saved) on the
 * current stack, stores the stack pointer in *save, loads `to` and pops
 * the same frame from there. mall_fiber_boot is where a new fiber's first
 * switch "returns" to: it calls r13(r12), i.e. fiber_main(f).
 */
__asm__(
    ".text\n"
    ".p2align 4\n"
    ".globl mall_fiber_swap\n"
    ".hidden mall_fiber_swap\n"
    ".type mall_fiber_swap,@function\n"
    "mall_fiber_swap:\n"
    "    pushq %rbp\n"
    "    pushq %rbx\n"
    "    pushq %r12\n"
    "    pushq %r13\n"
    "    pushq %r14\n"
    "    pushq %r15\n"
    "    subq $8, %rsp\n"
    "    stmxcsr (%rsp)\n"
    "    fnstcw 4(%rsp)\n"
    "    movq %rsp, (%rdi)\n"
    "    movq %rsi, %rsp\n"
    "    ldmxcsr (%rsp)\n"
    "    fldcw 4(%rsp)\n"
    "    addq $8, %rsp\n"
    "    popq %r15\n"
    "    popq %r14\n"
    "    popq %r13\n"
    "    popq %r12\n"
    "    popq %rbx\n"
    "    popq %rbp\n"
    "    ret\n"
    ".size mall_fiber_swap, .-mall_fiber_swap\n"
    ".p2align 4\n"
    ".globl mall_fiber_boot\n"
    ".hidden mall_fiber_boot\n"
    ".type mall_fiber_boot,@function\n"
    "mall_fiber_boot:\n"
    "    movq %r12, %rdi\n"
    "    callq *%r13\n"
    "    ud2\n"
    ".size mall_fiber_boot, .-mall_fiber_boot\n"
    ".section .note.GNU-stack,\"\",@progbits\n"
    ".text\n");

void mall_fiber_swap(void **save, void *to);
void mall_fiber_boot(void);

#endif

static void fiber_main(mall_fiber_t *f);


static void
asan_start(void **fake, const void *bottom, size_t size)
{
#ifdef FIBER_ASAN
    __sanitizer_start_switch_fiber(fake, bottom, size);
#else
    (void) fake;
    (void) bottom;
    (void) size;
#endif
}


static void
asan_finish(void *fake, const void **bottom, size_t *size)
{
#ifdef FIBER_ASAN
    __sanitizer_finish_switch_fiber(fake, bottom, size);
#else
    (void) fake;
    (void) bottom;
    (void) size;
#endif
}


#if !FIBER_ASM
static void
fiber_main_uc(unsigned hi, unsigned lo)
{
    fiber_main((mall_fiber_t *) (((uintptr_t) hi << 32) | (uintptr_t) lo));
}
#endif


/* Lays out f's fresh stack so that the first switch to it enters fiber_main. */
static void
fiber_prepare(mall_fiber_t *f)
{
#if FIBER_ASM
    uintptr_t   top, slot;
    uint64_t   *p;
    uint32_t    mxcsr = 0x1F80;
    uint16_t    fpucw = 0x037F;

    top = ((uintptr_t) (f->stack + f->stack_size)) & ~(uintptr_t) 15;
    slot = top - 24;                     /* ≡ 8 (mod 16): the "return" */
    p = (uint64_t *) slot;
    p[0] = (uint64_t) (uintptr_t) mall_fiber_boot;
    p[-1] = 0;                           /* rbp */
    p[-2] = 0;                           /* rbx */
    p[-3] = (uint64_t) (uintptr_t) f;    /* r12: the argument */
    p[-4] = (uint64_t) (uintptr_t) fiber_main;   /* r13: the entry */
    p[-5] = 0;                           /* r14 */
    p[-6] = 0;                           /* r15 */
    memcpy(&p[-7], &mxcsr, sizeof(mxcsr));
    memcpy((unsigned char *) &p[-7] + 4, &fpucw, sizeof(fpucw));
    f->sp = &p[-7];
#else
    uintptr_t  v = (uintptr_t) f;

    getcontext(&f->uc);
    f->uc.uc_stack.ss_sp = f->stack;
    f->uc.uc_stack.ss_size = f->stack_size;
    f->uc.uc_link = NULL;
    makecontext(&f->uc, (void (*)(void)) fiber_main_uc, 2,
                (unsigned) (v >> 32), (unsigned) (v & 0xffffffffu));
#endif
}


/* Loop stack -> f, until f parks or ends. */
static void
fiber_switch_in(mall_fiber_t *f)
{
    void  *fake = NULL;

    sched.current = f;
    asan_start(&fake, f->stack, f->stack_size);
#if FIBER_ASM
    mall_fiber_swap(&sched.loop_sp, f->sp);
#else
    swapcontext(&sched.loop_uc, &f->uc);
#endif
    asan_finish(fake, NULL, NULL);
    sched.current = NULL;
}


/* f -> loop stack; returns when f is switched in again (unless dying). */
static void
fiber_switch_out(mall_fiber_t *f, int dying)
{
    asan_start(dying ? NULL : &f->asan_fake, sched.loop_stack_bottom,
               sched.loop_stack_size);
#if FIBER_ASM
    mall_fiber_swap(&f->sp, sched.loop_sp);
#else
    swapcontext(&f->uc, &sched.loop_uc);
#endif
    asan_finish(f->asan_fake, &sched.loop_stack_bottom,
                &sched.loop_stack_size);
}


static void
fiber_main(mall_fiber_t *f)
{
    asan_finish(NULL, &sched.loop_stack_bottom, &sched.loop_stack_size);
    f->fn(f->arg);
    f->done = 1;
    fiber_switch_out(f, 1);
    abort();                             /* a dead fiber is never resumed */
}


/* ---- stacks ----------------------------------------------------------- */

static mall_fiber_t *
fiber_alloc(void)
{
    mall_fiber_t  *f;

    if (sched.free_list != NULL) {
        f = sched.free_list;
        sched.free_list = f->next;
        sched.nfree--;
        return f;
    }

    f = calloc(1, sizeof(*f));
    if (f == NULL) {
        return NULL;
    }
    f->map_size = sched.stack_size + sched.page;
    f->map = mmap(NULL, f->map_size, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
                  -1, 0);
    if (f->map == MAP_FAILED) {
        mall_log(MALL_LOG_ERROR, "fiber", "mmap of a %zu-byte stack: %s",
                 f->map_size, strerror(errno));
        free(f);
        return NULL;
    }
    /* the guard page: an overflow faults here instead of writing on */
    if (mprotect(f->map, sched.page, PROT_NONE) != 0) {
        munmap(f->map, f->map_size);
        free(f);
        return NULL;
    }
    f->stack = f->map + sched.page;
    f->stack_size = sched.stack_size;
    return f;
}


static void
fiber_free(mall_fiber_t *f)
{
    munmap(f->map, f->map_size);
    free(f);
}


static void
fiber_recycle(mall_fiber_t *f)
{
    sched.live--;
    if (sched.nfree >= sched.keep) {
        fiber_free(f);
        return;
    }
    f->next = sched.free_list;
    sched.free_list = f;
    sched.nfree++;
}


/* ---- scheduling ------------------------------------------------------- */

/* Runs f from the loop until it parks or ends; an ended fiber is reaped. */
static void
fiber_run(mall_fiber_t *f)
{
    fiber_switch_in(f);
    if (f->done) {
        if (sched.exit_hook != NULL) {
            sched.exit_hook(f);
        }
        fiber_recycle(f);
    }
}


static void
fiber_ready_cb(evutil_socket_t fd, short what, void *arg)
{
    mall_fiber_t  *f;

    (void) fd;
    (void) what;
    (void) arg;

    while (sched.ready_head != NULL) {
        f = sched.ready_head;
        sched.ready_head = f->next;
        if (sched.ready_head == NULL) {
            sched.ready_tail = NULL;
        }
        f->next = NULL;
        f->queued = 0;
        fiber_run(f);
    }
}


int
mall_fiber_init(struct event_base *base, size_t stack_size, size_t keep)
{
    long  page;

    page = sysconf(_SC_PAGESIZE);
    sched.page = page > 0 ? (size_t) page : 4096;
    sched.stack_size = (stack_size + sched.page - 1) & ~(sched.page - 1);
    sched.keep = keep;
    sched.ready_ev = event_new(base, -1, 0, fiber_ready_cb, NULL);
    return sched.ready_ev != NULL ? MALL_OK : MALL_ERR;
}


void
mall_fiber_shutdown(void)
{
    mall_fiber_t  *f;

    while ((f = sched.free_list) != NULL) {
        sched.free_list = f->next;
        fiber_free(f);
    }
    sched.nfree = 0;
    if (sched.ready_ev != NULL) {
        event_free(sched.ready_ev);
        sched.ready_ev = NULL;
    }
}


int
mall_fiber_spawn(mall_fiber_fn fn, void *arg)
{
    mall_fiber_t  *f;

    if (sched.current != NULL) {
        mall_log(MALL_LOG_ERROR, "fiber", "spawn from inside a fiber");
        return MALL_ERR;
    }
    f = fiber_alloc();
    if (f == NULL) {
        return MALL_ERR;
    }
    f->fn = fn;
    f->arg = arg;
    f->redis = NULL;
    f->asan_fake = NULL;
    f->next = NULL;
    f->done = 0;
    f->queued = 0;
    fiber_prepare(f);
    sched.live++;
    fiber_run(f);
    return MALL_OK;
}


mall_fiber_t *
mall_fiber_self(void)
{
    return sched.current;
}


void
mall_fiber_park(void)
{
    mall_fiber_t  *f = sched.current;

    if (f == NULL) {
        mall_log(MALL_LOG_ERROR, "fiber", "park outside a fiber");
        abort();
    }
    fiber_switch_out(f, 0);
}


void
mall_fiber_wake(mall_fiber_t *f)
{
    if (f->queued || f->done) {
        return;
    }
    f->queued = 1;
    f->next = NULL;
    if (sched.ready_tail != NULL) {
        sched.ready_tail->next = f;
    } else {
        sched.ready_head = f;
    }
    sched.ready_tail = f;
    event_active(sched.ready_ev, EV_TIMEOUT, 1);
}


void **
mall_fiber_redis_slot(mall_fiber_t *f)
{
    return &f->redis;
}


void
mall_fiber_on_exit(void (*hook)(mall_fiber_t *f))
{
    sched.exit_hook = hook;
}


size_t
mall_fiber_count(void)
{
    return sched.live;
}
