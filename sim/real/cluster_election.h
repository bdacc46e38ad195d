/*
 * cluster_election.h -- the election experiment of the `election` scenario
 * (models/election.c) on real deja-node processes over loopback: `deja
 * cluster --election-trials N`. The same five-node cluster, boot logs,
 * timer rule, processing time and sync latency as the scenario (the sync
 * and the processing are injected sleeps of the same length on the
 * production backend), one fresh cluster per trial, the leader SIGKILLed at
 * a random point of its heartbeat interval, and the downtime read from the
 * facts files the nodes write (wall-clock stamps; a node under libfaketime
 * has its offset taken off). A trial in which the leadership changed
 * before the kill is counted as disturbed and measures nothing.
 *
 * Header-only beside cluster.h, for the same reason: `deja cluster` and the
 * cluster test use it, built against different backends.
 */
#ifndef DEJA_REAL_CLUSTER_ELECTION_H
#define DEJA_REAL_CLUSTER_ELECTION_H

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cluster.h"

typedef struct deja_cluster_election_cfg {
    int trials;        /* > 0 */
    int64_t warmup_ms; /* the leader leads this long before the crash window */
    int64_t wait_ms;   /* after the kill, wait at most this long for a new leader */
    uint64_t seed;     /* draws the crash points */
    const char *csv;   /* one row per trial, or NULL */
} deja_cluster_election_cfg;

/* Runs the trials: per trial a new cluster of base->nodes raft nodes in
 * base->dir/trial-NNN with the experiment's parameters (the `election`
 * scenario's defaults, then base->sets), kills node 0 (the leader of term
 * 1) with SIGKILL at a uniformly random point of its heartbeat interval
 * after the warm-up, and reads from the facts files when a new leader was
 * elected and when a majority followed it. Prints the summary to out.
 * 0 when the trials ran (whatever they measured), 2 with err set when they
 * could not. */

/* The `election` scenario's defaults that are node parameters, in order;
 * the user's --set values come after them and win. */
static const char *const deja__ce_defaults[] = {
    "raft.election_ms=150-300", "raft.boot_logs=10,10,9,9,8", "raft.max_batch=0",  "raft.block_ms=0",
    "raft.prevote=0",           "raft.check_quorum=0",        "raft.stepdown_reset=leader",
    "raft.process_us=1000",     "disk.sync_us=3000",
};
#define DEJA__CE_NDEF (sizeof deja__ce_defaults / sizeof deja__ce_defaults[0])

/* What one trial measured (ns; -1: did not happen). */
typedef struct deja__ce_trial {
    int64_t crash_offset, downtime, majority;
    uint64_t rounds;
    bool disturbed;
} deja__ce_trial;

static int64_t deja__ce_wall_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t deja__ce_next(uint64_t *s) { /* splitmix64 */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* The value of the last "key=..." among sets (or NULL). */
static const char *deja__ce_get(char *const *sets, int n, const char *key) {
    size_t kl = strlen(key);
    const char *v = NULL;
    for (int i = 0; i < n; i++)
        if (!strncmp(sets[i], key, kl) && sets[i][kl] == '=') v = sets[i] + kl + 1;
    return v;
}

/* The leader's heartbeat period in ns: raft.heartbeat_ms, else MIN/2 of
 * raft.election_ms (as the node computes it). -1 when unparsable. */
static int64_t deja__ce_heartbeat_ns(char *const *sets, int n) {
    const char *hb = deja__ce_get(sets, n, "raft.heartbeat_ms");
    if (hb && atoll(hb) > 0) return atoll(hb) * 1000000;
    const char *er = deja__ce_get(sets, n, "raft.election_ms");
    long long lo = er ? atoll(er) : 0;
    return lo > 0 ? lo * 1000000 / 2 : -1;
}

/* Reads the facts of the survivors (nodes 1..n-1) into t, relative to the
 * kill at kill_wall. fake_ns: each node's clock offset under libfaketime;
 * follow_t and at: room for n entries each. */
static void deja__ce_read(const char *dir, int n, const int64_t *fake_ns, int64_t kill_wall, deja__ce_trial *t,
                          int64_t *follow_t, int64_t *at) {
    uint64_t lead_term = 0;
    int64_t lead_t = -1;
    uint32_t lead = 0;
    t->downtime = t->majority = -1;
    t->rounds = 0;
    t->disturbed = false;
    /* two passes: the first elected leader, then who followed it */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 1; i < n; i++) {
            char path[PATH_MAX];
            snprintf(path, sizeof path, "%s/node-%d/facts", dir, i);
            FILE *f = fopen(path, "r");
            char line[512];
            follow_t[i] = -1;
            while (f && fgets(line, sizeof line, f)) {
                long long wall, value;
                unsigned long long height, slot;
                char kind[24], hash[40], parent[40];
                if (sscanf(line, "%lld %23s %llu %llu %39s %39s %lld", &wall, kind, &height, &slot, hash, parent,
                           &value) < 7 ||
                    !strchr(line, '\n'))
                    continue;
                int64_t at = (int64_t)wall - fake_ns[i] - kill_wall;
                if (pass == 0 && !strcmp(kind, "raft-leader") && height > 1) {
                    if (at < 0) t->disturbed = true; /* a new leader before the crash */
                    else if (lead_t < 0 || at < lead_t) {
                        lead_t = at;
                        lead_term = height;
                        lead = (uint32_t)i;
                    }
                } else if (pass == 0 && !strcmp(kind, "raft-election") && at >= 0 && height - 1 > t->rounds) {
                    t->rounds = height - 1;
                } else if (pass == 1 && !strcmp(kind, "raft-follow") && height == lead_term &&
                           (uint32_t)value == lead && at >= 0 && (follow_t[i] < 0 || at < follow_t[i])) {
                    follow_t[i] = at;
                }
            }
            if (f) fclose(f);
        }
    if (lead_t < 0 || t->disturbed) return;
    t->downtime = lead_t;
    /* a majority: the leader and the earliest followers, the majority-th arrival */
    int k = 0;
    at[k++] = lead_t;
    for (int i = 1; i < n; i++)
        if (i != (int)lead && follow_t[i] >= 0) at[k++] = follow_t[i] > lead_t ? follow_t[i] : lead_t;
    for (int a = 1; a < k; a++)
        for (int b = a; b > 0 && at[b] < at[b - 1]; b--) {
            int64_t x = at[b];
            at[b] = at[b - 1];
            at[b - 1] = x;
        }
    int need = n / 2 + 1;
    if (k >= need) t->majority = at[need - 1];
}

