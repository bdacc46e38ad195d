/*
 * test_timesync.c -- time sync (node/timesync.c) and its scenario: the pure
 * pieces on hand-made numbers (NTP's formulas, Marzullo's intersection
 * dropping a falseticker, the least-squares fit recovering a known drift),
 * a node that starts and stops time sync in a small world (no task left,
 * the drift found), and the `timesync` scenario end to end: the issue's
 * acceptance (50 ppm drift, one falseticker: calibrated P99 well below raw
 * P99), determinism, no leaked task, and AuRa validating block timestamps
 * against the calibrated clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "scenario_run.h"

#include "deja/models.h"
#include "node.h"
#include "deja/deja.h"
#include "deja/rt.h"
#include "deja/world.h"
#include "timesync.h"

/* ---- pure pieces ------------------------------------------------------------ */

static void test_sample_eval(void **state) {
    (void)state;
    /* server 5 ms ahead, 10 ms out, 20 ms back, 1 ms processing */
    int64_t t1 = 1000 * RT_MS;
    rt_time_sample s = {.t1 = t1, .t2 = t1 + 15 * RT_MS, .t3 = t1 + 16 * RT_MS, .t4 = t1 + 31 * RT_MS};
    int64_t off, delay;
    timesync_sample_eval(&s, &off, &delay);
    assert_int_equal(delay, 30 * RT_MS);
    /* true offset 5 ms; the asymmetry (10 vs 20) costs half its difference */
    assert_int_equal(off, 0);
    s.t4 = t1 + 21 * RT_MS; /* symmetric: 10 ms each way */
    s.t2 = t1 + 15 * RT_MS;
    timesync_sample_eval(&s, &off, &delay);
    assert_int_equal(delay, 20 * RT_MS);
    assert_int_equal(off, 5 * RT_MS);
}

static void test_marzullo_drops_falseticker(void **state) {
    (void)state;
    timesync_interval iv[4] = {
        {8 * RT_MS, 12 * RT_MS},
        {11 * RT_MS, 13 * RT_MS},
        {500 * RT_MS, 520 * RT_MS}, /* the falseticker */
        {10 * RT_MS, 15 * RT_MS},
    };
    bool keep[4];
    int64_t lo, hi;
    assert_int_equal(timesync_marzullo(iv, 4, &lo, &hi, keep), 3);
    assert_int_equal(lo, 11 * RT_MS);
    assert_int_equal(hi, 12 * RT_MS);
    assert_true(keep[0] && keep[1] && keep[3]);
    assert_false(keep[2]);
    /* touching closed intervals share their endpoint */
    timesync_interval t[2] = {{0, 5}, {5, 9}};
    assert_int_equal(timesync_marzullo(t, 2, &lo, &hi, keep), 2);
    assert_int_equal(lo, 5);
    assert_int_equal(hi, 5);
    /* all disjoint: no two agree */
    timesync_interval d[3] = {{0, 1}, {10, 11}, {20, 21}};
    assert_int_equal(timesync_marzullo(d, 3, &lo, &hi, keep), 1);
    assert_int_equal(timesync_marzullo(d, 0, &lo, &hi, keep), 0);
}

static void test_fit_recovers_drift(void **state) {
    (void)state;
    timesync_point p[16];
    timesync_line l;
    /* exact: y = 7 ms - 50 ppm * x, points every 16 s from mono 1000 s */
    for (int i = 0; i < 16; i++) {
        int64_t x = 1000 * RT_SEC + i * 16 * RT_SEC;
        p[i] = (timesync_point){x, 1700000000 * RT_SEC + 7 * RT_MS - (x - 1000 * RT_SEC) / 20000};
    }
    assert_int_equal(timesync_fit(p, 16, &l), RT_OK);
    assert_true(llabs(l.slope_ppb + 50000) <= 5);
    int64_t at = 1000 * RT_SEC + 300 * RT_SEC;
    int64_t want = 1700000000 * RT_SEC + 7 * RT_MS - 300 * RT_SEC / 20000;
    assert_true(llabs(timesync_line_at(&l, at) - want) <= 2000);
    /* with +-200 us of alternating noise the drift is still within 2 ppm */
    for (int i = 0; i < 16; i++) p[i].y += (i % 2 ? 200 : -200) * 1000;
    assert_int_equal(timesync_fit(p, 16, &l), RT_OK);
    assert_true(llabs(l.slope_ppb + 50000) <= 2000);
    /* one point: flat through it; bad input refused */
    assert_int_equal(timesync_fit(p, 1, &l), RT_OK);
    assert_int_equal(l.slope_ppb, 0);
    assert_int_equal(timesync_line_at(&l, p[0].x + RT_SEC), p[0].y);
    assert_int_equal(timesync_fit(p, 0, &l), RT_EINVAL);
    p[1].y = p[0].y + 2 * RT_SEC;
    assert_int_equal(timesync_fit(p, 2, &l), RT_EINVAL);
}

/* ---- start and stop in a small world -------------------------------------- */

typedef struct startstop_out {
    bool ran, synced;
    int64_t drift_ppb, offset_err;
} startstop_out;

static startstop_out g_ss; /* one world at a time: a static is fine in a test */

/* A node program that runs time sync for 60 s, then stops it. */
static void startstop_main(rt_ctx *ctx) {
    timesync_config cfg;
    timesync_config_load(&cfg);
    cfg.poll_ns = 8 * RT_SEC;
    timesync *ts = timesync_start(ctx, &cfg);
    assert_non_null(ts);
    rt_sleep_ns(60 * RT_SEC);
    g_ss.ran = true;
    g_ss.synced = timesync_synced(ts);
    g_ss.drift_ppb = timesync_drift_ppb(ts);
    timesync_stop(ts);
    rt_case c = {.ch = rt_ctx_done(ctx), .op = RT_RECV, .elem = NULL, .result = 0};
    (void)rt_select(&c, 1, RT_FOREVER);
}

