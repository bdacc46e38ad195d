/*
 * cli_args.h -- the small command-line helpers the `deja` subcommands share:
 * one table-driven flag parser (flags given as "--name value" or
 * "--name=value"), help detection, and strict number parsing with
 * messages that name the flag.
 */
#ifndef DEJA_CLI_ARGS_H
#define DEJA_CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "deja/deja.h"

/* True for -h, --help and help. */
int deja_cli_is_help(const char *arg);
/* Parses the value of flag as an unsigned integer in [lo, hi]; 0, or 2 after
 * printing a usage error naming the flag and the value. */
int deja_cli_u64(const char *cmd, const char *flag, const char *val, uint64_t lo, uint64_t hi, uint64_t *out);

/* ---- the flag table ------------------------------------------------------
 *
 * A command declares its flags as a static table of deja_cli_opt rows
 * (ended by a row with a NULL name) and deja_cli_parse walks argv against
 * it. Destinations are offsets into the command's own options struct, so
 * one table serves every call, and the rows that several commands share
 * (deja_cli_scenario_rows, deja_cli_debug_rows) sit in a struct of their
 * own placed anywhere in the command's struct (deja_cli_table.base).
 *
 * A flag with a value is given as "--flag value" or "--flag=value"; the
 * value may not be empty, and only the repeatable kinds (SET, and FN rows
 * with repeat) may be given twice. BOOL and REST flags take no value of
 * their own. Every error
 * is one line naming the flag (deja_cli_usage_error) and exit status 2. */
typedef enum deja_cli_kind {
    DEJA_CLI_STR,  /* const char *: the value as given */
    DEJA_CLI_U64,  /* uint64_t: an unsigned decimal in [lo, hi] */
    DEJA_CLI_I64,  /* int64_t: a signed decimal in [ilo, ihi] */
    DEJA_CLI_BOOL, /* bool: set to true; takes no value */
    DEJA_CLI_SET,  /* deja_params *: key=value added to it; repeatable */
    DEJA_CLI_FN,   /* anything: parse(cmd, name, value, destination) */
    DEJA_CLI_REST, /* int: the index of the flag in argv; the words after it
                    * are its own, and the walk ends there */
} deja_cli_kind;

typedef struct deja_cli_opt {
    const char *name;  /* "--seed", "-o"; NULL ends the table */
    const char *alias; /* another spelling of the same flag, or NULL */
    deja_cli_kind kind;
    size_t off;        /* destination: offset into the table's struct */
    uint64_t lo, hi;   /* U64: the range */
    int64_t ilo, ihi;  /* I64: the range */
    /* FN: parses val into dest; 0, or 2 after a usage error naming flag. */
    int (*parse)(const char *cmd, const char *flag, const char *val, void *dest);
    bool repeat;       /* FN: may be given more than once */
    const char *metavar; /* --help: what the value is ("N", "FILE"), or NULL */
    const char *help;    /* --help: what the flag does ('\n' between lines), or
                          * NULL to leave the row out of deja_cli_help_flags */
} deja_cli_opt;

/* One table of a command: its rows, and where their struct sits in the
 * command's options struct (0 for the command's own rows). */
typedef struct deja_cli_table {
    const deja_cli_opt *rows;
    size_t base;
} deja_cli_table;

/* What a command accepts: its tables (ended by a NULL rows), and its
 * positional arguments: at most max_pos of them. One more is "unexpected
 * argument 'X'", followed by " (the POS_NAME is 'FIRST')" when pos_name is
 * set, else " (POS_NOTE)" when pos_note is set. With long_only, only words
 * starting with "--" are flags ("-x" is then a positional argument).
 * help, when set, prints the command's --help text. */
typedef struct deja_cli_spec {
    const char *cmd;
    void (*help)(FILE *out);
    const deja_cli_table *tables;
    int max_pos;
    const char *pos_name;
    const char *pos_note;
    bool long_only;
} deja_cli_spec;

/* The flag tables of the subcommands (cmd_*.c, cluster_args.c). */
extern const deja_cli_spec deja_run_spec, deja_replay_spec, deja_diff_spec, deja_timeline_spec, deja_shrink_spec,
    deja_sweep_spec, deja_plot_spec, deja_scenarios_spec, deja_bench_spec, deja_cluster_spec;
