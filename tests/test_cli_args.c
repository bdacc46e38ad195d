/*
 * test_cli_args.c -- the table-driven flag parser of the deja subcommands
 * (deja_cli_parse, sim/cli/cli_args.h) on its own: every kind of flag
 * accepted in both spellings ("--f v", "--f=v"), and every error (unknown
 * flag, missing or empty value, a flag given twice, a value out of range,
 * a positional argument too many) exit status 2 with one line on stderr
 * naming the flag, and the walk stopping at the leftmost bad argument;
 * and the --help lines printed from the table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli.h"
#include "cli_args.h"

/* A command's options: the shared rows' structs at non-zero offsets, so a
 * wrong base would show. */
typedef struct test__opts {
    int pad;
    const char *name;
    uint64_t count;
    int64_t delta;
    bool quiet;
    deja_cli_scenario_flags sc;
    const char *out;
    int calls;              /* --each: how many times the FN row ran */
    char last[32];          /* --each: the last value */
    deja_cli_debug_flags dbg;
    int rest_at;            /* --rest: its index in argv */
} test__opts;

/* An FN row: counts its calls, keeps the value, refuses "bad". */
static int test__each(const char *cmd, const char *flag, const char *val, void *dest) {
    test__opts *o = (test__opts *)((char *)dest - offsetof(test__opts, calls));
    if (!strcmp(val, "bad")) return deja_cli_usage_error(cmd, "%s '%s': refused", flag, val);
    o->calls++;
    snprintf(o->last, sizeof o->last, "%s", val);
    return 0;
}

static const deja_cli_opt test__rows[] = {
    {.name = "--name", .kind = DEJA_CLI_STR, .off = offsetof(test__opts, name)},
    {.name = "--count", .kind = DEJA_CLI_U64, .off = offsetof(test__opts, count), .lo = 2, .hi = 10},
    {.name = "--delta", .kind = DEJA_CLI_I64, .off = offsetof(test__opts, delta), .ilo = -5, .ihi = 5},
    {.name = "--quiet", .alias = "-q", .kind = DEJA_CLI_BOOL, .off = offsetof(test__opts, quiet)},
    {.name = "-o", .alias = "--output", .kind = DEJA_CLI_STR, .off = offsetof(test__opts, out)},
    {.name = "--each", .kind = DEJA_CLI_FN, .off = offsetof(test__opts, calls), .parse = test__each, .repeat = true},
    {.name = "--once", .kind = DEJA_CLI_FN, .off = offsetof(test__opts, calls), .parse = test__each},
    {.name = "--rest", .kind = DEJA_CLI_REST, .off = offsetof(test__opts, rest_at)},
    {0},
};

static const deja_cli_table test__tables[] = {
    {deja_cli_scenario_rows, offsetof(test__opts, sc)},
    {test__rows, 0},
    {deja_cli_debug_rows, offsetof(test__opts, dbg)},
    {0},
};

static const deja_cli_spec test__spec = {.cmd = "t", .tables = test__tables, .max_pos = 1, .pos_name = "thing"};

static test__opts test__o;
static const char *test__pos[2];
static int test__npos;
static char test__err[4096];

/* Parses the NULL-terminated words (after an argv[0]) with spec into
 * test__o (cleared first, with a fresh --set destination); what went to
 * stderr lands in test__err. Returns deja_cli_parse's result. */
static int test__parse_spec(const deja_cli_spec *spec, ...) {
    char *argv[32];
    int argc = 0;
    argv[argc++] = "t";
    va_list ap;
    va_start(ap, spec);
    for (char *a; (a = va_arg(ap, char *));) {
        assert_true(argc < 31);
        argv[argc++] = a;
    }
    va_end(ap);
    argv[argc] = NULL;
    deja_params_free(test__o.sc.over);
    memset(&test__o, 0, sizeof test__o);
    test__o.sc.over = deja_params_new();
    test__pos[0] = test__pos[1] = NULL;
    fflush(stderr);
    FILE *cap = tmpfile();
    assert_non_null(cap);
    int saved = dup(2);
    assert_true(saved >= 0);
    assert_true(dup2(fileno(cap), 2) >= 0);
    int rc = deja_cli_parse(spec, argc, argv, &test__o, test__pos, &test__npos);
    fflush(stderr);
    assert_true(dup2(saved, 2) >= 0);
    close(saved);
    rewind(cap);
    size_t n = fread(test__err, 1, sizeof test__err - 1, cap);
    test__err[n] = 0;
    fclose(cap);
    return rc;
}
#define test__parse(...) test__parse_spec(&test__spec, __VA_ARGS__)

/* The parse failed with exit status 2 and exactly this one line. */
static void test__error(int rc, const char *msg) {
    char want[512];
    snprintf(want, sizeof want, "deja t: %s (see 'deja t --help')\n", msg);
    assert_int_equal(rc, 2);
    assert_string_equal(test__err, want);
}

