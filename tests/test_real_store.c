/*
 * test_real_store.c -- the node's SQLite store on the real file system, with
 * the production backend (sim/real/): the same store code that runs on the
 * simulator's virtual disk opens, writes, closes and reopens a chain in a
 * temporary data directory, refuses a record whose checksum no longer
 * matches (and reports it in DIR/facts), and the "aura" program, stopped
 * and started again on its data directory, reports INTEGRITY ok and
 * RECOVERED with at least what it had confirmed.
 *
 * Each test runs between real_init (with a fresh data directory) and
 * real_shutdown, which must find no task left. About 2 s.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aura.h"
#include "block.h"
#include "chain.h"
#include "node.h"
#include "deja/rt.h"
#include "real/real.h"
#include "store.h"

static char g_dir[64];

static void start(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/deja-test-store-XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    real_opts o = {.data_dir = g_dir};
    char err[256];
    assert_int_equal(real_init(&o, err, sizeof err), 0);
}

static void stop(void) {
    assert_int_equal(real_shutdown(5 * RT_SEC), 0);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    assert_int_equal(system(cmd), 0);
}

static bool in_dir(const char *name) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    struct stat st;
    return stat(path, &st) == 0;
}

/* Counts the lines of DIR/facts of kind `kind`; the last one's height and
 * value go to *height and *value (when non-NULL). */
static int facts(const char *kind, uint64_t *height, long long *value) {
    char path[128], line[512];
    snprintf(path, sizeof path, "%s/facts", g_dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        long long wall, v;
        unsigned long long h, slot;
        char k[32], hash[40], parent[40];
        if (sscanf(line, "%lld %31s %llu %llu %39s %39s %lld", &wall, k, &h, &slot, hash, parent, &v) != 7) continue;
        if (strcmp(k, kind) != 0) continue;
        n++;
        if (height) *height = h;
        if (value) *value = v;
    }
    fclose(f);
    return n;
}

static block next(const block *p, const uint8_t ph[BLOCK_HASH_LEN], uint64_t slot) {
    block b;
    memset(&b, 0, sizeof b);
    b.height = p->height + 1;
    b.slot = slot;
    memcpy(b.parent, ph, BLOCK_HASH_LEN);
    b.timestamp = (int64_t)slot * RT_SEC;
    b.payload_len = 4;
    memcpy(b.payload, &slot, 4);
    block_state_root(p->state_root, b.height, b.payload, b.payload_len, b.state_root);
    return b;
}

static const store_sqlite_cfg k_cfg = {.sync = true, .verify_reads = true};

/* ---- the store on files ------------------------------------------------- */

