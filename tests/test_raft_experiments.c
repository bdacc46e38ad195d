/*
 * test_raft_experiments.c -- the Raft timing experiments (models/
 * timeout_sweep.c, models/lease_fork.c): the field report's bound on its own
 * example (150 ms RTT, 50 ppm over 10 s, 100 ms offset -> 501 ms) and as a
 * run reports it; one number as raft.election_ms meaning N-2N; more false
 * elections with short timeouts and long pauses than with long timeouts;
 * a lease longer than the election timeout without CheckQuorum caught by
 * the lease verdict in some seed, the default lease never; the election
 * experiment's per-trial metrics (elected before a majority follows) and
 * LogCabin's timer rule (a candidate stepping down keeps its deadline)
 * splitting fewer votes than a reset on every step-down; NTP steps causing
 * false elections only when the timers run on the wall clock.
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

#include "../models/timeout_sweep.h"
#include "deja/models.h"
#include "node.h"
#include "deja/deja.h"
#include "deja/rt.h"

/* The summary's value of k as text (the test fails if k is absent). */
static const char *summary_str(const deja_summary *s, const char *k) {
    const char *v = deja_summary_get(s, k);
    assert_non_null(v);
    return v;
}

/* Parses "123.45" (two decimals) into hundredths. */
static long hundredths(const char *v) {
    char *end;
    long whole = strtol(v, &end, 10);
    assert_true(*end == '.');
    return whole * 100 + strtol(end + 1, NULL, 10);
}

static void test_bound_on_the_digest_example(void **state) {
    (void)state;
    assert_int_equal(deja_timeout_bound_ns(150 * RT_MS, 50000, 10 * RT_SEC, 100 * RT_MS), 501 * RT_MS);
    assert_int_equal(deja_timeout_bound_ns(0, 0, 0, 0), 0);
    assert_int_equal(deja_timeout_bound_ns(30 * RT_MS, 50000, 300 * RT_MS, 0), 60 * RT_MS + 30000);
    /* the same through a run: RTT_max = 2 * (50 + 25) ms */
    static const char *const sets[] = {"net.latency_ms=50", "net.jitter_ms=25", "clock.drift_ppm=50",
                                       "clock.offset_ms=100", "bound.window_ms=10000", "raft.election_ms=600",
                                       "sim.duration_s=10", NULL};
    deja_summary s;
    assert_int_equal(scenario_run("timeout-sweep", 1, sets, &s, NULL), 0);
    assert_string_equal(summary_str(&s, "bound_ms"), "501.000");
    assert_string_equal(summary_str(&s, "rtt_max_ms"), "150.000");
    assert_string_equal(summary_str(&s, "eps_clock_ms"), "100.500");
    assert_string_equal(summary_str(&s, "bound_ok"), "1");
    /* pauses every 30 s of 100 ms count as 100 ms more offset */
    assert_string_equal(summary_str(&s, "bound_pause_ms"), "701.000");
    static const char *const low[] = {"net.latency_ms=50", "net.jitter_ms=25", "clock.drift_ppm=50",
                                      "clock.offset_ms=100", "bound.window_ms=10000", "raft.election_ms=500",
                                      "sim.duration_s=10", NULL};
    assert_int_equal(scenario_run("timeout-sweep", 1, low, &s, NULL), 0);
    assert_string_equal(summary_str(&s, "bound_ok"), "0");
}

static void test_one_number_means_min_to_twice_min(void **state) {
    (void)state;
    static const char *const one[] = {"raft.election_ms=150", "sim.duration_s=30", NULL};
    static const char *const range[] = {"raft.election_ms=150-300", "sim.duration_s=30", NULL};
    deja_summary a, b;
    assert_int_equal(scenario_run("timeout-sweep", 7, one, &a, NULL), 0);
    assert_int_equal(scenario_run("timeout-sweep", 7, range, &b, NULL), 0);
    assert_string_equal(summary_str(&a, "trace_hash"), summary_str(&b, "trace_hash"));
    assert_string_equal(summary_str(&a, "window_ms"), "300.000"); /* the window defaults to MAX */
    static const char *const bad[] = {"raft.election_ms=abc", NULL};
    assert_int_equal(scenario_run("timeout-sweep", 1, bad, &a, NULL), 2);
}

