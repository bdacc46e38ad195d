/*
 * aura.c -- the AuRa-style engine (see aura.h): the slot loop of one node,
 * block production, the receive path (decode, stateless checks, deferral,
 * import, parent requests), answering requests, and turning chain events
 * into facts for the oracles. It runs on one task, the caller's: a single
 * rt_select over {context done, inbox} with a timeout up to the next slot
 * boundary, the next deferred block or the next request retry, so there is
 * nothing to stop or leak. The one exception: with time sync on
 * (chain.time_tolerance_ms > 0 and ntp.servers > 0) aura_run starts the
 * time-sync task (timesync.h) and stops it before it returns; slots,
 * timestamps, deferral and received timestamps' checks then follow its
 * calibrated clock. node.wall_durations=1 times request retries (and time
 * sync's fit) on the wall clock instead of the monotonic one: the bug.
 * Gossiped transactions go to the p2p worker pool (p2p.h), which starts
 * with the first one.
 *
 * Every import is one group of store writes (store.h): a CONFIRMED fact is
 * held until its group commits, so the node never reports a confirmation
 * its store could lose (confirmation implies durability, on a durable store
 * that syncs). When a group fails, the engine reloads its chain from the
 * store (what is durable is what it knows) and carries on; blocks it misses
 * that way are fetched again as orphans' ancestors. Blocks the store drops
 * as corrupt are asked of the peers. While the chain cannot be reloaded
 * (the store cannot even be opened) the engine waits, trying again each
 * turn. After AURA_STORE_FAILS_MAX failures in a row it gives up:
 * aura_run returns the error and the program returns (a supervisor, or the
 * scenario's restart schedule, starts it again on the same disk).
 */
#include "aura.h"

#include <assert.h>
#include <string.h>

#include "chain.h"
#include "codec.h"
#include "maint.h"
#include "msg.h"
#include "p2p.h"
#include "param.h"
#include "timesync.h"

#define AURA_DEFAULT_SLOT_MS 1000
#define AURA_DEFAULT_TOLERANCE_MS (-1) /* -1: one slot length, as AuRa allows one step of drift */
#define AURA_DEFAULT_CONFIRM_DEPTH 3
#define AURA_DEFAULT_ORPHAN_MAX 256
#define AURA_DEFAULT_DEFER_MAX 64
#define AURA_DEFAULT_BROADCAST_MAX 64 /* up to this many validators: all-to-all */
#define AURA_DEFAULT_FANOUT 8
#define AURA_IDLE_SLOTS 16 /* relay tree on: an idle node waits at most this many slots */
#define AURA_MIN_WAIT_NS 1000 /* floor of a wait, so clock rounding cannot spin */

#define AURA_STORE_FAILS_MAX 8 /* failed store groups in a row before giving up */

#define AURA_PENDING_MAX 16 /* ancestors asked for and not yet received */
#define AURA_REQUEST_TRIES 6 /* sends per missing ancestor before giving up */

/* An ancestor asked for: re-asked (of the next peer) until it arrives. */
typedef struct aura__pending {
    uint8_t hash[BLOCK_HASH_LEN];
    uint32_t peer;    /* asked last */
    uint32_t tries;   /* sends so far */
    int64_t sent_ns;  /* aura__clock time of the last send */
} aura__pending;

/* A block from the near future, held until the local wall clock reaches it. */
typedef struct aura__deferred {
    block b;
    uint8_t hash[BLOCK_HASH_LEN];
    uint32_t from;
} aura__deferred;

struct aura {
    aura_config cfg;
    store *st;
    chain_config cc;
    chain *ch; /* NULL while a failed store keeps the chain from being reloaded */
    rt_fact *held; /* CONFIRMED facts waiting for their group to commit */
    uint32_t nheld, capheld;
    uint32_t store_fails;  /* failed store groups in a row */
    int stop_rc;           /* RT_OK, or the store error the engine gave up on */
    int64_t last_slot; /* the last slot this node built a block for */
    aura__deferred *defer;
    uint32_t ndefer;
    uint32_t npending;
    aura__pending pending[AURA_PENDING_MAX]; /* oldest first */
    uint8_t buf[MSG_MAX]; /* outgoing message */
    /* (the flags sit in buf's padding: the engine's size, which a node's
     * resident size and so the mem-leak seeds count, stays as it was) */
    bool held_lost;        /* one could not be held (out of memory): fail the group */
    bool recover_pending;  /* RT_FACT_RECOVERED still to report (aura__try_recovered) */
    bool produced_any;
    uint32_t *relay;      /* cfg.fanout entries: relay tree targets (NULL when off) */
    /* time sync: when on, received timestamps are checked against its
     * calibrated clock within chain.time_tolerance_ms (aura__check_time) */
    timesync *ts;
    int64_t ts_tolerance_ns;
    maint *mt; /* compaction and audit (maint.h), NULL when off */
    p2p *p2p; /* gossiped transactions (p2p.h): NULL until the first one */
    /* counters, for the closing log line */
    uint64_t n_produced, n_imported, n_rejected, n_deferred, n_requests, n_reorgs;
    uint64_t n_corrupt; /* messages refused for a bad seal */
    uint64_t n_store_errors, n_refetch;
};

