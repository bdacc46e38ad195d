/*
 * test_diff.c -- deja_diff_traces (sim/lab/diff.c): on the same seed under
 * two values of a node switch (raft.sync) it names the first event a plain
 * line-by-line comparison finds; identical runs agree; a spawn's source
 * line is ignored as the digest ignores it; a trace that stops early
 * differs where it stops.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "deja/debug.h"
#include "deja/models.h"
#include "node.h"

/* Runs raft seed 7 with raft.sync=sync; its text trace, rewound. */
static FILE *test__trace(const char *sync) {
    FILE *t = tmpfile();
    assert_non_null(t);
    deja_params *ov = deja_params_new();
    deja_params_set(ov, "raft.sync", sync);
    deja_params_set(ov, "sim.duration_s", "40");
    deja_params_set(ov, "fault.quiet_s", "10");
    deja_run_opts o = {.trace = t};
    deja_summary s;
    char err[256];
    assert_int_not_equal(deja_run(deja_scenario_find("raft"), 7, ov, &o, &s, err, sizeof err), 2);
    deja_params_free(ov);
    rewind(t);
    return t;
}

static void test_names_the_first_divergent_event(void **state) {
    (void)state;
    FILE *a = test__trace("0"), *b = test__trace("1");
    /* the plain answer: the first line that differs */
    char la[4096], lb[4096];
    uint64_t line = 0;
    for (;;) {
        char *ra = fgets(la, sizeof la, a), *rb = fgets(lb, sizeof lb, b);
        line++;
        assert_true(ra || rb);
        if (!ra || !rb || strcmp(la, lb)) break;
    }
    rewind(a);
    rewind(b);
    char *out = NULL;
    size_t outlen = 0;
    FILE *o = open_memstream(&out, &outlen);
    deja_diff_result r;
    assert_int_equal(deja_diff_traces(a, b, 4, o, &r), 1);
    fclose(o);
    assert_true(r.differ);
    assert_int_equal(r.line, line);
    assert_int_equal(r.event, line); /* one event a line */
    assert_true(r.t >= 0 && r.node >= 0);
    /* the careless node skips a sync: the versions differ in kind there */
    char want_a[64];
    snprintf(want_a, sizeof want_a, "#%llu ", (unsigned long long)line);
    assert_non_null(strstr(out, want_a));
    assert_non_null(strstr(out, "  A: "));
    assert_non_null(strstr(out, "  B: "));
    assert_non_null(strstr(out, "sync")); /* B's version: the sync A never does */
    assert_non_null(strstr(out, "the 4 events before it"));
    free(out);
    fclose(a);
    fclose(b);
}

static void test_identical_runs_agree(void **state) {
    (void)state;
    FILE *a = test__trace("1"), *b = test__trace("1");
    deja_diff_result r;
    assert_int_equal(deja_diff_traces(a, b, 8, NULL, &r), 0);
    assert_false(r.differ);
    assert_true(r.lines_a > 1000);
    assert_int_equal(r.lines_a, r.lines_b);
    fclose(a);
    fclose(b);
}

static FILE *test__mem(const char *s) {
    FILE *f = fmemopen((void *)s, strlen(s), "r");
    assert_non_null(f);
    return f;
}

static void test_spawn_lines_and_short_traces(void **state) {
    (void)state;
    deja_diff_result r;
    FILE *a = test__mem("#1 0 n0 spawn 1 17 main\n#2 0 n0/t1 resume 1 0\n");
    FILE *b = test__mem("#1 0 n0 spawn 1 42 main\n#2 0 n0/t1 resume 1 0\n");
    assert_int_equal(deja_diff_traces(a, b, 2, NULL, &r), 0);
    fclose(a);
    fclose(b);
    a = test__mem("#1 0 n0 spawn 1 17 main\n#2 0 n0/t1 resume 1 0\n");
    b = test__mem("#1 0 n0 spawn 1 17 other\n#2 0 n0/t1 resume 1 0\n");
    assert_int_equal(deja_diff_traces(a, b, 2, NULL, &r), 1);
    assert_int_equal(r.line, 1);
    assert_string_equal(r.kind, "spawn");
    fclose(a);
    fclose(b);
    a = test__mem("#1 5 n0 spawn 1 17 main\n#2 9 n1/t1 send 0 7\n");
    b = test__mem("#1 5 n0 spawn 1 17 main\n");
    assert_int_equal(deja_diff_traces(a, b, 2, NULL, &r), 1);
    assert_int_equal(r.line, 2);
    assert_int_equal(r.event, 2);
    assert_int_equal(r.t, 9);
    assert_int_equal(r.node, 1);
    assert_int_equal(r.task, 1);
    assert_string_equal(r.kind, "send");
    fclose(a);
    fclose(b);
}

int main(void) {
    node_programs_register();
    deja_models_register();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_the_first_divergent_event),
        cmocka_unit_test(test_identical_runs_agree),
        cmocka_unit_test(test_spawn_lines_and_short_traces),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
