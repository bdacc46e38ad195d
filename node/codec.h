/*
 * codec.h -- little-endian stores and loads for the node's canonical
 * encodings (blocks, messages, log records), independent of the host's
 * byte order: every node hashes and checks the same bytes.
 */
#ifndef NODE_CODEC_H
#define NODE_CODEC_H

#include <stdint.h>

static inline void node_put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static inline void node_put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint32_t node_get_u32(const uint8_t *p) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static inline uint64_t node_get_u64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

#endif /* NODE_CODEC_H */
