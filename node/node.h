/*
 * node.h -- the reference node's one public entry: the programs it offers
 * to a backend. A binary that runs the reference node (the `deja` tool,
 * `deja-node`, a user's own tool that wants our scenarios) calls
 * node_programs_register() once at start-up; every other file of node/ is
 * internal to the node.
 */
#ifndef NODE_NODE_H
#define NODE_NODE_H

#ifdef __cplusplus
extern "C" {
#endif

/* Registers the programs "aura", "raft" and "timesync" (rt_program_register). */
void node_programs_register(void);

/* The reference node's bug switches, each off by default, as rows of a
 * scenario's parameter table (deja_param_def: key, default, help). The node
 * reads them (rt_param_*) and owns them; the scenarios that run its engines
 * list the rows so that `deja run --set` accepts them. docs/node.md lists
 * every switch with the file that reads it. */

/* The store's lock table, the per-block audit, the received-block file and
 * the worker pool for gossiped transactions (node/maint.h, node/blockfile.h,
 * node/p2p.h): AuRa. */
#define NODE_AURA_SWITCH_PARAMS                                                                                \
    {"store.compact_ms", "0", "a compactor takes the store's index and state locks every this many ms (0: none)"}, \
    {"store.compact_work_ms", "20", "how long the compactor holds its first lock (its I/O, ms)"},                 \
    {"store.nested_tx", "0", "1: the compactor nests the index lock inside the state lock, the import's opposite order (bug: deadlock)"}, \
    {"node.audit", "0", "1: a task per received block re-verifies it, releasing what it uses"},                  \
    {"node.leak", "none", "the audit leaks: chan (blocks on a send nobody reads), ctx (a context never cancelled), ticker (never stopped), task (as chan, holding its copy of the block's record); map: the block file is never released; or none"}, \
    {"store.block_file", "0", "1: every received block is appended to a mapped block file that keeps its last store.block_keep records resident"}, \
    {"store.block_kb", "256", "one block's record in the block file and in an audit's copy (KiB: the block and the body it stands for)"}, \
    {"store.block_keep", "8", "records of the block file kept resident"},                                        \
    {"store.block_file_mb", "256", "length of one mapped block file (MiB; reserved, not resident)"},            \
    {"p2p.pool", "4", "workers verifying gossiped transactions from a bounded queue that refuses when full; 0: a task per transaction (bug: unbounded)"}, \
    {"p2p.queue", "64", "the worker pool's queue (transactions)"},                                               \
    {"p2p.verify_us", "1000", "one transaction's verification, under the node's one verifier (us)"}

/* Durations and timeouts on the wall clock instead of the monotonic one
 * (node/raft.c, node/aura.c). */
#define NODE_WALL_SWITCH_PARAMS \
    {"node.wall_durations", "0", "1: the engine times durations and timeouts on the wall clock (bug: NTP steps misfire them)"}

/* Snapshot sync (node/snap.h): Raft. */
#define NODE_SNAP_SWITCH_PARAMS \
    {"snap.leaky", "0", "1: snapshot sync senders ignore cancellation (the digest's bug 6: verdict leak)"}

#ifdef __cplusplus
}
#endif
#endif /* NODE_NODE_H */
