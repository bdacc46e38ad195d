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
 * applies it anyway, skipping the entries it missed; 0), kv.trust_acks (1:
 * the primary believes an acknowledgement of entries it never wrote, so a
 * peer's flood of bogus ones makes it commit what no majority has; 0).
 *
 * Facts, kinds of its own (rt_fact_kind_named):
 *   kv.apply   a node applied entry `height` (value: its key; hash: the
 *              digest of the node's whole store after it)
 *   kv.commit  the primary saw entry `height` applied by a majority
 */
#ifndef KV_H
#define KV_H

#include <stdint.h>

/* The wire format: every message is one kv_msg (24 bytes, host order).
 * A PUT, from the primary, carries entry seq (key, val); an ACK, from a
 * replica, the sequence number it has applied up to (in seq). The node
 * drops anything else. The scenario writes its flood in this format. */
enum { KV_PUT = 1, KV_ACK = 2 };
typedef struct kv_msg {
    uint8_t type;
    uint8_t pad[3];
    uint32_t key;
    uint64_t seq;
    uint64_t val;
} kv_msg;

/* Registers the program "kv" (rt_program_register). */
void kv_register(void);

#endif /* KV_H */
