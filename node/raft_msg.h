/*
 * raft_msg.h -- the messages of the Raft ordering engine (raft.h), each one
 * canonical byte form: a one-byte tag, then fixed little-endian fields, then
 * (AppendEntries only) the entries, then the seal (codec.h: 8 bytes of
 * XXH3-64 over everything before it; the lengths below are without it). The
 * sender's id is not in the body: the network says who sent a message
 * (rt_msg.from).
 *
 *   RAFT_MSG_VOTE        0x21 | term u64 | last_index u64 | last_term u64 | prevote u8     (26 bytes)
 *   RAFT_MSG_VOTE_RESP   0x22 | term u64 | granted u8 | prevote u8                        (11 bytes)
 *   RAFT_MSG_APPEND      0x23 | term u64 | prev_index u64 | prev_term u64 | commit u64
 *                             | echo i64 | n u32 | n x (term u64 | len u32 | block, len bytes)
 *   RAFT_MSG_APPEND_RESP 0x24 | term u64 | success u8 | index u64 | echo i64              (26 bytes)
 *   RAFT_MSG_SNAP_OFFER  0x25 | term u64 | index u64 | entry term u64 | echo i64 | root 16
 *                             | len u32 | block (len bytes): the snapshot the leader offers
 *   RAFT_MSG_SNAP_REQ    0x26 | term u64 | index u64 | session u32 | node u32              (25 bytes)
 *   RAFT_MSG_SNAP_CHUNK  0x27 | term u64 | index u64 | session u32 | node u32 | len u32
 *                             | data (len <= RAFT_MSG_CHUNK_MAX bytes)
 *
 * Snapshot sync (snap.h): a REQ asks for Merkle tree node `node` of the
 * snapshot at `index`; the CHUNK answers with the two child hashes (inner
 * nodes) or the balances (u64 LE each) of the node's accounts (chunk nodes).
 *
 * A vote request with prevote=1 asks "would you vote for me in term `term`"
 * without anyone changing term. An append response's index is the last
 * index the follower now matches (success) or a hint where to retry from
 * (its last index, failure). `echo` is the leader's monotonic send time,
 * returned unchanged so the leader can time its lease.
 *
 * Decoding refuses a message whose seal does not match (RT_EIO: damaged on
 * the way), anything whose length is not exactly what the fields say, and
 * blocks that are not canonical (block.h) (RT_EINVAL).
 */
#ifndef DEJA_NODE_RAFT_MSG_H
#define DEJA_NODE_RAFT_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "block.h"

enum {
    RAFT_MSG_VOTE = 0x21,
    RAFT_MSG_VOTE_RESP = 0x22,
    RAFT_MSG_APPEND = 0x23,
    RAFT_MSG_APPEND_RESP = 0x24,
    RAFT_MSG_SNAP_OFFER = 0x25,
    RAFT_MSG_SNAP_REQ = 0x26,
    RAFT_MSG_SNAP_CHUNK = 0x27,
};

#define RAFT_MSG_CHUNK_MAX 256

#define RAFT_MSG_BATCH_MAX 32 /* entries per AppendEntries, at most */
#define RAFT_MSG_APPEND_HDR (1 + 8 * 5 + 4)
#define RAFT_MSG_ENTRY_MAX (8 + 4 + BLOCK_ENCODED_MAX)
#define RAFT_MSG_MAX (RAFT_MSG_APPEND_HDR + RAFT_MSG_BATCH_MAX * RAFT_MSG_ENTRY_MAX + 8) /* + the seal */

/* One log entry on the wire: the term it was created in and its block. */
typedef struct raft_wire_entry {
    uint64_t term;
    block b;
} raft_wire_entry;

typedef struct raft_msg {
    uint8_t tag;
    uint64_t term;
    /* VOTE */
    uint64_t last_index, last_term;
    bool prevote;
    /* VOTE_RESP, APPEND_RESP */
    bool granted; /* also: success */
    uint64_t index;
    /* APPEND */
    uint64_t prev_index, prev_term, commit;
    int64_t echo;
    uint32_t n;
    raft_wire_entry *entries; /* decoded into the caller's array (RAFT_MSG_BATCH_MAX) */
    /* SNAP_*: index is the snapshot's index; OFFER puts its entry in entries[0] */
    uint8_t root[16];
    uint32_t session, node, data_len;
    const uint8_t *data; /* CHUNK: points into the decoded buffer */
} raft_msg;

/* Encoders write into buf (cap bytes) a sealed message and return its length
 * (seal included), or 0 when cap is too small. */
size_t raft_msg_vote(uint8_t *buf, size_t cap, uint64_t term, uint64_t last_index, uint64_t last_term,
                     bool prevote);
size_t raft_msg_vote_resp(uint8_t *buf, size_t cap, uint64_t term, bool granted, bool prevote);
/* Starts an AppendEntries with no entries; raft_msg_append_add adds one
 * (returning the new length, or 0 when it does not fit or the batch is full). */
size_t raft_msg_append(uint8_t *buf, size_t cap, uint64_t term, uint64_t prev_index, uint64_t prev_term,
                       uint64_t commit, int64_t echo);
size_t raft_msg_append_add(uint8_t *buf, size_t cap, size_t len, uint64_t term, const block *b);
size_t raft_msg_append_resp(uint8_t *buf, size_t cap, uint64_t term, bool success, uint64_t index,
                            int64_t echo);

size_t raft_msg_snap_offer(uint8_t *buf, size_t cap, uint64_t term, uint64_t index, uint64_t entry_term,
                           int64_t echo, const uint8_t root[16], const block *b);
size_t raft_msg_snap_req(uint8_t *buf, size_t cap, uint64_t term, uint64_t index, uint32_t session, uint32_t node);
size_t raft_msg_snap_chunk(uint8_t *buf, size_t cap, uint64_t term, uint64_t index, uint32_t session,
                           uint32_t node, const uint8_t *data, uint32_t len);

/* Parses one message into out; entries (APPEND) go into `entries`, an array
 * of RAFT_MSG_BATCH_MAX. RT_OK, RT_EIO for a seal that does not match, or
 * RT_EINVAL for anything malformed. */
int raft_msg_decode(const uint8_t *buf, size_t len, raft_msg *out, raft_wire_entry *entries);

#endif /* DEJA_NODE_RAFT_MSG_H */
