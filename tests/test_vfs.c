/*
 * test_vfs.c -- SQLite on the virtual disk through the "deja" VFS
 * (sim/vfs_rt.c): a database in WAL mode with exclusive locking and
 * synchronous=FULL keeps every committed row across a disk crash and passes
 * integrity_check; a crash in the middle of a transaction, replayed from its
 * seed, leaves the same torn bytes on disk every time; two connections share
 * the WAL index (in-memory shm); errors map to SQLite codes (SQLITE_FULL,
 * SQLITE_IOERR_FSYNC); and SQLite calls never take virtual time.
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

#include "deja/rt.h"
#include "deja/world.h"
#include "disk.h"

static void (*g_body)(int start);
static int g_starts;
static deja_world *g_w;

static void prog(rt_ctx *ctx) {
    (void)ctx;
    g_body(++g_starts);
}

static deja_disk_cfg cfg_with(uint32_t keep_ppm, uint32_t torn_ppm) {
    deja_disk_cfg c;
    char err[160];
    assert_int_equal(deja_disk_config(NULL, &c, err, sizeof err), 0);
    c.crash_keep_ppm = keep_ppm;
    c.crash_torn_ppm = torn_ppm;
    return c;
}

static deja_world *world(uint64_t seed, void (*body)(int), const deja_disk_cfg *cfg, int64_t dur) {
    rt_program_register("t-vfs", prog);
    g_body = body;
    g_starts = 0;
    deja_world *w = deja_world_new(seed, NULL);
    assert_int_equal(deja_node_add(w, "t-vfs", 0, 0), 0);
    deja_node_set_disk(w, 0, deja_disk_new(w, 0, cfg));
    deja_world_set_duration(w, dur);
    g_w = w;
    return w;
}

static void run(deja_world *w) {
    deja_world_run(w);
    deja_world_shutdown(w, RT_SEC);
    assert_int_equal(deja_world_live_tasks(w, -1), 0);
}

/* ---- SQL helpers --------------------------------------------------------------- */

static void exec(sqlite3 *db, const char *sql) {
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) print_error("%s: %s\n", sql, msg ? msg : "?");
    sqlite3_free(msg);
    assert_int_equal(rc, SQLITE_OK);
}

