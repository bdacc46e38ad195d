/*
 * test_node_store.c -- the reference node's SQLite store (node/store_sqlite.c)
 * on the virtual disk, and the node's recovery on it:
 *   - the SQLite store passes the memory store's behavioural checks (1000
 *     blocks, head, meta), keeps what was committed across a close, undoes a
 *     rolled-back group, and a chain resumes from it;
 *   - a chain over it (read by copies) sees the same events as over the
 *     memory store (which lends its blocks to the chain's walks);
 *   - a record whose bytes no longer match its checksum (changed behind the
 *     store's back with SQL) is reported as RT_FACT_CORRUPTION, never handed
 *     out, queued for a refetch and replaced by a good copy; a lost head
 *     record falls back to the best block;
 *   - four validators on SQLite, one crashing at 30 s and restarting 2 s
 *     later with every unsynced write dropped: it reports INTEGRITY ok and
 *     RECOVERED with at least what it had confirmed, catches up, and every
 *     node confirms the same blocks; the same with corrupted reads on;
 *   - the same with store.sync=0 loses confirmed blocks;
 *   - a full disk, failing fsyncs and corrupted reads reaching SQLite never
 *     crash the simulator, never break safety, and a CONFIRMED fact always
 *     means committed;
 *   - the same seed gives the same trace with the SQLite store.
 *
 * Store bodies run as the program of a one-node world (the store allocates
 * with rt_malloc and opens files of the running node's disk); they record
 * failed checks instead of asserting, as a cmocka failure cannot unwind a
 * simulated task. For debugging: T_VERBOSE=1 prints each four-node world's
 * outcome, T_TRACE=PREFIX writes each world's trace to PREFIX.N.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "aura.h"
#include "block.h"
#include "chain.h"
#include "node.h"
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

/* Facts of the one-node worlds. */
static rt_fact g_facts[256];
static int g_nfacts;

static void on_fact_1(void *arg, uint32_t node, int64_t now, const rt_fact *f) {
    (void)arg, (void)node, (void)now;
    if (g_nfacts < 256) g_facts[g_nfacts++] = *f;
}

static int count_facts(rt_fact_kind k, int64_t value) {
    int n = 0;
    for (int i = 0; i < g_nfacts; i++) n += g_facts[i].kind == k && (value < 0 || g_facts[i].value == value);
    return n;
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
    g_nfacts = 0;
    rt_program_register("t-node-store", prog_body);
    deja_world *w = deja_world_new(1, NULL);
    assert_int_equal(deja_node_add(w, "t-node-store", 0, 0), 0);
    deja_world_on_fact(w, on_fact_1, NULL);
    deja_world_set_duration(w, RT_SEC);
    deja_world_run(w);
    deja_world_shutdown(w, RT_SEC);
    assert_int_equal(deja_world_live_tasks(w, -1), 0);
    deja_world_free(w);
    if (g_failures) fail_msg("%d failed check(s), first: %s", g_failures, g_first_failure);
}

/* ---- blocks ------------------------------------------------------------- */

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

static hb child(const hb *p, uint64_t slot, uint8_t tag) {
    hb c;
    memset(&c, 0, sizeof c);
    c.b.height = p->b.height + 1;
    c.b.slot = slot;
    memcpy(c.b.parent, p->h, BLOCK_HASH_LEN);
    c.b.proposer = (uint32_t)(slot % 4);
    c.b.timestamp = (int64_t)slot * RT_SEC;
    c.b.payload_len = 2;
    c.b.payload[0] = tag;
    c.b.payload[1] = (uint8_t)(slot >> 8);
    block_state_root(p->b.state_root, c.b.height, c.b.payload, 2, c.b.state_root);
    block_hash(&c.b, c.h);
    return c;
}

static const store_sqlite_cfg k_cfg = {.sync = true, .verify_reads = true};

static store *open_sqlite(void) {
    store *st = NULL;
    CHECK(store_sqlite_open("chain.db", &k_cfg, &st) == RT_OK);
    CHECK(st != NULL && st->durable && strcmp(st->kind, "sqlite") == 0);
    return st;
}

