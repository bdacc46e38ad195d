/*
 * cmd_run.c -- `deja run`: runs one scenario for one seed and prints its
 * summary, one key=value a line.
 *
 * All input is checked before the run starts (scenario, seed, every --set
 * against the scenario's parameters, the trace and timeline files), so a bad command line
 * costs nothing and exits 2 with a one-line message naming the flag. A
 * failing verdict exits 1 and prints, on stderr, the command that replays
 * the run.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_args.h"
#include "deja/deja.h"
#include "deja/outfile.h"
#include "deja/debug.h"
#include "deja/rt.h"
#include "deja/world.h"

static void run__help(FILE *out) {
    fprintf(out,
            "usage: deja run SCENARIO --seed N [--set key=value]... [--trace FILE] [--json]\n"
            "                [--timeline FILE.csv] [--dump-tasks] [--save FILE.seed]\n"
            "                [--plan FILE] [--plan-mask IDS] [--use-plan FILE]\n"
            "                [--dump-at T1,T2,... [--dump-diff]]\n"
            "                [--break-at-event N] [--break-on-verdict] [--perfetto FILE.json]\n\n"
            "Runs SCENARIO once with seed N and prints its summary, one key=value a\n"
            "line (scenario, seed, verdict, trace_hash, events, sim_ns, wall_ms and\n"
            "the scenario's metrics). The same seed and --set values always give the\n"
            "same trace_hash.\n\n");
    deja_cli_help_flags(out, &deja_run_spec, 18);
    fprintf(out, "\n"
            "exit status: 0 every oracle held (verdict=ok); 1 an oracle failed (the\n"
            "replay command is printed on stderr); 2 bad input (unknown scenario or\n"
            "parameter, missing or bad --seed, unwritable file).\n");
}

/* The instants of --dump-at. */
typedef struct run__instants {
    int64_t at[64];
    int n;
} run__instants;

/* Parses "T1,T2,..." (seconds, or NNNms / NNNs) into increasing ns
 * instants in dest (a run__instants); 0, or 2 with the flag named. */
static int run__dump_at(const char *cmd, const char *flag, const char *v, void *dest) {
    run__instants *d = dest;
    const int max = (int)(sizeof d->at / sizeof d->at[0]);
    int64_t *out = d->at;
    int *n = &d->n;
    *n = 0;
    char buf[1024];
    if (strlen(v) >= sizeof buf || !*v) return deja_cli_usage_error(cmd, "%s '%s': expected T1,T2,...", flag, v);
    snprintf(buf, sizeof buf, "%s", v);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        size_t len = strlen(tok);
        int64_t scale = RT_SEC, x;
        if (len > 2 && !strcmp(tok + len - 2, "ms")) {
            scale = RT_MS;
            tok[len - 2] = 0;
        } else if (len > 1 && tok[len - 1] == 's') {
            tok[len - 1] = 0;
        }
        if (deja_parse_i64(tok, &x) || x < 0 || x > INT64_MAX / scale)
            return deja_cli_usage_error(cmd, "%s '%s': '%s' is not a time (seconds, or 1500ms)", flag, v, tok);
        if (*n == max) return deja_cli_usage_error(cmd, "%s '%s': at most %d instants", flag, v, max);
        if (*n > 0 && x * scale <= out[*n - 1])
            return deja_cli_usage_error(cmd, "%s '%s': instants must increase", flag, v);
        out[(*n)++] = x * scale;
    }
    return *n ? 0 : deja_cli_usage_error(cmd, "%s '%s': expected T1,T2,...", flag, v);
}

/* Everything `deja run` is given, filled by its flag tables. */
typedef struct run__opts {
    deja_cli_scenario_flags sc;
    deja_cli_debug_flags dbg;
    const char *timeline, *save, *plan, *plan_mask, *use_plan, *perfetto;
    run__instants dump_at;
    bool dump_diff;
    bool json; /* never set: deja_main takes --json out (cli_json.c); the row documents it */
} run__opts;

#define RUN__STR(flag, field, mv, text)                                                                            \
    {.name = flag, .kind = DEJA_CLI_STR, .off = offsetof(run__opts, field), .metavar = mv, .help = text}