static void test_start_stop_no_leak(void **state) {
    (void)state;
    memset(&g_ss, 0, sizeof g_ss);
    rt_program_register("ts_startstop", startstop_main);
    deja_params *p = deja_params_new();
    deja_world *w = deja_world_new(11, p);
    deja_world_set_duration(w, 90 * RT_SEC);
    /* 40 ms behind, 50 ppm fast */
    assert_int_equal(deja_node_add(w, "ts_startstop", -40 * RT_MS, 50000), 0);
    deja_timesrv_config(w, 4, RT_MS, 10 * RT_MS, 5 * RT_MS, 1, 500 * RT_MS);
    deja_world_run(w);
    assert_true(g_ss.ran);
    assert_true(g_ss.synced);
    assert_true(llabs(g_ss.drift_ppb - 50000) < 10000);
    assert_int_equal(deja_world_live_tasks(w, 0), 1); /* main only: the sync task is gone */
    deja_world_shutdown(w, 5 * RT_SEC);
    assert_int_equal(deja_world_live_tasks(w, -1), 0);
    deja_world_free(w);
    deja_params_free(p);
}

/* ---- the scenario ------------------------------------------------------------ */

static void test_acceptance_calibrated_beats_raw(void **state) {
    (void)state;
    static const char *const sets[] = {"clock.drift_ppm=50", "ntp.falsetickers=1", "clock.offset_ms=30", NULL};
    for (uint64_t seed = 1; seed <= 5; seed++) {
        deja_summary s;
        assert_int_equal(scenario_run("timesync", seed, sets, &s, NULL), 0);
        assert_string_equal(deja_summary_get(&s, "verdict"), "ok");
        assert_int_equal(summary_long(&s, "leaked_tasks"), 0);
        assert_true(summary_long(&s, "clock_samples") > 2000);
        long raw99 = summary_long(&s, "raw_err_p99_us"), cal99 = summary_long(&s, "cal_err_p99_us");
        long raw50 = summary_long(&s, "raw_err_p50_us"), cal50 = summary_long(&s, "cal_err_p50_us");
        /* well below: at least four times smaller */
        assert_true(cal99 * 4 < raw99);
        assert_true(cal50 * 4 < raw50);
    }
}

static void test_no_majority_never_syncs(void **state) {
    (void)state;
    /* one of two servers lying: no majority ever agrees, so the node never
     * syncs (and reports nothing) rather than trust either; it still ends
     * cleanly */
    static const char *const sets[] = {"ntp.servers=2", "ntp.falsetickers=1", "sim.duration_s=120", NULL};
    deja_summary s;
    scenario_run("timesync", 3, sets, &s, NULL);
    assert_int_equal(summary_long(&s, "leaked_tasks"), 0);
    assert_int_equal(summary_long(&s, "clock_samples"), 0); /* never synced: nothing reported */
}

static void test_determinism(void **state) {
    (void)state;
    static const char *const sets[] = {"sim.duration_s=120", NULL};
    deja_summary a, b, c;
    scenario_run("timesync", 7, sets, &a, NULL);
    scenario_run("timesync", 7, sets, &b, NULL);
    scenario_run("timesync", 8, sets, &c, NULL);
    assert_string_equal(deja_summary_get(&a, "trace_hash"), deja_summary_get(&b, "trace_hash"));
    assert_string_equal(deja_summary_get(&a, "cal_err_p99_us"), deja_summary_get(&b, "cal_err_p99_us"));
    assert_string_not_equal(deja_summary_get(&a, "trace_hash"), deja_summary_get(&c, "trace_hash"));
}

static void test_steps_do_not_move_calibrated_clock(void **state) {
    (void)state;
    static const char *const sets[] = {"clock.step_ms=200", "clock.step_every_s=60", NULL};
    deja_summary s;
    assert_int_equal(scenario_run("timesync", 2, sets, &s, NULL), 0);
    assert_true(summary_long(&s, "raw_err_p99_us") > 150000);
    assert_true(summary_long(&s, "cal_err_p99_us") < 20000);
}

static void test_aura_validates_against_calibrated_clock(void **state) {
    (void)state;
    /* clocks +-1.5 s off: against the raw clock blocks are refused as from
     * the future; against the calibrated one (tolerance 500 ms) none is */
    static const char *const raw[] = {"timesync.program=aura", "clock.offset_ms=1500", "ntp.servers=0",
                                      "ntp.falsetickers=0", "sim.duration_s=120", NULL};
    static const char *const cal[] = {"timesync.program=aura", "clock.offset_ms=1500", "ntp.servers=4",
                                      "ntp.falsetickers=1", "sim.duration_s=120", NULL};
    deja_summary a, b;
    scenario_run("timesync", 3, raw, &a, NULL);
    scenario_run("timesync", 3, cal, &b, NULL);
    assert_true(summary_long(&a, "rejected") > 0);
    assert_int_equal(summary_long(&b, "rejected"), 0);
    assert_int_equal(summary_long(&b, "leaked_tasks"), 0);
    assert_int_equal(summary_long(&b, "safety_violations"), 0);
}

int main(void) {
    node_programs_register();
    deja_models_register();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample_eval),
        cmocka_unit_test(test_marzullo_drops_falseticker),
        cmocka_unit_test(test_fit_recovers_drift),
        cmocka_unit_test(test_start_stop_no_leak),
        cmocka_unit_test(test_acceptance_calibrated_beats_raw),
        cmocka_unit_test(test_no_majority_never_syncs),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_steps_do_not_move_calibrated_clock),
        cmocka_unit_test(test_aura_validates_against_calibrated_clock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
