/*
 * lease_fork.c -- the scenario `lease-fork`: a Raft leader serving reads
 * under its lease (raft.lease_ms, measured on its own monotonic clock)
 * after the rest of the cluster has already elected a new leader. Five
 * nodes of the Raft engine (node/raft.h), PreVote and CheckQuorum on, a
 * block every 50 ms; the old leader is deposed by the faults of the run:
 * about every lease.isolate_every_s one random node is cut off from all the
 * others for lease.isolate_ms (a fifth of the time it is the leader, which
 * keeps running and keeps its lease while the others elect), and every node
 * pauses about every fault.pause_every_s for fault.pause_ms (a GC pause).
 * Clocks drift by up to clock.drift_ppm either way, so a leader whose clock
 * runs slow holds its lease longer in true time while its followers, whose
 * clocks run fast, give up on it sooner.
 *
 * The raft oracle judges every lease read: one served by a leader of an
 * older term once a newer leader is established is stale (verdict `lease`,
 * stale_reads, lease_overlap_ms: how long after the new leader it was).
 * The summary adds the rule the configuration should obey, lease_max_ms =
 * MIN * (1 - rho) / (1 + rho): a follower refuses to vote until MIN has
 * passed on its own clock since it last heard from the leader (which is
 * after the leader sent the heartbeat its lease starts from), a fast clock
 * shortens that to MIN / (1 + rho) of true time, and a slow leader
 * stretches its lease to L / (1 - rho); lease_rule_ok is 1 when the lease
 * is off or below lease_max_ms. A pause needs no margin of its own: the
 * lease is checked at the instant of the read, on the monotonic clock that
 * kept running through the pause.
 * One number N as raft.election_ms means N-2N, as in timeout-sweep.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raft_world.h"
#include "timeout_sweep.h"

static const deja_param_def deja__lease_fork_params[] = {
    {"sim.nodes", "5", "number of Raft nodes"},
    {"raft.election_ms", "150-300", "election timeout range MIN-MAX (ms; one number N: N-2N), drawn uniformly"},
    {"raft.heartbeat_ms", "0", "leader heartbeat period (ms; 0: half of MIN)"},
    {"raft.block_ms", "50", "the leader proposes a block every this many ms (0: none)"},
    {"raft.max_batch", "32", "entries per AppendEntries (0: heartbeats carry none; logs stay as they are)"},
    {"raft.boot_logs", "", "L0,L1,...: on a fresh disk node i starts with L_i entries, node 0 leads term 1"},
    {"raft.prevote", "1", "1: a PreVote round before each election"},
    {"raft.check_quorum", "1", "1: leaders step down without a majority; followers stick to a live leader"},
    {"raft.lease_ms", "100", "leader lease for reads without a quorum round (ms, monotonic clock; 0: off)"},
    {"raft.sync", "1", "1: term, vote and log are synced before replying; 0: never synced (careless)"},
    {"clock.offset_ms", "0", "each node's initial wall-clock offset, uniform in +-this (ms)"},
    {"clock.drift_ppm", "50", "each node's clock drift, uniform in +-this (ppm; moves the monotonic clock)"},
    {"net.latency_ms", "10", "one-way message latency (ms)"},
    {"net.jitter_ms", "5", "latency jitter, uniform in +-this (ms)"},
    {"net.loss_pct", "0", "message loss (percent)"},
    {"sim.duration_s", "120", "simulated duration (s)"},
    {"lease.isolate_every_s", "2", "about every this many s one random node is cut off from all others (0: never)"},
    {"lease.isolate_ms", "1000", "how long an isolated node stays cut off (ms)"},
    {"fault.pause_every_s", "10", "each node pauses on average once per this many seconds (0: never)"},
    {"fault.pause_ms", "500", "length of each pause (ms; a GC pause or a stopped VM)"},
    {"fault.quiet_s", "10", "no fault in the last this many seconds (the liveness phase)"},
    {NULL, NULL, NULL},
};

/* Schedules the isolations: gaps uniform in [every/2, 3*every/2], each a
 * random node alone in group 1 for len ns, healed before the next, none
 * starting at or after end. */
