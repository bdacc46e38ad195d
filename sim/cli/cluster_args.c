/*
 * cluster_args.c -- the flag table of `deja cluster` and the parsers of
 * its values (seconds, NODE=OFFSET_MS, NODE@SEC[:DOWN_SEC], the --net-*
 * faults it passes to every node), walked by deja_cli_parse like every
 * other subcommand's; its --help is printed from the same rows.
 */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cluster_args.h"

static void cluster__help(FILE *out) {
    fputs("usage: deja cluster --nodes N --duration-s S [--set key=value]... [--base-port P]\n"
          "                    [--faketime NODE=OFFSET_MS]... [--kill NODE@SEC[:DOWN_SEC]]\n"
          "                    [--data-dir DIR] [--grace-s S] [--inspect-s N] [--program NAME]\n"
          "                    [--scenario NAME]\n"
          "                    [--node-bin PATH] [--net-loss-pct P] [--net-dup-pct P] [--net-delay-ms D]\n"
          "                    [--net-jitter-ms J] [--net-reorder-pct P] [--net-reorder-ms R] [--net-seed S]\n"
          "       deja cluster --judge DIR --scenario NAME [--nodes N] [--set key=value]...\n"
          "       deja cluster --election-trials N [--nodes 5] [--set key=value]... [--csv FILE]\n"
          "                    [--seed S] [--faketime NODE=OFFSET_MS]... [--data-dir DIR]\n\n"
          "Starts N deja-node processes on 127.0.0.1 (UDP ports P..P+N-1, free ones by\n"
          "default), lets them run S seconds, stops them with SIGTERM and judges their\n"
          "facts files.\n\n",
          out);
    deja_cli_help_flags(out, &deja_cluster_spec, 27);
    fputs("  (with --scenario or --judge, --faketime offsets are taken off the nodes'\n"
          "  wall times before their facts are merged)\n"
          "deja-node is looked up next to this executable, or at $DEJA_NODE_BIN.\n\n"
          "prints: nodes, duration_s, blocks (distinct produced), forks (heights with\n"
          "more than one produced block), confirmed_height (lowest over nodes),\n"
          "confirmed_max, confirmed_heights, agree (no height confirmed with two\n"
          "different hashes), roots_agree, corruption, integrity_failed, rejected,\n"
          "deferred, imported, restarts, exit_status (per node), with Raft leaders and\n"
          "last_term (a committed entry counts as confirmed); what the nodes' own\n"
          "detectors counted in their last status: deadlocks, leak_groups, lost_contexts,\n"
          "lost_timers, tasks_left (alive after the node stopped), deadlock_timeouts\n"
          "(cycles a lock timeout broke, when not zero; no verdict), and detected (the\n"
          "first node that found one); verdict (deadlock or leak from those first, as\n"
          "in a simulated run, then ok, safety, state_root, corruption or node_exit),\n"
          "data_dir.\n"
          "exit status: 0 verdict ok, 1 otherwise, 2 bad input (a malformed facts line\n"
          "is named by file and line)\n",
          out);
}

/* Parses a decimal number of seconds s (up to 1e7; beyond 3 fraction
 * digits rounded) into *ms: 0, or -1. */
static int cluster__secs_of(const char *s, int64_t *ms) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= 0 && v <= 1e7)) return -1;
    *ms = (int64_t)(v * 1000.0 + 0.5);
    return 0;
}

