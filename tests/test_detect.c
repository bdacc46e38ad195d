/*
 * test_detect.c -- the detectors any node gets, on tiny nodes of the test's
 * own (no oracle written): a plain AB/BA pair of mutexes is a deadlock with
 * its cycle named; the same pair with lock timeouts is counted, a verdict
 * only on request; a node whose tasks all wait on each other is a stall; a
 * context never cancelled, a ticker left running and a timer never stopped
 * are leaks with their creation sites; a task group that keeps growing is a
 * leak while the run goes; the watchdog names a wait longer than its bound;
 * --dump-at diffs show the growing group; the careful variants are clean;
 * and no detector changes a run's digest.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "detect_judge.h"

/* ---- AB/BA ----------------------------------------------------------------------- */

typedef struct pair {
    rt_mutex *a, *b;
    int64_t timeout;
} pair;

static void take_ab(void *arg) {
    pair *p = arg;
    if (rt_mutex_lock(p->a, p->timeout) != RT_OK) return;
    rt_sleep_ns(10 * RT_MS);
    if (rt_mutex_lock(p->b, p->timeout) == RT_OK) rt_mutex_unlock(p->b);
    rt_mutex_unlock(p->a);
}

static void take_ba(void *arg) {
    pair *p = arg;
    if (rt_mutex_lock(p->b, p->timeout) != RT_OK) return;
    rt_sleep_ns(10 * RT_MS);
    if (rt_mutex_lock(p->a, p->timeout) == RT_OK) rt_mutex_unlock(p->a);
    rt_mutex_unlock(p->b);
}

static void abba_run(rt_ctx *ctx, int64_t timeout) {
    pair p = {rt_mutex_new("A"), rt_mutex_new("B"), timeout};
    rt_spawn("importer", take_ab, &p);
    rt_spawn("compactor", take_ba, &p);
    rt_chan_recv(rt_ctx_done(ctx), NULL, RT_FOREVER);
    if (timeout >= 0) { /* both gave up: the mutexes are free again */
        rt_sleep_ns(2 * timeout);
        rt_mutex_free(p.a);
        rt_mutex_free(p.b);
    }
}

static void prog_abba(rt_ctx *ctx) { abba_run(ctx, RT_FOREVER); }
static void prog_abba_timeout(rt_ctx *ctx) { abba_run(ctx, 200 * RT_MS); }

static void test_abba_deadlock(void **state) {
    (void)state;
    rt_program_register("t-abba", prog_abba);
    deja_detect_stat st;
    char v[32], *r;
    judge("t-abba", NULL, 5 * RT_SEC, &st, v, sizeof v, &r);
    assert_string_equal(v, "deadlock");
    assert_int_equal(st.deadlocks, 1);
    assert_int_equal(st.verdict_ns, 10 * RT_MS); /* the instant the cycle closed */
    /* both tasks, both locks, where each was taken and where each waits */
    assert_non_null(strstr(r, "a cycle of 2 tasks"));
    assert_non_null(strstr(r, "'importer' (spawned at tests/test_detect.c:"));
    assert_non_null(strstr(r, "'compactor' (spawned at tests/test_detect.c:"));
    assert_non_null(strstr(r, "holds mutex 'A', taken at tests/test_detect.c:"));
    assert_non_null(strstr(r, "holds mutex 'B', taken at tests/test_detect.c:"));
    assert_non_null(strstr(r, "waits for mutex 'A' at tests/test_detect.c:"));
    assert_non_null(strstr(r, "waits for mutex 'B' at tests/test_detect.c:"));
    assert_non_null(strstr(st.what, "deadlock node 0"));
    free(r);
}

static void test_abba_timeout(void **state) {
    (void)state;
    rt_program_register("t-abba-to", prog_abba_timeout);
    deja_detect_stat st;
    char v[32], *r;
    judge("t-abba-to", NULL, 5 * RT_SEC, &st, v, sizeof v, &r);
    assert_string_equal(v, "ok"); /* the timeouts break the cycle: counted only */
    assert_int_equal(st.deadlocks, 0);
    assert_int_equal(st.deadlock_timeouts, 1);
    assert_non_null(strstr(r, "broken by a lock timeout"));
    free(r);
    const char *sets[] = {"deadlock.timeout_verdict=1", NULL};
    judge("t-abba-to", sets, 5 * RT_SEC, &st, v, sizeof v, &r);
    assert_string_equal(v, "deadlock_timeout");
    free(r);
}

