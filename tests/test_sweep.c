/*
 * test_sweep.c -- sweeps (sim/sweep*.c): grid expansion (lists, ranges,
 * decimal ranges, bad specs), the canonical params_key, a small real sweep
 * of drift-fork into a temporary database (row count, resume after rows are
 * lost, rerun adds nothing, rows agree with deja_run), shards and merging,
 * and the bad inputs that must stop a sweep before it writes anything.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "deja/models.h"
#include "node.h"
#include "deja/deja.h"
#include "deja/rt.h"
#include "deja/sweep.h"
#include "deja/version.h"

#define SCRATCH_NAME "sweep"
#include "scratch_dir.h"

/* ---- the grid ---------------------------------------------------------- */

/* Adds spec to a fresh grid and checks its one axis has the values want
 * (comma-separated). */
static void test__axis(const char *spec, const char *want) {
    deja_grid g;
    char err[512] = "";
    deja_grid_init(&g);
    if (deja_grid_add(&g, spec, err, sizeof err)) fail_msg("%s: %s", spec, err);
    assert_int_equal(g.n, 1);
    char got[2048] = "";
    for (size_t i = 0; i < g.axis[0].n; i++) {
        if (i) strcat(got, ",");
        strcat(got, g.axis[0].vals[i]);
    }
    if (strcmp(got, want)) fail_msg("%s: got %s, want %s", spec, got, want);
    deja_grid_free(&g);
}

static void test_grid_lists_and_ranges(void **state) {
    (void)state;
    test__axis("aura.slot_ms=1000,2000,6000", "1000,2000,6000");
    test__axis("clock.ntp=step,slew", "step,slew");
    test__axis("k=5", "5");
    test__axis("k=1, 2 ,3", "1,2,3");
    test__axis("k=0:10:5", "0,5,10");
    test__axis("k=0:10:3", "0,3,6,9");     /* hi not reached exactly */
    test__axis("k=7:7:1", "7");            /* lo == hi */
    test__axis("k=-1000:1000:500", "-1000,-500,0,500,1000");
    test__axis("k=0:1:0.25", "0,0.25,0.5,0.75,1");
    test__axis("k=-0.5:0.5:0.25", "-0.5,-0.25,0,0.25,0.5");
    test__axis("k=0.1:0.3:0.1", "0.1,0.2,0.3"); /* exact: no 0.30000000000000004 */
    test__axis("k=1.5:3:0.5", "1.5,2,2.5,3");
    test__axis("k=0:0.000000003:0.000000001", "0,0.000000001,0.000000002,0.000000003");
}

static void test_grid_bad_specs(void **state) {
    (void)state;
    static const char *const bad[] = {
        "k",            /* no '=' */
        "=1,2",         /* no key */
        "k=",           /* no values */
        "k=1,,2",       /* empty value */
        "k=1,",         /* empty value at the end */
        "k=1,1",        /* a value twice */
        "k=1:2",        /* range without step */
        "k=1:2:3:4",    /* too many parts */
        "k=1:10:0",     /* step 0 */
        "k=1:10:-1",    /* negative step */
        "k=10:1:1",     /* lo > hi */
        "k=a:b:c",      /* not numbers */
        "k=1:2:0.0000000001", /* more than 9 decimals: 0 step */
        "k=0:1000000:1",      /* too many values */
        "k=1e3:2e3:1",        /* exponents are not decimals */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        deja_grid g;
        char err[512] = "";
        deja_grid_init(&g);
        int rc = deja_grid_add(&g, bad[i], err, sizeof err);
        if (rc != 2) fail_msg("'%s' was accepted", bad[i]);
        assert_non_null(strstr(err, "--grid"));
        assert_int_equal(g.n, 0);
        deja_grid_free(&g);
    }
    /* the same key twice */
    deja_grid g;
    char err[512];
    deja_grid_init(&g);
    assert_int_equal(deja_grid_add(&g, "k=1,2", err, sizeof err), 0);
    assert_int_equal(deja_grid_add(&g, "k=3,4", err, sizeof err), 2);
    assert_non_null(strstr(err, "already"));
    deja_grid_free(&g);
}

