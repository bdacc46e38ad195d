/*
 * test_cli_cluster.c -- the command line of `deja cluster` on the flag
 * table (deja_cluster_args_parse, sim/cli/cluster_args.h), parsed without
 * starting a node: every flag accepted with its value in both spellings,
 * the defaults, and each bad input (a missing or malformed value, an
 * unknown flag, a flag given twice) exit status 2 with one line naming the
 * flag. And, for every subcommand of `deja`, that its --help lists every
 * flag of its table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli.h"
#include "cluster_args.h"
#include "deja/models.h"

static deja_cluster_args test__a;
static char test__err[4096];

/* Parses the NULL-terminated words (after an argv[0]) into test__a (freed
 * and parsed afresh); what went to stderr lands in test__err. Returns
 * deja_cluster_args_parse's result. */
static int test__parse(const char *first, ...) {
    char *argv[64];
    int argc = 0;
    argv[argc++] = "cluster";
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a; a = va_arg(ap, const char *)) {
        assert_true(argc < 63);
        argv[argc++] = (char *)a;
    }
    va_end(ap);
    argv[argc] = NULL;
    deja_cluster_args_free(&test__a);
    fflush(stderr);
    FILE *cap = tmpfile();
    assert_non_null(cap);
    int saved = dup(2);
    assert_true(saved >= 0);
    assert_true(dup2(fileno(cap), 2) >= 0);
    int rc = deja_cluster_args_parse(argc, argv, &test__a);
    fflush(stderr);
    assert_true(dup2(saved, 2) >= 0);
    close(saved);
    rewind(cap);
    size_t n = fread(test__err, 1, sizeof test__err - 1, cap);
    test__err[n] = 0;
    fclose(cap);
    return rc;
}

/* The parse failed with exit status 2 and exactly this one line. */
static void test__error(int rc, const char *msg) {
    char want[512];
    snprintf(want, sizeof want, "deja cluster: %s (see 'deja cluster --help')\n", msg);
    assert_int_equal(rc, 2);
    assert_string_equal(test__err, want);
}

static void test_defaults(void **state) {
    (void)state;
    assert_int_equal(test__parse(NULL), 0);
    assert_int_equal(test__a.nodes, 0); /* unset */
    assert_int_equal(test__a.duration_ms, -1);
    assert_int_equal(test__a.grace_ms, 10000);
    assert_int_equal(test__a.inspect_s, 1); /* every node's leak inspector, each second */
    assert_int_equal(test__a.base_port, 0);
    assert_int_equal(test__a.seed, 1);
    assert_int_equal(test__a.trials, 0);
    assert_int_equal(test__a.kill.node, -1);
    assert_int_equal(test__a.kill.down_ms, 1000);
    assert_int_equal(test__a.sets.n, 0);
    assert_int_equal(test__a.node_args.n, 0);
    assert_int_equal(test__a.fakes.n, 0);
    assert_null(test__a.program);
    assert_null(test__a.node_bin);
    assert_null(test__a.judge_dir);
    assert_null(test__a.data_dir);
    assert_null(test__a.csv);
    assert_null(test__a.scenario);
    assert_string_equal(test__err, "");
}

static void test_every_flag_with_its_value(void **state) {
    (void)state;
    assert_int_equal(test__parse("--nodes", "7", "--duration-s=2.5", "--set", "aura.slot_ms=250", "--set=a.b=c=d",
                                 "--base-port", "4000", "--faketime", "3=-1500", "--faketime=0=20", "--kill", "2@1.5:0.25",
                                 "--data-dir", "d", "--grace-s", "0.5", "--inspect-s", "5", "--program=raft", "--node-bin", "bin/kv",
                                 "--scenario", "drift-fork", "--judge", "j", "--election-trials", "9", "--csv", "t.csv",
                                 "--seed", "18446744073709551615", "--net-loss-pct", "2.5", "--net-dup-pct=100",
                                 "--net-delay-ms", "40", "--net-jitter-ms", "0", "--net-reorder-pct", "3",
                                 "--net-reorder-ms", "3600000", "--net-seed", "12", NULL),
                     0);
    assert_string_equal(test__err, "");
    assert_int_equal(test__a.nodes, 7);
    assert_int_equal(test__a.duration_ms, 2500);
    assert_int_equal(test__a.sets.n, 2);
    assert_string_equal(test__a.sets.v[0], "aura.slot_ms=250");
    assert_string_equal(test__a.sets.v[1], "a.b=c=d");
    assert_int_equal(test__a.base_port, 4000);
    assert_int_equal(test__a.fakes.n, 2);
    assert_int_equal(test__a.fakes.node[0], 3);
    assert_int_equal(test__a.fakes.ms[0], -1500);
    assert_int_equal(test__a.fakes.node[1], 0);
    assert_int_equal(test__a.fakes.ms[1], 20);
    assert_int_equal(test__a.kill.node, 2);
    assert_int_equal(test__a.kill.at_ms, 1500);
    assert_int_equal(test__a.kill.down_ms, 250);
    assert_string_equal(test__a.data_dir, "d");
    assert_int_equal(test__a.grace_ms, 500);
    assert_int_equal(test__a.inspect_s, 5);
    assert_string_equal(test__a.program, "raft");
    assert_string_equal(test__a.node_bin, "bin/kv");
    assert_non_null(test__a.scenario);
    assert_string_equal(test__a.scenario->name, "drift-fork");
    assert_string_equal(test__a.judge_dir, "j");
    assert_int_equal(test__a.trials, 9);
    assert_string_equal(test__a.csv, "t.csv");
    assert_true(test__a.seed == UINT64_MAX);
    /* the --net-* flags reach every node as they were given, in order */
    static const char *const net[] = {"--net-loss-pct", "2.5", "--net-dup-pct", "100", "--net-delay-ms", "40",
                                      "--net-jitter-ms", "0", "--net-reorder-pct", "3", "--net-reorder-ms", "3600000",
                                      "--net-seed", "12"};
    assert_int_equal(test__a.node_args.n, 14);
    for (int i = 0; i < 14; i++) assert_string_equal(test__a.node_args.v[i], net[i]);
    /* --kill without DOWN_SEC: restarted 1 s later */
    assert_int_equal(test__parse("--kill", "0@3", NULL), 0);
    assert_int_equal(test__a.kill.node, 0);
    assert_int_equal(test__a.kill.at_ms, 3000);
    assert_int_equal(test__a.kill.down_ms, 1000);
}

