/*
 * cmd_timeline.c -- `deja timeline`: runs a seed file or a run's arguments
 * with the timeline collector attached (deja/debug.h) and writes one
 * self-contained HTML page of the run.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_args.h"
#include "deja/debug.h"
#include "deja/outfile.h"


static void timeline__help(FILE *out) {
    fprintf(out,
            "usage: deja timeline FILE.seed -o RUN.html [--window A:B] [--max-items N]\n"
            "       deja timeline SCENARIO --seed N [--set key=value]... -o RUN.html [--window A:B]\n\n"
            "Runs the seed file (or the run) and writes one self-contained HTML page\n"
            "of it, with no network access: a space-time diagram with a lane per node,\n"
            "messages as lines from send to delivery, facts (blocks, coloured by hash:\n"
            "a fork shows two colours at one height), crashes, restarts, pauses, clock\n"
            "steps and slews, partitions and the first violation. The wheel zooms, a\n"
            "drag pans, a double click resets; hovering shows an event's details.\n\n");
    deja_cli_help_flags(out, &deja_timeline_spec, 16);
    fprintf(out, "\nexit status: 0 written (whatever the verdict); 2 bad input.\n");
}

/* Everything `deja timeline` is given, filled by its flag tables. */
typedef struct timeline__opts {
    deja_cli_scenario_flags sc;
    const char *out, *window;
    uint64_t max_items;
} timeline__opts;

static const deja_cli_opt timeline__rows[] = {
    {.name = "-o", .kind = DEJA_CLI_STR, .off = offsetof(timeline__opts, out), .metavar = "RUN.html",
     .help = "the page to write (required)"},
    {.name = "--window", .kind = DEJA_CLI_STR, .off = offsetof(timeline__opts, window), .metavar = "A:B",
     .help = "open the page on seconds A to B of the run (default: all)"},
    {.name = "--max-items", .kind = DEJA_CLI_U64, .off = offsetof(timeline__opts, max_items), .lo = 1,
     .hi = 100000000, .metavar = "N",
     .help = "keep at most N messages and marks (default 200000; the\npage says how many more were left out)"},
    {0},
};

static const deja_cli_table timeline__tables[] = {
    {deja_cli_scenario_rows, offsetof(timeline__opts, sc)},
    {timeline__rows, 0},
    {0},
};

const deja_cli_spec deja_timeline_spec = {.cmd = "timeline", .help = timeline__help, .tables = timeline__tables, .max_pos = 1};

int deja_cmd_timeline(int argc, char **argv) {
    timeline__opts a = {.max_items = 200000};
    const char *first;
    int rc = deja_cli_parse_scenario(&deja_timeline_spec, argc, argv, &a, &a.sc, &first);
    if (rc == DEJA_CLI_HELP) return 0;
    deja_params *over = a.sc.over;
    const char *seed_s = a.sc.seed, *outp = a.out, *win_s = a.window;
    uint64_t max_items = a.max_items;
    int64_t win_a = 0, win_b = 0;
    if (!rc && win_s) {
        char a[64], b[64];
        const char *colon = strchr(win_s, ':');
        if (!colon || (size_t)(colon - win_s) >= sizeof a || strlen(colon + 1) >= sizeof b) {
            rc = deja_cli_usage_error("timeline", "--window '%s': expected A:B in seconds", win_s);
        } else {
            snprintf(a, sizeof a, "%.*s", (int)(colon - win_s), win_s);
            snprintf(b, sizeof b, "%s", colon + 1);
            if (deja_parse_fixed9(a, &win_a) || deja_parse_fixed9(b, &win_b) || win_a < 0 || win_b <= win_a)
                rc = deja_cli_usage_error("timeline", "--window '%s': expected A:B in seconds, 0 <= A < B", win_s);
        }
    }
    if (!rc && !first) rc = deja_cli_usage_error("timeline", "missing FILE.seed or SCENARIO");
    if (!rc && !outp) rc = deja_cli_usage_error("timeline", "missing -o RUN.html");
    deja_cli_target tg;
    memset(&tg, 0, sizeof tg);
    if (!rc) rc = deja_cli_target_resolve("timeline", first, seed_s, over, &tg);
    deja_seedfile_free(&tg.sf); /* deja_replay reads the file again */
    const deja_scenario *sc = tg.sc;
    uint64_t seed = tg.seed;
    int from_file = tg.from_file;
    if (!rc && !from_file) {
        deja_params *all = NULL;
        char perr[256];
        if (deja_scenario_params(sc, over, &all, perr, sizeof perr))
            rc = deja_cli_usage_error("timeline", "--set: %s", perr);
        deja_params_free(all);
    }
    deja_outfile *out = deja_cli_outfile("timeline", "-o", rc ? NULL : outp, &rc);
    if (rc) {
        deja_outfile_abort(out);
        deja_params_free(over);
        return rc;
    }
    deja_timeline *tl = deja_timeline_new((size_t)max_items);
    deja_run_opts o = {.observer = deja_timeline_observe, .observer_arg = tl};
    deja_summary s;
    char err[512] = "";
    int run_rc = from_file ? deja_replay(first, &o, &s, err, sizeof err) : deja_run(sc, seed, over, &o, &s, err, sizeof err);
    if (run_rc == 2) {
        rc = deja_cli_usage_error("timeline", "%s", err[0] ? err : "bad input");
    } else {
        char title[512];
        if (from_file)
            snprintf(title, sizeof title, "%s: %s seed %s, verdict %s", first, deja_summary_get(&s, "scenario"),
                     deja_summary_get(&s, "seed"), deja_summary_get(&s, "verdict"));
        else
            snprintf(title, sizeof title, "%s seed %" PRIu64 "%s: verdict %s", first, seed,
                     deja_params_count(over) ? " (with --set)" : "", deja_summary_get(&s, "verdict"));
        int64_t sim_ns = 0;
        if (deja_summary_get(&s, "sim_ns")) sim_ns = strtoll(deja_summary_get(&s, "sim_ns"), NULL, 10);
        if (deja_timeline_write_html(tl, out->f, title, sim_ns, win_a, win_b)) rc = 2;
    }
    rc = deja_cli_commit("timeline", "-o", out, rc);
    if (rc != 2) fprintf(stderr, "deja timeline: wrote %s (verdict %s)\n", outp, deja_summary_get(&s, "verdict"));
    deja_timeline_free(tl);
    deja_params_free(over);
    return rc == 2 ? 2 : 0;
}
