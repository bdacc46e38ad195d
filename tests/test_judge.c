/*
 * test_judge.c -- judging a production cluster's facts files with a
 * scenario's own oracle (deja_judge_facts, sim/lab/judge.c): hand-written
 * facts directories are fed to a recording oracle, which checks that the
 * files are merged in wall-time order with times from the first start,
 * that named kinds and the optional root parse, that a restart arrives as
 * the crash and restart node events, that a torn last line is left out,
 * that the oracle's verdict is the judge's, that clock skews given are
 * taken off before merging, and that a malformed line or a
 * wrong node count is bad input (2) naming the file and line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "deja/world.h"

#define SCRATCH_NAME "judge"
#include "scratch_dir.h"

typedef struct rec {
    uint32_t node;
    int64_t now;
    rt_fact f;
} rec;

static rec test__seen[64];
static int test__n;
static int test__finished;

static void jt_on_fact(void *state, uint32_t node, int64_t now, const rt_fact *f) {
    (void)state;
    assert_true(test__n < 64);
    test__seen[test__n++] = (rec){node, now, *f};
}

static void jt_finish(void *state, deja_world *w, deja_summary *s) {
    (void)state;
    test__finished++;
    deja_summary_set(s, "jt_seen", "%d", test__n);
    deja_summary_set(s, "jt_world_now_ms", "%lld", (long long)(deja_world_now(w) / RT_MS));
    for (int i = 0; i < test__n; i++)
        if (test__seen[i].f.height == 666) deja_summary_fail(s, "jt_bad");
}

static const deja_oracle_ops jt_ops = {.name = "jt", .on_fact = jt_on_fact, .finish = jt_finish};

static void jt_main(rt_ctx *ctx) { (void)ctx; }

static const deja_param_def jt_params[] = {
    {"jt.nodes", "2", "nodes"},
    {NULL, NULL, NULL},
};

static int jt_setup(deja_world *w, const deja_params *p, char *err, size_t errlen) {
    int64_t n;
    if (deja_params_i64(p, "jt.nodes", 1, 8, &n, err, errlen)) return 2;
    for (int64_t i = 0; i < n; i++) assert_true(deja_node_add(w, "jt", 0, 0) >= 0);
    deja_world_add_oracle(w, &jt_ops, NULL);
    return 0;
}

static const deja_scenario jt_scenario = {.name = "jt", .summary = "judge test", .params = jt_params,
                                          .setup = jt_setup};

#define Z "00000000000000000000000000000000"

/* Writes DIR/node-I/facts with the given text. */
static void write_facts(int node, const char *text) {
    char path[512];
    snprintf(path, sizeof path, "%s/node-%d", test__dir, node);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/node-%d/facts", test__dir, node);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Judges the scratch directory; without overrides the world gets `nodes`. */
static int judge(int nodes, const deja_params *ov, deja_summary *s, char *err, size_t errlen) {
    test__n = 0;
    test__finished = 0;
    err[0] = 0;
    deja_params *own = NULL;
    if (!ov && nodes != 2) {
        char v[16];
        snprintf(v, sizeof v, "%d", nodes);
        own = deja_params_new();
        deja_params_set(own, "jt.nodes", v);
        ov = own;
    }
    int rc = deja_judge_facts(&jt_scenario, ov, test__dir, nodes, s, err, errlen);
    if (own) deja_params_free(own);
    return rc;
}

/* Two files interleave by wall time; times count from the first start;
 * named kinds, kind-N and a line without ROOT all parse. */
static void test_merge_order(void **state) {
    (void)state;
    write_facts(0, "1000 start 0 0 " Z " " Z " 0 " Z "\n"
                   "3000 jt.step 1 0 0102030405060708090a0b0c0d0e0f10 " Z " 0 " Z "\n"
                   "5000 confirmed 3 7 " Z " " Z " 9\n");
    write_facts(1, "2000 start 0 0 " Z " " Z " 1 " Z "\n"
                   "4000 kind-77 2 0 " Z " " Z " -5 ffffffffffffffffffffffffffffffff\n"
                   "6000 jt.step 4 0 " Z " " Z " 0 " Z "\n");
    deja_summary s;
    char err[256];
    assert_int_equal(judge(2, NULL, &s, err, sizeof err), 0);
    assert_int_equal(test__finished, 1);
    assert_int_equal(test__n, 4);
    const uint32_t nodes[4] = {0, 1, 0, 1};
    const int64_t nows[4] = {2000, 3000, 4000, 5000};
    const uint64_t heights[4] = {1, 2, 3, 4};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(test__seen[i].node, nodes[i]);
        assert_int_equal(test__seen[i].now, nows[i]);
        assert_int_equal(test__seen[i].f.height, heights[i]);
    }
    assert_int_equal(test__seen[0].f.kind, rt_fact_kind_named("jt.step"));
    assert_int_equal(test__seen[0].f.hash[0], 1);
    assert_int_equal(test__seen[0].f.hash[15], 0x10);
    assert_int_equal(test__seen[1].f.kind, 77);
    assert_int_equal(test__seen[1].f.value, -5);
    assert_int_equal(test__seen[1].f.root[15], 0xff);
    assert_int_equal(test__seen[2].f.kind, RT_FACT_CONFIRMED);
    assert_int_equal(test__seen[2].f.slot, 7);
    assert_string_equal(deja_summary_get(&s, "verdict"), "ok");
    assert_string_equal(deja_summary_get(&s, "scenario"), "jt");
    assert_string_equal(deja_summary_get(&s, "facts"), "4");
    assert_string_equal(deja_summary_get(&s, "restarts"), "0");
    assert_string_equal(deja_summary_get(&s, "jt_seen"), "4");
}

