/*
 * test_raft_state.c -- the Raft engine's state, snapshots and compaction
 * (node/state.h, node/snap.h): the Merkle root equals a recomputation; a
 * snapshot survives a save and load; compaction keeps the prefix a lagging
 * follower needs (and the careless rule is caught); snapshot sync over
 * seeds with aborts leaves the live task count at its baseline and the
 * follower catches up; snap.leaky=1 gives verdict leak.
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
#include "snap.h"
#include "state.h"

static void test_merkle_root_matches_recomputation(void **state) {
    (void)state;
    static state_t s, t;
    state_init(&s);
    for (uint64_t i = 1; i <= 2000; i++) {
        uint8_t p[8];
        uint64_t tx = i * 0x9e3779b97f4a7c15ull;
        for (int k = 0; k < 8; k++) p[k] = (uint8_t)(tx >> (8 * k));
        state_apply(&s, p, 8);
    }
    uint8_t h[STATE_HASH_LEN];
    state_range_root(0, STATE_ACCOUNTS, s.bal, h);
    assert_memory_equal(h, state_root(&s), STATE_HASH_LEN);
    state_load(&t, s.bal);
    assert_memory_equal(state_root(&t), state_root(&s), STATE_HASH_LEN);
    /* one balance changed: another root; each chunk's root is its tree node */
    t.bal[7]++;
    state_load(&t, t.bal);
    assert_memory_not_equal(state_root(&t), state_root(&s), STATE_HASH_LEN);
    for (uint32_t c = 0; c < STATE_ACCOUNTS / SNAP_CHUNK_ACCOUNTS; c++) {
        uint32_t first = c * SNAP_CHUNK_ACCOUNTS;
        state_range_root(first, SNAP_CHUNK_ACCOUNTS, s.bal + first, h);
        assert_memory_equal(h, s.tree[state_range_node(first, SNAP_CHUNK_ACCOUNTS)], STATE_HASH_LEN);
    }
}

static void test_snapshot_round_trip_and_restart(void **state) {
    (void)state;
    /* every node restarts from snapshot + log: crashes with snapshots on */
    static const char *const sets[] = {"raft.snapshot_every=16", "fault.crash_every_s=8", "sim.duration_s=40",
                                       "fault.quiet_s=12", "swarm=0", NULL};
    long installs = 0;
    for (uint64_t seed = 1; seed <= 6; seed++) {
        deja_summary s;
        assert_int_equal(scenario_run("raft", seed, sets, &s, NULL), 0);
        assert_int_equal(summary_long(&s, "state_root_violations"), 0);
        assert_int_equal(summary_long(&s, "durability_violations"), 0);
        const char *v = deja_summary_get(&s, "snap_installs");
        if (v) installs += strtol(v, NULL, 10);
    }
    assert_true(installs > 0); /* snapshots loaded at restarts */
}

static void test_compaction_keeps_needed_prefix(void **state) {
    (void)state;
    static const char *const careless[] = {"raft.slot_rule=0", "sim.duration_s=40", NULL};
    static const char *const correct[] = {"sim.duration_s=40", NULL};
    int caught = 0;
    for (uint64_t seed = 1; seed <= 4; seed++) {
        deja_summary s;
        assert_int_equal(scenario_run("snapshot-sync", seed, correct, &s, NULL), 0);
        assert_int_equal(summary_long(&s, "slot_violations"), 0);
        if (scenario_run("snapshot-sync", seed, careless, &s, NULL) == 1) caught += !strcmp(deja_summary_get(&s, "verdict"), "slot");
    }
    assert_true(caught >= 3);
}

static void test_sync_with_aborts_leaves_no_task(void **state) {
    (void)state;
    long syncs = 0, failed = 0, installs = 0;
    for (uint64_t seed = 1; seed <= 30; seed++) {
        deja_summary s;
        assert_int_equal(scenario_run("snapshot-sync", seed, NULL, &s, NULL), 0);
        assert_string_equal(deja_summary_get(&s, "verdict"), "ok");
        assert_int_equal(summary_long(&s, "snap_sync_leaks"), 0);
        assert_int_equal(summary_long(&s, "leaked_tasks"), 0);
        assert_int_equal(summary_long(&s, "stalled_nodes"), 0);
        assert_int_equal(summary_long(&s, "state_root_violations"), 0);
        syncs += summary_long(&s, "snap_syncs");
        failed += summary_long(&s, "snap_syncs_failed");
        installs += summary_long(&s, "snap_installs");
    }
    assert_true(syncs >= 30);
    assert_true(failed >= 5); /* aborts happened and were cleaned up */
    assert_true(installs >= 30);
}

static void test_leaky_sync_is_caught(void **state) {
    (void)state;
    static const char *const sets[] = {"snap.leaky=1", NULL};
    int leaks = 0;
    for (uint64_t seed = 1; seed <= 6; seed++) {
        deja_summary s;
        if (scenario_run("snapshot-sync", seed, sets, &s, NULL) == 1 && !strcmp(deja_summary_get(&s, "verdict"), "leak")) leaks++;
    }
    assert_true(leaks >= 2);
}

int main(void) {
    node_programs_register();
    deja_models_register();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merkle_root_matches_recomputation),
        cmocka_unit_test(test_snapshot_round_trip_and_restart),
        cmocka_unit_test(test_compaction_keeps_needed_prefix),
        cmocka_unit_test(test_sync_with_aborts_leaves_no_task),
        cmocka_unit_test(test_leaky_sync_is_caught),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