/* ---- configuration and pure rules -------------------------------------- */

#define AURA_MAX_MS ((int64_t)3600 * 1000) /* one hour: any longer is a typo */
#define AURA_MAX_COUNT ((int64_t)1 << 20)

void aura_config_load(aura_config *cfg) {
    assert(cfg != NULL);
    memset(cfg, 0, sizeof *cfg);
    cfg->self = rt_node_id();
    cfg->n = rt_node_count();
    assert(cfg->n >= 1 && cfg->self < cfg->n);
    cfg->slot_ns = node_param("aura", "aura.slot_ms", AURA_DEFAULT_SLOT_MS, 1, AURA_MAX_MS) * RT_MS;
    cfg->tolerance_ns =
        node_param("aura", "aura.future_tolerance_ms", AURA_DEFAULT_TOLERANCE_MS, -1, AURA_MAX_MS) * RT_MS;
    if (cfg->tolerance_ns < 0) cfg->tolerance_ns = cfg->slot_ns;
    cfg->confirm_depth = (uint64_t)node_param("aura", "chain.confirm_depth", AURA_DEFAULT_CONFIRM_DEPTH,
                                               0, AURA_MAX_COUNT);
    cfg->orphan_max =
        (uint32_t)node_param("aura", "chain.orphan_max", AURA_DEFAULT_ORPHAN_MAX, 1, AURA_MAX_COUNT);
    cfg->defer_max =
        (uint32_t)node_param("aura", "aura.defer_max", AURA_DEFAULT_DEFER_MAX, 1, AURA_MAX_COUNT);
    int64_t retry_ms = cfg->slot_ns / RT_MS / 2;
    if (retry_ms < 1) retry_ms = 1;
    cfg->retry_ns = node_param("aura", "aura.request_retry_ms", retry_ms, 0, AURA_MAX_MS) * RT_MS;
    if (cfg->retry_ns == 0) cfg->retry_ns = retry_ms * RT_MS; /* 0: half a slot */
    cfg->wall_durations = node_param("aura", "node.wall_durations", 0, 0, 1) != 0;
    int64_t bmax =
        node_param("aura", "aura.broadcast_max", AURA_DEFAULT_BROADCAST_MAX, 0, (int64_t)UINT32_MAX);
    uint32_t fanout = (uint32_t)node_param("aura", "aura.fanout", AURA_DEFAULT_FANOUT, 1, AURA_MAX_COUNT);
    cfg->fanout = (int64_t)cfg->n > bmax ? fanout : 0;
}

int64_t aura_slot_at(int64_t wall, int64_t slot_ns) {
    assert(slot_ns > 0);
    int64_t q = wall / slot_ns;
    if (wall % slot_ns < 0) q--; /* floor, not truncation, before the epoch */
    return q;
}

node_reason aura_check(const aura_config *cfg, const block *b, int64_t wall) {
    assert(cfg != NULL && b != NULL && cfg->n >= 1 && cfg->slot_ns > 0);
    if (b->height == 0) return NODE_REJ_HEIGHT;
    if (b->proposer != b->slot % cfg->n) return NODE_REJ_PROPOSER;
    if (b->timestamp < 0 || (uint64_t)(b->timestamp / cfg->slot_ns) != b->slot)
        return NODE_REJ_SLOT_TIME;
    /* timestamp > wall + tolerance, without overflowing near INT64_MAX */
    if (wall <= INT64_MAX - cfg->tolerance_ns && b->timestamp > wall + cfg->tolerance_ns)
        return NODE_REJ_FUTURE;
    return NODE_REJ_NONE;
}

node_reason aura_check_parent(void *arg, const block *b, const block *parent) {
    (void)arg;
    return b->slot > parent->slot ? NODE_REJ_NONE : NODE_REJ_PARENT_SLOT;
}

/* ---- facts -------------------------------------------------------------- */

/* Fills *f with one fact about block b (hash h; both may describe
 * nothing: NULL); root is b's state root. */
static void aura__fact_fill(rt_fact *f, rt_fact_kind kind, const block *b, const uint8_t *h,
                            int64_t value) {
    memset(f, 0, sizeof *f);
    f->kind = kind;
    if (b != NULL) {
        f->height = b->height;
        f->slot = b->slot;
        memcpy(f->parent, b->parent, BLOCK_HASH_LEN);
        memcpy(f->root, b->state_root, BLOCK_HASH_LEN);
    }
    if (h != NULL) memcpy(f->hash, h, BLOCK_HASH_LEN);
    f->value = value;
}

/* Reports one fact about block b (see aura__fact_fill). */
static void aura__fact(rt_fact_kind kind, const block *b, const uint8_t *h, int64_t value) {
    rt_fact f;
    aura__fact_fill(&f, kind, b, h, value);
    rt_fact_report(&f);
}

