/*
 * fiber.c -- stacks and context switching for the simulator's tasks (see
 * fiber.h). Stacks are mmap'd with a PROT_NONE guard page below them so an
 * overflow faults at once instead of corrupting a neighbour, and are kept
 * in a small free list because runs spawn and end many short tasks.
 */
#include "fiber.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define DEJA__ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DEJA__ASAN 1
#endif
#endif

#ifdef DEJA__ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

#define DEJA__GUARD 4096
#define DEJA__POOL 64

/* A process-wide pool of spare stacks of one size (the simulator is single
 * threaded, and stacks hold no state between uses). */
static struct {
    void *base[DEJA__POOL];
    size_t size;
    int n;
} deja__pool;

static void *deja__stack_get(size_t size) {
    if (deja__pool.n > 0 && deja__pool.size == size) return deja__pool.base[--deja__pool.n];
    void *p = mmap(NULL, size + DEJA__GUARD, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return NULL;
    if (mprotect(p, DEJA__GUARD, PROT_NONE) != 0) {
        munmap(p, size + DEJA__GUARD);
        return NULL;
    }
    return p;
}

static void deja__stack_put(void *base, size_t size) {
#ifdef DEJA__ASAN
    /* a killed fiber leaves its frames' redzones poisoned: clear them */
    ASAN_UNPOISON_MEMORY_REGION((char *)base + DEJA__GUARD, size);
#endif
    if (deja__pool.n == 0) deja__pool.size = size;
    if (deja__pool.n < DEJA__POOL && deja__pool.size == size) {
        deja__pool.base[deja__pool.n++] = base;
        return;
    }
    munmap(base, size + DEJA__GUARD);
}

void deja_fiber_free(deja_fiber *f) {
    if (f->stack) deja__stack_put(f->stack, f->stack_size);
    f->stack = NULL;
}

#if defined(DEJA_ASM_SWITCH)

/* In sim/arch/switch_*.S: saves callee-saved registers on the current stack,
 * stores sp in *from_sp, loads to_sp and restores from it. */
extern void deja__switch(void **from_sp, void *to_sp);
/* First code a new fiber runs: calls entry(arg) from the saved registers. */
extern void deja__fiber_start(void);

int deja_fiber_init(deja_fiber *f, size_t stack_size, void (*entry)(void *), void *arg) {
    memset(f, 0, sizeof *f);
    f->stack = deja__stack_get(stack_size);
    if (!f->stack) return -1;
    f->stack_size = stack_size;
    uintptr_t top = ((uintptr_t)f->stack + DEJA__GUARD + stack_size) & ~(uintptr_t)15;
#if defined(__x86_64__)
    /* frame popped by deja__switch: r15 r14 r13 r12 rbx rbp, then ret */
    uint64_t *sp = (uint64_t *)(top - 72);
    sp[0] = 0;                           /* r15 */
    sp[1] = 0;                           /* r14 */
    sp[2] = (uint64_t)(uintptr_t)arg;    /* r13 */
    sp[3] = (uint64_t)(uintptr_t)entry;  /* r12 */
    sp[4] = 0;                           /* rbx */
    sp[5] = 0;                           /* rbp */
    sp[6] = (uint64_t)(uintptr_t)deja__fiber_start;
    sp[7] = 0;
    sp[8] = 0;
    f->sp = sp;
#elif defined(__aarch64__)
    /* frame popped by deja__switch: d8-d15, x19-x30 (22 slots, 176 bytes) */
    uint64_t *sp = (uint64_t *)(top - 176);
    memset(sp, 0, 176);
    sp[8] = (uint64_t)(uintptr_t)entry;  /* x19 */
    sp[9] = (uint64_t)(uintptr_t)arg;    /* x20 */
    sp[19] = (uint64_t)(uintptr_t)deja__fiber_start; /* x30 (lr) */
    f->sp = sp;
#else
#error "no assembly switch for this architecture: build with -DDEJA_UCONTEXT=ON"
#endif
    return 0;
}

void deja_fiber_switch(deja_fiber *from, deja_fiber *to) {
    assert(from != to);
    deja__switch(&from->sp, to->sp);
}

#else /* ucontext */

#ifdef DEJA__ASAN
/* Bounds of the thread's own stack (where the scheduler runs), learnt from
 * ASan on the first switch into a fiber. */
static const void *deja__main_bottom;
static size_t deja__main_size;
#endif

/* makecontext passes int arguments only: split the two pointers. */
static void deja__uc_entry(unsigned e_hi, unsigned e_lo, unsigned a_hi, unsigned a_lo) {
#ifdef DEJA__ASAN
    const void *bottom = NULL;
    size_t size = 0;
    __sanitizer_finish_switch_fiber(NULL, &bottom, &size);
    if (!deja__main_bottom) {
        deja__main_bottom = bottom;
        deja__main_size = size;
    }
#endif
    void (*entry)(void *) = (void (*)(void *))(((uintptr_t)e_hi << 32) | (uintptr_t)e_lo);
    void *arg = (void *)(((uintptr_t)a_hi << 32) | (uintptr_t)a_lo);
    entry(arg);
    abort(); /* entry never returns */
}

int deja_fiber_init(deja_fiber *f, size_t stack_size, void (*entry)(void *), void *arg) {
    memset(f, 0, sizeof *f);
    f->stack = deja__stack_get(stack_size);
    if (!f->stack) return -1;
    f->stack_size = stack_size;
    if (getcontext(&f->uc) != 0) return -1;
    f->uc.uc_stack.ss_sp = (char *)f->stack + DEJA__GUARD;
    f->uc.uc_stack.ss_size = stack_size;
    f->uc.uc_link = NULL;
    uintptr_t e = (uintptr_t)entry, a = (uintptr_t)arg;
    makecontext(&f->uc, (void (*)(void))deja__uc_entry, 4, (unsigned)(e >> 32), (unsigned)e,
                (unsigned)(a >> 32), (unsigned)a);
    return 0;
}

void deja_fiber_switch(deja_fiber *from, deja_fiber *to) {
    assert(from != to);
#ifdef DEJA__ASAN
    void *fake = NULL;
    if (to->stack)
        __sanitizer_start_switch_fiber(&fake, (char *)to->stack + DEJA__GUARD, to->stack_size);
    else
        __sanitizer_start_switch_fiber(&fake, deja__main_bottom, deja__main_size);
    swapcontext(&from->uc, &to->uc);
    __sanitizer_finish_switch_fiber(fake, NULL, NULL);
#else
    swapcontext(&from->uc, &to->uc);
#endif
}

#endif