static void test_grid_points(void **state) {
    (void)state;
    deja_grid g;
    char err[512];
    deja_grid_init(&g);
    assert_int_equal(deja_grid_points(&g), 1);
    assert_int_equal(deja_grid_add(&g, "a=1,2,3", err, sizeof err), 0);
    assert_int_equal(deja_grid_add(&g, "b=0:1:0.5", err, sizeof err), 0);
    assert_int_equal(deja_grid_points(&g), 9);
    /* the last axis varies fastest; axes are set in the order given */
    static const char *const want[9][2] = {{"1", "0"}, {"1", "0.5"}, {"1", "1"}, {"2", "0"}, {"2", "0.5"},
                                           {"2", "1"}, {"3", "0"}, {"3", "0.5"}, {"3", "1"}};
    for (size_t i = 0; i < 9; i++) {
        deja_params *p = deja_params_new();
        deja_params_set(p, "other", "x");
        deja_grid_point(&g, i, p);
        assert_int_equal(deja_params_count(p), 3);
        assert_string_equal(deja_params_key(p, 1), "a");
        assert_string_equal(deja_params_get(p, "a"), want[i][0]);
        assert_string_equal(deja_params_get(p, "b"), want[i][1]);
        deja_params_free(p);
    }
    deja_grid_free(&g);
}

static void test_params_key_is_canonical(void **state) {
    (void)state;
    deja_params *a = deja_params_new(), *b = deja_params_new();
    deja_params_set(a, "z", "1");
    deja_params_set(a, "a.b", "2");
    deja_params_set(a, "m", "x");
    deja_params_set(b, "m", "x");
    deja_params_set(b, "z", "1");
    deja_params_set(b, "a.b", "2");
    char ka[256], kb[256];
    deja_sweep_params_key(a, ka, sizeof ka);
    deja_sweep_params_key(b, kb, sizeof kb);
    assert_string_equal(ka, "a.b=2;m=x;z=1");
    assert_string_equal(ka, kb);
    deja_params_set(b, "z", "2");
    deja_sweep_params_key(b, kb, sizeof kb);
    assert_string_not_equal(ka, kb);
    deja_params_free(a);
    deja_params_free(b);
}

/* ---- real sweeps ------------------------------------------------------- */

static long long test__count(const char *db, const char *where) {
    sqlite3 *h;
    assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, "unix"), SQLITE_OK);
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM runs%s%s", where ? " WHERE " : "", where ? where : "");
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK) fail_msg("%s: %s", sql, sqlite3_errmsg(h));
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long long n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return n;
}

/* The value of key in the database's meta table ("" when absent). */
static const char *test__meta(const char *db, const char *key) {
    static char val[512];
    sqlite3 *h;
    assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, "unix"), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(h, "SELECT value FROM meta WHERE key = ?1", -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    val[0] = 0;
    if (sqlite3_step(st) == SQLITE_ROW) snprintf(val, sizeof val, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(h);
    return val;
}

static void test__exec(const char *db, const char *sql) {
    sqlite3 *h;
    char *msg = NULL;
    assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, "unix"), SQLITE_OK);
    if (sqlite3_exec(h, sql, NULL, NULL, &msg) != SQLITE_OK) fail_msg("%s: %s", sql, msg);
    sqlite3_close(h);
}

/* The 2x2 grid x 3 seeds sweep of drift-fork (20 s runs) into db. */
static int test__sweep(const char *db, uint32_t shard_i, uint32_t shard_k, deja_sweep_stats *st) {
    deja_grid g;
    char err[1024] = "";
    deja_grid_init(&g);
    assert_int_equal(deja_grid_add(&g, "aura.slot_ms=1000,2000", err, sizeof err), 0);
    assert_int_equal(deja_grid_add(&g, "clock.offset_ms=0:500:500", err, sizeof err), 0);
    deja_params *base = deja_params_new();
    deja_params_set(base, "sim.duration_s", "20");
    deja_sweep_opts o = {.scenario = "drift-fork", .grid = &g, .base = base, .seed_start = 1, .seeds = 3,
                         .jobs = 2, .db = db, .shard_i = shard_i, .shard_k = shard_k, .progress = 0, .out = NULL};
    int rc = deja_sweep_run(&o, st, err, sizeof err);
    if (rc) fail_msg("sweep: rc %d: %s", rc, err);
    deja_params_free(base);
    deja_grid_free(&g);
    return rc;
}

