/*
 * reason.h -- why the node refused a block: the value of an RT_FACT_REJECTED
 * fact. One table for every layer (the engine's stateless checks, the
 * chain's checks against the parent, the pools), so a number in a trace or
 * a results database means the same thing everywhere. Codes are a contract:
 * add new ones at the end, never renumber.
 */
#ifndef DEJA_NODE_REASON_H
#define DEJA_NODE_REASON_H

typedef enum node_reason {
    NODE_REJ_NONE = 0,
    NODE_REJ_DECODE = 1,         /* message bytes are not a canonical block */
    NODE_REJ_PROPOSER = 2,       /* proposer != slot % validators */
    NODE_REJ_SLOT_TIME = 3,      /* slot != timestamp / slot length (or timestamp < 0) */
    NODE_REJ_FUTURE = 4,         /* timestamp beyond local wall clock + tolerance */
    NODE_REJ_PARENT_SLOT = 5,    /* slot <= parent's slot */
    NODE_REJ_HEIGHT = 6,         /* height != parent's height + 1 (or a second genesis) */
    NODE_REJ_STATE_ROOT = 7,     /* state root does not follow from parent and payload */
    NODE_REJ_DEFER_FULL = 8,     /* near-future block, but the deferral queue is full */
    NODE_REJ_ORPHAN_EVICTED = 9, /* dropped from the full orphan pool (oldest first) */
    NODE_REJ_BAD_ANCESTOR = 10,  /* an ancestor of this orphan was rejected */
    NODE_REJ_STORE = 11,         /* the store failed to keep it (RT_ENOMEM, RT_EIO) */
} node_reason;

#endif /* DEJA_NODE_REASON_H */
