/*
 * oracle.h -- the reference node's oracles, written on the public oracle
 * API of world.h (deja_oracle_ops) like any user's: the chain oracle and
 * the Raft oracle.
 *
 * The chain oracle listens to the facts every node reports and judges the
 * run.
 * It counts forks (heights at which two or more distinct blocks were
 * produced), the deepest reorg, and checks safety (no node confirms two
 * different blocks at one height; no two nodes confirm different blocks at
 * one height), durability (a node restarted after a crash recovers every
 * block it had confirmed), integrity (store checks after restarts pass),
 * state agreement (nodes confirming one block agree on its state root) and
 * liveness (every node confirmed a block in the last part of the run).
 * Scenarios attach one per world and let it fill the summary.
 */
#ifndef DEJA_ORACLE_H
#define DEJA_ORACLE_H

#include "deja/world.h"

typedef struct deja_chain_oracle deja_chain_oracle;

/* Creates an oracle listening on w's facts. liveness_window_ns: each node
 * must confirm a new block within the last window of the run. */
deja_chain_oracle *deja_chain_oracle_new(deja_world *w, int64_t liveness_window_ns);
/* It is attached to w (deja_world_add_oracle): at the end of the run it adds
 * forks, blocks, max_reorg, confirmed (min over nodes), rejected, deferred
 * and safety_violations to the summary, and fails the run when a check
 * fails (durability first, then safety, divergence, integrity, liveness).
 * The world frees it. */

/* ---- the raft oracle ----------------------------------------------------- */

/* The raft oracle judges runs of the Raft ordering engine (node/raft.h) from
 * its RT_FACT_RAFT_* facts and the simulator's node events:
 *   election_safety  at most one leader per term;
 *   safety           no two commits (by any nodes, or one node before and
 *                    after a crash) of different entries at one index;
 *   apply_order      every node applies its commit index in order;
 *   durability       a restarted node recovers a log reaching at least the
 *                    highest index it had committed before;
 *   lease            no read served under the lease of a leader whose term
 *                    a newer, established leader already replaced;
 *   liveness         a leader is established at the end and (when
 *                    liveness_window_ns > 0) every node committed something
 *                    in the last liveness_window_ns of the run.
 * A leader is "established" once a majority (itself included) knows it:
 * its LEADER fact plus FOLLOW facts of its term. Metrics: elections
 * (distinct terms with a candidate), false_elections (a term started while
 * the established leader was up, not paused and in the candidate's
 * partition group), leaders, leader_losses, downtime_ms (sum over losses of
 * the time from the loss -- the leader's crash or step-down, else the first
 * election of a newer term -- until a new leader is established; absent
 * when the run ends leaderless after a loss: see leaderless_end_ms),
 * max_downtime_ms, first_leader_ms, commit_index (lowest over nodes at the
 * end), lease_reads, stale_reads, lease_overlap_ms. Times in ms carry three
 * decimals. */
typedef struct deja_raft_oracle deja_raft_oracle;

deja_raft_oracle *deja_raft_oracle_new(deja_world *w, int64_t liveness_window_ns);
/* Tells the oracle the network's partition groups from now on (one byte
 * per node, as deja_net_partition), for false_elections. */
void deja_raft_oracle_set_groups(deja_raft_oracle *o, const uint8_t *groups);
/* Tells the oracle raft.voters: only nodes 0..voters-1 vote, so a leader
 * is established once a majority of them knows it (default: every node). */
void deja_raft_oracle_set_voters(deja_raft_oracle *o, uint32_t voters);
/* Tells the oracle raft.slot_max_lag (default 64) for the slot check: a
 * leader falling back to a snapshot for a follower whose commit index was
 * within slot_max_lag of the leader's last index is a violation (verdict
 * `slot`: compaction deleted what the follower still needed). The oracle
 * also checks every node reports the same Merkle root at each index
 * (verdict `state_root`, after `safety`) and that the node's live task count
 * is back at its value from the start of each snapshot sync when it ends
 * (verdict `leak`). */
void deja_raft_oracle_set_slot_max_lag(deja_raft_oracle *o, uint64_t lag);
/* Attached to w like the chain oracle: at the end of the run it adds the
 * metrics and fails the run when a check fails (in the order listed
 * above). The world frees it. */

#endif /* DEJA_ORACLE_H */