static void test_sweep_resume_and_rerun(void **state) {
    (void)state;
    if (!deja_scenario_find("drift-fork")) skip();
    char db[512];
    snprintf(db, sizeof db, "%s/sweep.db", test__dir);
    deja_sweep_stats st;
    test__sweep(db, 0, 1, &st);
    assert_int_equal(st.jobs, 12);
    assert_int_equal(st.added, 12);
    assert_int_equal(st.ran, 12);
    assert_int_equal(st.skipped, 0);
    assert_false(st.interrupted);
    assert_int_equal(test__count(db, NULL), 12);
    /* one column per parameter, numbers stored as numbers, the metrics */
    assert_int_equal(test__count(db, "\"aura.slot_ms\" = 2000 AND typeof(\"clock.offset_ms\") = 'integer'"), 6);
    assert_int_equal(test__count(db, "\"sim.duration_s\" = 20 AND scenario = 'drift-fork'"), 12);
    assert_int_equal(test__count(db, "length(trace_hash) = 16 AND events > 0 AND sim_ns > 0 AND forks >= 0 "
                                     "AND blocks > 0 AND wall_ms >= 0 AND verdict != ''"),
                     12);
    assert_int_equal(test__count(db, "seed BETWEEN 1 AND 3"), 12);
    /* the database says which deja made it and which wrote it last */
    assert_string_equal(test__meta(db, "deja_version"), DEJA_VERSION_STRING);
    assert_string_equal(test__meta(db, "created_version"), DEJA_VERSION_STRING);
    assert_string_equal(test__meta(db, "deja_build"), deja_build_info());
    assert_non_null(strstr(test__meta(db, "created_build"), " compiler="));

    /* a row holds what deja_run gives in this process */
    deja_params *over = deja_params_new();
    deja_params_set(over, "sim.duration_s", "20");
    deja_params_set(over, "aura.slot_ms", "2000");
    deja_params_set(over, "clock.offset_ms", "500");
    deja_summary s;
    char err[512];
    int rc = deja_run(deja_scenario_find("drift-fork"), 2, over, NULL, &s, err, sizeof err);
    assert_true(rc == 0 || rc == 1);
    char where[256];
    snprintf(where, sizeof where, "seed = 2 AND \"aura.slot_ms\" = 2000 AND \"clock.offset_ms\" = 500 AND "
             "trace_hash = '%s' AND verdict = '%s' AND forks = %s AND blocks = %s",
             deja_summary_get(&s, "trace_hash"), deja_summary_get(&s, "verdict"), deja_summary_get(&s, "forks"),
             deja_summary_get(&s, "blocks"));
    assert_int_equal(test__count(db, where), 1);
    deja_params_free(over);

    /* a rerun adds nothing */
    test__sweep(db, 0, 1, &st);
    assert_int_equal(st.added, 0);
    assert_int_equal(st.ran, 0); /* nothing was even run again */
    assert_int_equal(st.skipped, 12);
    assert_int_equal(test__count(db, NULL), 12);

    /* rows lost (as if killed midway): the rerun restores exactly them */
    test__exec(db, "DELETE FROM runs WHERE id IN (SELECT id FROM runs ORDER BY id DESC LIMIT 5)");
    assert_int_equal(test__count(db, NULL), 7);
    test__sweep(db, 0, 1, &st);
    assert_int_equal(st.added, 5);
    assert_int_equal(st.ran, 5);
    assert_int_equal(st.skipped, 7);
    assert_int_equal(test__count(db, NULL), 12);
    assert_int_equal(test__count(db, "id IN (SELECT max(id) FROM runs GROUP BY scenario, seed, params_key "
                                     "HAVING count(*) > 1)"), 0);
}