static void test_short_timeouts_and_long_pauses_elect_more(void **state) {
    (void)state;
    static const char *const shortt[] = {"raft.election_ms=100", "fault.pause_ms=100", "fault.pause_every_s=10",
                                         "sim.duration_s=300", NULL};
    static const char *const longt[] = {"raft.election_ms=500", "fault.pause_ms=100", "fault.pause_every_s=10",
                                        "sim.duration_s=300", NULL};
    long short_rate = 0, long_rate = 0;
    for (uint64_t seed = 1; seed <= 3; seed++) {
        deja_summary s;
        assert_int_equal(scenario_run("timeout-sweep", seed, shortt, &s, NULL), 0);
        short_rate += hundredths(summary_str(&s, "false_elections_per_hour"));
        assert_int_equal(scenario_run("timeout-sweep", seed, longt, &s, NULL), 0);
        long_rate += hundredths(summary_str(&s, "false_elections_per_hour"));
        assert_string_equal(summary_str(&s, "verdict"), "ok");
    }
    assert_true(short_rate > 0);
    assert_true(short_rate > long_rate);
    assert_int_equal(long_rate, 0); /* MIN > 2 * RTT_max + 2 * pause: none */
}

static void test_lease_longer_than_election_is_caught(void **state) {
    (void)state;
    static const char *const bad[] = {"raft.lease_ms=300", "raft.check_quorum=0", NULL};
    int failed = 0;
    for (uint64_t seed = 1; seed <= 4; seed++) {
        deja_summary s;
        int rc = scenario_run("lease-fork", seed, bad, &s, NULL);
        assert_true(rc == 0 || rc == 1); /* 1: an oracle failed */
        assert_string_equal(summary_str(&s, "lease_rule_ok"), "0");
        if (!strcmp(summary_str(&s, "verdict"), "lease")) {
            failed++;
            assert_true(strtol(summary_str(&s, "stale_reads"), NULL, 10) > 0);
        }
    }
    assert_true(failed >= 1);
}

static void test_correct_lease_never_fails(void **state) {
    (void)state;
    static const char *const good[] = {NULL};
    static const char *const drift[] = {"clock.drift_ppm=100000", "raft.lease_ms=80", NULL};
    static const char *const off[] = {"raft.lease_ms=0", NULL};
    for (uint64_t seed = 1; seed <= 12; seed++) {
        deja_summary s;
        const char *const *set = seed % 3 == 0 ? off : seed % 3 == 1 ? good : drift;
        assert_int_equal(scenario_run("lease-fork", seed, set, &s, NULL), 0);
        assert_string_equal(summary_str(&s, "lease_rule_ok"), "1");
        assert_string_equal(summary_str(&s, "verdict"), "ok");
        assert_string_equal(summary_str(&s, "stale_reads"), "0");
        assert_string_equal(summary_str(&s, "lease_overlap_ms"), "0.000");
        if (set != off) assert_true(strtol(summary_str(&s, "lease_reads"), NULL, 10) > 100);
    }
}

static void test_election_trial_metrics(void **state) {
    (void)state;
    for (uint64_t seed = 1; seed <= 10; seed++) {
        deja_summary s;
        assert_int_equal(scenario_run("election", seed, NULL, &s, NULL), 0);
        double down = strtod(summary_str(&s, "downtime_ms"), NULL);
        double maj = strtod(summary_str(&s, "majority_ms"), NULL);
        assert_true(down >= 75.0);  /* at least MIN minus one heartbeat interval (150 - 75 ms) */
        assert_true(maj >= down);   /* followed only once elected */
        assert_true(strtol(summary_str(&s, "rounds"), NULL, 10) >= 1);
    }
    /* no randomness: split votes round after round, no downtime (censored) */
    static const char *const fixed[] = {"raft.election_ms=150-150", "election.after_s=2", NULL};
    deja_summary s;
    assert_int_equal(scenario_run("election", 1, fixed, &s, NULL), 1);
    assert_string_equal(summary_str(&s, "verdict"), "liveness");
    assert_null(deja_summary_get(&s, "downtime_ms"));
    assert_true(strtol(summary_str(&s, "rounds"), NULL, 10) >= 5);
    static const char *const bad[] = {"raft.stepdown_reset=sometimes", NULL};
    assert_int_equal(scenario_run("election", 1, bad, &s, NULL), 2);
}

