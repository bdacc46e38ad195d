/*
 * net.h -- the network faults' private state, shared by the files of the
 * simulated network: net.c (messages in flight, links, scheduled faults),
 * net_latency.c (per-link latency: region matrix, long tail, bandwidth) and
 * net_params.c (the net.* fault parameters and the network swarm).
 *
 * The state is allocated the first time a fault is configured or
 * scheduled: a world that never asks for one keeps w->net NULL and its
 * network behaves, draw for draw, as it did before these faults existed.
 * Every fault draws from a stream of its own (net.dup, net.reorder,
 * net.corrupt, net.latency, net.cut, net.clog, swarm.net).
 */
#ifndef DEJA_SIM_NET_H
#define DEJA_SIM_NET_H

#include <stdint.h>

#include "internal.h"

#define DEJA__NET_REGIONS 8

/* The cut layer (one-way and bridge partitions), on top of the groups of
 * deja_net_partition: at most one cut is active at a time. */
enum { DEJA__CUT_NONE = 0, DEJA__CUT_ONEWAY, DEJA__CUT_BRIDGE };

typedef struct deja__clog {
    int64_t until; /* true time it heals */
    int32_t node;  /* every link of node (peer < 0), or the link node -> peer */
    int32_t peer;
} deja__clog;

typedef struct deja__net {
    /* per-message faults (ppm) */
    uint32_t dup_ppm, reorder_ppm, corrupt_ppm;
    int64_t reorder_ns; /* a reordered message is held back uniform in [r/2, r] */
    /* latency */
    int tail;               /* 1: Pareto tail on top of the link's latency */
    int64_t tail_alpha9;    /* Pareto shape, fixed9 */
    int64_t tail_max_ns;    /* cap on the tail */
    uint32_t regions;       /* 0: one latency for every link */
    int64_t region_ns[DEJA__NET_REGIONS * DEJA__NET_REGIONS];
    int64_t bandwidth_kbps; /* per directed link; 0: unlimited */
    int64_t *busy_until;    /* n*n, allocated with bandwidth: when each link's wire is free */
    uint32_t busy_n;
    /* cut layer */
    int cut_mode;
    uint64_t cut_gen;    /* bumped at every cut scheduled */
    uint64_t cut_active; /* the generation of the cut in force: a heal of another one is ignored */
    uint8_t *cut;     /* one side per node: 0, 1, or 2 (the bridge) */
    uint32_t cut_n;
    /* clogs in force (expired ones are pruned when seen) */
    deja__clog *clogs;
    int n_clogs, cap_clogs;
    /* streams */
    deja_prng *dup_rng, *reorder_rng, *corrupt_rng, *lat_rng;
    /* counts, for tests and summaries */
    uint64_t dups, reorders, corrupts, cut_drops, clogged;
} deja__net;

/* The world's network fault state, allocated on first use. */
deja__net *deja__net_get(deja_world *w);
void deja__net_free(deja__net *n);

/* The one-way latency of a message of len bytes sent now from -> to
 * (from != to), before the per-message faults: the link's base latency
 * (net.latency_ms, or the region matrix) with the uniform jitter drawn from
 * the "net" stream exactly as before, the long tail when on, and the time
 * the message waits for and spends on the link's wire when a bandwidth is
 * set. Always >= 0. */
int64_t deja__net_latency(deja_world *w, uint32_t from, uint32_t to, size_t len);

/* Reads the net.* fault parameters (deja_net_fault_params) and configures
 * and schedules the faults they ask for; scheduled ones stop at end. 0, or
 * 2 naming the bad parameter. */
int deja__net_apply(deja_world *w, const deja_params *p, int64_t end, char *err, size_t errlen);

/* Fixed-point helpers of the long tail (integer only, the same result on
 * every compiler): log2 of k (k >= 1) and 2^y, both Q32. */
uint64_t deja__log2_q32(uint64_t k);
uint64_t deja__exp2_q32(uint64_t y);

#endif /* DEJA_SIM_NET_H */
