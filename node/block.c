/*
 * block.c -- the canonical encoding, decoding and hashing of blocks (see
 * block.h for the byte layout). Everything here is pure: no allocation, no
 * clock, no I/O, so both the simulator and the production node, on any
 * compiler, derive the same bytes and the same hash from the same block.
 */
#include "block.h"

#include <assert.h>
#include <string.h>

#include "codec.h"

#include <xxhash.h>

void block_genesis(block *b) {
    assert(b != NULL);
    memset(b, 0, sizeof *b);
}

size_t block_encode(const block *b, uint8_t *buf, size_t cap) {
    assert(b != NULL && buf != NULL);
    assert(b->payload_len <= BLOCK_PAYLOAD_MAX);
    size_t n = BLOCK_HEADER_LEN + (size_t)b->payload_len;
    if (cap < n) return 0;
    node_put_u64(buf + 0, b->height);
    node_put_u64(buf + 8, b->slot);
    memcpy(buf + 16, b->parent, BLOCK_HASH_LEN);
    node_put_u32(buf + 32, b->proposer);
    node_put_u64(buf + 36, (uint64_t)b->timestamp);
    memcpy(buf + 44, b->state_root, BLOCK_HASH_LEN);
    node_put_u32(buf + 60, b->payload_len);
    if (b->payload_len > 0) memcpy(buf + BLOCK_HEADER_LEN, b->payload, b->payload_len);
    return n;
}

bool block_decode(const uint8_t *buf, size_t len, block *out) {
    assert(out != NULL);
    if (buf == NULL || len < BLOCK_HEADER_LEN || len > BLOCK_ENCODED_MAX) return false;
    uint32_t plen = node_get_u32(buf + 60);
    if (plen > BLOCK_PAYLOAD_MAX || len != BLOCK_HEADER_LEN + (size_t)plen) return false;
    memset(out, 0, sizeof *out);
    out->height = node_get_u64(buf + 0);
    out->slot = node_get_u64(buf + 8);
    memcpy(out->parent, buf + 16, BLOCK_HASH_LEN);
    out->proposer = node_get_u32(buf + 32);
    out->timestamp = (int64_t)node_get_u64(buf + 36);
    memcpy(out->state_root, buf + 44, BLOCK_HASH_LEN);
    out->payload_len = plen;
    if (plen > 0) memcpy(out->payload, buf + BLOCK_HEADER_LEN, plen);
    return true;
}

/* Stores an XXH3-128 result in its canonical (big-endian) byte order. */
static void block__canonical(XXH128_hash_t h, uint8_t out[BLOCK_HASH_LEN]) {
    XXH128_canonical_t c;
    _Static_assert(sizeof c.digest == BLOCK_HASH_LEN, "XXH128 canonical is 16 bytes");
    XXH128_canonicalFromHash(&c, h);
    memcpy(out, c.digest, BLOCK_HASH_LEN);
}

void block_hash(const block *b, uint8_t out[BLOCK_HASH_LEN]) {
    uint8_t buf[BLOCK_ENCODED_MAX];
    size_t n = block_encode(b, buf, sizeof buf);
    assert(n >= BLOCK_HEADER_LEN);
    block__canonical(XXH3_128bits(buf, n), out);
}

void block_state_root(const uint8_t parent_root[BLOCK_HASH_LEN], uint64_t height,
                      const uint8_t *payload, uint32_t payload_len,
                      uint8_t out[BLOCK_HASH_LEN]) {
    assert(parent_root != NULL && out != NULL);
    assert(payload_len <= BLOCK_PAYLOAD_MAX);
    assert(payload_len == 0 || payload != NULL);
    uint8_t buf[BLOCK_HASH_LEN + 8 + BLOCK_PAYLOAD_MAX];
    memcpy(buf, parent_root, BLOCK_HASH_LEN);
    node_put_u64(buf + BLOCK_HASH_LEN, height);
    if (payload_len > 0) memcpy(buf + BLOCK_HASH_LEN + 8, payload, payload_len);
    block__canonical(XXH3_128bits(buf, BLOCK_HASH_LEN + 8 + (size_t)payload_len), out);
}

int block_hash_cmp(const uint8_t a[BLOCK_HASH_LEN], const uint8_t b[BLOCK_HASH_LEN]) {
    assert(a != NULL && b != NULL);
    return memcmp(a, b, BLOCK_HASH_LEN);
}

bool block_hash_is_zero(const uint8_t h[BLOCK_HASH_LEN]) {
    assert(h != NULL);
    for (int i = 0; i < BLOCK_HASH_LEN; i++)
        if (h[i] != 0) return false;
    return true;
}

char *block_hash_hex(const uint8_t h[BLOCK_HASH_LEN], char *buf) {
    static const char digits[] = "0123456789abcdef";
    assert(h != NULL && buf != NULL);
    for (int i = 0; i < 8; i++) {
        buf[2 * i] = digits[h[i] >> 4];
        buf[2 * i + 1] = digits[h[i] & 15];
    }
    buf[16] = '\0';
    return buf;
}
