/*
 * store_mem.c -- the in-memory store: an open-addressing hash table keyed by
 * the 16-byte block hash (linear probing, grown at half load) whose slots
 * point at compact copies of the blocks (only payload_len payload bytes),
 * plus the head and a small table of named integers. Block hashes are
 * already uniform, so the first 8 bytes serve as the table index. Nothing is
 * ever removed, so probing needs no tombstones, and a block's copy stays
 * where it is until close: the store lends it (store_peek). All memory
 * comes from
 * rt_malloc and is accounted to the node, so its resident size grows with
 * the chain as a real node's would.
 */
#include <assert.h>
#include <stddef.h>
#include <string.h>

#include "deja/rt.h"
#include "store.h"

#define STORE_MEM_MIN_CAP 64 /* initial slots (a power of two) */
#define STORE_MEM_META_MAX 16

typedef struct store_mem__entry {
    uint8_t hash[BLOCK_HASH_LEN];
    block *b; /* NULL: an empty slot; else offsetof(block, payload) + payload_len bytes */
} store_mem__entry;

typedef struct store_mem__meta {
    char key[STORE_META_KEY_MAX];
    int64_t val;
} store_mem__meta;

typedef struct store_mem {
    store base; /* first: a store* is a store_mem* */
    store_mem__entry *slots;
    uint64_t cap; /* power of two */
    uint64_t count;
    bool has_head;
    uint8_t head[BLOCK_HASH_LEN];
    int nmeta;
    store_mem__meta meta[STORE_MEM_META_MAX];
} store_mem;

/* The table index where hash h starts probing (cap is a power of two):
 * the first 8 bytes read big-endian (one load, swapped on little-endian
 * hosts), masked. */
static uint64_t store_mem__index(const uint8_t h[BLOCK_HASH_LEN], uint64_t cap) {
    uint64_t v = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(&v, h, 8);
    v = __builtin_bswap64(v);
#else
    for (int i = 0; i < 8; i++) v = (v << 8) | h[i];
#endif
    return v & (cap - 1);
}

/* The slot holding h, or the empty slot where h would go. */
static store_mem__entry *store_mem__find(const store_mem *m, const uint8_t h[BLOCK_HASH_LEN]) {
    assert(m->count < m->cap); /* so probing always ends (cap: a power of two, see grow) */
    uint64_t mask = m->cap - 1;
    uint64_t i = store_mem__index(h, m->cap);
    for (;;) {
        store_mem__entry *e = &m->slots[i];
        if (e->b == NULL || memcmp(e->hash, h, BLOCK_HASH_LEN) == 0) return e;
        i = (i + 1) & mask;
    }
}

/* Doubles the table and rehashes every entry: RT_OK or RT_ENOMEM. */
static int store_mem__grow(store_mem *m) {
    uint64_t ncap = m->cap * 2;
    assert(ncap > m->cap && (ncap & (ncap - 1)) == 0);
    store_mem__entry *old = m->slots;
    uint64_t ocap = m->cap;
    store_mem__entry *n = rt_calloc((size_t)ncap, sizeof *n);
    if (n == NULL) return RT_ENOMEM;
    m->slots = n;
    m->cap = ncap;
    for (uint64_t i = 0; i < ocap; i++) { /* distinct hashes: the first empty slot, no compare */
        if (old[i].b == NULL) continue;
        uint64_t j = store_mem__index(old[i].hash, ncap);
        while (n[j].b != NULL) j = (j + 1) & (ncap - 1);
        n[j] = old[i];
    }
    rt_free(old);
    return RT_OK;
}

static int store_mem__put(store *s, const uint8_t h[BLOCK_HASH_LEN], const block *b) {
    store_mem *m = (store_mem *)s;
    assert(h != NULL && b != NULL);
    if (2 * (m->count + 1) > m->cap) {
        int rc = store_mem__grow(m);
        if (rc != RT_OK) return rc;
    }
    assert(b->payload_len <= BLOCK_PAYLOAD_MAX);
    store_mem__entry *e = store_mem__find(m, h);
    if (e->b != NULL) return RT_OK;
    size_t size = offsetof(block, payload) + b->payload_len;
    block *copy = rt_malloc(size);
    if (copy == NULL) return RT_ENOMEM;
    memcpy(copy, b, size);
    memcpy(e->hash, h, BLOCK_HASH_LEN);
    e->b = copy;
    m->count++;
    return RT_OK;
}

