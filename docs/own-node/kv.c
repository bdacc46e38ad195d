/*
 * kv.c -- the replicated key-value node (kv.h). Three tasks per node:
 *   main      receives messages: the primary counts acknowledgements and
 *             commits; a replica applies entries in sequence and acks;
 *   writer    (primary) a new entry every kv.put_ms, applied and sent;
 *   resender  (primary) every kv.resend_ms, the entries each replica has
 *             not acknowledged yet (the network may lose them).
 * State lives in one struct reached from the program's entry point (several
 * nodes share one process in the simulator), memory comes from rt_malloc,
 * randomness from rt_rand_u64 and time from rt_mono_ns: deja/rt.h only.
 */
#include <stdint.h>
#include <string.h>

#include "deja/rt.h"
#include "kv.h"

#define KV_KEYS 16
#define KV_RESEND_MAX 64 /* entries resent to one replica per tick */
#define KV_WINDOW 64     /* entries a replica holds that arrived ahead of their turn */

typedef struct kv_entry {
    uint64_t seq; /* 0: an empty slot of the window */
    uint32_t key;
    uint64_t val;
} kv_entry;

typedef struct kv_node {
    uint32_t id, n;
    int bug, trust_acks;
    rt_fact_kind k_apply, k_commit;
    uint64_t store[KV_KEYS];
    uint64_t digest;  /* of the store, after every applied entry */
    uint64_t applied; /* entries applied, 1..applied, in sequence */
    kv_entry window[KV_WINDOW]; /* a replica's: entry s waits in window[s % KV_WINDOW] */
    /* the primary's */
    kv_entry *log;    /* log[s - 1] is entry s */
    uint64_t cap;
    uint64_t *acked;  /* per node: the applied sequence it last acknowledged */
    uint64_t committed;
    uint32_t have;    /* replicas whose acked[] reaches committed + 1 */
    rt_ctx *ctx;
    rt_wg *wg;
} kv_node;

/* Applies entry seq (key, val) and reports it. */
static void kv_apply(kv_node *nd, uint64_t seq, uint32_t key, uint64_t val) {
    nd->store[key % KV_KEYS] = val;
    nd->digest = (nd->digest ^ (seq * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)key << 32) ^ val) * 0x100000001b3ull;
    nd->applied = seq;
    rt_fact f;
    memset(&f, 0, sizeof f);
    f.kind = nd->k_apply;
    f.height = seq;
    f.value = key;
    memcpy(f.hash, &nd->digest, sizeof nd->digest);
    rt_fact_report(&f);
}

static void kv_send(uint32_t to, int type, uint64_t seq, uint32_t key, uint64_t val) {
    kv_msg m;
    memset(&m, 0, sizeof m);
    m.type = (uint8_t)type;
    m.seq = seq;
    m.key = key;
    m.val = val;
    rt_send(to, &m, sizeof m);
}

/* The primary: a new entry every kv.put_ms. */
static void kv_writer(void *arg) {
    kv_node *nd = arg;
    rt_timer *t = rt_timer_new("kv.put", rt_param_i64("kv.put_ms", 20) * RT_MS, rt_param_i64("kv.put_ms", 20) * RT_MS);
    rt_case cs[2] = {{rt_timer_chan(t), RT_RECV, NULL, 0}, {rt_ctx_done(nd->ctx), RT_RECV, NULL, 0}};
    while (rt_select(cs, 2, RT_FOREVER) == 0) {
        uint64_t seq = nd->applied + 1;
        if (seq > nd->cap) {
            uint64_t cap = nd->cap ? 2 * nd->cap : 256;
            kv_entry *log = rt_realloc(nd->log, cap * sizeof *log);
            if (!log) break;
            nd->log = log;
            nd->cap = cap;
        }
        uint64_t r = rt_rand_u64();
        kv_entry e = {seq, (uint32_t)(r % KV_KEYS), r >> 8};
        nd->log[seq - 1] = e;
        kv_apply(nd, seq, e.key, e.val);
        for (uint32_t to = 1; to < nd->n; to++) kv_send(to, KV_PUT, seq, e.key, e.val);
    }
    rt_timer_stop(t);
    rt_wg_done(nd->wg);
}

/* The primary: resends what each replica has not acknowledged. */
static void kv_resender(void *arg) {
    kv_node *nd = arg;
    int64_t every = rt_param_i64("kv.resend_ms", 100) * RT_MS;
    rt_timer *t = rt_timer_new("kv.resend", every, every);
    rt_case cs[2] = {{rt_timer_chan(t), RT_RECV, NULL, 0}, {rt_ctx_done(nd->ctx), RT_RECV, NULL, 0}};
    while (rt_select(cs, 2, RT_FOREVER) == 0)
        for (uint32_t to = 1; to < nd->n; to++)
            for (uint64_t s = nd->acked[to] + 1; s <= nd->applied && s <= nd->acked[to] + KV_RESEND_MAX; s++)
                kv_send(to, KV_PUT, s, nd->log[s - 1].key, nd->log[s - 1].val);
    rt_timer_stop(t);
    rt_wg_done(nd->wg);
}

