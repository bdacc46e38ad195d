/*
 * cmd_shrink.c -- `deja shrink`: from a failing run (a seed file, or a
 * run's arguments) to a seed file of the smallest run that fails the same
 * way (deja_shrink, deja/debug.h), with a table of what it cut.
 */
#include <errno.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_args.h"
#include "deja/debug.h"


static void shrink__help(FILE *out) {
    fprintf(out,
            "usage: deja shrink FILE.seed [-o OUT.seed] [--max-runs N]\n"
            "       deja shrink SCENARIO --seed N [--set key=value]... [-o OUT.seed] [--max-runs N]\n\n"
            "Shrinks a failing run while keeping its verdict: the fault plan (delta\n"
            "debugging over its crashes, pauses, clock steps, partitions...), then\n"
            "sim.duration_s, then sim.nodes, then the parameters with a simpler\n"
            "direction (swarm=0, net.loss_pct=0, net.jitter_ms=0, clock.drift_ppm=0,\n"
            "clock.offset_ms=0, disk.*_pct=0), then the faults once more. Progress on\n"
            "stderr; at the end a table (faults, duration, nodes, runs spent) and a\n"
            "seed file of the minimal run, which 'deja replay' checks. The same\n"
            "input always gives the same seed file.\n\n");
    deja_cli_help_flags(out, &deja_shrink_spec, 18);
    fprintf(out, "\nexit status: 0 shrunk and written; 1 the run does not fail (nothing to\n"
            "shrink); 2 bad input.\n");
}

/* Everything `deja shrink` is given, filled by its flag tables. */
typedef struct shrink__opts {
    deja_cli_scenario_flags sc;
    const char *out;
    uint64_t max_runs;
} shrink__opts;

static const deja_cli_opt shrink__rows[] = {
    {.name = "-o", .kind = DEJA_CLI_STR, .off = offsetof(shrink__opts, out), .metavar = "OUT.seed",
     .help = "where the minimal run goes (default: FILE.min.seed,\nor SCENARIO-SEED.min.seed)"},
    {.name = "--max-runs", .kind = DEJA_CLI_U64, .off = offsetof(shrink__opts, max_runs), .lo = 1, .hi = 1000000,
     .metavar = "N", .help = "stop shrinking after N runs (default 2000)"},
    {0},
};

static const deja_cli_table shrink__tables[] = {
    {deja_cli_scenario_rows, offsetof(shrink__opts, sc)},
    {shrink__rows, 0},
    {0},
};

const deja_cli_spec deja_shrink_spec = {.cmd = "shrink", .help = shrink__help, .tables = shrink__tables, .max_pos = 1};

int deja_cmd_shrink(int argc, char **argv) {
    shrink__opts a = {.max_runs = 2000};
    const char *first;
    int rc = deja_cli_parse_scenario(&deja_shrink_spec, argc, argv, &a, &a.sc, &first);
    if (rc == DEJA_CLI_HELP) return 0;
    deja_params *over = a.sc.over;
    const char *seed_s = a.sc.seed, *outp = a.out;
    uint64_t max_runs = a.max_runs;
    if (!rc && !first) rc = deja_cli_usage_error("shrink", "missing FILE.seed or SCENARIO");
    deja_cli_target tg;
    memset(&tg, 0, sizeof tg);
    char defout[600] = "";
    if (!rc) rc = deja_cli_target_resolve("shrink", first, seed_s, over, &tg);
    if (!rc && tg.from_file)
        snprintf(defout, sizeof defout, "%.*s.min.seed", (int)(strlen(first) - 5), first);
    else if (!rc)
        snprintf(defout, sizeof defout, "%s-%" PRIu64 ".min.seed", first, tg.seed);
    deja_seedfile sf = tg.sf;
    const deja_scenario *sc = tg.sc;
    uint64_t seed = tg.seed;
    int from_file = tg.from_file;
    if (!outp) outp = defout;
    if (!rc && !deja_cli_dir_writable(outp))
        rc = deja_cli_usage_error("shrink", "-o '%s': its directory is not writable", outp);
    if (rc) {
        deja_seedfile_free(&sf);
        deja_params_free(over);
        return rc;
    }
    const deja_params *start = from_file ? sf.overrides : over;
    deja_shrink_result r;
    char err[512] = "";
    rc = deja_shrink(sc, seed, start, from_file ? sf.plan : NULL, (int)max_runs, stderr, &r, err, sizeof err);
    if (rc == 1) {
        deja_cli_error("shrink", "%s", err);
    } else if (rc == 2) {
        deja_cli_usage_error("shrink", "%s", err);
    } else {
        printf("shrink %s seed %" PRIu64 ": verdict %s kept\n", sc->name, seed, r.verdict);
        printf("  %-10s %8s -> %s\n", "", "before", "after");
        printf("  %-10s %8zu -> %zu\n", "faults", r.faults_before, r.faults_after);
        if (r.duration_before_s)
            printf("  %-10s %6" PRId64 " s -> %" PRId64 " s\n", "duration", r.duration_before_s, r.duration_after_s);
        if (r.nodes_before) printf("  %-10s %8" PRId64 " -> %" PRId64 "\n", "nodes", r.nodes_before, r.nodes_after);
        printf("  %-10s", "params");
        int any = 0;
        for (int i = 0; i < deja_params_count(r.overrides); i++) {
            const char *k = deja_params_key(r.overrides, i), *v = deja_params_val(r.overrides, i);
            const char *was = deja_params_get(start, k);
            if (!strcmp(k, "sim.duration_s") || !strcmp(k, "sim.nodes") || (was && !strcmp(was, v))) continue;
            printf(" %s=%s", k, v);
            any = 1;
        }
        printf("%s\n", any ? "" : " (unchanged)");
        printf("  %-10s %d\n", "runs", r.runs);
        if (deja_seedfile_write_plan(outp, sc->name, seed, r.overrides, r.plan, &r.summary)) {
            rc = deja_cli_usage_error("shrink", "-o '%s': %s", outp, strerror(errno));
        } else {
            printf("wrote %s (check it with 'deja replay %s')\n", outp, outp);
        }
        deja_shrink_result_free(&r);
    }
    deja_seedfile_free(&sf);
    deja_params_free(over);
    return rc;
}
