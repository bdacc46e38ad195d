/*
 * cmd_replay.c -- `deja replay`: runs a seed file again and checks that the
 * verdict and the trace hash are the ones it recorded.
 *
 * The work is deja_replay (sim/seedfile.c); this file parses the command
 * line, prints the summary with expected_verdict, expected_trace_hash and
 * match=yes|no, and maps the result to the exit status.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_args.h"
#include "deja/deja.h"
#include "deja/outfile.h"

static void replay__help(FILE *out) {
    fprintf(out,
            "usage: deja replay FILE.seed [--trace FILE] [--dump-tasks] [--rehash] [--json]\n"
            "                   [--break-at-event N] [--break-on-verdict]\n\n"
            "Runs the scenario, seed and overrides recorded in FILE.seed and compares\n"
            "the verdict and trace hash with the recorded ones. Prints the run's\n"
            "summary plus expected_verdict, expected_trace_hash and match=yes|no.\n\n"
            "A seed file is text, one 'key = value' a line ('#' comments allowed):\n"
            "  scenario = drift-fork\n"
            "  seed = 7\n"
            "  set = clock.offset_ms=1500      (one line per override)\n"
            "  verdict = ok\n"
            "  trace_hash = 0123456789abcdef\n"
            "'deja run ... --save FILE.seed' writes one.\n\n");
    deja_cli_help_flags(out, &deja_replay_spec, 18);
    fprintf(out, "\n"
            "exit status: 0 verdict and trace hash both match; 1 either differs (the\n"
            "difference is printed on stderr); 2 bad input (unreadable or malformed\n"
            "seed file: the message names FILE:LINE).\n");
}

/* Rewrites the trace hash of seed file path when the replay's verdict is
 * the recorded one: 0 rewritten, 1 the verdict differs, 2 I/O error. */
static int replay__rehash(const char *path, const deja_summary *s) {
    deja_seedfile sf;
    char err[512];
    if (deja_seedfile_load(path, &sf, err, sizeof err) != 0) {
        deja_cli_error("replay", "%s", err);
        return 2;
    }
    int rc = 0;
    if (strcmp(sf.verdict, deja_summary_get(s, "verdict"))) {
        deja_cli_eprintf("deja replay: --rehash refused: verdict %s, expected %s\n", deja_summary_get(s, "verdict"),
                sf.verdict);
        rc = 1;
    } else if (deja_seedfile_write_plan(path, sf.scenario, sf.seed, sf.overrides, sf.plan, s) != 0) {
        deja_cli_eprintf("deja replay: --rehash: cannot write %s: %s\n", path, strerror(errno));
        rc = 2;
    } else {
        deja_cli_eprintf("deja replay: %s: trace hash %s -> %s\n", path, sf.trace_hash,
                deja_summary_get(s, "trace_hash"));
    }
    deja_seedfile_free(&sf);
    return rc;
}

/* Everything `deja replay` is given, filled by its flag tables. */
typedef struct replay__opts {
    deja_cli_debug_flags dbg;
    bool rehash;
    bool json; /* never set: deja_main takes --json out (cli_json.c); the row documents it */
} replay__opts;

static const deja_cli_opt replay__rows[] = {
    {.name = "--rehash", .kind = DEJA_CLI_BOOL, .off = offsetof(replay__opts, rehash),
     .help = "when the verdict matches but the trace hash does not\n"
             "(the node or simulator changed on purpose), write the\n"
             "new hash into FILE.seed; a verdict mismatch is never\n"
             "rewritten"},
    {.name = "--json", .kind = DEJA_CLI_BOOL, .off = offsetof(replay__opts, json),
     .help = "print the summary as one JSON object (the same keys)"},
    {0},
};

static const deja_cli_table replay__tables[] = {
    {deja_cli_debug_rows, offsetof(replay__opts, dbg)},
    {replay__rows, 0},
    {0},
};

const deja_cli_spec deja_replay_spec = {
    .cmd = "replay", .help = replay__help, .tables = replay__tables, .max_pos = 1, .pos_note = "one seed file at a time"};

int deja_cmd_replay(int argc, char **argv) {
    replay__opts a = {0};
    const char *path = NULL;
    int npos = 0;
    int rc = deja_cli_parse(&deja_replay_spec, argc, argv, &a, &path, &npos);
    if (rc) return rc == DEJA_CLI_HELP ? 0 : rc;
    if (!path) return deja_cli_usage_error("replay", "missing FILE.seed");
    deja_outfile *trace = deja_cli_outfile("replay", "--trace", a.dbg.trace, &rc);
    if (rc) return rc;
    deja_run_opts opts = {.trace = trace ? trace->f : NULL, .dump_tasks = a.dbg.dump_tasks, .dump_on_failure = true,
                          .dump_out = stderr, .break_at_event = a.dbg.break_at,
                          .break_on_verdict = a.dbg.break_verdict};
    deja_summary s;
    char err[1024] = "";
    rc = deja_replay(path, &opts, &s, err, sizeof err);
    int run_rc = rc;
    rc = deja_cli_commit("replay", "--trace", trace, rc);
    if (rc == 2 && run_rc != 2) return rc;
    if (rc == 2) {
        deja_cli_error("replay", "%s", err[0] ? err : path);
        return 2;
    }
    deja_summary_print(&s, stdout);
    fflush(stdout);
    if (rc == 1 && a.rehash) return replay__rehash(path, &s);
    if (rc == 1) deja_cli_error("replay", "mismatch: %s", err);
    return rc;
}