/* Holds the CONFIRMED fact of b until the current store group commits. */
static void aura__hold_confirmed(aura *a, const block *b, const uint8_t *h) {
    if (a->nheld == a->capheld) {
        uint32_t cap = a->capheld ? 2 * a->capheld : 16;
        rt_fact *n = a->held ? rt_realloc(a->held, cap * sizeof *n) : rt_malloc(cap * sizeof *n);
        if (n == NULL) {
            a->held_lost = true;
            return;
        }
        a->held = n;
        a->capheld = cap;
    }
    aura__fact_fill(&a->held[a->nheld++], RT_FACT_CONFIRMED, b, h, 0);
}

/* Chain events -> facts (the chain itself reports nothing). */
static void aura__on_chain(void *arg, const chain_event *ev) {
    aura *a = arg;
    char hex[17];
    switch (ev->kind) {
    case CHAIN_EV_IMPORTED:
        if (ev->local) break; /* own blocks are PRODUCED, not IMPORTED */
        a->n_imported++;
        aura__fact(RT_FACT_IMPORTED, ev->b, ev->hash, 0);
        break;
    case CHAIN_EV_REJECTED:
        assert(!ev->local || ev->reason == NODE_REJ_STORE);
        a->n_rejected++;
        rt_log(RT_LOG_DEBUG, "aura: refused block %s height %llu slot %llu: reason %d",
               block_hash_hex(ev->hash, hex), (unsigned long long)ev->b->height,
               (unsigned long long)ev->b->slot, (int)ev->reason);
        aura__fact(RT_FACT_REJECTED, ev->b, ev->hash, (int64_t)ev->reason);
        break;
    case CHAIN_EV_HEAD:
        if (ev->reorg_depth > 0) a->n_reorgs++;
        if (ev->below_confirmed)
            rt_log(RT_LOG_WARN, "aura: reorg of depth %llu to %s height %llu undoes confirmed blocks",
                   (unsigned long long)ev->reorg_depth, block_hash_hex(ev->hash, hex),
                   (unsigned long long)ev->b->height);
        aura__fact(RT_FACT_HEAD, ev->b, ev->hash, (int64_t)ev->reorg_depth);
        break;
    case CHAIN_EV_CONFIRMED:
        aura__hold_confirmed(a, ev->b, ev->hash);
        break;
    }
}

static int aura__deferred_find(const aura *a, const uint8_t h[BLOCK_HASH_LEN]);

/* ---- sending ------------------------------------------------------------ */

uint32_t aura_relay_targets(const aura_config *cfg, uint32_t proposer, uint32_t *out) {
    uint64_t n = cfg->n, f = cfg->fanout;
    assert(f > 0 && proposer < n && cfg->self < n);
    uint64_t pos = (cfg->self + n - proposer) % n;
    uint32_t k = 0;
    for (uint64_t c = pos * f + 1; c <= pos * f + f && c < n; c++) out[k++] = (uint32_t)((proposer + c) % n);
    return k;
}

/* Relay tree: sends the first len bytes of a->buf (a block of `proposer`)
 * to this node's children in the proposer's tree (see aura.h). */
static void aura__relay(aura *a, uint32_t proposer, size_t len) {
    uint32_t k = aura_relay_targets(&a->cfg, proposer, a->relay);
    for (uint32_t i = 0; i < k; i++) (void)rt_send(a->relay[i], a->buf, len);
}

/* Sends the first len bytes of a->buf (this node's block) to every other
 * validator: directly, or as the root of the relay tree. */
static void aura__broadcast(aura *a, size_t len) {
    if (a->cfg.fanout > 0) {
        aura__relay(a, a->cfg.self, len);
        return;
    }
    for (uint32_t i = 0; i < a->cfg.n; i++)
        if (i != a->cfg.self) (void)rt_send(i, a->buf, len);
}

/* Sends one MSG_GET_BLOCK for h to node `to`. */
static void aura__send_request(aura *a, uint32_t to, const uint8_t h[BLOCK_HASH_LEN]) {
    assert(to != a->cfg.self && to < a->cfg.n);
    size_t len = msg_encode_get_block(h, a->buf, sizeof a->buf);
    assert(len == 1 + BLOCK_HASH_LEN + NODE_SEAL_LEN);
    a->n_requests++;
    (void)rt_send(to, a->buf, len);
}

/* Removes pending request i, keeping the others in order. */
static void aura__pending_remove(aura *a, uint32_t i) {
    assert(i < a->npending);
    memmove(&a->pending[i], &a->pending[i + 1], (a->npending - i - 1) * sizeof a->pending[0]);
    a->npending--;
}

/* The clock request retries are timed on: the monotonic one, or with
 * node.wall_durations=1 the wall clock (an NTP step backwards then holds a
 * retry back by the step, one forwards fires it early). */
static int64_t aura__clock(const aura *a) { return a->cfg.wall_durations ? rt_wall_ns() : rt_mono_ns(); }

/* Asks node `to` for the block with hash h, unless h was asked for less
 * than a retry interval ago (then that request is still in flight). The
 * request is remembered, so a lost request or answer is asked again. */
