/*
 * chain.c -- the block tree (see chain.h for the rules): linking blocks to
 * imported parents, the bounded orphan pool and its cascade, longest-chain
 * fork choice with the lower-hash tie-break, reorg depth, and confirmation
 * at depth k. All state lives in the chain struct; memory is allocated at
 * open (work lists, a small orphan pool), plus a list for a confirmation
 * batch of more than CHAIN_CONFIRM_BATCH heights, and the orphan pool grows
 * by doubling up to orphan_max as orphans arrive (so ten thousand nodes do
 * not each hold a full pool they never use). Walks towards genesis (reorg
 * depth, confirmation, canonical lookups) read blocks in place from a store
 * that lends them (store.h: store_peek), else copy each out with get.
 */
#include "chain.h"

#include <assert.h>
#include <stddef.h>
#include <string.h>

#include "deja/rt.h"

#define CHAIN_META_CONFIRMED "chain.confirmed"
#define CHAIN_POOL_START 8 /* orphan pool entries allocated at open */

typedef struct chain__orphan {
    uint8_t hash[BLOCK_HASH_LEN];
    block b;
} chain__orphan;

typedef uint8_t chain__hash[BLOCK_HASH_LEN];

struct chain {
    store *st;
    chain_config cfg;
    chain_event_fn fn;
    void *arg;
    block head;
    uint8_t head_hash[BLOCK_HASH_LEN];
    uint64_t confirmed;
    chain__orphan *pool; /* insertion order: index 0 is the oldest */
    uint32_t npool, cappool; /* cappool <= orphan_max */
    chain__hash *work; /* adopt queue, orphan_max + 1 entries */
    chain__hash *bad;  /* drop queue, orphan_max + 1 entries */
};

/* Delivers one event to the engine. */
static void chain__emit(chain *c, chain_event_kind kind, const block *b, const uint8_t *hash,
                        bool local, node_reason reason, uint64_t depth, bool below) {
    chain_event ev = {
        .kind = kind,
        .b = b,
        .hash = hash,
        .local = local,
        .reason = reason,
        .reorg_depth = depth,
        .below_confirmed = below,
    };
    if (c->fn != NULL) c->fn(c->arg, &ev);
}

/* True when the store lends its blocks and h is the head's hash: then the
 * chain's own copy of the head stands for a read of it (reads of such a
 * store change nothing, so skipping one changes nothing either). */
static bool chain__lent_head(const chain *c, const uint8_t h[BLOCK_HASH_LEN]) {
    return store_lends(c->st) && memcmp(h, c->head_hash, BLOCK_HASH_LEN) == 0;
}

/* True when (b, h) beats the current head under the fork-choice rule. */
static bool chain__better(const chain *c, const block *b, const uint8_t h[BLOCK_HASH_LEN]) {
    if (b->height != c->head.height) return b->height > c->head.height;
    return block_hash_cmp(h, c->head_hash) < 0;
}

/* Index of the orphan with hash h, or -1. */
static int chain__orphan_find(const chain *c, const uint8_t h[BLOCK_HASH_LEN]) {
    for (uint32_t i = 0; i < c->npool; i++)
        if (memcmp(c->pool[i].hash, h, BLOCK_HASH_LEN) == 0) return (int)i;
    return -1;
}

/* Removes orphan i, keeping the others in insertion order. */
static void chain__orphan_remove(chain *c, uint32_t i) {
    assert(i < c->npool);
    memmove(&c->pool[i], &c->pool[i + 1], (size_t)(c->npool - i - 1) * sizeof c->pool[0]);
    c->npool--;
}

/* Grows the pool (doubling, at most orphan_max) when it is full; false
 * when it cannot grow (at orphan_max, or out of memory). */
static bool chain__pool_grow(chain *c) {
    if (c->npool < c->cappool) return true;
    if (c->cappool == c->cfg.orphan_max) return false;
    uint32_t cap = c->cappool > c->cfg.orphan_max / 2 ? c->cfg.orphan_max : 2 * c->cappool;
    chain__orphan *p = rt_realloc(c->pool, (size_t)cap * sizeof *p);
    if (p == NULL) return false;
    c->pool = p;
    c->cappool = cap;
    return true;
}

