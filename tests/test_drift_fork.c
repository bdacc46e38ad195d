/*
 * test_drift_fork.c -- the drift-fork scenario end to end, in-process:
 * determinism of the trace digest and of the text trace, and the behaviour
 * the scenario exists to show (no forks with perfect clocks, forks when
 * clock offsets exceed the slot length). Short runs keep it fast.
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

static void test_same_seed_same_trace(void **state) {
    (void)state;
    static const char *const sets[] = {"sim.duration_s=60", "clock.offset_ms=800", NULL};
    char *t1 = NULL, *t2 = NULL;
    size_t l1 = 0, l2 = 0;
    FILE *f1 = open_memstream(&t1, &l1), *f2 = open_memstream(&t2, &l2);
    deja_summary a, b, c;
    scenario_run("drift-fork", 7, sets, &a, f1);
    scenario_run("drift-fork", 7, sets, &b, f2);
    fclose(f1);
    fclose(f2);
    scenario_run("drift-fork", 8, sets, &c, NULL);
    assert_string_equal(deja_summary_get(&a, "trace_hash"), deja_summary_get(&b, "trace_hash"));
    assert_string_not_equal(deja_summary_get(&a, "trace_hash"), deja_summary_get(&c, "trace_hash"));
    assert_true(l1 > 1000);
    assert_int_equal(l1, l2);
    assert_memory_equal(t1, t2, l1);
    assert_int_equal(strlen(deja_summary_get(&a, "trace_hash")), 16);
    free(t1);
    free(t2);
}

static void test_perfect_clocks_do_not_fork(void **state) {
    (void)state;
    static const char *const sets[] = {"sim.duration_s=120", "clock.offset_ms=0", "clock.drift_ppm=0", NULL};
    for (uint64_t seed = 1; seed <= 5; seed++) {
        deja_summary s;
        assert_int_equal(scenario_run("drift-fork", seed, sets, &s, NULL), 0);
        assert_int_equal(summary_long(&s, "forks"), 0);
        assert_int_equal(summary_long(&s, "max_reorg"), 0);
        /* one block per slot, give or take the first and last */
        assert_in_range(summary_long(&s, "blocks"), 115, 121);
        assert_in_range(summary_long(&s, "confirmed"), 110, 120);
    }
}

static void test_large_offsets_fork(void **state) {
    (void)state;
    static const char *const sets[] = {"sim.duration_s=120", "clock.offset_ms=3000", NULL};
    int forking = 0;
    for (uint64_t seed = 1; seed <= 6; seed++) {
        deja_summary s;
        scenario_run("drift-fork", seed, sets, &s, NULL);
        forking += summary_long(&s, "forks") > 0;
    }
    assert_true(forking >= 4);
}

static void test_bad_parameter_is_rejected(void **state) {
    (void)state;
    deja_summary s;
    static const char *const unknown[] = {"clock.nope=1", NULL};
    static const char *const badval[] = {"aura.slot_ms=fast", NULL};
    assert_int_equal(scenario_run("drift-fork", 1, unknown, &s, NULL), 2);
    assert_int_equal(scenario_run("drift-fork", 1, badval, &s, NULL), 2);
}

int main(void) {
    node_programs_register();
    deja_models_register();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_seed_same_trace),
        cmocka_unit_test(test_perfect_clocks_do_not_fork),
        cmocka_unit_test(test_large_offsets_fork),
        cmocka_unit_test(test_bad_parameter_is_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
