/*
 * fiber.h -- stackful coroutines for the simulator's tasks.
 *
 * A fiber owns a stack and a saved machine context. deja_fiber_switch()
 * saves the running context into `from` and resumes `to`. Two back ends:
 * a hand-written switch in assembly (sim/arch/, x86-64 and aarch64: saves
 * only the callee-saved registers, a few nanoseconds), and ucontext for
 * sanitizer and valgrind builds (DEJA_UCONTEXT), annotated for ASan.
 */
#ifndef DEJA_SIM_FIBER_H
#define DEJA_SIM_FIBER_H

#include <stddef.h>

#if !defined(DEJA_ASM_SWITCH)
#include <ucontext.h>
#endif

typedef struct deja_fiber {
#if defined(DEJA_ASM_SWITCH)
    void *sp;
#else
    ucontext_t uc;
#endif
    void *stack;       /* mapping base (guard page first), NULL for the main fiber */
    size_t stack_size; /* usable bytes above the guard page */
} deja_fiber;

/* Prepares f to run entry(arg) on a fresh stack of stack_size bytes the
 * first time it is switched to. entry must never return. 0, or -1. */
int deja_fiber_init(deja_fiber *f, size_t stack_size, void (*entry)(void *), void *arg);
/* Releases f's stack (f must not be running). */
void deja_fiber_free(deja_fiber *f);
/* Saves the current context in from and resumes to. */
void deja_fiber_switch(deja_fiber *from, deja_fiber *to);

#endif /* DEJA_SIM_FIBER_H */
