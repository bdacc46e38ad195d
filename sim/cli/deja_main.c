/*
 * deja_main.c -- the whole `deja` command line as one call (deja/cli.h):
 * dispatches to the subcommands declared in cli.h and prints the overall
 * help. The `deja` tool and a user's own binary both end in deja_main,
 * after registering their programs and scenarios.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_args.h"
#include "deja/deja.h"
#include "deja/cli.h"
#include "deja/version.h"

typedef struct deja__cmd {
    const char *name;
    int (*fn)(int, char **);
    const deja_cli_spec *spec; /* its flags */
    const char *summary;
} deja__cmd;

static const deja__cmd deja__cmds[] = {
    {"run", deja_cmd_run, &deja_run_spec, "run one scenario for one seed and print its summary"},
    {"replay", deja_cmd_replay, &deja_replay_spec, "replay a seed file and check its verdict and trace hash"},
    {"diff", deja_cmd_diff, &deja_diff_spec, "name the first event where two runs (seed files, traces, arguments) differ"},
    {"timeline", deja_cmd_timeline, &deja_timeline_spec, "write a run as one self-contained HTML space-time diagram"},
    {"shrink", deja_cmd_shrink, &deja_shrink_spec, "shrink a failing run to the fewest faults, nodes and seconds that fail"},
    {"sweep", deja_cmd_sweep, &deja_sweep_spec, "run a parameter grid x seeds into an SQLite database"},
    {"plot", deja_cmd_plot, &deja_plot_spec, "draw a plot (gnuplot PNG) from a sweep database"},
    {"scenarios", deja_cmd_scenarios, &deja_scenarios_spec, "list scenarios and their parameters"},
    {"bench", deja_cmd_bench, &deja_bench_spec, "measure context switches, events and simulation speed"},
    {"cluster", deja_cmd_cluster, &deja_cluster_spec, "run a real cluster of deja-node processes on loopback"},
};

const deja_cli_spec *deja_cli_command_spec(size_t i) {
    return i < sizeof deja__cmds / sizeof deja__cmds[0] ? deja__cmds[i].spec : NULL;
}

static void deja__help(FILE *out) {
    fprintf(out,
            "deja -- deterministic simulation for blockchain node code\n\n"
            "usage: deja COMMAND [ARGS]   (deja COMMAND --help for details)\n"
            "       deja --version\n\ncommands:\n");
    for (size_t i = 0; i < sizeof deja__cmds / sizeof deja__cmds[0]; i++)
        fprintf(out, "  %-10s %s\n", deja__cmds[i].name, deja__cmds[i].summary);
    fprintf(out, "\nexit status: 0 ok, 1 an oracle failed, 2 bad input\n");
}

/* Writes text to stderr with every control byte but those in keep (and
 * DEL) shown as \xHH, so that bytes from a file or an argument (an ESC
 * sequence) never reach the terminal raw. */
static void deja__put_escaped(const char *text, const char *keep) {
    for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
        if ((*c < 0x20 && !strchr(keep, *c)) || *c == 0x7f) fprintf(stderr, "\\x%02x", *c);
        else fputc(*c, stderr);
    }
}

/* vasprintf that never fails the caller: "?" when out of memory. */
static char *deja__vfmt(const char *fmt, va_list ap) {
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0) s = NULL;
    return s;
}

int deja_cli_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *msg = deja__vfmt(fmt, ap);
    va_end(ap);
    fprintf(stderr, "deja %s: ", cmd);
    deja__put_escaped(msg ? msg : "?", "\t"); /* one line: even a newline is escaped */
    fprintf(stderr, " (see 'deja %s --help')\n", cmd);
    free(msg);
    return 2;
}

int deja_cli_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *msg = deja__vfmt(fmt, ap);
    va_end(ap);
    fprintf(stderr, "deja %s: ", cmd);
    deja__put_escaped(msg ? msg : "?", "\t");
    fputc('\n', stderr);
    free(msg);
    return 2;
}

void deja_cli_eprintf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *msg = deja__vfmt(fmt, ap);
    va_end(ap);
    deja__put_escaped(msg ? msg : "?\n", "\t\n");
    free(msg);
}

/* The commands whose key=value output --json renders (cli_json.c); other
 * commands that take --json parse it themselves (scenarios). */
static const char *const deja__json_cmds[] = {"run", "replay", "bench", NULL};

/* Runs one command; for a command of deja__json_cmds, a --json among its
 * arguments is taken out and the output rendered. */
static int deja__dispatch(const deja__cmd *c, int argc, char **argv) {
    int json = -1, renders = 0;
    for (int i = 0; deja__json_cmds[i]; i++) renders |= !strcmp(deja__json_cmds[i], c->name);
    for (int i = 1; i < argc && renders; i++) {
        if (deja_cli_is_help(argv[i])) return c->fn(argc, argv);
        if (!strcmp(argv[i], "--json")) json = i;
    }
    if (json < 0) return c->fn(argc, argv);
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    if (!rest) return 2;
    int n = 0;
    for (int i = 0; i < argc; i++)
        if (i != json) rest[n++] = argv[i];
    int rc = deja_cli_json(c->fn, n, rest);
    free(rest);
    return rc;
}

int deja_main(int argc, char **argv) {
    deja_init();
    /* Line by line, as on a terminal: `deja ... >log 2>&1` keeps the order
     * in which results (stdout) and messages (stderr) were written. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc > 0 && argv[0] && *argv[0]) deja_set_tool_name(argv[0]);
    if (argc < 2) {
        deja__help(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        deja__help(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        deja_version_print(deja_tool_name(), stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof deja__cmds / sizeof deja__cmds[0]; i++)
        if (!strcmp(argv[1], deja__cmds[i].name)) return deja__dispatch(&deja__cmds[i], argc - 1, argv + 1);
    deja_cli_eprintf("deja: unknown command '%s' (see 'deja --help')\n", argv[1]);
    return 2;
}

