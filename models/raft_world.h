/*
 * raft_world.h -- the world every Raft scenario starts from: N nodes
 * running the node program "raft", clocks drawn from the "clock" stream
 * (offset, drift), a network with latency, jitter and loss, and the raft
 * oracle (deja/oracle.h) judging the run.
 *
 * A scenario lists DEJA_RAFT_PARAMS(...) in its parameter table with its
 * own defaults, calls deja_raft_setup and, at the end, deja_raft_finish.
 */
#ifndef DEJA_MODELS_RAFT_WORLD_H
#define DEJA_MODELS_RAFT_WORLD_H

#include "deja/oracle.h"
#include "deja/node.h"
#include "deja/world.h"

/* The raft.* parameters (node/raft.h) and the world's; the arguments are
 * the defaults that differ between scenarios (strings). */
#define DEJA_RAFT_PARAMS(nodes, election, block_ms, batch, boot, prevote, cq, latency, jitter, drift)         \
    {"sim.nodes", nodes, "number of Raft nodes"},                                                              \
    {"raft.voters", "0", "nodes 0..V-1 vote and may lead, the rest observe (replicate, commit, apply); 0: all vote"}, \
    {"raft.election_ms", election, "election timeout range MIN-MAX (ms; one number: MIN=MAX), drawn uniformly"}, \
    {"raft.heartbeat_ms", "0", "leader heartbeat period (ms; 0: half of MIN)"},                                \
    {"raft.block_ms", block_ms, "the leader proposes a block every this many ms (0: none)"},                   \
    {"raft.max_batch", batch, "entries per AppendEntries (0: heartbeats carry none; logs stay as they are)"},  \
    {"raft.boot_logs", boot, "L0,L1,...: on a fresh disk node i starts with L_i entries, node 0 leads term 1"}, \
    {"raft.prevote", prevote, "1: a PreVote round before each election"},                                      \
    {"raft.check_quorum", cq, "1: leaders step down without a majority; followers stick to a live leader"},    \
    {"raft.lease_ms", "0", "leader lease for reads without a quorum round (ms, monotonic clock; 0: off)"},     \
    {"raft.sync", "1", "1: term, vote and log are synced before replying; 0: never synced (careless)"},        \
    {"clock.offset_ms", "0", "each node's initial wall-clock offset, uniform in +-this (ms)"},                 \
    {"clock.drift_ppm", drift, "each node's clock drift, uniform in +-this (ppm; moves the monotonic clock)"}, \
    {"net.latency_ms", latency, "one-way message latency (ms)"},                                               \
    {"net.jitter_ms", jitter, "latency jitter, uniform in +-this (ms)"},                                       \
    {"net.loss_pct", "0", "message loss (percent)"}

/* Timing of a server (node/raft.h): what the election timer does when a
 * candidate steps down, the time spent on each message, and the disk's sync
 * latency (term and vote are synced before a reply). The defaults of every
 * scenario but `election` are any, 0, 0 (their seeds predate them). */
#define DEJA_RAFT_TIMING_PARAMS(reset, process_us, sync_us)                                                   \
    {"raft.stepdown_reset", reset, "any: a candidate stepping down restarts its election timer; leader: only a leader (LogCabin)"}, \
    {"raft.process_us", process_us, "time a server spends on each message before handling it (us)"},          \
    {"disk.sync_us", sync_us, "virtual time each sync takes on top of disk.latency_us (us; a slow fsync)"}

/* Snapshots, compaction and snapshot sync (node/snap.h); every: the default
 * of raft.snapshot_every (0: off). */
#define DEJA_RAFT_SNAP_PARAMS(every)                                                                          \
    {"raft.snapshot_every", every, "snapshot the state and compact the log every this many entries (0: off)"}, \
    {"raft.slot_max_lag", "64", "entries kept behind the commit index; a follower further behind gets a snapshot"}, \
    {"raft.slot_rule", "1", "0: compact right at the snapshot, ignoring lagging followers (the digest's bug 7)"}, \
    {"snap.timeout_ms", "2000", "a snapshot sync's deadline (ms)"},                                           \
    {"snap.req_ms", "100", "a snapshot chunk request is retried after this (ms)"},                            \
    NODE_SNAP_SWITCH_PARAMS

/* The state a Raft scenario keeps in its world (deja_world_data). */
typedef struct deja_raft_world {
    deja_raft_oracle *oracle;
    int64_t heartbeat_ns, election_min_ns, election_max_ns;
    int64_t crash_at; /* election: when the leader is crashed (-1: none) */
    /* partition schedule (raft): groups per change, applied in order */
    struct deja_raft_part {
        struct deja_raft_world *rw;
        int64_t at_ns;
        uint8_t *groups; /* one per node (rw->nodes of them) */
    } *parts;
    int nparts, capparts;
    uint32_t nodes;
    void *extra;                 /* a scenario's own state, freed with extra_free */
    void (*extra_free)(void *);
} deja_raft_world;

/* Parses "MIN-MAX" or "N" (ms) like the node does; 0 or 2 with err. */
int deja_raft_parse_election(const deja_params *p, int64_t *lo_ms, int64_t *hi_ms, char *err, size_t errlen);

/* Builds nodes, clocks, network and oracle from p (liveness window:
 * see deja_raft_oracle_new). Returns 0 and the world state, or 2. */
int deja_raft_setup(deja_world *w, const deja_params *p, int64_t liveness_window_ns, deja_raft_world **out,
                    char *err, size_t errlen);
/* Adds a partition change at at_ns (groups: one byte per node, all zero
 * heals) to the schedule; deja_raft_partitions_schedule then hands the
 * whole schedule to the network and the oracle (once, after the last add). */
void deja_raft_partition(deja_raft_world *rw, int64_t at_ns, const uint8_t *groups);
void deja_raft_partitions_schedule(deja_world *w, deja_raft_world *rw);
/* The oracle's metrics and verdict. */
void deja_raft_finish(deja_world *w, deja_summary *s);

#endif /* DEJA_MODELS_RAFT_WORLD_H */
