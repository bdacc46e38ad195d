/*
 * test_raft.c -- the Raft ordering engine (node/raft.h) and its scenarios
 * end to end, in-process: a cluster elects one leader and commits; a
 * crashed leader is replaced within bounds; at most one leader per term
 * and no commit disagreement over seeds with crashes, pauses, partitions
 * and loss; determinism; the election experiment's downtime narrower with
 * 150-300 than 150-150; a careless node (raft.sync=0) caught by the
 * oracles; the pure helpers (range values, message round trips).
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

#include "deja/models.h"
#include "node.h"
#include "deja/deja.h"
#include "deja/rt.h"
#include "raft.h"
#include "codec.h"
#include "raft_msg.h"

static void test_cluster_elects_and_commits(void **state) {
    (void)state;
    static const char *const sets[] = {"swarm=0", "sim.duration_s=20", "fault.quiet_s=0", NULL};
    for (uint64_t seed = 1; seed <= 3; seed++) {
        deja_summary s;
        assert_int_equal(scenario_run("raft", seed, sets, &s, NULL), 0);
        assert_string_equal(deja_summary_get(&s, "verdict"), "ok");
        assert_int_equal(summary_long(&s, "leaders"), 1); /* no fault: one election, one leader */
        assert_int_equal(summary_long(&s, "false_elections"), 0);
        assert_in_range(summary_long(&s, "first_leader_ms"), 150, 700);
        assert_in_range(summary_long(&s, "commit_index"), 150, 200); /* a block per 100 ms */
    }
}

static void test_leader_crash_new_leader(void **state) {
    (void)state;
    static const char *const sets[] = {"raft.election_ms=150-300", NULL};
    for (uint64_t seed = 1; seed <= 20; seed++) {
        deja_summary s;
        assert_int_equal(scenario_run("election", seed, sets, &s, NULL), 0);
        long d = summary_long(&s, "downtime_ms");
        /* at least MIN - one heartbeat; at most a few rounds */
        assert_in_range(d, 150 - 75, 1500);
        assert_in_range(summary_long(&s, "leader_losses"), 1, 3); /* a late candidate may depose the new one */
    }
}

static void test_one_leader_per_term(void **state) {
    (void)state;
    static const char *const sets[] = {"sim.duration_s=40", "fault.quiet_s=15", "fault.crash_every_s=15",
                                       "raft.block_ms=50", NULL};
    static const char *const plain[] = {"sim.duration_s=40", "fault.quiet_s=15", "fault.crash_every_s=15",
                                        "raft.prevote=0", "raft.check_quorum=0", NULL};
    long elections = 0, crashes = 0;
    for (uint64_t seed = 1; seed <= 30; seed++) {
        deja_summary s;
        const char *const *set = seed % 2 ? sets : plain;
        assert_int_equal(scenario_run("raft", seed, set, &s, NULL), 0);
        assert_int_equal(summary_long(&s, "election_safety_violations"), 0);
        assert_int_equal(summary_long(&s, "safety_violations"), 0);
        assert_int_equal(summary_long(&s, "durability_violations"), 0);
        elections += summary_long(&s, "elections");
        crashes += summary_long(&s, "crashes");
    }
    assert_true(crashes > 60);
    assert_true(elections > 60);
}

static void test_same_seed_same_trace(void **state) {
    (void)state;
    static const char *const sets[] = {"sim.duration_s=20", "fault.quiet_s=5", "fault.crash_every_s=5", NULL};
    deja_summary a, b, c;
    scenario_run("raft", 9, sets, &a, NULL);
    scenario_run("raft", 9, sets, &b, NULL);
    scenario_run("raft", 10, sets, &c, NULL);
    assert_string_equal(deja_summary_get(&a, "trace_hash"), deja_summary_get(&b, "trace_hash"));
    assert_string_not_equal(deja_summary_get(&a, "trace_hash"), deja_summary_get(&c, "trace_hash"));
    scenario_run("election", 3, NULL, &a, NULL);
    scenario_run("election", 3, NULL, &b, NULL);
    assert_string_equal(deja_summary_get(&a, "trace_hash"), deja_summary_get(&b, "trace_hash"));
    assert_string_equal(deja_summary_get(&a, "downtime_ms"), deja_summary_get(&b, "downtime_ms"));
}

static void test_randomized_timeouts_avoid_split_votes(void **state) {
    (void)state;
    static const char *const fixed[] = {"raft.election_ms=150-150", "election.after_s=3", NULL};
    static const char *const wide[] = {"raft.election_ms=150-300", "election.after_s=3", NULL};
    int fast_fixed = 0, fast_wide = 0;
    long worst_wide = 0;
    for (uint64_t seed = 1; seed <= 40; seed++) {
        deja_summary s;
        scenario_run("election", seed, fixed, &s, NULL);
        const char *d = deja_summary_get(&s, "downtime_ms");
        if (d && strtol(d, NULL, 10) < 500) fast_fixed++;
        assert_int_equal(scenario_run("election", seed, wide, &s, NULL), 0);
        long w = summary_long(&s, "downtime_ms");
        if (w < 500) fast_wide++;
        if (w > worst_wide) worst_wide = w;
    }
    assert_true(fast_wide >= 36);      /* nearly always one round */
    assert_true(fast_fixed <= 4);      /* split votes, round after round */
    assert_true(worst_wide < 1500);
}