static void test_shards_and_merge(void **state) {
    (void)state;
    if (!deja_scenario_find("drift-fork")) skip();
    char a[512], b[512], m[512], full[512];
    snprintf(a, sizeof a, "%s/shard0.db", test__dir);
    snprintf(b, sizeof b, "%s/shard1.db", test__dir);
    snprintf(m, sizeof m, "%s/merged.db", test__dir);
    snprintf(full, sizeof full, "%s/sweep.db", test__dir);
    deja_sweep_stats st;
    test__sweep(a, 0, 2, &st);
    assert_int_equal(st.jobs, 6);
    assert_int_equal(st.added, 6);
    test__sweep(b, 1, 2, &st);
    assert_int_equal(st.added, 6);

    const char *in[] = {a, b};
    char err[512] = "";
    uint64_t added = 0;
    assert_int_equal(deja_sweep_merge(m, in, 2, &added, err, sizeof err), 0);
    assert_int_equal(added, 12);
    assert_int_equal(test__count(m, NULL), 12);
    /* merging again adds nothing */
    assert_int_equal(deja_sweep_merge(m, in, 2, &added, err, sizeof err), 0);
    assert_int_equal(added, 0);
    /* the shards together hold exactly the rows of the unsharded sweep */
    if (access(full, F_OK) == 0) {
        char sql[1024];
        snprintf(sql, sizeof sql,
                 "ATTACH '%s' AS f; CREATE TABLE x AS SELECT seed, params_key, trace_hash FROM main.runs "
                 "EXCEPT SELECT seed, params_key, trace_hash FROM f.runs",
                 full);
        test__exec(m, sql);
        sqlite3 *h;
        assert_int_equal(sqlite3_open_v2(m, &h, SQLITE_OPEN_READWRITE, "unix"), SQLITE_OK);
        sqlite3_stmt *q;
        assert_int_equal(sqlite3_prepare_v2(h, "SELECT count(*) FROM x", -1, &q, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(q), SQLITE_ROW);
        assert_int_equal(sqlite3_column_int(q, 0), 0);
        sqlite3_finalize(q);
        sqlite3_close(h);
    }
    /* bad inputs */
    const char *missing[] = {"/nonexistent/x.db"};
    assert_int_equal(deja_sweep_merge(m, missing, 1, &added, err, sizeof err), 2);
    assert_non_null(strstr(err, "/nonexistent/x.db"));
    const char *self[] = {m};
    assert_int_equal(deja_sweep_merge(m, self, 1, &added, err, sizeof err), 2);
}

static void test_sweep_bad_input(void **state) {
    (void)state;
    if (!deja_scenario_find("drift-fork")) skip();
    char db[512], err[1024];
    snprintf(db, sizeof db, "%s/bad.db", test__dir);
    deja_sweep_stats st;
    deja_grid g;
    deja_grid_init(&g);
    assert_int_equal(deja_grid_add(&g, "no.such.param=1,2", err, sizeof err), 0);
    deja_sweep_opts o = {.scenario = "drift-fork", .grid = &g, .seed_start = 1, .seeds = 1, .jobs = 1, .db = db};
    assert_int_equal(deja_sweep_run(&o, &st, err, sizeof err), 2);
    assert_non_null(strstr(err, "no.such.param"));
    deja_grid_free(&g);

    /* a grid key also given with --set */
    deja_grid_init(&g);
    assert_int_equal(deja_grid_add(&g, "aura.slot_ms=1000,2000", err, sizeof err), 0);
    deja_params *base = deja_params_new();
    deja_params_set(base, "aura.slot_ms", "1000");
    o.grid = &g;
    o.base = base;
    assert_int_equal(deja_sweep_run(&o, &st, err, sizeof err), 2);
    assert_non_null(strstr(err, "aura.slot_ms"));
    deja_params_free(base);
    deja_grid_free(&g);

    /* a value the scenario rejects stops the sweep before any run */
    deja_grid_init(&g);
    assert_int_equal(deja_grid_add(&g, "sim.nodes=4,banana", err, sizeof err), 0);
    o.base = NULL;
    assert_int_equal(deja_sweep_run(&o, &st, err, sizeof err), 2);
    assert_int_equal(st.added, 0);
    deja_grid_free(&g);

    o.grid = NULL;
    o.scenario = "no-such-scenario";
    assert_int_equal(deja_sweep_run(&o, &st, err, sizeof err), 2);
    assert_non_null(strstr(err, "no-such-scenario"));

    o.scenario = "drift-fork";
    o.db = "/nonexistent/dir/x.db";
    assert_int_equal(deja_sweep_run(&o, &st, err, sizeof err), 2);
    assert_non_null(strstr(err, "/nonexistent/dir/x.db"));
}

/* ---- workers that die ---------------------------------------------------- */

/* The "test-die" scenario: an empty world whose finish (run in the worker)
 * dies as the seed says: seed 2 aborts every time (a real crash), seed 3 is
 * SIGKILLed every time (as if by the OOM killer), and seeds 4 and 5 are
 * SIGKILLed once (the first time their marker file exists). */
static int test__die_setup(deja_world *w, const deja_params *p, char *err, size_t errlen) {
    (void)w, (void)p, (void)err, (void)errlen;
    return 0;
}

static void test__die_finish(deja_world *w, deja_summary *s) {
    (void)w;
    uint64_t seed = 0;
    assert_int_equal(deja_parse_u64(deja_summary_get(s, "seed"), &seed), 0);
    if (seed == 2) abort();
    if (seed == 3) raise(SIGKILL);
    char mark[512];
    snprintf(mark, sizeof mark, "%s/kill-%llu", test__dir, (unsigned long long)seed);
    if (unlink(mark) == 0) raise(SIGKILL);
}

static const deja_param_def test__die_params[] = {{NULL, NULL, NULL}};
static const deja_scenario test__die = {"test-die", "dies as the seed says", test__die_params, test__die_setup,
                                        test__die_finish};

static void test__touch(const char *name) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", test__dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
}