static void aura__request(aura *a, uint32_t to, const uint8_t h[BLOCK_HASH_LEN]) {
    if (to == a->cfg.self) return;
    int64_t now = aura__clock(a);
    for (uint32_t i = 0; i < a->npending; i++) {
        aura__pending *p = &a->pending[i];
        if (memcmp(p->hash, h, BLOCK_HASH_LEN) != 0) continue;
        if (now - p->sent_ns < a->cfg.retry_ns) return;
        p->peer = to;
        p->sent_ns = now;
        p->tries = 1; /* fresh evidence that `to` has it: start over */
        aura__send_request(a, to, h);
        return;
    }
    if (a->npending == AURA_PENDING_MAX) aura__pending_remove(a, 0);
    aura__pending *p = &a->pending[a->npending++];
    memcpy(p->hash, h, BLOCK_HASH_LEN);
    p->peer = to;
    p->tries = 1;
    p->sent_ns = now;
    aura__send_request(a, to, h);
}

/* Forgets requests that were answered, and asks again (of the next peer in
 * turn) those unanswered for a retry interval, up to AURA_REQUEST_TRIES. */
static void aura__retry_requests(aura *a) {
    int64_t now = aura__clock(a);
    for (uint32_t i = 0; i < a->npending;) {
        aura__pending *p = &a->pending[i];
        if (chain_knows(a->ch, p->hash) || aura__deferred_find(a, p->hash) >= 0 ||
            (now - p->sent_ns >= a->cfg.retry_ns && p->tries >= AURA_REQUEST_TRIES)) {
            aura__pending_remove(a, i);
            continue;
        }
        if (now - p->sent_ns >= a->cfg.retry_ns) {
            /* the first retry goes to the same peer (the loss was likely on
             * the way), later ones rotate over every other validator */
            if (p->tries > 1) {
                p->peer = (p->peer + 1) % a->cfg.n;
                if (p->peer == a->cfg.self) p->peer = (p->peer + 1) % a->cfg.n;
            }
            p->tries++;
            p->sent_ns = now;
            aura__send_request(a, p->peer, p->hash);
        }
        i++;
    }
}

/* ---- the store ---------------------------------------------------------- */

static void aura__reload(aura *a);

/* Asks the next peer in turn for a block this node lost (a no-op with
 * nobody to ask). */
static void aura__refetch_one(aura *a, const uint8_t h[BLOCK_HASH_LEN]) {
    if (a->cfg.n < 2) return;
    uint32_t peer = (a->cfg.self + 1 + (uint32_t)(a->n_refetch % (a->cfg.n - 1))) % a->cfg.n;
    a->n_refetch++;
    aura__request(a, peer, h);
}

/* Asks peers (in turn) for every block the store dropped as corrupt. */
static void aura__refetch(aura *a) {
    uint8_t h[BLOCK_HASH_LEN];
    while (store_take_corrupt(a->st, h) == RT_OK) aura__refetch_one(a, h);
}

/* After a failed store group (rc): reloads the chain from the store, and
 * gives up (stop_rc) when that fails or the store keeps failing. */
static void aura__store_failed(aura *a, int rc) {
    assert(rc != RT_OK);
    a->n_store_errors++;
    a->store_fails++;
    rt_log(RT_LOG_WARN, "aura: store failed (%d), %u failures in a row: reloading the chain", rc,
           a->store_fails);
    if (a->store_fails >= AURA_STORE_FAILS_MAX) {
        a->stop_rc = rc;
        rt_log(RT_LOG_ERROR, "aura: giving up on the %s store (%d)", a->st->kind, rc);
        return;
    }
    chain_close(a->ch);
    a->ch = NULL;
    aura__reload(a);
}

/* Opens the chain again from the store (in a group: opening may write
 * genesis, and reconnects a store that lost its connection). While that
 * fails the engine has no chain; each failure counts towards giving up. */
static void aura__reload(aura *a) {
    assert(a->ch == NULL && a->stop_rc == RT_OK);
    int rc = store_begin(a->st);
    if (rc == RT_OK) {
        a->ch = chain_open(a->st, &a->cc, aura__on_chain, a);
        if (a->ch == NULL) {
            store_rollback(a->st);
            rc = RT_EIO;
        } else if ((rc = store_commit(a->st)) != RT_OK) {
            chain_close(a->ch);
            a->ch = NULL;
        }
    }
    if (rc != RT_OK) {
        rt_log(RT_LOG_WARN, "aura: cannot reload the chain (%d)", rc);
        a->n_store_errors++;
        if (++a->store_fails >= AURA_STORE_FAILS_MAX) {
            a->stop_rc = rc;
            rt_log(RT_LOG_ERROR, "aura: giving up on the %s store (%d)", a->st->kind, rc);
        }
    }
}

/* Imports b (hash h; local: built here) as one store group. On success the
 * CONFIRMED facts it caused are reported, their blocks durable now; on a
 * store failure the group is undone, the facts dropped (those heights are
 * confirmed again when the chain gets there again), the chain reloaded,
 * and the status is CHAIN_ERROR. */
