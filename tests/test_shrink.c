/*
 * test_shrink.c -- deja_shrink (sim/lab/shrink.c) on a Raft swarm run with
 * the careless-disk bug switched on (raft.sync=0): the minimal run keeps
 * the verdict, has at most a fifth of the faults and a shorter duration,
 * its seed file replays, and shrinking twice gives the same seed file.
 * Also: a passing run has nothing to shrink.
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

#include "deja/debug.h"
#include "deja/models.h"
#include "node.h"

static char *test__slurp(const char *path) {
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char buf[2][65536];
    static int which;
    char *b = buf[which++ % 2];
    size_t n = fread(b, 1, sizeof buf[0] - 1, f);
    b[n] = 0;
    fclose(f);
    return b;
}

static void test_shrink_raft_nosync(void **state) {
    (void)state;
    const deja_scenario *sc = deja_scenario_find("raft");
    deja_params *ov = deja_params_new();
    deja_params_set(ov, "raft.sync", "0");
    char path[] = "/tmp/deja-test-shrink-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    char err[512], first[65536];
    for (int round = 0; round < 2; round++) {
        deja_shrink_result r;
        assert_int_equal(deja_shrink(sc, 7, ov, NULL, 500, NULL, &r, err, sizeof err), 0);
        assert_string_equal(r.verdict, "durability");
        assert_true(r.faults_before >= 10);
        assert_true(r.faults_after * 5 <= r.faults_before);
        assert_true(r.duration_after_s < r.duration_before_s);
        assert_true(r.nodes_after <= r.nodes_before);
        assert_true(r.runs > 1 && r.runs <= 501);
        assert_string_equal(deja_summary_get(&r.summary, "verdict"), "durability");
        assert_int_equal(deja_seedfile_write_plan(path, "raft", 7, r.overrides, r.plan, &r.summary), 0);
        deja_shrink_result_free(&r);
        deja_summary s;
        assert_int_equal(deja_replay(path, NULL, &s, err, sizeof err), 0);
        assert_string_equal(deja_summary_get(&s, "match"), "yes");
        if (round == 0)
            snprintf(first, sizeof first, "%s", test__slurp(path));
        else
            assert_string_equal(first, test__slurp(path));
    }
    unlink(path);
    deja_params_free(ov);
}

static void test_shrink_refuses_passing_run(void **state) {
    (void)state;
    deja_shrink_result r;
    char err[512];
    deja_params *ov = deja_params_new();
    deja_params_set(ov, "sim.duration_s", "30");
    deja_params_set(ov, "fault.quiet_s", "10");
    assert_int_equal(deja_shrink(deja_scenario_find("raft"), 3, ov, NULL, 50, NULL, &r, err, sizeof err), 1);
    assert_non_null(strstr(err, "does not fail"));
    deja_params_free(ov);
}

int main(void) {
    node_programs_register();
    deja_models_register();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shrink_raft_nosync),
        cmocka_unit_test(test_shrink_refuses_passing_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
