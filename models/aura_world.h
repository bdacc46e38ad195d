/*
 * aura_world.h -- the world every AuRa scenario starts from: N validators
 * running the node program "aura", each with a clock drawn from the
 * "clock" stream (offset, drift, NTP corrections), a network with latency,
 * jitter and loss, and the chain oracle judging the run.
 *
 * With net.flood_rate > 0 one node (net.flood_from) floods the others with
 * gossiped transactions for net.flood_s from net.flood_at_s: the
 * framework's flood (deja/world.h: DEJA_FLOOD_PARAMS, a fault-plan entry of
 * kind "flood", the "flood" stream) with this world's payload, a MSG_TX
 * transaction. The summary then says what the nodes' worker pools made of
 * it (p2p.h): p2p_verified and p2p_refused, next to the flood's own
 * flood_sent and peak_tasks.
 *
 * A scenario lists DEJA_AURA_PARAMS(...) in its parameter table, with its
 * own defaults, and calls deja_aura_setup / deja_aura_finish.
 */
#ifndef DEJA_MODELS_AURA_WORLD_H
#define DEJA_MODELS_AURA_WORLD_H

#include "deja/node.h"
#include "deja/world.h"

/* The parameters of an AuRa world; the arguments are the defaults that
 * differ between scenarios (strings). */
#define DEJA_AURA_PARAMS(duration_s, offset_ms, drift_ppm, store_kind)                                   \
    {"sim.nodes", "4", "number of validators"},                                                        \
    {"sim.duration_s", duration_s, "simulated duration (s)"},                                          \
    {"aura.slot_ms", "1000", "slot length (ms); slot = wall_clock / slot length"},                     \
    {"aura.future_tolerance_ms", "-1", "reject blocks further ahead than this (ms; -1: one slot)"},    \
    {"aura.defer_max", "64", "blocks from the near future held back at most"},                         \
    {"aura.request_retry_ms", "0", "retry a missing-parent request after this long (ms; 0: half a slot)"}, \
    {"aura.broadcast_max", "64", "up to this many validators a producer sends to all; past it, the relay tree"}, \
    {"aura.fanout", "8", "relay tree: each node passes a block on to this many (past aura.broadcast_max)"}, \
    {"chain.confirm_depth", "3", "a block is confirmed at this depth"},                                \
    {"chain.orphan_max", "256", "blocks with an unknown parent kept at most"},                         \
    {"clock.offset_ms", offset_ms, "each node's initial wall-clock offset, uniform in +-this (ms)"},   \
    {"clock.offsets_ms", "", "each node's offset, comma-separated (ms; overrides clock.offset_ms)"},   \
    {"clock.drift_ppm", drift_ppm, "each node's clock drift, uniform in +-this (ppm)"},                \
    {"clock.step_ms", "0", "size of each NTP correction, either sign (ms)"},                           \
    {"clock.step_every_s", "0", "one NTP correction per node every this many seconds (0: none)"},      \
    {"clock.ntp", "step", "how NTP corrects: step (jump) or slew (500 ppm)"},                          \
    {"clock.step_sign", "0", "0: each NTP correction forward or backward at random; 1: every one forward; -1: every one backward"}, \
    {"net.latency_ms", "50", "one-way message latency (ms)"},                                          \
    {"net.jitter_ms", "10", "latency jitter, uniform in +-this (ms)"},                                 \
    {"net.loss_pct", "0", "message loss (percent)"},                                                   \
    {"store.kind", store_kind, "the node's store: mem (in memory) or sqlite (on the node's disk)"},    \
    {"store.sync", "1", "1: the store syncs its commits; 0: it skips syncs (not durable)"},              \
    {"store.verify_reads", "1", "1: the store re-reads until two reads agree (masks corrupted reads)"}, \
    NODE_AURA_SWITCH_PARAMS, NODE_WALL_SWITCH_PARAMS,                                                   \
    DEJA_FLOOD_PARAMS

/* Builds the nodes, clocks, network and oracle from p; 0, or 2 naming the
 * bad parameter. */
int deja_aura_setup(deja_world *w, const deja_params *p, char *err, size_t errlen);
/* Fills the summary: the chain oracle's metrics and verdict, clock error. */
void deja_aura_finish(deja_world *w, deja_summary *s);

#endif /* DEJA_MODELS_AURA_WORLD_H */
