/*
 * test_real_lost.c -- the production backend reports the contexts and
 * timers a program loses, as the simulator does (tests/test_detect.c): a
 * context made with rt_ctx_with_cancel that its creating task neither
 * cancelled nor released when it returned, a ticker that task left
 * running, and any timer not stopped when the node stops, each with its
 * creation site on stderr and counted in the status lines
 * (lost_contexts, lost_timers). Each site is printed once (a leak per
 * request prints one line), every loss counted; a context with a deadline
 * is never a lost cancel; a ticker reported when its creator returned is
 * not reported again when the node stops; the careful program is reported
 * nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <unistd.h>

#include "deja/rt.h"
#include "real/real.h"
#include "real_fixture.h"

/* Sends stderr to a temporary file until capture_end, which returns what
 * was written (caller frees). */
static FILE *g_cap;
static int g_saved = -1;

static void capture_start(void) {
    fflush(stderr);
    g_cap = tmpfile();
    assert_non_null(g_cap);
    g_saved = dup(2);
    assert_true(g_saved >= 0);
    assert_true(dup2(fileno(g_cap), 2) >= 0);
}

static char *capture_end(void) {
    fflush(stderr);
    assert_true(dup2(g_saved, 2) >= 0);
    close(g_saved);
    long n = ftell(g_cap);
    assert_true(n >= 0);
    char *buf = calloc(1, (size_t)n + 1);
    rewind(g_cap);
    assert_int_equal(fread(buf, 1, (size_t)n, g_cap), (size_t)n);
    fclose(g_cap);
    return buf;
}

static int count_of(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++) n++;
    return n;
}

/* A request handler: a context per request and a ticker; the careless one
 * returns without cancelling the one or stopping the other. */
#define NREQ 3
static rt_ctx *g_ctx[NREQ], *g_dl[NREQ];
static rt_timer *g_tick[NREQ];
static _Atomic int g_next;

static void handler(void *arg) {
    int careful = *(int *)arg;
    int i = g_next++;
    g_ctx[i] = rt_ctx_with_cancel(NULL);
    g_dl[i] = rt_ctx_with_timeout(NULL, 10 * RT_SEC); /* a deadline ends it: never lost */
    g_tick[i] = rt_timer_new("retry", 5 * RT_MS, 5 * RT_MS);
    rt_sleep_ns(20 * RT_MS);
    if (careful) {
        rt_ctx_cancel(g_ctx[i]);
        rt_timer_stop(g_tick[i]);
        g_tick[i] = NULL;
    }
}

static char *run(int careful, unsigned long long *lost_ctx, unsigned long long *lost_timers) {
    uint64_t c0 = real_fixture_status("lost_contexts"), t0 = real_fixture_status("lost_timers");
    capture_start();
    rt_timer *idle = rt_timer_new("idle", RT_MS, 0); /* fires once, then is never stopped */
    g_next = 0;
    for (int i = 0; i < NREQ; i++) assert_int_equal(rt_spawn("handler", handler, &careful), RT_OK);
    rt_sleep_ns(50 * RT_MS);
    if (careful) rt_timer_stop(idle);
    assert_int_equal(real_shutdown(5 * RT_SEC), 0); /* the node stops */
    char *out = capture_end();
    *lost_ctx = real_fixture_status("lost_contexts") - c0;
    *lost_timers = real_fixture_status("lost_timers") - t0;
    /* clean up what the careless program left, for the next test */
    if (!careful) rt_timer_stop(idle);
    for (int i = 0; i < NREQ; i++) {
        if (g_tick[i]) rt_timer_stop(g_tick[i]);
        g_tick[i] = NULL;
        rt_ctx_release(g_dl[i]);
        rt_ctx_release(g_ctx[i]);
    }
    return out;
}

static void test_careless(void **state) {
    (void)state;
    unsigned long long lc, lt;
    char *out = run(0, &lc, &lt);
    assert_int_equal(lc, NREQ); /* every request's context counted ... */
    assert_int_equal(lt, NREQ + 1); /* the tickers when their creators returned, the timer when the node stopped */
    assert_non_null(strstr(out, "LEAK (context): a context made at tests/test_real_lost.c:"));
    assert_non_null(strstr(out, "was neither cancelled nor released when task #"));
    assert_non_null(strstr(out, "'handler' that made it returned"));
    assert_non_null(strstr(out, "LEAK (ticker): 'retry' made at tests/test_real_lost.c:"));
    assert_non_null(strstr(out, "was still running when task #"));
    assert_non_null(strstr(out, "LEAK (timer): 'idle' made at tests/test_real_lost.c:"));
    assert_non_null(strstr(out, "was never stopped (the node stopped)"));
    assert_int_equal(count_of(out, "'retry'"), 1); /* ... each site printed once, as in the simulator */
    assert_int_equal(count_of(out, "LEAK (context)"), 1); /* and not the contexts with a deadline */
    free(out);
}

static void test_careful(void **state) {
    (void)state;
    unsigned long long lc, lt;
    char *out = run(1, &lc, &lt);
    assert_int_equal(lc, 0);
    assert_int_equal(lt, 0);
    assert_null(strstr(out, "LEAK"));
    free(out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_careless, real_fixture_setup, NULL),
        cmocka_unit_test_setup_teardown(test_careful, real_fixture_setup, NULL),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    real_shutdown(RT_SEC);
    return rc;
}
