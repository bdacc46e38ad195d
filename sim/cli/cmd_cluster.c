/*
 * cmd_cluster.c -- `deja cluster`: runs a real cluster of `deja-node`
 * processes on loopback for a while and prints what they did, in the same
 * key=value form as `deja run`, so a real run can be set beside a simulated
 * one at the same parameters (docs/production.md).
 *
 * The deja tool is linked with the simulator, so this file never calls rt_*:
 * it forks and execs deja-node (next to this executable, or $DEJA_NODE_BIN),
 * stops the nodes with SIGTERM and reads their facts files, through the
 * header-only launcher sim/real/cluster.h that the cluster test uses too.
 * With --scenario NAME the cluster is also judged by that scenario's own
 * oracles, fed the facts files (deja_judge_facts, sim/lab/judge.c): a
 * team's binary built on deja_main knows its scenarios, so `kvsim cluster
 * --node-bin kvnode --scenario kv` judges real runs as the simulator does.
 * --judge DIR judges a cluster directory again without starting anything.
 */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../real/cluster.h"
#include "cli.h"
#include "deja/deja.h"
#include "../real/cluster_election.h"

static const char deja__cluster_help[] =
    "usage: deja cluster --nodes N --duration-s S [--set key=value]... [--base-port P]\n"
    "                    [--faketime NODE=OFFSET_MS]... [--kill NODE@SEC[:DOWN_SEC]]\n"
    "                    [--data-dir DIR] [--grace-s S] [--program NAME]\n"
    "                    [--scenario NAME]\n"
    "                    [--node-bin PATH] [--net-loss-pct P] [--net-dup-pct P] [--net-delay-ms D]\n"
    "                    [--net-jitter-ms J] [--net-reorder-pct P] [--net-reorder-ms R] [--net-seed S]\n"
    "       deja cluster --judge DIR --scenario NAME [--nodes N] [--set key=value]...\n"
    "       deja cluster --election-trials N [--nodes 5] [--set key=value]... [--csv FILE]\n"
    "                    [--seed S] [--faketime NODE=OFFSET_MS]... [--data-dir DIR]\n\n"
    "Starts N deja-node processes on 127.0.0.1 (UDP ports P..P+N-1, free ones by\n"
    "default), lets them run S seconds, stops them with SIGTERM and judges their\n"
    "facts files. N is at most 8000 (every node's --peers lists all nodes: Linux\n"
    "takes 128 KiB in one argument) and below the user's process limit.\n"
    "Every --set goes to every node (e.g. aura.slot_ms=500).\n"
    "  --faketime NODE=OFFSET_MS  run NODE under libfaketime, its clocks OFFSET_MS\n"
    "                             (may be negative) off the real time\n"
    "  --kill NODE@SEC[:DOWN]     SIGKILL NODE at SEC, restart it DOWN s later (1)\n"
    "  --data-dir DIR             where node-I/{facts,status,log} and cluster.key\n"
    "                             (made if missing, mode 0600: every datagram is\n"
    "                             authenticated with it) go (default: a\n"
    "                             new /tmp/deja-cluster-XXXXXX, kept)\n"
    "  --grace-s S                wait this long after SIGTERM before SIGKILL (10)\n"
    "  --program NAME             the node program (default aura; raft for Raft)\n"
    "  --election-trials N        the `election` experiment on real processes: N\n"
    "                             trials, each a fresh cluster (raft, the scenario's\n"
    "                             parameters, then --set) whose leader is SIGKILLed\n"
    "                             at a random point of its heartbeat interval after\n"
    "                             1 s; prints trials, elected, downtime_ms and\n"
    "                             majority_ms (median, p90, mean, max); --csv FILE\n"
    "                             writes one row per trial; --seed S the crash points\n"
    "  --node-bin PATH            the daemon to start: a team's own, built on\n"
    "                             deja_node_main (deja/daemon.h; docs/own-node.md)\n"
    "  --scenario NAME            judge the cluster with the oracles of this\n"
    "                             binary's scenario NAME too (its world is built,\n"
    "                             with the --set it knows, but never run; its node\n"
    "                             count, sim.nodes or its one *.nodes parameter,\n"
    "                             is --nodes unless set): the nodes' facts are fed to\n"
    "                             them in wall-time order (a restart as the node\n"
    "                             events crash, restart); prints oracle, facts, the\n"
    "                             oracle's metrics (oracle_KEY where a key above\n"
    "                             has the name), oracle_verdict; verdict is the\n"
    "                             cluster's own when not ok, else the oracle's\n"
    "  --judge DIR                start nothing: judge the cluster directory DIR\n"
    "                             (node-I/facts) with --scenario's oracles; the node\n"
    "                             count is the facts files' (--nodes, if given, must\n"
    "                             agree with them)\n"
    "  (with --scenario or --judge, --faketime offsets are taken off the nodes'\n"
    "  wall times before their facts are merged)\n"
    "  --net-*                    passed to every node: faults its transport injects\n"
    "                             on the datagrams it sends (loss, duplication, delay,\n"
    "                             jitter, reordering; see deja-node --help)\n"
    "deja-node is looked up next to this executable, or at $DEJA_NODE_BIN.\n\n"
    "prints: nodes, duration_s, blocks (distinct produced), forks (heights with\n"
    "more than one produced block), confirmed_height (lowest over nodes),\n"
    "confirmed_max, confirmed_heights, agree (no height confirmed with two\n"
    "different hashes), roots_agree, corruption, integrity_failed, rejected,\n"
    "deferred, imported, restarts, exit_status (per node), with Raft leaders and\n"
    "last_term (a committed entry counts as confirmed), verdict (ok, safety,\n"
    "state_root, corruption or node_exit), data_dir.\n"
    "exit status: 0 verdict ok, 1 otherwise, 2 bad input (a malformed facts line\n"
    "is named by file and line)\n";