/* ---- the store's behaviour ---------------------------------------------- */

/* The checks test_node_chain.c runs on the memory store, on any store. */
static void check_behaviour(store *st) {
    uint8_t h[BLOCK_HASH_LEN];
    CHECK(store_get_head(st, h) == RT_ENOENT);
    hb prev = genesis();
    hb *all = rt_calloc(1000, sizeof *all); /* too big for a task's stack */
    CHECK(all != NULL);
    CHECK(store_begin(st) == RT_OK);
    for (int i = 0; i < 1000; i++) {
        all[i] = child(&prev, (uint64_t)i + 1, (uint8_t)i);
        CHECK(store_put(st, all[i].h, &all[i].b) == RT_OK);
        prev = all[i];
    }
    CHECK(store_commit(st) == RT_OK);
    CHECK(store_put(st, all[5].h, &all[6].b) == RT_OK); /* first copy stays */
    CHECK(store_count(st) == 1000);
    for (int i = 0; i < 1000; i++) {
        block got;
        CHECK(store_has(st, all[i].h));
        CHECK(store_get(st, all[i].h, &got) == RT_OK);
        CHECK(got.slot == (uint64_t)i + 1 && got.height == (uint64_t)i + 1);
        CHECK(memcmp(got.state_root, all[i].b.state_root, BLOCK_HASH_LEN) == 0);
        /* a store that lends its blocks lends what get copies out */
        const block *lent = store_lends(st) ? store_peek(st, all[i].h) : NULL;
        CHECK(!store_lends(st) || (lent != NULL && lent->height == got.height &&
                                   lent->payload_len == got.payload_len &&
                                   memcmp(lent, &got, offsetof(block, payload) + got.payload_len) == 0));
    }
    uint8_t absent[BLOCK_HASH_LEN] = {1, 2, 3};
    block got;
    CHECK(!store_has(st, absent) && store_get(st, absent, &got) == RT_ENOENT);
    CHECK(!store_lends(st) || store_peek(st, absent) == NULL);
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
    CHECK(store_check(st) == RT_OK);
    CHECK(store_take_corrupt(st, h) == RT_ENOENT);
    rt_free(all);
}

static void body_behaviour_mem(void) {
    store *st = store_mem_open();
    CHECK(st != NULL && !st->durable && store_lends(st));
    check_behaviour(st);
    store_close(st);
}

static void body_behaviour_sqlite(void) {
    store *st = open_sqlite();
    CHECK(!store_lends(st)); /* its reads go to the disk: they are never skipped */
    check_behaviour(st);
    store_close(st);

    /* what was committed is there after a close; a rolled-back group is not */
    st = open_sqlite();
    CHECK(store_count(st) == 1000);
    int64_t v = 0;
    CHECK(store_get_meta(st, "x", &v) == RT_OK && v == 11);
    hb g = genesis(), a = child(&g, 5000, 1), b = child(&g, 5001, 2);
    CHECK(store_begin(st) == RT_OK);
    CHECK(store_put(st, a.h, &a.b) == RT_OK && store_set_meta(st, "x", 12) == RT_OK);
    store_rollback(st);
    CHECK(!store_has(st, a.h));
    CHECK(store_get_meta(st, "x", &v) == RT_OK && v == 11);
    CHECK(store_begin(st) == RT_OK);
    CHECK(store_put(st, b.h, &b.b) == RT_OK);
    CHECK(store_commit(st) == RT_OK);
    store_close(st);
    st = open_sqlite();
    CHECK(store_has(st, b.h) && !store_has(st, a.h));
    CHECK(store_count(st) == 1001);
    store_close(st);
    CHECK(store_sqlite_wipe("chain.db") == RT_OK);
    CHECK(!rt_file_exists("chain.db") && !rt_file_exists("chain.db-wal"));
    st = open_sqlite();
    CHECK(store_count(st) == 0);
    store_close(st);
}