/* The primary: an acknowledgement from replica `from`; commits every entry
 * a majority (the primary included) has applied. An acknowledgement costs
 * O(1) (it moves `have`, the count of replicas at or past the next entry);
 * a commit O(n), to count them for the entry after it. An acknowledgement
 * of more than the primary wrote is dropped: no replica can have it (with
 * kv.trust_acks=1 it is believed: the flaw a flood finds). */
static void kv_on_ack(kv_node *nd, uint32_t from, uint64_t seq) {
    if (seq > nd->applied && !nd->trust_acks) return;
    uint64_t next = nd->committed + 1;
    if (nd->acked[from] < next && seq >= next) nd->have++;
    else if (nd->acked[from] >= next && seq < next) nd->have--; /* a replica that restarted acknowledges less */
    nd->acked[from] = seq;
    while (next <= nd->applied && 2 * (uint64_t)(nd->have + 1) > nd->n) {
        nd->committed = next++;
        rt_fact f;
        memset(&f, 0, sizeof f);
        f.kind = nd->k_commit;
        f.height = nd->committed;
        rt_fact_report(&f);
        nd->have = 0;
        for (uint32_t i = 1; i < nd->n; i++) nd->have += nd->acked[i] >= next;
    }
}

/* A replica: entry seq from the primary. The next entry is applied, with
 * every one after it that already waits in the window; a later one waits
 * there for its turn (the network reorders and loses messages; the primary
 * resends what is not acknowledged). */
static void kv_on_put(kv_node *nd, const kv_msg *m) {
    if (m->seq == nd->applied + 1 || (nd->bug && m->seq > nd->applied + 1)) {
        kv_apply(nd, m->seq, m->key, m->val); /* the bug: a gap is skipped, not waited for */
        for (kv_entry *e; (e = &nd->window[(nd->applied + 1) % KV_WINDOW])->seq == nd->applied + 1;)
            kv_apply(nd, e->seq, e->key, e->val);
    } else if (m->seq > nd->applied && m->seq <= nd->applied + KV_WINDOW) {
        kv_entry *e = &nd->window[m->seq % KV_WINDOW];
        e->seq = m->seq;
        e->key = m->key;
        e->val = m->val;
    }
    kv_send(0, KV_ACK, nd->applied, 0, 0); /* tells the primary where this replica is */
}

static void kv_main(rt_ctx *ctx) {
    kv_node *nd = rt_calloc(1, sizeof *nd);
    if (!nd) return;
    nd->id = rt_node_id();
    nd->n = rt_node_count();
    nd->bug = rt_param_i64("kv.bug", 0) != 0;
    nd->trust_acks = rt_param_i64("kv.trust_acks", 0) != 0;
    nd->k_apply = rt_fact_kind_named("kv.apply");
    nd->k_commit = rt_fact_kind_named("kv.commit");
    nd->ctx = ctx;
    nd->wg = rt_wg_new();
    if (nd->id == 0) { /* the primary's table: O(n) on one node, not on every node */
        nd->acked = rt_calloc(nd->n, sizeof *nd->acked);
        if (!nd->acked) {
            rt_wg_free(nd->wg);
            rt_free(nd);
            return;
        }
        rt_wg_add(nd->wg, 2);
        rt_spawn("writer", kv_writer, nd);
        rt_spawn("resender", kv_resender, nd);
    }
    rt_msg *msg;
    rt_case cs[2] = {{rt_inbox(), RT_RECV, &msg, 0}, {rt_ctx_done(ctx), RT_RECV, NULL, 0}};
    while (rt_select(cs, 2, RT_FOREVER) == 0 && cs[0].result == RT_OK) {
        kv_msg m;
        if (msg->len == sizeof m) {
            memcpy(&m, msg->data, sizeof m);
            if (nd->id == 0 && m.type == KV_ACK && msg->from > 0 && msg->from < nd->n)
                kv_on_ack(nd, msg->from, m.seq);
            else if (nd->id != 0 && m.type == KV_PUT)
                kv_on_put(nd, &m);
        }
        rt_msg_free(msg);
    }
    rt_wg_wait(nd->wg, RT_FOREVER); /* the writer and resender quit when ctx is done */
    rt_wg_free(nd->wg);
    rt_free(nd->log);
    rt_free(nd->acked);
    rt_free(nd);
}

void kv_register(void) { rt_program_register("kv", kv_main); }
