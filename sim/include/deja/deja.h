/*
 * deja.h -- the framework API that tools see: parameters, scenarios, runs
 * and their summaries.
 *
 * A scenario (models/) names a set of parameters with defaults and knows how
 * to build a simulated world from them (world.h) and judge it at the end.
 * deja_run() runs one scenario for one seed and fills a summary: ordered
 * key=value pairs, the machine-readable output of `deja run` and the row a
 * sweep stores. Exit-code contract of every entry point here: 0 when every
 * oracle holds, 1 when one fails, 2 on bad input (with a message in err).
 */
#ifndef DEJA_DEJA_H
#define DEJA_DEJA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Sets the process up for simulation (SQLite's memory methods, before
 * SQLite first initialises). Idempotent; call it before anything else in a
 * program that uses SQLite (deja_world_new calls it too). */
void deja_init(void);

/* ---- parameters -------------------------------------------------------- */

/* One parameter of a scenario: its name (a contract), default and help. */
typedef struct deja_param_def {
    const char *key;
    const char *dflt;
    const char *help;
} deja_param_def;

/* An ordered set of key=value strings (insertion order is kept). */
typedef struct deja_params deja_params;

deja_params *deja_params_new(void);
void deja_params_free(deja_params *p);
/* Sets (or replaces) key. Returns 0, or -1 when key or value is too long. */
int deja_params_set(deja_params *p, const char *key, const char *val);
/* Parses "key=value"; 0, or 2 with a message naming the text. */
int deja_params_parse(deja_params *p, const char *kv, char *err, size_t errlen);
const char *deja_params_get(const deja_params *p, const char *key);
int deja_params_count(const deja_params *p);
const char *deja_params_key(const deja_params *p, int i);
const char *deja_params_val(const deja_params *p, int i);
deja_params *deja_params_clone(const deja_params *p);

/* Parses an integer parameter value (decimal, optional sign). 0 or 2. */
int deja_parse_i64(const char *s, int64_t *out);
/* Parses a decimal value with up to 9 fractional digits into fixed point
 * scaled by 10^9 (so "1.5" -> 1500000000). 0 or 2. */
int deja_parse_fixed9(const char *s, int64_t *out);

/* Reads parameter key of p as an integer in [lo, hi] (or, for _fixed9, a
 * decimal scaled by 10^9 whose value lies in [lo, hi] before scaling).
 * 0, or 2 with a message naming the parameter and its value. */
int deja_params_i64(const deja_params *p, const char *key, int64_t lo, int64_t hi, int64_t *out,
                    char *err, size_t errlen);
int deja_params_fixed9(const deja_params *p, const char *key, int64_t lo, int64_t hi, int64_t *out,
                       char *err, size_t errlen);

/* ---- summaries --------------------------------------------------------- */

#define DEJA_SUMMARY_MAX 64

typedef struct deja_summary {
    int n;
    char key[DEJA_SUMMARY_MAX][48];
    char val[DEJA_SUMMARY_MAX][80];
} deja_summary;

