/*
 * cluster_args.h -- the command line of `deja cluster`: its flag table and
 * what it fills (deja_cluster_args), apart from the command that starts
 * the processes (cmd_cluster.c), so the tests can parse a command line
 * without starting a node. Its flag table is deja_cluster_spec
 * (cli_args.h); the --help is printed from it.
 */
#ifndef DEJA_CLUSTER_ARGS_H
#define DEJA_CLUSTER_ARGS_H

#include <stdint.h>

#include "cli_args.h"
#include "deja/deja.h"

/* Words kept as given, in order (--set key=value; the --net-* flags as
 * name, value pairs for every node). */
typedef struct deja_cluster_words {
    char **v; /* cap entries, on the heap */
    int n, cap;
} deja_cluster_words;

/* The --faketime NODE=OFFSET_MS pairs, in order. */
typedef struct deja_cluster_fakes {
    long *node;
    int64_t *ms;
    int n, cap;
} deja_cluster_fakes;

/* --kill NODE@SEC[:DOWN_SEC]. */
typedef struct deja_cluster_kill {
    int node; /* -1: none */
    int64_t at_ms, down_ms;
} deja_cluster_kill;

/* Everything `deja cluster` is given. A number flag not given keeps the
 * value deja_cluster_args_parse starts it at: nodes 0, duration_ms -1
 * (both unset), grace_ms 10000, inspect_s 1, seed 1, trials 0. */
typedef struct deja_cluster_args {
    uint64_t nodes;
    int64_t duration_ms, grace_ms;
    uint64_t base_port; /* 0: free ports */
    uint64_t inspect_s; /* every node's leak inspector period; 0: off */
    deja_cluster_words sets, node_args;
    deja_cluster_fakes fakes;
    deja_cluster_kill kill;
    const char *program, *node_bin, *judge_dir, *data_dir, *csv;
    const deja_scenario *scenario; /* --scenario, looked up in this binary */
    uint64_t trials, seed;
} deja_cluster_args;

/* Parses argv[1..argc-1] into *a (set up first, its lists sized from
 * argc): 0, 2 after a one-line usage error naming the flag, or
 * DEJA_CLI_HELP after printing the help. Free *a with
 * deja_cluster_args_free whatever the result. */
int deja_cluster_args_parse(int argc, char **argv, deja_cluster_args *a);
void deja_cluster_args_free(deja_cluster_args *a);

#endif /* DEJA_CLUSTER_ARGS_H */
