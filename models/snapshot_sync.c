/*
 * snapshot_sync.c -- the scenario `snapshot-sync`: five Raft nodes that
 * snapshot their state every raft.snapshot_every entries and compact their
 * logs (node/snap.h). In each round one random node is cut off (isolated
 * by a partition, or crashed) long enough to fall more than
 * raft.slot_max_lag entries behind, so the leader must fall back to a
 * snapshot; right after it comes back, a second cut (partition or crash of
 * the follower or the leader's side) aborts the sync half the time. The
 * raft oracle judges: every node agrees on the state root at each index;
 * the live task count is back at its start value after every sync (verdict
 * `leak` otherwise); no fallback for a follower that was within
 * slot_max_lag (verdict `slot`); and at the end every node has caught up
 * (`liveness`). snap.leaky=1 leaves the aborted sync's tasks blocked.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raft_world.h"

static const deja_param_def deja__snap_params[] = {
    DEJA_RAFT_PARAMS("5", "150-300", "50", "32", "", "1", "1", "10", "5", "50"),
    DEJA_RAFT_SNAP_PARAMS("32"),
    DEJA_RAFT_TIMING_PARAMS("any", "0", "0"),
    {"sim.duration_s", "60", "simulated duration (s)"},
    {"snap.round_s", "15", "one cut-off follower per this many seconds"},
    {"snap.behind_ms", "6000-10000", "how long the follower is cut off (ms, MIN-MAX, uniform)"},
    {"snap.abort_pct", "50", "chance that a second cut hits the sync right after the follower returns (%)"},
    {"fault.quiet_s", "15", "no fault in the last this many seconds (the follower must catch up)"},
    {"fault.restart_on_exit", "1", "1: a node program that gives up (a failed disk) is restarted"},
    {"leak.rises", "8",
     "a task group that grew at this many 1 s samples in a row is a leak: longer than a sync may last "
     "(snap.timeout_ms), and than a few syncs retried back to back under a cut, so a walk slowed by a "
     "thin or lossy link is not taken for one (an aborted sync's tasks are caught by snap_sync_leaks and "
     "leak.lost)"},
    {NULL, NULL, NULL},
};

/* Isolates node x from at for len ns (partition). */
static void deja__snap_isolate(deja_raft_world *rw, uint32_t x, int64_t at, int64_t len) {
    uint8_t *g = calloc(rw->nodes, 1), *heal = calloc(rw->nodes, 1);
    if (!g || !heal) abort();
    assert(x < rw->nodes);
    g[x] = 1;
    deja_raft_partition(rw, at, g);
    deja_raft_partition(rw, at + len, heal);
    free(g);
    free(heal);
}

static int deja__snap_setup(deja_world *w, const deja_params *p, char *err, size_t errlen) {
    int64_t dur, round, quiet, abort_pct, lo, hi;
    if (deja_params_i64(p, "sim.duration_s", 1, 10000000, &dur, err, errlen) ||
        deja_params_i64(p, "snap.round_s", 1, 1000000, &round, err, errlen) ||
        deja_params_i64(p, "fault.quiet_s", 0, 1 << 30, &quiet, err, errlen) ||
        deja_params_i64(p, "snap.abort_pct", 0, 100, &abort_pct, err, errlen))
        return 2;
    const char *b = deja_params_get(p, "snap.behind_ms");
    if (!b || sscanf(b, "%lld-%lld", (long long *)&lo, (long long *)&hi) != 2 || lo < 1 || hi < lo) {
        snprintf(err, errlen, "parameter snap.behind_ms=%s: expected MIN-MAX in ms", b ? b : "(unset)");
        return 2;
    }
    deja_world_set_duration(w, dur * RT_SEC);
    deja_raft_world *rw = NULL;
    if (deja_raft_setup(w, p, 10 * RT_SEC, &rw, err, errlen)) return 2;
    deja_prng *r = deja_world_stream(w, "snapshot");
    int64_t end = dur * RT_SEC - quiet * RT_SEC;
    int64_t t = 2 * RT_SEC;
    for (; t + hi * RT_MS + 3 * RT_SEC < end; t += round * RT_SEC) {
        uint32_t x = (uint32_t)deja_prng_below(r, rw->nodes);
        int64_t len = deja_prng_range(r, lo, hi) * RT_MS;
        bool crash = deja_prng_below(r, 3) == 0;
        if (crash)
            deja_node_crash(w, x, t, len);
        else
            deja__snap_isolate(rw, x, t, len);
        deja_world_trace(w, "snapshot-sync: node %u %s for %lld ms at %lld ms", x, crash ? "crashed" : "cut off",
                         (long long)(len / RT_MS), (long long)(t / RT_MS));
        if ((int64_t)deja_prng_below(r, 100) < abort_pct) {
            int64_t at = t + len + deja_prng_range(r, 20, 300) * RT_MS;
            int64_t alen = deja_prng_range(r, 200, 3000) * RT_MS;
            deja__snap_isolate(rw, x, at, alen);
            deja_world_trace(w, "snapshot-sync: abort: node %u cut off again for %lld ms", x, (long long)(alen / RT_MS));
        }
    }
    deja_raft_partitions_schedule(w, rw);
    return 0;
}

const deja_scenario deja_scenario_snapshot_sync = {
    "snapshot-sync",
    "Raft with snapshots and compaction: a follower falls behind the snapshot, syncs it by a Merkle walk, "
    "aborted syncs leave no task; state roots, slot rule, catch-up",
    deja__snap_params,
    deja__snap_setup,
    deja_raft_finish,
};
