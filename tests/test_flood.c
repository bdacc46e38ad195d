/*
 * test_flood.c -- the flood fault (deja/world.h) on a node that is not the
 * reference node: a team's scenario sets its own payload
 * (deja_flood_payload_set, DEJA_FLOOD_PARAMS, deja_flood_setup) and its
 * node (tf_node.c), flooded, gets the generic verdicts. The node handles each message
 * from its inbox on a shared verifier (a mutex held 1 ms per message): with
 * its bug switch (tf.bug=1) it spawns a task per message, which pile up
 * behind the verifier under a flood of 2000 a second (verdict leak from
 * the task-growth detector; oom with that detector off); without it a pool
 * of two workers takes messages from a bounded queue and drops what does
 * not fit (verdict ok). Also: the flood is a plan entry (mask, given plan),
 * runs without a flood or without a payload draw nothing from it, and the
 * payload's size and content are the scenario's: it is made for its
 * target by its sender (the node refuses a message not addressed to it as
 * malformed), whichever node floods.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "deja/deja.h"
#include "deja/world.h"

#include "scenario_run.h"
#include "tf_node.h"

/* ---- tests -------------------------------------------------------------------- */

#define FLOOD_SETS "net.flood_rate=2000", "net.flood_at_s=5", "net.flood_s=10", "mem.limit_mb=32"

/* A task per message: the task-growth detector names the handlers (leak)
 * within a few seconds of the flood, on every seed tried; with that
 * detector off the memory limit kills the nodes (oom). */
static void test_unbounded_node_leaks(void **state) {
    (void)state;
    for (uint64_t seed = 1; seed <= 3; seed++) {
        deja_summary s;
        const char *sets[] = {FLOOD_SETS, "tf.bug=1", NULL};
        assert_int_equal(scenario_run("tf", seed, sets, &s, NULL), 1);
        assert_string_equal(deja_summary_get(&s, "verdict"), "leak");
        assert_true(summary_long(&s, "flood_sent") > 1000);
        assert_true(summary_long(&s, "peak_tasks") > 1000);
    }
    deja_summary s;
    const char *sets[] = {FLOOD_SETS, "tf.bug=1", "leak.sample_ms=0", NULL};
    assert_int_equal(scenario_run("tf", 1, sets, &s, NULL), 1);
    assert_string_equal(deja_summary_get(&s, "verdict"), "oom");
    assert_true(summary_long(&s, "oom_kills") >= 1);
}

/* The bounded pool: the same flood is refused in part, the tasks stay
 * few, the verdict is ok; every message made was well-formed, and every
 * one delivered was handled, refused or still queued at the end. */
static void test_bounded_node_is_ok(void **state) {
    (void)state;
    for (uint64_t seed = 1; seed <= 3; seed++) {
        deja_summary s;
        const char *sets[] = {FLOOD_SETS, NULL};
        assert_int_equal(scenario_run("tf", seed, sets, &s, NULL), 0);
        assert_string_equal(deja_summary_get(&s, "verdict"), "ok");
        long sent = summary_long(&s, "flood_sent");
        assert_true(sent > 15000 && sent < 25000); /* 2000 a second for 10 s */
        assert_int_equal(summary_long(&s, "tf_made"), 2 * sent); /* one per other node per tick */
        assert_true(summary_long(&s, "tf_refused") > 0);
        long taken = summary_long(&s, "tf_handled") + summary_long(&s, "tf_refused");
        assert_true(taken <= 2 * sent && taken >= 2 * sent - 3 * (TF_QUEUE + TF_WORKERS));
        assert_true(summary_long(&s, "peak_tasks") <= 3 * (1 + TF_WORKERS));
    }
    /* node 2 floods 0 and 1: each message made for its target, from 2 */
    deja_summary s;
    const char *sets[] = {FLOOD_SETS, "net.flood_from=2", NULL};
    assert_int_equal(scenario_run("tf", 1, sets, &s, NULL), 0);
    assert_string_equal(deja_summary_get(&s, "verdict"), "ok");
    assert_int_equal(summary_long(&s, "tf_made"), 2 * summary_long(&s, "flood_sent"));
    assert_true(summary_long(&s, "tf_handled") > 1000);
}

/* No flood (rate 0, or no payload set) draws nothing and reports nothing:
 * the same trace hash either way. The flood is plan entry 0: masked out,
 * the quiet run's hash; given to a run that asks for none, the flooded
 * run's; given to a world without a payload, ignored. */
