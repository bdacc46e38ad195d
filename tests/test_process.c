/*
 * test_process.c -- process faults and the memory model: a crash kills
 * every task and a restart runs the program again; a pause freezes a node
 * while its clocks run on; a node whose memory grows is OOM-killed at the
 * same simulated instant on every replay, and restarted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "world_build.h"

#include "deja/rt.h"
#include "deja/world.h"

static int g_starts;
static int64_t g_events[16][2];
static int g_n_events;

static void on_fact(void *arg, uint32_t node, int64_t now, const rt_fact *f) {
    (void)arg, (void)node;
    if ((int)f->kind >= DEJA_FACT_CRASH && g_n_events < 16) {
        g_events[g_n_events][0] = (int64_t)f->kind;
        g_events[g_n_events][1] = now;
        g_n_events++;
    }
}

static deja_world *make(uint64_t seed, const char *prog, const char *const *sets, int64_t dur) {
    g_starts = 0;
    g_n_events = 0;
    deja_world *w = one_node_world(seed, prog, sets, dur, on_fact);
    return w;
}

static void finish(deja_world *w) {
    deja_world_shutdown(w, RT_SEC);
    deja_world_free(w);
}

/* ---- crash and restart ---------------------------------------------------- */

static void worker(void *arg) {
    (void)arg;
    for (;;) rt_sleep_ns(RT_SEC);
}

static void prog_crashy(rt_ctx *ctx) {
    g_starts++;
    for (int i = 0; i < 3; i++) rt_spawn("worker", worker, NULL);
    rt_chan_recv(rt_ctx_done(ctx), NULL, RT_FOREVER);
}

static void test_crash_restart(void **state) {
    (void)state;
    rt_program_register("t-crashy", prog_crashy);
    deja_world *w = make(1, "t-crashy", NULL, 10 * RT_SEC);
    deja_node_crash(w, 0, 3 * RT_SEC, 2 * RT_SEC);
    deja_world_run(w);
    assert_int_equal(g_starts, 2);
    assert_int_equal(g_n_events, 2);
    assert_int_equal(g_events[0][0], DEJA_FACT_CRASH);
    assert_int_equal(g_events[0][1], 3 * RT_SEC);
    assert_int_equal(g_events[1][0], DEJA_FACT_RESTART);
    assert_int_equal(g_events[1][1], 5 * RT_SEC);
    assert_int_equal(deja_world_live_tasks(w, 0), 4); /* main + 3 workers, once */
    finish(w);
}

static void test_crash_schedule_from_params(void **state) {
    (void)state;
    static const char *const sets[] = {"fault.crash_every_s=10", "fault.restart_ms=500", NULL};
    deja_world *w = make(3, "t-crashy", sets, 60 * RT_SEC);
    deja_world_run(w);
    assert_in_range(g_starts, 4, 13);
    finish(w);
}

/* ---- pause: frozen tasks, running clocks ----------------------------------- */

static char g_log[256];

static void prog_ticker(rt_ctx *ctx) {
    (void)ctx;
    int64_t m0 = rt_mono_ns();
    for (int i = 0; i < 4; i++) {
        rt_sleep_ns(RT_SEC);
        size_t off = strlen(g_log);
        snprintf(g_log + off, sizeof g_log - off, "%lld,", (long long)((rt_mono_ns() - m0) / RT_MS));
    }
}

static void test_pause(void **state) {
    (void)state;
    rt_program_register("t-ticker", prog_ticker);
    g_log[0] = 0;
    deja_world *w = make(1, "t-ticker", NULL, 10 * RT_SEC);
    deja_node_pause(w, 0, 1500 * RT_MS, 1200 * RT_MS); /* frozen 1.5 s .. 2.7 s */
    deja_world_run(w);
    /* the tick due at 2 s runs at 2.7 s; the next sleep starts from there */
    assert_string_equal(g_log, "1000,2700,3700,4700,");
    finish(w);
}

/* ---- OOM: a leak per tick, killed at the same instant every time ----------- */

static void prog_leaky(rt_ctx *ctx) {
    (void)ctx;
    g_starts++;
    for (;;) {
        void *p = rt_malloc(64 * 1024); /* never freed: the leak */
        memset(p, 1, 64 * 1024);
        rt_sleep_ns(100 * RT_MS);
    }
}

static int64_t oom_time(uint64_t seed, char *report, size_t len) {
    static const char *const sets[] = {"mem.limit_mb=1", "mem.sample_ms=200", "fault.restart_ms=1000", NULL};
    deja_world *w = make(seed, "t-leaky", sets, 10 * RT_SEC);
    deja_world_run(w);
    int64_t t = -1;
    for (int i = 0; i < g_n_events; i++)
        if (g_events[i][0] == DEJA_FACT_OOM) {
            t = g_events[i][1];
            break;
        }
    assert_true(g_starts >= 2); /* restarted after the kill */
    assert_non_null(deja_world_oom_report(w));
    snprintf(report, len, "%s", deja_world_oom_report(w));
    finish(w);
    return t;
}

static void test_oom_deterministic(void **state) {
    (void)state;
    rt_program_register("t-leaky", prog_leaky);
    char r1[4096], r2[4096];
    int64_t a = oom_time(5, r1, sizeof r1), b = oom_time(5, r2, sizeof r2);
    assert_true(a > 0);
    assert_true(a == b);
    assert_string_equal(r1, r2);
    assert_non_null(strstr(r1, "OOM kill: node 0"));
    assert_non_null(strstr(r1, "task dump"));
    /* about 16 leaks of 64 KiB fit in 1 MiB: the kill comes near 1.5 s */
    assert_in_range(a, RT_SEC, 2 * RT_SEC);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crash_restart),
        cmocka_unit_test(test_crash_schedule_from_params),
        cmocka_unit_test(test_pause),
        cmocka_unit_test(test_oom_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
