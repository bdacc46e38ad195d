/*
 * test_seedfile.c -- the seed-file module (sim/seedfile.c): writing and
 * loading round-trip, the strict parser naming file:line for every kind of
 * error, atomic writes, and deja_replay telling a match from a mismatch.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>

#include <cmocka.h>

#include "deja/models.h"
#include "node.h"
#include "deja/deja.h"
#include "deja/rt.h"

#define SCRATCH_NAME "seedfile"
#include "scratch_dir.h"

/* Writes text to DIR/name and returns the path (static buffer). */
static const char *test__file(const char *name, const char *text) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", test__dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static void test_roundtrip(void **state) {
    (void)state;
    deja_params *over = deja_params_new();
    deja_params_set(over, "clock.offset_ms", "1500");
    deja_params_set(over, "aura.slot_ms", "2000");
    deja_summary s;
    deja_summary_clear(&s);
    deja_summary_set(&s, "verdict", "safety");
    deja_summary_set(&s, "trace_hash", "0123456789abcdef");
    deja_summary_set(&s, "events", "42");
    deja_summary_set(&s, "sim_ns", "1000");
    char path[512];
    snprintf(path, sizeof path, "%s/rt.seed", test__dir);
    assert_int_equal(deja_seedfile_write(path, "drift-fork", 18446744073709551615ull, over, &s), 0);

    deja_seedfile sf;
    char err[512];
    assert_int_equal(deja_seedfile_load(path, &sf, err, sizeof err), 0);
    assert_string_equal(sf.scenario, "drift-fork");
    assert_true(sf.seed == 18446744073709551615ull);
    assert_string_equal(sf.verdict, "safety");
    assert_string_equal(sf.trace_hash, "0123456789abcdef");
    assert_int_equal(deja_params_count(sf.overrides), 2);
    /* order of the overrides is kept */
    assert_string_equal(deja_params_key(sf.overrides, 0), "clock.offset_ms");
    assert_string_equal(deja_params_val(sf.overrides, 0), "1500");
    assert_string_equal(deja_params_key(sf.overrides, 1), "aura.slot_ms");
    assert_string_equal(deja_params_val(sf.overrides, 1), "2000");
    deja_seedfile_free(&sf);

    /* no temporary file is left next to it */
    DIR *d = opendir(test__dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d))) assert_null(strstr(e->d_name, ".tmp"));
    closedir(d);
    deja_params_free(over);
}

static void test_lenient_layout(void **state) {
    (void)state;
    const char *p = test__file("layout.seed",
                               "# a comment\n"
                               "\n"
                               "   scenario=drift-fork   \n"
                               "\t# indented comment\n"
                               "seed   =   7\r\n"
                               "set = clock.offset_ms = 250\n"
                               "verdict = ok\n"
                               "trace_hash = 0123456789ABCDEF"); /* no final newline, upper case */
    deja_seedfile sf;
    char err[512];
    assert_int_equal(deja_seedfile_load(p, &sf, err, sizeof err), 0);
    assert_string_equal(sf.scenario, "drift-fork");
    assert_true(sf.seed == 7);
    assert_string_equal(deja_params_get(sf.overrides, "clock.offset_ms"), "250");
    assert_string_equal(sf.trace_hash, "0123456789abcdef");
    deja_seedfile_free(&sf);
}

typedef struct test__bad {
    const char *text;
    int line;
    const char *what; /* a substring of the message */
} test__bad;

#define HDR "scenario = drift-fork\nseed = 7\n"
#define TAIL "verdict = ok\ntrace_hash = 0123456789abcdef\n"

