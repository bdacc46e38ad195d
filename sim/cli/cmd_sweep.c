/*
 * cmd_sweep.c -- `deja sweep`: the command line of parameter sweeps and of
 * merging their databases.
 *
 * Only argument parsing lives here; the grid, the database and the worker
 * pool are in the simulator library (sim/sweep*.c, deja/sweep.h) so the
 * tests can drive them directly.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_args.h"
#include "deja/deja.h"
#include "deja/sweep.h"

static void sweep__help(FILE *out) {
    fprintf(out,
            "usage: deja sweep SCENARIO [--grid key=a,b,c | --grid key=lo:hi:step]...\n"
            "                  [--set key=value]... --seeds N [--seed-start S]\n"
            "                  [--jobs J] --db FILE [--shard I/K] [--quiet]\n"
            "       deja sweep --merge OUT.db IN.db...\n\n"
            "Runs SCENARIO for every point of the grid (the cartesian product of the\n"
            "--grid axes) and every seed S..S+N-1, in J worker processes, and stores\n"
            "one row per run in table 'runs' of the SQLite database FILE: scenario,\n"
            "seed, one column per scenario parameter (named by its key, e.g.\n"
            "\"clock.offset_ms\"), verdict, trace_hash, every metric of the summary\n"
            "(events, sim_ns, forks, blocks, wall_ms...) and params_key. Table 'meta'\n"
            "(key, value) says which deja wrote it: deja_version and deja_build (the\n"
            "last writer), created_version and created_build.\n\n");
    deja_cli_help_flags(out, &deja_sweep_spec, 23);
    fprintf(out, "\n"
            "A sweep resumes: rows already in the database (same scenario, seed and\n"
            "parameter values) are skipped, so rerunning an interrupted or killed\n"
            "sweep completes it and rerunning a finished one adds nothing. Each row\n"
            "is committed on its own. Several sweeps (shards) may write one database\n"
            "at once. A run whose worker dies is retried in a fresh worker: it is\n"
            "stored with verdict 'crash' (plus crash_signal and crash_command, the\n"
            "command that replays it) only when a second attempt dies the same way;\n"
            "a worker killed from outside (SIGKILL, SIGTERM) is retried up to 3\n"
            "times and never stored as a crash. Ctrl-C stops after killing the\n"
            "workers; only whole rows remain. Progress goes to stderr; the final\n"
            "line and the replay commands of up to 5 failing runs go to stdout.\n\n"
            "exit status: 0 the sweep completed -- even when some runs have failing\n"
            "verdicts: a sweep is an experiment, its failures are data in the\n"
            "database; 1 runs killed from outside at every attempt were left out\n"
            "(rerun to finish); 2 bad input (unknown scenario or parameter, bad\n"
            "--grid, a value the scenario rejects, unusable database: SQLite's\n"
            "message says why); 130 interrupted.\n");
}

/* deja sweep --merge OUT IN... */
static int sweep__merge(int argc, char **argv, int at) {
    int n = argc - at - 2;
    if (n < 1) return deja_cli_usage_error("sweep", "--merge needs OUT.db and at least one IN.db");
    const char *out = argv[at + 1];
    for (int i = at + 2; i < argc; i++)
        if (argv[i][0] == '-') return deja_cli_usage_error("sweep", "--merge: unexpected flag '%s'", argv[i]);
    char err[512];
    uint64_t added = 0;
    int rc = deja_sweep_merge(out, (const char *const *)(argv + at + 2), n, &added, err, sizeof err);
    if (rc) {
        deja_cli_error("sweep", "--merge: %s", err);
        return 2;
    }
    printf("merge: %llu rows added to %s from %d database%s\n", (unsigned long long)added, out, n,
           n == 1 ? "" : "s");
    return 0;
}

/* Everything `deja sweep` is given, filled by its flag table. */
typedef struct sweep__args {
    deja_sweep_opts o;
    deja_grid grid;
    deja_params *base;
    uint64_t jobs;
    bool quiet;
    int merge_at; /* the index of --merge in argv, 0 without */
} sweep__args;

/* --grid: adds an axis to the deja_grid at dest. */
static int sweep__grid(const char *cmd, const char *flag, const char *val, void *dest) {
    char err[512];
    (void)flag;
    if (deja_grid_add(dest, val, err, sizeof err)) return deja_cli_usage_error(cmd, "%s", err);
    return 0;
}

/* --shard I/K into the deja_sweep_opts at dest. */
static int sweep__shard(const char *cmd, const char *flag, const char *val, void *dest) {
    deja_sweep_opts *o = dest;
    uint32_t si, sk;
    if (deja_cli_u32_pair(cmd, flag, val, &si, &sk)) return 2;
    if (sk == 0 || si >= sk) return deja_cli_usage_error(cmd, "%s '%s': expected I/K with 0 <= I < K", flag, val);
    o->shard_i = si;
    o->shard_k = sk;
    return 0;
}

