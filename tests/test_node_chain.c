/*
 * test_node_chain.c -- the reference node's block tree and store as pure
 * data: linking, duplicates, fork choice and its lower-hash tie-break (the
 * same head whatever the arrival order), reorg depth, confirmation at depth
 * k (each height once, in order; a reorg below it re-confirms, which is what
 * the safety oracle catches), the orphan pool (missing-ancestor requests,
 * cascade import, eviction, dropping descendants of a refused block),
 * refusals, the in-memory store, and resuming a chain from its store.
 *
 * The chain allocates with rt_malloc, which the simulator accounts to the
 * calling node, so each test body runs as the only program of a one-node
 * world that has nothing else to do (no clock, network or disk is used).
 * Bodies record failed checks instead of asserting, since a cmocka failure
 * cannot unwind a simulated task; the test then fails on the main stack.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "aura.h"
#include "block.h"
#include "chain.h"
#include "deja/rt.h"
#include "deja/world.h"
#include "store.h"

/* ---- running a body inside a node --------------------------------------- */

static void (*g_body)(void);
static int g_failures;
static char g_first_failure[512];

#define CHECK(cond)                                                                            \
    do {                                                                                       \
        if (!(cond)) check_failed(__FILE__, __LINE__, #cond);                                  \
    } while (0)

static void check_failed(const char *file, int line, const char *what) {
    if (g_failures++ == 0)
        snprintf(g_first_failure, sizeof g_first_failure, "%s:%d: CHECK(%s)", file, line, what);
}

static void prog_body(rt_ctx *ctx) {
    (void)ctx;
    g_body();
}

/* Runs body as the program of a one-node world; fails on any failed CHECK. */
static void in_node(void (*body)(void)) {
    g_body = body;
    g_failures = 0;
    g_first_failure[0] = '\0';
    rt_program_register("t-node-chain", prog_body);
    deja_world *w = deja_world_new(1, NULL);
    assert_int_equal(deja_node_add(w, "t-node-chain", 0, 0), 0);
    deja_world_set_duration(w, RT_SEC);
    deja_world_run(w);
    deja_world_shutdown(w, RT_SEC);
    assert_int_equal(deja_world_live_tasks(w, -1), 0);
    deja_world_free(w);
    if (g_failures) fail_msg("%d failed check(s), first: %s", g_failures, g_first_failure);
}

/* ---- recording events --------------------------------------------------- */

typedef struct rec_ev {
    chain_event_kind kind;
    uint64_t height;
    uint8_t hash[BLOCK_HASH_LEN];
    bool local;
    node_reason reason;
    uint64_t depth;
    bool below;
} rec_ev;

typedef struct rec {
    int n;
    rec_ev ev[128];
} rec;

static void on_event(void *arg, const chain_event *e) {
    rec *r = arg;
    CHECK(r->n < 128);
    if (r->n >= 128) return;
    rec_ev *x = &r->ev[r->n++];
    x->kind = e->kind;
    x->height = e->b->height;
    memcpy(x->hash, e->hash, BLOCK_HASH_LEN);
    x->local = e->local;
    x->reason = e->reason;
    x->depth = e->reorg_depth;
    x->below = e->below_confirmed;
}

static int count_kind(const rec *r, chain_event_kind k) {
    int n = 0;
    for (int i = 0; i < r->n; i++) n += r->ev[i].kind == k;
    return n;
}

/* The last event of kind k, or NULL. */
static const rec_ev *last_kind(const rec *r, chain_event_kind k) {
    for (int i = r->n - 1; i >= 0; i--)
        if (r->ev[i].kind == k) return &r->ev[i];
    return NULL;
}

/* ---- building blocks ---------------------------------------------------- */

/* A block and its hash. */
typedef struct hb {
    block b;
    uint8_t h[BLOCK_HASH_LEN];
} hb;

static hb genesis(void) {
    hb g;
    block_genesis(&g.b);
    block_hash(&g.b, g.h);
    return g;
}

/* A valid child of p at slot (distinct payloads give distinct siblings). */
static hb child(const hb *p, uint64_t slot, uint8_t tag) {
    hb c;
    memset(&c, 0, sizeof c);
    c.b.height = p->b.height + 1;
    c.b.slot = slot;
    memcpy(c.b.parent, p->h, BLOCK_HASH_LEN);
    c.b.proposer = (uint32_t)(slot % 4);
    c.b.timestamp = (int64_t)slot * RT_SEC;
    c.b.payload_len = 1;
    c.b.payload[0] = tag;
    block_state_root(p->b.state_root, c.b.height, c.b.payload, 1, c.b.state_root);
    block_hash(&c.b, c.h);
    return c;
}

static chain *open_chain(store *st, uint64_t k, uint32_t orphan_max, rec *r) {
    chain_config cc = {.confirm_depth = k, .orphan_max = orphan_max,
                       .validate = aura_check_parent, .validate_arg = NULL};
    chain *c = chain_open(st, &cc, on_event, r);
    CHECK(c != NULL);
    return c;
}

static bool head_is(chain *c, const hb *x) {
    return memcmp(chain_head_hash(c), x->h, BLOCK_HASH_LEN) == 0 &&
           chain_head(c)->height == x->b.height;
}

/* ---- bodies ------------------------------------------------------------- */

static void body_linear_confirm(void) {
    rec r = {0};
    store *st = store_mem_open();
    chain *c = open_chain(st, 2, 8, &r);
    hb g = genesis();
    CHECK(head_is(c, &g));
    CHECK(chain_confirmed(c) == 0);
    hb b[6];
    b[0] = g;
    for (int i = 1; i <= 5; i++) {
        b[i] = child(&b[i - 1], (uint64_t)i, (uint8_t)i);
        int before = r.n;
        chain_result res;
        CHECK(chain_import(c, &b[i].b, i == 2, &res) == CHAIN_IMPORTED);
        CHECK(memcmp(res.hash, b[i].h, BLOCK_HASH_LEN) == 0);
        CHECK(r.ev[before].kind == CHAIN_EV_IMPORTED);
        CHECK(r.ev[before].local == (i == 2));
        CHECK(r.ev[before + 1].kind == CHAIN_EV_HEAD);
        CHECK(r.ev[before + 1].depth == 0);
        CHECK(head_is(c, &b[i]));
        /* height h is confirmed once head >= h + 2: exactly one new one */
        CHECK(r.n - before == (i >= 3 ? 3 : 2));
        if (i >= 3) {
            CHECK(r.ev[before + 2].kind == CHAIN_EV_CONFIRMED);
            CHECK(r.ev[before + 2].height == (uint64_t)(i - 2));
            CHECK(memcmp(r.ev[before + 2].hash, b[i - 2].h, BLOCK_HASH_LEN) == 0);
        }
    }
    CHECK(chain_confirmed(c) == 3);
    CHECK(count_kind(&r, CHAIN_EV_CONFIRMED) == 3);
    /* duplicates change nothing */
    int before = r.n;
    CHECK(chain_import(c, &b[3].b, false, NULL) == CHAIN_KNOWN);
    CHECK(r.n == before);
    /* canonical lookups */
    uint8_t h[BLOCK_HASH_LEN];
    CHECK(chain_canonical(c, 2, h) == RT_OK && memcmp(h, b[2].h, BLOCK_HASH_LEN) == 0);
    CHECK(chain_canonical(c, 0, h) == RT_OK && memcmp(h, g.h, BLOCK_HASH_LEN) == 0);
    CHECK(chain_canonical(c, 6, h) == RT_ENOENT);
    block got;
    CHECK(chain_get(c, b[4].h, &got) == RT_OK && got.slot == 4);
    CHECK(store_count(st) == 6);
    chain_close(c);
    store_close(st);
}

/* Imports x then y into a fresh chain; returns the head hash. */
static void head_after(const hb *x, const hb *y, uint8_t out[BLOCK_HASH_LEN], rec *r) {
    store *st = store_mem_open();
    chain *c = open_chain(st, 3, 8, r);
    CHECK(chain_import(c, &x->b, false, NULL) == CHAIN_IMPORTED);
    CHECK(chain_import(c, &y->b, false, NULL) == CHAIN_IMPORTED);
    memcpy(out, chain_head_hash(c), BLOCK_HASH_LEN);
    chain_close(c);
    store_close(st);
}

static void body_tie_break(void) {
    hb g = genesis();
    hb a = child(&g, 1, 0xa), b = child(&g, 2, 0xb);
    const hb *lo = block_hash_cmp(a.h, b.h) < 0 ? &a : &b;
    const hb *hi = lo == &a ? &b : &a;
    uint8_t h1[BLOCK_HASH_LEN], h2[BLOCK_HASH_LEN];
    rec r1 = {0}, r2 = {0};
    head_after(lo, hi, h1, &r1);
    head_after(hi, lo, h2, &r2);
    /* the same head from either order: the lower hash */
    CHECK(memcmp(h1, lo->h, BLOCK_HASH_LEN) == 0);
    CHECK(memcmp(h2, lo->h, BLOCK_HASH_LEN) == 0);
    /* lower first: the higher sibling moves nothing */
    CHECK(count_kind(&r1, CHAIN_EV_HEAD) == 1);
    /* higher first: the lower sibling takes over, a reorg of depth 1 */
    CHECK(count_kind(&r2, CHAIN_EV_HEAD) == 2);
    CHECK(last_kind(&r2, CHAIN_EV_HEAD)->depth == 1);
    CHECK(memcmp(last_kind(&r2, CHAIN_EV_HEAD)->hash, lo->h, BLOCK_HASH_LEN) == 0);
}

static void body_reorg_and_orphans(void) {
    rec r = {0};
    store *st = store_mem_open();
    chain *c = open_chain(st, 10, 8, &r);
    hb g = genesis();
    hb a1 = child(&g, 1, 1), a2 = child(&a1, 2, 1), a3 = child(&a2, 3, 1);
    hb b1 = child(&g, 5, 2), b2 = child(&b1, 6, 2), b3 = child(&b2, 7, 2), b4 = child(&b3, 8, 2);
    CHECK(chain_import(c, &a1.b, false, NULL) == CHAIN_IMPORTED);
    CHECK(chain_import(c, &a2.b, false, NULL) == CHAIN_IMPORTED);
    CHECK(chain_import(c, &a3.b, false, NULL) == CHAIN_IMPORTED);
    CHECK(head_is(c, &a3));

    /* the B branch arrives newest first: each one an orphan, and the block
     * to ask for is always the nearest ancestor we do not have at all */
    chain_result res;
    CHECK(chain_import(c, &b4.b, false, &res) == CHAIN_ORPHAN);
    CHECK(memcmp(res.missing, b3.h, BLOCK_HASH_LEN) == 0);
    CHECK(chain_import(c, &b2.b, false, &res) == CHAIN_ORPHAN);
    CHECK(memcmp(res.missing, b1.h, BLOCK_HASH_LEN) == 0);
    CHECK(chain_import(c, &b3.b, false, &res) == CHAIN_ORPHAN);
    CHECK(memcmp(res.missing, b1.h, BLOCK_HASH_LEN) == 0);
    /* a pooled duplicate: still an orphan, still pointing at b1 */
    CHECK(chain_import(c, &b4.b, false, &res) == CHAIN_ORPHAN);
    CHECK(memcmp(res.missing, b1.h, BLOCK_HASH_LEN) == 0);
    CHECK(chain_orphans(c) == 3);
    CHECK(chain_knows(c, b3.h) && !chain_has(c, b3.h));
    CHECK(head_is(c, &a3));

    /* the root arrives: the whole branch imports, one head move, depth 3 */
    int before = r.n;
    CHECK(chain_import(c, &b1.b, false, &res) == CHAIN_IMPORTED);
    CHECK(chain_orphans(c) == 0);
    CHECK(head_is(c, &b4));
    int imported = 0, heads = 0;
    for (int i = before; i < r.n; i++) {
        if (r.ev[i].kind == CHAIN_EV_IMPORTED) {
            CHECK(r.ev[i].height == (uint64_t)(imported + 1)); /* parents first */
            CHECK(!r.ev[i].local);
            imported++;
        }
        if (r.ev[i].kind == CHAIN_EV_HEAD) {
            heads++;
            CHECK(r.ev[i].depth == 3);
            CHECK(!r.ev[i].below);
        }
    }
    CHECK(imported == 4 && heads == 1);

    /* a shallow fork: c3 on b2 loses to the longer b4 (no head move); then
     * c4, c5 on it win with a reorg of depth 2 (b3 and b4 leave) */
    hb c3 = child(&b2, 9, 3), c4 = child(&c3, 10, 3), c5 = child(&c4, 11, 3);
    before = r.n;
    CHECK(chain_import(c, &c3.b, false, NULL) == CHAIN_IMPORTED);
    CHECK(chain_import(c, &c4.b, false, NULL) == CHAIN_IMPORTED);
    if (block_hash_cmp(c4.h, b4.h) < 0) {
        CHECK(head_is(c, &c4)); /* tie at height 4 broken by hash */
        CHECK(last_kind(&r, CHAIN_EV_HEAD)->depth == 2);
    } else {
        CHECK(head_is(c, &b4));
    }
    CHECK(chain_import(c, &c5.b, false, NULL) == CHAIN_IMPORTED);
    CHECK(head_is(c, &c5));
    uint64_t total = 0;
    for (int i = before; i < r.n; i++)
        if (r.ev[i].kind == CHAIN_EV_HEAD) total += r.ev[i].depth;
    CHECK(total == 2);
    chain_close(c);
    store_close(st);
}

static void body_confirm_then_deep_reorg(void) {
    rec r = {0};
    store *st = store_mem_open();
    chain *c = open_chain(st, 1, 8, &r);
    hb g = genesis();
    hb a1 = child(&g, 1, 1), a2 = child(&a1, 2, 1), a3 = child(&a2, 3, 1);
    CHECK(chain_import(c, &a1.b, false, NULL) == CHAIN_IMPORTED);
    CHECK(chain_import(c, &a2.b, false, NULL) == CHAIN_IMPORTED);
    CHECK(chain_import(c, &a3.b, false, NULL) == CHAIN_IMPORTED);
    CHECK(chain_confirmed(c) == 2);
    hb b[6];
    b[0] = g;
    for (int i = 1; i <= 5; i++) b[i] = child(&b[i - 1], (uint64_t)(10 + i), 9);
    for (int i = 5; i >= 2; i--) CHECK(chain_import(c, &b[i].b, false, NULL) == CHAIN_ORPHAN);
    int before = r.n;
    CHECK(chain_import(c, &b[1].b, false, NULL) == CHAIN_IMPORTED);
    CHECK(head_is(c, &b[5]));
    const rec_ev *head = last_kind(&r, CHAIN_EV_HEAD);
    CHECK(head->depth == 3 && head->below);
    /* heights 1..4 confirmed again, now with B's hashes, in order */
    uint64_t next = 1;
    for (int i = before; i < r.n; i++) {
        if (r.ev[i].kind != CHAIN_EV_CONFIRMED) continue;
        CHECK(r.ev[i].height == next);
        CHECK(memcmp(r.ev[i].hash, b[next].h, BLOCK_HASH_LEN) == 0);
        next++;
    }
    CHECK(next == 5);
    CHECK(chain_confirmed(c) == 4);
    /* height 1 was reported with two different hashes: a1, then b1 */
    int seen_a1 = 0, seen_b1 = 0;
    for (int i = 0; i < r.n; i++) {
        if (r.ev[i].kind != CHAIN_EV_CONFIRMED || r.ev[i].height != 1) continue;
        seen_a1 += memcmp(r.ev[i].hash, a1.h, BLOCK_HASH_LEN) == 0;
        seen_b1 += memcmp(r.ev[i].hash, b[1].h, BLOCK_HASH_LEN) == 0;
    }
    CHECK(seen_a1 == 1 && seen_b1 == 1);
    chain_close(c);
    store_close(st);
}

static void body_orphan_eviction(void) {
    rec r = {0};
    store *st = store_mem_open();
    chain *c = open_chain(st, 3, 2, &r);
    hb g = genesis();
    hb x1 = child(&g, 1, 1), y1 = child(&g, 1, 2), z1 = child(&g, 1, 3);
    hb x2 = child(&x1, 2, 1), y2 = child(&y1, 2, 2), z2 = child(&z1, 2, 3);
    CHECK(chain_import(c, &x2.b, false, NULL) == CHAIN_ORPHAN);
    CHECK(chain_import(c, &y2.b, false, NULL) == CHAIN_ORPHAN);
    CHECK(r.n == 0);
    CHECK(chain_import(c, &z2.b, false, NULL) == CHAIN_ORPHAN);
    CHECK(chain_orphans(c) == 2);
    CHECK(r.n == 1 && r.ev[0].kind == CHAIN_EV_REJECTED);
    CHECK(r.ev[0].reason == NODE_REJ_ORPHAN_EVICTED);
    CHECK(memcmp(r.ev[0].hash, x2.h, BLOCK_HASH_LEN) == 0); /* the oldest */
    CHECK(!chain_knows(c, x2.h));
    /* x1 imports alone; y1 brings y2 along */
    CHECK(chain_import(c, &x1.b, false, NULL) == CHAIN_IMPORTED);
    CHECK(chain_orphans(c) == 2);
    CHECK(chain_import(c, &y1.b, false, NULL) == CHAIN_IMPORTED);
    CHECK(chain_orphans(c) == 1);
    CHECK(chain_has(c, y2.h));
    CHECK(chain_head(c)->height == 2);
    chain_close(c);
    store_close(st);
}

static void body_refusals(void) {
    rec r = {0};
    store *st = store_mem_open();
    chain *c = open_chain(st, 3, 8, &r);
    hb g = genesis();
    hb a1 = child(&g, 5, 1);
    CHECK(chain_import(c, &a1.b, false, NULL) == CHAIN_IMPORTED);
    chain_result res;

    hb bad = child(&a1, 6, 2);
    bad.b.height = 3; /* should be 2 */
    CHECK(chain_import(c, &bad.b, false, &res) == CHAIN_INVALID && res.reason == NODE_REJ_HEIGHT);

    bad = child(&a1, 6, 2);
    bad.b.state_root[3] ^= 0x40;
    CHECK(chain_import(c, &bad.b, false, &res) == CHAIN_INVALID &&
          res.reason == NODE_REJ_STATE_ROOT);

    bad = child(&a1, 5, 2); /* same slot as the parent: the engine's rule */
    CHECK(chain_import(c, &bad.b, false, &res) == CHAIN_INVALID &&
          res.reason == NODE_REJ_PARENT_SLOT);

    block zero;
    block_genesis(&zero);
    zero.slot = 3; /* a second, different "genesis" */
    CHECK(chain_import(c, &zero, false, &res) == CHAIN_INVALID && res.reason == NODE_REJ_HEIGHT);
    block real_genesis;
    block_genesis(&real_genesis);
    CHECK(chain_import(c, &real_genesis, false, NULL) == CHAIN_KNOWN);

    /* a refused block takes its waiting descendants with it */
    hb p2 = child(&a1, 4, 7); /* slot 4 < parent's 5: will be refused */
    hb p3 = child(&p2, 8, 7), p4 = child(&p3, 9, 7), q3 = child(&p2, 10, 8);
    CHECK(chain_import(c, &p4.b, false, NULL) == CHAIN_ORPHAN);
    CHECK(chain_import(c, &q3.b, false, NULL) == CHAIN_ORPHAN);
    CHECK(chain_import(c, &p3.b, false, NULL) == CHAIN_ORPHAN);
    CHECK(chain_orphans(c) == 3);
    int before = r.n;
    CHECK(chain_import(c, &p2.b, false, &res) == CHAIN_INVALID);
    CHECK(res.reason == NODE_REJ_PARENT_SLOT);
    CHECK(chain_orphans(c) == 0);
    CHECK(r.n - before == 4);
    int bad_anc = 0;
    for (int i = before; i < r.n; i++) {
        CHECK(r.ev[i].kind == CHAIN_EV_REJECTED);
        bad_anc += r.ev[i].reason == NODE_REJ_BAD_ANCESTOR;
    }
    CHECK(bad_anc == 3);
    CHECK(head_is(c, &a1));
    CHECK(count_kind(&r, CHAIN_EV_REJECTED) == 8);
    chain_close(c);
    store_close(st);
}

static void body_store_mem(void) {
    store *st = store_mem_open();
    CHECK(st != NULL && strcmp(st->kind, "mem") == 0);
    uint8_t h[BLOCK_HASH_LEN];
    CHECK(store_get_head(st, h) == RT_ENOENT);
    hb prev = genesis();
    hb *all = rt_calloc(1000, sizeof *all); /* too big for a task's stack */
    CHECK(all != NULL);
    for (int i = 0; i < 1000; i++) {
        all[i] = child(&prev, (uint64_t)i + 1, (uint8_t)i);
        CHECK(store_put(st, all[i].h, &all[i].b) == RT_OK);
        prev = all[i];
    }
    CHECK(store_put(st, all[5].h, &all[6].b) == RT_OK); /* first copy stays */
    CHECK(store_count(st) == 1000);
    for (int i = 0; i < 1000; i++) {
        block got;
        CHECK(store_has(st, all[i].h));
        CHECK(store_get(st, all[i].h, &got) == RT_OK);
        CHECK(got.slot == (uint64_t)i + 1 && got.height == (uint64_t)i + 1);
    }
    uint8_t absent[BLOCK_HASH_LEN] = {1, 2, 3};
    block got;
    CHECK(!store_has(st, absent) && store_get(st, absent, &got) == RT_ENOENT);
    CHECK(store_set_head(st, all[999].h) == RT_OK);
    CHECK(store_get_head(st, h) == RT_OK && memcmp(h, all[999].h, BLOCK_HASH_LEN) == 0);
    int64_t v = 0;
    CHECK(store_get_meta(st, "x", &v) == RT_ENOENT);
    CHECK(store_set_meta(st, "x", -7) == RT_OK && store_set_meta(st, "y", 9) == RT_OK);
    CHECK(store_set_meta(st, "x", 11) == RT_OK);
    CHECK(store_get_meta(st, "x", &v) == RT_OK && v == 11);
    CHECK(store_get_meta(st, "y", &v) == RT_OK && v == 9);
    CHECK(store_set_meta(st, "", 1) == RT_EINVAL);
    CHECK(store_set_meta(st, "0123456789012345678901234567890123", 1) == RT_EINVAL);
    rt_free(all);
    store_close(st);
}

static void body_resume(void) {
    rec r = {0};
    store *st = store_mem_open();
    chain *c = open_chain(st, 1, 8, &r);
    hb g = genesis();
    hb a1 = child(&g, 1, 1), a2 = child(&a1, 2, 1), a3 = child(&a2, 3, 1);
    CHECK(chain_import(c, &a1.b, false, NULL) == CHAIN_IMPORTED);
    CHECK(chain_import(c, &a2.b, false, NULL) == CHAIN_IMPORTED);
    CHECK(chain_confirmed(c) == 1);
    chain_close(c);
    rec r2 = {0};
    c = open_chain(st, 1, 8, &r2);
    CHECK(head_is(c, &a2));
    CHECK(chain_confirmed(c) == 1);
    CHECK(chain_import(c, &a3.b, false, NULL) == CHAIN_IMPORTED);
    CHECK(count_kind(&r2, CHAIN_EV_CONFIRMED) == 1); /* height 2 only */
    CHECK(last_kind(&r2, CHAIN_EV_CONFIRMED)->height == 2);
    chain_close(c);
    store_close(st);
}

/* ---- cmocka ------------------------------------------------------------- */

static void test_linear_confirm(void **s) { (void)s; in_node(body_linear_confirm); }
static void test_tie_break(void **s) { (void)s; in_node(body_tie_break); }
static void test_reorg_and_orphans(void **s) { (void)s; in_node(body_reorg_and_orphans); }
static void test_confirm_then_deep_reorg(void **s) { (void)s; in_node(body_confirm_then_deep_reorg); }
static void test_orphan_eviction(void **s) { (void)s; in_node(body_orphan_eviction); }
static void test_refusals(void **s) { (void)s; in_node(body_refusals); }
static void test_store_mem(void **s) { (void)s; in_node(body_store_mem); }
static void test_resume(void **s) { (void)s; in_node(body_resume); }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linear_confirm),
        cmocka_unit_test(test_tie_break),
        cmocka_unit_test(test_reorg_and_orphans),
        cmocka_unit_test(test_confirm_then_deep_reorg),
        cmocka_unit_test(test_orphan_eviction),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_store_mem),
        cmocka_unit_test(test_resume),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
