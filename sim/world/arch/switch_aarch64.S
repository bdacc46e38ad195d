/*
 * switch_aarch64.S -- the simulator's fast fiber switch for AArch64 (AAPCS64).
 *
 * deja__switch(void **from_sp, void *to_sp): saves d8-d15 and x19-x30 in a
 * 176-byte frame on the current stack, stores sp in *from_sp, loads to_sp,
 * restores the same frame and returns 0 through x30. Frame layout (8-byte
 * slots): d8..d15 at 0..7, x19..x30 at 8..19, two spare. A new fiber's
 * frame (deja_fiber_init) holds entry in x19, arg in x20, and
 * deja__fiber_start in x30. deja__call_on runs a function on another
 * stack (deja_fiber_aside).
 */
    .text
    .globl deja__switch
    .type deja__switch, %function
deja__switch:
    sub sp, sp, #176
    stp d8, d9, [sp, #0]
    stp d10, d11, [sp, #16]
    stp d12, d13, [sp, #32]
    stp d14, d15, [sp, #48]
    stp x19, x20, [sp, #64]
    stp x21, x22, [sp, #80]
    stp x23, x24, [sp, #96]
    stp x25, x26, [sp, #112]
    stp x27, x28, [sp, #128]
    stp x29, x30, [sp, #144]
    mov x9, sp
    str x9, [x0]
    mov sp, x1
    ldp d8, d9, [sp, #0]
    ldp d10, d11, [sp, #16]
    ldp d12, d13, [sp, #32]
    ldp d14, d15, [sp, #48]
    ldp x19, x20, [sp, #64]
    ldp x21, x22, [sp, #80]
    ldp x23, x24, [sp, #96]
    ldp x25, x26, [sp, #112]
    ldp x27, x28, [sp, #128]
    ldp x29, x30, [sp, #144]
    add sp, sp, #176
    mov x0, #0
    ret
    .size deja__switch, .-deja__switch

    .globl deja__fiber_start
    .type deja__fiber_start, %function
deja__fiber_start:
    mov x0, x20
    blr x19
    brk #0
    .size deja__fiber_start, .-deja__fiber_start

/* void *deja__call_on(void *(*fn)(void *), void *arg, void *top): calls
 * fn(arg) with sp at top (16-byte aligned), then returns fn's result on
 * the caller's stack. x29 holds the caller's stack pointer meanwhile (the
 * CFI says so: debuggers unwind from fn into the caller). Its frame is
 * marked a signal frame: the caller's frame is on another stack, above or
 * below this one wherever the two were mapped, and a debugger follows a
 * signal frame to a caller on any stack (gdb names it "<signal handler
 * called>"), where it stops at a normal frame whose caller looks younger. */
    .globl deja__call_on
    .type deja__call_on, %function
deja__call_on:
    .cfi_startproc
    .cfi_signal_frame
    stp x29, x30, [sp, #-16]!
    .cfi_def_cfa_offset 16
    .cfi_offset x29, -16
    .cfi_offset x30, -8
    mov x29, sp
    .cfi_def_cfa_register x29
    mov x9, x0
    mov x0, x1
    mov sp, x2
    blr x9
    mov sp, x29
    .cfi_def_cfa_register sp
    ldp x29, x30, [sp], #16
    .cfi_def_cfa_offset 0
    .cfi_restore x29
    .cfi_restore x30
    ret
    .cfi_endproc
    .size deja__call_on, .-deja__call_on

    .section .note.GNU-stack,"",%progbits
