/*
 * test_rwlock.c -- reader-writer locks in the simulator, on tiny nodes of
 * the test's own (no oracle written): readers share the lock and a writer
 * excludes them; waiters are served in arrival order (a writer is not
 * starved by readers arriving after it, the readers after it go in
 * together); a writer that gives up lets the readers behind it in; and the
 * deadlock detector sees through rwlocks: an AB/BA pair of rwlocks, a
 * cycle through an rwlock and a mutex, a reader that upgrades, a reader
 * that locks again behind a waiting writer, a cycle that a lock timeout
 * breaks, a stall, the watchdog and the task dump. A seed replays to the
 * same digest, with the detectors on or off.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "detect_judge.h"

/* ---- semantics ---------------------------------------------------------------------- */

/* What the tasks did, in order: "R1+0 W1+10 ..." (name + ms it got the lock). */
static char g_log[512];
static int g_readers, g_max_readers;
static int64_t g_t0;

static void logf_(const char *name) {
    size_t len = strlen(g_log);
    snprintf(g_log + len, sizeof g_log - len, "%s%s+%lld", len ? " " : "", name, (long long)((rt_mono_ns() - g_t0) / RT_MS));
}

typedef struct job {
    rt_rwlock *l;
    const char *name;
    bool write;
    int64_t start_ms, hold_ms, timeout_ms;
    rt_wg *wg;
} job;

static void worker(void *arg) {
    job *j = arg;
    rt_sleep_ns(j->start_ms * RT_MS);
    int64_t to = j->timeout_ms ? j->timeout_ms * RT_MS : RT_FOREVER;
    int r = j->write ? rt_rwlock_wlock(j->l, to) : rt_rwlock_rlock(j->l, to);
    if (r != RT_OK) {
        char n[32];
        snprintf(n, sizeof n, "%s!", j->name); /* gave up */
        logf_(n);
        rt_wg_done(j->wg);
        return;
    }
    logf_(j->name);
    if (!j->write && ++g_readers > g_max_readers) g_max_readers = g_readers;
    rt_sleep_ns(j->hold_ms * RT_MS);
    if (j->write) {
        rt_rwlock_wunlock(j->l);
    } else {
        g_readers--;
        rt_rwlock_runlock(j->l);
    }
    rt_wg_done(j->wg);
}

static job *g_jobs;
static int g_njobs;

static void prog_jobs(rt_ctx *ctx) {
    (void)ctx;
    g_t0 = rt_mono_ns();
    rt_rwlock *l = rt_rwlock_new("L");
    rt_wg *wg = rt_wg_new();
    rt_wg_add(wg, g_njobs);
    for (int i = 0; i < g_njobs; i++) {
        g_jobs[i].l = l;
        g_jobs[i].wg = wg;
        rt_spawn(g_jobs[i].name, worker, &g_jobs[i]);
    }
    rt_wg_wait(wg, RT_FOREVER);
    /* free again: try-locks succeed, and fail while the other kind holds it */
    assert_int_equal(rt_rwlock_rlock(l, 0), RT_OK);
    assert_int_equal(rt_rwlock_rlock(l, 0), RT_OK);
    assert_int_equal(rt_rwlock_wlock(l, 0), RT_ETIMEDOUT);
    rt_rwlock_runlock(l);
    rt_rwlock_runlock(l);
    assert_int_equal(rt_rwlock_wlock(l, 0), RT_OK);
    assert_int_equal(rt_rwlock_rlock(l, 0), RT_ETIMEDOUT);
    rt_rwlock_wunlock(l);
    rt_rwlock_free(l);
    rt_wg_free(wg);
}

static void run_jobs(job *jobs, int n) {
    g_jobs = jobs;
    g_njobs = n;
    g_log[0] = 0;
    g_readers = g_max_readers = 0;
    rt_program_register("t-rw-jobs", prog_jobs);
    deja_detect_stat st;
    char v[32], *r;
    judge("t-rw-jobs", NULL, 5 * RT_SEC, &st, v, sizeof v, &r);
    assert_string_equal(v, "ok");
    assert_string_equal(r, "");
    free(r);
}