/* A node's own lines keep their order even when its clock steps back. */
static void test_clock_step_back(void **state) {
    (void)state;
    write_facts(0, "1000 start 0 0 " Z " " Z " 0 " Z "\n"
                   "9000 jt.step 1 0 " Z " " Z " 0 " Z "\n"
                   "4000 jt.step 2 0 " Z " " Z " 0 " Z "\n");
    deja_summary s;
    char err[256];
    assert_int_equal(judge(1, NULL, &s, err, sizeof err), 0);
    assert_int_equal(test__n, 2);
    assert_int_equal(test__seen[0].f.height, 1);
    assert_int_equal(test__seen[1].f.height, 2);
    assert_true(test__seen[1].now >= test__seen[0].now);
}

/* A node whose clock ran 5 us ahead (libfaketime) is merged by real time. */
static void test_skew(void **state) {
    (void)state;
    write_facts(0, "1000 start 0 0 " Z " " Z " 0 " Z "\n"
                   "2500 jt.step 1 0 " Z " " Z " 0 " Z "\n");
    write_facts(1, "7000 start 0 0 " Z " " Z " 1 " Z "\n"
                   "8000 jt.step 2 0 " Z " " Z " 0 " Z "\n");
    const int64_t skew[2] = {0, 5000};
    deja_summary s;
    char err[256];
    test__n = 0;
    assert_int_equal(deja_judge_facts_skewed(&jt_scenario, NULL, test__dir, 2, skew, &s, err, sizeof err), 0);
    assert_int_equal(test__n, 2);
    assert_int_equal(test__seen[0].node, 0);
    assert_int_equal(test__seen[0].now, 1500);
    assert_int_equal(test__seen[1].node, 1);
    assert_int_equal(test__seen[1].now, 2000);
    test__n = 0;
    assert_int_equal(deja_judge_facts(&jt_scenario, NULL, test__dir, 2, &s, err, sizeof err), 0);
    assert_int_equal(test__seen[1].now, 7000); /* without the skew, node 1's fact comes 5 us late */
}

/* A second start line is a restart: crash then restart, at its instant;
 * a torn last line (no newline: a SIGKILL mid-write) is left out. */
static void test_restart_and_torn_line(void **state) {
    (void)state;
    write_facts(0, "1000 start 0 0 " Z " " Z " 0 " Z "\n"
                   "2000 jt.step 1 0 " Z " " Z " 0 " Z "\n"
                   "3000 start 0 0 " Z " " Z " 0 " Z "\n"
                   "4000 jt.step 1 0 " Z " " Z " 0 " Z "\n"
                   "5000 jt.step 2 0 " Z);
    deja_summary s;
    char err[256];
    assert_int_equal(judge(1, NULL, &s, err, sizeof err), 0);
    assert_int_equal(test__n, 4);
    assert_int_equal(test__seen[1].f.kind, DEJA_FACT_CRASH);
    assert_int_equal(test__seen[1].now, 2000);
    assert_int_equal(test__seen[2].f.kind, DEJA_FACT_RESTART);
    assert_int_equal(test__seen[2].now, 2000);
    assert_int_equal(test__seen[3].f.height, 1);
    assert_string_equal(deja_summary_get(&s, "restarts"), "1");
    assert_string_equal(deja_summary_get(&s, "facts"), "2");
}

