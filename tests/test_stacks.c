/*
 * test_stacks.c -- task stacks in the simulator: sizes chosen per spawn, per
 * program and per world; many tasks without one kernel mapping each; and a
 * task that overflows its stack stopped with a message naming it, caught
 * by the canary at its next switch or, when it recurses without bound, by
 * the guard page of its stack region (each in a forked child).
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "deja/rt.h"
#include "deja/world.h"

#if defined(__SANITIZE_ADDRESS__)
#define T_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define T_ASAN 1
#endif
#endif

/* Lines of /proc/self/maps: the kernel mappings of this process. */
static int count_maps(void) {
    FILE *f = fopen("/proc/self/maps", "r");
    assert_non_null(f);
    int n = 0, c;
    while ((c = fgetc(f)) != EOF) n += c == '\n';
    fclose(f);
    return n;
}

/* ---- many small tasks, few mappings ------------------------------------- */

#define MANY 40000

static int g_spawned, g_maps_before, g_maps_during;

static void sleeper(void *arg) {
    (void)arg;
    rt_sleep_ns(RT_MS);
}

static void prog_many(rt_ctx *ctx) {
    (void)ctx;
    rt_spawn_opts o = {4096};
    g_maps_before = count_maps();
    for (int i = 0; i < MANY; i++)
        if (rt_spawn_with("sleeper", sleeper, NULL, &o) == RT_OK) g_spawned++;
    g_maps_during = count_maps();
    rt_sleep_ns(2 * RT_MS);
}

/* 40,000 live tasks used to need 80,000 mappings (over the kernel's usual
 * limit of 65,530); pooled stacks need a handful. */
static void test_many_tasks_few_mappings(void **state) {
    (void)state;
    rt_program_register("t-many", prog_many);
    deja_world *w = deja_world_new(1, NULL);
    assert_int_equal(deja_node_add(w, "t-many", 0, 0), 0);
    deja_world_set_duration(w, RT_SEC);
    deja_world_run(w);
    deja_world_shutdown(w, RT_SEC);
    assert_int_equal(deja_world_live_tasks(w, -1), 0);
    deja_world_free(w);
    assert_int_equal(g_spawned, MANY);
    assert_true(g_maps_during - g_maps_before < 64);
}

/* ---- stack sizes: spawn option, program default, world parameter -------- */

static size_t g_depth_ok;

/* Uses about kb KiB of stack; returns kb. */
static __attribute__((noinline)) int use_stack(int kb) {
    volatile char buf[1000];
    buf[0] = 1;
    buf[sizeof buf - 1] = 1;
    int r = kb > 1 ? use_stack(kb - 1) : 0;
    return r + buf[0] * buf[sizeof buf - 1];
}

static void deep_ok(void *arg) {
    int kb = (int)(intptr_t)arg;
    if (use_stack(kb) == kb) g_depth_ok++;
    rt_yield(); /* a switch: the canary is checked and must be intact */
}

static void prog_sizes(rt_ctx *ctx) {
    (void)ctx;
    rt_spawn_opts big = {600 * 1024};
    rt_spawn_with("deep", deep_ok, (void *)(intptr_t)400, &big); /* 400 KiB on a 600 KiB stack */
    rt_spawn("deep", deep_ok, (void *)(intptr_t)100);            /* the program's 200 KiB */
    rt_sleep_ns(RT_MS);
}

static void test_stack_sizes(void **state) {
    (void)state;
    rt_program_register("t-sizes", prog_sizes);
    rt_program_stack("t-sizes", 200 * 1024);
    deja_params *p = deja_params_new();
    deja_params_set(p, "mem.stack_kb", "64"); /* the world's default, overridden by both */
    deja_world *w = deja_world_new(1, p);
    deja_params_free(p);
    g_depth_ok = 0;
    assert_int_equal(deja_node_add(w, "t-sizes", 0, 0), 0);
    deja_world_set_duration(w, RT_SEC);
    deja_world_run(w);
    deja_world_shutdown(w, RT_SEC);
    deja_world_free(w);
    rt_program_stack("t-sizes", 0);
    assert_int_equal(g_depth_ok, 2);
}

/* ---- overflow ------------------------------------------------------------ */

/* Recurses `frames` frames of about 256 bytes each, every byte written
 * (not a tail call). */
static __attribute__((noinline)) int recurse(int frames) {
    volatile char buf[240];
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = (char)(frames | 1);
    if (frames <= 0) return buf[0];
    return recurse(frames - 1) + buf[sizeof buf - 1];
}

static int g_frames;

static void overflower(void *arg) {
    (void)arg;
    volatile int r = recurse(g_frames);
    (void)r;
    rt_yield();
}

static void prog_overflow(rt_ctx *ctx) {
    (void)ctx;
    rt_spawn_opts o = {7 * 1024}; /* a size no other test uses: a fresh pool */
    rt_spawn_with("deep-recursion", overflower, NULL, &o);
    rt_sleep_ns(RT_MS);
}

/* Runs the overflow world in a child; returns its stderr and wait status. */
static int run_child(int frames, char *err, size_t errlen) {
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 2);
        g_frames = frames;
        rt_program_register("t-overflow", prog_overflow);
        deja_world *w = deja_world_new(5, NULL);
        deja_node_add(w, "t-overflow", 0, 0);
        deja_world_set_duration(w, RT_SEC);
        deja_world_run(w);
        _exit(0); /* not reached when the overflow is caught */
    }
    close(fds[1]);
    size_t off = 0;
    ssize_t r;
    while (off + 1 < errlen && (r = read(fds[0], err + off, errlen - 1 - off)) > 0) off += (size_t)r;
    err[off] = 0;
    close(fds[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

/* Deep but bounded recursion past the stack, then a switch: the canary. */
static void test_overflow_caught_at_switch(void **state) {
    (void)state;
    char err[2048];
    int frames = 100; /* ~25 KiB on a 7 KiB stack */
#ifdef T_ASAN
    frames = 400; /* stacks are four times larger in ASan builds */
#endif
    int status = run_child(frames, err, sizeof err);
    print_message("child: %s", err);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
    assert_non_null(strstr(err, "deja: stack overflow: task"));
    assert_non_null(strstr(err, "'deep-recursion' of node 0"));
    assert_non_null(strstr(err, "test_stacks.c"));
}

/* Recursion without bound: down through the region to its guard page. */
static void test_overflow_caught_at_guard(void **state) {
    (void)state;
#ifdef T_ASAN
    skip(); /* AddressSanitizer's own SIGSEGV handler reports this fault */
#else
    char err[2048];
    int status = run_child(1 << 30, err, sizeof err);
    print_message("child: %s", err);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
    assert_non_null(strstr(err, "deja: stack overflow: task"));
    assert_non_null(strstr(err, "'deep-recursion' of node 0"));
#endif
}

/* A task within its stack passes every canary check. */
static void test_no_false_alarm(void **state) {
    (void)state;
    char err[2048];
    int status = run_child(12, err, sizeof err); /* ~3 KiB of 7 */
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_null(strstr(err, "stack overflow"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_tasks_few_mappings),
        cmocka_unit_test(test_stack_sizes),
        cmocka_unit_test(test_overflow_caught_at_switch),
        cmocka_unit_test(test_overflow_caught_at_guard),
        cmocka_unit_test(test_no_false_alarm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