static void test_readers_share_writer_excludes(void **state) {
    (void)state;
    job jobs[] = {
        {.name = "R1", .start_ms = 0, .hold_ms = 30},
        {.name = "R2", .start_ms = 5, .hold_ms = 30},
        {.name = "R3", .start_ms = 10, .hold_ms = 30},
        {.name = "W1", .write = true, .start_ms = 50, .hold_ms = 20},
        {.name = "R4", .start_ms = 60, .hold_ms = 10},
    };
    run_jobs(jobs, 5);
    /* three readers at once; the writer alone, the reader after it waits */
    assert_int_equal(g_max_readers, 3);
    assert_string_equal(g_log, "R1+0 R2+5 R3+10 W1+50 R4+70");
}

static void test_fifo_writer_not_starved(void **state) {
    (void)state;
    job jobs[] = {
        {.name = "R1", .start_ms = 0, .hold_ms = 100},
        {.name = "W1", .write = true, .start_ms = 10, .hold_ms = 10},
        {.name = "R2", .start_ms = 20, .hold_ms = 10}, /* behind W1, though only readers hold the lock */
        {.name = "R3", .start_ms = 30, .hold_ms = 10},
        {.name = "W2", .write = true, .start_ms = 40, .hold_ms = 10},
        {.name = "R4", .start_ms = 50, .hold_ms = 10},
    };
    run_jobs(jobs, 6);
    /* W1 when R1 lets go; R2 and R3 together after it; then W2; then R4 */
    assert_string_equal(g_log, "R1+0 W1+100 R2+110 R3+110 W2+120 R4+130");
    assert_int_equal(g_max_readers, 2);
}

static void test_writer_gives_up(void **state) {
    (void)state;
    job jobs[] = {
        {.name = "R1", .start_ms = 0, .hold_ms = 100},
        {.name = "W1", .write = true, .start_ms = 10, .hold_ms = 10, .timeout_ms = 20},
        {.name = "R2", .start_ms = 20, .hold_ms = 10},
    };
    run_jobs(jobs, 3);
    /* W1 gives up at 30 ms: R2, queued behind it, joins R1 at once */
    assert_string_equal(g_log, "R1+0 W1!+30 R2+30");
    assert_int_equal(g_max_readers, 2);
}

/* ---- deadlocks ------------------------------------------------------------------------ */

typedef struct pair {
    rt_rwlock *a, *b;
    rt_mutex *m;
    int64_t timeout;
} pair;

/* Reads A, then wants to write B. */
static void read_a_write_b(void *arg) {
    pair *p = arg;
    if (rt_rwlock_rlock(p->a, p->timeout) != RT_OK) return;
    rt_sleep_ns(10 * RT_MS);
    if (rt_rwlock_wlock(p->b, p->timeout) == RT_OK) rt_rwlock_wunlock(p->b);
    rt_rwlock_runlock(p->a);
}

/* Reads B, then wants to write A. */
static void read_b_write_a(void *arg) {
    pair *p = arg;
    if (rt_rwlock_rlock(p->b, p->timeout) != RT_OK) return;
    rt_sleep_ns(10 * RT_MS);
    if (rt_rwlock_wlock(p->a, p->timeout) == RT_OK) rt_rwlock_wunlock(p->a);
    rt_rwlock_runlock(p->b);
}

static void wait_done(rt_ctx *ctx) { rt_chan_recv(rt_ctx_done(ctx), NULL, RT_FOREVER); }

static pair g_pair;

static void prog_rw_abba(rt_ctx *ctx) {
    g_pair = (pair){rt_rwlock_new("A"), rt_rwlock_new("B"), NULL, RT_FOREVER};
    rt_spawn("importer", read_a_write_b, &g_pair);
    rt_spawn("compactor", read_b_write_a, &g_pair);
    wait_done(ctx);
}

