/*
 * test_node_switches.c -- the reference node's bug switches for the field
 * report's failures, each against its correct variant, with the detectors
 * any node gets (no oracle of the node's): store.nested_tx=1 deadlocks the
 * compactor and the import with the cycle named (both tasks, both locks,
 * both acquire sites), store.compact_ms alone does not; node.leak=chan,
 * ctx and ticker are each a leak of their kind named with its site, before
 * any OOM, and node.audit=1 (the audit done right) is clean. The text trace
 * carries the report as "detect" lines. timeout-sweep's false elections are
 * a verdict only under ts.max_false_per_hour.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "scenario_run.h"

#include "deja/deja.h"
#include "deja/models.h"
#include "node.h"

static void run_with(uint64_t seed, const char *set, deja_summary *s, char **trace) {
    const char *sets[] = {"sim.duration_s=30", set, NULL};
    size_t len = 0;
    FILE *f = trace ? open_memstream(trace, &len) : NULL;
    scenario_run("drift-fork", seed, sets, s, f);
    if (f) fclose(f);
}

static void test_nested_tx_deadlock(void **state) {
    (void)state;
    deja_summary s;
    char *tr = NULL;
    run_with(1, "store.nested_tx=1", &s, &tr);
    assert_string_equal(deja_summary_get(&s, "verdict"), "deadlock");
    assert_non_null(strstr(deja_summary_get(&s, "detected"), "'index' node/maint.c:"));
    assert_non_null(strstr(deja_summary_get(&s, "detected"), "'state' node/maint.c:"));
    /* the report, in the trace: both tasks, both locks, where each was taken */
    assert_non_null(strstr(tr, "detect DEADLOCK on node"));
    assert_non_null(strstr(tr, "'compactor' (spawned at node/maint.c:"));
    assert_non_null(strstr(tr, "'main' (spawned at aura:0)"));
    assert_non_null(strstr(tr, "holds mutex 'state', taken at node/maint.c:"));
    assert_non_null(strstr(tr, "holds mutex 'index', taken at node/maint.c:"));
    assert_non_null(strstr(tr, "waits for mutex 'index' at node/maint.c:"));
    assert_non_null(strstr(tr, "waits for mutex 'state' at node/maint.c:"));
    free(tr);
    /* the same compaction taking the locks in the import's order is fine */
    for (uint64_t seed = 1; seed <= 3; seed++) {
        run_with(seed, "store.compact_ms=1000", &s, NULL);
        assert_string_equal(deja_summary_get(&s, "verdict"), "ok");
        assert_null(deja_summary_get(&s, "deadlocks"));
    }
}

static void test_node_leaks(void **state) {
    (void)state;
    static const struct {
        const char *set, *what;
    } cases[] = {
        {"node.leak=chan", "leak tasks node "},
        {"node.leak=ctx", "leak ctx node "},
        {"node.leak=ticker", "leak ticker node "},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        deja_summary s;
        run_with(2, cases[i].set, &s, NULL);
        assert_string_equal(deja_summary_get(&s, "verdict"), "leak");
        assert_non_null(strstr(deja_summary_get(&s, "detected"), cases[i].what));
        assert_non_null(strstr(deja_summary_get(&s, "detected"), "node/maint.c:"));
        assert_true(summary_long(&s, "detected_ms") < 30000);
        assert_int_equal(summary_long(&s, "oom_kills"), 0);
    }
    for (uint64_t seed = 1; seed <= 3; seed++) {
        deja_summary s;
        run_with(seed, "node.audit=1", &s, NULL);
        assert_string_equal(deja_summary_get(&s, "verdict"), "ok");
        assert_null(deja_summary_get(&s, "detected"));
    }
}

/* timeout-sweep: false elections fail the run only when asked to */
static void test_false_elections_verdict(void **state) {
    (void)state;
    deja_summary s;
    const char *bad[] = {"sim.duration_s=120", "raft.election_ms=20", "fault.pause_ms=400", NULL, NULL};
    scenario_run("timeout-sweep", 1, bad, &s, NULL);
    assert_string_equal(deja_summary_get(&s, "verdict"), "ok"); /* a measurement */
    assert_true(summary_long(&s, "false_elections") >= 1);
    bad[3] = "ts.max_false_per_hour=0";
    scenario_run("timeout-sweep", 1, bad, &s, NULL);
    assert_string_equal(deja_summary_get(&s, "verdict"), "false_elections");
    const char *good[] = {"sim.duration_s=120", "raft.election_ms=400", "fault.pause_ms=400",
                          "ts.max_false_per_hour=0", NULL};
    scenario_run("timeout-sweep", 1, good, &s, NULL);
    assert_string_equal(deja_summary_get(&s, "verdict"), "ok");
}

/* node.wall_durations=1: NTP steps backwards stall the leader's heartbeats */
static void test_wall_durations(void **state) {
    (void)state;
    const char *sets[] = {"sim.duration_s=300", "raft.election_ms=150", "fault.pause_every_s=0", "clock.step_ms=800",
                          "clock.step_every_s=60", "clock.step_sign=-1", "ts.max_false_per_hour=0", NULL, NULL};
    deja_summary s;
    sets[7] = "node.wall_durations=1";
    scenario_run("timeout-sweep", 1, sets, &s, NULL);
    assert_string_equal(deja_summary_get(&s, "verdict"), "false_elections");
    sets[7] = "node.wall_durations=0";
    scenario_run("timeout-sweep", 1, sets, &s, NULL);
    assert_string_equal(deja_summary_get(&s, "verdict"), "ok");
}

