/*
 * raft_log.h -- the durable state of a Raft node on its own disk: the
 * current term and vote (file "raft.state") and the log of entries, each a
 * term and a block (file "raft.log"), kept in memory as well.
 *
 * "raft.state" holds two copies of a 40-byte record, one per sector (slot
 * seq % 2), each with a sequence number and an XXH3-64 checksum: a write
 * torn or lost in a crash leaves the other copy, and loading takes the
 * valid copy of highest sequence. "raft.log" is append-only records
 *   magic u32 | len u32 | term u64 | block (len bytes, block.h) | XXH3-64 u64
 * truncated (rt_file_truncate) when a leader overwrites a conflicting
 * suffix. Loading keeps the longest prefix that checks out: checksums,
 * entry i being the block of height i whose parent is entry i-1 and whose
 * state root follows, terms non-decreasing and not above the saved term;
 * the rest (a torn or unsynced tail) is cut off and the cut synced.
 *
 * Nothing is durable until raft_log_sync / raft_log_save_state return
 * RT_OK; the engine calls them before it answers anyone (Raft's "persist
 * before replying"). With sync off (raft.sync=0, a careless node) both skip
 * the rt_file_sync calls, so a crash can lose what the node acknowledged.
 *
 * Index 0 is the genesis block (term 0), the same on every node; it is never
 * written to the file.
 *
 * Compaction (snap.h): the log may start at a base index > 0 whose entry is
 * the last one a snapshot covers ("raft.snap"); entries below it are gone.
 * raft_log_compact rewrites "raft.log" without them (a new file, synced,
 * then renamed over the old one); loading skips records at or below the
 * base (a crash between the snapshot and the rewrite leaves them) and wants
 * the first record after it to link to the snapshot's entry.
 */
#ifndef DEJA_NODE_RAFT_LOG_H
#define DEJA_NODE_RAFT_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "block.h"
#include "deja/rt.h"

#define RAFT_VOTE_NONE UINT32_MAX

typedef struct raft_entry {
    uint64_t term;
    uint8_t hash[BLOCK_HASH_LEN]; /* block_hash(&b) */
    int64_t off;                  /* where its record starts in raft.log (-1: genesis) */
    block b;
} raft_entry;

typedef struct raft_log {
    rt_file *state_f, *log_f;
    bool sync;          /* false: skip rt_file_sync (not durable) */
    bool found;         /* raft.state existed at open: a restart */
    uint64_t state_seq; /* sequence of the last state record written */
    int64_t sector;     /* the slot size of raft.state */
    uint64_t term;      /* saved current term */
    uint32_t vote;      /* saved vote in term, or RAFT_VOTE_NONE */
    uint64_t base;      /* index of e[0]: 0 (genesis) or the snapshot's last index */
    raft_entry *e;      /* entries base..base+n-1 (e[0]: genesis or the snapshot's entry) */
    uint64_t n, cap;
    int64_t end;        /* end of the last valid record in raft.log */
    uint64_t dropped;   /* records cut off when opened: a torn or unsynced tail */
} raft_log;

/* Opens (creating them if needed) the two files and loads them, the log
 * starting after `start` (the snapshot's entry, term and index; NULL: the
 * genesis). RT_OK, or RT_EIO / RT_ENOSPC / RT_ENOMEM with nothing left open. */
int raft_log_open(raft_log *l, bool sync, const raft_entry *start, uint64_t start_index);
/* Closes the files and frees the entries. */
void raft_log_close(raft_log *l);

/* Writes term and vote and syncs them. RT_OK or the disk's error. */
int raft_log_save_state(raft_log *l, uint64_t term, uint32_t vote);

/* Appends an entry (writes its record, unsynced). RT_OK or an error. */
int raft_log_append(raft_log *l, uint64_t term, const block *b);
/* Drops entries from index `from` on (>= 1) in memory and in the file
 * (unsynced). RT_OK or an error. */
int raft_log_truncate(raft_log *l, uint64_t from);
/* Makes every append and truncation so far durable. */
int raft_log_sync(raft_log *l);
/* Drops the entries below `upto` (base < upto <= last; a snapshot covering
 * upto is already durable): rewrites raft.log, synced. RT_OK or an error
 * (the log is then unchanged in memory; the file is the old or the new). */
int raft_log_compact(raft_log *l, uint64_t upto);
/* Replaces the whole log by one entry at `index` (an installed snapshot's
 * last entry): raft.log emptied and synced. RT_OK or an error. */
int raft_log_reset(raft_log *l, uint64_t index, uint64_t term, const block *b);

static inline uint64_t raft_log_last(const raft_log *l) { return l->base + l->n - 1; }
static inline uint64_t raft_log_base(const raft_log *l) { return l->base; }
static inline uint64_t raft_log_term_at(const raft_log *l, uint64_t i) {
    return l->e[i - l->base].term; /* i >= base: the caller checked */
}
static inline const raft_entry *raft_log_at(const raft_log *l, uint64_t i) { return &l->e[i - l->base]; }

#endif /* DEJA_NODE_RAFT_LOG_H */