static volatile sig_atomic_t deja__cluster_stop;

static void deja__cluster_on_signal(int sig) {
    (void)sig;
    deja__cluster_stop = 1;
}

/* Parses a decimal number of seconds (up to 3 fraction digits) into ms. */
static int deja__parse_secs(const char *s, int64_t *ms) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || v < 0 || v > 1e7) return -1;
    *ms = (int64_t)(v * 1000.0 + 0.5);
    return 0;
}

static int deja__parse_int(const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

/* Checks one --net-* flag for deja-node (the same ranges it checks): its
 * name as a static string, or NULL with *rc = 2 after a usage message. */
static const char *deja__net_flag(const char *flag, const char *v, int *rc) {
    static const char *const pct[] = {"--net-loss-pct", "--net-dup-pct", "--net-reorder-pct"};
    static const char *const ms[] = {"--net-delay-ms", "--net-jitter-ms", "--net-reorder-ms"};
    char *end;
    for (size_t i = 0; i < 3; i++) {
        if (strcmp(flag, pct[i]) && strcmp(flag, ms[i])) continue;
        bool is_pct = !strcmp(flag, pct[i]);
        double hi = is_pct ? 100.0 : 3600000.0;
        errno = 0;
        double x = strtod(v, &end);
        if (errno || end == v || *end || !(x >= 0.0 && x <= hi)) {
            *rc = deja_cli_usage_error("cluster", "%s: '%s' is not a number in [0, %g]", flag, v, hi);
            return NULL;
        }
        return is_pct ? pct[i] : ms[i];
    }
    if (!strcmp(flag, "--net-seed")) {
        errno = 0;
        (void)strtoull(v, &end, 10);
        if (errno || end == v || *end || *v == '-') {
            *rc = deja_cli_usage_error("cluster", "--net-seed: '%s' is not a non-negative integer", v);
            return NULL;
        }
        return "--net-seed";
    }
    *rc = deja_cli_usage_error("cluster", "unknown flag '%s'", flag);
    return NULL;
}

/* Where deja-node is: $DEJA_NODE_BIN, else next to /proc/self/exe. */
static void deja__node_bin(char *out, size_t len) {
    const char *env = getenv("DEJA_NODE_BIN");
    if (env && *env) {
        snprintf(out, len, "%s", env);
        return;
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        snprintf(out, len, "deja-node");
        return;
    }
    self[n] = 0;
    snprintf(out, len, "%s/deja-node", dirname(self));
}

/* The keys `deja cluster` prints itself: an oracle's metric of one of
 * these names is printed as oracle_KEY. */
static const char *const deja__cluster_keys[] = {
    "nodes", "duration_s", "blocks", "forks", "confirmed_height", "confirmed_max", "confirmed_heights", "agree",
    "conflict", "roots_agree", "corruption", "integrity_failed", "rejected", "deferred", "imported", "restarts",
    "exit_status", "leaders", "last_term", "verdict", "data_dir", "interrupted", "oracle", NULL,
};

/* Prints what the oracles said (js from deja_judge_facts), all but the
 * final verdict line. */
static void deja__cluster_print_judged(const deja_summary *js) {
    printf("oracle=%s\n", deja_summary_get(js, "scenario"));
    for (int i = 0; i < js->n; i++) {
        const char *k = js->key[i];
        if (!strcmp(k, "scenario") || !strcmp(k, "verdict")) continue;
        bool clash = false;
        for (int j = 0; deja__cluster_keys[j] && !clash; j++) clash = !strcmp(k, deja__cluster_keys[j]);
        printf("%s%s=%s\n", clash ? "oracle_" : "", k, js->val[i]);
    }
    printf("oracle_verdict=%s\n", deja_summary_get(js, "verdict"));
}

/* What deja_cmd_cluster allocates: the --set and --net-* arguments, the
 * --faketime pairs as given, and the per-node tables made from them. */
typedef struct deja__cluster_bufs {
    char **sets, **node_args;
    long *fk_node;     /* --faketime NODE=OFFSET_MS, in order */
    int64_t *fk_ms;
    int nfk;
    bool *fake;        /* per node, once the node count is known */
    int64_t *fake_ms;
} deja__cluster_bufs;

static void deja__cluster_bufs_free(deja__cluster_bufs *b) {
    free(b->sets);
    free(b->node_args);
    free(b->fk_node);
    free(b->fk_ms);
    free(b->fake);
    free(b->fake_ms);
    memset(b, 0, sizeof *b);
}

/* Makes o's per-node libfaketime tables (nodes entries) from the --faketime
 * pairs in b: 0, or 2 after a usage message when a pair names a node not
 * below nodes. No tables when no pair was given. */
static int deja__cluster_fake_tables(deja__cluster_bufs *b, deja_cluster_opts *o, long nodes) {
    assert(nodes >= 1 && !b->fake);
    for (int k = 0; k < b->nfk; k++)
        if (b->fk_node[k] >= nodes)
            return deja_cli_usage_error("cluster", "--faketime: node %ld is not below --nodes %ld", b->fk_node[k], nodes);
    if (!b->nfk) return 0;
    b->fake = calloc((size_t)nodes, sizeof *b->fake);
    b->fake_ms = calloc((size_t)nodes, sizeof *b->fake_ms);
    if (!b->fake || !b->fake_ms) abort();
    for (int k = 0; k < b->nfk; k++) {
        b->fake[b->fk_node[k]] = true;
        b->fake_ms[b->fk_node[k]] = b->fk_ms[k];
    }
    o->fake = b->fake;
    o->fake_ms = b->fake_ms;
    return 0;
}

/* Judges cluster directory dir with sc's oracles (the --set of o that sc
 * knows apply): 0, 1 (an oracle failed), or 2 after printing why. */
static int deja__cluster_judge(const deja_scenario *sc, const deja_cluster_opts *o, const char *dir,
                               deja_summary *js) {
    char err[512];
    deja_params *ov = deja_params_new();
    int rc = 0;
    for (int i = 0; i < o->nsets && !rc; i++) rc = deja_params_parse(ov, o->sets[i], err, sizeof err);
    int64_t *skew = calloc((size_t)(o->nodes > 0 ? o->nodes : 1), sizeof *skew); /* --faketime: clock offsets */
    if (!skew) abort();
    for (int i = 0; i < o->nodes; i++) skew[i] = deja__cl_fake_ns(o, i);
    if (!rc) rc = deja_judge_facts_skewed(sc, ov, dir, o->nodes, skew, js, err, sizeof err);
    free(skew);
    deja_params_free(ov);
    if (rc == 2) deja_cli_eprintf("deja cluster: %s\n", err);
    return rc;
}

/* How many nodes wrote facts in cluster directory dir: 1 + the highest I
 * of a dir/node-I/facts file (lower ones missing count as empty), 0 when
 * there is none, -1 when dir cannot be read. */
static long deja__cluster_count_facts(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    long n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        char *end;
        if (strncmp(e->d_name, "node-", 5) || e->d_name[5] < '0' || e->d_name[5] > '9') continue;
        errno = 0;
        long i = strtol(e->d_name + 5, &end, 10);
        if (errno || *end || i < 0 || i >= INT_MAX || i + 1 <= n) continue;
        char path[PATH_MAX + 32];
        snprintf(path, sizeof path, "%s/%s/facts", dir, e->d_name);
        if (access(path, F_OK) == 0) n = i + 1;
    }
    closedir(d);
    return n;
}