/* A chain over the SQLite store resumes from it after a close. */
static void body_chain_resume(void) {
    store *st = open_sqlite();
    chain_config cc = {.confirm_depth = 1, .orphan_max = 8, .validate = aura_check_parent};
    chain *c = chain_open(st, &cc, NULL, NULL);
    CHECK(c != NULL);
    hb g = genesis(), a1 = child(&g, 1, 1), a2 = child(&a1, 2, 1), a3 = child(&a2, 3, 1);
    CHECK(chain_import(c, &a1.b, false, NULL) == CHAIN_IMPORTED);
    CHECK(chain_import(c, &a2.b, false, NULL) == CHAIN_IMPORTED);
    CHECK(chain_confirmed(c) == 1);
    chain_close(c);
    store_close(st);
    st = open_sqlite();
    c = chain_open(st, &cc, NULL, NULL);
    CHECK(c != NULL && chain_head(c)->height == 2 && chain_confirmed(c) == 1);
    CHECK(memcmp(chain_head_hash(c), a2.h, BLOCK_HASH_LEN) == 0);
    CHECK(chain_import(c, &a3.b, false, NULL) == CHAIN_IMPORTED);
    CHECK(chain_confirmed(c) == 2);
    chain_close(c);
    store_close(st);
}

/* Chain events, as body_lent_or_copied compares them. */
typedef struct ev_rec {
    chain_event_kind kind;
    uint64_t height, depth;
    uint8_t hash[BLOCK_HASH_LEN];
    bool below;
} ev_rec;

typedef struct ev_log {
    int n;
    ev_rec ev[128];
} ev_log;

static void log_event(void *arg, const chain_event *e) {
    ev_log *l = arg;
    CHECK(l->n < 128);
    if (l->n >= 128) return;
    ev_rec *x = &l->ev[l->n++];
    memset(x, 0, sizeof *x);
    x->kind = e->kind;
    x->height = e->b->height;
    x->depth = e->reorg_depth;
    x->below = e->below_confirmed;
    memcpy(x->hash, e->hash, BLOCK_HASH_LEN);
}

/* One history on store st: a short branch A confirmed, then a 25-block
 * branch B arriving newest first and adopted at once (a reorg below the
 * confirmed height that confirms 24 heights in one batch), a block
 * imported with its hash given, and canonical lookups (into canon). */
static void lent_or_copied_history(store *st, ev_log *l, uint8_t canon[26][BLOCK_HASH_LEN]) {
    chain_config cc = {.confirm_depth = 1, .orphan_max = 64, .validate = aura_check_parent};
    chain *c = chain_open(st, &cc, log_event, l);
    CHECK(c != NULL);
    hb g = genesis(), a1 = child(&g, 1, 1), a2 = child(&a1, 2, 1), a3 = child(&a2, 3, 1);
    CHECK(chain_import(c, &a1.b, false, NULL) == CHAIN_IMPORTED);
    CHECK(chain_import(c, &a2.b, false, NULL) == CHAIN_IMPORTED);
    CHECK(chain_import(c, &a3.b, false, NULL) == CHAIN_IMPORTED);
    hb *b = rt_calloc(27, sizeof *b);
    CHECK(b != NULL);
    b[0] = g;
    for (int i = 1; i <= 26; i++) b[i] = child(&b[i - 1], (uint64_t)(10 + i), 9);
    for (int i = 25; i >= 2; i--) CHECK(chain_import(c, &b[i].b, false, NULL) == CHAIN_ORPHAN);
    CHECK(chain_import(c, &b[1].b, false, NULL) == CHAIN_IMPORTED);
    CHECK(chain_head(c)->height == 25 && chain_confirmed(c) == 24);
    chain_result res;
    CHECK(chain_import_hashed(c, &b[26].b, b[26].h, false, &res) == CHAIN_IMPORTED);
    CHECK(memcmp(res.hash, b[26].h, BLOCK_HASH_LEN) == 0);
    CHECK(memcmp(chain_head_hash(c), b[26].h, BLOCK_HASH_LEN) == 0);
    CHECK(chain_import_hashed(c, &b[26].b, b[26].h, false, NULL) == CHAIN_KNOWN);
    for (uint64_t h = 0; h <= 25; h++) CHECK(chain_canonical(c, h, canon[h]) == RT_OK);
    CHECK(memcmp(canon[7], b[7].h, BLOCK_HASH_LEN) == 0);
    rt_free(b);
    chain_close(c);
}