static int64_t query_int(sqlite3 *db, const char *sql) {
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void query_text(sqlite3 *db, const char *sql, char *out, size_t len) {
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    snprintf(out, len, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
}

static bool g_exclusive = true; /* locking mode of the next run */

/* Opens chain.db on this node's disk in the node's settings. */
static sqlite3 *open_db(void) {
    assert_int_equal(rt_sqlite_vfs_register(), RT_OK);
    assert_int_equal(rt_sqlite_vfs_register(), RT_OK); /* idempotent */
    assert_string_equal(sqlite3_vfs_find(NULL)->zName, "deja");
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2("chain.db", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL), SQLITE_OK);
    if (g_exclusive) exec(db, "PRAGMA locking_mode=EXCLUSIVE");
    char mode[16];
    query_text(db, "PRAGMA journal_mode=WAL", mode, sizeof mode);
    assert_string_equal(mode, "wal");
    exec(db, "PRAGMA synchronous=FULL");
    return db;
}

/* Inserts rows [from, to) in one transaction each `per` rows. */
static void insert_rows(sqlite3 *db, int from, int to, int per) {
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO t(k, v) VALUES(?1, ?2)", -1, &st, NULL), SQLITE_OK);
    char blob[300];
    for (int k = from; k < to; k++) {
        if (per && (k - from) % per == 0) exec(db, "BEGIN");
        memset(blob, 'a' + k % 26, sizeof blob);
        sqlite3_bind_int(st, 1, k);
        sqlite3_bind_blob(st, 2, blob, sizeof blob, SQLITE_STATIC);
        assert_int_equal(sqlite3_step(st), SQLITE_DONE);
        sqlite3_reset(st);
        if (per && ((k - from) % per == per - 1 || k == to - 1)) exec(db, "COMMIT");
    }
    sqlite3_finalize(st);
}

static void check_db(sqlite3 *db, int64_t rows) {
    char ok[64];
    query_text(db, "PRAGMA integrity_check", ok, sizeof ok);
    assert_string_equal(ok, "ok");
    assert_int_equal(query_int(db, "SELECT count(*) FROM t"), rows);
    assert_int_equal(query_int(db, "SELECT count(*) FROM t WHERE length(v) = 300"), rows);
}

/* ---- close, crash the disk, reopen ------------------------------------------- */

static void crash_disk(deja_world *w, void *arg) {
    (void)arg;
    deja_disk_crash(deja_node_disk(w, 0));
}

static int64_t g_rows_after;

static void body_close_crash(int start) {
    (void)start;
    sqlite3 *db = open_db();
    exec(db, "CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB)");
    insert_rows(db, 0, 200, 10);
    check_db(db, 200);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
    rt_sleep_ns(2 * RT_SEC); /* the disk crashes at 1 s */
    assert_true(rt_file_exists("chain.db"));
    db = open_db();
    check_db(db, 200);
    g_rows_after = query_int(db, "SELECT count(*) FROM t");
    insert_rows(db, 200, 210, 5); /* and it still works */
    check_db(db, 210);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static void close_crash_run(uint32_t keep, uint32_t torn) {
    deja_disk_cfg c = cfg_with(keep, torn);
    deja_world *w = world(3, body_close_crash, &c, 5 * RT_SEC);
    deja_world_at(w, RT_SEC, crash_disk, NULL);
    g_rows_after = -1;
    run(w);
    assert_int_equal(g_rows_after, 200);
    assert_true(deja_disk_ops(deja_node_disk(w, 0)) > 100);
    deja_world_free(w);
}

static void test_close_crash_reopen(void **state) {
    (void)state;
    close_crash_run(0, 0);             /* every unsynced write lost */
    close_crash_run(250000, 500000);   /* kept, torn or lost */
    g_exclusive = false;
    close_crash_run(250000, 500000);   /* the same with the shm WAL index */
    g_exclusive = true;
}

/* ---- a crash in the middle of a transaction, replayed ------------------------- */

static uint64_t g_digest;

static void body_mid_txn(int start) {
    if (start == 1) {
        sqlite3 *db = open_db();
        exec(db, "PRAGMA cache_size=5"); /* so the open transaction spills into the WAL */
        exec(db, "CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB)");
        insert_rows(db, 0, 100, 10);
        exec(db, "BEGIN");
        insert_rows(db, 100, 400, 0);
        (void)db; /* never closed: its memory goes with the node's heap at the crash */
        rt_sleep_ns(10 * RT_SEC); /* the node crashes at 1 s, mid-transaction */
        fail();
    }
    sqlite3 *db = open_db();
    check_db(db, 100); /* every committed row, no uncommitted one */
    insert_rows(db, 100, 150, 10);
    check_db(db, 150);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static void snapshot(deja_world *w, void *arg) {
    (void)arg;
    g_digest = deja_disk_digest(deja_node_disk(w, 0));
}

static uint64_t mid_txn_run(uint64_t seed, uint64_t *trace, uint64_t *faults) {
    deja_disk_cfg c = cfg_with(300000, 400000);
    deja_world *w = world(seed, body_mid_txn, &c, 5 * RT_SEC);
    deja_node_crash(w, 0, RT_SEC, RT_SEC);
    deja_world_at(w, RT_SEC + RT_MS, snapshot, NULL);
    g_digest = 0;
    run(w);
    assert_int_equal(g_starts, 2);
    *trace = deja_world_digest(w);
    *faults = deja_disk_faults(deja_node_disk(w, 0));
    deja_world_free(w);
    return g_digest;
}

static void test_crash_mid_transaction(void **state) {
    (void)state;
    for (int mode = 0; mode < 2; mode++) {
        g_exclusive = mode == 0;
        uint64_t t1, t2, t3, f1, f2, f3;
        uint64_t a = mid_txn_run(11, &t1, &f1);
        uint64_t b = mid_txn_run(11, &t2, &f2);
        uint64_t c = mid_txn_run(12, &t3, &f3);
        assert_true(a != 0);
        assert_true(a == b); /* same seed: the same bytes on disk after the crash */
        assert_true(t1 == t2 && f1 == f2);
        assert_true(f1 > 0); /* some unsynced WAL writes were torn */
        assert_true(a != c);
        assert_true(t1 != t3);
    }
    g_exclusive = true;
}

/* ---- two connections share the WAL index ----------------------------------------- */

static void body_two_conns(int start) {
    (void)start;
    g_exclusive = false;
    sqlite3 *a = open_db(), *b = open_db();
    exec(a, "CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB)");
    insert_rows(a, 0, 20, 5);
    assert_int_equal(query_int(b, "SELECT count(*) FROM t"), 20);
    exec(a, "BEGIN IMMEDIATE");
    insert_rows(a, 20, 30, 0);
    assert_int_equal(query_int(b, "SELECT count(*) FROM t"), 20); /* a snapshot */
    assert_int_equal(sqlite3_exec(b, "INSERT INTO t(k, v) VALUES(1000, x'00')", NULL, NULL, NULL), SQLITE_BUSY);
    exec(a, "COMMIT");
    assert_int_equal(query_int(b, "SELECT count(*) FROM t"), 30);
    exec(b, "INSERT INTO t(k, v) VALUES(1000, zeroblob(300))");
    assert_int_equal(query_int(a, "SELECT count(*) FROM t"), 31);
    /* temporary files (no name) live on the node's disk too */
    exec(a, "PRAGMA temp_store=FILE; CREATE TEMP TABLE x(a); INSERT INTO x SELECT k FROM t;");
    assert_int_equal(query_int(a, "SELECT sum(a) FROM x"), 30 * 29 / 2 + 1000);
    assert_int_equal(sqlite3_close(b), SQLITE_OK);
    check_db(a, 31);
    assert_int_equal(sqlite3_close(a), SQLITE_OK);
    g_exclusive = true;
}

static void test_two_connections(void **state) {
    (void)state;
    deja_disk_cfg c = cfg_with(0, 0);
    deja_world *w = world(1, body_two_conns, &c, RT_SEC);
    run(w);
    deja_world_free(w);
}

/* ---- errors and time ------------------------------------------------------------------ */

static int g_full_rc, g_fsync_rc;
static int64_t g_sql_elapsed;

static void body_full(int start) {
    (void)start;
    sqlite3 *db = open_db();
    exec(db, "CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB)");
    g_full_rc = SQLITE_OK;
    for (int i = 0; i < 1000 && g_full_rc == SQLITE_OK; i++)
        g_full_rc = sqlite3_exec(db, "INSERT INTO t(v) VALUES(zeroblob(4000))", NULL, NULL, NULL);
    sqlite3_close(db);
}

static void body_fsync(int start) {
    (void)start;
    sqlite3 *db = NULL;
    assert_int_equal(rt_sqlite_vfs_register(), RT_OK);
    assert_int_equal(sqlite3_open_v2("chain.db", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL), SQLITE_OK);
    sqlite3_extended_result_codes(db, 1);
    exec(db, "PRAGMA locking_mode=EXCLUSIVE");
    int64_t t0 = rt_mono_ns();
    g_fsync_rc = sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                                  "CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB)",
                              NULL, NULL, NULL);
    g_sql_elapsed = rt_mono_ns() - t0;
    sqlite3_close(db);
}

static void test_errors(void **state) {
    (void)state;
    deja_disk_cfg c = cfg_with(0, 0);
    c.capacity = 256 * 1024;
    deja_world *w = world(1, body_full, &c, RT_SEC);
    run(w);
    assert_int_equal(g_full_rc, SQLITE_FULL);
    deja_world_free(w);

    c = cfg_with(0, 0);
    c.fsync_fail_ppm = 1000000;
    c.latency_ns = RT_MS;
    w = world(1, body_fsync, &c, RT_SEC);
    run(w);
    assert_int_equal(g_fsync_rc, SQLITE_IOERR_FSYNC);
    assert_int_equal(g_sql_elapsed, 0); /* SQLite never waits for the disk's latency */
    deja_world_free(w);

    c = cfg_with(0, 0);
    c.latency_ns = RT_MS;
    w = world(1, body_fsync, &c, RT_SEC);
    run(w);
    assert_int_equal(g_fsync_rc, SQLITE_OK);
    assert_int_equal(g_sql_elapsed, 0);
    deja_world_free(w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_close_crash_reopen),
        cmocka_unit_test(test_crash_mid_transaction),
        cmocka_unit_test(test_two_connections),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