/* --judge DIR: judges an existing cluster directory and prints it. The
 * node count is the facts files' (deja__cluster_count_facts); a --nodes
 * that disagrees with them is bad input. */
static int deja__cluster_judge_only(const deja_scenario *sc, const char *dir, long nodes, deja_cluster_opts *o,
                                    deja__cluster_bufs *b) {
    long have = deja__cluster_count_facts(dir);
    if (have < 0) return deja_cli_usage_error("cluster", "--judge: %s: %s", dir, strerror(errno));
    if (have == 0) return deja_cli_usage_error("cluster", "--judge: %s holds no node-I/facts file", dir);
    if (nodes >= 0 && nodes != have)
        return deja_cli_usage_error("cluster", "--nodes: %ld, but %s holds the facts of %ld nodes (node-0 to node-%ld)",
                                    nodes, dir, have, have - 1);
    nodes = have;
    o->nodes = (int)nodes;
    if (deja__cluster_fake_tables(b, o, nodes)) return 2;
    deja_summary js;
    int rc = deja__cluster_judge(sc, o, dir, &js);
    if (rc == 2) return 2;
    printf("nodes=%ld\n", nodes);
    deja__cluster_print_judged(&js);
    printf("verdict=%s\ndata_dir=%s\n", deja_summary_get(&js, "verdict"), dir);
    fflush(stdout);
    return rc;
}