static void deja__lf_isolations(deja_raft_world *rw, deja_prng *r, int64_t every, int64_t len, int64_t end) {
    assert(every > 0 && len >= 0 && rw->nodes >= 1);
    uint8_t *groups = malloc(rw->nodes), *heal = calloc(rw->nodes, 1);
    if (!groups || !heal) abort();
    for (int64_t t = deja_prng_range(r, every / 2, every + every / 2); t < end;
         t += deja_prng_range(r, every / 2, every + every / 2)) {
        memset(groups, 0, rw->nodes);
        groups[deja_prng_below(r, rw->nodes)] = 1;
        deja_raft_partition(rw, t, groups);
        int64_t h = t + len < end ? t + len : end;
        deja_raft_partition(rw, h, heal);
        if (h > t) t = h;
    }
    free(groups);
    free(heal);
}

static int deja__lf_setup(deja_world *w, const deja_params *p, char *err, size_t errlen) {
    int64_t dur, every, len, quiet;
    if (deja_params_i64(p, "sim.duration_s", 1, 10000000, &dur, err, errlen) ||
        deja_params_i64(p, "lease.isolate_every_s", 0, 1000000, &every, err, errlen) ||
        deja_params_i64(p, "lease.isolate_ms", 0, 1000000000, &len, err, errlen) ||
        deja_params_i64(p, "fault.quiet_s", 0, 1 << 30, &quiet, err, errlen))
        return 2;
    deja_params *q = NULL;
    if (deja_election_as_range(w, p, &q, err, errlen)) return 2;
    deja_world_set_duration(w, dur * RT_SEC);
    int64_t window = 10 * RT_SEC;
    if (window > dur * RT_SEC / 2) window = dur * RT_SEC / 2;
    deja_raft_world *rw = NULL;
    int rc = deja_raft_setup(w, q, window, &rw, err, errlen);
    deja_params_free(q);
    if (rc) return 2;
    int64_t end = dur * RT_SEC - quiet * RT_SEC;
    if (every > 0) deja__lf_isolations(rw, deja_world_stream(w, "lease"), every * RT_SEC, len * RT_MS, end);
    deja_raft_partitions_schedule(w, rw);
    return 0;
}

/* The raft oracle's verdict and metrics, then the lease rule. */
static void deja__lf_finish(deja_world *w, deja_summary *s) {
    deja_raft_world *rw = deja_world_data(w);
    deja_raft_finish(w, s);
    const deja_params *p = deja_world_params(w);
    int64_t lease = 0, drift = 0;
    char err[256];
    int rc = deja_params_i64(p, "raft.lease_ms", 0, 3600000, &lease, err, sizeof err) ||
             deja_params_fixed9(p, "clock.drift_ppm", 0, 100000, &drift, err, sizeof err);
    assert(rc == 0 && "setup accepted these parameters");
    (void)rc;
    int64_t ppb = drift / 1000000;
    assert(ppb >= 0 && ppb <= 100000000);
    int64_t max_ns = (int64_t)(((__int128)rw->election_min_ns * (1000000000 - ppb)) / (1000000000 + ppb));
    deja_summary_set(s, "lease_max_ms", "%lld.%03lld", (long long)(max_ns / RT_MS),
                     (long long)(max_ns % RT_MS / 1000));
    deja_summary_set(s, "lease_rule_ok", "%d", lease == 0 || lease * RT_MS < max_ns ? 1 : 0);
}

const deja_scenario deja_scenario_lease_fork = {
    "lease-fork",
    "Raft leader lease vs clock drift and pauses: a deposed leader serving stale reads under its lease",
    deja__lease_fork_params,
    deja__lf_setup,
    deja__lf_finish,
};