/* Network faults: an election still open at the end, after a leader followed the crash (seed
 * 75) or took over before it (seed 94), is no failed trial; a run without one still is. */
static void test_election_open_at_end_under_swarm(void **state) {
    (void)state;
    static const char *const swarm[] = {"net.swarm=1", NULL};
    static const uint64_t seeds[] = {75, 94};
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        deja_summary s;
        assert_int_equal(scenario_run("election", seeds[i], swarm, &s, NULL), 0);
        assert_string_equal(summary_str(&s, "verdict"), "ok");
        double open = strtod(summary_str(&s, "leaderless_end_ms"), NULL);
        assert_true(open > 0.0 && open < 5000.0); /* the oracle alone would fail it */
    }
    static const char *const split[] = {"raft.election_ms=150-150", "net.swarm=1", NULL};
    deja_summary s;
    assert_int_equal(scenario_run("election", 3, split, &s, NULL), 1);
    assert_string_equal(summary_str(&s, "verdict"), "liveness");
}

static void test_logcabin_timer_rule_splits_fewer_votes(void **state) {
    (void)state;
    static const char *const leader[] = {"raft.election_ms=150-155", "raft.stepdown_reset=leader", NULL};
    static const char *const any[] = {"raft.election_ms=150-155", "raft.stepdown_reset=any", NULL};
    long r_leader = 0, r_any = 0;
    for (uint64_t seed = 1; seed <= 40; seed++) {
        deja_summary s;
        assert_int_equal(scenario_run("election", seed, leader, &s, NULL), 0);
        r_leader += strtol(summary_str(&s, "rounds"), NULL, 10);
        assert_int_equal(scenario_run("election", seed, any, &s, NULL), 0);
        r_any += strtol(summary_str(&s, "rounds"), NULL, 10);
    }
    assert_true(r_leader < r_any);
}

static void test_ntp_steps_reach_only_wall_clock_timers(void **state) {
    (void)state;
    static const char *const wall[] = {"raft.election_ms=100", "clock.step_ms=200", "clock.step_every_s=10",
                                       "raft.timer_clock=wall", "fault.pause_every_s=0", "sim.duration_s=60", NULL};
    static const char *const mono[] = {"raft.election_ms=100", "clock.step_ms=200", "clock.step_every_s=10",
                                       "raft.timer_clock=mono", "fault.pause_every_s=0", "sim.duration_s=60", NULL};
    long f_wall = 0, f_mono = 0;
    for (uint64_t seed = 1; seed <= 2; seed++) {
        deja_summary s;
        assert_int_equal(scenario_run("timeout-sweep", seed, wall, &s, NULL), 0);
        f_wall += strtol(summary_str(&s, "false_elections"), NULL, 10);
        assert_string_equal(summary_str(&s, "bound_ms"), "460.020"); /* delta = the step: 60 + 2 * 200 + drift */
        assert_int_equal(scenario_run("timeout-sweep", seed, mono, &s, NULL), 0);
        f_mono += strtol(summary_str(&s, "false_elections"), NULL, 10);
    }
    assert_true(f_wall > 0); /* a leader stepped back goes silent for the step */
    assert_int_equal(f_mono, 0);
    static const char *const bad[] = {"raft.timer_clock=sundial", NULL};
    deja_summary s;
    assert_int_equal(scenario_run("timeout-sweep", 1, bad, &s, NULL), 2);
}

int main(void) {
    node_programs_register();
    deja_models_register();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bound_on_the_digest_example),
        cmocka_unit_test(test_one_number_means_min_to_twice_min),
        cmocka_unit_test(test_short_timeouts_and_long_pauses_elect_more),
        cmocka_unit_test(test_lease_longer_than_election_is_caught),
        cmocka_unit_test(test_correct_lease_never_fails),
        cmocka_unit_test(test_election_trial_metrics),
        cmocka_unit_test(test_election_open_at_end_under_swarm),
        cmocka_unit_test(test_logcabin_timer_rule_splits_fewer_votes),
        cmocka_unit_test(test_ntp_steps_reach_only_wall_clock_timers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
