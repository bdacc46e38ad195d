/*
 * test_plan.c -- fault plans (sim/world/plan.c): every fault a run injects
 * is a plan entry; the full plan given back replays the same trace hash; a
 * mask or a cut-down plan leaves faults out; plans survive a trip through
 * a plan file and a seed file; bad plan text is refused with a message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "deja/deja.h"
#include "deja/models.h"
#include "deja/world.h"
#include "node.h"

/* Runs raft (swarm) for seed with opts; returns the trace hash in hash. */
static int test__run(uint64_t seed, deja_run_opts *o, char hash[17], deja_plan **record) {
    const deja_scenario *sc = deja_scenario_find("raft");
    assert_non_null(sc);
    deja_params *ov = deja_params_new();
    deja_params_set(ov, "sim.duration_s", "60");
    deja_params_set(ov, "fault.quiet_s", "15");
    deja_summary s;
    char err[256];
    if (record) o->plan_record = record;
    int rc = deja_run(sc, seed, ov, o, &s, err, sizeof err);
    assert_int_not_equal(rc, 2);
    snprintf(hash, 17, "%s", deja_summary_get(&s, "trace_hash"));
    deja_params_free(ov);
    return rc;
}

static void test_full_plan_replays_same_hash(void **state) {
    (void)state;
    static const uint64_t seeds[] = {1, 2, 6};
    for (int k = 0; k < 3; k++) {
        uint64_t seed = seeds[k];
        char h0[17], h1[17], h2[17];
        deja_plan *full = NULL, *again = NULL;
        deja_run_opts o = {0};
        test__run(seed, &o, h0, &full);
        assert_non_null(full);
        assert_true(deja_plan_count(full) > 3);
        assert_int_equal(deja_plan_enabled(full), deja_plan_count(full));
        for (size_t i = 0; i < deja_plan_count(full); i++) assert_int_equal(deja_plan_get(full, i)->id, i);
        deja_run_opts g = {.plan = full};
        test__run(seed, &g, h1, &again);
        assert_string_equal(h0, h1);
        assert_int_equal(deja_plan_enabled(again), deja_plan_count(full));
        /* leaving every fault out changes the run */
        deja_run_opts m = {.plan_mask = "0-100000"};
        deja_plan *none = NULL;
        test__run(seed, &m, h2, &none);
        assert_string_not_equal(h0, h2);
        assert_int_equal(deja_plan_enabled(none), 0);
        assert_int_equal(deja_plan_count(none), deja_plan_count(full));
        deja_plan_free(none);
        deja_plan_free(again);
        deja_plan_free(full);
    }
}

static void test_mask_and_subset_agree(void **state) {
    (void)state;
    char h0[17], hm[17], hs[17];
    deja_plan *full = NULL, *masked = NULL;
    deja_run_opts o = {0};
    test__run(2, &o, h0, &full);
    size_t n = deja_plan_count(full);
    assert_true(n > 3);
    /* mask out entry 1, and give the plan without entry 1: the same run */
    deja_run_opts m = {.plan_mask = "1"};
    test__run(2, &m, hm, &masked);
    assert_false(deja_plan_get(masked, 1)->enabled);
    assert_int_equal(deja_plan_enabled(masked), n - 1);
    deja_plan *sub = deja_plan_new();
    for (size_t i = 0; i < n; i++)
        if (i != 1) deja_plan_add(sub, deja_plan_get(full, i));
    deja_run_opts g = {.plan = sub};
    test__run(2, &g, hs, NULL);
    assert_string_equal(hm, hs);
    assert_string_not_equal(h0, hm);
    deja_plan_free(sub);
    deja_plan_free(masked);
    deja_plan_free(full);
}

static void test_plan_file_and_seed_file_roundtrip(void **state) {
    (void)state;
    char h0[17], h1[17];
    deja_plan *full = NULL;
    char path[] = "/tmp/deja-test-plan-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    deja_run_opts o = {.plan_out = f};
    test__run(1, &o, h0, &full);
    fclose(f);
    deja_plan *back = NULL;
    char err[256];
    assert_int_equal(deja_plan_load(path, &back, err, sizeof err), 0);
    assert_int_equal(deja_plan_count(back), deja_plan_count(full));
    for (size_t i = 0; i < deja_plan_count(full); i++) {
        char a[512], b[512];
        deja_plan_format(deja_plan_get(full, i), a, sizeof a);
        deja_plan_format(deja_plan_get(back, i), b, sizeof b);
        assert_string_equal(a, b);
    }
    deja_run_opts g = {.plan = back};
    test__run(1, &g, h1, NULL);
    assert_string_equal(h0, h1);

    /* a seed file carrying a two-fault plan replays */
    deja_plan *two = deja_plan_new();
    deja_plan_add(two, deja_plan_get(full, 0));
    deja_plan_add(two, deja_plan_get(full, deja_plan_count(full) - 1));
    deja_run_opts t = {.plan = two};
    deja_summary s;
    deja_params *ov = deja_params_new();
    deja_params_set(ov, "sim.duration_s", "60");
    deja_params_set(ov, "fault.quiet_s", "15");
    deja_run(deja_scenario_find("raft"), 1, ov, &t, &s, err, sizeof err);
    assert_int_equal(deja_seedfile_write_plan(path, "raft", 1, ov, two, &s), 0);
    deja_seedfile sf;
    assert_int_equal(deja_seedfile_load(path, &sf, err, sizeof err), 0);
    assert_non_null(sf.plan);
    assert_int_equal(deja_plan_count(sf.plan), 2);
    deja_seedfile_free(&sf);
    deja_summary r;
    assert_int_equal(deja_replay(path, NULL, &r, err, sizeof err), 0);
    assert_string_equal(deja_summary_get(&r, "match"), "yes");
    deja_params_free(ov);
    deja_plan_free(two);
    deja_plan_free(back);
    deja_plan_free(full);
    unlink(path);
}

static void test_bad_plan_text(void **state) {
    (void)state;
    char err[256];
    deja_plan *p = deja_plan_new();
    assert_int_equal(deja_plan_parse_add(p, "explode at_ns=5 node=1", err, sizeof err), 2);
    assert_non_null(strstr(err, "explode"));
    assert_int_equal(deja_plan_parse_add(p, "crash node=1 a=5", err, sizeof err), 2);
    assert_int_equal(deja_plan_parse_add(p, "crash at_ns=5 a=5", err, sizeof err), 2);
    assert_int_equal(deja_plan_parse_add(p, "crash at_ns=x node=1", err, sizeof err), 2);
    assert_int_equal(deja_plan_parse_add(p, "partition at_ns=5", err, sizeof err), 2);
    assert_int_equal(deja_plan_parse_add(p, "crash at_ns=5 node=1 a=-1", err, sizeof err), 0);
    assert_int_equal(deja_plan_count(p), 1);
    deja_plan_free(p);
    assert_int_equal(deja_plan_mask_check("3,5-9", err, sizeof err), 0);
    assert_int_equal(deja_plan_mask_check("5-3", err, sizeof err), 2);
    assert_int_equal(deja_plan_mask_check("a", err, sizeof err), 2);
    assert_int_equal(deja_plan_mask_check("1,", err, sizeof err), 2);
    assert_int_equal(deja_plan_mask_check("", err, sizeof err), 2);
}

int main(void) {
    node_programs_register();
    deja_models_register();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_plan_replays_same_hash),
        cmocka_unit_test(test_mask_and_subset_agree),
        cmocka_unit_test(test_plan_file_and_seed_file_roundtrip),
        cmocka_unit_test(test_bad_plan_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
