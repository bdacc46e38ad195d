/*
 * test_scale.c -- worlds past the old limit of 64 nodes: the simulator, the
 * chain and raft oracles, partitions and both reference engines size their
 * tables from sim.nodes. Small runs (a few hundred nodes, seconds of virtual
 * time) keep it fast; the 10,000-node run is a benchmark (deja bench), not
 * a test.
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
#include "deja/rt.h"
#include "deja/world.h"
#include "node.h"

/* drift-fork with 300 validators: every one confirms blocks, no fork with
 * small clock errors, the same seed gives the same trace. */
static void test_aura_300_nodes_all_confirm(void **state) {
    (void)state;
    static const char *const sets[] = {"sim.nodes=300", "sim.duration_s=30", NULL};
    deja_summary a, b;
    assert_int_equal(scenario_run("drift-fork", 1, sets, &a, NULL), 0);
    assert_string_equal(deja_summary_get(&a, "verdict"), "ok");
    assert_int_equal(summary_long(&a, "stalled_nodes"), 0);
    assert_true(summary_long(&a, "confirmed") >= 20);
    assert_int_equal(summary_long(&a, "safety_violations"), 0);
    assert_int_equal(scenario_run("drift-fork", 1, sets, &b, NULL), 0);
    assert_string_equal(deja_summary_get(&a, "trace_hash"), deja_summary_get(&b, "trace_hash"));
}

/* A Raft group of 101 nodes elects one leader and every node commits;
 * with random partitions the oracle (per-node tables, a majority count
 * instead of a 64-bit mask) still judges the run. */
static void test_raft_101_nodes(void **state) {
    (void)state;
    static const char *const sets[] = {"sim.nodes=101", "sim.duration_s=20", NULL};
    deja_summary s;
    assert_int_equal(scenario_run("raft", 1, sets, &s, NULL), 0);
    assert_string_equal(deja_summary_get(&s, "verdict"), "ok");
    assert_int_equal(summary_long(&s, "election_safety_violations"), 0);
    assert_true(summary_long(&s, "commit_index") > 10);
    static const char *const parts[] = {"sim.nodes=70", "sim.duration_s=40", "net.partition_every_s=5",
                                        "net.partition_ms=2000", "fault.quiet_s=15", NULL};
    assert_int_equal(scenario_run("raft", 2, parts, &s, NULL), 0);
    assert_int_equal(summary_long(&s, "election_safety_violations"), 0);
    assert_int_equal(summary_long(&s, "safety_violations"), 0);
}

/* A node count the parameter used to refuse is accepted; zero still is not. */
static void test_node_count_range(void **state) {
    (void)state;
    deja_summary s;
    static const char *const zero[] = {"sim.nodes=0", NULL};
    assert_int_equal(scenario_run("drift-fork", 1, zero, &s, NULL), 2);
    static const char *const many[] = {"sim.nodes=65", "sim.duration_s=5", NULL};
    assert_int_equal(scenario_run("drift-fork", 1, many, &s, NULL), 0);
}

int main(void) {
    node_programs_register();
    deja_models_register();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aura_300_nodes_all_confirm),
        cmocka_unit_test(test_raft_101_nodes),
        cmocka_unit_test(test_node_count_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
