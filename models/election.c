/*
 * election.c -- the scenario `election`: the randomized-timeout experiment
 * of the Raft paper (Ongaro and Ousterhout 2014, extended version, section
 * 9.3, Figure 16), modelled as it was measured on LogCabin. Five nodes of
 * the Raft engine, perfect clocks, a broadcast time of about 15 ms made of
 * a short network hop, processing on each message and, mostly, syncing
 * term and vote to disk before a reply (docs/raft.md states the split), and
 * LogCabin's timer rule: a candidate that steps down keeps its election
 * deadline (raft.stepdown_reset=leader).
 *
 * Node 0 starts as the leader of term 1 and the followers hold logs of
 * different lengths (raft.boot_logs, frozen by raft.max_batch=0: heartbeats
 * carry no entries), so some of them cannot win. After election.warmup_ms of
 * steady heartbeats the leader is crashed at a uniformly random point of its
 * heartbeat interval, right after a heartbeat every follower received; it
 * stays down. Each run is one trial with one crash. Metrics:
 *
 *   downtime_ms  from the crash until a new leader is elected (its LEADER
 *                fact): what the paper's Figure 16 plots;
 *   majority_ms  from the crash until a majority follows a new leader (its
 *                LEADER fact plus FOLLOW facts of the same term);
 *   rounds       terms started after the crash (1: no split vote).
 *
 * A run in which no leader is elected by the end (election.after_s after
 * the crash window) fails with verdict liveness and has neither metric
 * (censored). A run in which a majority followed a new leader after the
 * crash (or a leader other than node 0 took over before it, so the crash
 * hit a follower) passes even if a later election is still open at the end,
 * as long as that election is younger than half of election.after_s (the
 * raft oracle's leaderless-at-the-end rule fails it otherwise): network
 * faults (net.swarm=1: held-back heartbeats, cuts) make followers without
 * PreVote start elections any time, and one that began a few hundred ms
 * before the end is no failed trial; leaderless_end_ms still says so.
 * The crash point is drawn from the world's "election" stream.
 */
#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "raft_world.h"

static const deja_param_def deja__election_params[] = {
    DEJA_RAFT_PARAMS("5", "150-300", "0", "0", "10,10,9,9,8", "0", "0", "0.1", "0.05", "0"),
    DEJA_RAFT_TIMING_PARAMS("leader", "1000", "3000"),
    {"election.warmup_ms", "1000", "the leader leads this long (whole heartbeats) before the crash window"},
    {"election.after_s", "10", "the run goes on this long after the crash window (then: liveness)"},
    {NULL, NULL, NULL},
};

/* What the scenario measures, from the facts (one trial per run). */
typedef struct deja__election {
    int64_t crash_at;
    int64_t elected_t, majority_t; /* -1 until they happen */
    uint64_t lead_term, last_term;  /* the newest leader's term; the newest term started */
    uint32_t lead_node, nodes;
    uint32_t n_aware;               /* nodes following lead_node in lead_term, itself included */
    bool *aware;                    /* per node */
    bool early_lead;                /* a leader of term > 1 was elected before the crash */
    int64_t after_ns;               /* election.after_s */
} deja__election;

static void deja__election_fact(void *arg, uint32_t node, int64_t now, const rt_fact *f) {
    deja__election *e = arg;
    if (node >= e->nodes) return;
    if (now < e->crash_at) {
        if ((int)f->kind == RT_FACT_RAFT_LEADER && f->height > 1) e->early_lead = true;
        return;
    }
    switch ((int)f->kind) {
    case RT_FACT_RAFT_ELECTION:
        if (f->height > e->last_term) e->last_term = f->height;
        break;
    case RT_FACT_RAFT_LEADER:
        if (f->height <= 1 || f->height <= e->lead_term) break;
        e->lead_term = f->height;
        e->lead_node = node;
        memset(e->aware, 0, e->nodes * sizeof *e->aware);
        e->aware[node] = true;
        e->n_aware = 1;
        if (e->elected_t < 0) e->elected_t = now;
        break;
    case RT_FACT_RAFT_FOLLOW:
        if (f->height != e->lead_term || (uint32_t)f->value != e->lead_node) break;
        if (!e->aware[node]) e->n_aware++;
        e->aware[node] = true;
        if (e->majority_t < 0 && e->n_aware >= e->nodes / 2 + 1) e->majority_t = now;
        break;
    default:
        break;
    }
}