/* Stops every live node: SIGTERM, then SIGKILL after grace_ms. */
static void deja__ce_stop(pid_t *pid, int n, int64_t grace_ms) {
    for (int i = 0; i < n; i++)
        if (pid[i] > 0) kill(pid[i], SIGTERM);
    int64_t t0 = deja__cl_now_ms();
    for (;;) {
        bool live = false;
        for (int i = 0; i < n; i++) {
            if (pid[i] > 0 && waitpid(pid[i], NULL, WNOHANG) == pid[i]) pid[i] = 0;
            live |= pid[i] > 0;
        }
        if (!live) return;
        if (deja__cl_now_ms() - t0 > grace_ms) break;
        deja__cl_sleep_ms(5);
    }
    for (int i = 0; i < n; i++)
        if (pid[i] > 0) {
            kill(pid[i], SIGKILL);
            waitpid(pid[i], NULL, 0);
            pid[i] = 0;
        }
}

/* The rest of a trial, once its nodes are started (pid): waits for them,
 * kills the leader, measures. 0, or 2 with err set. The tables have room
 * for o->nodes entries each. */
static int deja__ce_trial_go(const deja_cluster_opts *o, const deja_cluster_election_cfg *c, int64_t hb_ns,
                             uint64_t *rng, deja__ce_trial *t, pid_t *pid, int64_t *fake_ns, int64_t *follow_t,
                             int64_t *at, char *err, size_t errlen) {
    char path[PATH_MAX + 32];
    int64_t tb = deja__cl_now_ms();
    for (int ready = 0; ready < o->nodes;) {
        ready = 0;
        for (int i = 0; i < o->nodes; i++) {
            snprintf(path, sizeof path, "%s/node-%d/status", o->dir, i);
            ready += access(path, F_OK) == 0;
        }
        if (ready == o->nodes) break;
        if (deja__cl_now_ms() - tb > 10000 || (o->stop && *o->stop)) {
            deja__ce_stop(pid, o->nodes, 0);
            snprintf(err, errlen, "the nodes of %.300s did not start (see their log files)", o->dir);
            return 2;
        }
        deja__cl_sleep_ms(2);
    }
    snprintf(path, sizeof path, "%s/go", o->dir);
    int gfd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (gfd >= 0) close(gfd);
    /* the crash point: warm-up, then uniform in one heartbeat interval */
    t->crash_offset = (int64_t)(deja__ce_next(rng) % (uint64_t)hb_ns);
    int64_t until = c->warmup_ms * 1000000 + t->crash_offset;
    struct timespec ts = {(time_t)(until / 1000000000), (long)(until % 1000000000)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !(o->stop && *o->stop)) {
    }
    int64_t kill_wall = deja__ce_wall_ns();
    kill(pid[0], SIGKILL);
    waitpid(pid[0], NULL, 0);
    pid[0] = 0;
    for (int i = 0; i < o->nodes; i++) fake_ns[i] = deja__cl_fake_ns(o, i);
    /* wait for a leader a majority follows (read every 50 ms), at most wait_ms */
    int64_t tk = deja__cl_now_ms();
    while (deja__cl_now_ms() - tk < c->wait_ms && !(o->stop && *o->stop)) {
        deja__cl_sleep_ms(50);
        deja__ce_read(o->dir, o->nodes, fake_ns, kill_wall, t, follow_t, at);
        if (t->majority >= 0 || t->disturbed) break;
    }
    deja__ce_stop(pid, o->nodes, 3000);
    deja__ce_read(o->dir, o->nodes, fake_ns, kill_wall, t, follow_t, at);
    return 0;
}

