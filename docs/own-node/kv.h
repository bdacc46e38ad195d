/*
 * kv.h -- a small replicated key-value store, the node of the "bring your
 * own node" tutorial (docs/own-node.md). Node 0 is the primary: it takes
 * writes, applies them in sequence and replicates them to the others, which
 * apply them in the same sequence and acknowledge. The code (kv.c) sees only
 * deja/rt.h, so it runs unchanged in the simulator and as a real daemon.
 *
 * Parameters (rt_param_i64): kv.put_ms (a write every so many ms, 20),
 * kv.resend_ms (the primary resends what a replica has not acknowledged,
 * 100), kv.bug (1: a replica that receives an entry beyond the next one
 * applies it anyway, skipping the entries it missed; 0).
 *
 * Facts, kinds of its own (rt_fact_kind_named):
 *   kv.apply   a node applied entry `height` (value: its key; hash: the
 *              digest of the node's whole store after it)
 *   kv.commit  the primary saw entry `height` applied by a majority
 */
#ifndef KV_H
#define KV_H

/* Registers the program "kv" (rt_program_register). */
void kv_register(void);

#endif /* KV_H */
