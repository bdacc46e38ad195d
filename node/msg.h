/*
 * msg.h -- the messages nodes exchange, each one canonical byte form: a
 * one-byte tag followed by the tag's body, then the seal (codec.h: 8 bytes
 * of XXH3-64 over tag and body; the lengths below are without it).
 *
 *   MSG_BLOCK      0x01 | block encoding (block.h), 64..320 bytes
 *                  a block: gossip from its proposer, or the answer to a
 *                  MSG_GET_BLOCK
 *   MSG_GET_BLOCK  0x02 | hash (16 bytes)            exactly 17 bytes
 *                  "send me the block with this hash" (orphan back-fill)
 *   MSG_TX         0x03 | transaction (8 bytes)      exactly 9 bytes
 *                  a transaction gossiped by a peer: verified off the
 *                  engine's task by the p2p worker pool (p2p.h)
 *
 * A message whose seal does not match (damaged on the way, or truncated)
 * fails with RT_EIO; anything else (unknown tag, wrong length) with
 * RT_EINVAL.
 */
#ifndef DEJA_NODE_MSG_H
#define DEJA_NODE_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "block.h"

enum { MSG_BLOCK = 0x01, MSG_GET_BLOCK = 0x02, MSG_TX = 0x03 };

#define MSG_TX_LEN (1 + 8 + 8) /* tag, transaction, seal */

#define MSG_MAX (1 + BLOCK_ENCODED_MAX + 8) /* tag, body, seal */

typedef struct msg {
    uint8_t tag;                  /* the first byte as received (0 if empty) */
    block b;                      /* MSG_BLOCK */
    uint8_t hash[BLOCK_HASH_LEN]; /* MSG_GET_BLOCK */
    uint64_t tx;                  /* MSG_TX */
} msg;

/* Frames b as a MSG_BLOCK into buf: the length, or 0 when cap is short. */
size_t msg_encode_block(const block *b, uint8_t *buf, size_t cap);

/* Frames a MSG_GET_BLOCK for hash into buf: 25, or 0 when cap is short. */
size_t msg_encode_get_block(const uint8_t hash[BLOCK_HASH_LEN], uint8_t *buf, size_t cap);

/* Frames a MSG_TX carrying tx into buf: MSG_TX_LEN, or 0 when cap is short. */
size_t msg_encode_tx(uint64_t tx, uint8_t *buf, size_t cap);

/* Parses one message: RT_OK; RT_EIO when its seal does not match (out->tag
 * is then 0); or RT_EINVAL for an unknown tag or a body of the wrong form
 * (out->tag still says what the first byte claimed). */
int msg_decode(const uint8_t *buf, size_t len, msg *out);

#endif /* DEJA_NODE_MSG_H */
