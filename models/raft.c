/*
 * raft.c -- the scenario `raft`: five nodes of the Raft ordering engine
 * (node/raft.h) proposing a block every raft.block_ms while nodes crash and
 * restart on their disks (torn unsynced writes), pause, and the network
 * loses messages and splits into random partitions. With `swarm=1` (the
 * default) each seed draws which of those faults are on and how often, so
 * a sweep covers mixes nobody listed; the common fault.* and the
 * net.partition_* parameters add faults on top. Faults stop fault.quiet_s
 * before the end; the raft oracle then wants a leader and fresh commits on
 * every node. Correct settings give no failing verdict on any seed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock_world.h"
#include "raft_world.h"

static const deja_param_def deja__raft_params[] = {
    DEJA_RAFT_PARAMS("5", "150-300", "100", "32", "", "1", "1", "10", "5", "50"),
    DEJA_RAFT_SNAP_PARAMS("0"),
    DEJA_RAFT_TIMING_PARAMS("any", "0", "0"),
    DEJA_NTP_PARAMS("0", "0"),
    {"sim.duration_s", "120", "simulated duration (s)"},
    {"swarm", "1", "1: each seed draws which faults are on and how often (crashes, pauses, partitions, loss)"},
    {"net.partition_every_s", "0", "a random split of the nodes every this many seconds on average (0: none)"},
    {"net.partition_ms", "3000", "length of each partition (ms)"},
    {"fault.quiet_s", "30", "no fault in the last this many seconds (the liveness phase)"},
    {"fault.restart_on_exit", "1", "1: a node program that gives up (a failed disk) is restarted"},
    {"disk.crash_torn_pct", "25", "at a crash, chance that an unsynced write is torn (%)"},
    {NULL, NULL, NULL},
};

/* Draws a random split of n nodes into two groups (every node may land on
 * one side: then nothing is cut). */
static void deja__raft_split(deja_prng *r, uint32_t n, uint8_t *groups) {
    for (uint32_t i = 0; i < n; i++) groups[i] = (uint8_t)deja_prng_below(r, 2);
}

/* Schedules partitions every `every` ns on average, each `len` long, until end. */
static void deja__raft_partitions(deja_raft_world *rw, deja_prng *r, int64_t every, int64_t len, int64_t end) {
    uint8_t *groups = malloc(rw->nodes), *heal = calloc(rw->nodes, 1);
    if (!groups || !heal) abort();
    for (int64_t t = deja_prng_range(r, every / 2, every + every / 2); t < end;
         t += deja_prng_range(r, every / 2, every + every / 2)) {
        deja__raft_split(r, rw->nodes, groups);
        deja_raft_partition(rw, t, groups);
        int64_t h = t + len < end ? t + len : end;
        deja_raft_partition(rw, h, heal);
        if (h > t) t = h - 1 > t ? h - 1 : t; /* the next split comes after this heal */
    }
    free(groups);
    free(heal);
}

static int deja__raft_setup(deja_world *w, const deja_params *p, char *err, size_t errlen) {
    int64_t dur, swarm, pevery, plen, quiet, block, lat, jit;
    if (deja_params_i64(p, "sim.duration_s", 1, 10000000, &dur, err, errlen) ||
        deja_params_i64(p, "swarm", 0, 1, &swarm, err, errlen) ||
        deja_params_i64(p, "net.partition_every_s", 0, 1000000, &pevery, err, errlen) ||
        deja_params_i64(p, "net.partition_ms", 0, 1000000000, &plen, err, errlen) ||
        deja_params_i64(p, "fault.quiet_s", 0, 1 << 30, &quiet, err, errlen) ||
        deja_params_i64(p, "raft.block_ms", 0, 3600000, &block, err, errlen) ||
        deja_params_fixed9(p, "net.latency_ms", 0, 1000000, &lat, err, errlen) ||
        deja_params_fixed9(p, "net.jitter_ms", 0, 1000000, &jit, err, errlen))
        return 2;
    deja_world_set_duration(w, dur * RT_SEC);
    int64_t window = 10 * RT_SEC;
    if (window > dur * RT_SEC / 2) window = dur * RT_SEC / 2;
    deja_raft_world *rw = NULL;
    if (deja_raft_setup(w, p, block > 0 ? window : 0, &rw, err, errlen)) return 2;
    if (deja_ntp_servers(w, p, err, errlen)) return 2;
    int64_t end = dur * RT_SEC - quiet * RT_SEC;
    if (pevery > 0) deja__raft_partitions(rw, deja_world_stream(w, "partition"), pevery * RT_SEC, plen * RT_MS, end);
    if (swarm) {
        deja_prng *r = deja_world_stream(w, "swarm");
        if (deja_prng_below(r, 2)) { /* crashes */
            int64_t every = deja_prng_range(r, 10, 60) * RT_SEC;
            for (uint32_t i = 0; i < rw->nodes; i++)
                for (int64_t t = deja_prng_range(r, every / 2, every + every / 2); t < end;
                     t += deja_prng_range(r, every / 2, every + every / 2))
                    deja_node_crash(w, i, t, deja_prng_range(r, 200, 3000) * RT_MS);
            deja_world_trace(w, "swarm: crashes every %lld s", (long long)(every / RT_SEC));
        }
        if (deja_prng_below(r, 3) == 0) { /* pauses */
            int64_t every = deja_prng_range(r, 20, 60) * RT_SEC;
            for (uint32_t i = 0; i < rw->nodes; i++)
                for (int64_t t = deja_prng_range(r, every / 2, every + every / 2); t < end;
                     t += deja_prng_range(r, every / 2, every + every / 2))
                    deja_node_pause(w, i, t, deja_prng_range(r, 50, 1000) * RT_MS);
            deja_world_trace(w, "swarm: pauses every %lld s", (long long)(every / RT_SEC));
        }
        if (deja_prng_below(r, 2)) { /* partitions */
            int64_t every = deja_prng_range(r, 10, 30) * RT_SEC;
            int64_t len = deja_prng_range(r, 500, 5000) * RT_MS;
            deja__raft_partitions(rw, r, every, len, end);
            deja_world_trace(w, "swarm: partitions every %lld s for %lld ms", (long long)(every / RT_SEC),
                             (long long)(len / RT_MS));
        }
        if (deja_prng_below(r, 3) == 0) { /* message loss (until the end: Raft retries) */
            uint32_t ppm = (uint32_t)deja_prng_range(r, 1000, 50000);
            deja_net_config(w, lat / 1000, jit / 1000, ppm);
            deja_world_trace(w, "swarm: loss %u ppm", ppm);
        }
    }
    deja_raft_partitions_schedule(w, rw);
    return 0;
}

const deja_scenario deja_scenario_raft = {
    "raft",
    "Raft ordering engine: crashes, pauses, partitions and loss (swarm); election safety, commit safety, "
    "durability, liveness",
    deja__raft_params,
    deja__raft_setup,
    deja_raft_finish,
};