static void test_abba_rwlocks(void **state) {
    (void)state;
    rt_program_register("t-rw-abba", prog_rw_abba);
    deja_detect_stat st;
    char v[32], *r;
    judge("t-rw-abba", NULL, 5 * RT_SEC, &st, v, sizeof v, &r);
    assert_string_equal(v, "deadlock");
    assert_int_equal(st.deadlocks, 1);
    assert_int_equal(st.verdict_ns, 10 * RT_MS); /* the instant the cycle closed */
    assert_non_null(strstr(r, "a cycle of 2 tasks, each waiting for a lock the next one holds"));
    assert_non_null(strstr(r, "all without a timeout"));
    assert_non_null(strstr(r, "'importer' (spawned at tests/test_rwlock.c:"));
    assert_non_null(strstr(r, "'compactor' (spawned at tests/test_rwlock.c:"));
    assert_non_null(strstr(r, "holds rwlock 'A' (read), taken at tests/test_rwlock.c:"));
    assert_non_null(strstr(r, "holds rwlock 'B' (read), taken at tests/test_rwlock.c:"));
    assert_non_null(strstr(r, "waits for rwlock 'A' (write) at tests/test_rwlock.c:"));
    assert_non_null(strstr(r, "waits for rwlock 'B' (write) at tests/test_rwlock.c:"));
    assert_non_null(strstr(r, "since t=10 ms"));
    assert_non_null(strstr(st.what, "deadlock node 0: '"));
    free(r);
}

/* Writes L, then wants mutex M; the other holds M and wants to read L. */
static void write_l_lock_m(void *arg) {
    pair *p = arg;
    rt_rwlock_wlock(p->a, RT_FOREVER);
    rt_sleep_ns(10 * RT_MS);
    rt_mutex_lock(p->m, RT_FOREVER);
    rt_mutex_unlock(p->m);
    rt_rwlock_wunlock(p->a);
}

static void lock_m_read_l(void *arg) {
    pair *p = arg;
    rt_mutex_lock(p->m, RT_FOREVER);
    rt_sleep_ns(20 * RT_MS);
    rt_rwlock_rlock(p->a, RT_FOREVER);
    rt_rwlock_runlock(p->a);
    rt_mutex_unlock(p->m);
}

static void prog_mixed(rt_ctx *ctx) {
    g_pair = (pair){rt_rwlock_new("L"), NULL, rt_mutex_new("M"), RT_FOREVER};
    rt_spawn("writer", write_l_lock_m, &g_pair);
    rt_spawn("reader", lock_m_read_l, &g_pair);
    wait_done(ctx);
}

static void test_mixed_mutex_rwlock(void **state) {
    (void)state;
    rt_program_register("t-rw-mixed", prog_mixed);
    deja_detect_stat st;
    char v[32], *r;
    judge("t-rw-mixed", NULL, 5 * RT_SEC, &st, v, sizeof v, &r);
    assert_string_equal(v, "deadlock");
    assert_int_equal(st.verdict_ns, 20 * RT_MS); /* when the reader closed it */
    assert_non_null(strstr(r, "a cycle of 2 tasks"));
    assert_non_null(strstr(r, "holds rwlock 'L' (write), taken at tests/test_rwlock.c:"));
    assert_non_null(strstr(r, "waits for mutex 'M' at tests/test_rwlock.c:"));
    assert_non_null(strstr(r, "holds mutex 'M', taken at tests/test_rwlock.c:"));
    assert_non_null(strstr(r, "waits for rwlock 'L' (read) at tests/test_rwlock.c:"));
    assert_non_null(strstr(r, "since t=10 ms (10 ms)")); /* the writer waits since 10 ms */
    free(r);
}

/* A reader that asks to write the lock it reads. */
static void upgrader(void *arg) {
    pair *p = arg;
    rt_rwlock_rlock(p->a, RT_FOREVER);
    rt_sleep_ns(5 * RT_MS);
    rt_rwlock_wlock(p->a, p->timeout); /* waits for itself */
    rt_rwlock_runlock(p->a);
}

static void prog_upgrade(rt_ctx *ctx) {
    g_pair = (pair){rt_rwlock_new("L"), NULL, NULL, RT_FOREVER};
    rt_spawn("upgrader", upgrader, &g_pair);
    wait_done(ctx);
}

