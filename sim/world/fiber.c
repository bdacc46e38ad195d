/*
 * fiber.c -- stacks and context switching for the simulator's tasks (see
 * fiber.h).
 *
 * Stacks come from pooled regions: one pool per stack size, each pool a
 * list of 64 MiB regions, each region one mapping cut into stacks. The
 * count of kernel mappings grows with regions, not with tasks, and a stack
 * costs only the pages its task touches. Overflow is caught two ways:
 *   - a canary: the lowest DEJA__CANARY bytes of every stack stay zero
 *     while its task keeps within it (they start zero: untouched memory
 *     costs no resident page); deja_fiber_overflowed checks them, and the
 *     scheduler calls it at every switch away from a task;
 *   - a guard region: the lowest page of each region is PROT_NONE, so a
 *     task recursing without bound runs down through the stacks below its
 *     own (regions hand out their highest stack first) and faults there; a
 *     SIGSEGV handler on its own signal stack reports it (not in ASan
 *     builds, whose own handler reports the fault).
 * Either way the report names the task and the process stops: a stack
 * that overflowed may have corrupted its neighbours.
 */
#include "fiber.h"

#include <assert.h>
#include <signal.h>
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
#define DEJA__CANARY 64                       /* zero bytes at the bottom of every stack */
_Static_assert(DEJA__CANARY == 8 * sizeof(uint64_t), "deja_fiber_overflowed (fiber.h) reads the band as 8 words");
#define DEJA__REGION ((size_t)64 << 20)       /* bytes of stacks per region */
#define DEJA__MIN_STACK ((size_t)2048)
#define DEJA__SLOT_PAD 64                     /* one cache line past whole KiB: deja_fiber_stack_round */

typedef struct deja__region {
    struct deja__region *next;
    char *map;      /* the mapping: guard page, then n stacks */
    size_t n, used; /* stacks handed out from the top down */
} deja__region;

typedef struct deja__pool {
    struct deja__pool *next;
    size_t slot;           /* bytes per stack */
    void *free;            /* freed stacks, linked through their top word */
    deja__region *regions;
    size_t live;           /* stacks in use */
} deja__pool;

/* Process-wide (the simulator is single threaded; stacks hold no state
 * between uses). */
static deja__pool *deja__pools;
static size_t deja__n_regions;
static void (*deja__overflow_report)(void *);
static void *deja__overflow_arg;

/* A region's stacks lie one slot apart, and a slot is an odd number of
 * cache lines. At a power-of-two stride the same line of every stack (its
 * canary, the frames a parked task's next message touches) would fall in
 * the same few sets of every cache: the L3 indexes by address bits below
 * 2 MiB, all of them virtual in a huge page, so 2 KiB stacks would share
 * 1/32 of its sets (and of the L1's and L2's), and those lines would
 * evict each other while most of the cache sat idle: past 16 tasks in an
 * 8-way 32 KiB L1, 256 in an 8-way 512 KiB L2, about 16,000 in a 16-way
 * 32 MiB L3. One more line per slot spreads them over every set, for 3%
 * more memory at 2 KiB. */
size_t deja_fiber_stack_round(size_t stack_size) {
#ifdef DEJA__ASAN
    stack_size *= 4; /* instrumented frames are several times larger */
#endif
    size_t slot = stack_size + DEJA__CANARY;
    if (slot < DEJA__MIN_STACK) slot = DEJA__MIN_STACK;
    slot = ((slot + 1023) & ~(size_t)1023) + DEJA__SLOT_PAD;
    assert(slot % (2 * DEJA__SLOT_PAD) == DEJA__SLOT_PAD); /* an odd number of lines */
    return slot;
}

size_t deja_fiber_regions(void) { return deja__n_regions; }

void deja_fiber_on_overflow(void (*report)(void *arg), void *arg) {
    deja__overflow_report = report;
    deja__overflow_arg = arg;
}