static chain_status aura__import_group(aura *a, const block *b, const uint8_t h[BLOCK_HASH_LEN], bool local,
                                       chain_result *r) {
    assert(a->ch != NULL && a->nheld == 0 && !a->held_lost);
    memset(r, 0, sizeof *r);
    maint_import_lock(a->mt); /* the block index, then the state */
    int rc = store_begin(a->st);
    if (rc == RT_OK) {
        chain_import_hashed(a->ch, b, h, local, r);
        if (r->status == CHAIN_ERROR || a->held_lost) {
            rc = r->rc != RT_OK ? r->rc : RT_ENOMEM;
            store_rollback(a->st);
        } else {
            rc = store_commit(a->st);
        }
    }
    maint_import_unlock(a->mt);
    if (rc == RT_OK) {
        for (uint32_t i = 0; i < a->nheld; i++) rt_fact_report(&a->held[i]);
        a->nheld = 0;
        a->store_fails = 0;
        aura__refetch(a);
        return r->status;
    }
    a->nheld = 0;
    a->held_lost = false;
    aura__store_failed(a, rc);
    r->status = CHAIN_ERROR;
    r->rc = rc;
    return CHAIN_ERROR;
}

/* ---- production --------------------------------------------------------- */

/* Builds, imports and gossips a block when this node proposes the slot that
 * wall falls in, has not built for it yet, and its head is from an earlier
 * slot. */
static void aura__maybe_produce(aura *a, int64_t wall) {
    int64_t slot = aura_slot_at(wall, a->cfg.slot_ns);
    if (slot < 1) return; /* genesis owns slot 0; nothing before the epoch */
    if ((uint64_t)slot % a->cfg.n != a->cfg.self) return;
    if (a->produced_any && slot <= a->last_slot) return;
    /* Blocks beyond the head wait for their ancestors: the node is catching
     * up (after a restart, a lost store), and a block on its stale head would
     * only start a fork it might confirm alone. OpenEthereum does not seal
     * while syncing either. */
    if (chain_orphans(a->ch) > 0) return;
    const block *head = chain_head(a->ch);
    const uint8_t *head_hash = chain_head_hash(a->ch);
    if (head->slot >= (uint64_t)slot) return;

    block b;
    memset(&b, 0, sizeof b);
    b.height = head->height + 1;
    b.slot = (uint64_t)slot;
    memcpy(b.parent, head_hash, BLOCK_HASH_LEN);
    b.proposer = a->cfg.self;
    b.timestamp = wall; /* the same reading the slot came from */
    uint64_t tx = rt_rand_u64(); /* the payload: one opaque 8-byte "transaction" */
    b.payload_len = 8;
    for (int i = 0; i < 8; i++) b.payload[i] = (uint8_t)(tx >> (8 * i));
    block_state_root(head->state_root, b.height, b.payload, b.payload_len, b.state_root);
    assert(aura_check(&a->cfg, &b, wall) == NODE_REJ_NONE);

    a->produced_any = true;
    a->last_slot = slot;
    uint8_t h[BLOCK_HASH_LEN];
    block_hash(&b, h);
    char hex[17];
    chain_result r;
    if (aura__import_group(a, &b, h, true, &r) != CHAIN_IMPORTED) {
        assert(r.status == CHAIN_ERROR); /* a block built on the head is valid */
        rt_log(RT_LOG_ERROR, "aura: store failed on own block %s: %d", block_hash_hex(h, hex), r.rc);
        return; /* never announced: as if this slot was missed */
    }
    a->n_produced++;
    rt_log(RT_LOG_DEBUG, "aura: produced %s height %llu slot %lld", block_hash_hex(h, hex),
           (unsigned long long)b.height, (long long)slot);
    aura__fact(RT_FACT_PRODUCED, &b, h, 0);
    size_t len = msg_encode_block(&b, a->buf, sizeof a->buf);
    assert(len > 0);
    aura__broadcast(a, len);
}

/* ---- receiving ---------------------------------------------------------- */

/* Hands a checked, due block (hash h) to the chain; asks `from` for what
 * an orphan misses. */
static void aura__import(aura *a, const block *b, const uint8_t h[BLOCK_HASH_LEN], uint32_t from) {
    chain_result r;
    switch (aura__import_group(a, b, h, false, &r)) {
    case CHAIN_ORPHAN:
        aura__request(a, from, r.missing);
        break;
    case CHAIN_ERROR: /* the chain was reloaded from the store */
        rt_log(RT_LOG_WARN, "aura: store failed importing a block: %d", r.rc);
        break;
    case CHAIN_IMPORTED:
    case CHAIN_KNOWN:
    case CHAIN_INVALID: /* reported through the chain's REJECTED event */
        break;
    }
}

/* Index of the deferred block with hash h, or -1. */
static int aura__deferred_find(const aura *a, const uint8_t h[BLOCK_HASH_LEN]) {
    for (uint32_t i = 0; i < a->ndefer; i++)
        if (memcmp(a->defer[i].hash, h, BLOCK_HASH_LEN) == 0) return (int)i;
    return -1;
}