/* ---- a stall with no cycle ------------------------------------------------------ */

typedef struct stall {
    rt_chan *ch;
    rt_wg *wg;
} stall;

static void stall_worker(void *arg) {
    stall *s = arg;
    int v;
    rt_chan_recv(s->ch, &v, RT_FOREVER); /* only main could send, and main waits for us */
    rt_wg_done(s->wg);
}

static void prog_stall(rt_ctx *ctx) {
    (void)ctx;
    stall s = {rt_chan_new("work", sizeof(int), 0), rt_wg_new()};
    rt_wg_add(s.wg, 1);
    rt_spawn("worker", stall_worker, &s);
    rt_sleep_ns(RT_SEC);
    rt_wg_wait(s.wg, RT_FOREVER); /* forgot to send the work first */
}

static void test_stall(void **state) {
    (void)state;
    rt_program_register("t-stall", prog_stall);
    deja_detect_stat st;
    char v[32], *r;
    judge("t-stall", NULL, 5 * RT_SEC, &st, v, sizeof v, &r);
    assert_string_equal(v, "deadlock");
    assert_int_equal(st.verdict_ns, RT_SEC);
    assert_non_null(strstr(r, "DEADLOCK (stall) on node 0: all 2 tasks wait"));
    assert_non_null(strstr(r, "waitgroup"));
    assert_non_null(strstr(r, "chan recv work at tests/test_detect.c:"));
    free(r);
}

/* ---- contexts and timers their creator lost ---------------------------------------- */

static void ctx_waiter(void *arg) { rt_chan_recv(rt_ctx_done(arg), NULL, RT_FOREVER); }

/* A request handler: a context per request, a watcher on it, and (careless
 * variant) no cancel when it returns; a ticker per request left running. */
static void handler(void *arg) {
    int careful = *(int *)arg;
    rt_ctx *c = rt_ctx_with_cancel(NULL);
    rt_spawn("ctx-watcher", ctx_waiter, c);
    rt_timer *tk = rt_timer_new("retry", 50 * RT_MS, 50 * RT_MS);
    rt_sleep_ns(100 * RT_MS);
    if (careful) {
        rt_ctx_cancel(c);
        rt_timer_stop(tk);
    }
}

static int g_careful;

static void prog_lost(rt_ctx *ctx) {
    rt_timer *t = rt_timer_new("idle", 100 * RT_MS, 0); /* fires, then is never stopped */
    rt_spawn("handler", handler, &g_careful);
    rt_chan_recv(rt_ctx_done(ctx), NULL, RT_FOREVER);
    if (g_careful) rt_timer_stop(t);
}

static void test_lost_ctx_and_timers(void **state) {
    (void)state;
    rt_program_register("t-lost", prog_lost);
    deja_detect_stat st;
    char v[32], *r;
    g_careful = 0;
    judge("t-lost", NULL, 2 * RT_SEC, &st, v, sizeof v, &r);
    assert_string_equal(v, "leak");
    assert_int_equal(st.lost_contexts, 1);
    assert_int_equal(st.lost_timers, 2); /* the ticker when its creator returned, the timer at the node's stop */
    assert_int_equal(st.verdict_ns, 100 * RT_MS);
    assert_non_null(strstr(r, "LEAK (context) on node 0: a context made at tests/test_detect.c:"));
    assert_non_null(strstr(r, "1 task wait only on it"));
    assert_non_null(strstr(r, "LEAK (ticker) on node 0: a ticker 'retry' made at tests/test_detect.c:"));
    assert_non_null(strstr(r, "'idle' made at tests/test_detect.c:"));
    assert_non_null(strstr(r, "was never stopped (the node stopped)"));
    free(r);
    g_careful = 1;
    judge("t-lost", NULL, 2 * RT_SEC, &st, v, sizeof v, &r);
    assert_string_equal(v, "ok");
    assert_int_equal(st.lost_contexts + st.lost_timers, 0);
    assert_string_equal(r, "");
    free(r);
}

/* ---- a growing task group, the watchdog, dumps at instants ----------------------------- */

static void hang(void *arg) { rt_chan_recv(arg, NULL, RT_FOREVER); }

