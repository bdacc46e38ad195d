/*
 * test_node_aura.c -- the AuRa engine's receive path, end to end in a small
 * simulated world: node 0 runs the real "aura" program, node 1 runs a script
 * that plays a (mis)behaving validator. The script sends an undecodable
 * block, a block from the wrong proposer, one from too far in the future,
 * one from the near future (deferred, then imported when node 0's clock
 * reaches it), an orphan (node 0 must ask for its parent, ask again when
 * the first ask goes unanswered, and import both once answered), a request for genesis (node 0 must answer) and an unknown
 * message tag; the test then checks the facts node 0 reported and what it
 * sent. Clocks are exact (no offset or drift) so every time is known.
 * A second test crashes one of four validators and checks that, restarted
 * with an empty chain, it back-fills what it missed and rejoins.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "block.h"
#include "node.h"
#include "deja/rt.h"
#include "deja/world.h"
#include "codec.h"
#include "msg.h"
#include "reason.h"

#define T_LATENCY (10 * RT_MS)

/* ---- what the test observed (one world at a time: statics are fine) ---- */

typedef struct seen_fact {
    uint32_t node;
    int64_t now;
    rt_fact f;
} seen_fact;

static seen_fact g_facts[512];
static int g_nfacts;

typedef struct script_out {
    bool got_first_block;
    block first;            /* node 0's first gossip (height 1) */
    uint8_t first_hash[16];
    uint8_t deferred_hash[16];
    uint8_t orphan_hash[16], parent_hash[16];
    int requests;           /* times node 0 asked for the orphan's parent */
    int64_t request_at[2];  /* script's monotonic time of the first two asks */
    bool got_genesis;       /* node 0 answered the request for genesis */
    bool built_on_deferred; /* node 0's next block has the deferred one as parent */
    int failures;
    char first_failure[256];
} script_out;

static script_out g_out;