/* Puts (b, h) in the pool, evicting the oldest orphan when it is full. */
static void chain__orphan_add(chain *c, const block *b, const uint8_t h[BLOCK_HASH_LEN]) {
    assert(chain__orphan_find(c, h) < 0);
    assert(!store_has(c->st, b->parent));
    if (!chain__pool_grow(c)) {
        assert(c->npool > 0);
        chain__orphan old = c->pool[0];
        chain__orphan_remove(c, 0);
        chain__emit(c, CHAIN_EV_REJECTED, &old.b, old.hash, false, NODE_REJ_ORPHAN_EVICTED, 0,
                    false);
    }
    assert(c->npool < c->cappool && c->cappool <= c->cfg.orphan_max);
    memcpy(c->pool[c->npool].hash, h, BLOCK_HASH_LEN);
    c->pool[c->npool].b = *b;
    c->npool++;
}

/* The nearest ancestor of a block with parent `parent` that is neither
 * imported nor pooled: the one to ask a peer for. */
static void chain__missing(const chain *c, const uint8_t parent[BLOCK_HASH_LEN],
                           uint8_t out[BLOCK_HASH_LEN]) {
    const uint8_t *p = parent;
    for (uint32_t steps = 0;; steps++) {
        assert(steps <= c->npool); /* hashes cannot form a cycle */
        int i = chain__orphan_find(c, p);
        if (i < 0) break;
        p = c->pool[i].b.parent;
    }
    memcpy(out, p, BLOCK_HASH_LEN);
}

/* Drops every pooled descendant of the refused block h (BAD_ANCESTOR). */
static void chain__drop_descendants(chain *c, const uint8_t h[BLOCK_HASH_LEN]) {
    uint32_t n = 0;
    memcpy(c->bad[n++], h, BLOCK_HASH_LEN);
    for (uint32_t i = 0; i < n; i++) {
        for (uint32_t j = 0; j < c->npool;) {
            if (memcmp(c->pool[j].b.parent, c->bad[i], BLOCK_HASH_LEN) != 0) {
                j++;
                continue;
            }
            chain__orphan o = c->pool[j];
            chain__orphan_remove(c, j);
            assert(n < c->cfg.orphan_max + 1);
            memcpy(c->bad[n++], o.hash, BLOCK_HASH_LEN);
            chain__emit(c, CHAIN_EV_REJECTED, &o.b, o.hash, false, NODE_REJ_BAD_ANCESTOR, 0, false);
        }
    }
}

/* The chain's own rules between b and its imported parent. */
static node_reason chain__check(const chain *c, const block *b, const block *parent) {
    if (b->height != parent->height + 1) return NODE_REJ_HEIGHT;
    uint8_t root[BLOCK_HASH_LEN];
    block_state_root(parent->state_root, b->height, b->payload, b->payload_len, root);
    if (memcmp(root, b->state_root, BLOCK_HASH_LEN) != 0) return NODE_REJ_STATE_ROOT;
    if (c->cfg.validate != NULL) return c->cfg.validate(c->cfg.validate_arg, b, parent);
    return NODE_REJ_NONE;
}

/* Links b (whose parent is imported) into the tree: checks it, stores it,
 * reports it and lets it compete for head. Sets *why to the refusal reason
 * (NODE_REJ_NONE when linked; NODE_REJ_STORE exactly when the store
 * failed). Returns RT_OK or the store's error. */
static int chain__link(chain *c, const block *b, const uint8_t h[BLOCK_HASH_LEN], bool local,
                       node_reason *why) {
    block copy;
    const block *parent = &c->head; /* a block built on the head: no read */
    int rc = RT_OK;
    if (!chain__lent_head(c, b->parent)) {
        rc = store_get(c->st, b->parent, &copy);
        parent = &copy;
    }
    if (rc == RT_OK) {
        *why = chain__check(c, b, parent);
        if (*why == NODE_REJ_NONE) rc = store_put(c->st, h, b);
    }
    if (rc != RT_OK) *why = NODE_REJ_STORE;
    if (*why != NODE_REJ_NONE) {
        chain__emit(c, CHAIN_EV_REJECTED, b, h, local, *why, 0, false);
        chain__drop_descendants(c, h);
        return rc;
    }
    chain__emit(c, CHAIN_EV_IMPORTED, b, h, local, NODE_REJ_NONE, 0, false);
    if (chain__better(c, b, h)) { /* its payload_len bytes of payload: the rest means nothing */
        memcpy(&c->head, b, offsetof(block, payload) + b->payload_len);
        memcpy(c->head_hash, h, BLOCK_HASH_LEN);
    }
    return RT_OK;
}