static const deja_cli_opt run__rows[] = {
    RUN__STR("--timeline", timeline, "FILE.csv",
             "write the resident-size timeline (every\n"
             "mem.sample_ms and at each OOM kill), one row per node:\n"
             "t_ms,node,resident_bytes,tasks,mapped_bytes\n"
             "(draw it with 'deja plot memory --timeline FILE.csv')"),
    {.name = "--dump-at", .kind = DEJA_CLI_FN, .off = offsetof(run__opts, dump_at), .parse = run__dump_at,
     .metavar = "T1,T2,...",
     .help = "print a task dump (stderr) at each of these virtual\n"
             "instants, increasing: seconds, or with a unit (1500ms, 90s)"},
    {.name = "--dump-diff", .kind = DEJA_CLI_BOOL, .off = offsetof(run__opts, dump_diff),
     .help = "with --dump-at: after each dump but the first, what grew\n"
             "or shrank since the previous one, grouped by node, spawn\n"
             "site and blocking site"},
    RUN__STR("--save", save, "FILE.seed", "write a seed file of the run, for 'deja replay'"),
    RUN__STR("--plan", plan, "FILE",
             "write the run's fault plan: every crash, pause, clock\n"
             "step and slew, partition and heal, one 'fault =' line\n"
             "each, with its id"),
    RUN__STR("--plan-mask", plan_mask, "IDS", "leave out the faults with these ids (e.g. 3,5-9)"),
    RUN__STR("--use-plan", use_plan, "FILE",
             "run only the faults of this plan file (the full plan\n"
             "of the same seed gives the same trace_hash)"),
    {.name = "--json", .kind = DEJA_CLI_BOOL, .off = offsetof(run__opts, json),
     .help = "print the summary as one JSON object instead (the same\n"
             "keys; seed and hashes as strings)"},
    RUN__STR("--perfetto", perfetto, "FILE.json",
             "write the run in the Chrome trace-event format\n"
             "(open it in ui.perfetto.dev or chrome://tracing): nodes\n"
             "as processes, tasks as threads, blocked intervals as\n"
             "slices, messages as flow arrows, facts and faults as\n"
             "instants"),
    {0},
};

static const deja_cli_table run__tables[] = {
    {deja_cli_scenario_rows, offsetof(run__opts, sc)},
    {deja_cli_debug_rows, offsetof(run__opts, dbg)},
    {run__rows, 0},
    {0},
};

const deja_cli_spec deja_run_spec = {.cmd = "run", .help = run__help, .tables = run__tables, .max_pos = 1, .pos_name = "scenario"};