/* Holds b until the wall clock reaches its timestamp (or refuses it when
 * the queue is full). */
static void aura__defer(aura *a, const block *b, const uint8_t h[BLOCK_HASH_LEN], uint32_t from,
                        int64_t wall) {
    if (aura__deferred_find(a, h) >= 0) return; /* a duplicate */
    if (a->ndefer == a->cfg.defer_max) {
        a->n_rejected++;
        aura__fact(RT_FACT_REJECTED, b, h, NODE_REJ_DEFER_FULL);
        return;
    }
    aura__deferred *d = &a->defer[a->ndefer++];
    d->b = *b;
    memcpy(d->hash, h, BLOCK_HASH_LEN);
    d->from = from;
    a->n_deferred++;
    aura__fact(RT_FACT_DEFERRED, b, h, b->timestamp - wall);
}

/* Imports every deferred block whose timestamp the wall clock has reached,
 * earliest timestamp first (ties by hash, so the order is the program's). */
static void aura__release_due(aura *a, int64_t wall) {
    for (;;) {
        int best = -1;
        for (uint32_t i = 0; i < a->ndefer; i++) {
            const aura__deferred *d = &a->defer[i];
            if (d->b.timestamp > wall) continue;
            if (best < 0) {
                best = (int)i;
                continue;
            }
            const aura__deferred *e = &a->defer[best];
            if (d->b.timestamp < e->b.timestamp ||
                (d->b.timestamp == e->b.timestamp && block_hash_cmp(d->hash, e->hash) < 0))
                best = (int)i;
        }
        if (best < 0) return;
        aura__deferred d = a->defer[best];
        a->defer[best] = a->defer[--a->ndefer];
        aura__import(a, &d.b, d.hash, d.from);
        if (a->ch == NULL) return;
    }
}

/* The stateless checks of b (aura_check): against the raw wall clock and
 * aura.future_tolerance_ms, or, with time sync on, against its calibrated
 * clock and chain.time_tolerance_ms. */
static node_reason aura__check_time(const aura *a, const block *b, int64_t wall) {
    if (a->ts == NULL) return aura_check(&a->cfg, b, wall);
    aura_config c = a->cfg;
    c.tolerance_ns = a->ts_tolerance_ns;
    return aura_check(&c, b, timesync_now(a->ts));
}

/* Starts time sync when chain.time_tolerance_ms > 0 and ntp.servers > 0. */
static void aura__timesync_start(aura *a, rt_ctx *ctx) {
    int64_t tol_ms = rt_param_i64("chain.time_tolerance_ms", 0);
    if (tol_ms <= 0 || rt_param_i64("ntp.servers", 0) <= 0) return;
    if (tol_ms > AURA_MAX_MS) tol_ms = AURA_MAX_MS;
    timesync_config tc;
    timesync_config_load(&tc);
    a->ts = timesync_start(ctx, &tc);
    a->ts_tolerance_ns = tol_ms * RT_MS;
    if (a->ts == NULL)
        rt_log(RT_LOG_WARN, "aura: time sync asked for but not started: checking the raw wall clock");
}

/* The receive path of one block from node `from`. */
/* The time slots and timestamps are read from: the raw wall clock, or with
 * time sync on its calibrated clock (an NTP step of the raw clock then moves
 * no slot: the fix of the field report's failure 2). */
static int64_t aura__now(const aura *a) { return a->ts != NULL ? timesync_now(a->ts) : rt_wall_ns(); }

static void aura__on_block(aura *a, const block *b, uint32_t from) {
    uint8_t h[BLOCK_HASH_LEN];
    block_hash(b, h);
    if (chain_has(a->ch, h)) return; /* a duplicate, or the answer we already have */
    maint_on_block(a->mt, b, h);
    int64_t wall = aura__now(a);
    node_reason why = aura__check_time(a, b, wall);
    if (why != NODE_REJ_NONE) {
        char hex[17];
        rt_log(RT_LOG_DEBUG, "aura: refused block %s slot %llu from %u: reason %d",
               block_hash_hex(h, hex), (unsigned long long)b->slot, from, (int)why);
        a->n_rejected++;
        aura__fact(RT_FACT_REJECTED, b, h, why);
        return;
    }
    if (a->cfg.fanout > 0 && !chain_knows(a->ch, h) && aura__deferred_find(a, h) < 0) {
        size_t len = msg_encode_block(b, a->buf, sizeof a->buf); /* first seen: pass it on */
        assert(len > 0);
        aura__relay(a, b->proposer, len);
    }
    if (b->timestamp > wall) {
        aura__defer(a, b, h, from, wall);
        return;
    }
    aura__import(a, b, h, from);
}

