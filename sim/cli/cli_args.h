/*
 * cli_args.h -- the small command-line helpers the `deja` subcommands share:
 * flags given as "--name value" or "--name=value", help detection, and
 * strict number parsing with messages that name the flag.
 */
#ifndef DEJA_CLI_ARGS_H
#define DEJA_CLI_ARGS_H

#include <stdint.h>

#include "deja/deja.h"

/* True for -h, --help and help. */
int deja_cli_is_help(const char *arg);
/* Matches argv[*i] against "--name": 1 with *val set (and *i advanced past a
 * separate value) when it matches, 0 when it does not, 2 when the value is
 * missing or empty, or when the flag was already given and is not one of
 * the repeatable ones (--set, --grid): a usage error naming the flag is
 * printed. */
int deja_cli_flag(const char *cmd, int argc, char **argv, int *i, const char *name, const char **val);
/* Parses the value of flag as an unsigned integer in [lo, hi]; 0, or 2 after
 * printing a usage error naming the flag and the value. */
int deja_cli_u64(const char *cmd, const char *flag, const char *val, uint64_t lo, uint64_t hi, uint64_t *out);
/* Adds the value of a --set flag (m: what deja_cli_flag returned for it) to
 * over: 0, or 2 after a usage error naming the flag and value. */
int deja_cli_set(const char *cmd, int m, const char *val, deja_params *over);


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
