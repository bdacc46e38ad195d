/*
 * cmd_sweep.c -- `deja sweep`: the command line of parameter sweeps and of
 * merging their databases.
 *
 * Only argument parsing lives here; the grid, the database and the worker
 * pool are in the simulator library (sim/sweep*.c, deja/sweep.h) so the
 * tests can drive them directly.
 */
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
            "last writer), created_version and created_build.\n\n"
            "  --grid key=a,b,c       an axis listing its values\n"
            "  --grid key=lo:hi:step  an axis lo, lo+step, ... up to hi inclusive\n"
            "                         (integers or decimals, e.g. 0:1:0.25)\n"
            "  --set key=value        a fixed override for every run (repeatable)\n"
            "  --seeds N              seeds per grid point (required)\n"
            "  --seed-start S         first seed (default 1)\n"
            "  --jobs J               worker processes (default: online CPUs)\n"
            "  --db FILE              the results database (created if missing)\n"
            "  --shard I/K            run only jobs whose index %% K == I (0 <= I < K),\n"
            "                         to split one sweep across machines\n"
            "  --quiet                no progress line\n"
            "  --merge OUT.db IN.db.. copy the rows of each IN into OUT (rows already\n"
            "                         in OUT are kept)\n\n"
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

int deja_cmd_sweep(int argc, char **argv) {
    deja_sweep_opts o;
    memset(&o, 0, sizeof o);
    deja_grid grid;
    deja_grid_init(&grid);
    deja_params *base = deja_params_new();
    const char *seeds_s = NULL;
    uint64_t v64;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    o.jobs = ncpu > 0 ? (int)(ncpu > 256 ? 256 : ncpu) : 1;
    o.seed_start = 1;
    o.shard_k = 1;
    o.progress = 1;
    o.out = stdout;
    int rc = 0;
    for (int i = 1; i < argc && !rc; i++) {
        const char *v;
        int m;
        char err[512];
        if (deja_cli_is_help(argv[i])) {
            sweep__help(stdout);
            goto out;
        } else if (!strcmp(argv[i], "--merge")) {
            if (o.scenario || grid.n || deja_params_count(base) || seeds_s || o.db) {
                rc = deja_cli_usage_error("sweep", "--merge takes only OUT.db IN.db...");
                break;
            }
            rc = sweep__merge(argc, argv, i);
            goto out;
        } else if ((m = deja_cli_flag("sweep", argc, argv, &i, "--grid", &v))) {
            if (m != 1) rc = m;
            else if (deja_grid_add(&grid, v, err, sizeof err)) rc = deja_cli_usage_error("sweep", "%s", err);
        } else if ((m = deja_cli_flag("sweep", argc, argv, &i, "--set", &v))) {
            rc = deja_cli_set("sweep", m, v, base);
        } else if ((m = deja_cli_flag("sweep", argc, argv, &i, "--seeds", &v))) {
            if (m != 1) rc = m;
            else rc = deja_cli_u64("sweep", "--seeds", v, 1, 100000000, &o.seeds);
            seeds_s = v;
        } else if ((m = deja_cli_flag("sweep", argc, argv, &i, "--seed-start", &v))) {
            if (m != 1) rc = m;
            else rc = deja_cli_u64("sweep", "--seed-start", v, 0, UINT64_MAX, &o.seed_start);
        } else if ((m = deja_cli_flag("sweep", argc, argv, &i, "--jobs", &v))) {
            if (m != 1) rc = m;
            else if (!(rc = deja_cli_u64("sweep", "--jobs", v, 1, 256, &v64))) o.jobs = (int)v64;
        } else if ((m = deja_cli_flag("sweep", argc, argv, &i, "--db", &v))) {
            if (m != 1) rc = m;
            o.db = v;
        } else if ((m = deja_cli_flag("sweep", argc, argv, &i, "--shard", &v))) {
            uint32_t si, sk;
            if (m != 1) rc = m;
            else if (!(rc = deja_cli_u32_pair("sweep", "--shard", v, &si, &sk)) && (sk == 0 || si >= sk))
                rc = deja_cli_usage_error("sweep", "--shard '%s': expected I/K with 0 <= I < K", v);
            if (!rc) {
                o.shard_i = si;
                o.shard_k = sk;
            }
        } else if (!strcmp(argv[i], "--quiet") || !strcmp(argv[i], "-q")) {
            o.progress = 0;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            rc = deja_cli_usage_error("sweep", "unknown flag '%s'", argv[i]);
        } else if (o.scenario) {
            rc = deja_cli_usage_error("sweep", "unexpected argument '%s' (the scenario is '%s')", argv[i],
                                      o.scenario);
        } else {
            o.scenario = argv[i];
        }
    }
    if (!rc && !o.scenario) rc = deja_cli_usage_error("sweep", "missing SCENARIO");
    if (!rc && !deja_scenario_find(o.scenario))
        rc = deja_cli_usage_error("sweep", "unknown scenario '%s'; 'deja scenarios' lists them", o.scenario);
    if (!rc && !seeds_s) rc = deja_cli_usage_error("sweep", "missing --seeds N");
    if (!rc && !o.db) rc = deja_cli_usage_error("sweep", "missing --db FILE");
    if (!rc && o.seed_start + (o.seeds - 1) < o.seed_start)
        rc = deja_cli_usage_error("sweep", "--seed-start %llu + --seeds %llu overflows 64 bits",
                                  (unsigned long long)o.seed_start, (unsigned long long)o.seeds);
    if (!rc) {
        o.grid = &grid;
        o.base = base;
        deja_sweep_stats st;
        char err[1024];
        rc = deja_sweep_run(&o, &st, err, sizeof err);
        if (rc == 2) deja_cli_error("sweep", "%s", err);
    }
out:
    deja_grid_free(&grid);
    deja_params_free(base);
    return rc;
}