/* Handles one message from the inbox (the caller frees it). */
static void aura__on_msg(aura *a, const rt_msg *m) {
    msg d;
    int rc = msg_decode(m->data, m->len, &d);
    if (rc == RT_EIO) { /* damaged on the way: not the sender's word */
        rt_log(RT_LOG_DEBUG, "aura: damaged message (%u bytes) from %u", (unsigned)m->len, m->from);
        a->n_corrupt++;
        rt_fact f = {.kind = rt_fact_kind_named(NODE_FACT_MSG_CORRUPT), .value = m->from};
        rt_fact_report(&f);
        return;
    }
    if (rc != RT_OK) {
        rt_log(RT_LOG_DEBUG, "aura: undecodable message (tag %u, %u bytes) from %u",
               (unsigned)d.tag, (unsigned)m->len, m->from);
        if (d.tag == MSG_BLOCK) {
            a->n_rejected++;
            aura__fact(RT_FACT_REJECTED, NULL, NULL, NODE_REJ_DECODE);
        }
        return;
    }
    switch (d.tag) {
    case MSG_BLOCK:
        aura__on_block(a, &d.b, m->from);
        break;
    case MSG_GET_BLOCK: {
        block b;
        if (m->from == a->cfg.self || chain_get(a->ch, d.hash, &b) != RT_OK) break;
        size_t len = msg_encode_block(&b, a->buf, sizeof a->buf);
        assert(len > 0);
        (void)rt_send(m->from, a->buf, len);
        break;
    }
    case MSG_TX: /* taken by the pool before it gets here (p2p_take) */
        break;
    default:
        assert(0 && "msg_decode accepted an unknown tag");
    }
}

/* ---- recovery ------------------------------------------------------------ */

/* Reports RT_FACT_RECOVERED once the block at the recovered confirmed
 * height can be read: when a block between it and the head was dropped as
 * corrupt, the report waits (asking a peer for the missing block) until the
 * walk from the head gets through, so the hash it names is vouched for. */
static void aura__try_recovered(aura *a) {
    if (!a->recover_pending || a->ch == NULL) return;
    uint64_t conf = chain_confirmed(a->ch);
    uint8_t h[BLOCK_HASH_LEN];
    block b;
    int rc = chain_canonical(a->ch, conf, h);
    if (rc == RT_OK) rc = chain_get(a->ch, h, &b);
    if (rc != RT_OK) {
        if (rc == RT_ENOENT) aura__refetch_one(a, h); /* h: the block the walk could not read */
        return;
    }
    a->recover_pending = false;
    const block *head = chain_head(a->ch);
    char hex[17];
    rt_log(RT_LOG_INFO, "aura: recovered from the %s store: confirmed %llu (%s), head %llu",
           a->st->kind, (unsigned long long)conf, block_hash_hex(h, hex),
           (unsigned long long)head->height);
    aura__fact(RT_FACT_RECOVERED, &b, h, (int64_t)head->height);
}

/* ---- the loop ----------------------------------------------------------- */

/* How long to wait (monotonic ns) from wall: until the next slot boundary,
 * the earliest deferred timestamp or the next request retry, whichever is
 * first. With the relay tree on (many validators) only this node's own
 * slots matter at a boundary: it waits for the next one, at most
 * AURA_IDLE_SLOTS slots (it wakes for every block it receives anyway, and
 * looks at its wall clock again then). */
static int64_t aura__wait_ns(const aura *a, int64_t wall) {
    int64_t slot = aura_slot_at(wall, a->cfg.slot_ns);
    int64_t next = (slot + 1) * a->cfg.slot_ns;
    if (a->cfg.fanout > 0) {
        int64_t ahead = ((int64_t)a->cfg.self - (slot + 1) % a->cfg.n + a->cfg.n) % a->cfg.n;
        if (ahead >= AURA_IDLE_SLOTS) ahead = AURA_IDLE_SLOTS - 1;
        next += ahead * a->cfg.slot_ns;
    }
    int64_t wait = next - wall;
    assert(wait > 0 && wait <= AURA_IDLE_SLOTS * a->cfg.slot_ns);
    for (uint32_t i = 0; i < a->ndefer; i++) {
        int64_t due = a->defer[i].b.timestamp - wall;
        assert(due > 0); /* released otherwise */
        if (due < wait) wait = due;
    }
    if (a->npending > 0) {
        int64_t now = aura__clock(a);
        for (uint32_t i = 0; i < a->npending; i++) {
            int64_t due = a->pending[i].sent_ns + a->cfg.retry_ns - now;
            if (due < wait) wait = due;
        }
    }
    return wait < AURA_MIN_WAIT_NS ? AURA_MIN_WAIT_NS : wait;
}