static void test_upgrade_self_deadlock(void **state) {
    (void)state;
    rt_program_register("t-rw-upgrade", prog_upgrade);
    deja_detect_stat st;
    char v[32], *r;
    judge("t-rw-upgrade", NULL, 5 * RT_SEC, &st, v, sizeof v, &r);
    assert_string_equal(v, "deadlock");
    assert_int_equal(st.verdict_ns, 5 * RT_MS);
    assert_non_null(strstr(r, "DEADLOCK on node 0: a task waits for a lock it holds itself, without a timeout"));
    assert_non_null(strstr(r, "'upgrader' (spawned at tests/test_rwlock.c:"));
    assert_non_null(strstr(r, "holds rwlock 'L' (read), taken at tests/test_rwlock.c:"));
    assert_non_null(strstr(r, "waits for rwlock 'L' (write) at tests/test_rwlock.c:"));
    free(r);
}

/* A reader that reads again while a writer waits: it queues behind the
 * writer, which waits for it. */
static void rereader(void *arg) {
    pair *p = arg;
    rt_rwlock_rlock(p->a, RT_FOREVER);
    rt_sleep_ns(10 * RT_MS);
    rt_rwlock_rlock(p->a, RT_FOREVER);
    rt_rwlock_runlock(p->a);
    rt_rwlock_runlock(p->a);
}

static void late_writer(void *arg) {
    pair *p = arg;
    rt_sleep_ns(5 * RT_MS);
    rt_rwlock_wlock(p->a, RT_FOREVER);
    rt_rwlock_wunlock(p->a);
}

static void prog_reread(rt_ctx *ctx) {
    g_pair = (pair){rt_rwlock_new("L"), NULL, NULL, RT_FOREVER};
    rt_spawn("rereader", rereader, &g_pair);
    rt_spawn("writer", late_writer, &g_pair);
    wait_done(ctx);
}

static void test_recursive_read_behind_writer(void **state) {
    (void)state;
    rt_program_register("t-rw-reread", prog_reread);
    deja_detect_stat st;
    char v[32], *r;
    judge("t-rw-reread", NULL, 5 * RT_SEC, &st, v, sizeof v, &r);
    assert_string_equal(v, "deadlock");
    assert_int_equal(st.verdict_ns, 10 * RT_MS);
    assert_non_null(strstr(r, "a cycle of 2 tasks"));
    assert_non_null(strstr(r, "in the queue of rwlock 'L'")); /* the writer is ahead of the reader */
    assert_non_null(strstr(r, "holds rwlock 'L' (read)"));
    assert_non_null(strstr(r, "waits for rwlock 'L' (write)"));
    assert_non_null(strstr(r, "waits for rwlock 'L' (read)"));
    free(r);
}

static void prog_rw_abba_timeout(rt_ctx *ctx) {
    g_pair = (pair){rt_rwlock_new("A"), rt_rwlock_new("B"), NULL, 200 * RT_MS};
    rt_spawn("importer", read_a_write_b, &g_pair);
    rt_spawn("compactor", read_b_write_a, &g_pair);
    wait_done(ctx);
    rt_rwlock_free(g_pair.a); /* both gave up: free again */
    rt_rwlock_free(g_pair.b);
}

static void test_abba_timeout(void **state) {
    (void)state;
    rt_program_register("t-rw-abba-to", prog_rw_abba_timeout);
    deja_detect_stat st;
    char v[32], *r;
    judge("t-rw-abba-to", NULL, 5 * RT_SEC, &st, v, sizeof v, &r);
    assert_string_equal(v, "ok"); /* the timeouts break it: counted only */
    assert_int_equal(st.deadlocks, 0);
    assert_int_equal(st.deadlock_timeouts, 1);
    assert_non_null(strstr(r, "DEADLOCK (broken by a lock timeout)"));
    assert_non_null(strstr(r, "with a timeout"));
    free(r);
    const char *sets[] = {"deadlock.timeout_verdict=1", NULL};
    judge("t-rw-abba-to", sets, 5 * RT_SEC, &st, v, sizeof v, &r);
    assert_string_equal(v, "deadlock_timeout");
    free(r);
}