/* NTP steps of 800 ms every 60 s fork AuRa on the raw clock, not on the
 * calibrated one (time sync on: slots and timestamp checks follow it) */
static void test_calibrated_slots(void **state) {
    (void)state;
    const char *sets[] = {"sim.duration_s=180", "clock.step_ms=800", "clock.step_every_s=60", NULL, NULL, NULL};
    deja_summary s;
    scenario_run("drift-fork", 1, sets, &s, NULL);
    assert_string_equal(deja_summary_get(&s, "verdict"), "safety");
    sets[3] = "ntp.servers=4";
    sets[4] = "chain.time_tolerance_ms=500";
    scenario_run("drift-fork", 1, sets, &s, NULL);
    assert_string_equal(deja_summary_get(&s, "verdict"), "ok");
    assert_int_equal(summary_long(&s, "forks"), 0);
}

/* node.wall_durations=1 in AuRa: time sync on the wall clock, so NTP steps of
 * 800 ms either way move the calibrated clock the slots follow (a fork);
 * on the monotonic clock the same steps fork nothing */
static void test_aura_wall_durations(void **state) {
    (void)state;
    const char *sets[] = {"sim.duration_s=300", "ntp.servers=4", "chain.time_tolerance_ms=500", "clock.step_ms=800",
                          "clock.step_every_s=60", NULL, NULL, NULL};
    static const char *const signs[] = {"clock.step_sign=-1", "clock.step_sign=1"};
    for (int i = 0; i < 2; i++) {
        deja_summary s;
        sets[5] = signs[i];
        sets[6] = "node.wall_durations=1";
        scenario_run("drift-fork", 1, sets, &s, NULL);
        assert_string_equal(deja_summary_get(&s, "verdict"), "safety");
        assert_true(summary_long(&s, "forks") > 10);
        sets[6] = "node.wall_durations=0";
        scenario_run("drift-fork", 1, sets, &s, NULL);
        assert_string_equal(deja_summary_get(&s, "verdict"), "ok");
        assert_true(summary_long(&s, "forks") <= 1);
    }
}

/* node.leak=task and node.leak=map on drift-fork under a memory limit: a
 * leak named before the OOM kill, an OOM kill; the block file done right
 * (store.block_file=1, node.audit=1) stays flat */
static void test_block_leaks(void **state) {
    (void)state;
    const char *sets[] = {"sim.duration_s=120", "store.kind=sqlite", "mem.limit_mb=16", NULL, NULL, NULL};
    deja_summary s;
    sets[3] = "node.leak=task";
    scenario_run("drift-fork", 1, sets, &s, NULL);
    assert_string_equal(deja_summary_get(&s, "verdict"), "leak");
    assert_non_null(strstr(deja_summary_get(&s, "detected"), "'audit' chan send at node/maint.c:"));
    assert_true(summary_long(&s, "oom_kills") >= 1);
    sets[3] = "node.leak=map";
    scenario_run("drift-fork", 1, sets, &s, NULL);
    assert_string_equal(deja_summary_get(&s, "verdict"), "oom");
    sets[3] = "store.block_file=1";
    sets[4] = "node.audit=1";
    scenario_run("drift-fork", 1, sets, &s, NULL);
    assert_string_equal(deja_summary_get(&s, "verdict"), "ok");
    assert_int_equal(summary_long(&s, "oom_kills"), 0);
    assert_true(summary_long(&s, "peak_resident_kb") < 4096);
}

/* the habit of bounded channel operations: the watchdog names the audit's
 * unbounded send (verdict stuck, with the task-growth detector off); the
 * audit done right, its send in a select with its context, passes */
static void test_watchdog_stuck(void **state) {
    (void)state;
    const char *sets[] = {"sim.duration_s=30", "watch.block_ms=2000", "watch.verdict=1", "leak.sample_ms=0", NULL, NULL};
    deja_summary s;
    sets[4] = "node.leak=chan";
    scenario_run("drift-fork", 1, sets, &s, NULL);
    assert_string_equal(deja_summary_get(&s, "verdict"), "stuck");
    assert_non_null(strstr(deja_summary_get(&s, "detected"), "'audit' chan send at node/maint.c:"));
    sets[4] = "node.audit=1";
    scenario_run("drift-fork", 1, sets, &s, NULL);
    assert_string_equal(deja_summary_get(&s, "verdict"), "ok");
    assert_int_equal(summary_long(&s, "stuck_ops"), 0);
}

int main(void) {
    node_programs_register();
    deja_models_register();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nested_tx_deadlock),
        cmocka_unit_test(test_node_leaks),
        cmocka_unit_test(test_false_elections_verdict),
        cmocka_unit_test(test_wall_durations),
        cmocka_unit_test(test_aura_wall_durations),
        cmocka_unit_test(test_block_leaks),
        cmocka_unit_test(test_watchdog_stuck),
        cmocka_unit_test(test_calibrated_slots),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