static void deja__election_free(void *p) {
    deja__election *e = p;
    free(e->aware);
    free(e);
}

static int deja__election_setup(deja_world *w, const deja_params *p, char *err, size_t errlen) {
    int64_t warm, after;
    if (deja_params_i64(p, "election.warmup_ms", 0, 3600000, &warm, err, errlen) ||
        deja_params_i64(p, "election.after_s", 1, 100000, &after, err, errlen))
        return 2;
    deja_raft_world *rw = NULL;
    if (deja_raft_setup(w, p, 0, &rw, err, errlen)) return 2;
    int64_t hb = rw->heartbeat_ns;
    int64_t start = (warm * RT_MS + hb - 1) / hb * hb; /* a heartbeat instant */
    if (start < hb) start = hb;
    int64_t u = hb > 2000 ? deja_prng_range(deja_world_stream(w, "election"), 1000, hb - 1000) : hb / 2;
    rw->crash_at = start + u;
    deja_node_crash(w, 0, rw->crash_at, -1);
    deja_world_set_duration(w, start + hb + after * RT_SEC);
    deja_world_trace(w, "election: leader 0 crashes at %lld ns (%lld ns into its heartbeat interval)",
                     (long long)rw->crash_at, (long long)u);
    deja__election *e = calloc(1, sizeof *e);
    if (!e) abort();
    e->crash_at = rw->crash_at;
    e->elected_t = e->majority_t = -1;
    e->after_ns = after * RT_SEC;
    e->nodes = rw->nodes;
    e->aware = calloc(e->nodes, sizeof *e->aware);
    if (!e->aware) abort();
    rw->extra = e;
    rw->extra_free = deja__election_free;
    deja_world_on_fact(w, deja__election_fact, e);
    return 0;
}

/* Sets key to ns as milliseconds with three decimals (ns >= 0). */
static void deja__election_ms(deja_summary *s, const char *key, int64_t ns) {
    assert(ns >= 0);
    deja_summary_set(s, key, "%lld.%03lld", (long long)(ns / RT_MS), (long long)(ns % RT_MS / 1000));
}

static void deja__election_finish(deja_world *w, deja_summary *s) {
    deja_raft_world *rw = deja_world_data(w);
    const deja__election *e = rw->extra;
    deja_raft_finish(w, s);
    deja__election_ms(s, "crash_ms", rw->crash_at);
    /* replaces the oracle's downtime_ms (every loss until a majority follows, summed): a
     * trial's is its own; the oracle sets none when no leader came after the crash */
    if (e->elected_t >= 0) deja__election_ms(s, "downtime_ms", e->elected_t - e->crash_at);
    if (e->majority_t >= 0) deja__election_ms(s, "majority_ms", e->majority_t - e->crash_at);
    deja_summary_set(s, "rounds", "%llu", (unsigned long long)(e->last_term > 1 ? e->last_term - 1 : 0));
    /* the trial's own liveness rule: a majority followed a leader elected after the crash (or
     * the crash hit a follower), and an election open at the end is young; the raft oracle's
     * liveness (window 0 here: only "leaderless at the end") is overruled then */
    const char *v = deja_summary_get(s, "verdict");
    const char *open = deja_summary_get(s, "leaderless_end_ms");
    int64_t open_ms = open ? strtoll(open, NULL, 10) : 0;
    if ((e->majority_t >= 0 || e->early_lead) && open_ms * RT_MS < e->after_ns / 2 && v && !strcmp(v, "liveness"))
        deja_summary_set(s, "verdict", "ok");
}

const deja_scenario deja_scenario_election = {
    "election",
    "Raft leader election after a leader crash (the Raft paper's Figure 16): downtime per election timeout range",
    deja__election_params,
    deja__election_setup,
    deja__election_finish,
};
