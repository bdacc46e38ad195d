/*
 * snap.h -- snapshots of the Raft engine's state (state.h) and snapshot
 * sync, the receiving side of InstallSnapshot done as a Merkle walk.
 *
 * A snapshot is the state after applying index `index` plus that entry
 * (its term and block), so the log can restart after it. It lives in
 * "raft.snap": magic u32 | version u32 | index u64 | term u64 | len u32 |
 * block (len bytes) | 256 balances u64 LE | XXH3-64 u64, written to
 * "raft.snap.tmp", synced and renamed over the old one (atomic: a crash
 * leaves the old or the new snapshot).
 *
 * Snapshot sync walks the tree of the offered snapshot from its root with
 * one task per subtree down to SNAP_CHUNK_DEPTH (fan-out 2: 31 tasks).
 * Every task asks the peer for its tree node (RAFT_MSG_SNAP_REQ, retried
 * every snap.req_ms), verifies the answer against the hash its parent
 * verified (so every chunk is checked against the root), and an inner task
 * spawns its two children under a child context (rt_ctx_with_cancel) and
 * collects their results. Every wait and every send to a parent is an
 * rt_select with the context's done channel and the session deadline
 * (snap.timeout_ms, an rt_ctx_with_timeout): when the sync is aborted
 * (cancel, deadline, peer gone, partition) every task exits and each parent
 * joins its children (a wait group) before it returns: no task is left
 * behind.
 *
 * snap.leaky=1 reproduces the digest's failure 6 on purpose: children send
 * their result on the unbuffered channel without the cancel case or a
 * deadline, and a parent that gives up (deadline) returns without
 * cancelling or joining them: they block forever (the leak oracle's
 * verdict `leak`, the dump naming snap.c's spawn site).
 */
#ifndef DEJA_NODE_SNAP_H
#define DEJA_NODE_SNAP_H

#include <stdbool.h>
#include <stdint.h>

#include "block.h"
#include "deja/rt.h"
#include "state.h"

#define SNAP_CHUNK_DEPTH 4                               /* chunk nodes: 16..31 */
#define SNAP_CHUNK_FIRST (1u << SNAP_CHUNK_DEPTH)        /* the first chunk node */
#define SNAP_CHUNK_ACCOUNTS (STATE_ACCOUNTS >> SNAP_CHUNK_DEPTH) /* 16 */
#define SNAP_TREE_TASKS (2 * SNAP_CHUNK_FIRST - 1)       /* 31 */

typedef struct snap_image {
    uint64_t index, term; /* 0: none */
    block b;              /* the entry at index */
    uint8_t hash[BLOCK_HASH_LEN];
    state_t st;
} snap_image;

/* Writes img to "raft.snap" (tmp, synced when sync, renamed). RT_OK or the
 * disk's error. */
int snap_save(const snap_image *img, bool sync);
/* Loads "raft.snap" into img (its tree rebuilt). RT_OK, or RT_ENOENT when
 * there is none or it does not check out. */
int snap_load(snap_image *img);
/* The answer to a request for tree node `node` of st: the two child
 * hashes (inner nodes 1..SNAP_CHUNK_FIRST-1) or the chunk's balances (chunk
 * nodes), into out (>= SNAP_CHUNK_ACCOUNTS * 8 bytes). Its length, or 0
 * for a node outside the walk. */
uint32_t snap_serve(const state_t *st, uint32_t node, uint8_t *out);

typedef struct snap_cfg {
    int64_t timeout_ns; /* the whole sync's deadline */
    int64_t req_ns;     /* retry a request after this long */
    bool leaky;         /* reproduce the leak (see above) */
} snap_cfg;

typedef struct snap_session snap_session;

/* Starts syncing the snapshot (index, root) from peer under a child of
 * parent: spawns the root task. NULL when out of memory or tasks. */
snap_session *snap_session_start(rt_ctx *parent, const snap_cfg *cfg, uint32_t peer, uint64_t term,
                                 uint64_t index, const uint8_t root[STATE_HASH_LEN], uint32_t id);
/* A channel that receives one int (RT_OK or the failure) when the walk ends. */
rt_chan *snap_session_done(snap_session *s);
uint32_t snap_session_id(const snap_session *s);
uint64_t snap_session_index(const snap_session *s);
uint64_t snap_session_term(const snap_session *s);
uint32_t snap_session_peer(const snap_session *s);
/* Hands an answer for tree node `node` to the task waiting for it (never
 * blocks; dropped when nobody waits or it is malformed). */
void snap_session_deliver(snap_session *s, uint32_t node, const uint8_t *data, uint32_t len);
/* Ends the session: cancels it, joins its tasks (bounded) and frees it.
 * result: what its done channel gave (or RT_ECANCELED for an abort). True
 * with bal filled when the walk completed and verified. A leaky session
 * that failed is abandoned instead: its tasks stay blocked. */
bool snap_session_end(snap_session *s, int result, uint64_t bal[STATE_ACCOUNTS]);

#endif /* DEJA_NODE_SNAP_H */