static const deja_cli_opt sweep__rows[] = {
    {.name = "--grid", .kind = DEJA_CLI_FN, .off = offsetof(sweep__args, grid), .parse = sweep__grid, .repeat = true,
     .metavar = "key=a,b,c",
     .help = "an axis listing its values; or key=lo:hi:step,\n"
             "an axis lo, lo+step, ... up to hi inclusive\n"
             "(integers or decimals, e.g. 0:1:0.25); repeatable"},
    {.name = "--set", .kind = DEJA_CLI_SET, .off = offsetof(sweep__args, base), .metavar = "key=value",
     .help = "a fixed override for every run (repeatable)"},
    {.name = "--seeds", .kind = DEJA_CLI_U64, .off = offsetof(sweep__args, o.seeds), .lo = 1, .hi = 100000000,
     .metavar = "N", .help = "seeds per grid point (required)"},
    {.name = "--seed-start", .kind = DEJA_CLI_U64, .off = offsetof(sweep__args, o.seed_start), .hi = UINT64_MAX,
     .metavar = "S", .help = "first seed (default 1)"},
    {.name = "--jobs", .kind = DEJA_CLI_U64, .off = offsetof(sweep__args, jobs), .lo = 1, .hi = 256, .metavar = "J",
     .help = "worker processes (default: online CPUs)"},
    {.name = "--db", .kind = DEJA_CLI_STR, .off = offsetof(sweep__args, o.db), .metavar = "FILE",
     .help = "the results database (created if missing)"},
    {.name = "--shard", .kind = DEJA_CLI_FN, .off = offsetof(sweep__args, o), .parse = sweep__shard, .metavar = "I/K",
     .help = "run only jobs whose index % K == I (0 <= I < K),\nto split one sweep across machines"},
    {.name = "--quiet", .alias = "-q", .kind = DEJA_CLI_BOOL, .off = offsetof(sweep__args, quiet),
     .help = "no progress line (also -q)"},
    {.name = "--merge", .kind = DEJA_CLI_REST, .off = offsetof(sweep__args, merge_at), .metavar = "OUT.db IN.db...",
     .help = "copy the rows of each IN into OUT (rows already\nin OUT are kept)"},
    {0},
};

static const deja_cli_table sweep__tables[] = {{sweep__rows, 0}, {0}};

const deja_cli_spec deja_sweep_spec = {.cmd = "sweep", .help = sweep__help, .tables = sweep__tables, .max_pos = 1, .pos_name = "scenario"};

int deja_cmd_sweep(int argc, char **argv) {
    sweep__args a = {.base = deja_params_new()};
    deja_sweep_opts *o = &a.o;
    deja_grid_init(&a.grid);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    a.jobs = ncpu > 0 ? (uint64_t)(ncpu > 256 ? 256 : ncpu) : 1;
    o->seed_start = 1;
    o->shard_k = 1;
    int npos = 0;
    int rc = deja_cli_parse(&deja_sweep_spec, argc, argv, &a, &o->scenario, &npos);
    o->jobs = (int)a.jobs;
    o->progress = !a.quiet;
    o->out = stdout;
    if (rc == DEJA_CLI_HELP) {
        rc = 0;
    } else if (!rc && a.merge_at) {
        if (o->scenario || a.grid.n || deja_params_count(a.base) || o->seeds || o->db)
            rc = deja_cli_usage_error("sweep", "--merge takes only OUT.db IN.db...");
        else
            rc = sweep__merge(argc, argv, a.merge_at);
    } else {
        if (!rc && !o->scenario) rc = deja_cli_usage_error("sweep", "missing SCENARIO");
        if (!rc && !deja_scenario_find(o->scenario))
            rc = deja_cli_usage_error("sweep", "unknown scenario '%s'; 'deja scenarios' lists them", o->scenario);
        if (!rc && !o->seeds) rc = deja_cli_usage_error("sweep", "missing --seeds N");
        if (!rc && !o->db) rc = deja_cli_usage_error("sweep", "missing --db FILE");
        if (!rc && o->seed_start + (o->seeds - 1) < o->seed_start)
            rc = deja_cli_usage_error("sweep", "--seed-start %llu + --seeds %llu overflows 64 bits",
                                      (unsigned long long)o->seed_start, (unsigned long long)o->seeds);
        if (!rc) {
            o->grid = &a.grid;
            o->base = a.base;
            deja_sweep_stats st;
            char err[1024];
            rc = deja_sweep_run(o, &st, err, sizeof err);
            if (rc == 2) deja_cli_error("sweep", "%s", err);
        }
    }
    deja_grid_free(&a.grid);
    deja_params_free(a.base);
    return rc;
}