void deja_summary_clear(deja_summary *s);
/* Sets key to a printf-formatted value (replacing an earlier one). */
void deja_summary_set(deja_summary *s, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *deja_summary_get(const deja_summary *s, const char *key);
/* Sets verdict to `verdict` unless an earlier check already failed the run
 * (the first failure named is the run's verdict). */
void deja_summary_fail(deja_summary *s, const char *verdict);
/* Prints one key=value per line. */
void deja_summary_print(const deja_summary *s, FILE *out);

/* ---- scenarios --------------------------------------------------------- */

typedef struct deja_world deja_world;

typedef struct deja_scenario {
    const char *name;
    const char *summary;
    const deja_param_def *params; /* terminated by an entry with key NULL */
    /* Builds the world: nodes, clocks, network, fault schedules, oracles.
     * p holds every parameter (defaults merged with overrides). Returns 0,
     * or 2 with a message naming the parameter when a value is bad. */
    int (*setup)(deja_world *w, const deja_params *p, char *err, size_t errlen);
    /* After the run and after the world's oracles (world.h) judged it: adds
     * metrics to s and fails the run (deja_summary_fail) when a check of the
     * scenario's own fails. The generic detectors (deja/check.h) come after. */
    void (*finish)(deja_world *w, deja_summary *s); /* may be NULL */
} deja_scenario;

/* Makes a scenario known to this binary's commands (run, sweep, replay...).
 * Called explicitly at start-up, before deja_main; a later registration of
 * the same name replaces the earlier one. The built-in scenarios register
 * with deja_models_register (deja/models.h). */
void deja_scenario_register(const deja_scenario *sc);
/* NULL-terminated list of every registered scenario, in registration order. */
const deja_scenario *const *deja_scenarios(void);
const deja_scenario *deja_scenario_find(const char *name);
/* Merges defaults and overrides into a new set; 2 (with err naming the key)
 * when an override names no parameter of the scenario. */
int deja_scenario_params(const deja_scenario *sc, const deja_params *overrides,
                         deja_params **out, char *err, size_t errlen);

/* ---- runs -------------------------------------------------------------- */

struct deja_plan;
struct deja_trace_event;

typedef struct deja_run_opts {
    FILE *trace;      /* when set, every event is written here as text */
    bool dump_tasks;  /* print a task dump at the end of the run */
    bool dump_on_failure; /* print it when the verdict is not ok */
    FILE *dump_out;   /* where task dumps go (stderr when NULL) */
    FILE *timeline;   /* when set, the resident-size timeline is written here
                         as CSV at the end (deja_world_timeline_csv) */
    /* fault plans (deja/world.h) */
    const char *plan_mask;        /* leave out the faults with these ids ("3,5-9") */
    const struct deja_plan *plan; /* run this plan instead of the drawn one */
    FILE *plan_out;               /* write the run's plan here (deja_plan_write) */
    struct deja_plan **plan_record; /* receives a copy of the run's plan (free it) */
    const int64_t *dump_at; /* task dumps at these virtual instants (ns, increasing) */
    int n_dump_at;
    bool dump_diff;   /* and what grew or shrank between them (deja_world_dump_at) */
    /* stopping in a debugger (deja_break, deja/world.h) */
    uint64_t break_at_event;  /* call deja_break() at this event number (0: never) */
    bool break_on_verdict;    /* call it at the first violation an oracle reports, or
                                 at the end when a verdict fails without one */
    /* sees every event of the run (deja_world_on_event, deja/world.h) */
    void (*observer)(void *arg, const struct deja_trace_event *e);
    void *observer_arg;
} deja_run_opts;

/* Runs scenario sc for seed with the given overrides. Fills out with at
 * least scenario, seed, verdict, trace_hash, events, sim_ns, wall_ms.
 * Returns 0 (verdict ok), 1 (an oracle failed) or 2 (bad input, err set). */
int deja_run(const deja_scenario *sc, uint64_t seed, const deja_params *overrides,
             const deja_run_opts *opts, deja_summary *out, char *err, size_t errlen);

/* The name the printed replay commands and seed-file comments give the
 * binary (argv[0] of the running tool; "deja" until set). */
void deja_set_tool_name(const char *name);
const char *deja_tool_name(void);

/* The command line that replays a run. */
void deja_replay_command(const char *scenario, uint64_t seed, const deja_params *overrides,
                         char *buf, size_t len);

/* ---- judging a production cluster's facts ------------------------------ */

/* Judges what a real cluster did with a scenario's own oracles, as the
 * simulator judges a run: builds sc's world (defaults, then the overrides
 * sc knows; the others are the nodes' own and are left out; sc's node
 * count, its parameter "sim.nodes" or else its one "*.nodes", is `nodes`
 * when the overrides leave it out) WITHOUT
 * running it, so its setup attaches its oracles; reads DIR/node-I/facts
 * for I in 0..nodes-1 (the format of production's facts file,
 * docs/production.md; a missing file counts as empty, a last line torn by
 * a SIGKILL is left out); merges them in wall-time order (each file's own
 * order kept); and hands every fact to every oracle's on_fact with its
 * node and its time since the cluster's first start line. A node's second
 * and later "start" lines arrive as the node events DEJA_FACT_CRASH then
 * DEJA_FACT_RESTART at the restart's instant (production does not record
 * when a process died). Then the oracles' finish fills out: scenario,
 * verdict (ok unless an oracle failed the run), facts (lines fed),
 * restarts, span_ms, then the oracles' metrics. The scenario's own finish
 * and the generic detectors do not run: they judge the simulated run.
 * Returns 0 (ok), 1 (an oracle failed), or 2 with err naming the file and
 * line of a malformed fact, a bad parameter, or a world whose node count
 * is not `nodes`. With dir NULL nothing is read (a check of the scenario,
 * its parameters and node count before a cluster starts). */
int deja_judge_facts(const deja_scenario *sc, const deja_params *overrides, const char *dir, int nodes,
                     deja_summary *out, char *err, size_t errlen);
/* The same for nodes whose wall clocks were off (libfaketime: deja cluster
 * --faketime): skew_ns[I] (node I's wall clock minus the real one) is
 * taken off its WALL_NS before merging. skew_ns NULL: none. */
int deja_judge_facts_skewed(const deja_scenario *sc, const deja_params *overrides, const char *dir, int nodes,
                            const int64_t *skew_ns, deja_summary *out, char *err, size_t errlen);

/* ---- seed files -------------------------------------------------------- */

/* A seed file (seeds/NAME.seed) keeps a run worth replaying: text lines
 *   scenario = drift-fork
 *   seed = 7
 *   set = clock.offset_ms=1500      (one line per override, any number)
 *   verdict = ok
 *   trace_hash = 0123456789abcdef
 * with '#' comments and blank lines allowed. A run with a cut-down fault
 * plan (deja shrink, --use-plan, --plan-mask) also carries
 *   plan = given                    (the faults below are the whole plan)
 *   fault = crash at_ns=... node=2 a=... b=0   (one line per fault)
 * and without them the run injects every fault its seed draws. */
typedef struct deja_seedfile {
    char scenario[64];
    uint64_t seed;
    deja_params *overrides;
    char verdict[32];
    char trace_hash[17];
    struct deja_plan *plan; /* the given plan, or NULL: the drawn one */
} deja_seedfile;

/* Loads path; 0, or 2 with a message naming file and line. */
int deja_seedfile_load(const char *path, deja_seedfile *out, char *err, size_t errlen);
void deja_seedfile_free(deja_seedfile *sf);
/* Writes a seed file for a finished run (atomically: temp file + rename). */
int deja_seedfile_write(const char *path, const char *scenario, uint64_t seed,
                        const deja_params *overrides, const deja_summary *s);
/* The same, for a run of a given plan (its enabled entries are written;
 * NULL: the drawn plan, as deja_seedfile_write). */
int deja_seedfile_write_plan(const char *path, const char *scenario, uint64_t seed,
                             const deja_params *overrides, const struct deja_plan *plan, const deja_summary *s);
/* Replays a seed file: 0 when verdict and trace hash both match, 1 when
 * either differs (err says which), 2 on bad input. */
int deja_replay(const char *path, const deja_run_opts *opts, deja_summary *out,
                char *err, size_t errlen);
/* deja_replay also adds expected_verdict, expected_trace_hash and
 * match=yes|no to out (after the run's own keys). */

/* Parses an unsigned decimal seed (digits only, no sign, fits 64 bits). 0 or 2. */
int deja_parse_u64(const char *s, uint64_t *out);

#ifdef __cplusplus
}
#endif
#endif /* DEJA_DEJA_H */