static void test_flood_is_a_plan_entry(void **state) {
    (void)state;
    deja_summary s;
    const char *quiet_sets[] = {"tf.bug=1", "mem.limit_mb=32", NULL};
    assert_int_equal(scenario_run("tf", 1, quiet_sets, &s, NULL), 0);
    assert_null(deja_summary_get(&s, "flood_sent"));
    char *quiet = strdup(deja_summary_get(&s, "trace_hash"));
    const char *nopayload[] = {FLOOD_SETS, "tf.bug=1", "tf.payload=0", NULL};
    assert_int_equal(scenario_run("tf", 1, nopayload, &s, NULL), 0);
    assert_null(deja_summary_get(&s, "flood_sent"));
    assert_string_equal(deja_summary_get(&s, "trace_hash"), quiet);

    const deja_scenario *sc = deja_scenario_find("tf");
    assert_non_null(sc);
    char err[256];
    deja_params *ov = deja_params_new();
    const char *sets[] = {FLOOD_SETS, "tf.bug=1"};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        assert_int_equal(deja_params_parse(ov, sets[i], err, sizeof err), 0);
    deja_plan *plan = NULL;
    deja_run_opts rec = {.plan_record = &plan};
    assert_int_equal(deja_run(sc, 1, ov, &rec, &s, err, sizeof err), 1);
    char *flooded = strdup(deja_summary_get(&s, "trace_hash"));
    long sent = summary_long(&s, "flood_sent");
    assert_non_null(plan);
    assert_int_equal(deja_plan_count(plan), 1);
    const deja_plan_entry *e = deja_plan_get(plan, 0);
    assert_string_equal(e->kind, "flood");
    assert_true(e->node == 0 && e->at_ns == 5 * RT_SEC && e->a == 10 * RT_SEC && e->b == 2000);

    /* masked out: the quiet run */
    deja_run_opts masked = {.plan_mask = "0"};
    assert_int_equal(deja_run(sc, 1, ov, &masked, &s, err, sizeof err), 0);
    assert_null(deja_summary_get(&s, "flood_sent"));
    assert_string_equal(deja_summary_get(&s, "trace_hash"), quiet);

    /* given to a run that asks for no flood: the flooded run */
    deja_params *bug = deja_params_new();
    assert_int_equal(deja_params_parse(bug, "tf.bug=1", err, sizeof err), 0);
    assert_int_equal(deja_params_parse(bug, "mem.limit_mb=32", err, sizeof err), 0);
    deja_run_opts given = {.plan = plan};
    assert_int_equal(deja_run(sc, 1, bug, &given, &s, err, sizeof err), 1);
    assert_string_equal(deja_summary_get(&s, "verdict"), "leak");
    assert_int_equal(summary_long(&s, "flood_sent"), sent);
    assert_string_equal(deja_summary_get(&s, "trace_hash"), flooded);

    /* no payload: the given plan's flood is ignored */
    assert_int_equal(deja_params_parse(bug, "tf.payload=0", err, sizeof err), 0);
    assert_int_equal(deja_run(sc, 1, bug, &given, &s, err, sizeof err), 0);
    assert_null(deja_summary_get(&s, "flood_sent"));
    assert_string_equal(deja_summary_get(&s, "trace_hash"), quiet);

    free(quiet);
    free(flooded);
    deja_plan_free(plan);
    deja_params_free(bug);
    deja_params_free(ov);
}

/* Bad flood parameters are refused with a message naming the parameter. */
static void test_bad_parameters(void **state) {
    (void)state;
    deja_summary s;
    const deja_scenario *sc = deja_scenario_find("tf");
    char err[256] = "";
    deja_params *ov = deja_params_new();
    assert_int_equal(deja_params_parse(ov, "net.flood_from=3", err, sizeof err), 0); /* nodes 0..2 */
    assert_int_equal(deja_run(sc, 1, ov, NULL, &s, err, sizeof err), 2);
    assert_non_null(strstr(err, "net.flood_from"));
    deja_params_free(ov);
}

int main(void) {
    tf_register();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unbounded_node_leaks),
        cmocka_unit_test(test_bounded_node_is_ok),
        cmocka_unit_test(test_flood_is_a_plan_entry),
        cmocka_unit_test(test_bad_parameters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
