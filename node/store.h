/*
 * store.h -- where the node keeps its blocks, behind one small interface.
 *
 * The chain (chain.h) never knows how blocks are kept: it talks to a store,
 * a struct of function pointers in the style of a Redis `ae` backend. Two
 * implementations: in memory (store_mem.c: gone with the process) and
 * SQLite on the node's disk (store_sqlite.c: durable, checksummed). A store
 * holds only blocks whose whole ancestry it also holds (the chain imports
 * nothing else), the head hash, and a few named integers (the chain keeps
 * its confirmed height there so a restart from disk resumes it).
 *
 * Writes are grouped: begin, any number of put/set_head/set_meta, then
 * commit, which makes them all durable at once (store.sync=1) or undoes
 * them all when it fails; rollback undoes them on purpose. Writes outside
 * begin/commit are each their own transaction. The memory store has no
 * undo: its commit always succeeds and its rollback keeps everything.
 *
 * A durable store verifies a checksum on every record it reads; a record
 * that fails it is reported (RT_FACT_CORRUPTION), dropped, and treated as
 * missing, so get/has/get_head never hand out corrupt data. The hashes of
 * dropped blocks queue up for take_corrupt, so the node can fetch them
 * again from its peers.
 *
 * Every call returns RT_OK or an RT_E* code (rt.h); a store that cannot
 * fail (memory) only ever returns RT_OK, RT_ENOENT or RT_ENOMEM. A durable
 * store also returns RT_EIO (an I/O error or corruption) and RT_ENOSPC.
 */
#ifndef DEJA_NODE_STORE_H
#define DEJA_NODE_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "block.h"

#define STORE_META_KEY_MAX 32 /* longest meta key, including the NUL */

typedef struct store store;

/* Values of RT_FACT_CORRUPTION facts: what the corruption was found in. */
enum {
    STORE_CORRUPT_BLOCK = 1,  /* a block record failed its checksum */
    STORE_CORRUPT_STATE = 2,  /* a state record (head, meta) failed its checksum */
    STORE_CORRUPT_SQLITE = 3, /* SQLite found its own structures corrupt */
};

struct store {
    const char *kind; /* "mem", "sqlite" (for logs) */
    bool durable;     /* its contents survive a crash (once committed) */
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
    /* Starts a group of writes (see the top of the file). */
    int (*begin)(store *s);
    /* Makes the writes since begin durable; on failure they are undone. */
    int (*commit)(store *s);
    /* Undoes the writes since begin (a no-op outside a group). */
    void (*rollback)(store *s);
    /* Checks the whole store's integrity: RT_OK, or RT_EIO when damaged. */
    int (*check)(store *s);
    /* Pops the hash of a block dropped as corrupt: RT_OK, or RT_ENOENT. */
    int (*take_corrupt)(store *s, uint8_t out[BLOCK_HASH_LEN]);
    /* Releases everything the store holds, s included. */
    void (*close)(store *s);
};

/* Opens an empty in-memory store, or returns NULL when out of memory. */
store *store_mem_open(void);

/* True when s lends its blocks (store_peek): the memory store, whose reads
 * have no effect beyond their result, so a caller may read through it as
 * often as it likes without changing what a run does. A durable store's
 * reads go to its disk (and meet its faults): read it with get. */
bool store_lends(const store *s);

/* The block kept under hash in a store that lends (store_lends), read in
 * place, or NULL when none is kept. Only its first offsetof(block, payload)
 * + payload_len bytes may be read (never copy it whole); it stays valid
 * until the store is closed. */
const block *store_peek(store *s, const uint8_t hash[BLOCK_HASH_LEN]);

/* Settings of the SQLite store (store.* parameters). */
typedef struct store_sqlite_cfg {
    bool sync;         /* store.sync: false runs synchronous=OFF (commits not
                          durable across a crash: a careless node) */
    bool verify_reads; /* store.verify_reads: SQLite reads through the
                          STORE_VFS_NAME layer (store_vfs.c) */
} store_sqlite_cfg;

/* Opens (creating it if needed) the SQLite store in file `path` of the
 * node's disk ("chain.db": a flat name, the data directory in production),
 * in WAL mode with exclusive locking. Returns RT_OK and *out, or RT_EIO
 * (unreadable or not a store), RT_ENOSPC or RT_ENOMEM with *out NULL. */
int store_sqlite_open(const char *path, const store_sqlite_cfg *cfg, store **out);

/* Deletes the SQLite store at path and its side files (-wal, -shm,
 * -journal), so that the next open starts empty. RT_OK or RT_EIO. */
int store_sqlite_wipe(const char *path);

/* The read-verifying VFS layered over the backend's (store_vfs.c). */
#define STORE_VFS_NAME "deja-verify"

/* Registers the backend's VFS (rt_sqlite_vfs_register) and STORE_VFS_NAME
 * over it. Idempotent; RT_OK, or RT_EIO / RT_ENOMEM. */
int store_vfs_register(void);

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
static inline int store_begin(store *s) { return s->begin(s); }
static inline int store_commit(store *s) { return s->commit(s); }
static inline void store_rollback(store *s) { s->rollback(s); }
static inline int store_check(store *s) { return s->check(s); }
static inline int store_take_corrupt(store *s, uint8_t out[BLOCK_HASH_LEN]) {
    return s->take_corrupt(s, out);
}
static inline void store_close(store *s) { s->close(s); }

#endif /* DEJA_NODE_STORE_H */