/* Imports every pooled orphan that descends from the just-linked block h. */
static void chain__adopt(chain *c, const uint8_t h[BLOCK_HASH_LEN]) {
    uint32_t n = 0;
    memcpy(c->work[n++], h, BLOCK_HASH_LEN);
    for (uint32_t i = 0; i < n; i++) {
        /* Rescan from the start after each link: dropping descendants of a
         * refused orphan may remove entries anywhere in the pool. */
        for (uint32_t j = 0; j < c->npool;) {
            if (memcmp(c->pool[j].b.parent, c->work[i], BLOCK_HASH_LEN) != 0) {
                j++;
                continue;
            }
            chain__orphan o = c->pool[j];
            chain__orphan_remove(c, j);
            node_reason why = NODE_REJ_NONE;
            (void)chain__link(c, &o.b, o.hash, false, &why);
            if (why == NODE_REJ_NONE) {
                assert(n < c->cfg.orphan_max + 1);
                memcpy(c->work[n++], o.hash, BLOCK_HASH_LEN);
            }
            j = 0;
        }
    }
}

/* A place in the tree, as a walk towards genesis sees it: a block's
 * height, hash and parent. */
typedef struct chain__pos {
    uint64_t height;
    uint8_t hash[BLOCK_HASH_LEN];
    uint8_t parent[BLOCK_HASH_LEN];
} chain__pos;

/* The place of block b (hash h). */
static void chain__pos_of(chain__pos *p, const block *b, const uint8_t h[BLOCK_HASH_LEN]) {
    p->height = b->height;
    memcpy(p->hash, h, BLOCK_HASH_LEN);
    memcpy(p->parent, b->parent, BLOCK_HASH_LEN);
}

/* Moves *p to its parent, read from the store: in place when the store
 * lends its blocks (store.h: store_peek; *lent, when asked for, is then
 * that block), else copied out (*lent NULL), one get per step as a durable
 * store has always been read. RT_OK or the store's error. */
static int chain__step_back_lent(chain *c, chain__pos *p, const block **lent) {
    assert(p->height > 0);
    const block *b;
    block copy;
    if (lent != NULL) *lent = NULL;
    if (store_lends(c->st)) {
        b = store_peek(c->st, p->parent);
        if (b == NULL) return RT_ENOENT;
        if (lent != NULL) *lent = b;
    } else {
        int rc = store_get(c->st, p->parent, &copy);
        if (rc != RT_OK) return rc;
        b = &copy;
    }
    assert(b->height + 1 == p->height);
    p->height = b->height;
    memcpy(p->hash, p->parent, BLOCK_HASH_LEN);
    memcpy(p->parent, b->parent, BLOCK_HASH_LEN);
    return RT_OK;
}

static int chain__step_back(chain *c, chain__pos *p) { return chain__step_back_lent(c, p, NULL); }

#define CHAIN_CONFIRM_BATCH 16 /* confirmations listed on the stack; more: one allocation */

/* Reports every height that reached depth k since the last report, in
 * increasing order, and records the new confirmed height. */
static int chain__confirm(chain *c) {
    uint64_t k = c->cfg.confirm_depth;
    if (c->head.height < k) return RT_OK;
    uint64_t target = c->head.height - k;
    if (target <= c->confirmed) return RT_OK;
    uint64_t count = target - c->confirmed;
    chain__hash few[CHAIN_CONFIRM_BATCH];
    chain__hash *hs = few;
    if (count > CHAIN_CONFIRM_BATCH) {
        hs = rt_malloc((size_t)count * sizeof *hs);
        if (hs == NULL) return RT_ENOMEM;
    }
    chain__pos p;
    chain__pos_of(&p, &c->head, c->head_hash);
    const block *lent = NULL; /* the block at p, when the store lent it */
    int rc = RT_OK;
    while (rc == RT_OK && p.height > target) rc = chain__step_back_lent(c, &p, &lent);
    for (uint64_t i = count; rc == RT_OK && i-- > 0;) {
        assert(p.height == c->confirmed + 1 + i);
        memcpy(hs[i], p.hash, BLOCK_HASH_LEN);
        if (i > 0) rc = chain__step_back_lent(c, &p, &lent);
    }
    block b;
    for (uint64_t i = 0; rc == RT_OK && i < count; i++) {
        if (i == 0 && lent != NULL) { /* the walk ended on it: copy it, no second look-up */
            memcpy(&b, lent, offsetof(block, payload) + lent->payload_len);
        } else {
            rc = store_get(c->st, hs[i], &b);
        }
        if (rc != RT_OK) break;
        assert(b.height == c->confirmed + 1);
        c->confirmed++;
        chain__emit(c, CHAIN_EV_CONFIRMED, &b, hs[i], false, NODE_REJ_NONE, 0, false);
    }
    if (hs != few) rt_free(hs);
    int mrc = store_set_meta(c->st, CHAIN_META_CONFIRMED, (int64_t)c->confirmed);
    return rc != RT_OK ? rc : mrc;
}