/* The flag table of the i-th command of `deja` (deja_main.c), in the order
 * its --help lists them; NULL past the last. */
const deja_cli_spec *deja_cli_command_spec(size_t i);

/* Prints, for each row of spec with help text, "  NAME METAVAR" padded to
 * width columns (or followed by two spaces when longer) and its help,
 * each further line of it indented to the same column. */
void deja_cli_help_flags(FILE *out, const deja_cli_spec *spec, int width);

/* deja_cli_parse's result when -h, --help or help was given. */
#define DEJA_CLI_HELP (-1)

/* Walks argv[1..argc-1] left to right against spec, storing each flag's
 * value through opts and the positional arguments in pos[0..*npos-1] (pos
 * holds spec->max_pos entries). Stops at the first bad argument: 2 after
 * its one-line usage error; DEJA_CLI_HELP at a help word (after printing
 * spec->help on stdout); else 0 (at the
 * end of argv, or at a REST flag). */
int deja_cli_parse(const deja_cli_spec *spec, int argc, char **argv, void *opts, const char **pos, int *npos);

/* The flags of the commands that run a scenario (run, shrink, timeline):
 * --seed N (kept as text: the command parses it once it knows what it
 * runs) and --set key=value. over must be a deja_params before parsing. */
typedef struct deja_cli_scenario_flags {
    const char *seed;
    deja_params *over;
} deja_cli_scenario_flags;
extern const deja_cli_opt deja_cli_scenario_rows[];

/* deja_cli_parse for a command with one positional argument (*first, NULL
 * when absent) whose options hold a deja_cli_scenario_flags sc: sc->over
 * is made first, and freed again when the result is DEJA_CLI_HELP; on any
 * other result the caller frees it. */
int deja_cli_parse_scenario(const deja_cli_spec *spec, int argc, char **argv, void *opts, deja_cli_scenario_flags *sc,
                            const char **first);

/* The flags of the commands that run and can be debugged (run, replay):
 * --trace FILE, --dump-tasks, --break-at-event N, --break-on-verdict. */
typedef struct deja_cli_debug_flags {
    const char *trace;
    bool dump_tasks;
    uint64_t break_at;
    bool break_verdict;
} deja_cli_debug_flags;
extern const deja_cli_opt deja_cli_debug_rows[];

struct deja_outfile;
/* Opens output file path for flag (deja/outfile.h) unless *rc is already
 * set or path is NULL: NULL then. On failure prints a usage error naming
 * the flag, the path and why, and sets *rc to 2. */
struct deja_outfile *deja_cli_outfile(const char *cmd, const char *flag, const char *path, int *rc);
/* Ends output file o of flag: aborted when rc is 2 (the command failed:
 * the existing file stays as it was), else committed; a failed commit
 * (disk full) prints a usage error and gives 2. Returns the new rc. */
int deja_cli_commit(const char *cmd, const char *flag, struct deja_outfile *o, int rc);

/* Parses "I/K" (two unsigned decimal integers up to UINT32_MAX, no
 * wrapping) for flag; 0, or 2 after a usage error naming the value. */
int deja_cli_u32_pair(const char *cmd, const char *flag, const char *val, uint32_t *a, uint32_t *b);

/* True when a file could be created at path (its directory is writable). */
int deja_cli_dir_writable(const char *path);

/* What a command given "FILE.seed" or "SCENARIO --seed N [--set k=v]..."
 * runs: a seed file (first ends in .seed and no --seed was given) or a
 * scenario and seed with the overrides of --set. */
typedef struct deja_cli_target {
    int from_file;
    deja_seedfile sf; /* loaded when from_file: free with deja_seedfile_free */
    const deja_scenario *sc;
    uint64_t seed;
} deja_cli_target;

/* Resolves first, seed_s and over into *t (zeroed first, so freeing sf is
 * always safe): 0, or 2 after a usage error naming what is wrong. */
int deja_cli_target_resolve(const char *cmd, const char *first, const char *seed_s, const deja_params *over,
                            deja_cli_target *t);

#endif /* DEJA_CLI_ARGS_H */