/* ---- a stall, the watchdog, the dump ------------------------------------------------- */

typedef struct stall {
    rt_rwlock *l;
    rt_wg *wg;
} stall;

static void stall_writer(void *arg) {
    stall *s = arg;
    rt_rwlock_wlock(s->l, RT_FOREVER); /* main reads it until we are done */
    rt_rwlock_wunlock(s->l);
    rt_wg_done(s->wg);
}

static void prog_stall(rt_ctx *ctx) {
    (void)ctx;
    stall s = {rt_rwlock_new("L"), rt_wg_new()};
    rt_rwlock_rlock(s.l, RT_FOREVER);
    rt_wg_add(s.wg, 1);
    rt_spawn("writer", stall_writer, &s);
    rt_sleep_ns(RT_SEC);
    rt_wg_wait(s.wg, RT_FOREVER); /* forgot to let go of the lock first */
}

static void test_stall(void **state) {
    (void)state;
    rt_program_register("t-rw-stall", prog_stall);
    deja_detect_stat st;
    char v[32], *r;
    judge("t-rw-stall", NULL, 5 * RT_SEC, &st, v, sizeof v, &r);
    assert_string_equal(v, "deadlock");
    assert_int_equal(st.verdict_ns, RT_SEC);
    assert_non_null(strstr(r, "DEADLOCK (stall) on node 0: all 2 tasks wait"));
    assert_non_null(strstr(r, "rwlock write L at tests/test_rwlock.c:"));
    assert_non_null(strstr(r, "held for reading by task 1 'main' (taken at tests/test_rwlock.c:"));
    free(r);
}

static void slow_reader(void *arg) {
    rt_rwlock *l = arg;
    rt_rwlock_rlock(l, RT_FOREVER);
    rt_sleep_ns(3500 * RT_MS);
    rt_rwlock_runlock(l);
}

static void bounded_writer(void *arg) {
    rt_rwlock *l = arg;
    rt_sleep_ns(RT_MS);
    if (rt_rwlock_wlock(l, 4 * RT_SEC) == RT_OK) rt_rwlock_wunlock(l);
}

static void prog_watch(rt_ctx *ctx) {
    rt_rwlock *l = rt_rwlock_new("L");
    rt_spawn("reader", slow_reader, l);
    rt_spawn("writer", bounded_writer, l);
    wait_done(ctx);
    rt_sleep_ns(3 * RT_SEC); /* both are done by then */
    rt_rwlock_free(l);
}

static void test_watchdog(void **state) {
    (void)state;
    rt_program_register("t-rw-watch", prog_watch);
    deja_detect_stat st;
    char v[32], *r;
    const char *sets[] = {"watch.block_ms=2000", "watch.verdict=1", NULL};
    judge("t-rw-watch", sets, 5 * RT_SEC, &st, v, sizeof v, &r);
    assert_string_equal(v, "stuck");
    assert_int_equal(st.stuck, 1);
    assert_non_null(strstr(r, "STUCK on node 0: task"));
    assert_non_null(strstr(r, "'writer'"));
    assert_non_null(strstr(r, "blocked on rwlock write L at tests/test_rwlock.c:"));
    assert_non_null(strstr(r, "held for reading by task 2 'reader' (taken at tests/test_rwlock.c:"));
    free(r);
}

static void test_dump(void **state) {
    (void)state;
    rt_program_register("t-rw-watch", prog_watch);
    deja_world *w = one_node_world(1, "t-rw-watch", NULL, 2 * RT_SEC, on_fact);
    deja_world_run(w);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    deja_world_dump_tasks(w, f);
    fclose(f);
    assert_non_null(strstr(buf, "blocked on rwlock write L at tests/test_rwlock.c:"));
    assert_non_null(strstr(buf, "held for reading by task 2 'reader' (taken at tests/test_rwlock.c:"));
    assert_non_null(strstr(buf, "blocked_for 1999 ms"));
    free(buf);
    deja_world_shutdown(w, 5 * RT_SEC);
    deja_world_free(w);
}