static const test__bad test__bads[] = {
    {HDR "color = blue\n" TAIL, 3, "unknown key 'color'"},
    {HDR "this line has no equals sign\n" TAIL, 3, "expected 'key = value'"},
    {"scenario = drift-fork\nseed = abc\n" TAIL, 2, "bad seed 'abc'"},
    {"scenario = drift-fork\nseed = -1\n" TAIL, 2, "bad seed '-1'"},
    {"scenario = drift-fork\nseed = 18446744073709551616\n" TAIL, 2, "bad seed"},
    {"scenario = drift-fork\nseed = 7x\n" TAIL, 2, "bad seed '7x'"},
    {HDR "seed = 8\n" TAIL, 3, "duplicate 'seed'"},
    {HDR "scenario = other\n" TAIL, 3, "duplicate 'scenario'"},
    {HDR "set = clock.offset_ms\n" TAIL, 3, "bad override"},
    {HDR "set = =5\n" TAIL, 3, "bad override"},
    {HDR "set = a=1\nset = a=2\n" TAIL, 4, "duplicate override of 'a'"},
    {HDR "verdict =\ntrace_hash = 0123456789abcdef\n", 3, "empty value for 'verdict'"},
    {HDR "verdict = not ok\ntrace_hash = 0123456789abcdef\n", 3, "bad verdict"},
    {HDR "verdict = ok\nverdict = ok\n", 4, "duplicate 'verdict'"},
    {HDR "verdict = ok\ntrace_hash = 0123\n", 4, "bad trace_hash '0123'"},
    {HDR "verdict = ok\ntrace_hash = 0123456789abcdefa\n", 4, "bad trace_hash"},
    {HDR "verdict = ok\ntrace_hash = 0123456789abcdeg\n", 4, "bad trace_hash"},
    {HDR "verdict = ok\ntrace_hash = 0123456789abcdef\ntrace_hash = 0123456789abcdef\n", 5, "duplicate 'trace_hash'"},
    {"seed = 7\n" TAIL, 3, "missing 'scenario"},
    {"scenario = drift-fork\n" TAIL, 3, "missing 'seed"},
    {HDR "trace_hash = 0123456789abcdef\n", 3, "missing 'verdict"},
    {HDR "verdict = ok\n# trailing comment\n", 4, "missing 'trace_hash"},
    {"", 1, "missing 'scenario"},
    {"scenario = bad name\n" "seed = 1\n" TAIL, 1, "bad scenario name"},
};

static void test_parse_errors_name_file_and_line(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof test__bads / sizeof test__bads[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "bad%zu.seed", i);
        const char *p = test__file(name, test__bads[i].text);
        char want[600], err[1024] = "";
        snprintf(want, sizeof want, "%s:%d: ", p, test__bads[i].line);
        deja_seedfile sf;
        int rc = deja_seedfile_load(p, &sf, err, sizeof err);
        if (rc != 2 || strncmp(err, want, strlen(want)) || !strstr(err, test__bads[i].what))
            fail_msg("case %zu: rc %d, err '%s', want prefix '%s' and '%s'", i, rc, err, want, test__bads[i].what);
        assert_null(sf.overrides); /* nothing to free after an error */
    }
}

static void test_missing_file(void **state) {
    (void)state;
    char path[512], err[512] = "";
    snprintf(path, sizeof path, "%s/nope.seed", test__dir);
    deja_seedfile sf;
    assert_int_equal(deja_seedfile_load(path, &sf, err, sizeof err), 2);
    assert_non_null(strstr(err, path));
}

static void test_write_refuses_bad_input(void **state) {
    (void)state;
    deja_summary s;
    deja_summary_clear(&s);
    deja_summary_set(&s, "verdict", "ok");
    char path[512];
    snprintf(path, sizeof path, "%s/w.seed", test__dir);
    /* no trace_hash in the summary */
    assert_int_equal(deja_seedfile_write(path, "drift-fork", 1, NULL, &s), 2);
    deja_summary_set(&s, "trace_hash", "0123456789abcdef");
    /* a value that would not survive the trip (a newline) */
    deja_params *over = deja_params_new();
    deja_params_set(over, "k", "a\nb");
    assert_int_equal(deja_seedfile_write(path, "drift-fork", 1, over, &s), 2);
    assert_int_not_equal(access(path, F_OK), 0);
    deja_params_free(over);
    /* a directory that does not exist */
    snprintf(path, sizeof path, "%s/no/such/dir/w.seed", test__dir);
    assert_int_equal(deja_seedfile_write(path, "drift-fork", 1, NULL, &s), 2);
}

