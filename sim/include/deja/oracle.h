/*
 * oracle.h -- the chain oracle: listens to the facts every node reports and
 * judges the run.
 *
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
/* Adds forks, blocks, max_reorg, confirmed (min over nodes), rejected,
 * deferred and safety_violations to s, and sets verdict when one fails
 * (safety first, then liveness). */
void deja_chain_oracle_finish(deja_chain_oracle *o, deja_world *w, deja_summary *s);
void deja_chain_oracle_free(deja_chain_oracle *o);

#endif /* DEJA_ORACLE_H */