/* Every row of the table, given last without its value, is named. */
static void test_every_flag_needs_its_value(void **state) {
    (void)state;
    int rows = 0;
    for (const deja_cli_table *t = deja_cluster_spec.tables; t->rows; t++) {
        for (const deja_cli_opt *o = t->rows; o->name; o++, rows++) {
            char msg[128];
            snprintf(msg, sizeof msg, "%s needs a value", o->name);
            test__error(test__parse("--nodes", "3", o->name, NULL), msg);
            snprintf(msg, sizeof msg, "%s '': an empty value", o->name);
            char eq[64];
            snprintf(eq, sizeof eq, "%s=", o->name);
            test__error(test__parse(eq, NULL), msg);
        }
    }
    assert_int_equal(rows, 23);
}

static void test_bad_values_name_the_flag(void **state) {
    (void)state;
    test__error(test__parse("--nodes", "0", NULL), "--nodes '0': must be between 1 and 2147483647");
    test__error(test__parse("--nodes", "x", NULL), "--nodes 'x': not an unsigned integer");
    test__error(test__parse("--duration-s", "-1", NULL), "--duration-s '-1': not a number of seconds (0 to 1e7)");
    test__error(test__parse("--duration-s", "nan", NULL), "--duration-s 'nan': not a number of seconds (0 to 1e7)");
    test__error(test__parse("--grace-s", "1s", NULL), "--grace-s '1s': not a number of seconds (0 to 1e7)");
    test__error(test__parse("--base-port", "65536", NULL), "--base-port '65536': must be between 1 and 65535");
    test__error(test__parse("--set", "foo", NULL), "--set 'foo': expected key=value");
    test__error(test__parse("--set", "=1", NULL), "--set '=1': expected key=value");
    test__error(test__parse("--faketime", "3", NULL), "--faketime '3': expected NODE=OFFSET_MS");
    test__error(test__parse("--faketime", "=5", NULL), "--faketime '=5': expected NODE=OFFSET_MS");
    test__error(test__parse("--faketime", "-1=5", NULL),
                "--faketime '-1=5': expected NODE=OFFSET_MS (a node id, an offset within +-86400000)");
    test__error(test__parse("--faketime", "1=86400001", NULL),
                "--faketime '1=86400001': expected NODE=OFFSET_MS (a node id, an offset within +-86400000)");
    test__error(test__parse("--kill", "1", NULL), "--kill '1': expected NODE@SEC[:DOWN_SEC]");
    test__error(test__parse("--kill", "@1", NULL), "--kill '@1': expected NODE@SEC[:DOWN_SEC]");
    test__error(test__parse("--kill", "1@", NULL), "--kill '1@': expected NODE@SEC[:DOWN_SEC]");
    test__error(test__parse("--kill", "1@2:x", NULL), "--kill '1@2:x': expected NODE@SEC[:DOWN_SEC]");
    test__error(test__parse("--election-trials", "100001", NULL),
                "--election-trials '100001': must be between 1 and 100000");
    test__error(test__parse("--seed", "-1", NULL), "--seed '-1': not an unsigned integer");
    test__error(test__parse("--scenario", "nope", NULL), "--scenario: no scenario 'nope' in this binary (see its 'scenarios')");
    test__error(test__parse("--net-loss-pct", "100.5", NULL), "--net-loss-pct '100.5': not a number in [0, 100]");
    test__error(test__parse("--net-reorder-pct", "-1", NULL), "--net-reorder-pct '-1': not a number in [0, 100]");
    test__error(test__parse("--net-delay-ms", "3600001", NULL), "--net-delay-ms '3600001': not a number in [0, 3.6e+06]");
    test__error(test__parse("--net-jitter-ms", "x", NULL), "--net-jitter-ms 'x': not a number in [0, 3.6e+06]");
    test__error(test__parse("--net-seed", "-3", NULL), "--net-seed '-3': not an unsigned 64-bit integer");
}

