/*
 * block.h -- the block of the reference node and its one canonical encoding.
 *
 * A block names its parent by hash, says who built it (proposer), when (the
 * proposer's wall clock, ns) and for which slot, carries a small opaque
 * payload and the state root after applying that payload. Every block has
 * exactly one byte form, used both on the wire and for hashing, so that two
 * nodes holding the same block always compute the same hash:
 *
 *   offset size field
 *        0    8 height        u64 little-endian
 *        8    8 slot          u64 little-endian
 *       16   16 parent        hash bytes
 *       32    4 proposer      u32 little-endian
 *       36    8 timestamp     i64 little-endian (two's complement), ns
 *       44   16 state_root    hash bytes
 *       60    4 payload_len   u32 little-endian, <= BLOCK_PAYLOAD_MAX
 *       64    n payload       payload_len bytes
 *
 * The hash is XXH3-128 of those bytes, stored in XXH128_canonicalFromHash
 * (big-endian) order. Decoding accepts a buffer only when its length is
 * exactly 64 + payload_len, so every accepted buffer re-encodes to itself.
 */
#ifndef DEJA_NODE_BLOCK_H
#define DEJA_NODE_BLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BLOCK_HASH_LEN 16
#define BLOCK_PAYLOAD_MAX 256
#define BLOCK_HEADER_LEN 64
#define BLOCK_ENCODED_MAX (BLOCK_HEADER_LEN + BLOCK_PAYLOAD_MAX)

typedef struct block {
    uint64_t height;
    uint64_t slot;
    uint8_t parent[BLOCK_HASH_LEN];
    uint32_t proposer;
    int64_t timestamp; /* ns, the proposer's wall clock */
    uint8_t state_root[BLOCK_HASH_LEN];
    uint32_t payload_len;
    uint8_t payload[BLOCK_PAYLOAD_MAX];
} block;

/* Fills b with the genesis block: height 0, slot 0, zero parent, proposer 0,
 * timestamp 0, empty payload, zero state root; the same on every node. */
void block_genesis(block *b);

/* Writes the canonical encoding of b into buf (cap bytes). Returns its
 * length, or 0 when cap is too small. b->payload_len must be valid. */
size_t block_encode(const block *b, uint8_t *buf, size_t cap);

/* Parses a canonical encoding into out. Returns true on success; false (out
 * unspecified) when len is not exactly 64 + a valid payload_len. */
bool block_decode(const uint8_t *buf, size_t len, block *out);

/* The hash of b: XXH3-128 of its canonical encoding, big-endian bytes. */
void block_hash(const block *b, uint8_t out[BLOCK_HASH_LEN]);

/* The state root after b's payload is applied on top of parent_root: the
 * toy state machine of the reference node, XXH3-128 over parent_root, the
 * height (u64 LE) and the payload. */
void block_state_root(const uint8_t parent_root[BLOCK_HASH_LEN], uint64_t height,
                      const uint8_t *payload, uint32_t payload_len,
                      uint8_t out[BLOCK_HASH_LEN]);

/* Bytewise comparison of two hashes (memcmp order): <0, 0, >0. */
int block_hash_cmp(const uint8_t a[BLOCK_HASH_LEN], const uint8_t b[BLOCK_HASH_LEN]);

/* True when h is all zero bytes (the genesis parent). */
bool block_hash_is_zero(const uint8_t h[BLOCK_HASH_LEN]);

/* Formats the first 8 bytes of h as 16 hex digits into buf (>= 17 bytes),
 * for logs. Returns buf. */
char *block_hash_hex(const uint8_t h[BLOCK_HASH_LEN], char *buf);

#endif /* DEJA_NODE_BLOCK_H */