static int store_mem__get(store *s, const uint8_t h[BLOCK_HASH_LEN], block *out) {
    store_mem *m = (store_mem *)s;
    assert(h != NULL && out != NULL);
    const store_mem__entry *e = store_mem__find(m, h);
    if (e->b == NULL) return RT_ENOENT;
    memcpy(out, e->b, offsetof(block, payload) + e->b->payload_len);
    return RT_OK;
}

static bool store_mem__has(store *s, const uint8_t h[BLOCK_HASH_LEN]) {
    return store_mem__find((store_mem *)s, h)->b != NULL;
}

static int store_mem__set_head(store *s, const uint8_t h[BLOCK_HASH_LEN]) {
    store_mem *m = (store_mem *)s;
    assert(store_mem__has(s, h));
    memcpy(m->head, h, BLOCK_HASH_LEN);
    m->has_head = true;
    return RT_OK;
}

static int store_mem__get_head(store *s, uint8_t out[BLOCK_HASH_LEN]) {
    store_mem *m = (store_mem *)s;
    if (!m->has_head) return RT_ENOENT;
    memcpy(out, m->head, BLOCK_HASH_LEN);
    return RT_OK;
}

/* The meta entry named key, or NULL. */
static store_mem__meta *store_mem__meta_find(store_mem *m, const char *key) {
    for (int i = 0; i < m->nmeta; i++)
        if (strcmp(m->meta[i].key, key) == 0) return &m->meta[i];
    return NULL;
}

static int store_mem__set_meta(store *s, const char *key, int64_t val) {
    store_mem *m = (store_mem *)s;
    assert(key != NULL);
    size_t klen = strlen(key);
    if (klen == 0 || klen >= STORE_META_KEY_MAX) return RT_EINVAL;
    store_mem__meta *e = store_mem__meta_find(m, key);
    if (e == NULL) {
        if (m->nmeta == STORE_MEM_META_MAX) return RT_ENOMEM;
        e = &m->meta[m->nmeta++];
        memcpy(e->key, key, klen + 1);
    }
    e->val = val;
    return RT_OK;
}

static int store_mem__get_meta(store *s, const char *key, int64_t *val) {
    store_mem *m = (store_mem *)s;
    assert(key != NULL && val != NULL);
    const store_mem__meta *e = store_mem__meta_find(m, key);
    if (e == NULL) return RT_ENOENT;
    *val = e->val;
    return RT_OK;
}

static uint64_t store_mem__count(store *s) { return ((store_mem *)s)->count; }

/* Memory keeps every write at once: nothing to group, undo or check. */
static int store_mem__begin(store *s) {
    (void)s;
    return RT_OK;
}

static int store_mem__commit(store *s) {
    (void)s;
    return RT_OK;
}

static void store_mem__rollback(store *s) { (void)s; }

static int store_mem__check(store *s) {
    (void)s;
    return RT_OK;
}

static int store_mem__take_corrupt(store *s, uint8_t out[BLOCK_HASH_LEN]) {
    (void)s, (void)out;
    return RT_ENOENT;
}

static void store_mem__close(store *s) {
    store_mem *m = (store_mem *)s;
    for (uint64_t i = 0; i < m->cap; i++)
        if (m->slots[i].b != NULL) rt_free(m->slots[i].b);
    rt_free(m->slots);
    rt_free(m);
}

store *store_mem_open(void) {
    store_mem *m = rt_calloc(1, sizeof *m);
    if (m == NULL) return NULL;
    m->slots = rt_calloc(STORE_MEM_MIN_CAP, sizeof *m->slots);
    if (m->slots == NULL) {
        rt_free(m);
        return NULL;
    }
    m->cap = STORE_MEM_MIN_CAP;
    m->base = (store){
        .kind = "mem",
        .durable = false,
        .put = store_mem__put,
        .get = store_mem__get,
        .has = store_mem__has,
        .set_head = store_mem__set_head,
        .get_head = store_mem__get_head,
        .set_meta = store_mem__set_meta,
        .get_meta = store_mem__get_meta,
        .count = store_mem__count,
        .begin = store_mem__begin,
        .commit = store_mem__commit,
        .rollback = store_mem__rollback,
        .check = store_mem__check,
        .take_corrupt = store_mem__take_corrupt,
        .close = store_mem__close,
    };
    return &m->base;
}

/* The memory store is the one whose close is store_mem__close (the store
 * struct has no room for a flag: its size is charged to the node). */
bool store_lends(const store *s) {
    assert(s != NULL);
    return s->close == store_mem__close;
}

const block *store_peek(store *s, const uint8_t h[BLOCK_HASH_LEN]) {
    assert(store_lends(s) && h != NULL);
    return store_mem__find((store_mem *)s, h)->b;
}