static void test_careless_node_is_caught(void **state) {
    (void)state;
    static const char *const sets[] = {"raft.sync=0", "disk.crash_keep_pct=0", "raft.block_ms=20",
                                       "sim.duration_s=60", "fault.crash_every_s=10", "fault.quiet_s=15", NULL};
    int caught = 0;
    for (uint64_t seed = 1; seed <= 10; seed++) {
        deja_summary s;
        if (scenario_run("raft", seed, sets, &s, NULL) == 1) {
            const char *v = deja_summary_get(&s, "verdict");
            caught += !strcmp(v, "durability") || !strcmp(v, "safety");
        }
    }
    assert_true(caught >= 3);
}

static void test_parse_range_and_messages(void **state) {
    (void)state;
    int64_t lo, hi;
    assert_true(raft_parse_range("150-300", &lo, &hi));
    assert_int_equal(lo, 150);
    assert_int_equal(hi, 300);
    assert_true(raft_parse_range("150", &lo, &hi));
    assert_int_equal(lo, 150);
    assert_int_equal(hi, 150);
    assert_false(raft_parse_range("300-150", &lo, &hi));
    assert_false(raft_parse_range("a-b", &lo, &hi));
    assert_false(raft_parse_range("-5", &lo, &hi));
    assert_false(raft_parse_range("", &lo, &hi));

    uint8_t buf[RAFT_MSG_MAX];
    raft_wire_entry in[RAFT_MSG_BATCH_MAX];
    raft_msg m;
    size_t len = raft_msg_vote(buf, sizeof buf, 7, 12, 6, true);
    assert_int_equal(raft_msg_decode(buf, len, &m, in), RT_OK);
    assert_int_equal(m.tag, RAFT_MSG_VOTE);
    assert_int_equal(m.term, 7);
    assert_int_equal(m.last_index, 12);
    assert_int_equal(m.last_term, 6);
    assert_true(m.prevote);
    assert_int_equal(raft_msg_decode(buf, len - 1, &m, in), RT_EIO); /* truncated: the seal fails */
    for (size_t bit = 0; bit < len * 8; bit++) { /* any bit flipped: refused */
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_equal(raft_msg_decode(buf, len, &m, in), RT_EIO);
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    assert_int_equal(node_seal(buf, len - NODE_SEAL_LEN - 1, sizeof buf), len - 1);
    assert_int_equal(raft_msg_decode(buf, len - 1, &m, in), RT_EINVAL); /* sealed, one byte short */
    block b;
    block_genesis(&b);
    b.height = 1;
    b.payload_len = 3;
    len = raft_msg_append(buf, sizeof buf, 3, 0, 0, 0, -42);
    len = raft_msg_append_add(buf, sizeof buf, len, 3, &b);
    assert_true(len > RAFT_MSG_APPEND_HDR);
    assert_int_equal(raft_msg_decode(buf, len, &m, in), RT_OK);
    assert_int_equal(m.n, 1);
    assert_int_equal(m.echo, -42);
    assert_int_equal(in[0].term, 3);
    assert_int_equal(in[0].b.height, 1);
    assert_int_equal(raft_msg_decode(buf, len + 1, &m, in), RT_EIO);
    /* a second entry goes where the seal was, and the message is sealed again */
    size_t len2 = raft_msg_append_add(buf, sizeof buf, len, 3, &b);
    assert_int_equal(len2, len + 12 + BLOCK_HEADER_LEN + 3);
    assert_int_equal(raft_msg_decode(buf, len2, &m, in), RT_OK);
    assert_int_equal(m.n, 2);
    len = raft_msg_append_resp(buf, sizeof buf, 4, true, 9, 5);
    assert_int_equal(raft_msg_decode(buf, len, &m, in), RT_OK);
    assert_true(m.granted);
    assert_int_equal(m.index, 9);
}

static void test_bad_parameters_are_rejected(void **state) {
    (void)state;
    deja_summary s;
    static const char *const bad1[] = {"raft.election_ms=300-150", NULL};
    static const char *const bad2[] = {"raft.election_ms=fast", NULL};
    static const char *const bad3[] = {"raft.boot_logs=1;2", NULL};
    assert_int_equal(scenario_run("election", 1, bad1, &s, NULL), 2);
    assert_int_equal(scenario_run("raft", 1, bad2, &s, NULL), 2);
    assert_int_equal(scenario_run("election", 1, bad3, &s, NULL), 2);
}

/* With time sync on, the leader stamps blocks with its calibrated clock and
 * followers check them against theirs: clocks seconds apart still commit,
 * and the run replays. */
static void test_calibrated_block_time(void **state) {
    (void)state;
    static const char *const sets[] = {"swarm=0", "sim.duration_s=60", "fault.quiet_s=0", "clock.offset_ms=3000",
                                       "ntp.servers=4", "chain.time_tolerance_ms=500", NULL};
    deja_summary a, b;
    assert_int_equal(scenario_run("raft", 4, sets, &a, NULL), 0);
    assert_int_equal(scenario_run("raft", 4, sets, &b, NULL), 0);
    assert_true(summary_long(&a, "commit_index") > 100);
    assert_string_equal(deja_summary_get(&a, "trace_hash"), deja_summary_get(&b, "trace_hash"));
}

int main(void) {
    node_programs_register();
    deja_models_register();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_range_and_messages),
        cmocka_unit_test(test_bad_parameters_are_rejected),
        cmocka_unit_test(test_cluster_elects_and_commits),
        cmocka_unit_test(test_leader_crash_new_leader),
        cmocka_unit_test(test_one_leader_per_term),
        cmocka_unit_test(test_same_seed_same_trace),
        cmocka_unit_test(test_randomized_timeouts_avoid_split_votes),
        cmocka_unit_test(test_careless_node_is_caught),
        cmocka_unit_test(test_calibrated_block_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
