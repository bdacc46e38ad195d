/*
 * raft_msg.c -- encoding and decoding of the Raft engine's messages (see
 * raft_msg.h). Pure functions: no allocation, no clock, no I/O; decoding
 * checks every length before reading, so garbage is refused, not read past.
 */
#include "raft_msg.h"

#include <assert.h>
#include <string.h>

#include "codec.h"

#include "deja/rt.h"

size_t raft_msg_vote(uint8_t *buf, size_t cap, uint64_t term, uint64_t last_index, uint64_t last_term,
                     bool prevote) {
    if (cap < 26 + NODE_SEAL_LEN) return 0;
    buf[0] = RAFT_MSG_VOTE;
    node_put_u64(buf + 1, term);
    node_put_u64(buf + 9, last_index);
    node_put_u64(buf + 17, last_term);
    buf[25] = prevote ? 1 : 0;
    return node_seal(buf, 26, cap);
}

size_t raft_msg_vote_resp(uint8_t *buf, size_t cap, uint64_t term, bool granted, bool prevote) {
    if (cap < 11 + NODE_SEAL_LEN) return 0;
    buf[0] = RAFT_MSG_VOTE_RESP;
    node_put_u64(buf + 1, term);
    buf[9] = granted ? 1 : 0;
    buf[10] = prevote ? 1 : 0;
    return node_seal(buf, 11, cap);
}

size_t raft_msg_append(uint8_t *buf, size_t cap, uint64_t term, uint64_t prev_index, uint64_t prev_term,
                       uint64_t commit, int64_t echo) {
    if (cap < RAFT_MSG_APPEND_HDR + NODE_SEAL_LEN) return 0;
    buf[0] = RAFT_MSG_APPEND;
    node_put_u64(buf + 1, term);
    node_put_u64(buf + 9, prev_index);
    node_put_u64(buf + 17, prev_term);
    node_put_u64(buf + 25, commit);
    node_put_u64(buf + 33, (uint64_t)echo);
    node_put_u32(buf + 41, 0);
    return node_seal(buf, RAFT_MSG_APPEND_HDR, cap);
}

size_t raft_msg_append_add(uint8_t *buf, size_t cap, size_t len, uint64_t term, const block *b) {
    assert(len >= RAFT_MSG_APPEND_HDR + NODE_SEAL_LEN && buf[0] == RAFT_MSG_APPEND);
    len -= NODE_SEAL_LEN; /* the entry goes where the seal was; the seal follows it */
    uint32_t n = node_get_u32(buf + 41);
    if (n >= RAFT_MSG_BATCH_MAX || cap < len + 12 + NODE_SEAL_LEN) return 0;
    size_t bl = block_encode(b, buf + len + 12, cap - len - 12 - NODE_SEAL_LEN);
    if (bl == 0) return 0;
    node_put_u64(buf + len, term);
    node_put_u32(buf + len + 8, (uint32_t)bl);
    node_put_u32(buf + 41, n + 1);
    return node_seal(buf, len + 12 + bl, cap);
}

size_t raft_msg_append_resp(uint8_t *buf, size_t cap, uint64_t term, bool success, uint64_t index,
                            int64_t echo) {
    if (cap < 26 + NODE_SEAL_LEN) return 0;
    buf[0] = RAFT_MSG_APPEND_RESP;
    node_put_u64(buf + 1, term);
    buf[9] = success ? 1 : 0;
    node_put_u64(buf + 10, index);
    node_put_u64(buf + 18, (uint64_t)echo);
    return node_seal(buf, 26, cap);
}

size_t raft_msg_snap_offer(uint8_t *buf, size_t cap, uint64_t term, uint64_t index, uint64_t entry_term,
                           int64_t echo, const uint8_t root[16], const block *b) {
    if (cap < 57 + NODE_SEAL_LEN) return 0;
    buf[0] = RAFT_MSG_SNAP_OFFER;
    node_put_u64(buf + 1, term);
    node_put_u64(buf + 9, index);
    node_put_u64(buf + 17, entry_term);
    node_put_u64(buf + 25, (uint64_t)echo);
    memcpy(buf + 33, root, 16);
    size_t bl = block_encode(b, buf + 53, cap - 53 - NODE_SEAL_LEN);
    if (bl == 0) return 0;
    node_put_u32(buf + 49, (uint32_t)bl);
    return node_seal(buf, 53 + bl, cap);
}

size_t raft_msg_snap_req(uint8_t *buf, size_t cap, uint64_t term, uint64_t index, uint32_t session, uint32_t node) {
    if (cap < 25 + NODE_SEAL_LEN) return 0;
    buf[0] = RAFT_MSG_SNAP_REQ;
    node_put_u64(buf + 1, term);
    node_put_u64(buf + 9, index);
    node_put_u32(buf + 17, session);
    node_put_u32(buf + 21, node);
    return node_seal(buf, 25, cap);
}

