/*
 * sweep.h -- parameter sweeps: a grid of parameter values times a range of
 * seeds, run in worker processes, one row per run in an SQLite database.
 *
 * Three parts, used by `deja sweep` (sim/cli/cmd_sweep.c only parses the
 * command line) and by the tests:
 *   - the grid (sweep_grid.c): axes "key=a,b,c" or "key=lo:hi:step", whose
 *     cartesian product gives the points;
 *   - the database (sweep_db.c): table `runs`, one column per parameter and
 *     per summary metric (added as they appear), UNIQUE(scenario, seed,
 *     params_key) so that a rerun skips what is done; merging databases;
 *   - the runner (sweep.c): forks J workers that call deja_run and send the
 *     summaries back over pipes; the parent alone writes the database, one
 *     transaction per row, so a sweep killed at any point resumes.
 * Exit-code contract as everywhere: 0 done, 2 bad input (err says why);
 * failing verdicts are data, not errors.
 */
#ifndef DEJA_SWEEP_H
#define DEJA_SWEEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "deja/deja.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the grid ---------------------------------------------------------- */

#define DEJA_GRID_MAX_AXES 16
#define DEJA_GRID_MAX_VALUES 100000 /* per axis */
#define DEJA_GRID_MAX_POINTS 1000000

typedef struct deja_grid_axis {
    char key[64];
    size_t n;
    char **vals; /* n strings, in the order given */
} deja_grid_axis;

typedef struct deja_grid {
    int n;
    deja_grid_axis axis[DEJA_GRID_MAX_AXES];
} deja_grid;

void deja_grid_init(deja_grid *g);
void deja_grid_free(deja_grid *g);
/* Adds an axis from "key=a,b,c" (a list of values, kept as written) or
 * "key=lo:hi:step" (integers or decimals with up to 9 fractional digits;
 * lo <= hi, step > 0; expands to lo, lo+step, ... <= hi, each printed in its
 * shortest form: 0:1:0.25 gives 0,0.25,0.5,0.75,1). 0, or 2 with a message
 * naming the spec. */
int deja_grid_add(deja_grid *g, const char *spec, char *err, size_t errlen);
/* Number of points (the product of the axis lengths; 1 with no axis). */
size_t deja_grid_points(const deja_grid *g);
/* Sets the values of point i (0 <= i < points) in into; the last axis varies
 * fastest. */
void deja_grid_point(const deja_grid *g, size_t i, deja_params *into);

/* ---- the database ------------------------------------------------------ */

typedef struct deja_sweepdb deja_sweepdb;

/* Opens (creating if needed) a sweep database: WAL, synchronous=NORMAL,
 * table runs. Safe when several processes (shards) open one new file at
 * once: busy handling from the first statement, schema changes in
 * immediate transactions, retried while locked (up to 30 s). 0, or 2 with
 * err naming the file and giving SQLite's message (disk full, read-only,
 * locked). */
int deja_sweepdb_open(const char *path, deja_sweepdb **out, char *err, size_t errlen);
void deja_sweepdb_close(deja_sweepdb *db);
/* SQLite's message for the last failed call on db. */
const char *deja_sweepdb_errmsg(deja_sweepdb *db);
/* Canonical string of a full parameter set: "k=v;k=v" sorted by key. */
void deja_sweep_params_key(const deja_params *all, char *buf, size_t len);
/* 1 when the run is already stored, 0 when not, -1 on a database error
 * (deja_sweepdb_errmsg says which). A row of verdict crash without a
 * crash_command (a worker killed from outside, stored by older versions)
 * does not count: the run is done again and its row replaced. */
int deja_sweepdb_has(deja_sweepdb *db, const char *scenario, uint64_t seed, const char *params_key);
/* 1 when any run of scenario is stored, 0 when none, -1 on an error. */
int deja_sweepdb_count(deja_sweepdb *db, const char *scenario);
/* Stores one run in its own transaction: a column per parameter of all
 * (numbers stored as numbers), verdict, trace_hash and every other summary
 * key (columns added when new). 1 added, 0 already there, -1 error (err). */
int deja_sweepdb_insert(deja_sweepdb *db, const char *scenario, uint64_t seed, const deja_params *all,
                        const char *params_key, const deja_summary *s, char *err, size_t errlen);
/* Merges the runs of every input database into out (INSERT OR IGNORE,
 * adding columns as needed); *added counts new rows. 0, or 2 with err. */
int deja_sweep_merge(const char *out, const char *const *in, int n, uint64_t *added, char *err,
                     size_t errlen);

/* ---- the runner -------------------------------------------------------- */

typedef struct deja_sweep_opts {
    const char *scenario;
    const deja_grid *grid;    /* may be NULL: seeds only */
    const deja_params *base;  /* --set overrides, may be NULL */
    uint64_t seed_start;      /* first seed */
    uint64_t seeds;           /* number of seeds per point (> 0) */
    int jobs;                 /* worker processes (> 0) */
    const char *db;
    uint32_t shard_i, shard_k; /* run job j only when j % shard_k == shard_i (k 0 means 1) */
    int progress;             /* 0 silent, 1 progress on stderr */
    FILE *out;                /* final summary and replay lines (NULL: none) */
} deja_sweep_opts;

typedef struct deja_sweep_stats {
    uint64_t jobs;    /* jobs in this shard */
    uint64_t added;   /* rows written */
    uint64_t skipped; /* already in the database */
    uint64_t ran;     /* runs executed by this call (a rerun of a finished sweep: 0) */
    uint64_t failing; /* rows with a verdict other than ok (crashes included) */
    uint64_t crashed; /* runs stored as crash (their worker died twice the same way) */
    uint64_t retried; /* worker deaths that were followed by another attempt or a verdict */
    uint64_t lost;    /* runs killed from outside at every attempt: not stored, rerun on resume */
    double wall_s;
    bool interrupted; /* SIGINT or SIGTERM stopped it */
} deja_sweep_stats;

/* Runs the sweep. 0 when it completed (whatever the verdicts), 1 when runs
 * killed from outside at every attempt were left out (st->lost; rerun to
 * finish), 2 on bad input or a database error (err, with SQLite's own
 * message), 130 when interrupted (only committed rows remain). */
int deja_sweep_run(const deja_sweep_opts *o, deja_sweep_stats *st, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif /* DEJA_SWEEP_H */