static void test_unknown_twice_and_positional(void **state) {
    (void)state;
    test__error(test__parse("--bogus", "1", NULL), "unknown flag '--bogus'");
    test__error(test__parse("--nodes", "3", "--net-bogus-pct", "1", NULL), "unknown flag '--net-bogus-pct'");
    test__error(test__parse("--node", "3", NULL), "unknown flag '--node'"); /* no prefix matching */
    test__error(test__parse("-n", "3", NULL), "unexpected argument '-n'");
    test__error(test__parse("3", NULL), "unexpected argument '3'");
    test__error(test__parse("--nodes", "3", "--nodes=4", NULL), "--nodes given twice (it takes one value)");
    test__error(test__parse("--kill", "1@1", "--kill", "2@1", NULL), "--kill given twice (it takes one value)");
    test__error(test__parse("--net-seed", "1", "--net-seed", "2", NULL), "--net-seed given twice (it takes one value)");
    /* the walk stops at the leftmost bad argument */
    test__error(test__parse("--nodes", "0", "--bogus", NULL), "--nodes '0': must be between 1 and 2147483647");
    /* --set and --faketime repeat */
    assert_int_equal(test__parse("--set", "a=1", "--set", "a=2", "--faketime", "1=1", "--faketime", "1=2", NULL), 0);
    assert_int_equal(test__a.sets.n, 2);
    assert_int_equal(test__a.fakes.n, 2);
}

static void test_help(void **state) {
    (void)state;
    fflush(stdout);
    FILE *cap = tmpfile();
    assert_non_null(cap);
    int saved = dup(1);
    assert_true(dup2(fileno(cap), 1) >= 0);
    int rc = test__parse("--nodes", "3", "--help", NULL);
    fflush(stdout);
    assert_true(dup2(saved, 1) >= 0);
    close(saved);
    fclose(cap);
    assert_int_equal(rc, DEJA_CLI_HELP);
    assert_string_equal(test__err, "");
}

/* True when flag occurs in text as a whole word: not inside a longer flag
 * ("--seed" in "--seed-start"). */
static bool test__has_flag(const char *text, const char *flag) {
    size_t len = strlen(flag);
    for (const char *p = strstr(text, flag); p; p = strstr(p + 1, flag)) {
        char before = p == text ? ' ' : p[-1], after = p[len];
        bool word = before == ' ' || before == '[' || before == '\n' || before == '(' || before == '|' || before == ',';
        bool end = !(after == '-' || after == '_' || (after >= 'a' && after <= 'z') || (after >= '0' && after <= '9'));
        if (word && end) return true;
    }
    return false;
}

/* Every command of `deja` has a flag table, and its --help names each of
 * its flags; for the commands whose flag list is printed from the table
 * (deja_cli_help_flags), every row has its help text and its own line. */
static void test_every_help_lists_every_flag(void **state) {
    (void)state;
    static const char *const from_rows[] = {"run", "replay", "sweep", "plot", "shrink", "timeline", "diff", "cluster",
                                            NULL};
    size_t ncmd = 0, checked = 0;
    for (const deja_cli_spec *spec; (spec = deja_cli_command_spec(ncmd)); ncmd++) {
        assert_non_null(spec->help);
        FILE *f = tmpfile();
        assert_non_null(f);
        spec->help(f);
        long size = ftell(f);
        assert_true(size > 0);
        char *text = calloc((size_t)size + 1, 1);
        assert_non_null(text);
        rewind(f);
        assert_int_equal(fread(text, 1, (size_t)size, f), (size_t)size);
        fclose(f);
        bool rows_help = false;
        for (int i = 0; from_rows[i]; i++) rows_help |= !strcmp(from_rows[i], spec->cmd);
        for (const deja_cli_table *t = spec->tables; t->rows; t++) {
            for (const deja_cli_opt *o = t->rows; o->name; o++, checked++) {
                if (!test__has_flag(text, o->name)) fail_msg("deja %s --help does not name %s", spec->cmd, o->name);
                if (!rows_help) continue;
                if (!o->help) fail_msg("deja %s: flag %s has no help text", spec->cmd, o->name);
                char line[160];
                snprintf(line, sizeof line, "\n  %s ", o->name);
                if (!strstr(text, line)) fail_msg("deja %s --help has no line of its own for %s", spec->cmd, o->name);
            }
        }
        free(text);
    }
    assert_int_equal(ncmd, 10);
    assert_true(checked > 60);
}

static int test__teardown(void **state) {
    (void)state;
    deja_cluster_args_free(&test__a);
    return 0;
}

int main(void) {
    deja_models_register(); /* --scenario looks its name up */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_every_flag_with_its_value),
        cmocka_unit_test(test_every_flag_needs_its_value),
        cmocka_unit_test(test_bad_values_name_the_flag),
        cmocka_unit_test(test_unknown_twice_and_positional),
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_every_help_lists_every_flag),
    };
    return cmocka_run_group_tests(tests, NULL, test__teardown);
}