/* The oracle's verdict is the judge's: 1 and its name; overrides the
 * scenario does not know (the node's own) are left out. */
static void test_oracle_fails(void **state) {
    (void)state;
    write_facts(0, "1000 start 0 0 " Z " " Z " 0 " Z "\n"
                   "2000 jt.step 666 0 " Z " " Z " 0 " Z "\n");
    deja_params *ov = deja_params_new();
    deja_params_set(ov, "jt.nodes", "1");
    deja_params_set(ov, "node.only", "x");
    deja_summary s;
    char err[256];
    assert_int_equal(judge(1, ov, &s, err, sizeof err), 1);
    assert_string_equal(deja_summary_get(&s, "verdict"), "jt_bad");
    deja_params_free(ov);
}

/* Malformed lines: 2, the file and line named, the oracle never finishes. */
static void test_malformed(void **state) {
    (void)state;
    static const struct {
        const char *line, *why;
    } bad[] = {
        {"3000 jt.step 1 0 xyz " Z " 0\n", "HASH"},
        {"3000 jt.step 1\n", "fewer than 7 fields"},
        {"abc jt.step 1 0 " Z " " Z " 0\n", "WALL_NS"},
        {"3000 jt.step -1 0 " Z " " Z " 0\n", "HEIGHT"},
        {"3000 j/t 1 0 " Z " " Z " 0\n", "KIND"},
        {"3000 jt.step 1 0 " Z " " Z " 0 " Z " extra\n", "more than 8"},
        {"3000 start 0 0 " Z " " Z " 0 " Z "\n", "another node"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[512];
        write_facts(0, "1000 start 0 0 " Z " " Z " 0 " Z "\n");
        snprintf(text, sizeof text, "1000 start 0 0 " Z " " Z " 1 " Z "\n2000 jt.step 1 0 " Z " " Z " 0\n%s",
                 bad[i].line);
        write_facts(1, text);
        deja_summary s;
        char err[512], want[512];
        if (judge(2, NULL, &s, err, sizeof err) != 2) fail_msg("line '%s' was accepted", bad[i].line);
        snprintf(want, sizeof want, "%s/node-1/facts:3: ", test__dir);
        if (strncmp(err, want, strlen(want)) || !strstr(err, bad[i].why))
            fail_msg("line '%s': error '%s'", bad[i].line, err);
        assert_int_equal(test__finished, 0);
    }
    write_facts(0, "2000 jt.step 1 0 " Z " " Z " 0\n");
    deja_summary s;
    char err[512];
    assert_int_equal(judge(2, NULL, &s, err, sizeof err), 2);
    assert_non_null(strstr(err, "node-0/facts:1: the first line is not a start line"));
}

/* The scenario's world must have the cluster's node count: an explicit
 * --set that disagrees is bad input; left out, it follows the cluster. */
static void test_node_count(void **state) {
    (void)state;
    write_facts(0, "1000 start 0 0 " Z " " Z " 0 " Z "\n");
    deja_summary s;
    char err[512];
    deja_params *ov = deja_params_new();
    deja_params_set(ov, "jt.nodes", "2");
    assert_int_equal(judge(3, ov, &s, err, sizeof err), 2);
    deja_params_free(ov);
    assert_non_null(strstr(err, "builds 2 nodes, the cluster has 3"));
    assert_non_null(strstr(err, "--set jt.nodes=2"));
    /* left out, the scenario's node count (its one *.nodes) is the cluster's */
    test__n = 0;
    assert_int_equal(deja_judge_facts(&jt_scenario, NULL, test__dir, 3, &s, err, sizeof err), 0);
    assert_int_equal(deja_judge_facts(&jt_scenario, NULL, "/nonexistent-cluster-dir", 2, &s, err, sizeof err), 2);
}

int main(void) {
    rt_program_register("jt", jt_main);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_merge_order, test__setup, test__teardown),
        cmocka_unit_test_setup_teardown(test_clock_step_back, test__setup, test__teardown),
        cmocka_unit_test_setup_teardown(test_skew, test__setup, test__teardown),
        cmocka_unit_test_setup_teardown(test_restart_and_torn_line, test__setup, test__teardown),
        cmocka_unit_test_setup_teardown(test_oracle_fails, test__setup, test__teardown),
        cmocka_unit_test_setup_teardown(test_malformed, test__setup, test__teardown),
        cmocka_unit_test_setup_teardown(test_node_count, test__setup, test__teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