/* After the head moved from `old`: measures the reorg, records the head,
 * reports it, and reports new confirmations. */
static int chain__head_moved(chain *c, const chain__pos *old) {
    assert(c->head.height >= old->height);
    chain__pos a, o = *old;
    chain__pos_of(&a, &c->head, c->head_hash);
    int rc = RT_OK;
    if (store_lends(c->st) && a.height == o.height + 1 && memcmp(a.parent, o.hash, BLOCK_HASH_LEN) == 0)
        a = o; /* the new head extends the old one: the step back is known */
    while (rc == RT_OK && a.height > o.height) rc = chain__step_back(c, &a);
    uint64_t depth = 0;
    while (rc == RT_OK && memcmp(a.hash, o.hash, BLOCK_HASH_LEN) != 0) {
        assert(a.height == o.height && a.height > 0); /* genesis is shared */
        rc = chain__step_back(c, &a);
        if (rc == RT_OK) rc = chain__step_back(c, &o);
        depth++;
    }
    if (rc != RT_OK) return rc;
    uint64_t ancestor = old->height - depth;
    bool below = ancestor < c->confirmed;
    if (below) {
        c->confirmed = ancestor; /* the new blocks above it get confirmed in turn */
    }
    rc = store_set_head(c->st, c->head_hash);
    chain__emit(c, CHAIN_EV_HEAD, &c->head, c->head_hash, false, NODE_REJ_NONE, depth, below);
    int crc = chain__confirm(c);
    return rc != RT_OK ? rc : crc;
}

chain_status chain_import(chain *c, const block *b, bool local, chain_result *out) {
    assert(c != NULL && b != NULL);
    assert(b->payload_len <= BLOCK_PAYLOAD_MAX);
    uint8_t h[BLOCK_HASH_LEN];
    block_hash(b, h);
    return chain_import_hashed(c, b, h, local, out);
}

chain_status chain_import_hashed(chain *c, const block *b, const uint8_t hash[BLOCK_HASH_LEN], bool local,
                                 chain_result *out) {
    assert(c != NULL && b != NULL && hash != NULL);
    assert(b->payload_len <= BLOCK_PAYLOAD_MAX);
    chain_result r;
    memset(&r, 0, sizeof r);
    memcpy(r.hash, hash, BLOCK_HASH_LEN);
    if (store_has(c->st, r.hash)) {
        r.status = CHAIN_KNOWN;
    } else if (b->height == 0) {
        r.status = CHAIN_INVALID;
        r.reason = NODE_REJ_HEIGHT;
        chain__emit(c, CHAIN_EV_REJECTED, b, r.hash, local, r.reason, 0, false);
    } else if (chain__orphan_find(c, r.hash) >= 0) {
        r.status = CHAIN_ORPHAN;
        chain__missing(c, b->parent, r.missing);
    } else if (!chain__lent_head(c, b->parent) && !store_has(c->st, b->parent)) {
        chain__orphan_add(c, b, r.hash);
        r.status = CHAIN_ORPHAN;
        chain__missing(c, b->parent, r.missing);
    } else {
        chain__pos old;
        chain__pos_of(&old, &c->head, c->head_hash);
        node_reason why = NODE_REJ_NONE;
        r.rc = chain__link(c, b, r.hash, local, &why);
        if (why != NODE_REJ_NONE) {
            assert((r.rc != RT_OK) == (why == NODE_REJ_STORE));
            r.status = r.rc != RT_OK ? CHAIN_ERROR : CHAIN_INVALID;
            r.reason = why;
        } else {
            chain__adopt(c, r.hash);
            r.status = CHAIN_IMPORTED;
            if (memcmp(old.hash, c->head_hash, BLOCK_HASH_LEN) != 0) {
                r.rc = chain__head_moved(c, &old);
                if (r.rc != RT_OK) r.status = CHAIN_ERROR;
            }
        }
    }
    assert(c->npool <= c->cfg.orphan_max);
    if (out != NULL) *out = r;
    return r.status;
}

