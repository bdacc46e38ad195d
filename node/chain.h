/*
 * chain.h -- the block tree of one node: import, orphans, fork choice,
 * reorgs and confirmation, independent of any consensus engine.
 *
 * Blocks whose parent is imported are checked against it (height = parent
 * height + 1, state root follows from the parent's, plus the engine's own
 * parent rule through the validate hook) and kept in the store. Blocks whose
 * parent is unknown wait in a bounded orphan pool (oldest evicted first) and
 * are imported, with their waiting descendants, when the parent arrives.
 *
 * Fork choice: the head is the imported block of greatest height; among
 * equal heights the bytewise lower hash wins. It is a pure function of the
 * set of imported blocks, so nodes holding the same blocks pick the same
 * head whatever order they saw them in. Head height never decreases.
 *
 * Confirmation at depth k (chain_config.confirm_depth): the canonical block
 * at height h is confirmed once the head height >= h + k. Each height is
 * reported once, in increasing order. A reorg that reaches below the
 * confirmed height (a safety failure of longest-chain confirmation) lowers
 * the confirmed height to the common ancestor, and the new blocks at those
 * heights are then reported as confirmed in turn: a node reporting two
 * hashes at one height is exactly what the simulator's safety oracle flags.
 *
 * The chain calls no clock, network or logging function: it reports what
 * happens through an event callback (the engine turns events into facts),
 * so the unit tests drive it as pure data.
 */
#ifndef DEJA_NODE_CHAIN_H
#define DEJA_NODE_CHAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "block.h"
#include "reason.h"
#include "store.h"

typedef struct chain chain;

typedef enum chain_event_kind {
    CHAIN_EV_IMPORTED = 1,  /* b was linked into the tree */
    CHAIN_EV_REJECTED = 2,  /* b was refused or dropped (reason) */
    CHAIN_EV_HEAD = 3,      /* the head moved to b (reorg_depth) */
    CHAIN_EV_CONFIRMED = 4, /* b became the confirmed block at its height */
} chain_event_kind;

typedef struct chain_event {
    chain_event_kind kind;
    const block *b;
    const uint8_t *hash;   /* b's hash */
    bool local;            /* IMPORTED: passed to chain_import as local */
    node_reason reason;    /* REJECTED */
    uint64_t reorg_depth;  /* HEAD: old-head blocks that left the canonical chain */
    bool below_confirmed;  /* HEAD: the reorg removed confirmed blocks */
} chain_event;

typedef void (*chain_event_fn)(void *arg, const chain_event *ev);

/* An engine rule between a block and its parent (e.g. AuRa: slot > parent
 * slot): NODE_REJ_NONE to accept, or the reason to refuse. */
typedef node_reason (*chain_validate_fn)(void *arg, const block *b, const block *parent);

typedef struct chain_config {
    uint64_t confirm_depth; /* k */
    uint32_t orphan_max;    /* orphan pool capacity, >= 1 */
    chain_validate_fn validate; /* optional */
    void *validate_arg;
} chain_config;

typedef enum chain_status {
    CHAIN_IMPORTED = 0, /* linked (with any orphans waiting on it) */
    CHAIN_KNOWN = 1,    /* already imported: nothing happened */
    CHAIN_ORPHAN = 2,   /* waiting in the orphan pool; `missing` is the
                           nearest ancestor neither imported nor pooled */
    CHAIN_INVALID = 3,  /* refused (reason) */
    CHAIN_ERROR = 4,    /* the store failed (rc) */
} chain_status;

typedef struct chain_result {
    chain_status status;
    node_reason reason;
    int rc;
    uint8_t hash[BLOCK_HASH_LEN];    /* the imported block's hash */
    uint8_t missing[BLOCK_HASH_LEN]; /* CHAIN_ORPHAN */
} chain_result;

/* Opens the tree over st (not owned: close it after chain_close). A fresh
 * store (get_head: RT_ENOENT) receives genesis as head; a store with a head
 * resumes from it and from its recorded confirmed height (at most the
 * head's). fn receives every event. Returns NULL when out of memory or the
 * store fails, including when its head cannot be read. */
chain *chain_open(store *st, const chain_config *cfg, chain_event_fn fn, void *arg);

/* Frees the tree and its orphan pool (not the store). */
void chain_close(chain *c);

/* Imports b (local: built by this node). Fills out (may be NULL) and
 * returns its status; events fire before it returns, at most one HEAD. */
chain_status chain_import(chain *c, const block *b, bool local, chain_result *out);

/* The same for a caller that has already hashed b: hash must be
 * block_hash(b) (not checked: that would cost what it saves). */
chain_status chain_import_hashed(chain *c, const block *b, const uint8_t hash[BLOCK_HASH_LEN], bool local,
                                 chain_result *out);

/* The current head block and its hash (valid until the next import); as
 * everywhere, only payload_len bytes of its payload mean anything. */
const block *chain_head(const chain *c);
const uint8_t *chain_head_hash(const chain *c);

/* Copies the imported block with this hash: RT_OK or RT_ENOENT. */
int chain_get(chain *c, const uint8_t hash[BLOCK_HASH_LEN], block *out);

/* True when the hash is imported. */
bool chain_has(chain *c, const uint8_t hash[BLOCK_HASH_LEN]);

/* True when the hash is imported or waiting in the orphan pool. */
bool chain_knows(chain *c, const uint8_t hash[BLOCK_HASH_LEN]);

/* The hash of the canonical block at height (<= head height): RT_OK, or
 * RT_ENOENT when height is above the head. */
int chain_canonical(chain *c, uint64_t height, uint8_t out[BLOCK_HASH_LEN]);

/* The highest confirmed height (0: only genesis). */
uint64_t chain_confirmed(const chain *c);

/* Number of blocks waiting in the orphan pool. */
uint32_t chain_orphans(const chain *c);

#endif /* DEJA_NODE_CHAIN_H */