static void prog_grow(rt_ctx *ctx) {
    rt_chan *never = rt_chan_new("never", 1, 0);
    for (;;) {
        rt_case c = {rt_ctx_done(ctx), RT_RECV, NULL, 0};
        if (rt_select(&c, 1, 100 * RT_MS) == 0) break;
        rt_spawn("hung", hang, never);
    }
    rt_chan_close(never);
    rt_sleep_ns(RT_MS);
    rt_chan_free(never);
}

static void test_growth_and_watchdog(void **state) {
    (void)state;
    rt_program_register("t-grow", prog_grow);
    deja_detect_stat st;
    char v[32], *r;
    judge("t-grow", NULL, 10 * RT_SEC, &st, v, sizeof v, &r);
    assert_string_equal(v, "leak");
    assert_int_equal(st.leak_groups, 1);
    assert_int_equal(st.verdict_ns, 3 * RT_SEC); /* samples at 1, 2, 3 s each saw more */
    assert_non_null(strstr(r, "'hung' spawned at tests/test_detect.c:"));
    assert_non_null(strstr(r, "chan recv at tests/test_detect.c:"));
    assert_non_null(strstr(r, "last counts: 10 20 30"));
    free(r);
    /* a slower sampler with more rises catches it later; the watchdog names the waits */
    const char *sets[] = {"leak.rises=5", "watch.block_ms=2500", "watch.verdict=1", NULL};
    judge("t-grow", sets, 10 * RT_SEC, &st, v, sizeof v, &r);
    assert_string_equal(v, "stuck"); /* at 2.5 s, before the 5th rising sample */
    assert_true(st.stuck >= 1);
    assert_non_null(strstr(r, "STUCK on node 0: task"));
    assert_non_null(strstr(r, "blocked on chan recv never at tests/test_detect.c:"));
    free(r);
}

static void test_dump_diff(void **state) {
    (void)state;
    rt_program_register("t-grow", prog_grow);
    deja_params *p = common_params(NULL);
    deja_world *w = deja_world_new(1, p);
    assert_int_equal(deja_node_add(w, "t-grow", 0, 0), 0);
    deja_world_set_duration(w, 3 * RT_SEC);
    char err[128];
    assert_int_equal(deja_world_apply_common(w, p, err, sizeof err), 0);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    int64_t at[2] = {RT_SEC, 2 * RT_SEC};
    deja_world_dump_at(w, at, 2, true, f);
    deja_world_run(w);
    deja_world_shutdown(w, RT_SEC);
    deja_world_free(w);
    deja_params_free(p);
    fclose(f);
    assert_non_null(strstr(buf, "--- task dump at t=1000000000 ns"));
    assert_non_null(strstr(buf, "--- task dump at t=2000000000 ns"));
    assert_non_null(strstr(buf, "--- dump diff t=1000 ms -> t=2000 ms"));
    assert_non_null(strstr(buf, "+10 node 0 'hung' spawned at tests/test_detect.c:"));
    assert_non_null(strstr(buf, "(10 -> 20)"));
    assert_non_null(strstr(buf, "blocked_for"));
    free(buf);
}

/* ---- no detector changes the run ------------------------------------------------------ */

static void test_digest_unchanged(void **state) {
    (void)state;
    rt_program_register("t-abba", prog_abba);
    rt_program_register("t-lost", prog_lost);
    rt_program_register("t-grow", prog_grow);
    const char *off[] = {"deadlock.detect=0", "leak.sample_ms=0", "leak.lost=0", NULL};
    const char *on[] = {"watch.block_ms=100", "leak.sample_ms=7", NULL};
    const char *progs[] = {"t-abba", "t-lost", "t-grow"};
    g_careful = 0;
    for (int i = 0; i < 3; i++) {
        deja_detect_stat st;
        char v[32], *r1, *r2, *r3;
        uint64_t a = judge(progs[i], NULL, 3 * RT_SEC, &st, v, sizeof v, &r1);
        uint64_t b = judge(progs[i], off, 3 * RT_SEC, &st, v, sizeof v, &r2);
        uint64_t c = judge(progs[i], on, 3 * RT_SEC, &st, v, sizeof v, &r3);
        assert_string_equal(r2, "");
        assert_true(a == b && b == c);
        free(r1);
        free(r2);
        free(r3);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_abba_deadlock),      cmocka_unit_test(test_abba_timeout),
        cmocka_unit_test(test_stall),              cmocka_unit_test(test_lost_ctx_and_timers),
        cmocka_unit_test(test_growth_and_watchdog), cmocka_unit_test(test_dump_diff),
        cmocka_unit_test(test_digest_unchanged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