/* The memory store lends its blocks to the chain's walks, the SQLite store
 * is read by copies: the same history gives the same events, confirmations
 * and canonical chain on both. */
static void body_lent_or_copied(void) {
    ev_log *l = rt_calloc(2, sizeof *l);
    uint8_t(*canon)[26][BLOCK_HASH_LEN] = rt_calloc(2, sizeof *canon);
    CHECK(l != NULL && canon != NULL);
    store *mem = store_mem_open(), *sql = open_sqlite();
    CHECK(store_lends(mem) && !store_lends(sql));
    lent_or_copied_history(mem, &l[0], canon[0]);
    CHECK(store_begin(sql) == RT_OK);
    lent_or_copied_history(sql, &l[1], canon[1]);
    CHECK(store_commit(sql) == RT_OK);
    store_close(mem);
    store_close(sql);
    CHECK(l[0].n == l[1].n && l[0].n > 50);
    CHECK(memcmp(l[0].ev, l[1].ev, (size_t)l[0].n * sizeof l[0].ev[0]) == 0);
    CHECK(memcmp(canon[0], canon[1], sizeof canon[0]) == 0);
    /* confirmed heights: 1, 2 on A; after the reorg 1..24 in one batch on
     * B; then 25 */
    uint64_t want[27] = {1, 2}, got[27];
    for (int i = 0; i < 25; i++) want[2 + i] = (uint64_t)i + 1;
    int n = 0;
    for (int i = 0; i < l[0].n; i++)
        if (l[0].ev[i].kind == CHAIN_EV_CONFIRMED && n < 27) got[n++] = l[0].ev[i].height;
    CHECK(n == 27 && memcmp(got, want, sizeof want) == 0);
    rt_free(canon);
    rt_free(l);
}

static void test_behaviour_mem(void **s) { (void)s; in_node(body_behaviour_mem); }
static void test_behaviour_sqlite(void **s) { (void)s; in_node(body_behaviour_sqlite); }
static void test_chain_resume(void **s) { (void)s; in_node(body_chain_resume); }
static void test_lent_or_copied(void **s) { (void)s; in_node(body_lent_or_copied); }

/* ---- checksums: corrupt records are reported and never used -------------- */

/* Runs one SQL statement on chain.db behind the store's back (the store
 * must be closed: it holds the database in exclusive mode). */