static void test_values_in_both_spellings(void **state) {
    (void)state;
    assert_int_equal(test__parse("--name", "a", "--count=7", "--delta", "-5", "--quiet", "x", NULL), 0);
    assert_string_equal(test__o.name, "a");
    assert_int_equal(test__o.count, 7);
    assert_int_equal(test__o.delta, -5);
    assert_true(test__o.quiet);
    assert_int_equal(test__npos, 1);
    assert_string_equal(test__pos[0], "x");
    assert_string_equal(test__err, "");
    assert_int_equal(test__parse("--name=b=c", "--count", "2", "--delta=5", NULL), 0);
    assert_string_equal(test__o.name, "b=c"); /* the value runs from the first '=' */
    assert_int_equal(test__o.count, 2);
    assert_int_equal(test__o.delta, 5);
    assert_false(test__o.quiet);
    assert_int_equal(test__npos, 0);
    /* a value may look like a flag or a help word: it is the value */
    assert_int_equal(test__parse("--name", "--help", "-o", "-x", NULL), 0);
    assert_string_equal(test__o.name, "--help");
    assert_string_equal(test__o.out, "-x");
}

static void test_shared_rows_land_in_their_struct(void **state) {
    (void)state;
    assert_int_equal(test__parse("--seed", "18", "--set", "a=1", "--set=b=2", "--trace", "t.txt", "--dump-tasks",
                                 "--break-at-event", "9", "--break-on-verdict", NULL),
                     0);
    assert_string_equal(test__o.sc.seed, "18"); /* text: the command parses it */
    assert_int_equal(deja_params_count(test__o.sc.over), 2);
    assert_string_equal(deja_params_get(test__o.sc.over, "a"), "1");
    assert_string_equal(deja_params_get(test__o.sc.over, "b"), "2");
    assert_string_equal(test__o.dbg.trace, "t.txt");
    assert_true(test__o.dbg.dump_tasks);
    assert_int_equal(test__o.dbg.break_at, 9);
    assert_true(test__o.dbg.break_verdict);
    assert_null(test__o.name);
    assert_int_equal(test__o.pad, 0);
}

static void test_bool_and_alias(void **state) {
    (void)state;
    assert_int_equal(test__parse("-q", "--quiet", NULL), 0); /* a bool may repeat */
    assert_true(test__o.quiet);
    test__error(test__parse("--quiet=1", NULL), "unknown flag '--quiet=1'");
    assert_int_equal(test__parse("--output", "a.png", NULL), 0);
    assert_string_equal(test__o.out, "a.png");
    assert_int_equal(test__parse("-o=b.png", NULL), 0);
    assert_string_equal(test__o.out, "b.png");
    /* two spellings of one flag are one flag given twice */
    test__error(test__parse("-o", "a", "--output", "b", NULL), "--output given twice (it takes one value)");
}

static void test_fn_rows(void **state) {
    (void)state;
    assert_int_equal(test__parse("--each", "1", "--each=2", "--each", "3", NULL), 0);
    assert_int_equal(test__o.calls, 3);
    assert_string_equal(test__o.last, "3");
    test__error(test__parse("--each", "1", "--each", "bad", NULL), "--each 'bad': refused");
    assert_int_equal(test__o.calls, 1);
    test__error(test__parse("--once", "1", "--once", "2", NULL), "--once given twice (it takes one value)");
    assert_int_equal(test__o.calls, 1);
}

/* A REST flag ends the walk: what follows is its own, unparsed. */
static void test_rest_row(void **state) {
    (void)state;
    assert_int_equal(test__parse("a", "--rest", "--bogus", "b", "--count", "0", NULL), 0);
    assert_int_equal(test__o.rest_at, 2);
    assert_int_equal(test__npos, 1);
    assert_int_equal(test__o.count, 0);
    test__error(test__parse("--rest=x", NULL), "unknown flag '--rest=x'");
    test__error(test__parse("--bogus", "--rest", NULL), "unknown flag '--bogus'");
}

static void test_value_errors(void **state) {
    (void)state;
    test__error(test__parse("--name", NULL), "--name needs a value");
    test__error(test__parse("--name=", NULL), "--name '': an empty value");
    test__error(test__parse("--name", "", NULL), "--name '': an empty value");
    test__error(test__parse("--name", "a", "--name=b", NULL), "--name given twice (it takes one value)");
    test__error(test__parse("--seed", "1", "--seed", "1", NULL), "--seed given twice (it takes one value)");
    test__error(test__parse("--count", "1", NULL), "--count '1': must be between 2 and 10");
    test__error(test__parse("--count", "11", NULL), "--count '11': must be between 2 and 10");
    test__error(test__parse("--count", "-3", NULL), "--count '-3': not an unsigned integer");
    test__error(test__parse("--count", "3x", NULL), "--count '3x': not an unsigned integer");
    test__error(test__parse("--count", "18446744073709551616", NULL),
                "--count '18446744073709551616': too large (at most 10)");
    test__error(test__parse("--delta", "6", NULL), "--delta '6': must be between -5 and 5");
    test__error(test__parse("--delta", "-6", NULL), "--delta '-6': must be between -5 and 5");
    test__error(test__parse("--delta", "x", NULL), "--delta 'x': not an integer");
    test__error(test__parse("--break-at-event", "0", NULL),
                "--break-at-event '0': must be between 1 and 18446744073709551615");
    test__error(test__parse("--set", "foo", NULL), "--set 'foo': expected key=value");
    test__error(test__parse("--set", "=1", NULL), "--set '=1': expected key=value");
    test__error(test__parse("--set", NULL), "--set needs a value");
}