chain *chain_open(store *st, const chain_config *cfg, chain_event_fn fn, void *arg) {
    assert(st != NULL && cfg != NULL);
    assert(cfg->orphan_max >= 1);
    chain *c = rt_calloc(1, sizeof *c);
    if (c == NULL) return NULL;
    c->st = st;
    c->cfg = *cfg;
    c->fn = fn;
    c->arg = arg;
    c->cappool = cfg->orphan_max < CHAIN_POOL_START ? cfg->orphan_max : CHAIN_POOL_START;
    c->pool = rt_calloc(c->cappool, sizeof *c->pool);
    c->work = rt_calloc((size_t)cfg->orphan_max + 1, sizeof *c->work);
    c->bad = rt_calloc((size_t)cfg->orphan_max + 1, sizeof *c->bad);
    if (c->pool == NULL || c->work == NULL || c->bad == NULL) goto fail;
    int rc = store_get_head(st, c->head_hash);
    if (rc == RT_OK) {
        /* resume: the store already holds a tree */
        if (store_get(st, c->head_hash, &c->head) != RT_OK) goto fail;
        int64_t conf = 0;
        rc = store_get_meta(st, CHAIN_META_CONFIRMED, &conf);
        if (rc != RT_OK && rc != RT_ENOENT) goto fail;
        if (rc == RT_OK && conf > 0) c->confirmed = (uint64_t)conf;
        if (c->confirmed > c->head.height) {
            /* a durable store that dropped corrupt blocks may hold a lower
             * head than the confirmations it recorded: they are lost */
            c->confirmed = c->head.height;
        }
    } else if (rc != RT_ENOENT) {
        goto fail; /* a store that cannot be read is not a fresh one */
    } else {
        block_genesis(&c->head);
        block_hash(&c->head, c->head_hash);
        if (store_put(st, c->head_hash, &c->head) != RT_OK) goto fail;
        if (store_set_head(st, c->head_hash) != RT_OK) goto fail;
    }
    return c;
fail:
    chain_close(c);
    return NULL;
}

void chain_close(chain *c) {
    if (c == NULL) return;
    /* rt.h does not promise rt_free(NULL) is a no-op: a failed open leaves NULLs */
    if (c->pool != NULL) rt_free(c->pool);
    if (c->work != NULL) rt_free(c->work);
    if (c->bad != NULL) rt_free(c->bad);
    rt_free(c);
}

const block *chain_head(const chain *c) { return &c->head; }

const uint8_t *chain_head_hash(const chain *c) { return c->head_hash; }

int chain_get(chain *c, const uint8_t hash[BLOCK_HASH_LEN], block *out) {
    return store_get(c->st, hash, out);
}

bool chain_has(chain *c, const uint8_t hash[BLOCK_HASH_LEN]) { return store_has(c->st, hash); }

bool chain_knows(chain *c, const uint8_t hash[BLOCK_HASH_LEN]) {
    return store_has(c->st, hash) || chain__orphan_find(c, hash) >= 0;
}

int chain_canonical(chain *c, uint64_t height, uint8_t out[BLOCK_HASH_LEN]) {
    if (height > c->head.height) return RT_ENOENT;
    chain__pos p;
    chain__pos_of(&p, &c->head, c->head_hash);
    int rc = RT_OK;
    while (rc == RT_OK && p.height > height) rc = chain__step_back(c, &p);
    /* on a failed read: the hash of the block that could not be read */
    memcpy(out, rc == RT_OK ? p.hash : p.parent, BLOCK_HASH_LEN);
    return rc;
}

uint64_t chain_confirmed(const chain *c) { return c->confirmed; }

uint32_t chain_orphans(const chain *c) { return c->npool; }
