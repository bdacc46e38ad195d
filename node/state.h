/*
 * state.h -- the state machine of the Raft engine (raft.h): an account ->
 * balance map over a fixed universe of STATE_ACCOUNTS accounts (ids 0..255,
 * so "sorted accounts" is simply id order), and a Merkle tree over it.
 *
 * Each committed block's payload is a deterministic toy transfer: its first
 * 8 bytes (u64 LE) name from = bits 0..7, to = bits 8..15 and amount =
 * (bits 16.. % 1000) + 1; the amount moves from `from` to `to` when `from`
 * holds it, else it is minted to `to` (a block reward). Shorter payloads
 * change nothing.
 *
 * The Merkle tree is a complete binary tree in heap order: node 1 is the
 * root, node k has children 2k and 2k+1, leaves are nodes 256..511 (leaf of
 * account a = node 256 + a). A leaf is XXH3-128(a u32 LE | balance u64 LE),
 * an inner node XXH3-128(left | right), all in canonical (big-endian) byte
 * order. Every node that applied the same blocks has the same root.
 */
#ifndef DEJA_NODE_STATE_H
#define DEJA_NODE_STATE_H

#include <stdbool.h>
#include <stdint.h>

#define STATE_ACCOUNTS 256
#define STATE_DEPTH 8
#define STATE_HASH_LEN 16
#define STATE_TREE_NODES (2 * STATE_ACCOUNTS) /* index 0 unused */

typedef struct state_t {
    uint64_t bal[STATE_ACCOUNTS];
    uint8_t tree[STATE_TREE_NODES][STATE_HASH_LEN];
} state_t;

/* Sets every balance to zero and builds the tree. */
void state_init(state_t *s);
/* Replaces the balances and rebuilds the tree. */
void state_load(state_t *s, const uint64_t bal[STATE_ACCOUNTS]);
/* Applies one block payload (see above) and updates the touched paths. */
void state_apply(state_t *s, const uint8_t *payload, uint32_t len);
/* The root of the tree. */
const uint8_t *state_root(const state_t *s);

/* The leaf hash of account a holding balance. */
void state_hash_leaf(uint32_t account, uint64_t balance, uint8_t out[STATE_HASH_LEN]);
/* The inner hash over two children. */
void state_hash_pair(const uint8_t l[STATE_HASH_LEN], const uint8_t r[STATE_HASH_LEN], uint8_t out[STATE_HASH_LEN]);
/* The root of the subtree over accounts first .. first+count-1 (count a
 * power of two, the range aligned to it) holding bal[0..count). */
void state_range_root(uint32_t first, uint32_t count, const uint64_t *bal, uint8_t out[STATE_HASH_LEN]);
/* The tree node covering exactly that aligned range. */
uint32_t state_range_node(uint32_t first, uint32_t count);

#endif /* DEJA_NODE_STATE_H */