/* Writes a seed file of a real short drift-fork run, then replays it. */
static void test_replay_match_and_mismatch(void **state) {
    (void)state;
    const deja_scenario *sc = deja_scenario_find("drift-fork");
    if (!sc) skip();
    deja_params *over = deja_params_new();
    deja_params_set(over, "sim.duration_s", "20");
    deja_summary s;
    char err[1024] = "";
    int rc = deja_run(sc, 3, over, NULL, &s, err, sizeof err);
    assert_true(rc == 0 || rc == 1);
    char path[512];
    snprintf(path, sizeof path, "%s/run.seed", test__dir);
    assert_int_equal(deja_seedfile_write(path, "drift-fork", 3, over, &s), 0);

    deja_summary r;
    assert_int_equal(deja_replay(path, NULL, &r, err, sizeof err), 0);
    assert_string_equal(deja_summary_get(&r, "match"), "yes");
    assert_string_equal(deja_summary_get(&r, "trace_hash"), deja_summary_get(&s, "trace_hash"));
    assert_string_equal(deja_summary_get(&r, "expected_trace_hash"), deja_summary_get(&s, "trace_hash"));

    /* a different trace hash: mismatch, exit 1, the message says which */
    char text[2048];
    snprintf(text, sizeof text, "scenario = drift-fork\nseed = 3\nset = sim.duration_s=20\nverdict = %s\n"
             "trace_hash = %s\n", deja_summary_get(&s, "verdict"),
             strcmp(deja_summary_get(&s, "trace_hash"), "0000000000000000") ? "0000000000000000" : "1111111111111111");
    const char *p = test__file("hash.seed", text);
    assert_int_equal(deja_replay(p, NULL, &r, err, sizeof err), 1);
    assert_string_equal(deja_summary_get(&r, "match"), "no");
    assert_non_null(strstr(err, "trace_hash"));

    /* a different verdict */
    snprintf(text, sizeof text, "scenario = drift-fork\nseed = 3\nset = sim.duration_s=20\nverdict = %s\n"
             "trace_hash = %s\n", strcmp(deja_summary_get(&s, "verdict"), "ok") ? "ok" : "safety",
             deja_summary_get(&s, "trace_hash"));
    p = test__file("verdict.seed", text);
    assert_int_equal(deja_replay(p, NULL, &r, err, sizeof err), 1);
    assert_non_null(strstr(err, "verdict"));

    /* an unknown scenario names its line */
    p = test__file("unknown.seed", "# x\nscenario = no-such-scenario\nseed = 1\nverdict = ok\n"
                                   "trace_hash = 0123456789abcdef\n");
    assert_int_equal(deja_replay(p, NULL, &r, err, sizeof err), 2);
    char want[600];
    snprintf(want, sizeof want, "%s:2: ", p);
    assert_non_null(strstr(err, want));

    /* an unknown parameter names the line of its override */
    p = test__file("param.seed", "scenario = drift-fork\nseed = 1\nset = sim.duration_s=20\nset = no.such=1\n"
                                 "verdict = ok\ntrace_hash = 0123456789abcdef\n");
    assert_int_equal(deja_replay(p, NULL, &r, err, sizeof err), 2);
    snprintf(want, sizeof want, "%s:4: ", p);
    assert_non_null(strstr(err, want));
    assert_non_null(strstr(err, "no.such"));
    deja_params_free(over);
}

static void test_parse_u64(void **state) {
    (void)state;
    uint64_t v;
    assert_int_equal(deja_parse_u64("0", &v), 0);
    assert_true(v == 0);
    assert_int_equal(deja_parse_u64("18446744073709551615", &v), 0);
    assert_true(v == UINT64_MAX);
    assert_int_equal(deja_parse_u64("18446744073709551616", &v), 2);
    assert_int_equal(deja_parse_u64("", &v), 2);
    assert_int_equal(deja_parse_u64("-1", &v), 2);
    assert_int_equal(deja_parse_u64("+1", &v), 2);
    assert_int_equal(deja_parse_u64(" 1", &v), 2);
    assert_int_equal(deja_parse_u64("1 ", &v), 2);
    assert_int_equal(deja_parse_u64("0x10", &v), 2);
}

int main(void) {
    node_programs_register();
    deja_models_register(); /* the node programs scenarios start (as the deja tool does) */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_lenient_layout),
        cmocka_unit_test(test_parse_errors_name_file_and_line),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_write_refuses_bad_input),
        cmocka_unit_test(test_replay_match_and_mismatch),
        cmocka_unit_test(test_parse_u64),
    };
    return cmocka_run_group_tests(tests, test__setup, test__teardown);
}