/* One trial in o->dir. 0, or 2 with err set. */
static int deja__ce_trial_run(const deja_cluster_opts *o, const deja_cluster_election_cfg *c, int64_t hb_ns,
                              uint64_t *rng, deja__ce_trial *t, char *err, size_t errlen) {
    memset(t, 0, sizeof *t);
    t->downtime = t->majority = -1;
    if (mkdir(o->dir, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "%.300s: %s", o->dir, strerror(errno));
        return 2;
    }
    int base = o->base_port ? o->base_port : deja__cl_pick_ports(o->nodes);
    if (base < 0) {
        snprintf(err, errlen, "no %d consecutive free UDP ports found", o->nodes);
        return 2;
    }
    size_t n = (size_t)o->nodes, plen = n * 24 + 1, pl = 0;
    char *peers = calloc(1, plen);
    pid_t *pid = calloc(n, sizeof *pid);
    int64_t *fake_ns = calloc(n, sizeof *fake_ns), *follow_t = calloc(n, sizeof *follow_t),
            *at = calloc(n, sizeof *at);
    if (!peers || !pid || !fake_ns || !follow_t || !at) abort();
    for (int i = 0; i < o->nodes; i++)
        pl += (size_t)snprintf(peers + pl, plen - pl, "%s127.0.0.1:%d", i ? "," : "", base + i);
    int rc = 0;
    for (int i = 0; i < o->nodes && !rc; i++) {
        pid[i] = deja__cl_spawn(o, i, peers, base + i, err, errlen);
        if (pid[i] < 0) {
            pid[i] = 0;
            deja__ce_stop(pid, o->nodes, 0);
            rc = 2;
        }
    }
    if (!rc) rc = deja__ce_trial_go(o, c, hb_ns, rng, t, pid, fake_ns, follow_t, at, err, errlen);
    free(peers);
    free(pid);
    free(fake_ns);
    free(follow_t);
    free(at);
    return rc;
}