#define SCHECK(cond)                                                                           \
    do {                                                                                       \
        if (!(cond) && g_out.failures++ == 0)                                                  \
            snprintf(g_out.first_failure, sizeof g_out.first_failure, "line %d: %s", __LINE__, \
                     #cond);                                                                   \
    } while (0)

static void on_fact(void *arg, uint32_t node, int64_t now, const rt_fact *f) {
    (void)arg;
    if (g_nfacts == (int)(sizeof g_facts / sizeof g_facts[0])) return;
    g_facts[g_nfacts++] = (seen_fact){.node = node, .now = now, .f = *f};
}

/* ---- the script of node 1 ---------------------------------------------- */

/* A valid block of validator 1 on parent p (hash ph) for slot (odd). */
static block script_block_tag(const block *p, const uint8_t ph[16], uint64_t slot, int64_t ts,
                              uint8_t tag) {
    block b;
    memset(&b, 0, sizeof b);
    b.height = p->height + 1;
    b.slot = slot;
    memcpy(b.parent, ph, 16);
    b.proposer = (uint32_t)(slot % 2);
    b.timestamp = ts;
    b.payload_len = 3;
    memcpy(b.payload, "ab", 2);
    b.payload[2] = tag;
    block_state_root(p->state_root, b.height, b.payload, b.payload_len, b.state_root);
    return b;
}

static block script_block(const block *p, const uint8_t ph[16], uint64_t slot, int64_t ts) {
    return script_block_tag(p, ph, slot, ts, 0);
}

static void send_block(const block *b) {
    uint8_t buf[MSG_MAX];
    size_t n = msg_encode_block(b, buf, sizeof buf);
    rt_send(0, buf, n);
}

/* Receives the next message from node 0 within timeout: true and *out. */
static bool script_recv(msg *out, int64_t timeout) {
    rt_msg *m = NULL;
    if (rt_chan_recv(rt_inbox(), &m, timeout) != RT_OK) return false;
    int rc = msg_decode(m->data, m->len, out);
    uint32_t from = m->from;
    rt_msg_free(m);
    SCHECK(rc == RT_OK && from == 0);
    return rc == RT_OK;
}

static void sleep_until_wall(int64_t wall) {
    int64_t now = rt_wall_ns();
    if (wall > now) rt_sleep_ns(wall - now);
}

static void prog_script(rt_ctx *ctx) {
    (void)ctx;
    const int64_t slot = RT_SEC;
    msg m;
    /* node 0 proposes the even slot it starts in */
    SCHECK(script_recv(&m, 2 * RT_SEC) && m.tag == MSG_BLOCK && m.b.height == 1);
    g_out.got_first_block = true;
    g_out.first = m.b;
    block_hash(&m.b, g_out.first_hash);
    uint64_t s0 = m.b.slot;
    SCHECK(s0 % 2 == 0);

    /* A: bytes tagged as a block that are no block (sealed: malformed, not damaged) */
    uint8_t junk[3 + NODE_SEAL_LEN] = {MSG_BLOCK, 0x00, 0x01};
    rt_send(0, junk, node_seal(junk, 3, sizeof junk));
    /* A': a good block damaged on the way (one bit flipped): refused for its
     * seal and counted, never a refusal of the block */
    {
        uint8_t buf[MSG_MAX];
        block x = script_block(&g_out.first, g_out.first_hash, s0 + 4, (int64_t)(s0 + 4) * slot);
        size_t n = msg_encode_block(&x, buf, sizeof buf);
        buf[9] ^= 0x10;
        rt_send(0, buf, n);
    }
    /* B: slot s0+1 belongs to validator 1, but the block claims 0 */
    block b = script_block(&g_out.first, g_out.first_hash, s0 + 1, (int64_t)(s0 + 1) * slot);
    b.proposer = 0;
    send_block(&b);
    /* C: three slots ahead of node 0's clock: far beyond 500 ms */
    b = script_block(&g_out.first, g_out.first_hash, s0 + 3, (int64_t)(s0 + 3) * slot);
    send_block(&b);

    /* D: 300 ms before slot s0+1 begins, its block (stamped at the slot
     * start) is 300 ms ahead of node 0's clock: deferred, not refused */
    sleep_until_wall((int64_t)s0 * slot + 700 * RT_MS);
    block d = script_block(&g_out.first, g_out.first_hash, s0 + 1, (int64_t)(s0 + 1) * slot);
    block_hash(&d, g_out.deferred_hash);
    send_block(&d);

    /* E: an orphan from the past (a fork off genesis); node 0 must ask for
     * the parent, and import both once it has it. The fork ties with D at
     * height 2, so pick a payload that makes it lose the hash tie-break. */
    block g;
    block_genesis(&g);
    uint8_t gh[16];
    block_hash(&g, gh);
    block p = script_block(&g, gh, 1, 1 * slot);
    block_hash(&p, g_out.parent_hash);
    block q;
    for (uint8_t tag = 0;; tag++) {
        q = script_block_tag(&p, g_out.parent_hash, 3, 3 * slot, tag);
        block_hash(&q, g_out.orphan_hash);
        if (block_hash_cmp(g_out.orphan_hash, g_out.deferred_hash) > 0) break;
    }
    send_block(&q);
    /* the first ask goes unanswered (as if lost): node 0 must ask again */
    while (g_out.requests < 2 && script_recv(&m, RT_SEC)) {
        if (m.tag != MSG_GET_BLOCK) continue;
        SCHECK(memcmp(m.hash, g_out.parent_hash, 16) == 0);
        g_out.request_at[g_out.requests++] = rt_mono_ns();
    }
    send_block(&p);

    /* F: ask node 0 for genesis */
    uint8_t req[MSG_MAX];
    size_t n = msg_encode_get_block(gh, req, sizeof req);
    rt_send(0, req, n);
    while (script_recv(&m, RT_SEC)) {
        if (m.tag == MSG_BLOCK && m.b.height == 0) {
            uint8_t h[16];
            block_hash(&m.b, h);
            SCHECK(memcmp(h, gh, 16) == 0);
            g_out.got_genesis = true;
            break;
        }
    }

    /* G: a tag nobody knows is ignored */
    uint8_t odd[4 + NODE_SEAL_LEN] = {0x7f, 1, 2, 3};
    rt_send(0, odd, node_seal(odd, 4, sizeof odd));

    /* node 0's block for slot s0+2 builds on the deferred block */
    while (script_recv(&m, 2 * RT_SEC)) {
        if (m.tag == MSG_BLOCK && m.b.slot == s0 + 2) {
            g_out.built_on_deferred = memcmp(m.b.parent, g_out.deferred_hash, 16) == 0;
            SCHECK(m.b.height == 3); /* genesis, first, D, this */
            break;
        }
    }
}

/* ---- the test ----------------------------------------------------------- */

/* The first fact of node 0 of kind k (and hash h unless NULL), or NULL. */
static const seen_fact *find(rt_fact_kind k, const uint8_t *h) {
    for (int i = 0; i < g_nfacts; i++) {
        const seen_fact *s = &g_facts[i];
        if (s->node == 0 && s->f.kind == k && (h == NULL || memcmp(s->f.hash, h, 16) == 0)) return s;
    }
    return NULL;
}

static void test_receive_path(void **state) {
    (void)state;
    memset(&g_out, 0, sizeof g_out);
    g_nfacts = 0;
    rt_program_register("t-aura-script", prog_script);
    deja_world *w = deja_world_new(3, NULL);
    deja_net_config(w, T_LATENCY, 0, 0);
    deja_world_on_fact(w, on_fact, NULL);
    assert_int_equal(deja_node_add(w, "aura", 0, 0), 0);
    assert_int_equal(deja_node_add(w, "t-aura-script", 0, 0), 1);
    deja_world_set_duration(w, 4 * RT_SEC);
    deja_world_run(w);
    deja_world_shutdown(w, RT_SEC);
    assert_int_equal(deja_world_live_tasks(w, -1), 0);
    deja_world_free(w);

    if (g_out.failures) fail_msg("script: %d failure(s), first: %s", g_out.failures, g_out.first_failure);
    assert_true(g_out.got_first_block);

    /* the refusals, in the order sent, each with its reason */
    int64_t want[] = {NODE_REJ_DECODE, NODE_REJ_PROPOSER, NODE_REJ_FUTURE};
    int k = 0;
    for (int i = 0; i < g_nfacts; i++)
        if (g_facts[i].node == 0 && g_facts[i].f.kind == RT_FACT_REJECTED) {
            assert_true(k < 3);
            assert_int_equal(g_facts[i].f.value, want[k]);
            k++;
        }
    assert_int_equal(k, 3);
    /* the damaged message: one msg.corrupt fact naming the sender */
    int corrupt = 0;
    for (int i = 0; i < g_nfacts; i++)
        if (g_facts[i].node == 0 && g_facts[i].f.kind == rt_fact_kind_named(NODE_FACT_MSG_CORRUPT)) {
            assert_int_equal(g_facts[i].f.value, 1);
            corrupt++;
        }
    assert_int_equal(corrupt, 1);

    /* the near-future block: held back 300 ms, imported when due */
    const seen_fact *def = find(RT_FACT_DEFERRED, g_out.deferred_hash);
    assert_non_null(def);
    assert_true(def->f.value > 250 * RT_MS && def->f.value <= 300 * RT_MS);
    const seen_fact *imp = find(RT_FACT_IMPORTED, g_out.deferred_hash);
    assert_non_null(imp);
    assert_true(imp->now >= RT_SEC && imp->now < RT_SEC + 10 * RT_MS);
    assert_true(g_out.built_on_deferred);

    /* the orphan: asked for its parent, then both imported */
    assert_int_equal(g_out.requests, 2);
    int64_t gap = g_out.request_at[1] - g_out.request_at[0];
    assert_true(gap >= 500 * RT_MS && gap <= 500 * RT_MS + 2 * T_LATENCY); /* half a slot */
    assert_non_null(find(RT_FACT_IMPORTED, g_out.parent_hash));
    assert_non_null(find(RT_FACT_IMPORTED, g_out.orphan_hash));

    /* requests are served */
    assert_true(g_out.got_genesis);

    /* node 0 produced in its slots and its head moved */
    assert_non_null(find(RT_FACT_PRODUCED, g_out.first_hash));
    assert_non_null(find(RT_FACT_HEAD, g_out.first_hash));
}

/* ---- catching up after a restart ---------------------------------------- */

typedef struct node_view {
    uint64_t head_height;
    uint8_t head[16];
    int produced_after_restart;
    int restarts;
} node_view;

static node_view g_view[4];
static int64_t g_restart_at;

static void on_fact_view(void *arg, uint32_t node, int64_t now, const rt_fact *f) {
    (void)arg;
    if (node >= 4) return;
    node_view *v = &g_view[node];
    if (f->kind == RT_FACT_HEAD) {
        v->head_height = f->height;
        memcpy(v->head, f->hash, 16);
    }
    if ((int)f->kind == DEJA_FACT_RESTART) v->restarts++;
    if (f->kind == RT_FACT_PRODUCED && now > g_restart_at) v->produced_after_restart++;
}

/* A node that crashes loses its in-memory chain and restarts from genesis;
 * it must fetch the missed chain from its peers one ancestor at a time,
 * through an orphan pool much smaller than the gap, and rejoin. */
static void test_restart_catches_up(void **state) {
    (void)state;
    memset(g_view, 0, sizeof g_view);
    deja_params *p = deja_params_new();
    assert_int_equal(deja_params_set(p, "chain.orphan_max", "16"), 0);
    deja_world *w = deja_world_new(5, p);
    deja_params_free(p);
    deja_net_config(w, T_LATENCY, 2 * RT_MS, 0);
    deja_world_on_fact(w, on_fact_view, NULL);
    for (int i = 0; i < 4; i++) assert_int_equal(deja_node_add(w, "aura", 0, 0), i);
    g_restart_at = 100 * RT_SEC;
    deja_node_crash(w, 2, 40 * RT_SEC, g_restart_at - 40 * RT_SEC);
    deja_world_set_duration(w, 160 * RT_SEC + 500 * RT_MS); /* end mid-slot: nothing in flight */
    deja_world_run(w);
    deja_world_shutdown(w, RT_SEC);
    assert_int_equal(deja_world_live_tasks(w, -1), 0);
    deja_world_free(w);

    assert_int_equal(g_view[2].restarts, 1);
    assert_true(g_view[2].produced_after_restart >= 10); /* back in its slots */
    for (int i = 0; i < 4; i++) {
        assert_true(g_view[i].head_height >= 140); /* 160 slots, 15 missed while down */
        assert_true(g_view[i].head_height == g_view[0].head_height);
        assert_memory_equal(g_view[i].head, g_view[0].head, 16);
    }
}

int main(void) {
    node_programs_register();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_receive_path),
        cmocka_unit_test(test_restart_catches_up),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