static void test_sweep_worker_deaths(void **state) {
    (void)state;
    char db[512], err[1024] = "";
    snprintf(db, sizeof db, "%s/die.db", test__dir);
    test__touch("kill-4");
    test__touch("kill-5");
    deja_sweep_stats st;
    deja_sweep_opts o = {.scenario = "test-die", .seed_start = 1, .seeds = 6, .jobs = 2, .db = db};
    /* seed 3 is killed from outside at every attempt: left out, exit 1 */
    assert_int_equal(deja_sweep_run(&o, &st, err, sizeof err), 1);
    assert_int_equal(st.lost, 1);
    assert_int_equal(st.crashed, 1);
    assert_int_equal(test__count(db, NULL), 5);
    /* killed once: retried, stored with their real verdict */
    assert_int_equal(test__count(db, "seed IN (1, 4, 5, 6) AND verdict = 'ok' AND length(trace_hash) = 16"), 4);
    /* a crash is stored only when it reproduces, with its replay command */
    assert_int_equal(test__count(db, "seed = 2 AND verdict = 'crash' AND crash_signal = 6 AND crash_attempts = 2 "
                                     "AND crash_command LIKE '% run test-die --seed 2%'"),
                     1);
    assert_int_equal(test__count(db, "seed = 3"), 0);

    /* a row left by an older version for a worker killed from outside is
     * run again on resume and replaced */
    test__exec(db, "UPDATE runs SET verdict = 'crash', crash_signal = 9, trace_hash = NULL, "
                   "crash_command = NULL WHERE seed = 4");
    assert_int_equal(deja_sweep_run(&o, &st, err, sizeof err), 1);
    assert_int_equal(st.added, 1);
    assert_int_equal(test__count(db, "seed = 4 AND verdict = 'ok' AND length(trace_hash) = 16"), 1);
    assert_int_equal(test__count(db, NULL), 5);
}

/* Two sweeps (shards) starting at once on one new database both finish. */
static void test_shards_race_on_new_db(void **state) {
    (void)state;
    for (int trial = 0; trial < 10; trial++) {
        char db[512], err[1024] = "";
        snprintf(db, sizeof db, "%s/race-%d.db", test__dir, trial);
        pid_t kid[2];
        for (int k = 0; k < 2; k++) {
            kid[k] = fork();
            assert_true(kid[k] >= 0);
            if (kid[k] == 0) {
                deja_sweep_stats st;
                deja_sweep_opts o = {.scenario = "test-die", .seed_start = 10, .seeds = 8, .jobs = 1, .db = db,
                                     .shard_i = (uint32_t)k, .shard_k = 2};
                int rc = deja_sweep_run(&o, &st, err, sizeof err);
                if (rc) fprintf(stderr, "shard %d: %s\n", k, err);
                _exit(rc);
            }
        }
        for (int k = 0; k < 2; k++) {
            int status;
            assert_int_equal(waitpid(kid[k], &status, 0), kid[k]);
            assert_true(WIFEXITED(status));
            assert_int_equal(WEXITSTATUS(status), 0);
        }
        assert_int_equal(test__count(db, NULL), 8);
    }
}

