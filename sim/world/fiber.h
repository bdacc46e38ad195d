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
 * more in ASan builds) plus the 64-byte canary, rounded up to 1 KiB, and at
 * least 2 KiB. */
size_t deja_fiber_stack_round(size_t stack_size);
/* Nonzero when f's canary band (the lowest 64 bytes of its stack, zero
 * while its task keeps within the stack) was written: its task overflowed.
 * Eight loads and an OR: it runs at every switch. */
static inline int deja_fiber_overflowed(const deja_fiber *f) {
    if (!f->stack) return 0;
    uint64_t b[8];
    memcpy(b, f->stack, sizeof b);
    return ((b[0] | b[1]) | (b[2] | b[3]) | (b[4] | b[5]) | (b[6] | b[7])) != 0;
}
/* Starts loading f's canary into the cache (a hint; no effect on results). */
static inline void deja_fiber_prefetch(const deja_fiber *f) {
    if (f->stack) __builtin_prefetch(f->stack);
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
/* Saves the current context in from and resumes to. */
void deja_fiber_switch(deja_fiber *from, deja_fiber *to);

#endif /* DEJA_SIM_FIBER_H */
