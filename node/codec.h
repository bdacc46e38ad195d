/*
 * codec.h -- little-endian stores and loads for the node's canonical
 * encodings (blocks, messages, log records), independent of the host's
 * byte order: every node hashes and checks the same bytes; and the seal
 * every message on the wire ends with (an XXH3-64 of the bytes before it),
 * so a message damaged on its way is refused instead of believed.
 */
#ifndef NODE_CODEC_H
#define NODE_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <xxhash.h>

/* On a little-endian host the canonical byte order is the host's: one
 * unaligned load or store (memcpy, which compilers turn into one move);
 * elsewhere byte by byte. Both give the same bytes. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define NODE_CODEC_LE 1
#else
#define NODE_CODEC_LE 0
#endif

static inline void node_put_u32(uint8_t *p, uint32_t v) {
    if (NODE_CODEC_LE) {
        memcpy(p, &v, 4);
        return;
    }
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static inline void node_put_u64(uint8_t *p, uint64_t v) {
    if (NODE_CODEC_LE) {
        memcpy(p, &v, 8);
        return;
    }
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint32_t node_get_u32(const uint8_t *p) {
    uint32_t v = 0;
    if (NODE_CODEC_LE) {
        memcpy(&v, p, 4);
        return v;
    }
    for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static inline uint64_t node_get_u64(const uint8_t *p) {
    uint64_t v = 0;
    if (NODE_CODEC_LE) {
        memcpy(&v, p, 8);
        return v;
    }
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* A node reports every message it refuses for a seal that does not match
 * as a fact of this named kind (rt_fact_kind_named; value: the sender). */
#define NODE_FACT_MSG_CORRUPT "msg.corrupt"

/* Bytes a seal adds to a message. */
#define NODE_SEAL_LEN 8

/* Appends the seal of buf[0, len) (XXH3-64, little-endian) after it: the
 * sealed length, or 0 when cap is short. */
static inline size_t node_seal(uint8_t *buf, size_t len, size_t cap) {
    if (cap < len + NODE_SEAL_LEN) return 0;
    node_put_u64(buf + len, XXH3_64bits(buf, len));
    return len + NODE_SEAL_LEN;
}

/* Whether buf[0, len) ends with the seal of what comes before it; *body is
 * then the length without the seal. */
static inline bool node_unseal(const uint8_t *buf, size_t len, size_t *body) {
    if (buf == NULL || len < NODE_SEAL_LEN) return false;
    *body = len - NODE_SEAL_LEN;
    return XXH3_64bits(buf, *body) == node_get_u64(buf + *body);
}

#endif /* NODE_CODEC_H */