int deja_cmd_run(int argc, char **argv) {
    run__opts a = {0};
    const char *scenario;
    int rc = deja_cli_parse_scenario(&deja_run_spec, argc, argv, &a, &a.sc, &scenario);
    if (rc == DEJA_CLI_HELP) return 0;
    deja_params *over = a.sc.over;
    const char *seed_s = a.sc.seed, *save = a.save, *plan_mask = a.plan_mask, *use_plan = a.use_plan;
    const deja_scenario *sc = NULL;
    uint64_t seed = 0;
    if (!rc && !scenario) rc = deja_cli_usage_error("run", "missing SCENARIO");
    if (!rc && !(sc = deja_scenario_find(scenario)))
        rc = deja_cli_usage_error("run", "unknown scenario '%s'; 'deja scenarios' lists them", scenario);
    if (!rc && !seed_s) rc = deja_cli_usage_error("run", "missing --seed N");
    if (!rc && deja_parse_u64(seed_s, &seed))
        rc = deja_cli_usage_error("run", "--seed '%s': not an unsigned 64-bit integer", seed_s);
    if (!rc) {
        deja_params *all = NULL;
        char perr[256];
        if (deja_scenario_params(sc, over, &all, perr, sizeof perr))
            rc = deja_cli_usage_error("run", "--set: %s", perr);
        deja_params_free(all);
    }
    if (!rc && a.dump_diff && a.dump_at.n < 2)
        rc = deja_cli_usage_error("run", "--dump-diff needs --dump-at with at least two instants");
    if (!rc && save && !deja_cli_dir_writable(save))
        rc = deja_cli_usage_error("run", "--save '%s': its directory is not writable", save);
    deja_plan *given = NULL;
    if (!rc && use_plan) {
        char perr[512];
        if (deja_plan_load(use_plan, &given, perr, sizeof perr)) rc = deja_cli_usage_error("run", "--use-plan: %s", perr);
    }
    if (!rc && plan_mask) {
        char perr[256];
        if (deja_plan_mask_check(plan_mask, perr, sizeof perr)) rc = deja_cli_usage_error("run", "--plan-mask: %s", perr);
    }
    /* Outputs go to temporary files renamed into place only on success
     * (deja/outfile.h): a failing command leaves existing files untouched. */
    deja_outfile *plan_out = deja_cli_outfile("run", "--plan", a.plan, &rc);
    deja_outfile *trace = deja_cli_outfile("run", "--trace", a.dbg.trace, &rc);
    deja_outfile *timeline = deja_cli_outfile("run", "--timeline", a.timeline, &rc);
    deja_outfile *perfetto = deja_cli_outfile("run", "--perfetto", a.perfetto, &rc);
    if (rc) {
        deja_outfile_abort(perfetto);
        deja_outfile_abort(trace);
        deja_outfile_abort(timeline);
        deja_outfile_abort(plan_out);
        deja_plan_free(given);
        deja_params_free(over);
        return rc;
    }

    deja_run_opts opts = {.trace = trace ? trace->f : NULL, .dump_tasks = a.dbg.dump_tasks, .dump_on_failure = true,
                          .dump_out = stderr, .timeline = timeline ? timeline->f : NULL,
                          .plan_mask = plan_mask, .plan = given, .plan_out = plan_out ? plan_out->f : NULL,
                          .dump_at = a.dump_at.at, .n_dump_at = a.dump_at.n, .dump_diff = a.dump_diff,
                          .break_at_event = a.dbg.break_at, .break_on_verdict = a.dbg.break_verdict};
    deja_perfetto *pf = perfetto ? deja_perfetto_new(perfetto->f) : NULL;
    if (pf) {
        opts.observer = deja_perfetto_observe;
        opts.observer_arg = pf;
    }
    deja_plan *ran = NULL; /* the plan the run injected, for --save with a cut-down plan */
    if (save && (plan_mask || given)) opts.plan_record = &ran;
    deja_summary s;
    char err[512] = "";
    deja_summary_clear(&s);
    rc = deja_run(sc, seed, over, &opts, &s, err, sizeof err);
    int run_rc = rc;
    if (pf && deja_perfetto_finish(pf) && rc != 2) rc = deja_cli_usage_error("run", "--perfetto '%s': write failed", a.perfetto);
    rc = deja_cli_commit("run", "--perfetto", perfetto, rc);
    rc = deja_cli_commit("run", "--plan", plan_out, rc);
    rc = deja_cli_commit("run", "--trace", trace, rc);
    rc = deja_cli_commit("run", "--timeline", timeline, rc);
    if (run_rc == 2) {
        deja_cli_usage_error("run", "%s", err[0] ? err : "bad input");
    } else if (rc != 2) { /* (a 2 here: an output could not be written, said above) */
        deja_summary_print(&s, stdout);
        fflush(stdout);
        if (rc == 1) {
            char cmd[1024];
            deja_replay_command(scenario, seed, over, cmd, sizeof cmd);
            deja_cli_eprintf("deja run: verdict %s\nreplay: %s\n",
                    deja_summary_get(&s, "verdict") ? deja_summary_get(&s, "verdict") : "?", cmd);
        }
        if (save) {
            if (deja_seedfile_write_plan(save, scenario, seed, over, ran, &s)) {
                rc = deja_cli_usage_error("run", "--save '%s': %s", save, strerror(errno));
            } else {
                deja_cli_eprintf("deja run: saved %s (check it with '%s replay %s')\n", save, deja_tool_name(), save);
            }
        }
    }
    deja_plan_free(ran);
    deja_plan_free(given);
    deja_params_free(over);
    return rc;
}
