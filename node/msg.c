/*
 * msg.c -- framing of the node's messages (see msg.h): tag byte plus a
 * canonical body. Pure functions; decoding never trusts a length it did not
 * check, so garbage from the network is refused, not read past.
 */
#include "msg.h"

#include <assert.h>
#include <string.h>

#include "codec.h"
#include "deja/rt.h"

size_t msg_encode_block(const block *b, uint8_t *buf, size_t cap) {
    assert(b != NULL && buf != NULL);
    if (cap < 1) return 0;
    size_t n = block_encode(b, buf + 1, cap - 1);
    if (n == 0) return 0;
    buf[0] = MSG_BLOCK;
    return node_seal(buf, n + 1, cap);
}

size_t msg_encode_get_block(const uint8_t hash[BLOCK_HASH_LEN], uint8_t *buf, size_t cap) {
    assert(hash != NULL && buf != NULL);
    if (cap < 1 + BLOCK_HASH_LEN + NODE_SEAL_LEN) return 0;
    buf[0] = MSG_GET_BLOCK;
    memcpy(buf + 1, hash, BLOCK_HASH_LEN);
    return node_seal(buf, 1 + BLOCK_HASH_LEN, cap);
}

size_t msg_encode_tx(uint64_t tx, uint8_t *buf, size_t cap) {
    assert(buf != NULL);
    if (cap < MSG_TX_LEN) return 0;
    buf[0] = MSG_TX;
    node_put_u64(buf + 1, tx);
    return node_seal(buf, 1 + 8, cap);
}

int msg_decode(const uint8_t *buf, size_t len, msg *out) {
    assert(out != NULL);
    out->tag = 0;
    if (buf == NULL || len < 1) return RT_EINVAL;
    if (!node_unseal(buf, len, &len)) return RT_EIO;
    if (len < 1) return RT_EINVAL;
    out->tag = buf[0];
    switch (buf[0]) {
    case MSG_BLOCK:
        return block_decode(buf + 1, len - 1, &out->b) ? RT_OK : RT_EINVAL;
    case MSG_GET_BLOCK:
        if (len != 1 + BLOCK_HASH_LEN) return RT_EINVAL;
        memcpy(out->hash, buf + 1, BLOCK_HASH_LEN);
        return RT_OK;
    case MSG_TX:
        if (len != 1 + 8) return RT_EINVAL;
        out->tx = node_get_u64(buf + 1);
        return RT_OK;
    default:
        return RT_EINVAL;
    }
}
