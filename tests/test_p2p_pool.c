/*
 * test_p2p_pool.c -- the reference node's worker pool for gossiped
 * transactions (node/p2p.h) under the AuRa world's flood: with the pool
 * (p2p.pool=4, the default) a flood faster than the verifier is refused
 * (p2p_refused > 0) and resident memory stays at its size without a flood,
 * verdict ok; with the bug switch p2p.pool=0 (a task per transaction) the
 * handlers pile up on the verifier until the task-growth detector names
 * their group (verdict leak) and the memory limit kills the nodes (verdict
 * oom without the task-growth detector). A flood
 * the verifier keeps up with is refused nothing. The flood is a fault-plan
 * entry (kind "flood"). Also the MSG_TX framing.
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
#include "msg.h"
#include "node.h"

/* drift-fork for 20 s, node 0 flooding the others at `rate` transactions a
 * second each from 5 s to 15 s, under a 32 MiB memory limit per node. */
static void run_flood(uint64_t seed, const char *rate, const char *pool, deja_summary *s) {
    char r[64], p[64];
    snprintf(r, sizeof r, "net.flood_rate=%s", rate);
    snprintf(p, sizeof p, "p2p.pool=%s", pool);
    const char *sets[] = {"sim.duration_s=20", "net.flood_at_s=5", "net.flood_s=10", "mem.limit_mb=32", r, p, NULL};
    scenario_run("drift-fork", seed, sets, s, NULL);
}

static void test_pool_holds_memory_flat(void **state) {
    (void)state;
    deja_summary quiet;
    const char *sets[] = {"sim.duration_s=20", NULL};
    scenario_run("drift-fork", 1, sets, &quiet, NULL);
    long base_kb = summary_long(&quiet, "peak_resident_kb");
    assert_null(deja_summary_get(&quiet, "p2p_refused")); /* no flood, no p2p metrics */
    for (uint64_t seed = 1; seed <= 3; seed++) {
        deja_summary s;
        run_flood(seed, "2000", "4", &s);
        assert_string_equal(deja_summary_get(&s, "verdict"), "ok");
        assert_null(deja_summary_get(&s, "detected"));
        assert_true(summary_long(&s, "p2p_refused") > 0);
        /* three nodes, one verifier each at 1000 a second, for 10 s */
        assert_in_range(summary_long(&s, "p2p_verified"), 29000, 31000);
        assert_int_equal(summary_long(&s, "oom_kills"), 0);
        assert_true(summary_long(&s, "peak_resident_kb") <= 2 * base_kb); /* flat: the pool and its queue */
        assert_true(summary_long(&s, "peak_tasks") <= 4 * 6);           /* main, 4 workers and little else */
    }
}

static void test_unbounded_handlers_leak(void **state) {
    (void)state;
    deja_summary s;
    run_flood(1, "2000", "0", &s);
    assert_string_equal(deja_summary_get(&s, "verdict"), "leak");
    const char *d = deja_summary_get(&s, "detected");
    assert_non_null(strstr(d, "leak tasks node "));
    assert_non_null(strstr(d, "'p2p-handler' mutex at node/p2p.c:"));
    assert_true(summary_long(&s, "detected_ms") <= 10000); /* within 5 s of the flood */
    assert_int_equal(summary_long(&s, "p2p_refused"), 0);
    assert_true(summary_long(&s, "peak_tasks") > 5000);
    assert_true(summary_long(&s, "oom_kills") >= 1); /* left to grow, it reaches the limit */
    assert_true(summary_long(&s, "peak_resident_kb") >= 32 * 1024);
    /* without the task-growth detector the OOM kill is the verdict */
    const char *sets[] = {"sim.duration_s=20", "net.flood_at_s=5", "net.flood_s=10", "mem.limit_mb=32",
                          "net.flood_rate=2000", "p2p.pool=0", "leak.sample_ms=0", NULL};
    scenario_run("drift-fork", 1, sets, &s, NULL);
    assert_string_equal(deja_summary_get(&s, "verdict"), "oom");
    assert_int_equal(summary_long(&s, "oom_kills"), 3);
}

