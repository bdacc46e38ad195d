/*
 * maint.h -- the node's background work beside its engine: compaction
 * under the store's lock table, and an audit of every block received. Both
 * are off by default (the node then runs task for task as without them)
 * and carry the field report's bug switches:
 *
 *   store.compact_ms   > 0: a compactor task takes the store's two locks,
 *                      the block index and the state, every this many ms and
 *                      holds them store.compact_work_ms (its I/O). Imports
 *                      take them too, index first, then state.
 *   store.nested_tx=1  the compactor opens its state transaction first and
 *                      nests the index one inside it: the opposite order of
 *                      the import, so the two deadlock (failure 5 of the
 *                      report). Turns compaction on (every 1000 ms) when
 *                      store.compact_ms is 0.
 *   node.audit=1       a task per received block re-verifies it off the
 *                      engine's path, within a context, reporting on a
 *                      channel, with a progress ticker, each released.
 *   node.leak=KIND     the audit done wrong, one way (failure 1): chan (its
 *                      report is sent on an unbuffered channel nobody reads:
 *                      the task blocks for good), ctx (a context per audit
 *                      that is never cancelled, with a watcher task waiting
 *                      on it), ticker (a progress ticker never stopped),
 *                      task (as chan, the blocked task holding its copy of
 *                      the block's record: memory grows to the OOM kill).
 *                      Turns the audit on. node.leak=map: the received-block
 *                      file is never released (failure 8, blockfile.h).
 *   store.block_file=1 every received block is appended to a mapped block
 *                      file that keeps only its last store.block_keep
 *                      records resident (blockfile.h). With the file or
 *                      node.leak=task, each audit copies the block's record
 *                      (store.block_kb) to re-verify it.
 *   leak.kind=KIND     the older name of node.leak, read when node.leak is
 *                      unset or none (the mem-leak scenario): task, map, or none,
 *                      which asks for the audit and the block file done
 *                      right.
 */
#ifndef NODE_MAINT_H
#define NODE_MAINT_H

#include <stdint.h>

#include "block.h"
#include "deja/rt.h"

typedef struct maint maint;

/* Starts what the parameters ask for under ctx; NULL when nothing is
 * asked (or no memory: the node then runs without it). */
maint *maint_start(rt_ctx *ctx);
/* The import path takes the store's locks (index, then state) around a
 * store group, and gives them back. No-ops when m is NULL or compaction
 * is off. */
void maint_import_lock(maint *m);
void maint_import_unlock(maint *m);
/* A block b (hash its hash) was received from a peer: files it in the
 * block file and audits it, when asked. */
void maint_on_block(maint *m, const block *b, const uint8_t hash[16]);
/* Stops the background tasks (waits a bounded time: a deadlocked or
 * leaked task is left behind, as a process would leave it) and frees
 * what it can. NULL is a no-op. */
void maint_stop(maint *m);

#endif /* NODE_MAINT_H */
