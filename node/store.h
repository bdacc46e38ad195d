/*
 * store.h -- where the node keeps its blocks, behind one small interface.
 *
 * The chain (chain.h) never knows how blocks are kept: it talks to a store,
 * a struct of function pointers in the style of a Redis `ae` backend. The
 * in-memory store (store_mem.c) is the first implementation; an SQLite
 * store on the virtual disk can be added behind the same calls. A store
 * holds only blocks whose whole ancestry it also holds (the chain imports
 * nothing else), the head hash, and a few named integers (the chain keeps
 * its confirmed height there so a restart from disk resumes it).
 *
 * Every call returns RT_OK or an RT_E* code (rt.h); a store that cannot
 * fail (memory) only ever returns RT_OK, RT_ENOENT or RT_ENOMEM.
 */
#ifndef DEJA_NODE_STORE_H
#define DEJA_NODE_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "block.h"

#define STORE_META_KEY_MAX 32 /* longest meta key, including the NUL */

typedef struct store store;

struct store {
    const char *kind; /* "mem", ... (for logs) */
    /* Keeps b under hash; putting a hash again leaves the first copy. */
    int (*put)(store *s, const uint8_t hash[BLOCK_HASH_LEN], const block *b);
    /* Copies the block kept under hash into out: RT_OK or RT_ENOENT. */
    int (*get)(store *s, const uint8_t hash[BLOCK_HASH_LEN], block *out);
    /* True when a block is kept under hash. */
    bool (*has)(store *s, const uint8_t hash[BLOCK_HASH_LEN]);
    /* Records the head (its block must have been put). */
    int (*set_head)(store *s, const uint8_t hash[BLOCK_HASH_LEN]);
    /* Copies the head into out: RT_OK, or RT_ENOENT on a fresh store. */
    int (*get_head)(store *s, uint8_t out[BLOCK_HASH_LEN]);
    /* Sets the named integer key (shorter than STORE_META_KEY_MAX). */
    int (*set_meta)(store *s, const char *key, int64_t val);
    /* Reads the named integer key: RT_OK or RT_ENOENT. */
    int (*get_meta)(store *s, const char *key, int64_t *val);
    /* Number of blocks kept. */
    uint64_t (*count)(store *s);
    /* Releases everything the store holds, s included. */
    void (*close)(store *s);
};

/* Opens an empty in-memory store, or returns NULL when out of memory. */
store *store_mem_open(void);

/* Thin wrappers so call sites read like functions. */
static inline int store_put(store *s, const uint8_t h[BLOCK_HASH_LEN], const block *b) {
    return s->put(s, h, b);
}
static inline int store_get(store *s, const uint8_t h[BLOCK_HASH_LEN], block *out) {
    return s->get(s, h, out);
}
static inline bool store_has(store *s, const uint8_t h[BLOCK_HASH_LEN]) { return s->has(s, h); }
static inline int store_set_head(store *s, const uint8_t h[BLOCK_HASH_LEN]) {
    return s->set_head(s, h);
}
static inline int store_get_head(store *s, uint8_t out[BLOCK_HASH_LEN]) {
    return s->get_head(s, out);
}
static inline int store_set_meta(store *s, const char *k, int64_t v) { return s->set_meta(s, k, v); }
static inline int store_get_meta(store *s, const char *k, int64_t *v) { return s->get_meta(s, k, v); }
static inline uint64_t store_count(store *s) { return s->count(s); }
static inline void store_close(store *s) { s->close(s); }

#endif /* DEJA_NODE_STORE_H */