/* A flood the verifiers keep up with (500 a second each) is all verified. */
static void test_pool_keeps_up(void **state) {
    (void)state;
    deja_summary s;
    run_flood(1, "500", "4", &s);
    assert_string_equal(deja_summary_get(&s, "verdict"), "ok");
    assert_int_equal(summary_long(&s, "p2p_refused"), 0);
    assert_int_equal(summary_long(&s, "p2p_verified"), 3 * summary_long(&s, "flood_sent"));
}

/* The flood is a plan entry: the run's plan names it, leaving it out (a
 * mask) leaves the run as without a flood, and a given plan floods a run
 * whose parameters ask for none. */
static void test_flood_is_a_plan_entry(void **state) {
    (void)state;
    const deja_scenario *sc = deja_scenario_find("drift-fork");
    assert_non_null(sc);
    char err[256];
    deja_params *ov = deja_params_new();
    const char *sets[] = {"sim.duration_s=20", "net.flood_rate=2000", "net.flood_at_s=5", "net.flood_s=10",
                          "p2p.pool=0"};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        assert_int_equal(deja_params_parse(ov, sets[i], err, sizeof err), 0);
    deja_plan *plan = NULL;
    deja_summary s;
    deja_run_opts o = {.plan_record = &plan};
    deja_run(sc, 1, ov, &o, &s, err, sizeof err);
    assert_string_equal(deja_summary_get(&s, "verdict"), "leak");
    assert_non_null(plan);
    assert_int_equal(deja_plan_count(plan), 1);
    const deja_plan_entry *e = deja_plan_get(plan, 0);
    assert_string_equal(e->kind, "flood");
    assert_int_equal(e->node, 0);
    assert_true(e->at_ns == 5 * RT_SEC && e->a == 10 * RT_SEC && e->b == 2000);
    /* masked out: no flood, no p2p metrics, the quiet run's hash */
    deja_run_opts masked = {.plan_mask = "0"};
    deja_run(sc, 1, ov, &masked, &s, err, sizeof err);
    assert_string_equal(deja_summary_get(&s, "verdict"), "ok");
    assert_null(deja_summary_get(&s, "flood_sent"));
    char *hash = strdup(deja_summary_get(&s, "trace_hash"));
    deja_params *quiet = deja_params_new();
    assert_int_equal(deja_params_parse(quiet, "sim.duration_s=20", err, sizeof err), 0);
    assert_int_equal(deja_params_parse(quiet, "p2p.pool=0", err, sizeof err), 0);
    deja_run_opts none = {0};
    deja_run(sc, 1, quiet, &none, &s, err, sizeof err);
    assert_string_equal(deja_summary_get(&s, "trace_hash"), hash);
    /* given: the same flood on a run that asks for none */
    deja_run_opts given = {.plan = plan};
    deja_run(sc, 1, quiet, &given, &s, err, sizeof err);
    assert_string_equal(deja_summary_get(&s, "verdict"), "leak");
    assert_int_equal(summary_long(&s, "flood_sent"), 20005);
    free(hash);
    deja_plan_free(plan);
    deja_params_free(quiet);
    deja_params_free(ov);
}

static void test_tx_framing(void **state) {
    (void)state;
    uint8_t buf[MSG_TX_LEN];
    assert_int_equal(msg_encode_tx(0x0102030405060708ull, buf, sizeof buf), MSG_TX_LEN);
    assert_int_equal(msg_encode_tx(1, buf, sizeof buf - 1), 0);
    msg d;
    assert_int_equal(msg_decode(buf, sizeof buf, &d), RT_OK);
    assert_int_equal(d.tag, MSG_TX);
    assert_true(d.tx == 0x0102030405060708ull);
    buf[3] ^= 1; /* damaged: the seal no longer matches */
    assert_int_equal(msg_decode(buf, sizeof buf, &d), RT_EIO);
}

int main(void) {
    node_programs_register();
    deja_models_register();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tx_framing),
        cmocka_unit_test(test_pool_holds_memory_flat),
        cmocka_unit_test(test_unbounded_handlers_leak),
        cmocka_unit_test(test_pool_keeps_up),
        cmocka_unit_test(test_flood_is_a_plan_entry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