/* A grid of a million points starts streaming at once: the points are not
 * all built up front (the first rows arrive, then the sweep is stopped). */
static void test_sweep_huge_grid_and_impossible(void **state) {
    (void)state;
    if (!deja_scenario_find("drift-fork")) skip();
    char db[512], err[1024] = "";
    snprintf(db, sizeof db, "%s/huge.db", test__dir);
    deja_grid g;
    deja_grid_init(&g);
    assert_int_equal(deja_grid_add(&g, "clock.offset_ms=1:100000:1", err, sizeof err), 0);
    assert_int_equal(deja_grid_add(&g, "aura.slot_ms=1000:1009:1", err, sizeof err), 0);
    assert_int_equal(deja_grid_points(&g), 1000000);
    /* a million points x 101 seeds is over the run limit: refused, nothing written */
    deja_sweep_stats st;
    deja_sweep_opts o = {.scenario = "drift-fork", .grid = &g, .seed_start = 1, .seeds = 101, .jobs = 1,
                         .db = db};
    assert_int_equal(deja_sweep_run(&o, &st, err, sizeof err), 2);
    assert_non_null(strstr(err, "more than"));
    /* a value the scenario rejects on one axis of a large grid is found up front */
    deja_grid_free(&g);
    deja_grid_init(&g);
    assert_int_equal(deja_grid_add(&g, "clock.offset_ms=1:100000:1", err, sizeof err), 0);
    assert_int_equal(deja_grid_add(&g, "sim.nodes=4,5,banana", err, sizeof err), 0);
    o.grid = &g;
    o.seeds = 1;
    assert_int_equal(deja_sweep_run(&o, &st, err, sizeof err), 2);
    assert_non_null(strstr(err, "banana"));
    assert_int_equal(st.added, 0);
    deja_grid_free(&g);
    /* --db "" is refused */
    o.grid = NULL;
    o.db = "";
    assert_int_equal(deja_sweep_run(&o, &st, err, sizeof err), 2);
}

/* The real SQLite message when the disk is full at sweep start (a small
 * tmpfs; needs root to mount one). */
static void test_sweep_full_disk(void **state) {
    (void)state;
    char mnt[512], db[600], fill[600], err[1024] = "";
    snprintf(mnt, sizeof mnt, "%s/full", test__dir);
    assert_int_equal(mkdir(mnt, 0700), 0);
    if (geteuid() != 0 || mount("tmpfs", mnt, "tmpfs", 0, "size=64k")) {
        fprintf(stderr, "test_sweep_full_disk: skipped: cannot mount a tmpfs (needs root)\n");
        skip();
    }
    snprintf(fill, sizeof fill, "%s/fill", mnt);
    FILE *f = fopen(fill, "w");
    assert_non_null(f);
    char block[4096] = {0};
    while (fwrite(block, 1, sizeof block, f) == sizeof block && fflush(f) == 0) {
    }
    fclose(f);
    snprintf(db, sizeof db, "%s/s.db", mnt);
    deja_sweep_stats st;
    deja_sweep_opts o = {.scenario = "test-die", .seed_start = 1, .seeds = 1, .jobs = 1, .db = db};
    int rc = deja_sweep_run(&o, &st, err, sizeof err);
    umount(mnt);
    assert_int_equal(rc, 2);
    if (!strstr(err, "full")) fail_msg("want SQLite's disk-full message, got: %s", err);
    assert_null(strstr(err, "not an error"));
}

int main(void) {
    deja_scenario_register(&test__die);
    node_programs_register();
    deja_models_register(); /* the node programs scenarios start (as the deja tool does) */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grid_lists_and_ranges),
        cmocka_unit_test(test_grid_bad_specs),
        cmocka_unit_test(test_grid_points),
        cmocka_unit_test(test_params_key_is_canonical),
        cmocka_unit_test(test_sweep_resume_and_rerun),
        cmocka_unit_test(test_shards_and_merge),
        cmocka_unit_test(test_sweep_bad_input),
        cmocka_unit_test(test_sweep_worker_deaths),
        cmocka_unit_test(test_shards_race_on_new_db),
        cmocka_unit_test(test_sweep_huge_grid_and_impossible),
        cmocka_unit_test(test_sweep_full_disk),
    };
    return cmocka_run_group_tests(tests, test__setup, test__teardown);
}