/* Reports a stack overflow and stops the process. */
static void deja__overflow(void) {
    if (deja__overflow_report) deja__overflow_report(deja__overflow_arg);
    static const char msg[] = "deja: a task overflowed its stack\n";
    if (!deja__overflow_report) (void)!write(2, msg, sizeof msg - 1);
    signal(SIGABRT, SIG_DFL);
    abort();
}

#if defined(DEJA_ASM_SWITCH)
/* The aside stack (deja_fiber_aside): mapped at its first use, for the
 * life of the process, a guard page below it. */
#define DEJA__ASIDE ((size_t)256 * 1024)
unsigned char *deja__aside_top;

unsigned char *deja__aside_init(void) {
    static int failed; /* tried once: later calls run on the caller's stack */
    if (failed) return NULL;
    void *m = mmap(NULL, DEJA__GUARD + DEJA__ASIDE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (m != MAP_FAILED && mprotect(m, DEJA__GUARD, PROT_NONE) != 0) {
        munmap(m, DEJA__GUARD + DEJA__ASIDE);
        m = MAP_FAILED;
    }
    if (m == MAP_FAILED) {
        failed = 1;
        return NULL;
    }
    deja__aside_top = (unsigned char *)m + DEJA__GUARD + DEJA__ASIDE; /* page aligned, so 16-byte aligned */
    return deja__aside_top;
}
#endif

#ifndef DEJA__ASAN
static struct sigaction deja__old_segv;

/* A fault in a region's guard page is a task's runaway recursion: report
 * it; any other fault goes to the handler that was there before. */
static void deja__segv(int sig, siginfo_t *si, void *ctx) {
    char *a = si->si_addr;
    for (deja__pool *p = deja__pools; p; p = p->next)
        for (deja__region *r = p->regions; r; r = r->next)
            if (a >= r->map && a < r->map + DEJA__GUARD) deja__overflow();
#if defined(DEJA_ASM_SWITCH)
    /* the aside stack's guard: the reporter names no task (none runs there) */
    char *aside_guard = deja__aside_top ? (char *)deja__aside_top - DEJA__ASIDE - DEJA__GUARD : NULL;
    if (aside_guard && a >= aside_guard && a < aside_guard + DEJA__GUARD) deja__overflow();
#endif
    sigaction(SIGSEGV, &deja__old_segv, NULL);
    (void)sig;
    (void)ctx; /* returning re-runs the faulting access under the old handler */
}

/* Installs the handler (on its own signal stack) unless it is in place:
 * called at each new region, so a handler set since is chained, not lost. */
static void deja__segv_install(void) {
    struct sigaction cur;
    if (sigaction(SIGSEGV, NULL, &cur) == 0 && (cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == deja__segv)
        return;
    static char alt[64 * 1024];
    stack_t ss = {.ss_sp = alt, .ss_size = sizeof alt, .ss_flags = 0};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = deja__segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (sigaltstack(&ss, NULL) == 0) sigaction(SIGSEGV, &sa, &deja__old_segv);
}
#endif

static deja__pool *deja__pool_for(size_t slot) {
    for (deja__pool *p = deja__pools; p; p = p->next)
        if (p->slot == slot) return p;
    deja__pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->slot = slot;
    p->next = deja__pools;
    deja__pools = p;
    return p;
}

/* A stack of slot bytes (slot from deja_fiber_stack_round): its lowest
 * address, or NULL. */
static void *deja__stack_get(size_t slot) {
    deja__pool *p = deja__pool_for(slot);
    if (!p) return NULL;
    char *s;
    if (p->free) {
        s = p->free;
        memcpy(&p->free, s + slot - sizeof(void *), sizeof(void *));
    } else {
        deja__region *r = p->regions;
        if (!r || r->used == r->n) {
            size_t n = DEJA__REGION / slot;
            if (n < 16) n = 16;
            r = calloc(1, sizeof *r);
            if (!r) return NULL;
            void *m = mmap(NULL, DEJA__GUARD + n * slot, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
            if (m == MAP_FAILED || mprotect(m, DEJA__GUARD, PROT_NONE) != 0) {
                if (m != MAP_FAILED) munmap(m, DEJA__GUARD + n * slot);
                free(r);
                return NULL;
            }
#ifdef MADV_HUGEPAGE
            /* small stacks fill their pages: huge pages spare the TLB */
            if (slot <= 8192 + DEJA__SLOT_PAD) madvise((char *)m + DEJA__GUARD, n * slot, MADV_HUGEPAGE);
#endif
            r->map = m;
            r->n = n;
            r->next = p->regions;
            p->regions = r;
            deja__n_regions++;
#ifndef DEJA__ASAN
            deja__segv_install();
#endif
        }
        s = r->map + DEJA__GUARD + (r->n - 1 - r->used++) * slot;
    }
    p->live++;
    return s;
}

static void deja__stack_put(void *base, size_t slot) {
    deja__pool *p = deja__pool_for(slot);
    assert(p && p->live > 0);
#ifdef DEJA__ASAN
    /* a killed fiber leaves its frames' redzones poisoned: clear them */
    ASAN_UNPOISON_MEMORY_REGION(base, slot);
#endif
    memcpy((char *)base + slot - sizeof(void *), &p->free, sizeof(void *));
    p->free = base;
    p->live--;
}

void deja_fiber_trim(void) {
    for (deja__pool *p = deja__pools; p; p = p->next) {
        if (p->live > 0) continue;
        while (p->regions) {
            deja__region *r = p->regions;
            p->regions = r->next;
            munmap(r->map, DEJA__GUARD + r->n * p->slot);
            free(r);
            deja__n_regions--;
        }
        p->free = NULL;
    }
}

void deja_fiber_overflow_abort(void) { deja__overflow(); }

void deja_fiber_free(deja_fiber *f) {
    if (f->stack) deja__stack_put(f->stack, f->stack_size);
    f->stack = NULL;
}

#if defined(DEJA_ASM_SWITCH)

/* First code a new fiber runs: calls entry(arg) from the saved registers. */
extern void deja__fiber_start(void);

int deja_fiber_init(deja_fiber *f, size_t stack_size, void (*entry)(void *), void *arg) {
    memset(f, 0, sizeof *f);
    size_t slot = deja_fiber_stack_round(stack_size);
    f->stack = deja__stack_get(slot);
    if (!f->stack) return -1;
    f->stack_size = slot;
    uintptr_t top = ((uintptr_t)f->stack + slot) & ~(uintptr_t)15;
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
    size_t slot = deja_fiber_stack_round(stack_size);
    f->stack = deja__stack_get(slot);
    if (!f->stack) return -1;
    f->stack_size = slot;
    if (getcontext(&f->uc) != 0) return -1;
    f->uc.uc_stack.ss_sp = f->stack;
    f->uc.uc_stack.ss_size = slot;
    f->uc.uc_link = NULL;
    uintptr_t e = (uintptr_t)entry, a = (uintptr_t)arg;
    makecontext(&f->uc, (void (*)(void))deja__uc_entry, 4, (unsigned)(e >> 32), (unsigned)e,
                (unsigned)(a >> 32), (unsigned)a);
    return 0;
}

int deja_fiber_switch(deja_fiber *from, deja_fiber *to) {
    assert(from != to);
#ifdef DEJA__ASAN
    void *fake = NULL;
    if (to->stack)
        __sanitizer_start_switch_fiber(&fake, to->stack, to->stack_size);
    else
        __sanitizer_start_switch_fiber(&fake, deja__main_bottom, deja__main_size);
    swapcontext(&from->uc, &to->uc);
    __sanitizer_finish_switch_fiber(fake, NULL, NULL);
#else
    swapcontext(&from->uc, &to->uc);
#endif
    return 0;
}

#endif