static void test_store_on_files(void **state) {
    (void)state;
    start();
    store *st = NULL;
    assert_int_equal(store_sqlite_open("chain.db", &k_cfg, &st), RT_OK);
    assert_true(in_dir("chain.db")); /* a relative name lands in the data directory */
    chain_config cc = {.confirm_depth = 3, .orphan_max = 8, .validate = aura_check_parent};
    chain *c = chain_open(st, &cc, NULL, NULL);
    assert_non_null(c);
    block b = *chain_head(c);
    uint8_t h[BLOCK_HASH_LEN], mid[BLOCK_HASH_LEN];
    memcpy(h, chain_head_hash(c), BLOCK_HASH_LEN);
    for (uint64_t slot = 1; slot <= 200; slot++) {
        block n = next(&b, h, slot);
        assert_int_equal(store_begin(st), RT_OK);
        assert_int_equal(chain_import(c, &n, false, NULL), CHAIN_IMPORTED);
        assert_int_equal(store_commit(st), RT_OK);
        b = n;
        block_hash(&b, h);
        if (slot == 100) memcpy(mid, h, BLOCK_HASH_LEN);
    }
    assert_int_equal(chain_confirmed(c), 197);
    chain_close(c);
    store_close(st);

    /* reopened: the same chain, resumed */
    assert_int_equal(store_sqlite_open("chain.db", &k_cfg, &st), RT_OK);
    assert_int_equal(store_check(st), RT_OK);
    assert_int_equal(store_count(st), 201);
    c = chain_open(st, &cc, NULL, NULL);
    assert_non_null(c);
    assert_int_equal(chain_head(c)->height, 200);
    assert_memory_equal(chain_head_hash(c), h, BLOCK_HASH_LEN);
    assert_int_equal(chain_confirmed(c), 197);
    chain_close(c);
    store_close(st);

    /* a record changed behind the store's back: refused and reported */
    char path[128];
    snprintf(path, sizeof path, "%s/chain.db", g_dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "UPDATE blocks SET sum = sum + 1 WHERE hash = ?1", -1, &q, NULL),
                     SQLITE_OK);
    sqlite3_bind_blob(q, 1, mid, BLOCK_HASH_LEN, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(q), SQLITE_DONE);
    sqlite3_finalize(q);
    assert_int_equal(sqlite3_changes(db), 1);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
    assert_int_equal(store_sqlite_open("chain.db", &k_cfg, &st), RT_OK);
    block got;
    assert_int_equal(store_get(st, mid, &got), RT_ENOENT);
    uint64_t height = 0;
    assert_int_equal(facts("corruption", &height, NULL), 1);
    assert_int_equal(height, 100);
    uint8_t again[BLOCK_HASH_LEN];
    assert_int_equal(store_take_corrupt(st, again), RT_OK);
    assert_memory_equal(again, mid, BLOCK_HASH_LEN);
    store_close(st);
    assert_int_equal(store_sqlite_wipe("chain.db"), RT_OK);
    assert_false(in_dir("chain.db"));
    stop();
}

/* ---- the node program, stopped and started on its data directory -------- */

typedef struct run {
    rt_ctx *ctx;
    rt_wg *wg;
} run;

static void run_task(void *arg) {
    run *r = arg;
    node_aura_main(r->ctx);
    rt_wg_done(r->wg);
}

/* Runs the "aura" program for ms milliseconds of real time. */
static void run_node(int64_t ms) {
    run r = {rt_ctx_with_cancel(NULL), rt_wg_new()};
    rt_wg_add(r.wg, 1);
    assert_int_equal(rt_spawn("node", run_task, &r), RT_OK);
    rt_sleep_ns(ms * RT_MS);
    rt_ctx_cancel(r.ctx);
    assert_int_equal(rt_wg_wait(r.wg, 5 * RT_SEC), RT_OK);
    rt_wg_free(r.wg);
    rt_ctx_release(r.ctx);
}

static void test_node_restart_on_files(void **state) {
    (void)state;
    start();
    char err[128];
    assert_int_equal(real_param_set("store.kind=sqlite", err, sizeof err), 0);
    assert_int_equal(real_param_set("aura.slot_ms=50", err, sizeof err), 0);
    run_node(800);
    uint64_t confirmed = 0;
    assert_true(facts("confirmed", &confirmed, NULL) >= 5);
    assert_int_equal(facts("recovered", NULL, NULL), 0); /* a first start */
    assert_true(in_dir("chain.db"));

    run_node(300); /* started again on the same directory */
    uint64_t recovered = 0, integrity = 1;
    long long head = 0, ok = -1;
    assert_int_equal(facts("integrity", &integrity, &ok), 1);
    assert_int_equal(ok, 0);
    assert_int_equal(facts("recovered", &recovered, &head), 1);
    assert_true(recovered >= confirmed);
    assert_true((uint64_t)head >= recovered + 3);
    uint64_t later = 0;
    facts("confirmed", &later, NULL);
    assert_true(later > recovered); /* and it went on from there */
    stop();
}

int main(void) {
    node_programs_register();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_on_files),
        cmocka_unit_test(test_node_restart_on_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