int aura_run(aura *a, rt_ctx *ctx) {
    assert(a != NULL && ctx != NULL);
    rt_chan *inbox = rt_inbox();
    rt_chan *done = rt_ctx_done(ctx);
    rt_log(RT_LOG_INFO, "aura: validator %u of %u, slot %lld ms, tolerance %lld ms, k=%llu",
           a->cfg.self, a->cfg.n, (long long)(a->cfg.slot_ns / RT_MS),
           (long long)(a->cfg.tolerance_ns / RT_MS), (unsigned long long)a->cfg.confirm_depth);
    aura__timesync_start(a, ctx);
    a->mt = maint_start(ctx);
    while (rt_ctx_err(ctx) == RT_OK && a->stop_rc == RT_OK) {
        /* The wall clock may have stepped since the last turn: recompute.
         * With time sync on, slots follow its calibrated clock. */
        int64_t wall = aura__now(a);
        if (a->ch == NULL) aura__reload(a); /* the store failed and still does */
        if (a->ch != NULL) aura__release_due(a, wall);
        if (a->ch != NULL) aura__maybe_produce(a, wall);
        if (a->stop_rc != RT_OK) break;
        if (a->ch != NULL) {
            aura__refetch(a); /* blocks dropped by reads outside a group */
            aura__try_recovered(a);
            aura__retry_requests(a);
        }
        rt_msg *m = NULL;
        rt_case cases[2] = {
            {.ch = done, .op = RT_RECV, .elem = NULL, .result = 0},
            {.ch = inbox, .op = RT_RECV, .elem = &m, .result = 0},
        };
        int fired = rt_select(cases, 2, aura__wait_ns(a, wall));
        if (fired == 0) break;
        if (fired == 1) {
            if (cases[1].result != RT_OK) break; /* inbox closed: the node is going away */
            assert(m != NULL);
            if (p2p_take(&a->p2p, ctx, m)) continue; /* a transaction: the pool's now */
            if (a->ch != NULL) aura__on_msg(a, m); /* else: no chain to serve or extend */
            rt_msg_free(m);
        }
    }
    if (a->recover_pending)
        rt_log(RT_LOG_WARN, "aura: stopped before the recovered chain could be read back");
    timesync_stop(a->ts);
    a->ts = NULL;
    maint_stop(a->mt);
    a->mt = NULL;
    p2p_stop(&a->p2p);
    /* Messages still queued are ours to free. */
    rt_msg *m = NULL;
    while (rt_chan_recv(inbox, &m, 0) == RT_OK) rt_msg_free(m);
    char hex[17] = "-";
    if (a->ch != NULL) block_hash_hex(chain_head_hash(a->ch), hex);
    rt_log(RT_LOG_INFO,
           "aura: stop: head %s height %llu, confirmed %llu, produced %llu, imported %llu, "
           "rejected %llu, deferred %llu, requests %llu, reorgs %llu, orphans %u, pending %u, "
           "store errors %llu, refetched %llu",
           hex, (unsigned long long)(a->ch ? chain_head(a->ch)->height : 0),
           (unsigned long long)(a->ch ? chain_confirmed(a->ch) : 0), (unsigned long long)a->n_produced,
           (unsigned long long)a->n_imported, (unsigned long long)a->n_rejected,
           (unsigned long long)a->n_deferred, (unsigned long long)a->n_requests,
           (unsigned long long)a->n_reorgs, a->ch ? chain_orphans(a->ch) : 0, a->npending,
           (unsigned long long)a->n_store_errors, (unsigned long long)a->n_refetch);
    return a->stop_rc;
}

void aura_report_recovered(aura *a) {
    assert(a != NULL && a->ch != NULL);
    a->recover_pending = true;
    aura__try_recovered(a);
}

/* ---- lifetime ----------------------------------------------------------- */

aura *aura_open(const aura_config *cfg, store *st) {
    assert(cfg != NULL && st != NULL);
    assert(cfg->n >= 1 && cfg->self < cfg->n && cfg->slot_ns > 0 && cfg->tolerance_ns >= 0);
    assert(cfg->orphan_max >= 1 && cfg->defer_max >= 1 && cfg->retry_ns > 0);
    aura *a = rt_calloc(1, sizeof *a);
    if (a == NULL) return NULL;
    a->cfg = *cfg;
    a->st = st;
    a->defer = rt_calloc(cfg->defer_max, sizeof *a->defer);
    if (cfg->fanout > 0 && (a->relay = rt_calloc(cfg->fanout, sizeof *a->relay)) == NULL) {
        aura_close(a);
        return NULL;
    }
    a->cc = (chain_config){
        .confirm_depth = cfg->confirm_depth,
        .orphan_max = cfg->orphan_max,
        .validate = aura_check_parent,
        .validate_arg = NULL,
    };
    if (a->defer != NULL) a->ch = chain_open(st, &a->cc, aura__on_chain, a);
    if (a->ch == NULL) {
        aura_close(a);
        return NULL;
    }
    /* After a restart, never build again for a slot at or before the head's. */
    const block *head = chain_head(a->ch);
    if (head->height > 0 && head->proposer == cfg->self) {
        a->produced_any = true;
        a->last_slot = (int64_t)head->slot;
    }
    return a;
}

void aura_close(aura *a) {
    if (a == NULL) return;
    chain_close(a->ch);
    if (a->defer != NULL) rt_free(a->defer);
    if (a->relay != NULL) rt_free(a->relay);
    if (a->held != NULL) rt_free(a->held);
    rt_free(a);
}
