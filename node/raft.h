/*
 * raft.h -- the second consensus engine of the reference node: a Raft
 * ordering engine (Ongaro and Ousterhout), the kind Hyperledger Fabric and
 * Quorum order blocks with. Program "raft" (programs.c).
 *
 * One leader per term orders blocks: every raft.block_ms it appends a block
 * (block.h: height = log index, slot = term, parent = the previous entry's
 * block) to its log and replicates it with AppendEntries; an entry stored by
 * a majority, of the leader's term, is committed, and the commit index is
 * applied (reported) in order. Followers that hear nothing from a leader for
 * a randomized election timeout, drawn uniformly (in ns, with rt_rand_u64)
 * from raft.election_ms=MIN-MAX on the monotonic clock, start an election;
 * a leader sends heartbeats every raft.heartbeat_ms (default MIN/2).
 *
 * Switches: raft.prevote=1 runs a PreVote round before a real election (a
 * node that would not win, or whose peers still hear from a leader, does
 * not disturb the term); raft.check_quorum=1 makes a leader that has not
 * heard from a majority for MIN step down, and makes followers that heard
 * from a leader within MIN refuse to vote (leader stickiness, as etcd).
 * raft.lease_ms > 0: the leader serves reads without a quorum round while
 * its lease holds: lease = (the send time, on its monotonic clock, of the
 * latest heartbeat a majority acknowledged) + lease_ms; it implies
 * stickiness too. Each lease read is reported, so an oracle can find two
 * leaders serving at once (a lease outliving a slow or paused clock).
 *
 * Durability (raft_log.h): term, vote and log are on the node's disk and
 * synced before the node answers (raft.sync=0 skips the syncs: a careless
 * node). A restart recovers them and reports what it found.
 *
 * Timing knobs (the `election` experiment): raft.stepdown_reset=any
 * (default) restarts the election timer whenever a candidate or leader
 * steps down, =leader only when a leader does (LogCabin: a candidate that
 * steps down, even on a vote it refuses, keeps its deadline);
 * raft.process_us: the engine spends this long (rt_sleep_ns) on each
 * message before it handles it, as a server's RPC processing does;
 * raft.timer_clock=wall measures every timer (election deadline,
 * heartbeats, lease, quorum check) on the wall clock instead of the
 * monotonic one: the careless way, which NTP steps break (timeout-sweep).
 *
 * Experiment knobs: raft.max_batch (entries per AppendEntries, default 32;
 * 0 = heartbeats carry no entries, so logs stay as they are); raft.block_ms
 * = 0 (no blocks); raft.boot_logs = "L0,L1,..." (on a fresh disk, node i
 * starts with L_i identical entries of term 1 and node 0 as the leader of
 * term 1: the start of the `election` experiment).
 *
 * State, snapshots, compaction (state.h, snap.h): committed blocks apply to
 * an account -> balance map with a Merkle root (reported with each
 * commit). raft.snapshot_every=N > 0: every N entries a node saves a
 * snapshot and compacts its log prefix, but never past the entries a
 * follower within raft.slot_max_lag still needs (the replication-slot rule;
 * it also keeps slot_max_lag entries behind its commit index); a leader
 * whose follower needs a compacted entry offers it the snapshot, and the
 * follower syncs it with a Merkle walk (snap.h: tasks joined before
 * raft_run returns). Default off: then the engine spawns no task.
 *
 * Facts (rt.h): RAFT_ELECTION, RAFT_LEADER, RAFT_FOLLOW, RAFT_STEPDOWN,
 * RAFT_COMMITTED, RAFT_RECOVERED, RAFT_LEASE_READ, RAFT_SNAP_INSTALLED,
 * RAFT_SNAP_FALLBACK, RAFT_SNAP_SYNC.
 */
#ifndef DEJA_NODE_RAFT_H
#define DEJA_NODE_RAFT_H

#include <stdbool.h>
#include <stdint.h>

#include "deja/rt.h"

typedef struct raft_config {
    uint32_t self, n;          /* rt_node_id, rt_node_count (any n: tables are sized from it) */
    int64_t election_min_ns;   /* raft.election_ms MIN, > 0 */
    int64_t election_max_ns;   /* raft.election_ms MAX, >= MIN */
    int64_t heartbeat_ns;      /* raft.heartbeat_ms, > 0 */
    int64_t block_ns;          /* raft.block_ms, 0: propose nothing */
    int64_t lease_ns;          /* raft.lease_ms, 0: no lease */
    bool prevote, check_quorum, sync;
    uint32_t max_batch;        /* 0..RAFT_MSG_BATCH_MAX */
    uint64_t boot_len;         /* raft.boot_logs entry for this node */
    bool boot;                 /* raft.boot_logs is set */
    uint64_t snapshot_every;   /* raft.snapshot_every: snapshot every this many entries, 0: off */
    uint64_t slot_max_lag;     /* raft.slot_max_lag: keep this many entries; a follower further
                                  behind is switched to snapshot sync */
    bool slot_rule;            /* raft.slot_rule=0: compact right at the snapshot (the digest's bug 7) */
    int64_t snap_timeout_ns;   /* snap.timeout_ms: a snapshot sync's deadline */
    int64_t snap_req_ns;       /* snap.req_ms: a chunk request is retried after this */
    bool snap_leaky;           /* snap.leaky=1: the digest's bug 6 (snap.h) */
    bool reset_on_stepdown;    /* raft.stepdown_reset=any: a candidate that steps down restarts its
                                  election timer; =leader (LogCabin): only a leader that steps down */
    int64_t process_ns;        /* raft.process_us: time the engine spends on each message */
    bool wall_timers;          /* raft.timer_clock=wall: timers measured on the wall clock */
    uint32_t voters;           /* raft.voters: nodes 0..voters-1 vote, count towards majorities
                                  and may lead; the others are observers (learners) that
                                  replicate, commit and apply what the leader sends, but never
                                  stand or vote. 0: every node votes */
} raft_config;

/* Parses a range value "MIN-MAX" or a single number "N" (MIN = MAX = N) of
 * non-negative integers with MIN <= MAX. True on success. */
bool raft_parse_range(const char *s, int64_t *lo, int64_t *hi);

/* Fills cfg from the node's identity and parameters, replacing bad values
 * by defaults with a warning. */
void raft_config_load(raft_config *cfg);

typedef struct raft raft;

/* Opens the engine: loads (or, on a fresh disk, creates) the durable state.
 * RT_OK and *out, or the disk's error. */
int raft_open(const raft_config *cfg, raft **out);

/* Runs the engine on the calling task until ctx is done. Spawns no task.
 * Returns RT_OK, or the disk error it gave up on. */
int raft_run(raft *r, rt_ctx *ctx);

/* Frees the engine (closing its files). */
void raft_close(raft *r);

/* Entry point of the "raft" program. */
void node_raft_main(rt_ctx *ctx);

#endif /* DEJA_NODE_RAFT_H */