size_t raft_msg_snap_chunk(uint8_t *buf, size_t cap, uint64_t term, uint64_t index, uint32_t session,
                           uint32_t node, const uint8_t *data, uint32_t len) {
    if (len > RAFT_MSG_CHUNK_MAX || cap < 29 + (size_t)len + NODE_SEAL_LEN) return 0;
    buf[0] = RAFT_MSG_SNAP_CHUNK;
    node_put_u64(buf + 1, term);
    node_put_u64(buf + 9, index);
    node_put_u32(buf + 17, session);
    node_put_u32(buf + 21, node);
    node_put_u32(buf + 25, len);
    memcpy(buf + 29, data, len);
    return node_seal(buf, 29 + (size_t)len, cap);
}

int raft_msg_decode(const uint8_t *buf, size_t len, raft_msg *out, raft_wire_entry *entries) {
    assert(out != NULL);
    memset(out, 0, sizeof *out);
    if (buf == NULL || len < 1) return RT_EINVAL;
    if (!node_unseal(buf, len, &len)) return RT_EIO;
    if (len < 1) return RT_EINVAL;
    out->tag = buf[0];
    switch (buf[0]) {
    case RAFT_MSG_VOTE:
        if (len != 26 || buf[25] > 1) return RT_EINVAL;
        out->term = node_get_u64(buf + 1);
        out->last_index = node_get_u64(buf + 9);
        out->last_term = node_get_u64(buf + 17);
        out->prevote = buf[25] == 1;
        return RT_OK;
    case RAFT_MSG_VOTE_RESP:
        if (len != 11 || buf[9] > 1 || buf[10] > 1) return RT_EINVAL;
        out->term = node_get_u64(buf + 1);
        out->granted = buf[9] == 1;
        out->prevote = buf[10] == 1;
        return RT_OK;
    case RAFT_MSG_APPEND_RESP:
        if (len != 26 || buf[9] > 1) return RT_EINVAL;
        out->term = node_get_u64(buf + 1);
        out->granted = buf[9] == 1;
        out->index = node_get_u64(buf + 10);
        out->echo = (int64_t)node_get_u64(buf + 18);
        return RT_OK;
    case RAFT_MSG_APPEND: {
        if (len < RAFT_MSG_APPEND_HDR || entries == NULL) return RT_EINVAL;
        out->term = node_get_u64(buf + 1);
        out->prev_index = node_get_u64(buf + 9);
        out->prev_term = node_get_u64(buf + 17);
        out->commit = node_get_u64(buf + 25);
        out->echo = (int64_t)node_get_u64(buf + 33);
        out->n = node_get_u32(buf + 41);
        if (out->n > RAFT_MSG_BATCH_MAX) return RT_EINVAL;
        out->entries = entries;
        size_t off = RAFT_MSG_APPEND_HDR;
        for (uint32_t i = 0; i < out->n; i++) {
            if (len - off < 12) return RT_EINVAL;
            entries[i].term = node_get_u64(buf + off);
            uint32_t bl = node_get_u32(buf + off + 8);
            off += 12;
            if (bl > len - off || !block_decode(buf + off, bl, &entries[i].b)) return RT_EINVAL;
            off += bl;
        }
        return off == len ? RT_OK : RT_EINVAL;
    }
    case RAFT_MSG_SNAP_OFFER: {
        if (len < 53 || entries == NULL) return RT_EINVAL;
        out->term = node_get_u64(buf + 1);
        out->index = node_get_u64(buf + 9);
        entries[0].term = node_get_u64(buf + 17);
        out->echo = (int64_t)node_get_u64(buf + 25);
        memcpy(out->root, buf + 33, 16);
        uint32_t bl = node_get_u32(buf + 49);
        if (bl != len - 53 || !block_decode(buf + 53, bl, &entries[0].b)) return RT_EINVAL;
        if (entries[0].b.height != out->index || out->index == 0) return RT_EINVAL;
        out->entries = entries;
        out->n = 1;
        return RT_OK;
    }
    case RAFT_MSG_SNAP_REQ:
    case RAFT_MSG_SNAP_CHUNK:
        if (len < 25) return RT_EINVAL;
        out->term = node_get_u64(buf + 1);
        out->index = node_get_u64(buf + 9);
        out->session = node_get_u32(buf + 17);
        out->node = node_get_u32(buf + 21);
        if (buf[0] == RAFT_MSG_SNAP_REQ) return len == 25 ? RT_OK : RT_EINVAL;
        if (len < 29) return RT_EINVAL;
        out->data_len = node_get_u32(buf + 25);
        if (out->data_len > RAFT_MSG_CHUNK_MAX || out->data_len != len - 29) return RT_EINVAL;
        out->data = buf + 29;
        return RT_OK;
    default:
        return RT_EINVAL;
    }
}
