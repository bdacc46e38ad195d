/*
 * aura.h -- the first consensus engine of the reference node: slot-based
 * proof of authority, after OpenEthereum's AuRa.
 *
 * Time is cut into slots of aura.slot_ms by each node's own wall clock
 * (slot = wall / slot length, as real nodes do). The proposer of slot s is
 * validator s % N (N = rt_node_count()). At the start of its slot a proposer
 * whose head is from an earlier slot, and who is not catching up (no orphan
 * waits for its ancestors), builds one block on its head, stamped with its
 * wall clock, and sends it to every other node -- or, past
 * aura.broadcast_max validators, to aura.fanout of them, each of which
 * relays it on to aura.fanout more (the relay tree below). Receivers check the
 * block without its parent (proposer, slot matches timestamp, timestamp not
 * beyond their wall clock + aura.future_tolerance_ms), hold back blocks from
 * the near future until their own clock reaches the timestamp, and hand the
 * rest to the chain (chain.h), which checks it against its parent (here:
 * slot > parent slot), keeps orphans and picks the longest chain. An orphan
 * makes the receiver ask the sender for the nearest missing ancestor; an
 * unanswered request is asked again every aura.request_retry_ms (first of
 * the same peer, then of the others in turn), a few times at most.
 *
 * The relay tree (N > aura.broadcast_max, fan-out F = aura.fanout): for a
 * block of proposer p, node v sits at position (v - p) mod N of a complete
 * F-ary tree rooted at p, and sends the block to the nodes at positions
 * pos*F+1 .. pos*F+F. Each node sends a block at most F times and receives
 * it once, whatever N; the block reaches everyone in about log_F(N) hops;
 * the tree turns with the proposer, so a node that is down or cut off
 * starves a different subtree each slot, which asks for what it misses as
 * orphans do. A node relays a block once it passed the stateless checks
 * (deferred blocks too), before importing it.
 *
 * Clock error is exactly what breaks this engine: a proposer whose clock
 * runs ahead builds before the previous block reaches it, or has its blocks
 * refused as "future"; a clock stepped back makes a node wait; the chain
 * forks. Durations (waiting for the next slot, deferral) are measured with
 * the monotonic clock; only slot numbers and timestamps come from the wall.
 *
 * Facts reported (rt.h): PRODUCED for each built block (once stored),
 * IMPORTED for each accepted received block, REJECTED (value: node_reason,
 * reason.h), DEFERRED (value: how far ahead of the local wall clock, ns),
 * HEAD (value: reorg depth), CONFIRMED (each height once, at depth
 * chain.confirm_depth, root: the block's state root, only once the store
 * committed it), RECOVERED (aura_report_recovered, after a restart on a
 * durable store). The store itself reports CORRUPTION.
 */
#ifndef DEJA_NODE_AURA_H
#define DEJA_NODE_AURA_H

#include <stdint.h>

#include "block.h"
#include "deja/rt.h"
#include "reason.h"
#include "store.h"

typedef struct aura_config {
    uint32_t self;          /* this validator's index (rt_node_id) */
    uint32_t n;             /* validators (rt_node_count), >= 1 */
    int64_t slot_ns;        /* aura.slot_ms, > 0 */
    int64_t tolerance_ns;   /* aura.future_tolerance_ms, >= 0 */
    uint64_t confirm_depth; /* chain.confirm_depth */
    uint32_t orphan_max;    /* chain.orphan_max, >= 1 */
    uint32_t defer_max;     /* aura.defer_max, >= 1 */
    int64_t retry_ns;       /* aura.request_retry_ms, > 0 */
    uint32_t fanout;        /* relay tree fan-out; 0: send to every node directly */
    bool wall_durations;    /* node.wall_durations=1: request retries timed on the wall clock,
                               and time sync's calibrated clock kept against it (the bug) */
} aura_config;

typedef struct aura aura;

/* Fills cfg from the node's identity and parameters (aura.slot_ms = 1000,
 * aura.future_tolerance_ms = 500, chain.confirm_depth = 3, chain.orphan_max
 * = 256, aura.defer_max = 64, aura.request_retry_ms = half a slot; the
 * relay tree with aura.fanout = 8 only past aura.broadcast_max = 64
 * validators), replacing out-of-range values by defaults with a warning. */
void aura_config_load(aura_config *cfg);

/* The slot that wall-clock time wall falls in (floor division; negative
 * before the epoch). */
int64_t aura_slot_at(int64_t wall, int64_t slot_ns);

/* The stateless checks of a received block against the local wall clock:
 * NODE_REJ_NONE, or NODE_REJ_HEIGHT / PROPOSER / SLOT_TIME / FUTURE. A block
 * that passes but has timestamp > wall must be deferred by the caller. */
node_reason aura_check(const aura_config *cfg, const block *b, int64_t wall);

/* Relay tree (cfg->fanout > 0): writes the nodes cfg->self passes a block
 * of `proposer` on to into out (room for cfg->fanout) and returns how many
 * (0 for a leaf). Over every node, each one but the proposer is named
 * exactly once. */
uint32_t aura_relay_targets(const aura_config *cfg, uint32_t proposer, uint32_t *out);

/* The parent rule of the engine: slot > parent's slot (chain validate hook;
 * arg unused). */
node_reason aura_check_parent(void *arg, const block *b, const block *parent);

/* Creates the engine over st (not owned: close it after aura_close): opens
 * the chain (genesis, or the store's tree). NULL when out of memory or the
 * store cannot be read. */
aura *aura_open(const aura_config *cfg, store *st);

/* Reports RT_FACT_RECOVERED: the chain found in the store (height: the
 * confirmed height, hash and root: that block, value: the head height);
 * when a block on the way down from the head was lost to corruption, the
 * report waits in aura_run until a peer has sent it again. */
void aura_report_recovered(aura *a);

/* Runs the engine on the calling task until ctx is done: produces in its
 * slots, answers and imports messages. Spawns no task, except time sync's
 * (when chain.time_tolerance_ms and ntp.servers are > 0) and the p2p
 * pool's (p2p.h, once a transaction arrives); both are stopped before it
 * returns, see aura.c. Returns RT_OK, or
 * the store error it gave up on (see aura.c) before ctx was done. */
int aura_run(aura *a, rt_ctx *ctx);

/* Frees the engine and its chain (not the store). */
void aura_close(aura *a);

/* Entry point of the "aura" program (programs.c): opens the store named by
 * store.kind (mem, the default, or sqlite: "chain.db" on the node's disk,
 * store.sync = 1 or 0), checks and recovers it after a restart, runs the
 * engine until ctx is done or the store fails for good, frees everything. */
void node_aura_main(rt_ctx *ctx);

#endif /* DEJA_NODE_AURA_H */