int deja_cmd_cluster(int argc, char **argv) {
    deja_cluster_opts o;
    memset(&o, 0, sizeof o);
    o.kill_node = -1;
    o.down_ms = 1000;
    o.grace_ms = 10000;
    o.duration_ms = -1;
    deja__cluster_bufs b = {0};
    char **sets = b.sets = calloc((size_t)argc + 1, sizeof *sets);
    char **node_args = b.node_args = calloc(2 * (size_t)argc + 1, sizeof *node_args);
    b.fk_node = calloc((size_t)argc + 1, sizeof *b.fk_node);
    b.fk_ms = calloc((size_t)argc + 1, sizeof *b.fk_ms);
    if (!sets || !node_args || !b.fk_node || !b.fk_ms) {
        deja__cluster_bufs_free(&b);
        return 2;
    }
    o.sets = sets;
    o.node_args = node_args;
    char dir[PATH_MAX] = "";
    long nodes = -1, trials = 0, seed = 1;
    const char *csv = NULL;
    char node_bin[PATH_MAX] = ""; /* --node-bin */
    const deja_scenario *judge_sc = NULL; /* --scenario */
    const char *judge_dir = NULL;         /* --judge */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(deja__cluster_help, stdout);
            deja__cluster_bufs_free(&b);
            return 0;
        }
        const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
        char flag[32];
        size_t fl = eq ? (size_t)(eq - a) : strlen(a);
        if (fl >= sizeof flag) fl = sizeof flag - 1;
        memcpy(flag, a, fl);
        flag[fl] = 0;
        const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[i + 1] : NULL);
        if (!eq && strncmp(a, "--", 2) == 0) i++;
        int rc = 0;
        if (strncmp(a, "--", 2) != 0) {
            rc = deja_cli_usage_error("cluster", "unexpected argument '%s'", a);
        } else if (!v) {
            rc = deja_cli_usage_error("cluster", "%s: missing value", flag);
        } else if (!strcmp(flag, "--nodes")) {
            if (deja__parse_int(v, 1, INT_MAX, &nodes))
                rc = deja_cli_usage_error("cluster", "--nodes: '%s' is not a number of nodes (1 or more)", v);
        } else if (!strcmp(flag, "--duration-s")) {
            if (deja__parse_secs(v, &o.duration_ms))
                rc = deja_cli_usage_error("cluster", "--duration-s: '%s' is not a number of seconds", v);
        } else if (!strcmp(flag, "--base-port")) {
            long p = 0;
            if (deja__parse_int(v, 1, 65535, &p))
                rc = deja_cli_usage_error("cluster", "--base-port: '%s' is not a port", v);
            o.base_port = (int)p;
        } else if (!strcmp(flag, "--set")) {
            const char *e = strchr(v, '=');
            if (!e || e == v)
                rc = deja_cli_usage_error("cluster", "--set: '%s' is not key=value", v);
            else
                sets[o.nsets++] = (char *)v;
        } else if (!strcmp(flag, "--faketime")) {
            const char *e = strchr(v, '=');
            long node = -1, off = 0;
            char idbuf[16];
            size_t il = e ? (size_t)(e - v) : 0;
            if (!e || il == 0 || il >= sizeof idbuf) {
                rc = deja_cli_usage_error("cluster", "--faketime: '%s' is not NODE=OFFSET_MS", v);
            } else {
                memcpy(idbuf, v, il);
                idbuf[il] = 0;
                if (deja__parse_int(idbuf, 0, INT_MAX - 1, &node) ||
                    deja__parse_int(e + 1, -86400000L, 86400000L, &off))
                    rc = deja_cli_usage_error("cluster", "--faketime: '%s' is not NODE=OFFSET_MS", v);
                else {
                    b.fk_node[b.nfk] = node;
                    b.fk_ms[b.nfk++] = off;
                }
            }
        } else if (!strcmp(flag, "--kill")) {
            const char *at = strchr(v, '@');
            char idbuf[16], tbuf[32];
            long node = 0;
            int64_t down = 1000;
            size_t il = at ? (size_t)(at - v) : 0;
            const char *colon = at ? strchr(at, ':') : NULL;
            size_t tl = at ? (colon ? (size_t)(colon - at - 1) : strlen(at + 1)) : 0;
            if (!at || il == 0 || il >= sizeof idbuf || tl == 0 || tl >= sizeof tbuf) {
                rc = deja_cli_usage_error("cluster", "--kill: '%s' is not NODE@SEC[:DOWN_SEC]", v);
            } else {
                memcpy(idbuf, v, il);
                idbuf[il] = 0;
                memcpy(tbuf, at + 1, tl);
                tbuf[tl] = 0;
                if (deja__parse_int(idbuf, 0, INT_MAX - 1, &node) || deja__parse_secs(tbuf, &o.kill_at_ms) ||
                    (colon && deja__parse_secs(colon + 1, &down)))
                    rc = deja_cli_usage_error("cluster", "--kill: '%s' is not NODE@SEC[:DOWN_SEC]", v);
                o.kill_node = (int)node;
                o.down_ms = down;
            }
        } else if (!strncmp(flag, "--net-", 6)) {
            const char *name = deja__net_flag(flag, v, &rc);
            if (!rc) {
                node_args[o.nnode_args++] = (char *)name;
                node_args[o.nnode_args++] = (char *)v;
            }
        } else if (!strcmp(flag, "--program")) {
            o.program = v;
        } else if (!strcmp(flag, "--election-trials")) {
            if (deja__parse_int(v, 1, 100000, &trials))
                rc = deja_cli_usage_error("cluster", "--election-trials: '%s' is not a number in 1..100000", v);
        } else if (!strcmp(flag, "--csv")) {
            csv = v;
        } else if (!strcmp(flag, "--seed")) {
            if (deja__parse_int(v, 0, 2147483647L, &seed))
                rc = deja_cli_usage_error("cluster", "--seed: '%s' is not a number", v);
        } else if (!strcmp(flag, "--node-bin")) {
            if (!*v || strlen(v) >= sizeof node_bin)
                rc = deja_cli_usage_error("cluster", "--node-bin: '%s' is not a path", v);
            else
                snprintf(node_bin, sizeof node_bin, "%s", v);
        } else if (!strcmp(flag, "--scenario")) {
            if (!(judge_sc = deja_scenario_find(v)))
                rc = deja_cli_usage_error("cluster", "--scenario: no scenario '%s' in this binary (see its 'scenarios')",
                                          v);
        } else if (!strcmp(flag, "--judge")) {
            judge_dir = v;
        } else if (!strcmp(flag, "--data-dir")) {
            snprintf(dir, sizeof dir, "%s", v);
        } else if (!strcmp(flag, "--grace-s")) {
            if (deja__parse_secs(v, &o.grace_ms))
                rc = deja_cli_usage_error("cluster", "--grace-s: '%s' is not a number of seconds", v);
        } else {
            rc = deja_cli_usage_error("cluster", "unknown flag '%s'", flag);
        }
        if (rc) {
            deja__cluster_bufs_free(&b);
            return rc;
        }
    }
    int rc = 0;
    if (judge_dir || judge_sc) {
        if (judge_dir && !judge_sc)
            rc = deja_cli_usage_error("cluster", "--judge: needs --scenario NAME (whose oracles judge)");
        else if (trials > 0)
            rc = deja_cli_usage_error("cluster", "--scenario: not with --election-trials");
        if (!rc && judge_dir) rc = deja__cluster_judge_only(judge_sc, judge_dir, nodes, &o, &b);
        if (rc || judge_dir) {
            deja__cluster_bufs_free(&b);
            return rc;
        }
    }
    if (trials > 0 && nodes < 0) nodes = 5;
    if (trials > 0 && o.duration_ms < 0) o.duration_ms = 0;
    char cerr[256];
    if (nodes < 0)
        rc = deja_cli_usage_error("cluster", "--nodes: missing");
    else if (deja_cluster_check_nodes(nodes, cerr, sizeof cerr))
        rc = deja_cli_usage_error("cluster", "%s", cerr);
    else if (trials > 0 && (o.kill_node >= 0 || (o.program && strcmp(o.program, "raft"))))
        rc = deja_cli_usage_error("cluster", "--election-trials: runs raft and kills the leader itself (no --kill, "
                                             "--program raft only)");
    else if (o.duration_ms < 0)
        rc = deja_cli_usage_error("cluster", "--duration-s: missing");
    else if (o.kill_node >= nodes)
        rc = deja_cli_usage_error("cluster", "--kill: node %d is not below --nodes %ld", o.kill_node, nodes);
    if (!rc) rc = deja__cluster_fake_tables(&b, &o, nodes);
    if (!rc && o.base_port && o.base_port + nodes - 1 > 65535)
        rc = deja_cli_usage_error("cluster", "--base-port: %d + %ld nodes passes port 65535", o.base_port, nodes);
    if (!rc && b.nfk && !(o.faketime_lib = deja_cluster_faketime_lib()))
        rc = deja_cli_usage_error("cluster", "--faketime: libfaketime not found (apt-get install faketime, or set "
                                             "DEJA_FAKETIME_LIB)");
    char bin[PATH_MAX];
    if (node_bin[0])
        snprintf(bin, sizeof bin, "%s", node_bin);
    else
        deja__node_bin(bin, sizeof bin);
    if (!rc && node_bin[0] && access(bin, X_OK) != 0)
        rc = deja_cli_usage_error("cluster", "--node-bin: cannot run %s: %s", bin, strerror(errno));
    if (!rc && access(bin, X_OK) != 0)
        rc = deja_cli_usage_error("cluster", "cannot run deja-node at %s (build it, or set DEJA_NODE_BIN)", bin);
    if (!rc && judge_sc) { /* a scenario that cannot judge this cluster fails now, not after the run */
        deja_summary js0;
        o.nodes = (int)nodes;
        rc = deja__cluster_judge(judge_sc, &o, NULL, &js0) == 2 ? 2 : 0;
    }
    if (!rc && !dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/deja-cluster-XXXXXX");
        if (!mkdtemp(dir)) rc = deja_cli_usage_error("cluster", "--data-dir: cannot create %s: %s", dir, strerror(errno));
    }
    if (rc) {
        deja__cluster_bufs_free(&b);
        return rc;
    }
    o.nodes = (int)nodes;
    o.node_bin = bin;
    o.dir = dir;
    o.stop = &deja__cluster_stop;
    o.progress = stderr;
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = deja__cluster_on_signal;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);

    deja_cluster_result r;
    char err[512];
    if (trials > 0) {
        deja_cluster_election_cfg ec = {(int)trials, 1000, 10000, (uint64_t)seed, csv};
        int erc = deja_cluster_election(&o, &ec, stdout, err, sizeof err);
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        deja__cluster_bufs_free(&b);
        if (erc) fprintf(stderr, "deja cluster: %s\n", err);
        else if (deja__cluster_stop) printf("interrupted=yes\n");
        fflush(stdout);
        return erc;
    }
    int run = deja_cluster_run(&o, &r, err, sizeof err);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    deja_summary js;
    int jrc = -1;
    if (!run && judge_sc) jrc = deja__cluster_judge(judge_sc, &o, dir, &js); /* o.sets live in sets */
    deja__cluster_bufs_free(&b);
    if (run) {
        deja_cluster_result_free(&r);
        deja_cli_eprintf("deja cluster: %s\n", err);
        return 2;
    }
    const char *verdict = deja_cluster_verdict(&r);
    if (jrc == 2) {
        deja_cluster_result_free(&r);
        printf("data_dir=%s\n", dir);
        fflush(stdout);
        return 2;
    }
    printf("nodes=%d\nduration_s=%.3f\nblocks=%llu\nforks=%llu\nconfirmed_height=%llu\nconfirmed_max=%llu\n", r.nodes,
           (double)o.duration_ms / 1000.0, (unsigned long long)r.blocks, (unsigned long long)r.forks,
           (unsigned long long)r.confirmed_min, (unsigned long long)r.confirmed_max);
    printf("confirmed_heights=");
    for (int i = 0; i < r.nodes; i++) printf("%s%llu", i ? "," : "", (unsigned long long)r.node[i].confirmed);
    printf("\nagree=%s\n", r.agree ? "yes" : "no");
    if (!r.agree) printf("conflict=%s\n", r.conflict);
    printf("roots_agree=%s\ncorruption=%llu\nintegrity_failed=%llu\n", r.roots_agree ? "yes" : "no",
           (unsigned long long)r.corruption, (unsigned long long)r.integrity_failed);
    printf("rejected=%llu\ndeferred=%llu\nimported=%llu\nrestarts=%d\nexit_status=", (unsigned long long)r.rejected,
           (unsigned long long)r.deferred, (unsigned long long)r.imported, o.kill_node >= 0 ? 1 : 0);
    for (int i = 0; i < r.nodes; i++) printf("%s%d", i ? "," : "", r.node[i].exit_status);
    if (r.leaders) printf("\nleaders=%llu\nlast_term=%llu", (unsigned long long)r.leaders, (unsigned long long)r.last_term);
    printf("\n");
    if (jrc >= 0) {
        deja__cluster_print_judged(&js);
        if (!strcmp(verdict, "ok")) verdict = deja_summary_get(&js, "verdict");
    }
    printf("verdict=%s\ndata_dir=%s\n", verdict, dir);
    if (deja__cluster_stop) printf("interrupted=yes\n");
    fflush(stdout);
    int ok = !strcmp(verdict, "ok");
    deja_cluster_result_free(&r);
    return ok ? 0 : 1;
}
