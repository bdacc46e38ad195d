/*
 * fuzz_raft_msg.c -- libFuzzer target for the Raft engine's wire messages
 * (node/raft_msg.c): votes, appends with their entries, snapshot offers,
 * requests and chunks.
 *
 * raft_msg_decode must refuse malformed bytes without reading past them,
 * and what it accepts must re-encode, with the encoder of its tag, to
 * exactly the input bytes (one byte form per message).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "deja/rt.h"
#include "codec.h"
#include "raft_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Decodes one message and, when accepted, checks it re-encodes to itself. */
static void check(const uint8_t *data, size_t size) {
    static uint8_t out[RAFT_MSG_MAX + 64];
    static raft_wire_entry ents[RAFT_MSG_BATCH_MAX];
    raft_msg m;
    if (raft_msg_decode(data, size, &m, ents) != RT_OK) return;
    size_t n = 0;
    switch (m.tag) {
    case RAFT_MSG_VOTE:
        n = raft_msg_vote(out, sizeof out, m.term, m.last_index, m.last_term, m.prevote);
        break;
    case RAFT_MSG_VOTE_RESP:
        n = raft_msg_vote_resp(out, sizeof out, m.term, m.granted, m.prevote);
        break;
    case RAFT_MSG_APPEND:
        n = raft_msg_append(out, sizeof out, m.term, m.prev_index, m.prev_term, m.commit, m.echo);
        for (uint32_t i = 0; i < m.n && n; i++) n = raft_msg_append_add(out, sizeof out, n, m.entries[i].term, &m.entries[i].b);
        break;
    case RAFT_MSG_APPEND_RESP:
        n = raft_msg_append_resp(out, sizeof out, m.term, m.granted, m.index, m.echo);
        break;
    case RAFT_MSG_SNAP_OFFER:
        n = raft_msg_snap_offer(out, sizeof out, m.term, m.index, m.entries[0].term, m.echo, m.root, &m.entries[0].b);
        break;
    case RAFT_MSG_SNAP_REQ:
        n = raft_msg_snap_req(out, sizeof out, m.term, m.index, m.session, m.node);
        break;
    case RAFT_MSG_SNAP_CHUNK:
        n = raft_msg_snap_chunk(out, sizeof out, m.term, m.index, m.session, m.node, m.data, m.data_len);
        break;
    default:
        abort(); /* accepted an unknown tag */
    }
    if (n != size || memcmp(out, data, size)) abort(); /* accepted but not canonical */
}

/* The input as it came (the seal almost never holds), then the input as a
 * body with its seal appended, so the decoder's checks past the seal get
 * covered too. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static uint8_t sealed[RAFT_MSG_MAX + 64];
    check(data, size);
    if (size + NODE_SEAL_LEN <= sizeof sealed) {
        memcpy(sealed, data, size);
        check(sealed, node_seal(sealed, size, sizeof sealed));
    }
    return 0;
}
