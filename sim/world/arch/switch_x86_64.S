/*
 * switch_x86_64.S -- the simulator's fast fiber switch for x86-64 (SysV).
 *
 * deja__switch(void **from_sp, void *to_sp): pushes the callee-saved
 * registers (rbp rbx r12-r15) on the current stack, stores rsp in *from_sp,
 * loads to_sp and pops the same registers from it, then returns 0 into the
 * other fiber. deja__fiber_start is where a new fiber begins: its frame
 * (built by deja_fiber_init) holds entry in r12 and arg in r13.
 * deja__call_on runs a function on another stack (deja_fiber_aside).
 */
    .text
    .globl deja__switch
    .type deja__switch, @function
deja__switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    xorl %eax, %eax
    ret
    .size deja__switch, .-deja__switch

    .globl deja__fiber_start
    .type deja__fiber_start, @function
deja__fiber_start:
    movq %r13, %rdi
    callq *%r12
    ud2
    .size deja__fiber_start, .-deja__fiber_start

/* void *deja__call_on(void *(*fn)(void *), void *arg, void *top): calls
 * fn(arg) with rsp at top (16-byte aligned), then returns fn's result on
 * the caller's stack. rbp holds the caller's stack pointer meanwhile (the
 * CFI says so: debuggers unwind from fn into the caller). Its frame is
 * marked a signal frame: the caller's frame is on another stack, above or
 * below this one wherever the two were mapped, and a debugger follows a
 * signal frame to a caller on any stack (gdb names it "<signal handler
 * called>"), where it stops at a normal frame whose caller looks younger. */
    .globl deja__call_on
    .type deja__call_on, @function
deja__call_on:
    .cfi_startproc
    .cfi_signal_frame
    pushq %rbp
    .cfi_def_cfa_offset 16
    .cfi_offset %rbp, -16
    movq %rsp, %rbp
    .cfi_def_cfa_register %rbp
    movq %rdi, %rax
    movq %rsi, %rdi
    movq %rdx, %rsp
    callq *%rax
    movq %rbp, %rsp
    .cfi_def_cfa_register %rsp
    popq %rbp
    .cfi_def_cfa_offset 8
    ret
    .cfi_endproc
    .size deja__call_on, .-deja__call_on

    .section .note.GNU-stack,"",@progbits
