/*
 * p2p.h -- the node's handling of gossiped transactions (MSG_TX, msg.h):
 * each one is verified (its signature check: p2p.verify_us of work, under
 * the node's one verifier, a mutex) off the engine's task. Blocks stay on
 * the engine's task; transactions are the part of the traffic a peer can
 * send without bound, so they are what a flood is made of.
 *
 *   p2p.pool=N   (default 4) N workers take transactions from a queue of
 *                p2p.queue (default 64) entries; when the queue is full
 *                the transaction is refused: dropped, counted and reported
 *                (a fact P2P_FACT_REFUSED, value: the sender). Memory stays
 *                bounded whatever the peers send: the sound node's habit.
 *   p2p.pool=0   the bug (failures 2.3/2.4 of the field report): a task per
 *                received transaction. Under a flood faster than the
 *                verifier, the tasks pile up on the verifier's mutex
 *                without bound until the node leaks or is OOM-killed.
 *
 * The workers (and the queue) exist only once the first transaction
 * arrives, so a node that is sent none runs task for task as without them.
 * Each transaction verified is reported as a fact P2P_FACT_VERIFIED
 * (value: the sender).
 */
#ifndef NODE_P2P_H
#define NODE_P2P_H

#include "deja/rt.h"

#define P2P_FACT_REFUSED "p2p.refused"
#define P2P_FACT_VERIFIED "p2p.verified"

typedef struct p2p p2p;

/* Takes m when it is a transaction (its first byte is MSG_TX): queues it,
 * hands it to a task of its own (p2p.pool=0) or refuses it, and owns it
 * from then on: true. Anything else is left to the caller: false. *pp is
 * NULL until the first transaction, which starts the handler under ctx. */
bool p2p_take(p2p **pp, rt_ctx *ctx, rt_msg *m);

/* What the handler did so far (all zero when it never started). */
typedef struct p2p_stats {
    uint64_t taken;    /* transactions received */
    uint64_t verified; /* verified and well-formed */
    uint64_t bad;      /* verified, then found malformed */
    uint64_t refused;  /* dropped: the queue was full (or no memory) */
    uint64_t peak;     /* most queued or being handed to a worker at once (pool), or most
                        * handlers alive (p2p.pool=0) */
} p2p_stats;
void p2p_stats_get(p2p *p, p2p_stats *out);

/* Stops the workers (waits a bounded time: handlers still blocked are left
 * behind, as a process would leave them), frees what it can and logs the
 * counts; *pp is NULL after, unless handlers were left. A no-op on NULL. */
void p2p_stop(p2p **pp);

#endif /* NODE_P2P_H */
