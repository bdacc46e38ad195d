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
#include "aura.h"
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

/* The relay tree names every node but the proposer exactly once, and no
 * node more than fanout times, for any count, fan-out and proposer. */
static void test_relay_tree_covers_every_node_once(void **state) {
    (void)state;
    static const uint32_t ns[] = {1, 2, 9, 65, 1000, 10007};
    static const uint32_t fs[] = {1, 2, 8, 64};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
        for (size_t j = 0; j < sizeof fs / sizeof fs[0]; j++)
            for (uint32_t proposer = 0; proposer < ns[i]; proposer += ns[i] / 3 + 1) {
                uint32_t n = ns[i], f = fs[j];
                uint32_t *seen = calloc(n, sizeof *seen), *out = calloc(f, sizeof *out);
                assert_non_null(seen);
                assert_non_null(out);
                for (uint32_t v = 0; v < n; v++) {
                    aura_config cfg = {.self = v, .n = n, .fanout = f};
                    uint32_t k = aura_relay_targets(&cfg, proposer, out);
                    assert_true(k <= f);
                    for (uint32_t c = 0; c < k; c++) {
                        assert_true(out[c] < n);
                        seen[out[c]]++;
                    }
                }
                for (uint32_t v = 0; v < n; v++) assert_int_equal(seen[v], v == proposer ? 0 : 1);
                free(seen);
                free(out);
            }
}

/* Past aura.broadcast_max the relay tree carries blocks: with 10% of the
 * messages lost every node still confirms (what a lost relay cuts off comes
 * back as orphans' ancestors); all-to-all gives the same verdict. */
static void test_relay_tree_survives_loss(void **state) {
    (void)state;
    static const char *const lossy[] = {"sim.nodes=200", "sim.duration_s=40", "net.loss_pct=10", NULL};
    deja_summary s;
    assert_int_equal(scenario_run("drift-fork", 4, lossy, &s, NULL), 0);
    assert_string_equal(deja_summary_get(&s, "verdict"), "ok");
    assert_int_equal(summary_long(&s, "stalled_nodes"), 0);
    static const char *const all[] = {"sim.nodes=200", "sim.duration_s=40", "aura.broadcast_max=200", NULL};
    assert_int_equal(scenario_run("drift-fork", 4, all, &s, NULL), 0);
    assert_string_equal(deja_summary_get(&s, "verdict"), "ok");
    assert_int_equal(summary_long(&s, "stalled_nodes"), 0);
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

/* Raft with observers: 5 voters and 55 observers under the swarm's
 * crashes, pauses and partitions. Only voters lead, every node (observers
 * too) commits, and the oracle finds nothing unsafe. */
static void test_raft_observers(void **state) {
    (void)state;
    static const char *const sets[] = {"sim.nodes=60", "raft.voters=5", "sim.duration_s=60", "swarm=1",
                                       "fault.quiet_s=20", NULL};
    for (uint64_t seed = 1; seed <= 3; seed++) {
        char *t = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&t, &len);
        assert_non_null(f);
        deja_summary s;
        int rc = scenario_run("raft", seed, sets, &s, f);
        fclose(f);
        assert_int_equal(rc, 0);
        assert_string_equal(deja_summary_get(&s, "verdict"), "ok");
        assert_int_equal(summary_long(&s, "election_safety_violations"), 0);
        assert_int_equal(summary_long(&s, "safety_violations"), 0);
        assert_true(summary_long(&s, "commit_index") > 0); /* the lowest over all 60 nodes */
        int leaders = 0;
        for (char *l = strstr(t, "raft: leader of term"); l; l = strstr(l + 1, "raft: leader of term")) {
            char *bol = l;
            while (bol > t && bol[-1] != '\n') bol--;
            unsigned long node = 999; /* the line's first " n<id>" field names the node */
            char *field = strstr(bol, " n");
            assert_true(field != NULL && field < l);
            assert_int_equal(sscanf(field, " n%lu", &node), 1);
            assert_true(node < 5);
            leaders++;
        }
        assert_true(leaders >= 1);
        free(t);
    }
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
        cmocka_unit_test(test_relay_tree_covers_every_node_once),
        cmocka_unit_test(test_relay_tree_survives_loss),
        cmocka_unit_test(test_raft_101_nodes),
        cmocka_unit_test(test_raft_observers),
        cmocka_unit_test(test_node_count_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