static void test_unknown_flags_and_positionals(void **state) {
    (void)state;
    test__error(test__parse("--bogus", NULL), "unknown flag '--bogus'");
    test__error(test__parse("--name2", "x", NULL), "unknown flag '--name2'"); /* no prefix matching */
    test__error(test__parse("--nam", "x", NULL), "unknown flag '--nam'");
    test__error(test__parse("-x", NULL), "unknown flag '-x'");
    assert_int_equal(test__parse("-", NULL), 0); /* a lone dash is an argument */
    assert_string_equal(test__pos[0], "-");
    test__error(test__parse("a", "b", NULL), "unexpected argument 'b' (the thing is 'a')");
    const deja_cli_spec noted = {.cmd = "t", .tables = test__tables, .max_pos = 1, .pos_note = "one at a time"};
    test__error(test__parse_spec(&noted, "a", "b", NULL), "unexpected argument 'b' (one at a time)");
    const deja_cli_spec none = {.cmd = "t", .tables = test__tables};
    test__error(test__parse_spec(&none, "a", NULL), "unexpected argument 'a'");
    /* long_only: "-x" is an argument, "--x" still a flag */
    const deja_cli_spec longs = {.cmd = "t", .tables = test__tables, .max_pos = 2, .long_only = true};
    assert_int_equal(test__parse_spec(&longs, "-x", "-q", NULL), 0);
    assert_int_equal(test__npos, 2);
    assert_string_equal(test__pos[1], "-q");
    assert_false(test__o.quiet);
    test__error(test__parse_spec(&longs, "--x", NULL), "unknown flag '--x'");
}

static void test_help_and_leftmost_error(void **state) {
    (void)state;
    assert_int_equal(test__parse("--name", "a", "--help", NULL), DEJA_CLI_HELP);
    assert_int_equal(test__parse("-h", "--bogus", NULL), DEJA_CLI_HELP);
    assert_int_equal(test__parse("help", NULL), DEJA_CLI_HELP);
    assert_string_equal(test__err, "");
    /* the walk stops at the first bad argument: it alone is named */
    test__error(test__parse("--count", "0", "--bogus", "--help", NULL), "--count '0': must be between 2 and 10");
    test__error(test__parse("--bogus", "--count", "0", NULL), "unknown flag '--bogus'");
}

/* --help from the table: rows with help text only, the label padded to the
 * column (or two spaces past a long one), further lines indented to it. */
static void test_help_from_the_table(void **state) {
    (void)state;
    static const deja_cli_opt rows[] = {
        {.name = "-o", .kind = DEJA_CLI_STR, .metavar = "OUT", .help = "where it goes\n(default: stdout)"},
        {.name = "--hidden", .kind = DEJA_CLI_BOOL},
        {.name = "--quiet", .kind = DEJA_CLI_BOOL, .help = "no progress"},
        {.name = "--a-long-flag", .kind = DEJA_CLI_STR, .metavar = "VALUE", .help = "past the column"},
        {0},
    };
    static const deja_cli_table tables[] = {{rows, 0}, {0}};
    const deja_cli_spec spec = {.cmd = "t", .tables = tables};
    FILE *f = tmpfile();
    assert_non_null(f);
    deja_cli_help_flags(f, &spec, 12);
    rewind(f);
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    assert_string_equal(buf, "  -o OUT      where it goes\n"
                             "              (default: stdout)\n"
                             "  --quiet     no progress\n"
                             "  --a-long-flag VALUE  past the column\n");
}

static int test__teardown(void **state) {
    (void)state;
    deja_params_free(test__o.sc.over);
    test__o.sc.over = NULL;
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values_in_both_spellings),
        cmocka_unit_test(test_shared_rows_land_in_their_struct),
        cmocka_unit_test(test_bool_and_alias),
        cmocka_unit_test(test_fn_rows),
        cmocka_unit_test(test_rest_row),
        cmocka_unit_test(test_value_errors),
        cmocka_unit_test(test_unknown_flags_and_positionals),
        cmocka_unit_test(test_help_and_leftmost_error),
        cmocka_unit_test(test_help_from_the_table),
    };
    return cmocka_run_group_tests(tests, NULL, test__teardown);
}
