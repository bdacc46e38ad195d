/*
 * fiber.h -- stackful coroutines for the simulator's tasks.
 *
 * A fiber owns a stack (from a pool of stacks of its size, with overflow
 * caught: see fiber.c) and a saved machine context. deja_fiber_switch()
 * saves the running context into `from` and resumes `to`. Two back ends:
 * a hand-written switch in assembly (sim/arch/, x86-64 and aarch64: saves
 * only the callee-saved registers, a few nanoseconds), and ucontext for
 * sanitizer and valgrind builds (DEJA_UCONTEXT), annotated for ASan.
 */
#ifndef DEJA_SIM_FIBER_H
#define DEJA_SIM_FIBER_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if !defined(DEJA_ASM_SWITCH)
#include <ucontext.h>
#endif

typedef struct deja_fiber {
#if defined(DEJA_ASM_SWITCH)
    void *sp;
#else
    ucontext_t uc;
#endif
    void *stack;       /* lowest address of the stack, NULL for the main fiber */
    size_t stack_size; /* its bytes, the canary band at the bottom included */
} deja_fiber;

/* Prepares f to run entry(arg) on a stack of at least stack_size bytes (a
 * pooled one: see fiber.c) the first time it is switched to. entry must
 * never return. 0, or -1 when no memory is left. */
int deja_fiber_init(deja_fiber *f, size_t stack_size, void (*entry)(void *), void *arg);
/* The bytes a stack asked as stack_size really has: stack_size (four times
 * more in ASan builds) plus the 64-byte canary, rounded up to 1 KiB (at
 * least 2 KiB), plus one cache line (fiber.c says why). */
size_t deja_fiber_stack_round(size_t stack_size);
/* Nonzero when f's canary band (the lowest 64 bytes of its stack, zero
 * while its task keeps within the stack) was written: its task overflowed.
 * Eight loads and an OR: it runs at every switch. */
typedef uint64_t deja__v2 __attribute__((vector_size(16)));
static inline int deja_fiber_overflowed(const deja_fiber *f) {
    if (!f->stack) return 0;
    const char *p = f->stack;
    deja__v2 b0, b1, b2, b3;
    memcpy(&b0, p, 16);
    memcpy(&b1, p + 16, 16);
    memcpy(&b2, p + 32, 16);
    memcpy(&b3, p + 48, 16);
    deja__v2 x = (b0 | b1) | (b2 | b3);
    return (x[0] | x[1]) != 0;
}
/* Starts loading the cache line at p (a hint; no effect on results). The
 * empty volatile asm keeps the compiler from deleting a function that only
 * prefetches, as it deletes calls that have no effect it must keep. */
static inline void deja_prefetch(const void *p) {
    __builtin_prefetch(p);
    __asm__ volatile("");
}
/* Starts loading f's canary into the cache. */
static inline void deja_fiber_prefetch(const deja_fiber *f) {
    if (f->stack) deja_prefetch(f->stack);
}
/* Starts loading what a suspended fiber touches when it resumes: the part
 * of its stack in use, from its saved registers up to the line below the
 * stack's top (at most 8 lines: the blocking paths keep their frames
 * small, and the scheduler's own work runs aside), the line below it (what
 * a task does after it wakes often calls deeper than where it parked: a
 * send that parks, a function of its own, its exit; a line it would
 * otherwise wait for in full), and its canary. Not the top line: it holds
 * the frames that start a task and the first register its function saved,
 * which nothing reads until the task ends. A hint: nothing outside the
 * stack is touched. */
static inline void deja_fiber_warm(const deja_fiber *f) {
    const char *s = f->stack;
    if (!s) return; /* the main fiber, or a freed one */
#if defined(DEJA_ASM_SWITCH)
    uintptr_t lo = ((uintptr_t)f->sp & ~(uintptr_t)63) - 64, hi = (uintptr_t)f->sp + 512;
    uintptr_t top = (uintptr_t)s + f->stack_size - 64;
    if (hi > top) hi = top;
    for (uintptr_t p = lo; p < hi; p += 64) __builtin_prefetch((const void *)p);
#endif
    deja_prefetch(s);
}
/* Reports (through the overflow reporter) and aborts (never returns). */
void deja_fiber_overflow_abort(void);
/* Reports (through the overflow reporter) and aborts when f overflowed. */
static inline void deja_fiber_check(const deja_fiber *f) {
    if (__builtin_expect(deja_fiber_overflowed(f), 0)) deja_fiber_overflow_abort();
}
/* Sets what reports an overflow before the process aborts: report(arg)
 * names the running task; it may run in a signal handler. */
void deja_fiber_on_overflow(void (*report)(void *arg), void *arg);
/* Unmaps the regions of every pool with no stack in use. */
void deja_fiber_trim(void);
/* Stack regions mapped now (each is one mapping plus its guard page). */
size_t deja_fiber_regions(void);
/* Releases f's stack (f must not be running). */
void deja_fiber_free(deja_fiber *f);
/* Runs fn(arg) on the aside stack and returns its result. The aside stack
 * is one process-wide stack (as large as a task's default, with a guard
 * page below) whose top stays in cache: work that a task does for the
 * scheduler, running the timeouts that pick the next task, then touches no
 * more of the task's own stack than this call's 16 bytes. fn must not
 * switch fibers or call deja_fiber_aside (not reentrant; the scheduler's
 * one caller, deja__block, asserts a running task, and fn runs with
 * none). Without the assembly switch, or when the stack cannot be
 * mapped, a plain call. */
#if defined(DEJA_ASM_SWITCH)
extern unsigned char *deja__aside_top; /* NULL until first used */
/* Maps the aside stack; its top, or NULL when it cannot be mapped (then
 * and after: it is tried once). */
unsigned char *deja__aside_init(void);
/* In arch/switch_*.S: calls fn(arg) with the stack pointer at top (16-byte
 * aligned), then restores the caller's. */
extern void *deja__call_on(void *(*fn)(void *), void *arg, void *top);
static inline void *deja_fiber_aside(void *(*fn)(void *), void *arg) {
    unsigned char *top = deja__aside_top;
    if (__builtin_expect(!top, 0) && !(top = deja__aside_init())) return fn(arg);
    return deja__call_on(fn, arg, top);
}
#else
static inline void *deja_fiber_aside(void *(*fn)(void *), void *arg) { return fn(arg); }
#endif
/* Saves the current context in from and resumes to. Returns 0 when from
 * is resumed: a caller whose result that is can end in it, a tail call. */
#if defined(DEJA_ASM_SWITCH)
/* In arch/switch_*.S: saves callee-saved registers on the current stack,
 * stores sp in *from_sp, loads to_sp and restores from it, returns 0. */
extern int deja__switch(void **from_sp, void *to_sp);
static inline int deja_fiber_switch(deja_fiber *from, deja_fiber *to) {
    assert(from != to);
    return deja__switch(&from->sp, to->sp);
}
#else
int deja_fiber_switch(deja_fiber *from, deja_fiber *to);
#endif

#endif /* DEJA_SIM_FIBER_H */