static void prog_many(rt_ctx *ctx) {
    rt_rwlock *l = rt_rwlock_new("L");
    for (int i = 0; i < 10; i++) rt_spawn("reader", slow_reader, l);
    rt_spawn("writer", bounded_writer, l);
    wait_done(ctx);
    rt_sleep_ns(4 * RT_SEC);
    rt_rwlock_free(l);
}

static void test_dump_many_readers(void **state) {
    (void)state;
    rt_program_register("t-rw-many", prog_many);
    deja_world *w = one_node_world(1, "t-rw-many", NULL, RT_SEC, on_fact);
    deja_world_run(w);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    deja_world_dump_tasks(w, f);
    fclose(f);
    /* the writer's line names the first eight readers, then a count */
    assert_non_null(strstr(buf, "held for reading by task 2 'reader' (taken at tests/test_rwlock.c:"));
    assert_non_null(strstr(buf, ", task 9 'reader' (taken at tests/test_rwlock.c:"));
    assert_null(strstr(buf, "task 10 'reader' (taken"));
    assert_non_null(strstr(buf, " and 2 more  blocked_for 999 ms"));
    free(buf);
    deja_world_shutdown(w, 10 * RT_SEC);
    deja_world_free(w);
}

/* ---- determinism ------------------------------------------------------------------------- */

static void random_worker(void *arg) {
    rt_rwlock *l = arg;
    for (int i = 0; i < 50; i++) {
        rt_sleep_ns((int64_t)(rt_rand_u64() % 5000) * 1000);
        bool write = rt_rand_u64() % 4 == 0;
        int64_t to = rt_rand_u64() % 3 == 0 ? (int64_t)(rt_rand_u64() % 3000) * 1000 : RT_FOREVER;
        int r = write ? rt_rwlock_wlock(l, to) : rt_rwlock_rlock(l, to);
        if (r != RT_OK) continue;
        rt_sleep_ns((int64_t)(rt_rand_u64() % 2000) * 1000);
        if (write)
            rt_rwlock_wunlock(l);
        else
            rt_rwlock_runlock(l);
    }
}

static void prog_random(rt_ctx *ctx) {
    rt_rwlock *l = rt_rwlock_new("L");
    for (int i = 0; i < 8; i++) rt_spawn("rw", random_worker, l);
    wait_done(ctx);
}

static void test_determinism(void **state) {
    (void)state;
    rt_program_register("t-rw-random", prog_random);
    deja_detect_stat st;
    char v[32], *r;
    uint64_t h1 = judge("t-rw-random", NULL, 2 * RT_SEC, &st, v, sizeof v, &r);
    assert_string_equal(v, "ok");
    free(r);
    uint64_t h2 = judge("t-rw-random", NULL, 2 * RT_SEC, &st, v, sizeof v, &r);
    free(r);
    const char *off[] = {"deadlock.detect=0", "leak.sample_ms=0", "leak.lost=0", NULL};
    uint64_t h3 = judge("t-rw-random", off, 2 * RT_SEC, &st, v, sizeof v, &r);
    free(r);
    assert_true(h1 == h2);
    assert_true(h1 == h3);
    deja_world *w = one_node_world(2, "t-rw-random", NULL, 2 * RT_SEC, on_fact); /* another seed, another run */
    deja_world_run(w);
    deja_world_shutdown(w, RT_SEC);
    assert_true(deja_world_digest(w) != h1);
    deja_world_free(w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_readers_share_writer_excludes),
        cmocka_unit_test(test_fifo_writer_not_starved),
        cmocka_unit_test(test_writer_gives_up),
        cmocka_unit_test(test_abba_rwlocks),
        cmocka_unit_test(test_mixed_mutex_rwlock),
        cmocka_unit_test(test_upgrade_self_deadlock),
        cmocka_unit_test(test_recursive_read_behind_writer),
        cmocka_unit_test(test_abba_timeout),
        cmocka_unit_test(test_stall),
        cmocka_unit_test(test_watchdog),
        cmocka_unit_test(test_dump),
        cmocka_unit_test(test_dump_many_readers),
        cmocka_unit_test(test_determinism),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