/* Parses a decimal integer s in [lo, hi] into *out: 0, or -1. */
static int cluster__long_of(const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

/* --duration-s, --grace-s: seconds into the int64_t ms at dest. */
static int cluster__secs(const char *cmd, const char *flag, const char *val, void *dest) {
    if (cluster__secs_of(val, dest))
        return deja_cli_usage_error(cmd, "%s '%s': not a number of seconds (0 to 1e7)", flag, val);
    return 0;
}

/* Appends word w to list l (sized from argc: never full). */
static void cluster__push(deja_cluster_words *l, const char *w) {
    assert(l->n < l->cap);
    l->v[l->n++] = (char *)w;
}

/* --set key=value: kept as given in the deja_cluster_words at dest. */
static int cluster__set(const char *cmd, const char *flag, const char *val, void *dest) {
    const char *eq = strchr(val, '=');
    if (!eq || eq == val) return deja_cli_usage_error(cmd, "%s '%s': expected key=value", flag, val);
    cluster__push(dest, val);
    return 0;
}

/* --faketime NODE=OFFSET_MS into the deja_cluster_fakes at dest. */
static int cluster__faketime(const char *cmd, const char *flag, const char *val, void *dest) {
    deja_cluster_fakes *f = dest;
    const char *eq = strchr(val, '=');
    char id[16];
    size_t il = eq ? (size_t)(eq - val) : 0;
    long node = -1, off = 0;
    if (il == 0 || il >= sizeof id) return deja_cli_usage_error(cmd, "%s '%s': expected NODE=OFFSET_MS", flag, val);
    memcpy(id, val, il);
    id[il] = 0;
    if (cluster__long_of(id, 0, INT_MAX - 1, &node) || cluster__long_of(eq + 1, -86400000L, 86400000L, &off))
        return deja_cli_usage_error(cmd, "%s '%s': expected NODE=OFFSET_MS (a node id, an offset within +-86400000)",
                                    flag, val);
    assert(f->n < f->cap);
    f->node[f->n] = node;
    f->ms[f->n++] = off;
    return 0;
}

/* --kill NODE@SEC[:DOWN_SEC] into the deja_cluster_kill at dest. */
static int cluster__kill(const char *cmd, const char *flag, const char *val, void *dest) {
    deja_cluster_kill *k = dest;
    const char *at = strchr(val, '@');
    const char *colon = at ? strchr(at, ':') : NULL;
    char id[16], t[32];
    size_t il = at ? (size_t)(at - val) : 0;
    size_t tl = at ? (colon ? (size_t)(colon - at - 1) : strlen(at + 1)) : 0;
    long node = 0;
    int64_t at_ms = 0, down = 1000;
    bool ok = il > 0 && il < sizeof id && tl > 0 && tl < sizeof t;
    if (ok) {
        memcpy(id, val, il);
        id[il] = 0;
        memcpy(t, at + 1, tl);
        t[tl] = 0;
        ok = !cluster__long_of(id, 0, INT_MAX - 1, &node) && !cluster__secs_of(t, &at_ms) &&
             !(colon && cluster__secs_of(colon + 1, &down));
    }
    if (!ok) return deja_cli_usage_error(cmd, "%s '%s': expected NODE@SEC[:DOWN_SEC]", flag, val);
    k->node = (int)node;
    k->at_ms = at_ms;
    k->down_ms = down;
    return 0;
}

/* --net-*-pct P and --net-*-ms D (the ranges deja-node checks): flag and
 * value appended to the deja_cluster_words at dest. flag is the row's
 * name, a static string. */
static int cluster__net(const char *cmd, const char *flag, const char *val, void *dest) {
    size_t len = strlen(flag);
    bool pct = len > 4 && !strcmp(flag + len - 4, "-pct");
    double hi = pct ? 100.0 : 3600000.0;
    char *end;
    errno = 0;
    double x = strtod(val, &end);
    if (errno || end == val || *end || !(x >= 0.0 && x <= hi))
        return deja_cli_usage_error(cmd, "%s '%s': not a number in [0, %g]", flag, val, hi);
    cluster__push(dest, flag);
    cluster__push(dest, val);
    return 0;
}

/* --net-seed S: an unsigned 64-bit decimal, appended as cluster__net does. */
static int cluster__net_seed(const char *cmd, const char *flag, const char *val, void *dest) {
    uint64_t s;
    if (deja_parse_u64(val, &s)) return deja_cli_usage_error(cmd, "%s '%s': not an unsigned 64-bit integer", flag, val);
    cluster__push(dest, flag);
    cluster__push(dest, val);
    return 0;
}

/* --scenario NAME: the scenario of this binary at dest. */
static int cluster__scenario(const char *cmd, const char *flag, const char *val, void *dest) {
    const deja_scenario *sc = deja_scenario_find(val);
    if (!sc) return deja_cli_usage_error(cmd, "%s: no scenario '%s' in this binary (see its 'scenarios')", flag, val);
    *(const deja_scenario **)dest = sc;
    return 0;
}

#define CL__OFF(field) offsetof(deja_cluster_args, field)
#define CL__NET(flag, mv, text)                                                                                    \
    {.name = flag, .kind = DEJA_CLI_FN, .off = CL__OFF(node_args), .parse = cluster__net, .metavar = mv, .help = text}
static const deja_cli_opt cluster__rows[] = {
    {.name = "--nodes", .kind = DEJA_CLI_U64, .off = CL__OFF(nodes), .lo = 1, .hi = INT_MAX, .metavar = "N",
     .help = "how many nodes, required (but with --judge; 5\n"
             "with --election-trials): at most 8000 (every\n"
             "node's --peers lists all nodes: Linux takes\n"
             "128 KiB in one argument) and below the user's\n"
             "process limit"},
    {.name = "--duration-s", .kind = DEJA_CLI_FN, .off = CL__OFF(duration_ms), .parse = cluster__secs, .metavar = "S",
     .help = "how long the nodes run, in seconds (decimals\nallowed); required"},
    {.name = "--set", .kind = DEJA_CLI_FN, .off = CL__OFF(sets), .parse = cluster__set, .repeat = true,
     .metavar = "key=value", .help = "passed to every node (e.g. aura.slot_ms=500);\nrepeatable"},
    {.name = "--base-port", .kind = DEJA_CLI_U64, .off = CL__OFF(base_port), .lo = 1, .hi = 65535, .metavar = "P",
     .help = "the nodes listen on UDP ports P..P+N-1\n(default: free ones)"},
    {.name = "--faketime", .kind = DEJA_CLI_FN, .off = CL__OFF(fakes), .parse = cluster__faketime, .repeat = true,
     .metavar = "NODE=OFFSET_MS",
     .help = "run NODE under libfaketime, its clocks OFFSET_MS\n(may be negative) off the real time; repeatable"},
    {.name = "--kill", .kind = DEJA_CLI_FN, .off = CL__OFF(kill), .parse = cluster__kill, .metavar = "NODE@SEC[:DOWN]",
     .help = "SIGKILL NODE at SEC, restart it DOWN s later (1)"},
    {.name = "--data-dir", .kind = DEJA_CLI_STR, .off = CL__OFF(data_dir), .metavar = "DIR",
     .help = "where node-I/{facts,status,log} and cluster.key\n"
             "(made if missing, mode 0600: every datagram is\n"
             "authenticated with it) go (default: a\n"
             "new /tmp/deja-cluster-XXXXXX, kept)"},
    {.name = "--grace-s", .kind = DEJA_CLI_FN, .off = CL__OFF(grace_ms), .parse = cluster__secs, .metavar = "S",
     .help = "wait this long after SIGTERM before SIGKILL (10)"},
    {.name = "--inspect-s", .kind = DEJA_CLI_U64, .off = CL__OFF(inspect_s), .hi = 3600, .metavar = "N",
     .help = "every node's leak inspector runs each N s (1;\n"
             "0: off): a task group that grew at three\n"
             "inspections in a row counts in leak_groups"},
    {.name = "--program", .kind = DEJA_CLI_STR, .off = CL__OFF(program), .metavar = "NAME",
     .help = "the node program (default aura; raft for Raft)"},
    {.name = "--node-bin", .kind = DEJA_CLI_STR, .off = CL__OFF(node_bin), .metavar = "PATH",
     .help = "the daemon to start: a team's own, built on\ndeja_node_main (deja/daemon.h; docs/own-node.md)"},
    {.name = "--scenario", .kind = DEJA_CLI_FN, .off = CL__OFF(scenario), .parse = cluster__scenario,
     .metavar = "NAME",
     .help = "judge the cluster with the oracles of this\n"
             "binary's scenario NAME too (its world is built,\n"
             "with the --set it knows, but never run; its node\n"
             "count, sim.nodes or its one *.nodes parameter,\n"
             "is --nodes unless set): the nodes' facts are fed to\n"
             "them in wall-time order (a restart as the node\n"
             "events crash, restart); prints oracle, facts, the\n"
             "oracle's metrics (oracle_KEY where a key above\n"
             "has the name), oracle_verdict; verdict is the\n"
             "cluster's own when not ok, else the oracle's"},
    {.name = "--judge", .kind = DEJA_CLI_STR, .off = CL__OFF(judge_dir), .metavar = "DIR",
     .help = "start nothing: judge the cluster directory DIR\n"
             "(node-I/facts) with --scenario's oracles; the node\n"
             "count is the facts files' (--nodes, if given, must\n"
             "agree with them)"},
    {.name = "--election-trials", .kind = DEJA_CLI_U64, .off = CL__OFF(trials), .lo = 1, .hi = 100000, .metavar = "N",
     .help = "the `election` experiment on real processes: N\n"
             "trials, each a fresh cluster (raft, the scenario's\n"
             "parameters, then --set) whose leader is SIGKILLed\n"
             "at a random point of its heartbeat interval after\n"
             "1 s; prints trials, elected, downtime_ms and\n"
             "majority_ms (median, p90, mean, max)"},
    {.name = "--csv", .kind = DEJA_CLI_STR, .off = CL__OFF(csv), .metavar = "FILE",
     .help = "(--election-trials) write one row per trial\nto FILE"},
    {.name = "--seed", .kind = DEJA_CLI_U64, .off = CL__OFF(seed), .hi = UINT64_MAX, .metavar = "S",
     .help = "(--election-trials) the seed of the crash\npoints (default 1)"},
    CL__NET("--net-loss-pct", "P", "faults every node's transport injects on the\n"
                                   "datagrams it sends (deja-node --help): drop P%"),
    CL__NET("--net-dup-pct", "P", "send P% twice"),
    CL__NET("--net-delay-ms", "D", "hold every datagram D ms before sending it ..."),
    CL__NET("--net-jitter-ms", "J", "... plus uniform in +-J ms"),
    CL__NET("--net-reorder-pct", "P", "hold P% of them back uniform in [R/2, R] ms\nmore, so later ones overtake them"),
    CL__NET("--net-reorder-ms", "R", "(R default 0: set it with --net-reorder-pct)"),
    {.name = "--net-seed", .kind = DEJA_CLI_FN, .off = CL__OFF(node_args), .parse = cluster__net_seed,
     .metavar = "S", .help = "the seed of those draws (default: the node id)"},
    {0},
};

static const deja_cli_table cluster__tables[] = {{cluster__rows, 0}, {0}};

const deja_cli_spec deja_cluster_spec = {
    .cmd = "cluster", .help = cluster__help, .tables = cluster__tables, .long_only = true};

void deja_cluster_args_free(deja_cluster_args *a) {
    free(a->sets.v);
    free(a->node_args.v);
    free(a->fakes.node);
    free(a->fakes.ms);
    memset(a, 0, sizeof *a);
}

int deja_cluster_args_parse(int argc, char **argv, deja_cluster_args *a) {
    assert(argc >= 1);
    memset(a, 0, sizeof *a);
    a->duration_ms = -1;
    a->grace_ms = 10000;
    a->inspect_s = 1;
    a->seed = 1;
    a->kill = (deja_cluster_kill){.node = -1, .down_ms = 1000};
    /* every flag takes a word of argv at least: argc entries never fill */
    int cap = argc;
    a->sets = (deja_cluster_words){calloc((size_t)cap, sizeof(char *)), 0, cap};
    a->node_args = (deja_cluster_words){calloc(2 * (size_t)cap, sizeof(char *)), 0, 2 * cap};
    a->fakes = (deja_cluster_fakes){calloc((size_t)cap, sizeof(long)), calloc((size_t)cap, sizeof(int64_t)), 0, cap};
    if (!a->sets.v || !a->node_args.v || !a->fakes.node || !a->fakes.ms) abort();
    int npos = 0;
    return deja_cli_parse(&deja_cluster_spec, argc, argv, a, NULL, &npos);
}
