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
 * The flags and the --help are the flag table's (cluster_args.c).
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
#include "cluster_args.h"
#include "deja/deja.h"
#include "../real/cluster_election.h"

static volatile sig_atomic_t deja__cluster_stop;

static void deja__cluster_on_signal(int sig) {
    (void)sig;
    deja__cluster_stop = 1;
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
    "exit_status", "leaders", "last_term", "deadlocks", "leak_groups", "lost_contexts", "lost_timers", "tasks_left",
    "deadlock_timeouts",
    "detected", "verdict", "data_dir", "interrupted", "oracle", NULL,
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

/* The per-node libfaketime tables made from the --faketime pairs. */
typedef struct deja__cluster_bufs {
    bool *fake;
    int64_t *fake_ms;
} deja__cluster_bufs;

static void deja__cluster_bufs_free(deja__cluster_bufs *b) {
    free(b->fake);
    free(b->fake_ms);
    memset(b, 0, sizeof *b);
}

/* Makes o's per-node libfaketime tables (nodes entries) in b from the
 * --faketime pairs f: 0, or 2 after a usage message when a pair names a
 * node not below nodes. No tables when no pair was given. */
static int deja__cluster_fake_tables(const deja_cluster_fakes *f, deja__cluster_bufs *b, deja_cluster_opts *o,
                                     long nodes) {
    assert(nodes >= 1 && !b->fake);
    for (int k = 0; k < f->n; k++)
        if (f->node[k] >= nodes)
            return deja_cli_usage_error("cluster", "--faketime: node %ld is not below --nodes %ld", f->node[k], nodes);
    if (!f->n) return 0;
    b->fake = calloc((size_t)nodes, sizeof *b->fake);
    b->fake_ms = calloc((size_t)nodes, sizeof *b->fake_ms);
    if (!b->fake || !b->fake_ms) abort();
    for (int k = 0; k < f->n; k++) {
        b->fake[f->node[k]] = true;
        b->fake_ms[f->node[k]] = f->ms[k];
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

/* Prints what the nodes' own detectors counted (deadlocks, leak_groups,
 * lost_contexts, lost_timers, tasks_left; deadlock_timeouts when not zero)
 * and, when they found something, the detected line; returns that verdict
 * ("deadlock" or "leak"), or NULL. */
static const char *deja__cluster_print_detected(const deja_cluster_result *r) {
    printf("deadlocks=%llu\nleak_groups=%llu\nlost_contexts=%llu\nlost_timers=%llu\ntasks_left=%llu\n",
           (unsigned long long)r->deadlocks, (unsigned long long)r->leak_groups, (unsigned long long)r->lost_contexts,
           (unsigned long long)r->lost_timers, (unsigned long long)r->tasks_left);
    if (r->deadlock_timeouts) printf("deadlock_timeouts=%llu\n", (unsigned long long)r->deadlock_timeouts);
    char detected[256];
    const char *found = deja_cluster_detected(r, detected, sizeof detected);
    if (found) printf("detected=%s\n", detected);
    return found;
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
                                    const deja_cluster_fakes *f, deja__cluster_bufs *b) {
    long have = deja__cluster_count_facts(dir);
    if (have < 0) return deja_cli_usage_error("cluster", "--judge: %s: %s", dir, strerror(errno));
    if (have == 0) return deja_cli_usage_error("cluster", "--judge: %s holds no node-I/facts file", dir);
    if (nodes >= 0 && nodes != have)
        return deja_cli_usage_error("cluster", "--nodes: %ld, but %s holds the facts of %ld nodes (node-0 to node-%ld)",
                                    nodes, dir, have, have - 1);
    nodes = have;
    o->nodes = (int)nodes;
    if (deja__cluster_fake_tables(f, b, o, nodes)) return 2;
    deja_summary js;
    int rc = deja__cluster_judge(sc, o, dir, &js);
    if (rc == 2) return 2;
    deja_cluster_result r;
    bool read = deja_cluster_analyze(dir, (int)nodes, &r) == 0;
    printf("nodes=%ld\n", nodes);
    const char *found = read ? deja__cluster_print_detected(&r) : NULL;
    deja_cluster_result_free(&r);
    deja__cluster_print_judged(&js);
    printf("verdict=%s\ndata_dir=%s\n", found ? found : deja_summary_get(&js, "verdict"), dir);
    fflush(stdout);
    return found && rc == 0 ? 1 : rc;
}

int deja_cmd_cluster(int argc, char **argv) {
    deja_cluster_args a;
    int rc = deja_cluster_args_parse(argc, argv, &a);
    if (rc) {
        deja_cluster_args_free(&a);
        return rc == DEJA_CLI_HELP ? 0 : rc;
    }
    deja_cluster_opts o;
    memset(&o, 0, sizeof o);
    o.kill_node = a.kill.node;
    o.kill_at_ms = a.kill.at_ms;
    o.down_ms = a.kill.down_ms;
    o.grace_ms = a.grace_ms;
    o.duration_ms = a.duration_ms;
    o.base_port = (int)a.base_port;
    o.program = a.program;
    o.nsets = a.sets.n;
    o.sets = a.sets.v;
    o.nnode_args = a.node_args.n;
    o.node_args = a.node_args.v;
    o.inspect_s = (int)a.inspect_s;
    deja__cluster_bufs b = {0};
    char dir[PATH_MAX] = "";      /* --data-dir */
    char node_bin[PATH_MAX] = ""; /* --node-bin */
    if (a.data_dir && strlen(a.data_dir) >= sizeof dir)
        rc = deja_cli_usage_error("cluster", "--data-dir '%s': too long a path", a.data_dir);
    else if (a.data_dir)
        snprintf(dir, sizeof dir, "%s", a.data_dir);
    if (!rc && a.node_bin && strlen(a.node_bin) >= sizeof node_bin)
        rc = deja_cli_usage_error("cluster", "--node-bin '%s': too long a path", a.node_bin);
    else if (!rc && a.node_bin)
        snprintf(node_bin, sizeof node_bin, "%s", a.node_bin);
    if (rc) {
        deja_cluster_args_free(&a);
        return rc;
    }
    long nodes = a.nodes ? (long)a.nodes : -1, trials = (long)a.trials;
    const deja_scenario *judge_sc = a.scenario; /* --scenario */
    const char *judge_dir = a.judge_dir;        /* --judge */
    if (judge_dir || judge_sc) {
        if (judge_dir && !judge_sc)
            rc = deja_cli_usage_error("cluster", "--judge: needs --scenario NAME (whose oracles judge)");
        else if (trials > 0)
            rc = deja_cli_usage_error("cluster", "--scenario: not with --election-trials");
        if (!rc && judge_dir) rc = deja__cluster_judge_only(judge_sc, judge_dir, nodes, &o, &a.fakes, &b);
        if (rc || judge_dir) {
            deja__cluster_bufs_free(&b);
            deja_cluster_args_free(&a);
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
    if (!rc) rc = deja__cluster_fake_tables(&a.fakes, &b, &o, nodes);
    if (!rc && o.base_port && o.base_port + nodes - 1 > 65535)
        rc = deja_cli_usage_error("cluster", "--base-port: %d + %ld nodes passes port 65535", o.base_port, nodes);
    if (!rc && a.fakes.n && !(o.faketime_lib = deja_cluster_faketime_lib()))
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
        deja_cluster_args_free(&a);
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
        deja_cluster_election_cfg ec = {(int)trials, 1000, 10000, a.seed, a.csv};
        int erc = deja_cluster_election(&o, &ec, stdout, err, sizeof err);
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        deja__cluster_bufs_free(&b);
        deja_cluster_args_free(&a);
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
    if (!run && judge_sc) jrc = deja__cluster_judge(judge_sc, &o, dir, &js); /* o.sets live in a */
    deja__cluster_bufs_free(&b);
    deja_cluster_args_free(&a);
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
    deja__cluster_print_detected(&r);
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