static void tamper(const char *sql, const uint8_t *hash) {
    CHECK(rt_sqlite_vfs_register() == RT_OK);
    sqlite3 *db = NULL;
    CHECK(sqlite3_open_v2("chain.db", &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK);
    sqlite3_stmt *q = NULL;
    CHECK(sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK);
    if (hash != NULL) sqlite3_bind_blob(q, 1, hash, BLOCK_HASH_LEN, SQLITE_STATIC);
    CHECK(sqlite3_step(q) == SQLITE_DONE);
    CHECK(sqlite3_changes(db) == 1);
    sqlite3_finalize(q);
    CHECK(sqlite3_close(db) == SQLITE_OK);
}

static void body_checksum(void) {
    store *st = open_sqlite();
    hb g = genesis(), a1 = child(&g, 1, 1), a2 = child(&a1, 2, 1), a3 = child(&a2, 3, 1);
    CHECK(store_put(st, g.h, &g.b) == RT_OK && store_put(st, a1.h, &a1.b) == RT_OK);
    CHECK(store_put(st, a2.h, &a2.b) == RT_OK && store_put(st, a3.h, &a3.b) == RT_OK);
    CHECK(store_set_head(st, a2.h) == RT_OK && store_set_meta(st, "chain.confirmed", 1) == RT_OK);
    store_close(st);

    /* one bit of a2's body flipped on the disk, checksum left as it was */
    tamper("UPDATE blocks SET body = CAST(substr(body, 1, 10) || x'ee' || substr(body, 12) AS BLOB) "
           "WHERE hash = ?1",
           a2.h);
    st = open_sqlite();
    CHECK(store_check(st) == RT_OK); /* SQLite's structures are fine: only the data changed */
    block got;
    CHECK(store_get(st, a2.h, &got) == RT_ENOENT); /* refused, not served */
    CHECK(count_facts(RT_FACT_CORRUPTION, STORE_CORRUPT_BLOCK) == 1);
    CHECK(g_facts[g_nfacts - 1].height == 2 && memcmp(g_facts[g_nfacts - 1].hash, a2.h, 16) == 0);
    uint8_t h[BLOCK_HASH_LEN];
    CHECK(store_take_corrupt(st, h) == RT_OK && memcmp(h, a2.h, BLOCK_HASH_LEN) == 0);
    CHECK(store_take_corrupt(st, h) == RT_ENOENT);
    CHECK(!store_has(st, a2.h)); /* dropped: missing, not reported again */
    CHECK(count_facts(RT_FACT_CORRUPTION, -1) == 1);
    CHECK(store_put(st, a2.h, &a2.b) == RT_OK); /* the refetched copy */
    CHECK(store_get(st, a2.h, &got) == RT_OK && got.height == 2 && got.slot == 2);
    CHECK(store_count(st) == 4);
    store_close(st);

    /* a checksum changed instead: the same */
    tamper("UPDATE blocks SET sum = sum + 1 WHERE hash = ?1", a1.h);
    st = open_sqlite();
    CHECK(!store_has(st, a1.h));
    CHECK(count_facts(RT_FACT_CORRUPTION, STORE_CORRUPT_BLOCK) == 2);
    CHECK(store_put(st, a1.h, &a1.b) == RT_OK && store_has(st, a1.h));
    store_close(st);

    /* the head record: the best intact block stands in; meta: treated as unset */
    tamper("UPDATE state SET val = zeroblob(16) WHERE key = 'head'", NULL);
    tamper("UPDATE state SET sum = 7 WHERE key = 'm:chain.confirmed'", NULL);
    st = open_sqlite();
    CHECK(store_get_head(st, h) == RT_OK && memcmp(h, a3.h, BLOCK_HASH_LEN) == 0);
    int64_t v = 0;
    CHECK(store_get_meta(st, "chain.confirmed", &v) == RT_ENOENT);
    CHECK(count_facts(RT_FACT_CORRUPTION, STORE_CORRUPT_STATE) == 2);
    store_close(st);

    /* not a database at all: refused at open, then wiped by its owner */
    rt_file *f = NULL;
    CHECK(rt_file_open("chain.db", 0, &f) == RT_OK);
    CHECK(rt_file_write(f, 0, "this is not an SQLite file, not at all.", 40) == RT_OK);
    CHECK(rt_file_sync(f) == RT_OK);
    rt_file_close(f);
    (void)rt_file_delete("chain.db-wal"); /* no log to hide the header */
    st = NULL;
    CHECK(store_sqlite_open("chain.db", &k_cfg, &st) == RT_EIO && st == NULL);
    CHECK(count_facts(RT_FACT_CORRUPTION, STORE_CORRUPT_SQLITE) >= 1);
}

static void test_checksum(void **s) { (void)s; in_node(body_checksum); }

/* ---- four validators on SQLite, crashes and restarts ---------------------- */

#define W_NODES 4
#define W_HEIGHTS 512

typedef struct wnode {
    uint8_t confirmed[W_HEIGHTS][16]; /* what it confirmed at each height (latest) */
    uint64_t top;                     /* its highest confirmed height */
    uint64_t top_at_crash;
    int crashes, restarts;
    int recovered;                    /* RECOVERED facts */
    uint64_t recovered_height, recovered_head;
    uint8_t recovered_hash[16];
    int integrity_ok, integrity_bad, corruption;
    uint64_t head;                    /* last HEAD height */
} wnode;

typedef struct wrun {
    wnode n[W_NODES];
    int conflicts;       /* two different hashes confirmed at one height */
    int lost;            /* RECOVERED below what the node had confirmed */
    uint64_t digest;
} wrun;

static wrun g_run;

static void on_fact_w(void *arg, uint32_t node, int64_t now, const rt_fact *f) {
    (void)arg, (void)now;
    if (node >= W_NODES) return;
    wnode *n = &g_run.n[node];
    switch ((int)f->kind) {
    case RT_FACT_CONFIRMED:
        if (f->height < W_HEIGHTS) {
            memcpy(n->confirmed[f->height], f->hash, 16);
            for (int j = 0; j < W_NODES; j++) {
                static const uint8_t zero[16];
                const uint8_t *o = g_run.n[j].confirmed[f->height];
                if (memcmp(o, zero, 16) != 0 && memcmp(o, f->hash, 16) != 0) g_run.conflicts++;
            }
        }
        if (f->height > n->top) n->top = f->height;
        break;
    case RT_FACT_HEAD:
        n->head = f->height;
        break;
    case RT_FACT_RECOVERED:
        n->recovered++;
        n->recovered_height = f->height;
        n->recovered_head = (uint64_t)f->value;
        memcpy(n->recovered_hash, f->hash, 16);
        if (f->height < n->top_at_crash) g_run.lost++;
        n->top = f->height; /* it confirms again from there */
        break;
    case RT_FACT_INTEGRITY:
        if (f->value == 0)
            n->integrity_ok++;
        else
            n->integrity_bad++;
        break;
    case RT_FACT_CORRUPTION:
        n->corruption++;
        break;
    case DEJA_FACT_CRASH:
        n->crashes++;
        n->top_at_crash = n->top;
        break;
    case DEJA_FACT_RESTART:
        n->restarts++;
        break;
    default:
        break;
    }
}

/* Runs four validators for dur with the common defaults plus sets (node 1
 * runs prog1, the others "aura"); node 1 crashes at crash_at (if > 0) and
 * restarts 2 s later. */
static void run_world_prog(uint64_t seed, const char *const *sets, int64_t crash_at, int64_t dur,
                           const char *prog1) {
    memset(&g_run, 0, sizeof g_run);
    deja_params *p = deja_params_new();
    deja_params_common_defaults(p);
    char err[160];
    assert_int_equal(deja_params_parse(p, "store.kind=sqlite", err, sizeof err), 0);
    for (; sets && *sets; sets++) assert_int_equal(deja_params_parse(p, *sets, err, sizeof err), 0);
    deja_world *w = deja_world_new(seed, p);
    deja_net_config(w, 20 * RT_MS, 5 * RT_MS, 0);
    deja_world_on_fact(w, on_fact_w, NULL);
    for (int i = 0; i < W_NODES; i++) assert_int_equal(deja_node_add(w, i == 1 ? prog1 : "aura", 0, 0), i);
    deja_world_set_duration(w, dur);
    assert_int_equal(deja_world_apply_common(w, p, err, sizeof err), 0);
    deja_params_free(p);
    if (crash_at > 0) deja_node_crash(w, 1, crash_at, 2 * RT_SEC);
    static int worlds;
    char tname[256];
    snprintf(tname, sizeof tname, "%s.%d", getenv("T_TRACE") ? getenv("T_TRACE") : "", worlds++);
    FILE *trace = getenv("T_TRACE") ? fopen(tname, "w") : NULL; /* T_TRACE=prefix: one file per world */
    if (trace != NULL) deja_world_set_trace(w, trace);
    deja_world_run(w);
    deja_world_shutdown(w, RT_SEC);
    assert_int_equal(deja_world_live_tasks(w, -1), 0);
    g_run.digest = deja_world_digest(w);
    deja_world_free(w);
    if (trace != NULL) fclose(trace);
}

static void run_world(uint64_t seed, const char *const *sets, int64_t crash_at, int64_t dur) {
    run_world_prog(seed, sets, crash_at, dur, "aura");
}

/* Every node confirmed far enough and the same blocks (checked as facts came). */
static void assert_agree(uint64_t min_top) {
    if (getenv("T_VERBOSE"))
        for (int i = 0; i < W_NODES; i++)
            fprintf(stderr, "node %d: top %llu head %llu crashes %d recovered %llu corruption %d\n", i,
                    (unsigned long long)g_run.n[i].top, (unsigned long long)g_run.n[i].head,
                    g_run.n[i].crashes, (unsigned long long)g_run.n[i].recovered_height,
                    g_run.n[i].corruption);
    assert_int_equal(g_run.conflicts, 0);
    for (int i = 0; i < W_NODES; i++) {
        if (g_run.n[i].top < min_top) fail_msg("node %d confirmed only %llu", i, (unsigned long long)g_run.n[i].top);
        assert_true(g_run.n[i].head + 4 >= g_run.n[0].head && g_run.n[0].head + 4 >= g_run.n[i].head);
    }
}

static const char *const k_strict_crash[] = {"disk.crash_keep_pct=0", NULL};

static void test_crash_recovers(void **state) {
    (void)state;
    run_world(3, k_strict_crash, 30 * RT_SEC, 70 * RT_SEC);
    const wnode *n1 = &g_run.n[1];
    assert_int_equal(n1->crashes, 1);
    assert_int_equal(n1->restarts, 1);
    assert_int_equal(n1->recovered, 1); /* a first start recovers nothing */
    assert_int_equal(g_run.n[0].recovered + g_run.n[2].recovered + g_run.n[3].recovered, 0);
    assert_int_equal(n1->integrity_ok, 1);
    assert_int_equal(n1->integrity_bad, 0);
    assert_true(n1->top_at_crash >= 20);
    assert_true(n1->recovered_height >= n1->top_at_crash); /* confirmation implies durability */
    assert_true(n1->recovered_head >= n1->recovered_height + 3);
    /* the hash it recovered is the one it had confirmed at that height */
    assert_memory_equal(n1->recovered_hash, g_run.n[0].confirmed[n1->recovered_height], 16);
    assert_int_equal(g_run.lost, 0);
    assert_agree(60);
    uint64_t digest = g_run.digest;
    run_world(3, k_strict_crash, 30 * RT_SEC, 70 * RT_SEC); /* replays */
    assert_true(g_run.digest == digest);
}

/* Corrupted reads reach SQLite's own reads too (the log it recovers after
 * a crash): the store's verified reads keep them from costing blocks. */
static void test_crash_recovers_corrupt_reads(void **state) {
    (void)state;
    static const char *const sets[] = {"disk.crash_keep_pct=0", "disk.corrupt_read_pct=5", NULL};
    for (uint64_t seed = 1; seed <= 8; seed++) {
        run_world(seed, sets, 30 * RT_SEC, 70 * RT_SEC);
        const wnode *n1 = &g_run.n[1];
        assert_int_equal(n1->recovered, 1);
        assert_int_equal(n1->integrity_bad, 0);
        assert_true(n1->recovered_height >= n1->top_at_crash);
        assert_int_equal(g_run.lost, 0);
        assert_agree(60);
    }
}

/* store.sync=0 with a crash that drops every unsynced write: the restarted
 * node has lost confirmed blocks (here: all of them), and says so. */
static void test_nosync_loses(void **state) {
    (void)state;
    static const char *const sets[] = {"store.sync=0", "disk.crash_keep_pct=0", NULL};
    int lost = 0;
    for (uint64_t seed = 1; seed <= 3; seed++) {
        run_world(seed, sets, 30 * RT_SEC, 70 * RT_SEC);
        const wnode *n1 = &g_run.n[1];
        assert_int_equal(n1->recovered, 1);
        assert_true(n1->top_at_crash >= 20);
        if (n1->recovered_height < n1->top_at_crash) lost++;
        assert_int_equal(g_run.lost, n1->recovered_height < n1->top_at_crash);
        assert_agree(50); /* it fetches the chain again from its peers */
    }
    assert_true(lost >= 1);
    /* some unsynced writes kept, some torn: losses (or a damaged store) in some seeds */
    static const char *const mixed[] = {"store.sync=0", "disk.crash_keep_pct=40", "disk.crash_torn_pct=30", NULL};
    lost = 0;
    for (uint64_t seed = 1; seed <= 4; seed++) {
        run_world(seed, mixed, 30 * RT_SEC, 70 * RT_SEC);
        lost += g_run.lost;
        assert_int_equal(g_run.n[1].recovered, 1);
    }
    assert_true(lost >= 1);
}

/* Storage faults the node must live with: nothing crashes the simulator, no
 * two nodes confirm different blocks, and the faulty node keeps up or stops
 * (returning from its program) without confirming what it did not commit. */
static void test_faults_handled(void **state) {
    (void)state;
    /* fsync fails now and then: commits fail, get undone, and are retried */
    static const char *const fsync[] = {"disk.fsync_fail_pct=5", NULL};
    run_world(4, fsync, 30 * RT_SEC, 60 * RT_SEC);
    assert_int_equal(g_run.lost, 0);
    assert_int_equal(g_run.n[1].recovered, 1);
    assert_agree(40); /* slower: a proposer whose commit fails misses its slot */
    /* the same corrupted reads handed straight to SQLite (no verified reads):
     * a flipped frame ends the log SQLite recovers after the crash early, and
     * committed blocks silently vanish in some seeds (the seeds where
     * test_crash_recovers_corrupt_reads loses nothing) */
    static const char *const raw[] = {"store.verify_reads=0", "disk.crash_keep_pct=0",
                                      "disk.corrupt_read_pct=5", NULL};
    int lost = 0;
    for (uint64_t seed = 1; seed <= 8; seed++) {
        run_world(seed, raw, 30 * RT_SEC, 60 * RT_SEC);
        assert_int_equal(g_run.conflicts, 0);
        lost += g_run.lost;
    }
    assert_true(lost >= 1);
    /* a disk too small for the chain: the node stops confirming, never crashes
     * the world; the others go on */
    static const char *const full[] = {"disk.capacity_mb=0.09", NULL};
    run_world(5, full, 0, 60 * RT_SEC);
    assert_int_equal(g_run.conflicts, 0);
    assert_true(g_run.n[0].top < 40); /* every node's disk is small */
}

/* ---- a corrupt block on the disk, found and fetched again ---------------- */

static int g_tamper_starts;

/* Breaks the checksum of the head's parent in chain.db (the node is down). */
static void tamper_head_parent(void) {
    assert_int_equal(rt_sqlite_vfs_register(), RT_OK);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2("chain.db", &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "UPDATE blocks SET sum = sum + 1 WHERE hash = (SELECT substr(b.body, 17, 16)"
                                  " FROM blocks b JOIN state s ON s.key = 'head' AND b.hash = s.val)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_changes(db), 1);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

/* The node program, with its database tampered with before its restart. */
static void prog_tamper(rt_ctx *ctx) {
    if (++g_tamper_starts == 2) tamper_head_parent();
    node_aura_main(ctx);
}

static void test_corrupt_block_refetched(void **state) {
    (void)state;
    rt_program_register("t-tamper", prog_tamper);
    g_tamper_starts = 0;
    run_world_prog(6, k_strict_crash, 30 * RT_SEC, 70 * RT_SEC, "t-tamper");
    const wnode *n1 = &g_run.n[1];
    assert_int_equal(g_tamper_starts, 2);
    assert_true(n1->corruption >= 1);       /* found when the restart walked down from the head */
    assert_int_equal(n1->integrity_ok, 1); /* SQLite's own structures are fine */
    assert_int_equal(n1->recovered, 1);     /* reported once the block was fetched again */
    assert_true(n1->recovered_height >= n1->top_at_crash);
    assert_memory_equal(n1->recovered_hash, g_run.n[0].confirmed[n1->recovered_height], 16);
    assert_int_equal(g_run.lost, 0);
    assert_agree(60);
}

int main(void) {
    node_programs_register();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_behaviour_mem),
        cmocka_unit_test(test_behaviour_sqlite),
        cmocka_unit_test(test_chain_resume),
        cmocka_unit_test(test_lent_or_copied),
        cmocka_unit_test(test_checksum),
        cmocka_unit_test(test_crash_recovers),
        cmocka_unit_test(test_crash_recovers_corrupt_reads),
        cmocka_unit_test(test_nosync_loses),
        cmocka_unit_test(test_faults_handled),
        cmocka_unit_test(test_corrupt_block_refetched),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