static int deja__ce_cmp(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* The q-quantile by nearest rank over n trials of which the k sorted
 * values arrived (the others count as larger); -1 when censored. */
static double deja__ce_q(const int64_t *v, int k, int n, double q) {
    long rank = (long)(q * n + 0.999999);
    if (rank < 1) rank = 1;
    return rank <= k ? (double)v[rank - 1] / 1e6 : -1.0;
}

/* Prints "key=median,p90,mean,max" lines for one metric. */
static void deja__ce_summary(FILE *out, const char *key, int64_t *v, int k, int n) {
    qsort(v, (size_t)k, sizeof *v, deja__ce_cmp);
    double sum = 0;
    for (int i = 0; i < k; i++) sum += (double)v[i] / 1e6;
    double med = deja__ce_q(v, k, n, 0.5), p90 = deja__ce_q(v, k, n, 0.9);
    fprintf(out, "%s_median=", key);
    if (med < 0) fprintf(out, "-\n"); else fprintf(out, "%.3f\n", med);
    fprintf(out, "%s_p90=", key);
    if (p90 < 0) fprintf(out, "-\n"); else fprintf(out, "%.3f\n", p90);
    if (k > 0) fprintf(out, "%s_mean=%.3f\n%s_max=%.3f\n", key, sum / k, key, (double)v[k - 1] / 1e6);
}

/* Runs the trials: per trial a new cluster of base->nodes raft nodes in
 * base->dir/trial-NNN with the experiment's parameters (the `election`
 * scenario's defaults, then base->sets), kills node 0 (the leader of term
 * 1) with SIGKILL at a uniformly random point of its heartbeat interval
 * after the warm-up, and reads from the facts files when a new leader was
 * elected and when a majority followed it. Prints the summary to out (one
 * key=value a line). 0 when the trials ran (whatever they measured), 2 with
 * err set when they could not. */
DEJA__CL_UNUSED static int deja_cluster_election(const deja_cluster_opts *base, const deja_cluster_election_cfg *c,
                                                 FILE *out, char *err, size_t errlen) {
    if (base->nodes < 3) {
        snprintf(err, errlen, "--election-trials: needs --nodes 3 or more (five as in the paper)");
        return 2;
    }
    if (deja_cluster_check_nodes(base->nodes, err, errlen)) return 2;
    int nsets = (int)DEJA__CE_NDEF + base->nsets;
    char **sets = calloc((size_t)nsets + 1, sizeof *sets);
    int64_t *down = calloc((size_t)c->trials, sizeof *down), *maj = calloc((size_t)c->trials, sizeof *maj);
    if (!sets || !down || !maj) abort();
    for (size_t i = 0; i < DEJA__CE_NDEF; i++) sets[i] = (char *)deja__ce_defaults[i];
    for (int i = 0; i < base->nsets; i++) sets[DEJA__CE_NDEF + (size_t)i] = base->sets[i];
    int64_t hb = deja__ce_heartbeat_ns(sets, nsets);
    FILE *csv = NULL;
    int rc = 0;
    if (hb <= 0) {
        const char *ev = deja__ce_get(sets, nsets, "raft.election_ms");
        snprintf(err, errlen, "--set raft.election_ms=%s: expected MIN-MAX in ms", ev ? ev : "(unset)");
        rc = 2;
    } else if (c->csv && !(csv = fopen(c->csv, "w"))) {
        snprintf(err, errlen, "--csv %.300s: %s", c->csv, strerror(errno));
        rc = 2;
    } else if (mkdir(base->dir, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "--data-dir %.300s: %s", base->dir, strerror(errno));
        rc = 2;
    }
    const char *range = deja__ce_get(sets, nsets, "raft.election_ms");
    if (csv) fprintf(csv, "election_ms,trial,crash_offset_ms,downtime_ms,majority_ms,rounds,disturbed\n");
    uint64_t rng = c->seed;
    int nd = 0, nm = 0, disturbed = 0, done = 0;
    for (int tr = 0; !rc && tr < c->trials && !(base->stop && *base->stop); tr++) {
        char dir[PATH_MAX - 64]; /* room for node-I/facts below it */
        if (snprintf(dir, sizeof dir, "%s/trial-%03d", base->dir, tr) >= (int)sizeof dir) {
            snprintf(err, errlen, "--data-dir: too long");
            rc = 2;
            break;
        }
        deja_cluster_opts o = *base;
        o.dir = dir;
        o.program = "raft";
        o.sets = sets;
        o.nsets = nsets;
        o.progress = NULL;
        deja__ce_trial t;
        if ((rc = deja__ce_trial_run(&o, c, hb, &rng, &t, err, errlen))) break;
        done++;
        if (t.disturbed) disturbed++;
        if (t.downtime >= 0) down[nd++] = t.downtime;
        if (t.majority >= 0) maj[nm++] = t.majority;
        if (csv) {
            fprintf(csv, "%s,%d,%.3f,", range, tr, (double)t.crash_offset / 1e6);
            if (t.downtime >= 0) fprintf(csv, "%.3f", (double)t.downtime / 1e6);
            fprintf(csv, ",");
            if (t.majority >= 0) fprintf(csv, "%.3f", (double)t.majority / 1e6);
            fprintf(csv, ",%llu,%d\n", (unsigned long long)t.rounds, t.disturbed ? 1 : 0);
            fflush(csv);
        }
        if (base->progress)
            fprintf(base->progress, "cluster: election trial %d/%d: downtime %s%.1f ms, %d elected so far\n", tr + 1,
                    c->trials, t.downtime < 0 ? "none " : "", t.downtime < 0 ? 0.0 : (double)t.downtime / 1e6, nd);
    }
    if (csv && fclose(csv) != 0 && !rc) {
        snprintf(err, errlen, "--csv %.300s: %s", c->csv, strerror(errno));
        rc = 2;
    }
    if (!rc) {
        int valid = done - disturbed;
        fprintf(out, "nodes=%d\ntrials=%d\ndisturbed=%d\nelected=%d\n", base->nodes, done, disturbed, nd);
        fprintf(out, "election_ms=%s\n", range);
        deja__ce_summary(out, "downtime_ms", down, nd, valid);
        deja__ce_summary(out, "majority_ms", maj, nm, valid);
        fprintf(out, "data_dir=%s\n", base->dir);
        if (c->csv) fprintf(out, "csv=%s\n", c->csv);
    }
    free(sets);
    free(down);
    free(maj);
    return rc;
}

#endif /* DEJA_REAL_CLUSTER_ELECTION_H */
