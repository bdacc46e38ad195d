/*
 * test_real_vfs_rt.c -- sim/vfs_rt.c, the simulator's SQLite VFS, compiled
 * against the production backend's rt_file_* (real files in a data
 * directory) to show that it depends on rt.h alone: a WAL database with
 * exclusive locking survives close and reopen; two connections share the
 * in-memory WAL index. The production backend registers its own "deja" VFS
 * (sim/real/disk.c), so this copy is built under another name.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#define VFS__ZNAME "deja-rt"
#define rt_sqlite_vfs_register test_vfs_rt_register
#include "../sim/world/vfs_rt.c"
#undef rt_sqlite_vfs_register

#include "real/real.h"

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

static sqlite3 *open_db(bool exclusive) {
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2("rt.db", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, VFS__ZNAME), SQLITE_OK);
    if (exclusive) exec(db, "PRAGMA locking_mode=EXCLUSIVE");
    exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL");
    return db;
}

static void test_real_files(void **state) {
    (void)state;
    char dir[] = "/tmp/deja-vfs-rt-XXXXXX";
    assert_non_null(mkdtemp(dir));
    real_opts o = {.id = 0, .npeers = 0, .data_dir = dir};
    char err[256];
    assert_int_equal(real_init(&o, err, sizeof err), 0);
    assert_int_equal(test_vfs_rt_register(), RT_OK);

    sqlite3 *db = open_db(true);
    exec(db, "CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB)");
    for (int i = 0; i < 10; i++) exec(db, "INSERT INTO t(v) VALUES(zeroblob(1000))");
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
    char path[512];
    struct stat sb;
    snprintf(path, sizeof path, "%s/rt.db", dir);
    assert_int_equal(stat(path, &sb), 0); /* in the data directory */
    assert_true(sb.st_size > 0);

    sqlite3 *a = open_db(false), *b = open_db(false);
    assert_int_equal(query_int(b, "SELECT count(*) FROM t"), 10);
    exec(a, "INSERT INTO t(v) VALUES(x'01')");
    assert_int_equal(query_int(b, "SELECT count(*) FROM t"), 11);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(a, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_close(b), SQLITE_OK);
    assert_int_equal(sqlite3_close(a), SQLITE_OK);

    assert_int_equal(real_shutdown(RT_SEC), 0);
    /* leave nothing behind */
    const char *names[] = {"rt.db", "rt.db-wal", "facts", "status"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    assert_int_equal(rmdir(dir), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_real_files)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
